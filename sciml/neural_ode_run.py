"""``sciml train burgers-trajectory --model neural-ode|fno-ar``: learning dynamics.

Both models are trained on the same Burgers trajectories, ``u(., 0) -> u(., Delta), ...,
u(., T)`` (``T = n_frames Delta``), by the same loss (relative L2 over the frames):

* ``neural-ode``: a continuous-depth neural operator
  (:class:`~sciml.models.neural_ode.NeuralFlowOperator`): lift ``u0``, let the lifted
  function flow under one Fourier layer in physical time, project at the frame times;
* ``fno-ar``: an autoregressive FNO (:class:`~sciml.models.RecurrentFNO` with one frame
  in): one FNO step maps ``u(t)`` to ``u(t + Delta)`` and is applied to its own output,
  trained through the rollout to ``T``.

Then both are judged on the test split, against the solver's trajectories to ``2 T``:
relative L2 at every snapshot, up to the training horizon and past it, and at the
half-way times ``(k + 1/2) Delta`` between the training frames (the neural ODE
evaluates its flow there; the autoregressive FNO only has whole steps, so its value
there is the linear interpolation of its two neighbouring frames). Writes
``results.json``, ``results.md``, ``error.png`` (error against time) and
``trajectory.png`` (space-time truth, prediction and error of the median test sample)
into the run folder, and the checkpoints into ``checkpoint/``.

References:
    R. T. Q. Chen et al., "Neural Ordinary Differential Equations", NeurIPS 2018.
    Z. Chen, J. He and X.-C. Tai, "Neural flow operators can approximate any operator",
    2025.
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from sciml._io import write_atomic, write_json
from sciml.data.cache import load_or_generate
from sciml.data.trajectories import BurgersTrajectoryConfig, generate_burgers_trajectories
from sciml.experiment import environment
from sciml.models import FNO, RecurrentFNO, count_parameters
from sciml.models.neural_ode import (
    NeuralFlowOperator,
    NeuralODEOperator,
    OperatorVectorField,
    fourier_vector_field,
    make_adjoint,
    make_solver,
)
from sciml.plots import _figures, _save_png
from sciml.train import TrainConfig, fit

TASKS = ("burgers-trajectory",)
MODELS = ("neural-ode", "neural-ode-latent", "fno-ar")
PRESETS = ("quick", "paper")


@dataclasses.dataclass(frozen=True)
class TrajectoryPreset:
    """One trajectory run: data, model (name and keywords) and training; JSON-ready."""

    task: str
    model: str
    name: str
    data: BurgersTrajectoryConfig
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


def _data(preset: str) -> BurgersTrajectoryConfig:
    # nu = 0.02 on [0, 1): the fronts steepen (|u_x| up to ~8) but stay resolved on 64
    # points; the norm falls from ~0.64 at t = 0 to ~0.07 at t = 2. Frames every 0.1 to
    # T = 1, solver snapshots to 2 T.
    if preset == "quick":
        return BurgersTrajectoryConfig(
            fine_resolution=512, subsample=8, nu=0.02, n_train=128, n_test=32
        )
    return BurgersTrajectoryConfig(
        fine_resolution=2048, subsample=16, nu=0.02, dt=1 / 2000, n_train=1000, n_test=200
    )


def get_trajectory_preset(task: str, model: str, preset: str) -> TrajectoryPreset:
    """The preset of ``task`` x ``model`` x ``preset``; unknown names raise ValueError."""
    for kind, value, known in (("task", task, TASKS), ("model", model, MODELS)):
        if value not in known:
            raise ValueError(f"unknown {kind} {value!r}; expected one of {', '.join(known)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    data = _data(preset)
    quick = preset == "quick"
    train = TrainConfig(
        epochs=100 if quick else 300,
        batch_size=16 if quick else 20,
        learning_rate=5e-3 if quick else 1e-3,
        weight_decay=1e-4,
        schedule="onecycle",
        checkpoint_every=20,
        domain_length=data.length,
    )
    modes = (16,)
    if model == "neural-ode":
        options = {
            "width": 16 if quick else 32,
            "modes": modes,
            "n_layers": 1,
            "projection_channels": 32 if quick else 64,
            "solver": "tsit5",
            "dt0": data.frame_interval,
            "adjoint": "recursive-checkpoint",
        }
        notes = (
            "State-space neural ODE du/dt = G(u), G a one-layer FNO (lift, Fourier layer, "
            "project); Tsit5 with a fixed step of one frame interval; trained on the frames to T."
        )
    elif model == "neural-ode-latent":
        options = {
            "width": 16 if quick else 32,
            "modes": modes,
            "projection_channels": 32 if quick else 64,
            "solver": "tsit5",
            "dt0": data.frame_interval,
            "adjoint": "recursive-checkpoint",
        }
        notes = (
            "Continuous-depth FNO in latent space: lift, flow of one Fourier layer "
            "dv/dt = gelu(K v + W v + b) in physical time (Tsit5, fixed step of one frame "
            "interval), project; trained on the frames to T."
        )
    else:
        options = {
            "width": 16 if quick else 32,
            "modes": modes,
            "n_layers": 4,
            "projection_channels": 32 if quick else 64,
        }
        notes = (
            "Autoregressive FNO: one FNO step per frame interval, fed its own output, trained "
            "through the rollout to T."
        )
    return TrajectoryPreset(task, model, preset, data, options, train, notes)


def build_model(preset: TrajectoryPreset, *, key: PRNGKeyArray):
    """The neural flow operator or the autoregressive FNO for the preset's data."""
    data, options = preset.data, dict(preset.model_options)
    frame_times = data.frame_interval * np.arange(1, data.n_frames + 1)
    modes = tuple(options.pop("modes"))
    width = options.pop("width")
    if preset.model == "fno-ar":
        return RecurrentFNO(1, data.n_frames, modes, width, key=key, **options)
    field_key, key = jax.random.split(key)
    solve = {
        "solver": make_solver(options.pop("solver")),
        "adjoint": make_adjoint(options.pop("adjoint")),
        "dt0": options.pop("dt0", None),
    }
    rtol, atol = options.pop("rtol", None), options.pop("atol", None)
    solve["stepsize_controller"] = (
        diffrax.ConstantStepSize() if rtol is None else diffrax.PIDController(rtol=rtol, atol=atol)
    )
    times = tuple(frame_times)
    if preset.model == "neural-ode":
        operator_field = OperatorVectorField(FNO(1, 1, modes, width, key=field_key, **options))
        return NeuralODEOperator(operator_field, times=times, **solve)
    layer_field = fourier_vector_field(width, modes, key=field_key)
    return NeuralFlowOperator(1, 1, layer_field, times=times, key=key, **solve, **options)


