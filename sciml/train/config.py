"""The training configuration: a frozen dataclass that serialises to JSON."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any

from sciml.train.losses import loss_names

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("step", "cosine", "onecycle")
LOSSES = ("l2", "h1", "hminus1", "mse")  # the built-in ones; a user may register more
REDUCTIONS = ("mean", "sum")
EPOCH_LOOPS = ("scan", "steps")

# The range of every float field: what a message says is expected, and the test. NaN
# fails every comparison, so it is refused by all of them.
_FLOAT_RANGES: dict[str, tuple[str, Callable[[float], bool]]] = {
    "learning_rate": ("a finite number > 0", lambda x: 0 < x < math.inf),
    "weight_decay": ("a finite number >= 0", lambda x: 0 <= x < math.inf),
    "step_factor": ("a number in (0, 1]", lambda x: 0 < x <= 1),
    "final_lr_fraction": ("a number in [0, 1]", lambda x: 0 <= x <= 1),
    "domain_length": ("a finite number > 0", lambda x: 0 < x < math.inf),
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train: optimiser, schedule, loss, batches, seed and checkpoints.

    The defaults are the FNO recipe of Li et al. (ICLR 2021): 500 epochs of Adam at
    1e-3 with weight decay 1e-4, halved every 100 epochs, batches of 20, relative L2
    loss. Note that the reference code sums the per-sample losses over a batch while
    ``fit`` averages them by default; Adam is invariant to that scale except through
    the weight decay (and its epsilon), so ``loss_reduction="sum"`` with the
    reference's ``w``, or ``"mean"`` with ``w / batch_size``, reproduce the reference.

    Attributes:
        epochs: passes over the training set.
        batch_size: samples per optimiser step; the remainder of an epoch that does
            not fill a batch is dropped (a fresh shuffle each epoch, so every sample
            is seen), which keeps one compiled shape.
        learning_rate: the (peak) learning rate, finite and > 0.
        weight_decay: for ``"adam"``, an L2 penalty added to the gradient before the
            moment estimates (``Adam(weight_decay=...)`` of the reference); for
            ``"adamw"``, decoupled decay ``-lr * weight_decay * w`` (Loshchilov &
            Hutter). Finite and >= 0.
        optimizer: ``"adam"`` or ``"adamw"``.
        schedule: ``"step"`` (``step_factor`` every ``step_every_epochs``),
            ``"cosine"`` (to ``final_lr_fraction * learning_rate`` at the last epoch)
            or ``"onecycle"``.
        step_every_epochs: epochs between two decays of the step schedule.
        step_factor: the multiplier of each decay of the step schedule, in ``(0, 1]``.
        final_lr_fraction: the cosine schedule's final rate as a fraction, in ``[0, 1]``.
        loss: a registered loss (:func:`sciml.train.losses.register_loss`):
            ``"l2"`` (relative L2), ``"h1"`` (relative H1, Fourier-space) or
            ``"hminus1"`` (relative H^-1, Fourier-space; Cao et al., 2025) or ``"mse"``
            (the mean squared error, not relative; Lu et al., 2022).
        loss_reduction: how the per-sample losses of a batch make the loss that is
            differentiated: ``"mean"`` or ``"sum"`` (the FNO reference code). The
            recorded ``train_loss`` is the per-sample mean either way.
        domain_length: the side of the (periodic) domain, for the H1 loss and metric;
            finite and > 0.
        seed: seeds the shuffling of the batches.
        checkpoint_every: epochs between two checkpoints (the last epoch is always
            written).
        eval_batch_size: samples per evaluation call on the test set (default:
            ``batch_size``).
        epoch_loop: how an epoch's optimiser steps run: ``"scan"``, all in one
            compiled ``lax.scan`` (one call per epoch), or ``"steps"``, one compiled
            call per step dispatched from Python. The two compute the same steps;
            ``"steps"`` is for convolutional models on the CPU, where XLA runs a
            convolution inside a loop body several times slower than outside one
            (8x for an MgNO training step on a 2-core CPU).
    """

    epochs: int = 500
    batch_size: int = 20
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adam"
    schedule: str = "step"
    step_every_epochs: int = 100
    step_factor: float = 0.5
    final_lr_fraction: float = 0.0
    loss: str = "l2"
    loss_reduction: str = "mean"
    domain_length: float = 1.0
    seed: int = 0
    checkpoint_every: int = 1
    eval_batch_size: int | None = None
    epoch_loop: str = "scan"

    def __post_init__(self):
        _check_name("optimizer", self.optimizer, OPTIMIZERS)
        _check_name("schedule", self.schedule, SCHEDULES)
        _check_name("loss", self.loss, loss_names())
        _check_name("loss_reduction", self.loss_reduction, REDUCTIONS)
        _check_name("epoch_loop", self.epoch_loop, EPOCH_LOOPS)
        for name in ("epochs", "batch_size", "step_every_epochs", "checkpoint_every"):
            _check_positive_int(name, getattr(self, name))
        if self.eval_batch_size is not None:
            _check_positive_int("eval_batch_size", self.eval_batch_size)
        if not isinstance(self.seed, numbers.Integral):
            raise ValueError(f"TrainConfig.seed expects an integer, got {self.seed!r}")
        for name, (expected, in_range) in _FLOAT_RANGES.items():
            _check_float(name, getattr(self, name), expected, in_range)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The inverse of :meth:`to_dict`; missing fields take their defaults.

        Raises:
            ValueError: for a field ``TrainConfig`` does not have, or a bad value.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"TrainConfig has no field(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(sorted(known))}"
            )
        return cls(**values)


def _check_name(field: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(
            f"unknown {field} {value!r} in TrainConfig; expected one of {', '.join(valid)}"
        )


def _check_float(field: str, value: Any, expected: str, in_range: Callable[[float], bool]) -> None:
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (is_number and in_range(float(value))):
        raise ValueError(f"TrainConfig.{field} expects {expected}, got {value!r}")


def _check_positive_int(field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"TrainConfig.{field} expects a positive integer, got {value!r}")
