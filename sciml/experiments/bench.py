"""The benchmark suite behind ``sciml bench``: every task x model, beside the papers.

Every registered task with models in its ``suite`` takes part: the operator tasks,
the gradient flows and the trajectories. For each task x model of a preset the suite
generates (or loads) the data, trains, evaluates and writes one JSON record into
``OUT/records/``; the run itself (its checkpoints, ``results.json`` and figures)
lives in ``OUT/runs/``. After every run it
rewrites ``OUT/results.md`` (a table per task with the published number beside ours,
zero-shot super-resolution, the papers' tables with our cells, and the PyTorch peer
comparison where ``OUT/peer/`` holds its records) and one figure per task.

An interrupted suite resumes: a run with a record is not redone, and a run with
checkpoints but no record continues from its last checkpoint.

``sciml bench --cells NAME`` runs a named set of published cells instead
(:mod:`sciml.experiments.cells`, :func:`run_cells`), each at the paper's setting, within
an optional time budget, and the report sets our number beside each cell's with their
ratio.

References:
    Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021 (tables, zero-shot super-resolution, section 5.4).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sciml._io import write_atomic, write_json
from sciml.data.cache import cache_path, load_or_generate
from sciml.data.normalise import NormalisedOperator
from sciml.experiments.cells import Cell
from sciml.experiments.config import Experiment, get_experiment
from sciml.experiments.record import jsonable
from sciml.experiments.registry import get_task, model_names, task_names
from sciml.experiments.run import TrainedRun, published_cell
from sciml.experiments.run import train as train_run
from sciml.plots import png_bytes, subplots
from sciml.tasks.published import PUBLISHED, Published
from sciml.train import latest_epoch
from sciml.train.checkpoint import load_train_record
from sciml.train.metrics import evaluate

#: Latency batches: one sample, and the training batch of the FNO papers.
LATENCY_BATCHES = (1, 20)


def run_name(task: str, model: str, preset: str) -> str:
    """``TASK-MODEL-PRESET``, the name of a run's record and folder."""
    return f"{task}-{model}-{preset}"


