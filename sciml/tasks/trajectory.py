"""Learning dynamics: Burgers trajectories ``u(., 0)`` -> ``u(., Delta), ..., u(., T)``.

The models (neural ODEs, a continuous-depth operator, an autoregressive FNO) are
trained on the frames to ``T = n_frames Delta`` and judged against the solver's
trajectories to ``2 T``: relative L2 at every snapshot, to the training horizon and
past it, and at the half-way times ``(k + 1/2) Delta`` between the training frames
(a neural ODE evaluates its flow there; a model with whole steps only is given the
linear interpolation of its two neighbouring frames). Writes ``error.png`` (error
against time) and ``trajectory.png`` (space-time truth, prediction and error of the
median test sample).

References:
    R. T. Q. Chen et al., "Neural Ordinary Differential Equations", NeurIPS 2018.
    Z. Chen, J. He and X.-C. Tai, "Neural flow operators can approximate any operator",
    2025.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from sciml.data.trajectories import BurgersTrajectoryConfig, generate_burgers_trajectories
from sciml.models import NeuralFlowOperator, NeuralODEOperator
from sciml.plots import save_png, subplots
from sciml.tasks import Rows, Task, format_value, median_index, register_task
from sciml.train.metrics import relative_l2_per_frame


def frames_to_horizon(experiment, split) -> tuple[np.ndarray, np.ndarray]:
    """``(u0, frames at Delta, 2 Delta, ..., T)``; the snapshots hold half-way times too."""
    return split.inputs, split.outputs[:, 1 : 2 * experiment.data.n_frames : 2]


def predict_snapshots(
    model, u0: Float[Array, "1 s"], data: BurgersTrajectoryConfig
) -> Float[Array, "K s"]:
    """The model's ``u`` at ``data.snapshot_times`` from one ``u0: (1, s)``: ``(K, s)``.

    A neural ODE evaluates its flow at every snapshot time; a model with whole steps
    (``model.step``: one frame interval) steps ``n_frames + n_extra_frames`` frames and
    fills the half-way times by linear interpolation of neighbouring frames.
    """
    if isinstance(model, NeuralFlowOperator | NeuralODEOperator):
        return model.trajectory(u0, data.snapshot_times)[:, 0]
    steps = data.n_frames + data.n_extra_frames

    def advance(frame, _):
        new = model.step(frame)
        return new, new[0]

    _, frames = jax.lax.scan(advance, u0, None, length=steps)
    midpoints = 0.5 * (jnp.concatenate([u0, frames[:-1]]) + frames)
    return jnp.stack([midpoints, frames], axis=1).reshape(2 * steps, -1)


def _predict_all(model, inputs: np.ndarray, data, batch_size: int = 32) -> np.ndarray:
    predict = eqx.filter_jit(lambda m, x: jax.vmap(lambda a: predict_snapshots(m, a, data))(x))
    parts = [
        np.asarray(predict(model, jnp.asarray(inputs[i : i + batch_size])))
        for i in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(parts)


def judge_trajectory(experiment, model, test, arrays, out: Path) -> dict[str, Any]:
    """Errors per snapshot, in and past the horizon, at the frames and half-way between."""
    data: BurgersTrajectoryConfig = experiment.data
    predicted = _predict_all(model, test.inputs, data)
    errors = relative_l2_per_frame(predicted, test.outputs)
    times = data.snapshot_times
    whole = np.zeros(len(times), bool)
    whole[1::2] = True
    inside = times <= data.horizon * (1 + 1e-9)

    def mean(mask):
        return float(errors[:, mask].mean()) if mask.any() else None

    judged = {
        "test_relative_l2": mean(whole & inside),
        "snapshot_times": times.tolist(),
        "relative_l2_per_snapshot": errors.mean(axis=0).tolist(),
        "relative_l2_frames_to_T": mean(whole & inside),
        "relative_l2_frames_T_to_2T": mean(whole & ~inside),
        "relative_l2_at_T": float(errors[:, whole & inside][:, -1].mean()),
        "relative_l2_at_end": float(errors[:, -1].mean()),
        "relative_l2_halfway_to_T": mean(~whole & inside),
        "relative_l2_halfway_T_to_2T": mean(~whole & ~inside),
        "halfway_method": (
            "flow evaluated at the time"
            if isinstance(model, NeuralFlowOperator | NeuralODEOperator)
            else "linear interpolation of neighbouring frames"
        ),
        "persistence_relative_l2_frames_to_T": float(
            relative_l2_per_frame(np.repeat(test.inputs, len(times), axis=1), test.outputs)[
                :, whole & inside
            ].mean()
        ),
        "horizon": data.horizon,
    }
    median = median_index(errors.mean(axis=1))
    title = f"{experiment.task} / {experiment.model} / {experiment.preset}"
    _plot_errors(out / "error.png", judged, data, f"{title}: error against time")
    _plot_trajectory(
        out / "trajectory.png",
        test.inputs[median, 0],
        test.outputs[median],
        predicted[median],
        data,
        experiment.model,
        f"{title}: median test sample",
    )
    return judged


def trajectory_rows(record: dict[str, Any]) -> Rows:
    horizon, end = record["horizon"], record["snapshot_times"][-1]
    return [
        (
            f"relative L2, frames to T = {horizon:g}",
            format_value(record["relative_l2_frames_to_T"]),
        ),
        (
            f"relative L2, frames T to t = {end:g}",
            format_value(record["relative_l2_frames_T_to_2T"]),
        ),
        (f"relative L2 at t = {end:g}", format_value(record["relative_l2_at_end"])),
        ("relative L2, half-way times to T", format_value(record["relative_l2_halfway_to_T"])),
        (
            f"relative L2, half-way times T to t = {end:g}",
            format_value(record["relative_l2_halfway_T_to_2T"]),
        ),
        ("half-way values from", record["halfway_method"]),
        (
            "persistence baseline (u0), frames to T",
            format_value(record["persistence_relative_l2_frames_to_T"]),
        ),
    ]


def _plot_errors(path, judged, data, title) -> None:
    """Mean relative L2 against time: training frames, half-way times, the horizon."""
    times = np.asarray(judged["snapshot_times"])
    errors = np.asarray(judged["relative_l2_per_snapshot"])
    fig, ax = subplots(figsize=(7, 4), constrained_layout=True)
    ax.plot(times[1::2], errors[1::2], "-o", label="frames (multiples of the interval)")
    ax.plot(times[0::2], errors[0::2], "s", mfc="none", label="half-way times")
    ax.axvline(data.horizon, color="0.6", ls=":", label="training horizon T")
    ax.set_xlabel("t")
    ax.set_ylabel("relative L2 (mean over test samples)")
    ax.set_yscale("log")
    ax.legend()
    save_png(fig, path, title)


def _plot_trajectory(path, u0, truth, prediction, data, model_name, title) -> None:
    """Space-time images ``u(x, t)``: truth, prediction and their difference."""
    times = np.concatenate([[0.0], data.snapshot_times])
    truth = np.concatenate([u0[None], truth])
    prediction = np.concatenate([u0[None], prediction])
    fig, axes = subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    limit = float(np.abs(truth).max())
    panels = ((truth, "solver"), (prediction, model_name), (prediction - truth, "difference"))
    for ax, (field, name) in zip(axes, panels):
        image = ax.imshow(
            field,
            origin="lower",
            aspect="auto",
            extent=(0.0, data.length, times[0], times[-1]),
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
        )
        ax.axhline(data.horizon, color="k", lw=0.8, ls=":")
        ax.set_xlabel("x")
        ax.set_title(name)
        fig.colorbar(image, ax=ax)
    axes[0].set_ylabel("t (dotted: training horizon)")
    save_png(fig, path, title)


@register_task("burgers-trajectory")
def burgers_trajectory() -> Task:
    """Burgers trajectories to twice the training horizon."""
    return Task(
        "burgers-trajectory",
        BurgersTrajectoryConfig,
        generate_burgers_trajectories,
        True,
        judge=judge_trajectory,
        summary=trajectory_rows,
        arrays=frames_to_horizon,
        grid=lambda data: (data.resolution,),
        suite=("neural-ode", "neural-ode-latent", "fno-ar"),
        any_model=False,  # judged past T by stepping: a neural ODE or a model.step
        figures=("error.png", "trajectory.png"),
    )
