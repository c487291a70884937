"""The one runner: generate or load the data, build the model, fit, judge, record.

:func:`train` serves every task (operators, gradient flows, trajectories) and resumes
any of them. It writes into the run folder ``config.toml`` (the resolved experiment:
``sciml train --config OUT/config.toml`` reproduces the run), ``checkpoint/``,
``results.json`` (the record), ``results.md`` and the task's figures.
:func:`load_run` rebuilds the trained model of a run folder from its own files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sciml._io import write_atomic
from sciml.data.cache import load_or_generate
from sciml.data.dataset import cache_dir, config_hash
from sciml.data.lazy import LazyDataset
from sciml.data.normalise import GaussianNormaliser, NormalisedOperator
from sciml.distributed import is_primary
from sciml.experiments.config import Experiment, load_experiment
from sciml.experiments.lock import check_shared_folder, run_lock
from sciml.experiments.recipes import Stage
from sciml.experiments.record import Rows, environment, jsonable, seconds, write_record
from sciml.experiments.registry import build_model, get_recipe, get_task
from sciml.models import count_parameters
from sciml.tasks import ModelSpec
from sciml.tasks.published import nearest_cell
from sciml.train import latest_epoch, latest_intact_epoch, load_metadata, load_model
from sciml.train.fit import Callback


@dataclasses.dataclass(frozen=True)
class TrainedRun:
    """What :func:`train` leaves: the record, the trained model (in physical units) and
    the test split as the model sees it."""

    record: dict[str, Any]
    model: eqx.Module
    test_inputs: np.ndarray
    test_outputs: np.ndarray


def _progress_bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sample")


def load_data(experiment: Experiment, cache=None, progress: bool = False):
    """``(splits, from_cache)``: the experiment's data from the cache, or generated."""
    task, data = get_task(experiment.task), experiment.data

    def generate():
        bar = _progress_bar(data.n_train + data.n_test, f"generating {task.name}", progress)
        try:
            return task.generate(data, progress=bar.update if bar else None)
        finally:
            if bar:
                bar.close()

    def on_its_grid(splits):
        expected = None if task.grid is None else tuple(task.grid(data))
        for name, split in splits.items():
            if expected is not None and tuple(split.grid_shape) != expected:
                raise ValueError(
                    f"its {name} split lies on the grid {split.grid_shape}, but the config's "
                    f"grid is {expected}"
                )

    if not task.cached:
        return generate(), False
    return load_or_generate(
        task.name,
        data.to_dict(),
        generate,
        cache,
        required_splits=("train", "test"),
        check=on_its_grid,
    )


def _normalised(model, normalisers):
    return model if normalisers is None else NormalisedOperator(model, *normalisers)


def build_for(
    experiment: Experiment, train_arrays, *, key: jax.Array, periodic: bool | None = None
):
    """The model the runner trains, built for the training split ``(inputs, targets)``.

    With ``normalise = "gaussian"`` per-point normalisers are fitted to the training
    inputs and targets and wrap the network, which then sees (and, for a POD basis, is
    fitted to) the normalised fields.

    A streamed training split (a :class:`~sciml.data.lazy.LazyDataset`) is sampled:
    the normalisers and the spec's targets are its first ``data.fit_samples`` samples.
    ``periodic`` (default: the task's) says whether the domain is periodic.

    Returns:
        ``(model, network, spec)``: the model to train (the network, normalised), the
        network alone and the :class:`~sciml.tasks.ModelSpec` it was built for.
    """
    if isinstance(train_arrays, LazyDataset):
        count = min(len(train_arrays), getattr(experiment.data, "fit_samples", 512))
        train_arrays = train_arrays.read(np.arange(count))
    inputs, targets = train_arrays
    normalisers = None
    if experiment.normalise == "gaussian":
        normalisers = (GaussianNormaliser.fit(inputs), GaussianNormaliser.fit(targets))
        targets = np.asarray(jax.vmap(normalisers[1].encode)(jnp.asarray(targets)))
    spec = ModelSpec(
        inputs.shape[1],
        targets.shape[1],
        tuple(inputs.shape[2:]),
        get_task(experiment.task).periodic if periodic is None else periodic,
        experiment.frames,
        experiment.data,
        targets,
    )
    network = build_model(experiment.model, spec, experiment.model_config, key=key)
    return _normalised(network, normalisers), network, spec


