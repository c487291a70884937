"""Training recipes: how the runner trains a model, one stage or several.

A recipe is a function ``recipe(stage, *, **config) -> Trained`` registered with
:func:`~sciml.experiments.registry.register_recipe`; its keyword arguments are the
``[recipe]`` table of an experiment. :class:`Stage` hands it what the runner has made
(the model, both splits, the run folder) and a :meth:`Stage.fit` that trains with the
experiment's own :class:`~sciml.train.TrainConfig`, checkpoints and resume. The
built-in ``"fit"`` recipe is one such call; a staged recipe (train, then unroll the
model deeper, or refine part of it) calls it again with another model of the same
arrays, resuming from the same checkpoints, so that every stage is resumable.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sciml.data.normalise import NormalisedOperator, in_normalised_units
from sciml.distributed import is_primary
from sciml.experiments.registry import register_recipe
from sciml.models.scno import depth_of, set_depth
from sciml.plots import save_png, subplots
from sciml.train import fit, latest_epoch
from sciml.train.losses import get_loss
from sciml.train.metrics import evaluate
from sciml.train.unroll import Unrolled, UnrollRule, fit_unrolling

History = dict[str, list[float]]


@dataclasses.dataclass(frozen=True)
class Stage:
    """What a recipe trains, and on what.

    Attributes:
        experiment: the run's :class:`~sciml.experiments.Experiment`.
        model: the model the runner built (normalised, if the experiment says so).
        train: ``(inputs, targets)`` of the training split, as the model sees them.
        test: the same for the test split.
        out: the run folder (a recipe may write figures there).
        resume: whether the run resumes from ``out/checkpoint``.
        progress: show progress bars.
        callbacks: passed to every :meth:`fit` (``cb(epoch, history)`` after each epoch
            and its checkpoint; an exception raised by one stops the run there).
    """

    experiment: Any
    model: Any
    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    out: Path
    resume: bool
    progress: bool
    callbacks: tuple[Callable[[int, History], None], ...] = ()

    @property
    def checkpoint(self) -> Path:
        return self.out / "checkpoint"

    def fit(self, model, *, stop: Callable[[int, History], bool] | None = None, **changes):
        """:func:`~sciml.train.fit` of ``model`` with the experiment's config on both
        splits, checkpointing into the run folder; it resumes from there when the run
        resumes or an earlier stage has written a checkpoint. ``changes`` are further
        keyword arguments of ``fit`` (``loss=``, ``optimizer=``, ...); their
        ``callbacks`` run after the stage's own. With the experiment's ``loss_space =
        "normalised"`` the loss (``loss=`` or the config's) is taken in the units of
        ``model``'s output normaliser (:func:`~sciml.data.normalise.in_normalised_units`).
        """
        callbacks = (*self.callbacks, *changes.pop("callbacks", ()))
        if self.experiment.loss_space == "normalised":
            if not isinstance(model, NormalisedOperator):
                raise ValueError(
                    'loss_space = "normalised" needs a model wrapped in its normalisers '
                    f"(NormalisedOperator), got {type(model).__name__}"
                )
            config = self.experiment.train
            loss = changes.pop("loss", None) or config.loss
            if isinstance(loss, str):
                loss = get_loss(loss, config.domain_length)
            changes["loss"] = in_normalised_units(loss, model.output_normaliser)
        held = self.resume or latest_epoch(self.checkpoint) is not None
        return fit(
            model,
            self.train,
            self.test,
            config=self.experiment.train,
            checkpoint_dir=self.checkpoint,
            resume=self.checkpoint if held else None,
            progress=self.progress,
            metadata=self.experiment.to_dict(),
            stop=stop,
            callbacks=callbacks,
            **changes,
        )


@dataclasses.dataclass(frozen=True)
class Trained:
    """What a recipe returns: the trained model (physical units, as the judge sees it),
    :func:`fit`'s history over all stages, and entries for the run record."""

    model: Any
    history: History
    record: dict[str, Any] = dataclasses.field(default_factory=dict)


@register_recipe("fit")
def fit_recipe(stage: Stage) -> Trained:
    """One call of :func:`~sciml.train.fit` for the experiment's epochs."""
    return Trained(*stage.fit(stage.model))


@register_recipe("train-and-unroll")
def train_and_unroll(
    stage: Stage,
    *,
    start: int = 1,
    step: int = 1,
    final: int = 8,
    patience: int = 2,
    tolerance: float = 0.02,
    min_epochs: int = 3,
    sweep: float = 2.0,
) -> Trained:
    """Adaptive train-and-unroll of a self-composing model (:mod:`sciml.train.unroll`),
    then its test error at every depth from 1 to ``sweep`` times the depth reached
    (``depth.png``). ``start = final`` trains at one depth from scratch."""
    rule = UnrollRule(start, step, final, patience, tolerance, min_epochs)
    if not sweep >= 1:
        raise ValueError(
            f"recipe.sweep must be a number >= 1 (times the depth reached), got {sweep!r}"
        )
    unrolled = fit_unrolling(
        stage.model,
        stage.train,
        stage.test,
        rule=rule,
        config=stage.experiment.train,
        checkpoint_dir=stage.checkpoint,
        resume=stage.checkpoint if stage.resume else None,
        progress=stage.progress,
        metadata=stage.experiment.to_dict(),
    )
    reached = depth_of(unrolled.model)
    depths = list(range(1, max(reached, math.ceil(sweep * reached)) + 1))
    sweep_started = time.perf_counter()
    errors = [
        float(np.mean(evaluate(set_depth(unrolled.model, depth), *stage.test))) for depth in depths
    ]
    if is_primary():
        _plot_depth_sweep(stage.out / "depth.png", depths, errors, reached, unrolled)
    return Trained(
        unrolled.model,
        unrolled.history,
        {
            "trained_model_config": {"depth": reached},
            "depth_reached": reached,
            "depth_per_epoch": unrolled.depths,
            "unroll_epochs": unrolled.unroll_epochs,
            "depth_sweep": {"depth": depths, "test_relative_l2": errors},
            "depth_sweep_seconds": time.perf_counter() - sweep_started,
        },
    )


def _plot_depth_sweep(path: Path, depths, errors, reached: int, unrolled: Unrolled) -> None:
    fig, (sweep, history) = subplots(1, 2, figsize=(9, 3.5), constrained_layout=True)
    sweep.semilogy(depths, errors, "o-")
    sweep.axvline(reached, color="gray", linestyle=":", label=f"trained depth {reached}")
    sweep.set(xlabel="compositions at evaluation", ylabel="test relative L2")
    sweep.legend()
    epochs = np.arange(1, len(unrolled.depths) + 1)
    history.semilogy(epochs, unrolled.history["train_loss"], label="train loss")
    if "test_l2" in unrolled.history:
        history.semilogy(epochs, unrolled.history["test_l2"], label="test relative L2")
    for epoch in unrolled.unroll_epochs:
        history.axvline(epoch + 0.5, color="gray", linestyle=":")
    history.set(xlabel="epoch (dotted: unrolled deeper)", ylabel="loss / error")
    history.legend()
    save_png(fig, path, "self-composing operator: error against depth")
