"""What a task is, and the registry of tasks.

A :class:`Task` bundles what ``sciml train TASK`` needs to know of a problem: the type
of its data config, the generator that makes its data, the arrays a model trains on,
whether its domain is periodic, how a trained model is judged (metrics, figures), the
rows of its summary, the finer grids of zero-shot super-resolution, the models the
benchmark suite runs on it and its presets (data, shipped as TOML). It knows nothing
of models, which are built from a :class:`ModelSpec`.

Built-in tasks register themselves exactly as a user's do::

    @sciml.register_task("heat")
    def heat() -> Task:
        return Task("heat", HeatConfig, generate_heat, True, judge_operator, operator_rows)
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sciml.data.dataset import OperatorDataset
from sciml.models.spec import ModelSpec as ModelSpec

Splits = Mapping[str, OperatorDataset]
Rows = list[tuple[str, str]]


def operator_arrays(experiment, split: OperatorDataset) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` of a split: the stored pair, or frames of a trajectory.

    With ``experiment.frames = (n_in, n_out)`` the stored outputs are trajectories
    ``(N, T, *grid)``; the first ``n_in`` frames are the input and the next ``n_out``
    the target, as in the FNO paper's Navier–Stokes experiments.
    """
    if experiment.frames is None:
        return split.arrays()
    n_in, n_out = experiment.frames
    trajectory = split.outputs
    if trajectory.shape[1] < n_in + n_out:
        raise ValueError(
            f"preset {experiment.preset!r} maps {n_in} frames to the next {n_out}, which needs "
            f"trajectories of at least {n_in + n_out} frames; the data have "
            f"{trajectory.shape[1]} (shape {trajectory.shape})"
        )
    return trajectory[:, :n_in], trajectory[:, n_in : n_in + n_out]


@dataclasses.dataclass(frozen=True)
class Task:
    """A task: its data, how a model is trained on them and how it is judged.

    Attributes:
        name: the name ``sciml train NAME`` takes.
        data_config: the frozen dataclass of its generation config (``DarcyConfig``...).
        generate: ``(config, *, progress) -> {"train": OperatorDataset, "test": ...}``;
            ``progress`` is ``None`` or a callable given the count of new samples.
        periodic: whether the domain is periodic.
        presets: a user task's presets, as TOML tables (see
            :mod:`sciml.experiments.config`); a built-in task's are shipped in
            ``sciml/experiments/configs/TASK.toml``.
        judge: ``(experiment, model, test, arrays, out) -> metrics``: judges the trained
            model on the test split ``test`` (an :class:`OperatorDataset`), whose
            ``arrays`` are ``(inputs, targets)`` as the model sees them; it may write
            figures into ``out``. Its dict joins the run record and must hold
            ``test_relative_l2``.
        summary: ``record -> [(name, value)]``, the task's rows of the run summary.
        arrays: ``(experiment, split) -> (inputs, targets)`` as the model trains on them.
        super_resolution: ``experiment -> [(data config, generate_test)]``, the finer
            test sets of zero-shot super-resolution (``generate_test(config)`` makes
            the test split alone).
        grid: ``config -> grid`` of the stored samples, which a cached data set must
            match; ``None``: not checked.
        suite: the models ``sciml bench`` runs on the task by default.
        any_model: whether any model mapping inputs to targets can be judged (a user's
            model joins the suite there); ``False`` where the judge needs more of it.
        figures: the figure files ``judge`` writes, for the closing line.
        cached: whether the runner caches the generated data; ``False`` where the data
            already live in files (the ``file`` task), whose training split may then be
            a :class:`~sciml.data.lazy.LazyDataset` that ``arrays`` returns as it is,
            to be streamed.
    """

    name: str
    data_config: type
    generate: Callable[..., Splits]
    periodic: bool
    judge: Callable[..., dict[str, Any]]
    summary: Callable[[dict[str, Any]], Rows]
    arrays: Callable[[Any, OperatorDataset], tuple[np.ndarray, np.ndarray]] = operator_arrays
    super_resolution: Callable[[Any], list[tuple[Any, Callable]]] = lambda experiment: []
    grid: Callable[[Any], Sequence[int]] | None = None
    suite: tuple[str, ...] = ()
    any_model: bool = True
    presets: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    figures: tuple[str, ...] = ()
    cached: bool = True


_TASKS: dict[str, Callable[[], Task]] = {}
_BUILT: dict[str, Task] = {}
_BUILT_IN_MODULES = ("operator", "gradient_flow", "trajectory", "files")


def register_task(name: str) -> Callable[[Callable[[], Task]], Callable[[], Task]]:
    """Register ``factory() -> Task`` under ``name``; a decorator.

    Raises:
        ValueError: if ``name`` is taken by another factory.
    """

    def decorator(factory: Callable[[], Task]) -> Callable[[], Task]:
        check_name_free(_TASKS, "task", name, factory)
        _TASKS[name] = factory
        _BUILT.pop(name, None)
        return factory

    return decorator


def check_name_free(registry: Mapping[str, Callable], kind: str, name: str, factory: Callable):
    """Refuse a second, different factory under a taken name (a module imported again
    registers the same function anew, which is allowed)."""
    known = registry.get(name)
    if known is not None and (known.__module__, known.__qualname__) != (
        factory.__module__,
        factory.__qualname__,
    ):
        raise ValueError(
            f"a {kind} named {name!r} is already registered by {known.__module__}; "
            "choose another name"
        )


def _load_built_ins() -> None:
    for module in _BUILT_IN_MODULES:
        importlib.import_module(f"sciml.tasks.{module}")


def task_names() -> tuple[str, ...]:
    """The registered task names, built-in ones first."""
    _load_built_ins()
    return tuple(_TASKS)


def get_task(name: str) -> Task:
    """The task registered as ``name``.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    _load_built_ins()
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(_TASKS)}")
    if name not in _BUILT:
        task = _TASKS[name]()
        if not isinstance(task, Task) or task.name != name:
            raise ValueError(f"the factory of task {name!r} must return a Task named {name!r}")
        _BUILT[name] = task
    return _BUILT[name]


def format_value(value: float | None) -> str:
    """A metric for a summary row: 4 decimals, or ``-`` when missing."""
    return "-" if value is None else f"{value:.4f}"


def median_index(errors: Sequence[float] | np.ndarray) -> int:
    """The index of the median sample (the upper one for an even count)."""
    return int(np.argsort(np.asarray(errors))[len(errors) // 2])