def suite_runs(
    tasks: Sequence[str] | None = None, models: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """The ``(task, model)`` pairs of the suite, in order.

    Args:
        tasks: the tasks (default: every registered task with a ``suite``).
        models: run these models on every task asked for (default: each task's own
            ``suite``). A model among a task's suite runs only there
            (``fno3d``: Navier–Stokes); one in no task's suite (a user's model) runs on
            every task asked for that judges any model (``Task.any_model``).

    Raises:
        ValueError: for an unknown task or model.
    """
    everything = [name for name in task_names() if get_task(name).suite]
    tasks = everything if not tasks else list(tasks)
    unknown = [task for task in tasks if task not in task_names()]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; expected some of: {', '.join(everything)}")
    if not models:
        return [(task, model) for task in tasks for model in get_task(task).suite]
    unknown = [model for model in models if model not in model_names()]
    if unknown:
        raise ValueError(
            f"unknown model(s) {unknown}; expected some of: {', '.join(model_names())}"
        )
    in_a_suite = {model for task in everything for model in get_task(task).suite}
    pairs = [
        (task, model)
        for task in tasks
        for model in models
        if model in get_task(task).suite or (model not in in_a_suite and get_task(task).any_model)
    ]
    if not pairs:
        raise ValueError(f"no run of the tasks {tasks} uses the models {list(models)}")
    return pairs


# --------------------------------------------------------------------------- running


def run_suite(
    out: str | os.PathLike,
    *,
    tasks: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    preset: str = "quick",
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    train: Callable[..., TrainedRun] = train_run,
    overrides: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Run (or resume) the suite into ``out`` and write its report.

    Args:
        out: the suite folder: ``records/``, ``runs/``, ``results.md``, ``TASK.png``.
        tasks: the tasks to run (default: all; see :func:`suite_runs`).
        models: keep only these models (default: each task's own list; see
            :func:`suite_runs`).
        preset: ``"quick"`` or ``"paper"``.
        cache: the data cache folder (default: ``$SCIML_CACHE`` or ``~/.cache/sciml``).
        progress: show the suite's progress bar and each run's.
        train: the function that trains one experiment, with the signature of
            :func:`sciml.experiments.run.train` (the default).
        overrides: ``SECTION.KEY=VALUE`` changes applied to every run's experiment.

    Returns:
        The records of all runs asked for that have finished, earlier ones included. A
        run that raises is left out: its traceback goes to ``OUT/failures/NAME.txt``
        (see :func:`load_failures`), the suite goes on, and a later call retries it.
    """
    out = Path(out)
    pairs = suite_runs(tasks, models)
    experiments = {pair: get_experiment(*pair, preset, overrides) for pair in pairs}  # fail early
    bar = _suite_bar(len(pairs), progress)
    records = []
    try:
        for task, model in pairs:
            name = run_name(task, model, preset)
            if bar is not None:
                bar.set_postfix_str(name)
            record = load_record(out, name)
            if record is None:
                try:
                    record = _run_one(experiments[task, model], out, name, train, cache, progress)
                except Exception:  # one failed run is reported; the suite goes on
                    write_atomic(out / "failures" / f"{name}.txt", traceback.format_exc().encode())
                    write_report(out)
                    if bar is not None:
                        bar.update(1)
                    continue
            records.append(record)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    write_report(out)
    return records


def _run_one(
    experiment, out: Path, name: str, train, cache, progress: bool, callbacks=(), published=None
) -> dict[str, Any]:
    """Train (or resume) one run, write its record, forget an earlier failure of it;
    ``published``: the cell it is judged against (default: the nearest, see
    :func:`bench_record`)."""
    run_dir = out / "runs" / name
    resume = latest_epoch(run_dir / "checkpoint") is not None
    started = time.perf_counter()
    extra = {"callbacks": callbacks} if callbacks else {}
    trained = train(experiment, run_dir, cache=cache, progress=progress, resume=resume, **extra)
    record = bench_record(experiment, trained, cache=cache, published=published)
    record["suite_run_seconds"] = time.perf_counter() - started
    record["resumed"] = resume
    write_json(out / "records" / f"{name}.json", record)
    (out / "failures" / f"{name}.txt").unlink(missing_ok=True)
    write_report(out)
    return record


def load_failures(out: str | os.PathLike) -> dict[str, str]:
    """``{run name: the error's last line}`` of the runs that failed and have not
    succeeded since; their tracebacks are in ``OUT/failures/NAME.txt``."""
    folder = Path(out) / "failures"
    if not folder.is_dir():
        return {}
    return {
        path.stem: (path.read_text().strip().splitlines() or ["(empty)"])[-1]
        for path in sorted(folder.glob("*.txt"))
    }


# ------------------------------------------------------------------------- cell sets


class BudgetSpent(Exception):
    """The time budget ran out during a run; it stopped after the checkpoint of
    ``epoch`` (of ``epochs``), from which the next call resumes."""

    def __init__(self, epoch: int, epochs: int):
        super().__init__(f"budget spent: stopped after the checkpoint of epoch {epoch}")
        self.epoch, self.epochs = epoch, epochs


@dataclasses.dataclass(frozen=True)
class CellOutcome:
    """What one call of :func:`run_cells` did with a cell.

    Attributes:
        cell: the cell.
        status: ``"ran"``, ``"reused"`` (its record was there), ``"stopped"`` (the
            budget ran out during it; it resumes), ``"skipped"`` (its estimate exceeds
            what was left of the budget), ``"stale"`` (its record is of another
            setting than the cell's now; it is neither reused nor overwritten),
            ``"failed"`` or ``"no preset"``.
        detail: why, or what it measured, in words.
        estimate_s: the seconds it was estimated to need (``None`` where not estimated).
        record: its record, where it has one.
    """

    cell: Cell
    status: str
    detail: str = ""
    estimate_s: float | None = None
    record: dict[str, Any] | None = None


def parse_duration(text: str | float) -> float:
    """Seconds of a duration.

    Args:
        text: ``"90m"``, ``"3h"``, ``"1h30m"``, ``"45s"``, or a number of seconds.

    Raises:
        ValueError: for anything else, or a duration that is not positive.
    """
    text = str(text).strip().lower()
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}
    parts = re.fullmatch(r"((\d+(\.\d*)?|\.\d+)\s*([hms]?)\s*)+", text)
    if parts is None:
        raise ValueError(f"expected a duration such as 90m, 3h, 1h30m or 5400, got {text!r}")
    seconds = sum(
        float(number) * units[unit]
        for number, _, unit in re.findall(r"(\d+(\.\d*)?|\.\d+)\s*([hms]?)", text)
    )
    if not seconds > 0:
        raise ValueError(f"a budget must be positive, got {text!r}")
    return seconds


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def estimate(
    cell: Cell, experiment: Experiment, run_dir: str | os.PathLike, cache=None
) -> tuple[float, str]:
    """``(seconds, basis)``: what the run of ``cell`` still needs, and how that was found.

    A run that has a checkpoint is estimated from its own history: the epochs left times
    its median epoch after the first (a median, so that epochs of a paused or shared
    machine do not count), plus its first epoch again (a resume compiles anew).
    Otherwise the set's estimate: ``experiment.train.epochs x cell.epoch_s``, plus
    ``cell.data_s`` while the data are not in the cache. Evaluation after training is
    not counted.
    """
    checkpoint = Path(run_dir) / "checkpoint"
    if latest_epoch(checkpoint) is not None:
        try:
            stored = load_train_record(checkpoint)
            times = [float(t) for t in stored["history"].get("epoch_time", [])]
            done = int(stored["epoch"])
        except (OSError, ValueError, KeyError):  # a damaged record: the set's estimate
            times = []
        if times:
            steady = float(np.median(times[1:] if len(times) > 1 else times))
            left = max(experiment.train.epochs - done, 0)
            return (
                left * steady + times[0],
                f"its own history: {left} of {experiment.train.epochs} epochs left at "
                f"{steady:.1f} s",
            )
    task = get_task(experiment.task)
    cached = task.cached and cache_path(task.name, experiment.data.to_dict(), cache).exists()
    data = 0.0 if cached else cell.data_s
    epochs = experiment.train.epochs
    basis = f"the set's estimate: {epochs} epochs at {cell.epoch_s:g} s"
    return data + epochs * cell.epoch_s, basis + ("" if cached else f" + {data:g} s of data")


def _budget_check(deadline: float, clock: Callable[[], float], epochs: int, every: int):
    """A ``fit`` callback that stops the run at its first checkpoint after ``deadline``
    (``fit`` has written that checkpoint when it calls back); never at the last epoch."""

    def check(epoch: int, history: dict[str, list[float]]) -> None:
        if clock() >= deadline and epoch < epochs and epoch % every == 0:
            raise BudgetSpent(epoch, epochs)

    return check


def run_cells(
    out: str | os.PathLike,
    cells: Sequence[Cell],
    *,
    set_name: str = "",
    budget_s: float | None = None,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    train: Callable[..., TrainedRun] = train_run,
    overrides: Sequence[str] = (),
    clock: Callable[[], float] = time.monotonic,
) -> list[CellOutcome]:
    """Run (or resume) the cells of a set into ``out``, within a time budget, and write
    the report.

    Each cell is one run, ``OUT/records/NAME.json`` and ``OUT/runs/NAME`` (NAME:
    :attr:`Cell.name`), made and resumed as :func:`run_suite` makes its runs: a run with
    a record is reused, one with checkpoints continues, one that failed is retried.
    Before starting a run the budget left is set against its :func:`estimate`; a run
    that would not fit is skipped (a later, smaller one may still start). A run under
    way when the budget runs out stops at its next checkpoint (recipes that train
    through :meth:`~sciml.experiments.recipes.Stage.fit`: ``fit``, ``refine``) and
    resumes from it on the next call. The outcomes go to ``OUT/cells.json`` and the
    report's "papers' tables" section.

    Args:
        out: the suite folder.
        cells: the cells, in order (:func:`sciml.experiments.cells.cell_set`).
        set_name: the set's name, for the report.
        budget_s: seconds this call may take (``None``: no limit).
        cache: the data cache folder (default: ``$SCIML_CACHE`` or ``~/.cache/sciml``).
        progress: show each run's progress bars.
        train: the function that trains one experiment, with the signature of
            :func:`sciml.experiments.run.train` (the default).
        overrides: ``SECTION.KEY=VALUE`` changes applied after each cell's own.
        clock: seconds, monotonic (the budget's clock).

    Returns:
        One :class:`CellOutcome` per cell, in order.

    Raises:
        ValueError: for a cell whose experiment cannot be made or whose published cell
            is not in ``published.toml`` (before any run starts).
    """
    out = Path(out)
    started = clock()
    deadline = None if budget_s is None else started + budget_s
    for cell in cells:
        cell.published_cell()  # fail early
    experiments = {
        cell.name: get_experiment(cell.task, cell.model, cell.preset, [*cell.overrides, *overrides])
        for cell in cells
        if cell.preset is not None
    }
    outcomes: list[CellOutcome] = []
    for cell in cells:
        _write_cells(out, set_name, budget_s, cells, outcomes)
        outcomes.append(_one_cell(cell, experiments, out, deadline, clock, train, cache, progress))
    _write_cells(out, set_name, budget_s, cells, outcomes)
    write_report(out)
    return outcomes


def _one_cell(cell, experiments, out: Path, deadline, clock, train, cache, progress):
    if cell.preset is None:
        return CellOutcome(cell, "no preset", cell.note)
    record = load_record(out, cell.name)
    experiment = experiments[cell.name]
    if record is not None:
        wanted = {k: v for k, v in jsonable(experiment.to_dict()).items() if k != "notes"}
        recorded = {k: v for k, v in record["config"].items() if k != "notes"}
        changed = _changed_fields(recorded, wanted)  # words in the notes are no setting
        if changed:
            return CellOutcome(
                cell,
                "stale",
                f"records/{cell.name}.json was run at another setting ({', '.join(changed)}); "
                f"move it and runs/{cell.name} away to run the cell's",
            )
        detail = "its record is there"
        if cell.published is not None and judge(record, cell.published_cell()):
            # a record from before a cell was judged against its own published cell
            write_json(out / "records" / f"{cell.name}.json", record)
            detail += ", now judged against its own cell"
        return CellOutcome(cell, "reused", detail, record=record)
    seconds, basis = estimate(cell, experiment, out / "runs" / cell.name, cache)
    callbacks: tuple[Callable[[int, dict[str, list[float]]], None], ...] = ()
    if deadline is not None:
        left = deadline - clock()
        if left <= 0 or seconds > left:
            return CellOutcome(
                cell,
                "skipped",
                f"estimate {_duration(seconds)} ({basis}) > {_duration(left)} left of the budget",
                seconds,
            )
        every = experiment.train.checkpoint_every
        callbacks = (_budget_check(deadline, clock, experiment.train.epochs, every),)
    try:
        record = _run_one(
            experiment,
            out,
            cell.name,
            train,
            cache,
            progress,
            callbacks,
            published=cell.published_cell(),
        )
    except BudgetSpent as spent:
        return CellOutcome(
            cell,
            "stopped",
            f"budget spent after the checkpoint of epoch {spent.epoch} of {spent.epochs}; "
            "the next call resumes it",
            seconds,
        )
    except Exception:  # one failed run is reported; the set goes on
        write_atomic(out / "failures" / f"{cell.name}.txt", traceback.format_exc().encode())
        return CellOutcome(cell, "failed", f"traceback in failures/{cell.name}.txt", seconds)
    return CellOutcome(
        cell,
        "ran",
        f"test L2 {record['test_relative_l2']:.4f} in {_duration(record['suite_run_seconds'])}",
        seconds,
        record,
    )


def _changed_fields(recorded: dict[str, Any], wanted: dict[str, Any], prefix="") -> list[str]:
    """``KEY: OLD -> NEW`` for every field where a record's experiment differs."""
    changed = []
    for key in sorted(set(recorded) | set(wanted)):
        old, new = recorded.get(key), wanted.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changed += _changed_fields(old, new, f"{prefix}{key}.")
        elif old != new:
            changed.append(f"{prefix}{key}: {old} -> {new}")
    return changed


def _write_cells(out: Path, set_name, budget_s, cells, outcomes: list[CellOutcome]) -> None:
    """``OUT/cells.json``: the set and each cell's outcome so far (``"pending"`` for the
    cells not reached yet), which the report reads."""
    rows = []
    for i, cell in enumerate(cells):
        outcome = outcomes[i] if i < len(outcomes) else CellOutcome(cell, "pending")
        rows.append(
            {
                "name": cell.name,
                "task": cell.task,
                "model": cell.model,
                "preset": cell.preset,
                "published": cell.published,
                "note": cell.note,
                "status": outcome.status,
                "detail": outcome.detail,
                "estimate_s": outcome.estimate_s,
            }
        )
    write_json(out / "cells.json", {"set": set_name, "budget_s": budget_s, "cells": rows})


def load_cells(out: str | os.PathLike) -> dict[str, Any] | None:
    """``OUT/cells.json`` as written by the last :func:`run_cells` into ``out``, each
    cell with its ``"record"`` (or ``None``); ``None`` if no cell set ran there."""
    path = Path(out) / "cells.json"
    if not path.exists():
        return None
    cells = json.loads(path.read_text())
    for row in cells["cells"]:
        row["record"] = load_record(out, row["name"])
    return cells


def _suite_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="sciml bench", unit="run", position=0)


def load_record(out: str | os.PathLike, name: str) -> dict[str, Any] | None:
    """The record of run ``name`` in the suite folder ``out``, or ``None`` if not written.

    Raises:
        ValueError: if the file exists but is not a record (it is never overwritten
            silently: remove it to redo the run).
    """
    path = Path(out) / "records" / f"{name}.json"
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not a readable suite record ({error}); remove it to redo the run"
        ) from None
    if not isinstance(record, dict) or "test_relative_l2" not in record:
        raise ValueError(
            f"{path} is not a suite record (no test_relative_l2); remove it to redo the run"
        )
    if "config" not in record:
        raise ValueError(
            f"{path} was written before runs recorded their experiment ('config'); remove it "
            "to redo the run"
        )
    return record


def bench_record(
    experiment: Experiment, trained: TrainedRun, *, cache=None, published: Published | None = None
) -> dict[str, Any]:
    """A run's record (from :func:`sciml.experiments.run.train`) with what the suite adds.

    Adds: the inference latency at batch 1 and 20, the published cell set beside the
    run (``published``, or by default the nearest one:
    :func:`~sciml.experiments.run.published_cell`), the training time until the test
    error first reached it, and the test error on the task's finer grids for every
    model that takes them.
    """
    record = dict(trained.record)
    record["latency"] = inference_latency(trained.model, trained.test_inputs)
    judge(record, published if published is not None else published_cell(record))
    record["super_resolution"] = super_resolution(experiment, trained.model, cache=cache)
    return jsonable(record)


def judge(record: dict[str, Any], cell: Published | None) -> bool:
    """Set ``record``'s published cell to ``cell`` and its training time until the test
    error first reached it (from the record's history); ``True`` if that changed them."""
    before = (record.get("published"), record.get("seconds_to_published"))
    history = record.get("history", {})
    record["published"] = None if cell is None else dataclasses.asdict(cell)
    record["seconds_to_published"] = None if cell is None else seconds_to_reach(history, cell.value)
    return (record["published"], record["seconds_to_published"]) != before


def seconds_to_reach(history: dict[str, list[float]], target: float) -> float | None:
    """Training seconds (epoch times summed, compilation and test evaluation included)
    until the test relative L2 first reached ``target``; ``None`` if it never did."""
    elapsed = 0.0
    for error, seconds in zip(history.get("test_l2", []), history.get("epoch_time", [])):
        elapsed += seconds
        if error <= target:
            return elapsed
    return None


@eqx.filter_jit
def _forward(model, inputs):
    return jax.vmap(model)(inputs)


def inference_latency(
    model, inputs: np.ndarray, batch_sizes: Iterable[int] = LATENCY_BATCHES, repeats: int = 5
) -> dict[str, dict[str, float]]:
    """Median wall time of the compiled forward pass on ``batch`` test samples.

    Returns ``{str(batch): {"ms_per_call": ..., "ms_per_sample": ...}}``; compilation
    is excluded (one call before timing), and a batch larger than ``inputs`` is left out.
    """
    timings = {}
    for batch in batch_sizes:
        if batch > len(inputs):
            continue
        x = jnp.asarray(inputs[:batch])
        jax.block_until_ready(_forward(model, x))
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            jax.block_until_ready(_forward(model, x))
            times.append(time.perf_counter() - started)
        ms = 1e3 * float(np.median(times))
        timings[str(batch)] = {"ms_per_call": ms, "ms_per_sample": ms / batch}
    return timings


# ------------------------------------------------------------- zero-shot super-resolution


def super_resolution(
    experiment: Experiment, model, *, cache=None, batch_size: int = 10
) -> dict[str, float]:
    """Mean test relative L2 of ``model`` on the task's finer grids, zero-shot.

    The test split is solved afresh at each grid (the same samples as the training
    run's test split, from the same seeds) and cached. A model trained on normalised
    fields carries per-point statistics of the training grid; they are interpolated
    (multilinearly) to the finer grid, since the fields they describe are smooth. A
    model tied to its training grid (a DeepONet's branch, a POD basis) refuses the
    finer grid and is left out.

    Returns:
        ``{"<resolution>": mean relative L2}``.
    """
    task = get_task(experiment.task)
    results: dict[str, float] = {}
    for config, generate_test in task.super_resolution(experiment):
        splits, _ = load_or_generate(
            f"{task.name}-test",
            config.to_dict(),
            functools.partial(_test_split, generate_test, config),
            cache,
            required_splits=("test",),
        )
        inputs, outputs = task.arrays(experiment, splits["test"])
        fine = model
        if isinstance(model, NormalisedOperator):
            fine = model.on_grid(inputs.shape[2:], periodic=task.periodic)
        try:
            errors = evaluate(fine, inputs, outputs, batch_size=batch_size)
        except (ValueError, TypeError):  # a model that takes only its training grid
            return {}
        results[str(inputs.shape[-1])] = float(np.mean(errors))
    return results


def _test_split(generate: Callable[[Any], Any], config: Any) -> dict[str, Any]:
    """``{"test": generate(config)}``, the one split of a super-resolution test set."""
    return {"test": generate(config)}


# --------------------------------------------------------------------------- reporting


def load_records(out: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of the suite folder ``out``, in the suite's order."""
    folder = Path(out) / "records"
    if not folder.is_dir():
        return []
    records = [load_record(out, path.stem) for path in sorted(folder.glob("*.json"))]
    order = {(task, model): i for i, (task, model) in enumerate(suite_runs())}
    return sorted(
        (r for r in records if r is not None),
        key=lambda r: (order.get((r["task"], r["model"]), len(order)), r["preset"]),
    )


def load_peer_records(out: str | os.PathLike) -> list[PeerComparison]:
    """The peer comparisons in ``OUT/peer/*.json``: each record's ``"comparison"``."""
    folder = Path(out) / "peer"
    if not folder.is_dir():
        return []
    comparisons = []
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text())
        if "comparison" not in record:
            raise ValueError(f"{path} holds no peer comparison ('comparison'); remove it")
        comparisons.append(PeerComparison.from_dict(record["comparison"]))
    return comparisons


def write_report(out: str | os.PathLike) -> Path:
    """Write ``OUT/results.md`` and one figure per task from the records in ``out``."""
    out = Path(out)
    records = load_records(out)
    text = report_markdown(records, load_peer_records(out), load_failures(out), load_cells(out))
    path = write_atomic(out / "results.md", text.encode())
    for task in dict.fromkeys(r["task"] for r in records):
        write_atomic(
            out / f"{task}.png", task_figure([r for r in records if r["task"] == task], task)
        )
    return path


def _fmt(value, spec: str = ".4f", missing: str = "-") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return format(value, spec)


def _published_text(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    return f"{cell['value']:.4f} ({cell['setting']}; {cell['source'].split(',')[0]})"


def _grid(record: dict[str, Any]) -> str:
    return " x ".join(str(n) for n in record["resolution"])


def report_markdown(
    records: list[dict[str, Any]],
    peers: Sequence[PeerComparison] = (),
    failures: dict[str, str] | None = None,
    cells: dict[str, Any] | None = None,
) -> str:
    """The suite's markdown report: runs beside the papers, super-resolution, the papers'
    tables with our cells, and the peer comparison.

    Args:
        records: the runs' records.
        peers: the peer comparisons.
        failures: ``{run name: error}`` of the failed runs.
        cells: the cell set that ran into the folder (:func:`load_cells`): each of its
            cells gets a row, with its outcome, in the papers' tables section.
    """
    lines = ["# sciml benchmark suite", ""]
    if failures:
        lines += ["## Failed runs (retried when the suite is run again)", ""]
        lines += [f"- `{name}`: {error}" for name, error in failures.items()]
        lines.append("")
    if not records:
        return "\n".join(lines + ["No run has finished yet.", ""] + _cells_section(cells))
    machines = sorted({_machine(r) for r in records})
    lines += [
        f"Machine: {'; '.join(machines)}. Git revision: "
        f"{', '.join(sorted({str(r.get('git_revision'))[:10] for r in records}))}.",
        f"Runs: {len(records)}; their wall time summed: "
        f"{sum(r.get('wall_seconds', 0.0) for r in records) / 60:.1f} min.",
        "",
        "Test relative L2 is the mean over the test split; 'published' is the run's own "
        "cell for a run of a cell set (`--cells`), else the nearest cell of the papers' "
        "tables (its setting in brackets, which may differ from the run's grid, data or "
        "horizon). Latency is the compiled forward pass, per sample. "
        "'to published' is the training time until the test error first reached the "
        "published number.",
        "",
    ]
    if len(machines) > 1:
        lines += [
            "**The records come from more than one machine; compare timings only within "
            "one machine.**",
            "",
        ]
    for task in dict.fromkeys(r["task"] for r in records):
        lines += [f"## {task}", ""]
        lines += [
            "| model | preset | grid | params | test L2 | published L2 | test H1 | epochs "
            "| wall s | s/epoch | train samples/s | latency b1 ms | latency b20 ms/sample "
            "| to published |",
            "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | ---: |",
        ]
        for r in (r for r in records if r["task"] == task):
            latency = r.get("latency", {})
            lines.append(
                f"| {r['model']} | {r['preset']} | {_grid(r)} | {r['parameters']:,} "
                f"| {r['test_relative_l2']:.4f} | {_published_text(r.get('published'))} "
                f"| {_fmt(r.get('test_relative_h1'))} | {r['epochs']} "
                f"| {r['wall_seconds']:.0f} | {r['time_per_epoch_s']:.1f} "
                f"| {r['train_samples_per_s']:.1f} "
                f"| {_fmt(latency.get('1', {}).get('ms_per_sample'), '.2f')} "
                f"| {_fmt(latency.get('20', {}).get('ms_per_sample'), '.2f')} "
                f"| {_reached(r)} |"
            )
        lines.append("")
        lines += _task_measures(task, [r for r in records if r["task"] == task])
    lines += _super_resolution_section(records)
    lines += _published_section(records, cells)
    lines += _peer_section(peers)
    return "\n".join(lines)


def _reached(record: dict[str, Any]) -> str:
    """Seconds of training until the published error was reached, or why not."""
    if not record.get("published"):
        return "-"
    reached = record.get("seconds_to_published")
    return "not reached" if reached is None else f"{reached:.0f} s"


def _task_measures(task: str, records: list[dict[str, Any]]) -> list[str]:
    """The task's own measures (its summary rows beyond the test error), a row per run:
    energies for gradient flows, errors past the horizon for trajectories."""
    rows = [
        [(name, value) for name, value in get_task(task).summary(r) if "test relative" not in name]
        for r in records
    ]
    if not any(rows):
        return []
    names = list(dict.fromkeys(name for values in rows for name, _ in values))
    lines = [f"| model | {' | '.join(names)} |", "| --- |" + " --- |" * len(names)]
    for r, values in zip(records, rows):
        cells = dict(values)
        lines.append(f"| {r['model']} | {' | '.join(cells.get(n, '-') for n in names)} |")
    return lines + [""]


def _machine(record: dict[str, Any]) -> str:
    return f"{record.get('device')} ({record.get('cpu_count')} CPUs)"


def _super_resolution_section(records) -> list[str]:
    rows = [r for r in records if r.get("super_resolution")]
    if not rows:
        return []
    lines = [
        "## Zero-shot super-resolution",
        "",
        "Trained on one grid, evaluated on finer ones without retraining (test relative L2).",
        "",
        "| task | model | preset | trained on | evaluated on: L2 | published at that grid |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        finer = ", ".join(f"{res}: {err:.4f}" for res, err in r["super_resolution"].items())
        published = []
        for res in r["super_resolution"]:
            cells = [
                c
                for c in PUBLISHED
                if c.task == r["task"] and c.model == r["model"] and c.resolution == int(res)
            ]
            published += [f"{res}: {c.value:.4f}" for c in cells[:1]]
        lines.append(
            f"| {r['task']} | {r['model']} | {r['preset']} | {_grid(r)} | {finer} "
            f"| {', '.join(published) or '-'} |"
        )
    return lines + [""]


def _matches(cell: Published, record: dict[str, Any]) -> bool:
    data = record["config"]["data"]
    if record["task"] != cell.task or record["model"] != cell.model:
        return False
    if int(record["resolution"][0]) != cell.resolution:
        return False
    if cell.nu is not None and not (
        data.get("nu") is not None and math.isclose(data["nu"], cell.nu)
    ):
        return False
    if cell.t_final is not None and data.get("t_final") != cell.t_final:
        return False
    return cell.n_train is None or record.get("n_train") == cell.n_train


#: A ratio ours / published above this is flagged: ours worse by more than 10 %.
WORSE = 1.1
#: A ratio below this is flagged: ours better by more than 2x.
BETTER = 0.5


def _ratio(ours: float, published: float) -> tuple[str, str]:
    """``(ratio, flag)`` of our test error against the published one."""
    ratio = ours / published
    flag = "**worse > 10 %**" if ratio > WORSE else "**better > 2x**" if ratio < BETTER else ""
    return f"{ratio:.2f}", flag


def _published_section(records, cells: dict[str, Any] | None = None) -> list[str]:
    no_preset = {
        (row["task"], row["model"], row["published"])
        for row in (cells or {}).get("cells", [])
        if row["preset"] is None
    }
    lines = [
        "## The papers' tables",
        "",
        "Every published cell, with our run of the same setting where one has been made "
        "(the same task, model, grid and, for Navier–Stokes, viscosity, horizon and "
        "training size), and the ratio of our test error to the published one. A ratio "
        f"above {WORSE} (ours worse by more than 10 %) or below {BETTER} (ours better by "
        "more than 2x) is flagged: such a cell asks for an explanation (the data, the "
        "training or the model differ). Zero-shot numbers (trained on a coarser grid) "
        "are listed but not set against the cell, which the paper trained at its grid.",
        "",
        "| task | model | setting | published L2 | ours | ours / published | flag | source |",
        "| --- | --- | --- | ---: | --- | ---: | --- | --- |",
    ]
    for cell in PUBLISHED:
        direct = [r for r in records if _matches(cell, r)]
        ours = [f"{r['test_relative_l2']:.4f} ({_label(r)})" for r in direct]
        ours += [
            f"{r['super_resolution'][str(cell.resolution)]:.4f} (zero-shot from "
            f"{r['resolution'][0]}, {_label(r)})"
            for r in records
            if r["task"] == cell.task
            and r["model"] == cell.model
            and str(cell.resolution) in r.get("super_resolution", {})
            and cell.nu is None
        ]
        ratios = [_ratio(r["test_relative_l2"], cell.value) for r in direct]
        missing = "no preset" if (cell.task, cell.model, cell.setting) in no_preset else "not run"
        lines.append(
            f"| {cell.task} | {cell.model} | {cell.setting} | {cell.value:.4f} "
            f"| {'; '.join(ours) or missing} | {'; '.join(r for r, _ in ratios) or '-'} "
            f"| {' '.join(f for _, f in ratios if f)} | {cell.source} |"
        )
    return lines + [""] + _cells_section(cells)


def _label(record: dict[str, Any]) -> str:
    """The preset of a record, and its data law where that is not the paper's text."""
    law = record["config"]["data"].get("law")
    return record["preset"] if law in (None, "paper") else f"{record['preset']}, {law} law"


def _cells_section(cells: dict[str, Any] | None) -> list[str]:
    """A row per cell of the set that ran into the folder: ours, the ratio, the outcome."""
    if not cells:
        return []
    budget = cells.get("budget_s")
    lines = [
        f"### The cell set `{cells['set']}`",
        "",
        f"Each cell is one run at the paper's setting ({cells['set']} set; "
        f"{'no budget' if budget is None else f'budget {_duration(budget)}'} on the last "
        "call). 'outcome' is what the last call did with it; rerunning the same command "
        "continues. 'training' is the sum of the epochs' times (compilation and test "
        "evaluation included), and in brackets the time until our test error first reached "
        "the published one.",
        "",
        "| run | published L2 | ours | ours / published | flag | training | outcome |",
        "| --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for row in cells["cells"]:
        record = row.get("record")
        published = None
        if row["published"] is not None:
            published = next(
                (
                    c
                    for c in PUBLISHED
                    if (c.task, c.model, c.setting) == (row["task"], row["model"], row["published"])
                ),
                None,
            )
        value = "-" if published is None else f"{published.value:.4f} ({published.setting})"
        ours, ratio, flag = "not run" if row["preset"] else "no preset", "-", ""
        training = "-"
        if record is not None:
            ours = f"{record['test_relative_l2']:.4f}"
            if published is not None:
                ratio, flag = _ratio(record["test_relative_l2"], published.value)
            history = record.get("history", {})
            training = _duration(sum(history.get("epoch_time", [])))
            if published is not None:  # from the history, whatever cell the record names
                reached = seconds_to_reach(history, published.value)
                training += f" ({'never' if reached is None else _duration(reached)})"
        outcome = f"{row['status']}: {row['detail']}" if row["detail"] else row["status"]
        lines.append(
            f"| `{row['name']}` | {value} | {ours} | {ratio} | {flag} | {training} | {outcome} |"
        )
    return lines + [""]


def _peer_section(peers) -> list[str]:
    if not peers:
        return []
    lines = [
        "## FNO against the PyTorch reference (neuraloperator)",
        "",
        "The same architecture, sizes and batch on one machine, timed in alternating fresh "
        "processes by one script (`benchmarks/peer_fno.py`). Throughput and latency ratios "
        "are sciml's speed over the peer's (above 1: sciml faster); the memory ratio is "
        "sciml's peak over the peer's (below 1: sciml uses less). Targets: throughput "
        ">= 1.0x on a CPU and >= 1.5x on a GPU, memory <= 1.0x.",
        "",
        "| case | device | params sciml / peer | train samples/s sciml / peer | throughput "
        "ratio | latency b1 ratio | latency batch ratio | peak memory MiB sciml / peer "
        "| memory ratio |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    return lines + [peer.row() for peer in peers] + [""]


@dataclasses.dataclass(frozen=True)
class PeerComparison:
    """One row of the suite's peer comparison: sciml against another framework's model of
    the same architecture, sizes and batch, timed on one machine.

    A benchmark script builds it from its measurements and stores ``to_dict()`` under
    ``"comparison"`` in the JSON record it writes into ``OUT/peer/``; the report reads
    this and nothing else of the script's record.

    Attributes:
        case: the setting in words (task, preset, grid, batch).
        device: where it ran.
        parameters, train_samples_per_s, peak_mib: ``(sciml, peer)`` pairs.
        throughput_ratio: sciml's training samples/s over the peer's (above 1: faster).
        latency_ratio_1, latency_ratio_batch: the peer's inference latency over sciml's,
            at batch 1 and at the training batch (above 1: sciml faster).
        memory_ratio: sciml's peak memory over the peer's (below 1: sciml uses less).
    """

    case: str
    device: str
    parameters: tuple[int | None, int | None]
    train_samples_per_s: tuple[float | None, float | None]
    peak_mib: tuple[float | None, float | None]
    throughput_ratio: float | None
    latency_ratio_1: float | None
    latency_ratio_batch: float | None
    memory_ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PeerComparison:
        fields = {field.name for field in dataclasses.fields(cls)}
        if set(values) != fields:
            raise ValueError(
                f"a peer comparison has the fields {sorted(fields)}; got {sorted(values)}"
            )
        converted: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
        }
        return cls(**converted)

    def row(self) -> str:
        ours, theirs = self.parameters, self.train_samples_per_s
        return (
            f"| {self.case} | {self.device} | {_fmt(ours[0], ',')} / {_fmt(ours[1], ',')} "
            f"| {_fmt(theirs[0], '.1f')} / {_fmt(theirs[1], '.1f')} "
            f"| {_fmt(self.throughput_ratio, '.2f')} | {_fmt(self.latency_ratio_1, '.2f')} "
            f"| {_fmt(self.latency_ratio_batch, '.2f')} "
            f"| {_fmt(self.peak_mib[0], '.0f')} / {_fmt(self.peak_mib[1], '.0f')} "
            f"| {_fmt(self.memory_ratio, '.2f')} |"
        )


def task_figure(records: list[dict[str, Any]], task: str) -> bytes:
    """PNG bytes: test relative L2 per model (bars) beside the published cell (marks),
    and, where present, the error against the evaluation grid (super-resolution)."""
    with_sr = [r for r in records if r.get("super_resolution")]
    fig, axes = subplots(1, 2 if with_sr else 1, figsize=(11 if with_sr else 6, 4))
    axes = np.atleast_1d(axes)
    labels = [f"{r['model']}\n{r['preset']}" for r in records]
    ours = [r["test_relative_l2"] for r in records]
    x = np.arange(len(records))
    axes[0].bar(x, ours, color="tab:blue", label="sciml")
    published = [(i, r["published"]["value"]) for i, r in enumerate(records) if r.get("published")]
    if published:
        axes[0].scatter(
            [i for i, _ in published],
            [v for _, v in published],
            marker="_",
            s=600,
            color="tab:red",
            label="published (nearest cell)",
            zorder=3,
        )
    axes[0].set_xticks(x, labels, fontsize=8)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("test relative L2")
    axes[0].legend()
    axes[0].set_title(f"{task}: test error")
    for r in with_sr:
        grids = [int(r["resolution"][0])] + [int(k) for k in r["super_resolution"]]
        errors = [r["test_relative_l2"], *r["super_resolution"].values()]
        axes[1].plot(grids, errors, marker="o", label=f"{r['model']} ({r['preset']})")
    if with_sr:
        axes[1].set_xlabel("evaluation grid (points per side)")
        axes[1].set_ylabel("test relative L2")
        axes[1].set_title("zero-shot super-resolution")
        axes[1].legend()
    fig.tight_layout()
    return png_bytes(fig)
