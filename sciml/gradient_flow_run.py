"""``sciml train allen-cahn|cahn-hilliard --model estable|fno``: one gradient-flow run.

Generates (or loads from the cache) the task's data, trains the model to map ``phi(t_0)``
to the frames up to ``t_1``, and judges it on the test split by: relative L2 over the
frames; the energy of its frames against the reference solver's; the modified energy
from block to block (EStableNet; its largest increase must be round-off); and a rollout
past the training horizon (the model applied again to its own last frame). Writes
``results.json``, ``results.md``, ``fields.png`` (input, truth, prediction, error of the
last frame) and ``energy.png`` (energy against time, and against block) into the run
folder, and the checkpoints into ``checkpoint/``.
"""

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from sciml._io import write_atomic, write_json
from sciml.data.cache import load_or_generate
from sciml.data.gradient_flow import GradientFlowConfig, generate_gradient_flow, make_flow
from sciml.experiment import environment, evaluate
from sciml.models import FNO, count_parameters
from sciml.models.estable import EStableNet
from sciml.plots import _figures, _save_png, plot_prediction_2d
from sciml.train import TrainConfig, fit

TASKS = ("allen-cahn", "cahn-hilliard")
MODELS = ("estable", "fno")
PRESETS = ("quick", "paper")


@dataclasses.dataclass(frozen=True)
class GradientFlowPreset:
    """One gradient-flow run: data, model (name and keywords) and training; JSON-ready."""

    task: str
    model: str
    name: str
    data: GradientFlowConfig
    model_options: dict[str, Any]
    train: TrainConfig
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "preset": self.name,
            "data": self.data.to_dict(),
            "model_options": dict(self.model_options),
            "train": self.train.to_dict(),
            "notes": self.notes,
        }


def _data(task: str, preset: str) -> GradientFlowConfig:
    size = {"quick": (128, 32), "paper": (1000, 100)}[preset]
    if task == "allen-cahn":
        # [0, 1]^2, eps = 0.02 on 64^2 (quick; eps / h = 1.28) or eps = 0.01 on 128^2;
        # phi(5) -> phi(7.5), ..., phi(15), then 4 frames more to t = 25.
        resolution, eps = (64, 0.02) if preset == "quick" else (128, 0.01)
        return GradientFlowConfig(
            "allen-cahn",
            resolution,
            1.0,
            eps,
            initial_amplitude=0.9,
            t_input=5.0,
            frame_interval=2.5,
            n_frames=4,
            n_extra_frames=4,
            dt=0.02,
            n_train=size[0],
            n_test=size[1],
        )
    # Spinodal decomposition on [0, 2 pi]^2, eps = 0.1, M = 1, from phi = 0.05 U(-1, 1):
    # 64^2 quick, 128^2 the benchmark; phi(0.3) -> phi(0.4), ..., phi(0.7), then to 1.1.
    return GradientFlowConfig(
        "cahn-hilliard",
        64 if preset == "quick" else 128,
        2 * np.pi,
        0.1,
        mobility=1.0,
        initial_amplitude=0.05,
        t_input=0.3,
        frame_interval=0.1,
        n_frames=4,
        n_extra_frames=4,
        dt=0.002 if preset == "quick" else 0.001,
        n_train=size[0],
        n_test=size[1],
    )


