"""``sciml invert darcy|burgers|navier-stokes --forward solver|surrogate``: one inverse run.

Makes a synthetic truth and its noisy observations (on a finer grid than the inversion,
so the forward model of the inversion is not the one that made the data), computes the
MAP estimate with L-BFGS through the chosen forward model, and writes into the run
folder ``results.json`` (errors, misfits, timings, history, environment),
``results.md``, ``fields.png`` (truth, estimate, error) and ``history.png`` (misfit and
prior against iteration).

The surrogate of ``--forward surrogate`` is a trained FNO. Without ``--surrogate DIR`` it
is trained on first use (data made by our generators) and kept in the cache folder, so
later runs load it; its training time is reported apart from the inversion's. With
``--surrogate DIR`` the model of that ``sciml train`` run folder is used; its grid must
be the inversion's. Burgers has solver inversions only.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sciml._io import read_toml, write_atomic, write_json
from sciml.experiments.config import CONFIGS, get_experiment, parse_override, typed_config
from sciml.experiments.record import environment, jsonable, markdown_table
from sciml.experiments.run import cached_run, load_run
from sciml.inverse.burgers import BurgersSolver
from sciml.inverse.darcy import DarcySolver, SmoothThreshold, Surrogate, classification_accuracy
from sciml.inverse.navier_stokes import NavierStokesSolver, TrajectorySurrogate
from sciml.inverse.periodic import PeriodicField
from sciml.inverse.problem import Posterior, recover, relative_error, summary, uniform_sensors
from sciml.plots import save_png, subplots

TASKS = ("darcy", "burgers", "navier-stokes")
FORWARDS = ("solver", "surrogate", "dgno")


# ------------------------------------------------------------------------------ presets


@dataclasses.dataclass(frozen=True)
class DarcyInversion:
    """The Darcy permeability from noisy pressure sensors (``invert.toml``, ``darcy``)."""

    fine_resolution: int
    subsample: int
    sensors_per_axis: int
    noise: float
    modes: int
    width: float
    steps: int
    seed: int
    a_low: float = 4.0
    a_high: float = 12.0
    source: float = 1.0
    dgno_preset: str = "quick"

    @property
    def resolution(self) -> int:
        return (self.fine_resolution - 1) // self.subsample + 1


@dataclasses.dataclass(frozen=True)
class BurgersInversion:
    """The Burgers initial condition at ``nu`` / ``noise``, and the sweep over both."""

    fine_resolution: int
    resolution: int
    sensors: int
    nu: float
    noise: float
    t_final: float
    dt: float
    nus: tuple[float, ...]
    noises: tuple[float, ...]
    steps: int
    seed: int


@dataclasses.dataclass(frozen=True)
class NavierStokesInversion:
    """The Navier–Stokes initial vorticity from ``w(., T)`` at a few points."""

    fine_resolution: int
    resolution: int
    sensors_per_axis: int
    nu: float
    t_final: int
    dt: float
    noise: float
    steps: int
    seed: int
    surrogate_samples: int
    surrogate_epochs: int


INVERSIONS: dict[str, tuple[type, Callable[..., tuple[dict, dict]]]] = {}


def inversion_config(task: str, preset: str = "quick", overrides: Sequence[str] = ()):
    """The typed config of ``task``'s inverse problem: the preset's table of
    ``sciml/experiments/configs/invert.toml`` with ``KEY=VALUE`` overrides.

    Raises:
        ValueError: an unknown task, preset or key (naming the known ones), a bad value.
    """
    if task not in INVERSIONS:
        raise ValueError(f"unknown inverse task {task!r}; expected one of {', '.join(TASKS)}")
    tables = read_toml(CONFIGS / "invert.toml")[task]
    if preset not in tables:
        raise ValueError(f"unknown inverse preset {preset!r}; expected one of {', '.join(tables)}")
    table = dict(tables[preset])
    for text in overrides:
        keys, value = parse_override(text)
        if len(keys) != 1:
            raise ValueError(f"--set expects KEY=VALUE for an inverse problem, got {text!r}")
        table[keys[0]] = value
    return typed_config(INVERSIONS[task][0], table, "")


def noisy(clean: np.ndarray, level: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """``clean + sigma xi`` with ``sigma = level * rms(clean)``; returns the data and sigma."""
    sigma = level * float(np.sqrt(np.mean(clean**2)))
    return clean + sigma * rng.standard_normal(clean.shape), sigma


# ------------------------------------------------------------------------------ timing


@eqx.filter_jit
def _state(posterior: Posterior, latent):
    return posterior.forward(posterior.parameterisation(latent))


@eqx.filter_jit
def _gradient(posterior: Posterior, latent):
    return jax.grad(posterior)(latent)


def time_call(function, *args, repeats: int = 10) -> float:
    """Median seconds of a compiled call ``function(*args)`` (compiled and warmed first)."""
    jax.block_until_ready(function(*args))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(function(*args))
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def forward_timings(posterior: Posterior, latent) -> dict[str, float]:
    """Median seconds per forward evaluation ``z -> state`` and per gradient of ``Phi``."""
    return {
        "forward_s": time_call(_state, posterior, latent),
        "gradient_s": time_call(_gradient, posterior, latent, repeats=5),
    }


# ------------------------------------------------------------------------------ surrogates


def _surrogate(experiment, surrogate_dir, cache, progress):
    """The model of ``surrogate_dir``, or of ``experiment`` trained once into the cache;
    its record; and what the inversion's record says of it."""
    started = time.perf_counter()
    if surrogate_dir is not None:
        model, record = load_run(surrogate_dir)
        folder, trained_now = surrogate_dir, False
    else:
        model, record, folder, from_cache = cached_run(experiment, cache=cache, progress=progress)
        trained_now = not from_cache
    info = {
        "folder": str(folder),
        "trained_now": trained_now,
        "task": record["task"],
        "model": record["model"],
        "preset": record["preset"],
        "parameters": record.get("parameters"),
        "test_relative_l2": record.get("test_relative_l2"),
        "train_seconds": record.get("wall_seconds"),
        "seconds_to_get": time.perf_counter() - started,
    }
    return model, record, info


