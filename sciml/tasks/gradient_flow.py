"""Gradient flows: Allen–Cahn and Cahn–Hilliard, ``phi(t_0)`` -> the frames up to ``t_1``.

A model is judged on the test split by the relative L2 error over the frames; the
energy of its frames against the reference solver's; the modified energy from block
to block (EStableNet: its largest increase must be round-off); and a rollout past the
training horizon (the model applied again to its own last frame). It writes
``fields.png`` (input, truth, prediction, error of the last frame) and ``energy.png``
(energy against time, and against block).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from sciml.data.gradient_flow import GradientFlowConfig, generate_gradient_flow, make_flow
from sciml.models.estable import EStableNet
from sciml.plots import plot_prediction_2d, save_png, subplots
from sciml.tasks import Rows, Task, format_value, median_index, register_task
from sciml.train.metrics import evaluate, relative_l2_per_frame


def frames_to_horizon(experiment, split) -> tuple[np.ndarray, np.ndarray]:
    """``(phi(t_0), frames up to t_1)``: the extra frames are for judging only."""
    return split.inputs, split.outputs[:, : experiment.data.n_frames]


def apply_again(
    model, phi0: Float[Array, " 1 *grid"], n_applications: int
) -> Float[Array, " frames *grid"]:
    """Frames ``(n_applications * n_frames, *grid)``: the model fed its own last frame;
    EStableNet carries its auxiliary variable across."""
    if isinstance(model, EStableNet):
        return model.rollout(phi0, n_applications)[0]
    outputs: list[Array] = []
    phi = phi0
    for _ in range(n_applications):
        outputs.append(model(phi))
        phi = outputs[-1][-1:]
    return jnp.concatenate(outputs)


def judge_gradient_flow(experiment, model, test, arrays, out: Path) -> dict[str, Any]:
    """Errors to and past the horizon, energy curves, block energies; two figures."""
    data: GradientFlowConfig = experiment.data
    n = data.n_frames
    errors = evaluate(model, *arrays)
    applications = 1 + max(1, -(-data.n_extra_frames // n))
    inputs = jnp.asarray(test.inputs)
    rolled = np.asarray(
        eqx.filter_jit(lambda m, x: jax.vmap(lambda a: apply_again(m, a, applications))(x))(
            model, inputs
        )
    )
    n_all = test.outputs.shape[1]
    rolled = rolled[:, :n_all]
    frame_errors = relative_l2_per_frame(rolled, test.outputs)

    flow = make_flow(data)
    energy_of = eqx.filter_jit(lambda f, x: jax.vmap(jax.vmap(f.energy))(x))
    start = np.asarray(jax.vmap(flow.energy)(inputs[:, 0]))[:, None]
    reference = np.concatenate([start, np.asarray(energy_of(flow, jnp.asarray(test.outputs)))], 1)
    predicted = np.concatenate([start, np.asarray(energy_of(flow, jnp.asarray(rolled)))], 1)
    increases = np.diff(predicted, axis=1)
    blocks: dict[str, Any] = {}
    if isinstance(model, EStableNet):
        block_energy = np.asarray(
            eqx.filter_jit(lambda m, x: jax.vmap(lambda a: m.rollout(a, applications)[1])(x))(
                model, inputs
            )
        )
        relative = np.diff(block_energy, axis=1) / np.abs(block_energy[:, :1])
        blocks = {
            "block_energy_mean": block_energy.mean(axis=0).tolist(),
            "largest_block_energy_increase_relative": float(relative.max()),
            "block_steps": np.asarray(model.steps).tolist(),
        }
    times = data.t_input + data.frame_interval * np.arange(n_all + 1)
    median = median_index(errors)
    plot_prediction_2d(
        out / "fields.png",
        test.inputs[median, 0],
        test.outputs[median, n - 1],
        rolled[median, n - 1],
        title=f"{experiment.task} / {experiment.model}: input phi(t0), truth, prediction and "
        f"error at t1 (median test sample, relative L2 {errors[median]:.4f})",
    )
    _plot_energy(out / "energy.png", times, reference, predicted, blocks, experiment)
    persistence = relative_l2_per_frame(np.repeat(test.inputs, n, axis=1), arrays[1])
    return {
        "test_relative_l2": float(np.mean(errors)),
        "test_relative_l2_worst": float(np.max(errors)),
        "relative_l2_per_frame": frame_errors.mean(axis=0).tolist(),
        "relative_l2_in_horizon": float(frame_errors[:, :n].mean()),
        "relative_l2_past_horizon": float(frame_errors[:, n:].mean()) if n_all > n else None,
        "persistence_relative_l2": float(persistence.mean()),
        "frame_times": times.tolist(),
        "energy_reference_mean": reference.mean(axis=0).tolist(),
        "energy_predicted_mean": predicted.mean(axis=0).tolist(),
        "energy_curve_relative_error": float(
            np.mean(np.abs(predicted[:, 1:] - reference[:, 1:]) / np.abs(reference[:, 1:]))
        ),
        "frame_energy_increases": int(np.sum(increases > 0)),
        "frame_energy_steps": int(increases.size),
        **blocks,
    }


def gradient_flow_rows(record: dict[str, Any]) -> Rows:
    rows = [
        ("test relative L2 (frames to t1)", f"{record['test_relative_l2']:.4f}"),
        ("persistence baseline L2", f"{record['persistence_relative_l2']:.4f}"),
        ("relative L2 past the horizon", format_value(record["relative_l2_past_horizon"])),
        ("energy curve relative error", f"{record['energy_curve_relative_error']:.4f}"),
        (
            "frame-to-frame energy increases",
            f"{record['frame_energy_increases']} of {record['frame_energy_steps']}",
        ),
    ]
    if "largest_block_energy_increase_relative" in record:
        increase = record["largest_block_energy_increase_relative"]
        rows.append(("largest block energy increase", f"{increase:.2e}"))
    return rows


def _plot_energy(path, times, reference, predicted, blocks, experiment) -> None:
    """Energy against time (reference and model frames, mean over the test split) and, for
    EStableNet, the modified energy against block."""
    fig, axes = subplots(1, 1 + bool(blocks), figsize=(6 + 6 * bool(blocks), 4))
    axes = np.atleast_1d(axes)
    axes[0].plot(times, reference.mean(axis=0), "k-o", label="reference solver")
    axes[0].plot(times, predicted.mean(axis=0), "--s", label=f"{experiment.model} (frames)")
    horizon = times[experiment.data.n_frames]
    axes[0].axvline(horizon, color="0.6", lw=1, ls=":", label="training horizon t1")
    axes[0].set_xlabel("t")
    axes[0].set_ylabel("energy E_h (mean over test samples)")
    axes[0].legend()
    if blocks:
        energy = np.asarray(blocks["block_energy_mean"])
        axes[1].plot(np.arange(len(energy)), energy, "-o", ms=3)
        axes[1].set_xlabel("block")
        axes[1].set_ylabel("modified SAV energy (mean)")
        increase = blocks["largest_block_energy_increase_relative"]
        axes[1].set_title(f"largest increase {increase:.1e} (relative)")
    fig.tight_layout()
    save_png(fig, path, f"{experiment.task} / {experiment.model} / {experiment.preset}: energy")


def _gradient_flow_task(name: str) -> Task:
    return Task(
        name,
        GradientFlowConfig,
        generate_gradient_flow,
        True,
        judge=judge_gradient_flow,
        summary=gradient_flow_rows,
        arrays=frames_to_horizon,
        grid=lambda data: (data.resolution,) * 2,
        suite=("estable", "fno"),
        figures=("fields.png", "energy.png"),
    )


@register_task("allen-cahn")
def allen_cahn() -> Task:
    """The L2 gradient flow ``phi_t = -mu`` of the Ginzburg–Landau energy."""
    return _gradient_flow_task("allen-cahn")


@register_task("cahn-hilliard")
def cahn_hilliard() -> Task:
    """The H^-1 gradient flow ``phi_t = M Laplacian mu`` (mass conserved)."""
    return _gradient_flow_task("cahn-hilliard")
