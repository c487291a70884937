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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sciml.experiments.registry import register_recipe
from sciml.train import fit, latest_epoch

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
    """

    experiment: Any
    model: Any
    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    out: Path
    resume: bool
    progress: bool

    @property
    def checkpoint(self) -> Path:
        return self.out / "checkpoint"

    def fit(self, model, *, stop: Callable[[int, History], bool] | None = None, **changes):
        """:func:`~sciml.train.fit` of ``model`` with the experiment's config on both
        splits, checkpointing into the run folder; it resumes from there when the run
        resumes or an earlier stage has written a checkpoint. ``changes`` are further
        keyword arguments of ``fit`` (``loss=``, ``optimizer=``, ...)."""
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