def _darcy_surrogate(config: DarcyInversion, surrogate_dir, cache, progress):
    experiment = get_experiment("darcy", "fno", "quick")
    model, record, info = _surrogate(experiment, surrogate_dir, cache, progress)
    grid = tuple(record["resolution"])
    if grid != (config.resolution, config.resolution):
        raise ValueError(
            f"the Darcy inversion runs on {config.resolution} x {config.resolution} nodes; the "
            f"surrogate was trained on {' x '.join(map(str, grid))}"
        )
    return model, info


def navier_stokes_surrogate(config: NavierStokesInversion):
    """The ``inverse-quick`` FNO ``w0 -> w(., 1..T)`` on the inversion's grid and horizon."""
    s = config.resolution
    return get_experiment(
        "navier-stokes",
        "fno",
        "inverse-quick",
        [
            f"data.solve_resolution={s}",
            f"data.resolution={s}",
            f"data.nu={config.nu}",
            f"data.t_final={config.t_final}",
            f"data.dt={config.dt}",
            f"data.n_train={config.surrogate_samples}",
            f"train.epochs={config.surrogate_epochs}",
        ],
    )


def _navier_stokes_surrogate(config: NavierStokesInversion, surrogate_dir, cache, progress):
    experiment = navier_stokes_surrogate(config)
    model, record, info = _surrogate(experiment, surrogate_dir, cache, progress)
    grid = tuple(record["resolution"])
    frames = record["config"].get("frames")
    if grid != (config.resolution, config.resolution) or frames:
        raise ValueError(
            f"the Navier-Stokes inversion needs a surrogate w0 -> w(., 1..T) on "
            f"{config.resolution} x {config.resolution}; the run folder holds a model on "
            f"{' x '.join(map(str, grid))} with frames {frames}"
        )
    return model, info


# ------------------------------------------------------------------------------ the tasks


