"""The operator-learning benchmarks of the FNO paper: Darcy, Burgers, Navier–Stokes.

A model maps an input field (or the first frames of a trajectory) to an output field
(or the next frames), and is judged by the mean relative L2 error over the test split
and a figure of the median test sample; Darcy and Navier–Stokes also have finer test
grids for zero-shot super-resolution (Li et al., ICLR 2021, section 5.4).

References:
    Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from sciml.data.burgers import BurgersConfig, generate_burgers
from sciml.data.darcy import DarcyConfig, generate_darcy, generate_darcy_test
from sciml.data.navier_stokes import (
    NavierStokesConfig,
    generate_navier_stokes,
    generate_navier_stokes_test,
)
from sciml.distributed import is_primary
from sciml.plots import plot_prediction_1d, plot_prediction_2d
from sciml.tasks import Rows, Task, median_index, register_task
from sciml.train.metrics import evaluate

#: The operator models the benchmark suite runs on every operator task.
OPERATORS = ("fno", "mgno", "deeponet", "pod-deeponet", "unet")


def judge_operator(experiment, model, test, arrays, out: Path) -> dict[str, Any]:
    """Relative L2 of every test sample (mean and worst), and ``prediction.png``: input,
    truth, prediction and error of the median sample (the last frame of trajectories)."""
    inputs, outputs = arrays
    errors = evaluate(model, inputs, outputs)
    median = median_index(errors)
    if is_primary():
        a, truth = inputs[median], outputs[median]
        prediction = np.asarray(eqx.filter_jit(model)(jnp.asarray(a)))
        title = (
            f"{experiment.task} / {experiment.model} / {experiment.preset}: median test "
            f"sample, relative L2 {errors[median]:.4f}"
        )
        plot = plot_prediction_1d if a.ndim == 2 else plot_prediction_2d
        plot(out / "prediction.png", a[-1], truth[-1], prediction[-1], title=title)
    return {
        "test_relative_l2": float(np.mean(errors)),
        "test_relative_l2_worst": float(np.max(errors)),
    }


def operator_rows(record: dict[str, Any]) -> Rows:
    """The frames of a frames-to-frames run, and the test error."""
    frames = record["config"].get("frames")
    rows = [("frames in -> out", " -> ".join(map(str, frames)))] if frames else []
    return rows + [("test relative L2", f"{record['test_relative_l2']:.4f}")]


def _darcy_finer(experiment) -> list[tuple[Any, Any]]:
    """The same fine solve kept every 3rd, 2nd and 1st node where finer than the training
    grid (from 421: 141, 211, 421, as in the FNO paper; the quick preset's 85 -> 43
    gives 85)."""
    data = experiment.data
    return [
        (dataclasses.replace(data, subsample=r), generate_darcy_test)
        for r in (3, 2, 1)
        if r < data.subsample and (data.fine_resolution - 1) % r == 0
    ]


def _navier_stokes_finer(experiment) -> list[tuple[Any, Any]]:
    """The solver's own grid (256 for the paper's 64, 64 for the quick preset's 32)."""
    data = experiment.data
    if data.resolution >= data.solve_resolution:
        return []
    return [
        (dataclasses.replace(data, resolution=data.solve_resolution), generate_navier_stokes_test)
    ]


def _operator_task(name, config, generate, periodic, dims, finer=None, suite=OPERATORS):
    return Task(
        name,
        config,
        generate,
        periodic,
        grid=lambda data: (data.resolution,) * dims,
        judge=judge_operator,
        summary=operator_rows,
        super_resolution=finer or (lambda experiment: []),
        suite=suite,
        figures=("prediction.png",),
    )


@register_task("darcy")
def darcy() -> Task:
    """Coefficient ``a(x)`` -> pressure ``u(x)`` of ``-div(a grad u) = 1`` on the unit
    square, ``u = 0`` on its boundary."""
    return _operator_task("darcy", DarcyConfig, generate_darcy, False, 2, _darcy_finer)


@register_task("burgers")
def burgers() -> Task:
    """``u(x, 0)`` -> ``u(x, 1)`` of the viscous Burgers equation on the periodic interval."""
    return _operator_task("burgers", BurgersConfig, generate_burgers, True, 1)


@register_task("navier-stokes")
def navier_stokes() -> Task:
    """Vorticity frames ``1..n_in`` -> the next ``n_out`` frames on the torus."""
    return _operator_task(
        "navier-stokes",
        NavierStokesConfig,
        generate_navier_stokes,
        True,
        2,
        _navier_stokes_finer,
        ("fno", "fno3d", *OPERATORS[1:]),
    )