def get_gradient_flow_preset(task: str, model: str, preset: str) -> GradientFlowPreset:
    """The preset of ``task`` x ``model`` x ``preset``; unknown names raise ValueError."""
    for kind, value, known in (("task", task, TASKS), ("model", model, MODELS)):
        if value not in known:
            raise ValueError(f"unknown {kind} {value!r}; expected one of {', '.join(known)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    data = _data(task, preset)
    epochs = 40 if preset == "quick" else 200
    options: dict[str, Any]
    if model == "estable":
        options = {"blocks_per_frame": 2, "n_basis": 12}
        train = TrainConfig(
            epochs=epochs,
            batch_size=16,
            learning_rate=2e-2,
            weight_decay=0.0,
            schedule="onecycle",
            checkpoint_every=10,
            domain_length=data.length,
        )
        notes = "EStableNet: 2 SAV blocks per frame, 12 radial basis functions per block."
    else:
        options = {"modes": (8, 8), "width": 8, "n_layers": 2, "projection_channels": 16}
        train = TrainConfig(
            epochs=epochs,
            batch_size=16,
            learning_rate=5e-3,
            weight_decay=1e-4,
            schedule="onecycle",
            checkpoint_every=10,
            domain_length=data.length,
        )
        notes = "FNO-2D baseline: width 8, modes (8, 8), 2 layers; 1 frame in, n_frames out."
    return GradientFlowPreset(task, model, preset, data, options, train, notes)


def build_model(preset: GradientFlowPreset, *, key: PRNGKeyArray):
    """EStableNet or the FNO baseline for the preset's data."""
    data = preset.data
    if preset.model == "estable":
        options = dict(preset.model_options)
        blocks = options.pop("blocks_per_frame")
        return EStableNet(
            data.equation,
            data.n_frames,
            blocks,
            length=data.length,
            ndim=2,
            eps=data.eps,
            step=data.frame_interval / blocks,
            mobility=1.0 if data.equation == "allen-cahn" else data.mobility,
            max_wavenumber=np.pi * data.resolution / data.length,
            key=key,
            **options,
        )
    options = dict(preset.model_options)
    modes = tuple(options.pop("modes"))
    return FNO(1, data.n_frames, modes, key=key, **options)


def _apply_again(
    model, phi0: Float[Array, " 1 *grid"], n_applications: int
) -> Float[Array, " frames *grid"]:
    """Frames ``(n_applications * n_frames, *grid)``: the model fed its own last frame;
    EStableNet carries its auxiliary variable across."""
    if isinstance(model, EStableNet):
        frames, _ = model.rollout(phi0, n_applications)
        return frames
    outputs: list[Array] = []
    phi = phi0
    for _ in range(n_applications):
        out = model(phi)
        outputs.append(out)
        phi = out[-1:]
    return jnp.concatenate(outputs)


def _relative_l2(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame relative L2 of ``(N, F, *grid)`` arrays: ``(N, F)``."""
    axes = tuple(range(2, truth.ndim))
    return np.sqrt(np.sum((prediction - truth) ** 2, axis=axes) / np.sum(truth**2, axis=axes))


def run_gradient_flow(
    preset: GradientFlowPreset,
    out: str | os.PathLike,
    *,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate or load the data, train, judge and write the record; returns the record."""
    out = Path(out)
    if (out / "results.json").exists() or (out / "checkpoint").exists():
        raise ValueError(f"{out} already holds a run; choose another output folder")
    out.mkdir(parents=True, exist_ok=True)
    data = preset.data
    started = time.perf_counter()
    splits, from_cache = load_or_generate(
        preset.task, data.to_dict(), lambda: generate_gradient_flow(data), cache
    )
    data_s = time.perf_counter() - started
    train, test = splits["train"], splits["test"]
    n = data.n_frames
    train_arrays = (train.inputs, train.outputs[:, :n])
    test_arrays = (test.inputs, test.outputs[:, :n])

    model = build_model(preset, key=jax.random.key(preset.train.seed))
    train_started = time.perf_counter()
    model, history = fit(
        model,
        train_arrays,
        test_arrays,
        config=preset.train,
        checkpoint_dir=out / "checkpoint",
        progress=progress,
        metadata=preset.to_dict(),
    )
    train_s = time.perf_counter() - train_started

    errors = evaluate(model, *test_arrays)
    applications = max(1, -(-data.n_extra_frames // n))
    rolled = np.asarray(
        eqx.filter_jit(lambda m, x: jax.vmap(lambda a: _apply_again(m, a, 1 + applications))(x))(
            model, jnp.asarray(test.inputs)
        )
    )
    n_all = test.outputs.shape[1]
    frame_errors = _relative_l2(rolled[:, :n_all], test.outputs)

    flow = make_flow(data)
    energy_of = eqx.filter_jit(lambda f, x: jax.vmap(jax.vmap(f.energy))(x))
    reference_energy = np.asarray(energy_of(flow, jnp.asarray(test.outputs)))
    predicted_energy = np.asarray(energy_of(flow, jnp.asarray(rolled[:, :n_all])))
    input_energy = np.asarray(jax.vmap(flow.energy)(jnp.asarray(test.inputs[:, 0])))
    curve_reference = np.concatenate([input_energy[:, None], reference_energy], axis=1)
    curve_predicted = np.concatenate([input_energy[:, None], predicted_energy], axis=1)
    increases = np.diff(curve_predicted, axis=1)
    record_blocks = {}
    if isinstance(model, EStableNet):
        block_energy = np.asarray(
            eqx.filter_jit(lambda m, x: jax.vmap(lambda a: m.rollout(a, 1 + applications)[1])(x))(
                model, jnp.asarray(test.inputs)
            )
        )
        relative = np.diff(block_energy, axis=1) / np.abs(block_energy[:, :1])
        record_blocks = {
            "block_energy_mean": block_energy.mean(axis=0).tolist(),
            "largest_block_energy_increase_relative": float(relative.max()),
            "block_steps": np.asarray(model.steps).tolist(),
        }
    times = data.t_input + data.frame_interval * np.arange(n_all + 1)
    median = int(np.argsort(errors)[len(errors) // 2])
    _plot_fields(
        out / "fields.png",
        test.inputs[median, 0],
        test.outputs[median, n - 1],
        rolled[median, n - 1],
        preset,
        float(errors[median]),
    )
    _plot_energy(
        out / "energy.png", times, curve_reference, curve_predicted, record_blocks, preset, n
    )

    epoch_times = np.asarray(history["epoch_time"])
    record = {
        **preset.to_dict(),
        "parameters": count_parameters(model),
        "test_relative_l2": float(np.mean(errors)),
        "test_relative_l2_worst": float(np.max(errors)),
        "relative_l2_per_frame": frame_errors.mean(axis=0).tolist(),
        "relative_l2_in_horizon": float(frame_errors[:, :n].mean()),
        "relative_l2_past_horizon": float(frame_errors[:, n:].mean()) if n_all > n else None,
        "persistence_relative_l2": float(
            _relative_l2(np.repeat(test.inputs, n, axis=1), test_arrays[1]).mean()
        ),
        "frame_times": times.tolist(),
        "energy_reference_mean": curve_reference.mean(axis=0).tolist(),
        "energy_predicted_mean": curve_predicted.mean(axis=0).tolist(),
        "energy_curve_relative_error": float(
            np.mean(
                np.abs(curve_predicted[:, 1:] - curve_reference[:, 1:])
                / np.abs(curve_reference[:, 1:])
            )
        ),
        "frame_energy_increases": int(np.sum(increases > 0)),
        "frame_energy_steps": int(increases.size),
        **record_blocks,
        "train_loss_final": float(history["train_loss"][-1]),
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
        "epochs": len(history["train_loss"]),
        "data_seconds": data_s,
        "data_from_cache": from_cache,
        "train_seconds": train_s,
        "time_per_epoch_s": float(
            np.mean(epoch_times[1:] if len(epoch_times) > 1 else epoch_times)
        ),
        "wall_seconds": time.perf_counter() - started,
        "resolution": list(train.grid_shape),
        "n_train": len(train),
        "n_test": len(test),
        **environment(),
    }
    write_json(out / "results.json", record)
    write_atomic(out / "results.md", results_table(record).encode())
    return record


def summary_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, value)`` rows of a gradient-flow run."""
    past = record["relative_l2_past_horizon"]
    rows = [
        ("task / model / preset", f"{record['task']} / {record['model']} / {record['preset']}"),
        ("grid", " x ".join(str(v) for v in record["resolution"])),
        ("train / test samples", f"{record['n_train']} / {record['n_test']}"),
        ("parameters", f"{record['parameters']:,}"),
        ("epochs", str(record["epochs"])),
        ("test relative L2 (frames to t1)", f"{record['test_relative_l2']:.4f}"),
        ("persistence baseline L2", f"{record['persistence_relative_l2']:.4f}"),
        ("relative L2 past the horizon", "-" if past is None else f"{past:.4f}"),
        ("energy curve relative error", f"{record['energy_curve_relative_error']:.4f}"),
        (
            "frame-to-frame energy increases",
            f"{record['frame_energy_increases']} of {record['frame_energy_steps']}",
        ),
    ]
    if "largest_block_energy_increase_relative" in record:
        rows.append(
            (
                "largest block energy increase",
                f"{record['largest_block_energy_increase_relative']:.2e}",
            )
        )
    rows += [
        (
            "data (s)",
            f"{record['data_seconds']:.1f}" + (" (cache)" if record["data_from_cache"] else ""),
        ),
        ("training (s)", f"{record['train_seconds']:.1f}"),
        ("wall (s)", f"{record['wall_seconds']:.1f}"),
        ("device", record["device"]),
    ]
    return rows


def results_table(record: dict[str, Any]) -> str:
    lines = ["| | |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in summary_rows(record)]
    return "\n".join(lines) + "\n"


def _plot_fields(path, phi0, truth, prediction, preset, error):
    plot_prediction_2d(
        path,
        phi0,
        truth,
        prediction,
        title=f"{preset.task} / {preset.model}: input phi(t0), truth, prediction and error at "
        f"t1 (median test sample, relative L2 {error:.4f})",
    )


def _plot_energy(path, times, reference, predicted, blocks, preset, n_frames):
    """Energy against time (reference and model frames, mean over the test split) and, for
    EStableNet, the modified energy against block."""
    plt = _figures()
    panels = 2 if blocks else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), constrained_layout=True)
    axes = np.atleast_1d(axes)
    ax = axes[0]
    ax.plot(times, reference.mean(axis=0), "k-o", label="reference solver")
    ax.plot(times, predicted.mean(axis=0), "--s", label=f"{preset.model} (frames)")
    ax.axvline(times[n_frames], color="0.6", lw=1, ls=":", label="training horizon t1")
    ax.set_xlabel("t")
    ax.set_ylabel("energy E_h (mean over test samples)")
    ax.legend()
    if blocks:
        energy = np.asarray(blocks["block_energy_mean"])
        axes[1].plot(np.arange(len(energy)), energy, "-o", ms=3)
        axes[1].set_xlabel("block")
        axes[1].set_ylabel("modified SAV energy (mean)")
        axes[1].set_title(
            f"largest increase {blocks['largest_block_energy_increase_relative']:.1e} (relative)"
        )
    _save_png(fig, path, f"{preset.task} / {preset.model} / {preset.name}: energy")