def invert_darcy(
    config: DarcyInversion, forward: str, *, surrogate_dir=None, cache=None, progress=True
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One Darcy MAP recovery; returns the record and the fields to plot."""
    from sciml.data.darcy import DarcyConfig, darcy_coefficient
    from sciml.solvers.darcy import solve_darcy

    r, s = config.subsample, config.resolution
    data_config = DarcyConfig(
        fine_resolution=config.fine_resolution,
        subsample=r,
        a_low=config.a_low,
        a_high=config.a_high,
        source=config.source,
    )
    a_fine = darcy_coefficient(jax.random.key(config.seed), data_config)
    u_fine = np.asarray(solve_darcy(a_fine, data_config.source))
    a_true = np.asarray(a_fine)[::r, ::r]
    sensors = uniform_sensors((s, s), config.sensors_per_axis)
    clean = u_fine[::r, ::r][sensors[:, 0], sensors[:, 1]]
    observations, sigma = noisy(clean, config.noise, np.random.default_rng(config.seed))

    if forward == "dgno":
        truth = {"a": a_true, "u": u_fine[::r, ::r]}
        return _invert_darcy_dgno(
            config, truth, sensors, observations, sigma, surrogate_dir, cache, progress
        )
    parameterisation = SmoothThreshold(
        s, config.modes, width=config.width, a_low=config.a_low, a_high=config.a_high
    )
    data = (sensors, observations, sigma, (s, s))
    solver_posterior = Posterior(parameterisation, DarcySolver(config.source), *data)
    surrogate_info = None
    if forward == "surrogate":
        model, surrogate_info = _darcy_surrogate(config, surrogate_dir, cache, progress)
        posterior = Posterior(parameterisation, Surrogate(model), *data)
    else:
        posterior = solver_posterior
    latent0 = jnp.zeros(parameterisation.latent_shape, jnp.float32)
    recovery = recover(posterior, latent0, steps=config.steps)
    estimate = np.asarray(parameterisation.threshold(recovery.estimate))
    record = {
        "relative_l2": relative_error(estimate, a_true),
        "relative_l2_smooth": relative_error(parameterisation(recovery.estimate), a_true),
        "classification_accuracy": classification_accuracy(estimate, a_true),
        "data": {"n_observations": len(sensors), "noise_std": sigma},
        "at_estimate": summary(posterior, recovery.estimate),
        "at_estimate_through_solver": summary(solver_posterior, recovery.estimate),
        **_recovery_record(recovery),
        **forward_timings(posterior, recovery.estimate),
        "surrogate": surrogate_info,
    }
    fields = {"truth": a_true, "estimate": estimate, "sensors": sensors}
    return record, fields


def _invert_darcy_dgno(config, truth, sensors, observations, sigma, surrogate_dir, cache, progress):
    """The Darcy inversion through a trained DGNO (:mod:`sciml.inverse.dgno`): MAP
    latents and their Laplace posterior; the coefficient's posterior mean and spread."""
    from sciml.inverse.dgno import invert_dgno
    from sciml.solvers.darcy import solve_darcy

    experiment = get_experiment("darcy", "dgno", config.dgno_preset)
    model, record, info = _surrogate(experiment, surrogate_dir, cache, progress)
    phases = (config.a_low, config.a_high, config.source)
    if (
        record["model"] != "dgno"
        or tuple(record["resolution"]) != (config.resolution,) * 2
        or (model.a_low, model.a_high, model.source) != phases
    ):
        raise ValueError(
            f"--forward dgno needs a darcy DGNO run on {config.resolution} x "
            f"{config.resolution} nodes with (a_low, a_high, f) = {phases}; got a "
            f"{record['model']} run on {' x '.join(map(str, record['resolution']))}"
            + (
                f" with {(model.a_low, model.a_high, model.source)}"
                if record["model"] == "dgno"
                else ""
            )
        )
    history = record["history"]
    scales = (history["loss_constitutive"][-1], history["loss_weak"][-1])
    posterior = invert_dgno(
        model,
        sensors,
        observations,
        sigma,
        residual_scales=scales,
        steps=config.steps * 2,
        seed=config.seed,
    )
    a_true, u_true = truth["a"], truth["u"]
    inside = np.abs(a_true - posterior.a_mean) <= 2 * posterior.a_spread
    u_of_estimate = np.asarray(solve_darcy(jnp.asarray(posterior.a_estimate), model.source))
    record = {
        "relative_l2": relative_error(posterior.a_estimate, a_true),
        "relative_l2_mean": relative_error(posterior.a_mean, a_true),
        "classification_accuracy": classification_accuracy(posterior.a_estimate, a_true),
        "relative_l2_u_decoded": relative_error(posterior.u_estimate, u_true),
        "relative_l2_u_solved": relative_error(u_of_estimate, u_true),
        "within_two_spreads": float(np.mean(inside)),
        "mean_spread": float(np.mean(posterior.a_spread)),
        "within_two_latent_spreads": float(
            np.mean(np.abs(a_true - posterior.a_mean) <= 2 * posterior.a_spread_latent)
        ),
        "mean_latent_spread": float(np.mean(posterior.a_spread_latent)),
        "hessian_eigenvalues_clipped": posterior.clipped,
        "data": {"n_observations": len(sensors), "noise_std": sigma},
        "at_estimate": {
            "misfit": float(
                0.5
                * np.sum(
                    ((posterior.u_estimate[sensors[:, 0], sensors[:, 1]] - observations) / sigma)
                    ** 2
                )
            )
        },
        "iterations": len(posterior.history),
        "converged": None,
        "time_to_solution_s": posterior.seconds["map"],
        "laplace_seconds": posterior.seconds["laplace"],
        "history": {"objective": posterior.history},
        "forward_s": float("nan"),
        "gradient_s": float("nan"),
        "surrogate": info,
    }
    fields = {
        "truth": a_true,
        "estimate": posterior.a_estimate,
        "sensors": sensors,
        "mean": posterior.a_mean,
        "spread": posterior.a_spread,
    }
    return record, fields


def burgers_problem(config: BurgersInversion, nu: float, noise: float, seed: int):
    """Truth ``u0``, its posterior on the inversion grid at ``nu`` and ``noise``."""
    from sciml.data.burgers import BurgersConfig, burgers_initial_condition

    data = BurgersConfig(fine_resolution=config.fine_resolution, subsample=1)
    u0_fine = burgers_initial_condition(jax.random.key(seed), data)
    fine = BurgersSolver(nu=nu, t_final=config.t_final, dt=config.dt)
    r = config.fine_resolution // config.resolution
    u_final = np.asarray(eqx.filter_jit(fine)(u0_fine))[::r]
    sensors = uniform_sensors((config.resolution,), config.sensors, interior=False)
    observations, sigma = noisy(
        u_final[sensors[:, 0]], noise, np.random.default_rng([seed, round(1e6 * noise)])
    )
    alpha, tau, amplitude = data.law_parameters
    parameterisation = PeriodicField((config.resolution,), alpha=alpha, tau=tau, sigma=amplitude)
    forward = BurgersSolver(nu=nu, t_final=config.t_final, dt=config.dt)
    posterior = Posterior(
        parameterisation, forward, sensors, observations, sigma, (config.resolution,)
    )
    return np.asarray(u0_fine)[::r], posterior


def invert_burgers(config: BurgersInversion, forward: str, **_) -> tuple[dict, dict]:
    """The recovery at ``(nu, noise)`` and the sweep of the error over viscosity and noise."""
    if forward != "solver":
        raise ValueError(
            "burgers inversions run through the solver only (--forward solver); no Burgers "
            f"surrogate is provided; got --forward {forward}"
        )
    truth, posterior = burgers_problem(config, config.nu, config.noise, config.seed)
    latent0 = jnp.zeros((config.resolution,), jnp.float32)
    recovery = recover(posterior, latent0, steps=config.steps)
    estimate = np.asarray(posterior.parameterisation(recovery.estimate))
    sweep = []
    for nu in config.nus:
        for noise in config.noises:
            truth_i, posterior_i = burgers_problem(config, nu, noise, config.seed)
            recovery_i = recover(posterior_i, latent0, steps=config.steps)
            estimate_i = posterior_i.parameterisation(recovery_i.estimate)
            sweep.append(
                {
                    "nu": nu,
                    "noise": noise,
                    "relative_l2": relative_error(estimate_i, truth_i),
                    "iterations": recovery_i.iterations,
                    "seconds": recovery_i.seconds,
                    **summary(posterior_i, recovery_i.estimate),
                }
            )
    record = {
        "relative_l2": relative_error(estimate, truth),
        "data": {"n_observations": len(posterior.sensors), "noise_std": float(posterior.noise_std)},
        "at_estimate": summary(posterior, recovery.estimate),
        **_recovery_record(recovery),
        **forward_timings(posterior, recovery.estimate),
        "sweep": sweep,
    }
    return record, {"truth": truth, "estimate": estimate, "sweep": sweep}


def invert_navier_stokes(
    config: NavierStokesInversion, forward: str, *, surrogate_dir=None, cache=None, progress=True
) -> tuple[dict, dict]:
    """One MAP recovery of ``w0`` from 7 x 7 noisy values of ``w(., T)``."""
    from sciml.fields import periodic_grf

    fine_s, s = config.fine_resolution, config.resolution
    r = fine_s // s
    w0_fine = periodic_grf(jax.random.key(config.seed), 1, (fine_s, fine_s), alpha=2.5, tau=7.0)[0]
    fine = NavierStokesSolver(fine_s, nu=config.nu, t_final=config.t_final, dt=config.dt)
    w_final = np.asarray(eqx.filter_jit(fine)(w0_fine))[::r, ::r]
    w0_true = np.asarray(w0_fine)[::r, ::r]
    sensors = uniform_sensors((s, s), config.sensors_per_axis, interior=False)
    observations, sigma = noisy(
        w_final[sensors[:, 0], sensors[:, 1]], config.noise, np.random.default_rng(config.seed)
    )
    parameterisation = PeriodicField((s, s), alpha=2.5, tau=7.0)
    solver = NavierStokesSolver(s, nu=config.nu, t_final=config.t_final, dt=config.dt)
    solver_posterior = Posterior(parameterisation, solver, sensors, observations, sigma, (s, s))
    surrogate_info = None
    if forward == "surrogate":
        model, surrogate_info = _navier_stokes_surrogate(config, surrogate_dir, cache, progress)
        posterior = Posterior(
            parameterisation, TrajectorySurrogate(model), sensors, observations, sigma, (s, s)
        )
    else:
        posterior = solver_posterior
    recovery = recover(posterior, jnp.zeros((s, s), jnp.float32), steps=config.steps)
    estimate = np.asarray(parameterisation(recovery.estimate))
    final_estimate = np.asarray(eqx.filter_jit(solver)(jnp.asarray(estimate)))
    record = {
        "relative_l2": relative_error(estimate, w0_true),
        "relative_l2_final_state": relative_error(final_estimate, w_final),
        "data": {"n_observations": len(sensors), "noise_std": sigma},
        "at_estimate": summary(posterior, recovery.estimate),
        "at_estimate_through_solver": summary(solver_posterior, recovery.estimate),
        **_recovery_record(recovery),
        **forward_timings(posterior, recovery.estimate),
        "surrogate": surrogate_info,
    }
    return record, {"truth": w0_true, "estimate": estimate, "sensors": sensors}


INVERSIONS.update(
    {
        "darcy": (DarcyInversion, invert_darcy),
        "burgers": (BurgersInversion, invert_burgers),
        "navier-stokes": (NavierStokesInversion, invert_navier_stokes),
    }
)


def _recovery_record(recovery) -> dict[str, Any]:
    return {
        "iterations": recovery.iterations,
        "converged": recovery.converged,
        "time_to_solution_s": recovery.seconds,
        "history": recovery.history,
    }


# ------------------------------------------------------------------------------ output


def _plot_fields(path: Path, fields: dict, title: str) -> None:
    truth, estimate = fields["truth"], fields["estimate"]
    if truth.ndim == 1:
        fig, ax = subplots(1, 1, figsize=(8, 4), constrained_layout=True)
        x = np.arange(len(truth)) / len(truth)
        ax.plot(x, truth, label="truth u0", lw=2)
        ax.plot(x, estimate, "--", label="estimate")
        ax.plot(x, estimate - truth, color="crimson", lw=1, label="error")
        ax.set_xlabel("x")
        ax.legend()
        save_png(fig, path, title)
        return
    fig, axes = subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    vmin, vmax = float(truth.min()), float(truth.max())
    panels: list[tuple[str, np.ndarray, dict[str, Any]]] = [
        ("truth", truth, {"vmin": vmin, "vmax": vmax}),
        ("estimate", estimate, {"vmin": vmin, "vmax": vmax}),
        ("|error|", np.abs(estimate - truth), {"cmap": "magma"}),
    ]
    s = truth.shape[0]
    for ax, (name, field, style) in zip(axes, panels):
        image = ax.imshow(field.T, origin="lower", **style)
        ax.set_title(name)
        fig.colorbar(image, ax=ax, shrink=0.8)
    sensors = fields.get("sensors")
    if sensors is not None and s > 1:
        axes[0].plot(sensors[:, 0], sensors[:, 1], "k.", ms=3)
    save_png(fig, path, title)


def _plot_posterior(path: Path, fields: dict, title: str) -> None:
    """Truth, posterior mean, spread and where the truth lies beyond two spreads."""
    truth, mean, spread = fields["truth"], fields["mean"], fields["spread"]
    fig, axes = subplots(1, 4, figsize=(17, 4), constrained_layout=True)
    vmin, vmax = float(truth.min()), float(truth.max())
    panels: list[tuple[str, np.ndarray, dict[str, Any]]] = [
        ("truth", truth, {"vmin": vmin, "vmax": vmax}),
        ("posterior mean", mean, {"vmin": vmin, "vmax": vmax}),
        ("posterior spread", spread, {"cmap": "magma"}),
        (
            "|truth - mean| > 2 spreads",
            (np.abs(truth - mean) > 2 * spread).astype(float),
            {"cmap": "gray_r"},
        ),
    ]
    for ax, (name, field, style) in zip(axes, panels):
        image = ax.imshow(field.T, origin="lower", **style)
        ax.set_title(name)
        fig.colorbar(image, ax=ax, shrink=0.8)
    sensors = fields.get("sensors")
    if sensors is not None:
        axes[0].plot(sensors[:, 0], sensors[:, 1], "k.", ms=3)
    save_png(fig, path, title)


def _plot_history(path: Path, record: dict, title: str) -> None:
    history = record["history"]
    ncols = 2 if "sweep" in record else 1
    fig, axes = subplots(1, ncols, figsize=(6 * ncols, 4), constrained_layout=True)
    axes = np.atleast_1d(axes)
    if "objective" in history:  # a DGNO inversion: Adam on the whole objective
        axes[0].semilogy(history["objective"], label="negative log posterior")
        axes[0].set_xlabel("Adam step")
        axes[0].legend()
        save_png(fig, path, title)
        return
    axes[0].semilogy(history["misfit"], label="data misfit")
    axes[0].semilogy(history["prior"], label="prior |z|^2 / 2")
    axes[0].axhline(record["data"]["n_observations"] / 2, color="0.5", ls=":", label="n_obs / 2")
    axes[0].set_xlabel("L-BFGS iteration")
    axes[0].legend()
    if "sweep" in record:
        sweep = record["sweep"]
        for noise in sorted({row["noise"] for row in sweep}):
            rows = [row for row in sweep if row["noise"] == noise]
            axes[1].loglog(
                [row["nu"] for row in rows],
                [row["relative_l2"] for row in rows],
                "o-",
                label=f"noise {100 * noise:g} %",
            )
        axes[1].set_xlabel("viscosity nu")
        axes[1].set_ylabel("relative L2 of u0")
        axes[1].legend()
    save_png(fig, path, title)


def summary_rows(record: dict) -> list[tuple[str, str]]:
    rows = [
        ("task / forward / preset", f"{record['task']} / {record['forward']} / {record['preset']}"),
        ("relative L2 of the estimate", f"{record['relative_l2']:.4f}"),
    ]
    if "classification_accuracy" in record:
        rows.append(("cells classified correctly", f"{record['classification_accuracy']:.4f}"))
    if "within_two_spreads" in record:
        rows += [
            ("relative L2 of the posterior mean", f"{record['relative_l2_mean']:.4f}"),
            ("relative L2 of u, decoded", f"{record['relative_l2_u_decoded']:.4f}"),
            ("relative L2 of u, solved from the estimate", f"{record['relative_l2_u_solved']:.4f}"),
            ("nodes within two spreads of the mean", f"{record['within_two_spreads']:.3f}"),
            ("mean spread", f"{record['mean_spread']:.3f}"),
            (
                "nodes within two latent spreads (no Bernoulli term)",
                f"{record['within_two_latent_spreads']:.3f}",
            ),
        ]
    rows += [
        ("data misfit at the estimate", f"{record['at_estimate']['misfit']:.2f}"),
        ("observations", str(record["data"]["n_observations"])),
        ("iterations", str(record["iterations"])),
        ("time per forward evaluation (s)", f"{record['forward_s']:.5f}"),
        ("time per gradient (s)", f"{record['gradient_s']:.5f}"),
    ]
    if "laplace_seconds" in record:
        rows.append(("Laplace posterior (s)", f"{record['laplace_seconds']:.2f}"))
    rows += [
        ("time to solution (s)", f"{record['time_to_solution_s']:.2f}"),
        ("wall (s)", f"{record['wall_seconds']:.1f}"),
    ]
    return rows


def results_table(record: dict) -> str:
    """The summary rows as markdown, and the viscosity-noise sweep's table."""
    lines = [markdown_table(summary_rows(record))]
    if "sweep" in record:
        lines += ["", "| nu | noise | relative L2 of u0 |", "| --- | --- | --- |"]
        lines += [
            f"| {row['nu']:g} | {100 * row['noise']:g} % | {row['relative_l2']:.4f} |"
            for row in record["sweep"]
        ]
    return "\n".join(lines) + "\n"


def run_inversion(
    task: str,
    forward: str,
    preset: str,
    out: str | os.PathLike,
    *,
    surrogate_dir=None,
    cache=None,
    progress: bool = True,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Run one inverse problem and write its record and figures into ``out``.

    ``overrides`` are ``KEY=VALUE`` changes of the preset's config (``noise=0.05``).
    """
    if forward not in FORWARDS:
        raise ValueError(
            f"unknown forward model {forward!r}; expected one of {', '.join(FORWARDS)}"
        )
    config = inversion_config(task, preset, overrides)
    if surrogate_dir is not None and forward == "solver":
        raise ValueError("--surrogate DIR is for --forward surrogate or dgno; got --forward solver")
    if forward == "dgno" and task != "darcy":
        raise ValueError(f"--forward dgno is for the darcy inverse problem; got {task}")
    if surrogate_dir is not None and not (Path(surrogate_dir) / "results.json").is_file():
        raise FileNotFoundError(
            f"a surrogate must be a 'sciml train' run folder with results.json; "
            f"{surrogate_dir} has none"
        )
    invert = INVERSIONS[task][1]
    started = time.perf_counter()
    record, fields = invert(
        config, forward, surrogate_dir=surrogate_dir, cache=cache, progress=progress
    )
    record = {
        "task": task,
        "forward": forward,
        "preset": preset,
        "config": dataclasses.asdict(config),
        **record,
        "wall_seconds": time.perf_counter() - started,
        **environment(),
    }
    out = Path(out)
    title = f"{task} / {forward}: relative L2 {record['relative_l2']:.3f}"
    _plot_fields(out / "fields.png", fields, title)
    _plot_history(out / "history.png", record, f"{task} / {forward}")
    if "spread" in fields:
        _plot_posterior(out / "posterior.png", fields, title)
    write_json(out / "results.json", jsonable(record))
    write_atomic(out / "results.md", results_table(record).encode())
    return record
