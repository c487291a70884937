"""One run of a preset: generate (or load) data, train, evaluate, record.

This is the pipeline behind ``sciml train``; it writes into ``out``:
``results.json`` (the record), ``checkpoint/`` (orbax checkpoints of the run) and
``prediction.png`` (input, truth, prediction and error of one test sample).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sciml._io import write_atomic, write_json
from sciml.data.cache import load_or_generate
from sciml.data.dataset import OperatorDataset
from sciml.data.normalise import GaussianNormaliser, NormalisedOperator
from sciml.distributed import is_primary
from sciml.models import (
    FNO,
    DeepONet,
    MgNO,
    PODBasis,
    PODDeepONet,
    RecurrentFNO,
    SpaceTimeFNO,
    UNet,
    count_parameters,
)
from sciml.plots import plot_prediction_1d, plot_prediction_2d
from sciml.presets import Preset
from sciml.train import fit, latest_epoch, relative_l2

#: Tasks on a periodic domain: their grids hold ``j / n`` (no endpoint), and the
#: convolutional models pad circularly.
PERIODIC_TASKS = ("burgers", "navier-stokes")


def build_model(
    preset: Preset,
    input_shape: tuple[int, ...],
    targets,
    *,
    key: jax.Array,
    from_data: bool = True,
):
    """The network named by the preset's model config, for the task's data.

    ``fno`` is an :class:`~sciml.models.FNO` for a map between fields, or, when the
    preset maps frames to frames, the recurrent FNO-2D of the FNO paper
    (:class:`~sciml.models.RecurrentFNO`); ``fno3d`` is the space-time FNO-3D
    (:class:`~sciml.models.SpaceTimeFNO`), for frames only. ``deeponet``,
    ``pod-deeponet``, ``mgno`` and ``unet`` map the input channels (frames) to the
    output channels (frames) at once.

    Args:
        preset: the run's preset.
        input_shape: one input sample's shape ``(C_in, *grid)``.
        targets: the training outputs ``(N, C_out, *grid)`` as the network sees them
            (normalised, if the preset normalises): their channels size the network, and
            POD-DeepONet takes its modes from them.
        key: random key.
        from_data: False to rebuild a trained network for its checkpoint: parts fitted
            to data (POD-DeepONet's basis) are made empty, of the right shapes, and
            ``targets`` gives only the channels.
    """
    options = dict(preset.model_config.options)
    name = preset.model_config.name
    in_channels, grid = input_shape[0], tuple(input_shape[1:])
    out_channels = targets.shape[1]
    periodic = preset.task in PERIODIC_TASKS
    if name == "fno":
        modes = tuple(options.pop("modes", ()))
        if preset.frames is None:
            return FNO(in_channels, out_channels, modes, key=key, **options)
        return RecurrentFNO(*preset.frames, modes, key=key, **options)
    if name == "fno3d":
        if preset.frames is None:
            raise ValueError(
                "model 'fno3d' maps input frames to output frames; the preset has no frames"
            )
        modes = tuple(options.pop("modes", ()))
        return SpaceTimeFNO(*preset.frames, modes, key=key, **options)
    if name == "deeponet":
        return DeepONet(in_channels, out_channels, grid, periodic=periodic, key=key, **options)
    if name == "pod-deeponet":
        n_basis = options.pop("n_basis", 64)
        if from_data:
            pod = PODBasis.fit(targets, n_basis)
        else:
            pod = PODBasis.empty(n_basis, out_channels, grid)
        return PODDeepONet(in_channels, pod, periodic=periodic, key=key, **options)
    if name == "mgno":
        return MgNO(in_channels, out_channels, grid, key=key, **options)
    if name == "unet":
        return UNet(in_channels, out_channels, grid, key=key, **options)
    raise ValueError(
        f"unknown model {name!r}; expected one of 'fno', 'fno3d', 'deeponet', "
        "'pod-deeponet', 'mgno', 'unet'"
    )


def _generator(task: str):
    if task == "darcy":
        from sciml.data.darcy import generate_darcy

        return generate_darcy
    if task == "burgers":
        from sciml.data.burgers import generate_burgers

        return generate_burgers
    if task == "navier-stokes":
        from sciml.data.navier_stokes import generate_navier_stokes

        return generate_navier_stokes
    raise ValueError(f"unknown task {task!r}; expected one of darcy, burgers, navier-stokes")


def _generate(preset: Preset, progress: bool):
    generate = _generator(preset.task)
    total = preset.data.n_train + preset.data.n_test
    bar = _progress_bar(total, f"generating {preset.task}", progress)
    try:
        return generate(preset.data, progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()


def training_arrays(preset: Preset, data: OperatorDataset) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` of one split as the preset's model sees them.

    Without ``preset.frames`` these are the stored inputs and outputs. With
    ``frames = (n_in, n_out)`` the stored outputs are trajectories ``(N, T, *grid)``
    (frames at t = 1, ..., T); the first ``n_in`` frames are the input and the next
    ``n_out`` the target, as in the FNO paper's Navier–Stokes experiments.
    """
    if preset.frames is None:
        return data.arrays()
    n_in, n_out = preset.frames
    trajectory = data.outputs
    if trajectory.shape[1] < n_in + n_out:
        raise ValueError(
            f"preset {preset.name!r} maps {n_in} frames to the next {n_out}, which needs "
            f"trajectories of at least {n_in + n_out} frames; the data have "
            f"{trajectory.shape[1]} (shape {trajectory.shape})"
        )
    return trajectory[:, :n_in], trajectory[:, n_in : n_in + n_out]


def _progress_bar(total, desc, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sample")


@eqx.filter_jit
def _errors(model, inputs, outputs):
    return jax.vmap(lambda a, u: relative_l2(model(a), u))(inputs, outputs)


def evaluate(model, inputs: np.ndarray, outputs: np.ndarray, batch_size: int = 50) -> np.ndarray:
    """Relative L2 error of every sample: ``(N,)``, in batches of ``batch_size``."""
    errors = []
    for start in range(0, len(inputs), batch_size):
        stop = start + batch_size
        errors.append(np.asarray(_errors(model, inputs[start:stop], outputs[start:stop])))
    return np.concatenate(errors)


def environment() -> dict[str, Any]:
    """Device, versions and git revision, for the record of a run."""
    versions: dict[str, str | None] = {}
    for package in ("sciml", "jax", "jaxlib", "equinox", "optax", "orbax-checkpoint"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        revision = None
    device = jax.devices()[0]
    return {
        "device": f"{device.platform}:{device.device_kind}",
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        "git_revision": revision,
    }


@dataclasses.dataclass(frozen=True)
class TrainedRun:
    """What :func:`train_preset` leaves: the record, the trained model (in physical
    units) and the test split as the model sees it."""

    record: dict[str, Any]
    model: eqx.Module
    test_inputs: np.ndarray
    test_outputs: np.ndarray


def run_preset(
    preset: Preset,
    out: str | os.PathLike,
    *,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    resume: bool = False,
) -> dict[str, Any]:
    """Generate or load the data, train, evaluate on the test split and write the record.

    The record of :func:`train_preset`; see there for the arguments.
    """
    return train_preset(preset, out, cache=cache, progress=progress, resume=resume).record


def train_preset(
    preset: Preset,
    out: str | os.PathLike,
    *,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    resume: bool = False,
) -> TrainedRun:
    """Generate or load the data, train, evaluate on the test split and write the record.

    Args:
        preset: what data, model and training.
        out: the run folder: ``results.json``, ``results.md``, ``prediction.png`` and
            ``checkpoint/`` are written there.
        cache: the data cache folder (default: ``$SCIML_CACHE`` or ``~/.cache/sciml``).
        progress: show progress bars.
        resume: continue the run checkpointed in ``out/checkpoint`` (same preset; more
            epochs may be asked for). Without it, a folder that already holds a run's
            checkpoints is refused rather than overwritten.

    Returns:
        The record written to ``results.json``, the trained model and the test split.
    """
    out = Path(out)
    checkpoint = out / "checkpoint"
    held = latest_epoch(checkpoint)
    if resume and held is None:
        raise FileNotFoundError(f"cannot resume: {checkpoint} holds no checkpoint")
    if not resume and held is not None:
        raise ValueError(
            f"{out} already holds a run (checkpoint of epoch {held}); resume it, or choose "
            "another output folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    splits, from_cache = load_or_generate(
        preset.task, preset.data.to_dict(), lambda: _generate(preset, progress), cache
    )
    data_s = time.perf_counter() - started
    train, test = splits["train"], splits["test"]
    n_generated = len(train) + len(test)
    train_arrays, test_arrays = training_arrays(preset, train), training_arrays(preset, test)

    key = jax.random.key(preset.train.seed)
    if preset.normalise == "gaussian":
        normalisers = (
            GaussianNormaliser.fit(train_arrays[0]),
            GaussianNormaliser.fit(train_arrays[1]),
        )
        targets = np.asarray(jax.vmap(normalisers[1].encode)(jnp.asarray(train_arrays[1])))
    else:
        normalisers, targets = None, train_arrays[1]
    network = build_model(preset, train_arrays[0].shape[1:], targets, key=key)
    model = network if normalisers is None else NormalisedOperator(network, *normalisers)
    train_started = time.perf_counter()
    model, history = fit(
        model,
        train_arrays,
        test_arrays,
        config=preset.train,
        checkpoint_dir=checkpoint,
        resume=checkpoint if resume else None,
        progress=progress,
        metadata=preset.to_dict(),
    )
    train_s = time.perf_counter() - train_started

    errors = evaluate(model, *test_arrays)
    worst = int(np.argmax(errors))
    median = int(np.argsort(errors)[len(errors) // 2])
    if is_primary():
        _plot_sample(
            out / "prediction.png",
            model,
            test_arrays[0][median],
            test_arrays[1][median],
            title=f"{preset.task} / {preset.model} / {preset.name}: median test sample, "
            f"relative L2 {errors[median]:.4f}",
        )
    epochs = len(history["train_loss"])
    epoch_times = np.asarray(history["epoch_time"])
    steady = epoch_times[1:] if len(epoch_times) > 1 else epoch_times
    steps_per_epoch = len(train) // preset.train.batch_size
    record = {
        **preset.to_dict(),
        "parameters": count_parameters(network),
        "test_relative_l2": float(np.mean(errors)),
        "test_relative_l2_worst": float(errors[worst]),
        "train_loss_final": float(history["train_loss"][-1]),
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
        "epochs": epochs,
        "data_seconds": data_s,
        "data_from_cache": from_cache,
        "data_samples_per_s": None if from_cache else n_generated / data_s,
        "train_seconds": train_s,
        "time_per_epoch_s": float(np.mean(steady)),
        "train_samples_per_s": steps_per_epoch * preset.train.batch_size / float(np.mean(steady)),
        "wall_seconds": time.perf_counter() - started,
        "resolution": list(train.grid_shape),
        "frames": list(preset.frames) if preset.frames is not None else None,
        "n_train": len(train),
        "n_test": len(test),
        **environment(),
    }
    if is_primary():  # in a multi-host run, one process writes the record
        write_json(out / "results.json", _jsonable(record))
        write_atomic(out / "results.md", results_table(record).encode())
    return TrainedRun(record, model, *test_arrays)


def _plot_sample(path, model, a: np.ndarray, truth: np.ndarray, *, title: str) -> None:
    """The prediction figure of one sample: 1-D curves, or 2-D maps of the last frame."""
    prediction = np.asarray(eqx.filter_jit(model)(jnp.asarray(a)))
    if a.ndim == 2:
        plot_prediction_1d(path, a[0], truth[0], prediction[0], title=title)
    else:
        # channels are frames for trajectories: the last input frame and the last target
        plot_prediction_2d(path, a[-1], truth[-1], prediction[-1], title=title)


def summary_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, value)`` rows summarising a run's record, the published number included."""
    reference = record.get("reference_l2")
    cached = " (from cache)" if record["data_from_cache"] else ""
    return [
        ("task / model / preset", f"{record['task']} / {record['model']} / {record['preset']}"),
        ("grid", " x ".join(str(n) for n in record["resolution"])),
        *(
            [("frames in -> out", " -> ".join(str(n) for n in record["frames"]))]
            if record.get("frames")
            else []
        ),
        ("train / test samples", f"{record['n_train']} / {record['n_test']}"),
        ("parameters", f"{record['parameters']:,}"),
        ("epochs", str(record["epochs"])),
        ("test relative L2", f"{record['test_relative_l2']:.4f}"),
        (
            "published",
            f"{reference:.4f} ({record['reference']})" if reference is not None else "-",
        ),
        ("data (s)", f"{record['data_seconds']:.1f}{cached}"),
        ("training (s)", f"{record['train_seconds']:.1f}"),
        ("training samples/s", f"{record['train_samples_per_s']:.1f}"),
        ("wall (s)", f"{record['wall_seconds']:.1f}"),
        ("device", record["device"]),
    ]


def results_table(record: dict[str, Any]) -> str:
    """A markdown table of one run, with the published number beside ours."""
    lines = ["| | |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in summary_rows(record)]
    return "\n".join(lines) + "\n"


def _jsonable(obj):
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.generic,)):
        return obj.item()
    return obj