def predict_snapshots(
    model, u0: Float[Array, "1 s"], data: BurgersTrajectoryConfig
) -> Float[Array, "K s"]:
    """The model's ``u`` at ``data.snapshot_times`` from one ``u0: (1, s)``: ``(K, s)``.

    The neural flow operator evaluates its flow at every snapshot time; the
    autoregressive FNO steps ``n_frames + n_extra_frames`` whole frames and fills the
    half-way times by linear interpolation of neighbouring frames.
    """
    if isinstance(model, NeuralFlowOperator | NeuralODEOperator):
        return model.trajectory(u0, data.snapshot_times)[:, 0]
    steps = data.n_frames + data.n_extra_frames

    def advance(frame, _):
        new = model.step(frame)
        return new, new[0]

    _, frames = jax.lax.scan(advance, u0, None, length=steps)
    previous = jnp.concatenate([u0, frames[:-1]])
    midpoints = 0.5 * (previous + frames)
    return jnp.stack([midpoints, frames], axis=1).reshape(2 * steps, -1)


def _relative_l2(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-snapshot relative L2 of ``(N, K, s)`` arrays: ``(N, K)``."""
    return np.sqrt(np.sum((prediction - truth) ** 2, axis=-1) / np.sum(truth**2, axis=-1))


def _predict_all(model, inputs: np.ndarray, data, batch_size: int = 32) -> np.ndarray:
    predict = eqx.filter_jit(lambda m, x: jax.vmap(lambda a: predict_snapshots(m, a, data))(x))
    parts = [
        np.asarray(predict(model, jnp.asarray(inputs[i : i + batch_size])))
        for i in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(parts)


def judge(model, test, data: BurgersTrajectoryConfig) -> dict[str, Any]:
    """Errors of ``model`` on the test split: per snapshot, in and past the horizon, at
    the training frames and half-way between them."""
    predicted = _predict_all(model, test.inputs, data)
    errors = _relative_l2(predicted, test.outputs)
    times = data.snapshot_times
    horizon = data.horizon * (1 + 1e-9)
    whole = np.zeros(len(times), bool)
    whole[1::2] = True
    inside = times <= horizon

    def mean(mask):
        return float(errors[:, mask].mean()) if mask.any() else None

    return {
        "predicted": predicted,
        "errors": errors,
        "snapshot_times": times.tolist(),
        "relative_l2_per_snapshot": errors.mean(axis=0).tolist(),
        "relative_l2_frames_to_T": mean(whole & inside),
        "relative_l2_frames_T_to_2T": mean(whole & ~inside),
        "relative_l2_at_T": float(errors[:, whole & inside][:, -1].mean()),
        "relative_l2_at_end": float(errors[:, -1].mean()),
        "relative_l2_halfway_to_T": mean(~whole & inside),
        "relative_l2_halfway_T_to_2T": mean(~whole & ~inside),
    }


def run_trajectory(
    preset: TrajectoryPreset,
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
        preset.task, data.to_dict(), lambda: generate_burgers_trajectories(data), cache
    )
    data_s = time.perf_counter() - started
    train, test = splits["train"], splits["test"]
    frames = slice(1, 2 * data.n_frames, 2)  # t = Delta, 2 Delta, ..., T
    train_arrays = (train.inputs, train.outputs[:, frames])
    test_arrays = (test.inputs, test.outputs[:, frames])

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

    judge_started = time.perf_counter()
    judged = judge(model, test, data)
    judge_s = time.perf_counter() - judge_started
    predicted, errors = judged.pop("predicted"), judged.pop("errors")
    median = int(np.argsort(errors.mean(axis=1))[len(errors) // 2])
    _plot_errors(out / "error.png", judged, data, preset)
    _plot_trajectory(
        out / "trajectory.png",
        test.inputs[median, 0],
        test.outputs[median],
        predicted[median],
        data,
        preset,
    )
    persistence = _relative_l2(np.repeat(test.inputs, test.outputs.shape[1], axis=1), test.outputs)
    epoch_times = np.asarray(history["epoch_time"])
    record = {
        **preset.to_dict(),
        "parameters": count_parameters(model),
        **judged,
        "halfway_method": (
            "flow evaluated at the time"
            if preset.model != "fno-ar"
            else "linear interpolation of neighbouring frames"
        ),
        "persistence_relative_l2_frames_to_T": float(persistence[:, frames].mean()),
        "horizon": data.horizon,
        "train_loss_final": float(history["train_loss"][-1]),
        "test_relative_l2_final": float(history["test_l2"][-1]),
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
        "epochs": len(history["train_loss"]),
        "data_seconds": data_s,
        "data_from_cache": from_cache,
        "train_seconds": train_s,
        "judge_seconds": judge_s,
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


def _format(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def summary_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, value)`` rows of a trajectory run."""
    horizon = record["horizon"]
    end = record["snapshot_times"][-1]
    return [
        ("task / model / preset", f"{record['task']} / {record['model']} / {record['preset']}"),
        ("grid", " x ".join(str(v) for v in record["resolution"])),
        ("train / test samples", f"{record['n_train']} / {record['n_test']}"),
        ("parameters", f"{record['parameters']:,}"),
        ("epochs", str(record["epochs"])),
        (f"relative L2, frames to T = {horizon:g}", _format(record["relative_l2_frames_to_T"])),
        (
            f"relative L2, frames T to t = {end:g}",
            _format(record["relative_l2_frames_T_to_2T"]),
        ),
        (f"relative L2 at t = {end:g}", _format(record["relative_l2_at_end"])),
        ("relative L2, half-way times to T", _format(record["relative_l2_halfway_to_T"])),
        (
            f"relative L2, half-way times T to t = {end:g}",
            _format(record["relative_l2_halfway_T_to_2T"]),
        ),
        ("half-way values from", record["halfway_method"]),
        (
            "persistence baseline (u0), frames to T",
            _format(record["persistence_relative_l2_frames_to_T"]),
        ),
        (
            "data (s)",
            f"{record['data_seconds']:.1f}" + (" (cache)" if record["data_from_cache"] else ""),
        ),
        ("training (s)", f"{record['train_seconds']:.1f}"),
        ("wall (s)", f"{record['wall_seconds']:.1f}"),
        ("device", record["device"]),
    ]


def results_table(record: dict[str, Any]) -> str:
    lines = ["| | |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in summary_rows(record)]
    return "\n".join(lines) + "\n"


def _plot_errors(path, judged, data, preset):
    """Mean relative L2 against time: training frames, half-way times, the horizon."""
    plt = _figures()
    times = np.asarray(judged["snapshot_times"])
    errors = np.asarray(judged["relative_l2_per_snapshot"])
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    ax.plot(times[1::2], errors[1::2], "-o", label="frames (multiples of the interval)")
    ax.plot(times[0::2], errors[0::2], "s", mfc="none", label="half-way times")
    ax.axvline(data.horizon, color="0.6", ls=":", label="training horizon T")
    ax.set_xlabel("t")
    ax.set_ylabel("relative L2 (mean over test samples)")
    ax.set_yscale("log")
    ax.legend()
    _save_png(fig, path, f"{preset.task} / {preset.model} / {preset.name}: error against time")


def _plot_trajectory(path, u0, truth, prediction, data, preset):
    """Space-time images ``u(x, t)``: truth, prediction and their difference."""
    plt = _figures()
    times = np.concatenate([[0.0], data.snapshot_times])
    truth = np.concatenate([u0[None], truth])
    prediction = np.concatenate([u0[None], prediction])
    extent = (0.0, data.length, times[0], times[-1])
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    limit = float(np.abs(truth).max())
    for ax, field, title in (
        (axes[0], truth, "solver"),
        (axes[1], prediction, preset.model),
        (axes[2], prediction - truth, "difference"),
    ):
        image = ax.imshow(
            field,
            origin="lower",
            aspect="auto",
            extent=extent,
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
        )
        ax.axhline(data.horizon, color="k", lw=0.8, ls=":")
        ax.set_xlabel("x")
        ax.set_title(title)
        fig.colorbar(image, ax=ax)
    axes[0].set_ylabel("t (dotted: training horizon)")
    _save_png(fig, path, f"{preset.task} / {preset.model}: median test sample")
