"""Adaptive train-and-unroll: train a self-composing model, and compose it deeper
whenever training at its depth stalls.

A self-composing operator (:class:`sciml.models.scno.SCNO`) has the same parameters at
every depth, so growing it needs no new weights: training goes on from the same
parameters *and optimiser state* with one more composition (``step`` more). He, Liu
and Xu (2025) train at a depth until progress stalls, then unroll; the stall rule here
is :class:`UnrollRule`, a function of the recorded training losses alone (no test data
decides anything), so a resumed run replays the same decisions from its history and
continues at the depth the interrupted run had reached.

The learning-rate schedule spans the whole run (``config.epochs``), stages included;
each stage is one :func:`~sciml.train.fit` call that ends when :meth:`UnrollRule.stalled`
fires, checkpointed, and the next resumes from that checkpoint at the greater depth.

References:
    J. He, X. Liu and J. Xu, "Self-Composing Neural Operators with Depth and Accuracy
    Scaling via Adaptive Train-and-Unroll Approach", arXiv:2508.20650 (2025).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from sciml.models.scno import set_depth
from sciml.models.spec import check_count
from sciml.train.checkpoint import latest_intact_epoch, load_train_record
from sciml.train.config import TrainConfig
from sciml.train.fit import fit

History = dict[str, list[float]]


@dataclasses.dataclass(frozen=True)
class UnrollRule:
    """When to compose deeper, and by how much.

    Training starts at depth ``start``. After each epoch at a depth below ``final``,
    the depth grows by ``step`` (at most to ``final``) if training there has stalled:
    at least ``min_epochs`` epochs were trained at this depth, and the best training
    loss of its last ``patience`` epochs is not below ``(1 - tolerance)`` times the
    best before them (less than a relative ``tolerance`` of progress). It does not
    grow when fewer than ``min_epochs`` epochs of the run are left to train the new
    depth (an unroll changes the function, and training must have time to recover).

    Attributes:
        start: the first depth (>= 1).
        step: compositions added at each unroll (>= 1).
        final: the greatest depth (>= start).
        patience: epochs over which progress is judged (>= 1).
        tolerance: the relative improvement that counts as progress, in ``[0, 1)``.
        min_epochs: epochs at a depth before it may stall (>= patience + 1).
    """

    start: int = 1
    step: int = 1
    final: int = 8
    patience: int = 2
    tolerance: float = 0.02
    min_epochs: int = 3

    def __post_init__(self):
        for name in ("start", "step", "final", "patience"):
            check_count("UnrollRule", name, getattr(self, name))
        if self.final < self.start:
            raise ValueError(
                f"UnrollRule expects final >= start, got start={self.start}, final={self.final}"
            )
        if not 0 <= self.tolerance < 1 or math.isnan(self.tolerance):
            raise ValueError(f"UnrollRule expects tolerance in [0, 1), got {self.tolerance!r}")
        if check_count("UnrollRule", "min_epochs", self.min_epochs) < self.patience + 1:
            raise ValueError(
                f"UnrollRule expects min_epochs >= patience + 1 = {self.patience + 1} (progress "
                f"is judged against the epochs before the last {self.patience}), got "
                f"{self.min_epochs}"
            )

    def stalled(self, losses: Sequence[float]) -> bool:
        """Whether the training losses of the epochs at one depth show a stall."""
        if len(losses) < self.min_epochs:
            return False
        before, recent = min(losses[: -self.patience]), min(losses[-self.patience :])
        return recent > (1 - self.tolerance) * before

    def unrolls(self, losses: Sequence[float], depth: int, done: int, epochs: int | None) -> bool:
        """Whether to go deeper after epoch ``done`` of a run of ``epochs`` (None:
        unbounded), ``losses`` being the training losses of the epochs at ``depth``."""
        if depth >= self.final or not self.stalled(losses):
            return False
        return epochs is None or epochs - done >= self.min_epochs

    def replay(
        self, losses: Sequence[float], epochs: int | None = None
    ) -> tuple[list[int], int, int]:
        """The decisions the rule takes over a run's training losses, epoch by epoch,
        for a run of ``epochs`` epochs (None: unbounded).

        Returns:
            ``(depths, depth, since)``: the depth each epoch was trained at, the depth
            of the next epoch, and the number of epochs trained before that depth.
        """
        depths: list[int] = []
        depth, since = self.start, 0
        for epoch in range(len(losses)):
            depths.append(depth)
            if self.unrolls(losses[since : epoch + 1], depth, epoch + 1, epochs):
                depth, since = min(depth + self.step, self.final), epoch + 1
        return depths, depth, since


@dataclasses.dataclass(frozen=True)
class Unrolled:
    """What :func:`fit_unrolling` returns: the trained model at its final depth, the
    history over all stages, and the depth each epoch was trained at."""

    model: Any
    history: History
    depths: list[int]

    @property
    def unroll_epochs(self) -> list[int]:
        """The epochs (counted from 1) after which the depth grew."""
        return [e for e in range(1, len(self.depths)) if self.depths[e] != self.depths[e - 1]]


def fit_unrolling(
    model,
    data,
    test=None,
    *,
    rule: UnrollRule = UnrollRule(),
    config: TrainConfig | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    with_depth: Callable[[Any, int], Any] = set_depth,
    **fit_kwargs,
) -> Unrolled:
    """Train ``model`` by adaptive train-and-unroll (see the module docstring).

    Args:
        model: a model holding a self-composing operator (its own depth is replaced by
            ``rule.start``, or on resume by the depth the run had reached).
        data: the training split, as :func:`~sciml.train.fit` takes it.
        test: the test split, or None.
        rule: when and how far to unroll.
        config: the training config; its ``epochs`` are the whole run's.
        checkpoint_dir: where the checkpoints go (the stages hand over through them);
            None: a temporary folder, removed at the end.
        resume: a checkpoint folder of an interrupted run of the same rule and config.
        with_depth: ``(model, depth) -> model`` at another depth (:func:`set_depth`).
        fit_kwargs: further keyword arguments of :func:`~sciml.train.fit`.

    Returns:
        The :class:`Unrolled` model, history and depths.
    """
    config = TrainConfig() if config is None else config
    if checkpoint_dir is None and resume is None:
        with tempfile.TemporaryDirectory(prefix="sciml-unroll-") as folder:
            return fit_unrolling(
                model, data, test, rule=rule, config=config, checkpoint_dir=folder,
                with_depth=with_depth, **fit_kwargs,
            )  # fmt: skip
    checkpoint_dir = resume if checkpoint_dir is None else checkpoint_dir
    losses: list[float] = []
    if resume is not None:
        epoch, _ = latest_intact_epoch(resume)
        if epoch is not None:  # none intact: fit names the damage
            losses = load_train_record(resume, epoch=epoch)["history"].get("train_loss", [])
    _, depth, since = rule.replay(losses, config.epochs)
    while True:

        def stop(epoch: int, history: History, depth: int = depth, since: int = since) -> bool:
            return rule.unrolls(history["train_loss"][since:], depth, epoch, config.epochs)

        trained, history = fit(
            with_depth(model, depth),
            data,
            test,
            config=config,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            stop=stop,
            **fit_kwargs,
        )
        done = len(history["train_loss"])
        depths, depth, since = rule.replay(history["train_loss"], config.epochs)
        if done >= config.epochs:
            return Unrolled(trained, history, depths)
        resume = checkpoint_dir  # the next stage goes on from this one's checkpoint