def train(
    experiment: Experiment,
    out: str | os.PathLike,
    *,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
) -> TrainedRun:
    """Run ``experiment`` into the folder ``out``.

    Args:
        experiment: what data, model and training.
        out: the run folder.
        cache: the data cache folder (default: ``$SCIML_CACHE`` or ``~/.cache/sciml``).
        progress: show progress bars.
        resume: continue the run checkpointed in ``out/checkpoint`` (the same experiment;
            more epochs may be asked for). Without it, a folder that already holds a run
            is refused rather than overwritten. A resume of another experiment, or for
            fewer epochs than were trained, is refused before any data are made.
        callbacks: ``cb(epoch, history)`` after each epoch and its checkpoint, for the
            recipes that train through :meth:`~sciml.experiments.recipes.Stage.fit`
            (``fit``, ``refine``); an exception raised by one stops the run there, its
            checkpoints kept for a resume.

    The folder is locked for the run (one run per folder), and in a multi-host run every
    process must see it (:func:`sciml.experiments.lock.check_shared_folder`).

    Returns:
        The record written to ``results.json``, the trained model and the test split.
    """
    out = Path(out)
    check_shared_folder(out)
    with run_lock(out) if is_primary() else contextlib.nullcontext():
        return _train(experiment, out, cache, progress, resume, tuple(callbacks))


def _check_resumable(experiment: Experiment, out: Path, resume: bool) -> None:
    """Refuse, before any data are made, a folder that holds another run or none to
    resume, a resume of another experiment, and one asking for fewer epochs than done."""
    checkpoint = out / "checkpoint"
    held = latest_epoch(checkpoint)
    if resume and held is None:
        raise FileNotFoundError(f"cannot resume: {checkpoint} holds no checkpoint")
    if not resume and (held is not None or (out / "results.json").exists()):
        raise ValueError(
            f"{out} already holds a run (checkpoint of epoch {held}); resume it, or choose "
            "another output folder"
        )
    if not resume or held is None:
        return
    intact, skipped = latest_intact_epoch(checkpoint)
    if intact is None:
        reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped)
        raise ValueError(
            f"cannot resume: no checkpoint in {checkpoint} reads back intact ({reasons})"
        )
    # compared as JSON stores them (tuples read back as lists)
    wanted = json.loads(json.dumps(jsonable(experiment.to_dict())))
    stored, wanted = _flat(load_metadata(checkpoint)), _flat(wanted)
    differs = sorted(
        key
        for key in set(stored) | set(wanted)
        if key != "train.epochs" and stored.get(key) != wanted.get(key)
    )
    if differs:
        raise ValueError(
            f"cannot resume {out} with another experiment: {', '.join(differs)} differ from "
            "the run's (only train.epochs may change)"
        )
    if experiment.train.epochs < held:
        raise ValueError(
            f"cannot resume {out} for {experiment.train.epochs} epochs: it has trained "
            f"{held} already"
        )


def _flat(table: dict, prefix: str = "") -> dict:
    """``{"train": {"epochs": 2}}`` -> ``{"train.epochs": 2}``."""
    flat: dict = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _train(
    experiment: Experiment, out: Path, cache, progress: bool, resume: bool, callbacks=()
) -> TrainedRun:
    _check_resumable(experiment, out, resume)
    task = get_task(experiment.task)
    out.mkdir(parents=True, exist_ok=True)
    if is_primary():
        write_atomic(out / "config.toml", experiment.to_toml().encode())
    started = time.perf_counter()
    splits, from_cache = load_data(experiment, cache, progress)
    data_s = time.perf_counter() - started
    train_arrays = task.arrays(experiment, splits["train"])
    test_arrays = task.arrays(experiment, splits["test"])

    model, network, spec = build_for(
        experiment,
        train_arrays,
        key=jax.random.key(experiment.train.seed),
        periodic=splits["train"].config.get("periodic"),
    )
    train_started = time.perf_counter()
    stage = Stage(experiment, model, train_arrays, test_arrays, out, resume, progress, callbacks)
    trained = get_recipe(experiment.recipe)(stage, **experiment.recipe_config)
    model, history = trained.model, trained.history
    train_s = time.perf_counter() - train_started
    judged = task.judge(experiment, model, splits["test"], test_arrays, out)

    epoch_times = np.asarray(history["epoch_time"])
    steady = float(np.mean(epoch_times[1:] if len(epoch_times) > 1 else epoch_times))
    n_train, n_test = len(splits["train"]), len(splits["test"])
    samples_per_epoch = n_train // experiment.train.batch_size * experiment.train.batch_size
    record = {
        "task": experiment.task,
        "model": experiment.model,
        "preset": experiment.preset,
        "notes": experiment.notes,
        "config": experiment.to_dict(),
        "spec": spec.to_dict(),
        "parameters": count_parameters(network),
        **trained.record,
        **judged,
        "test_relative_h1": float(history["test_h1"][-1]) if history.get("test_h1") else None,
        "train_loss_final": float(history["train_loss"][-1]),
        "history": {k: [float(v) for v in values] for k, values in history.items()},
        "epochs": len(history["train_loss"]),
        "data_seconds": data_s,
        "data_from_cache": from_cache,
        "data_samples_per_s": None if from_cache else (n_train + n_test) / data_s,
        "train_seconds": train_s,
        "time_per_epoch_s": steady,
        "train_samples_per_s": samples_per_epoch / steady,
        "wall_seconds": time.perf_counter() - started,
        "resolution": list(spec.grid),
        "n_train": n_train,
        "n_test": n_test,
        **environment(),
    }
    if is_primary():  # in a multi-host run, one process writes the record
        write_record(out, record, summary_rows)
    return TrainedRun(record, model, *test_arrays)


def published_cell(record: dict[str, Any]):
    """The nearest published cell to a run, or ``None``."""
    data = record["config"]["data"]
    return nearest_cell(
        record["task"],
        record["model"],
        int(record["resolution"][0]),
        nu=data.get("nu"),
        t_final=data.get("t_final"),
        n_train=record.get("n_train"),
    )


def summary_rows(record: dict[str, Any]) -> Rows:
    """``(name, value)`` rows of a run: the common ones around the task's own."""
    cell = published_cell(record)
    published = (
        [] if cell is None else [("published", f"{cell.value:.4f} ({cell.source}, {cell.setting})")]
    )
    return [
        ("task / model / preset", f"{record['task']} / {record['model']} / {record['preset']}"),
        ("grid", " x ".join(str(n) for n in record["resolution"])),
        ("train / test samples", f"{record['n_train']} / {record['n_test']}"),
        ("parameters", f"{record['parameters']:,}"),
        ("epochs", str(record["epochs"])),
        *get_task(record["task"]).summary(record),
        *published,
        ("data (s)", seconds(record["data_seconds"], record["data_from_cache"])),
        ("training (s)", seconds(record["train_seconds"])),
        ("training samples/s", seconds(record["train_samples_per_s"])),
        ("wall (s)", seconds(record["wall_seconds"])),
        ("device", record["device"]),
    ]


def load_run(folder: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """The trained model of a run folder, rebuilt from its own files, and its record.

    The structure comes from ``config.toml`` and the model's shapes in
    ``results.json`` (parts fitted to data, such as normalisers and POD bases, start as
    placeholders); the checkpoint fills in every array.

    Returns:
        ``(model, record)``; the model maps one input ``(C_in, *grid)`` to one output
        ``(C_out, *grid)`` in physical units.

    Raises:
        FileNotFoundError: the folder has no ``results.json``, ``config.toml`` or
            checkpoint.
        ValueError: the files do not describe a model registered here.
    """
    folder = Path(folder)
    if not (folder / "results.json").is_file():
        raise FileNotFoundError(
            f"expected a 'sciml train' run folder with results.json; {folder} has none"
        )
    record = json.loads((folder / "results.json").read_text())
    if "spec" not in record:
        raise ValueError(
            f"{folder}/results.json has no model shapes ('spec'); rerun it with this version"
        )
    experiment = load_experiment(folder / "config.toml")
    spec = ModelSpec(
        record["spec"]["in_channels"],
        record["spec"]["out_channels"],
        tuple(record["spec"]["grid"]),
        record["spec"]["periodic"],
        experiment.frames,
        experiment.data,
    )
    # a staged recipe may leave the model in another configuration than it was built in
    # (an unrolled depth): the record says which
    config = {**experiment.model_config, **record.get("trained_model_config", {})}
    network = build_model(experiment.model, spec, config, key=jax.random.key(0))
    normalisers = None
    if experiment.normalise == "gaussian":
        shapes = [(2, channels, *spec.grid) for channels in (spec.in_channels, spec.out_channels)]
        normalisers = tuple(GaussianNormaliser.fit(np.zeros(shape, np.float32)) for shape in shapes)
    like = _normalised(network, normalisers)
    return load_model(folder / "checkpoint", like), record


def cached_run(
    experiment: Experiment, *, cache: str | os.PathLike | None = None, progress: bool = True
) -> tuple[Any, dict[str, Any], Path, bool]:
    """Train ``experiment`` once into the cache folder and load its model afterwards.

    The run lives in ``CACHE/runs/TASK-MODEL-PRESET-<hash of the experiment>``; a folder
    without a record (an interrupted run) is trained again rather than trusted.

    Returns:
        ``(model, record, folder, from_cache)``.
    """
    root = Path(cache) if cache is not None else cache_dir()
    name = f"{experiment.task}-{experiment.model}-{experiment.preset}"
    folder = root / "runs" / f"{name}-{config_hash(experiment.to_dict())}"
    if (folder / "results.json").is_file():
        return (*load_run(folder), folder, True)
    if folder.exists():
        shutil.rmtree(folder)
    train(experiment, folder, cache=cache, progress=progress)
    return (*load_run(folder), folder, False)
