r"""The Spectral-Refiner: train an SFNO briefly, then refine its last layer per input.

Stage 1 trains the :class:`~sciml.models.sfno.SFNO` for the experiment's epochs with
:meth:`Stage.fit`. Stage 2 wraps it in :class:`RefinedSFNO`, whose ``__call__`` takes the
output layer without frequency truncation (:meth:`TrajectorySpectralConv.expanded`,
every mode of the grid, the trained ones in place) and fine-tunes it FOR THAT INPUT by
``steps`` Adam steps (preconditioned by ``(1 + |n|^2)^(-1/2)`` on the spatial modes,
see :func:`_preconditioner`) on the squared a posteriori error estimator

.. math::

    \eta^2(w) = \|w(t_0) - w_0\|_{H^{-s}}^2
              + \int_{t_0}^{t_0 + T} \|w_t + u \cdot \nabla w - \nu \Delta w - f\|_{H^{-s}}^2 dt,

no ground truth needed: ``w_0`` is the last input frame, the residual is
:func:`~sciml.solvers.vorticity_residual.vorticity_residual` of the SFNO's trajectory
and its exact time derivative, sampled ``substeps`` times per frame interval (trapezoidal
rule), and the norm is :func:`~sciml.train.losses.negative_sobolev_norm` (exact, by
Parseval). Every other parameter is frozen: the latent trajectory is computed once.
The task's judge, which calls the model on each test input, so measures the refined
prediction for inputs the model never saw (Cao et al., 2025, §4).

The first term is ours: the paper's estimator bounds the error of a trajectory that
starts from the right initial condition; the SFNO's does not exactly, so the mismatch
at ``t_0`` is part of what it measures.

References:
    S. Cao, F. Brarda, R. Li and Y. Xi, "Spectral-Refiner: Accurate Fine-Tuning of
    Spatiotemporal Fourier Neural Operator for Turbulent Flows", ICLR 2025,
    arXiv:2405.17211.
"""

from __future__ import annotations

import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float

from sciml.distributed import is_primary
from sciml.experiments.recipes import Stage, Trained
from sciml.experiments.registry import register_recipe
from sciml.models.sfno import SFNO, TrajectorySpectralConv
from sciml.solvers.navier_stokes import fno_forcing, make_stepper, rollout
from sciml.solvers.vorticity_residual import vorticity_residual
from sciml.train.losses import negative_sobolev_norm
from sciml.train.metrics import evaluate

__all__ = ["RefinedSFNO", "refine_recipe", "residual_estimator"]


def residual_estimator(
    model: SFNO,
    frames: Float[Array, "n_in s s"],
    *,
    nu: float | Array,
    forcing: Array | None,
    order: float = 1.0,
    substeps: int = 4,
    dealias: bool = False,
    frame_spacing: float = 1.0,
    output: TrajectorySpectralConv | None = None,
    latent: Array | None = None,
) -> Float[Array, ""]:
    """The squared estimator ``eta^2`` of the SFNO's prediction from ``frames`` (see the
    module), with ``output`` in place of the model's output layer if given."""
    n_out = model.n_out
    tau = jnp.linspace(0.0, n_out, n_out * substeps + 1, dtype=frames.dtype)
    w, dw = model.trajectory(frames, tau, output=output, latent=latent)
    residual = vorticity_residual(w, dw / frame_spacing, nu=nu, forcing=forcing, dealias=dealias)
    per_time = jax.vmap(lambda r: negative_sobolev_norm(r[None], order) ** 2)(residual)
    trapezoid = jnp.ones_like(tau).at[0].set(0.5).at[-1].set(0.5) * (frame_spacing / substeps)
    start = negative_sobolev_norm((w[0] - frames[-1])[None], order) ** 2
    return start + jnp.sum(trapezoid * per_time)


def _preconditioner(modes: tuple[int, int, int], dtype) -> Array:
    """``(1 + n_x^2 + n_y^2)^(-1/2)`` on the output layer's parameter layout (integer
    wavenumbers ``n``): the refiner steps ``p`` with the layer's parameters
    ``trained + scale * p``. Adam moves every parameter by about its step size, so
    without it the many high modes, whose coefficients are tiny, would be kicked as
    hard as the few energetic ones (on the quick preset the refined error is ~4x
    lower with it, for the same steps)."""
    _, mx, my = modes
    kx = jnp.stack([jnp.arange(mx), jnp.arange(-mx, 0)]).astype(dtype)  # (x corner, m_x)
    ky = jnp.arange(my).astype(dtype)
    k2 = kx[:, None, None, :, None] ** 2 + ky**2  # (x corner, 1, 1, m_x, m_y)
    return (1 + k2) ** -0.5


class RefinedSFNO(eqx.Module):
    """An :class:`SFNO` whose output layer is refined for every input it is called on.

    ``frames: (n_in, s, s) -> (n_out, s, s)``, like the SFNO; :meth:`refine` returns the
    refined output layer and the estimator at every step.

    Attributes:
        model: the trained SFNO (its output layer truncated, as trained).
        nu: the viscosity of the equation.
        forcing: ``(s, s)`` forcing on the model's grid, or ``None``.
        steps: Adam steps per input.
        learning_rate: Adam's step size.
        order: ``s`` of the H^-s norm.
        substeps: residual samples per frame interval.
        dealias: the 2/3 rule on the residual's advection term.
        frame_spacing: time between two frames.
    """

    model: SFNO
    nu: Array
    forcing: Array | None
    steps: int = eqx.field(static=True)
    learning_rate: float = eqx.field(static=True)
    order: float = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    dealias: bool = eqx.field(static=True)
    frame_spacing: float = eqx.field(static=True)

    def estimator(self, frames, output=None, latent=None) -> Array:
        """``eta^2`` of the prediction from ``frames`` (with ``output`` if given)."""
        return residual_estimator(
            self.model,
            frames,
            nu=self.nu,
            forcing=self.forcing,
            order=self.order,
            substeps=self.substeps,
            dealias=self.dealias,
            frame_spacing=self.frame_spacing,
            output=output,
            latent=latent,
        )

    def refine(self, frames) -> tuple[TrajectorySpectralConv, Array]:
        """The output layer refined for ``frames``, and ``eta^2`` before every step and
        after the last: ``(steps + 1,)``."""
        self.model.check_input(frames.shape)
        latent = jax.lax.stop_gradient(self.model.latent(frames))
        layer = self.model.output.expanded(self.model.padded_times, frames.shape[1:])
        optimizer = optax.adam(self.learning_rate)
        scale = _preconditioner(layer.modes, frames.dtype)
        base = (layer.weights, layer.bias)

        def layer_of(parameters):
            return TrajectorySpectralConv(
                layer.modes, parameters=tuple(b + scale * p for b, p in zip(base, parameters))
            )

        def loss(parameters):
            return self.estimator(frames, layer_of(parameters), latent)

        def step(carry, _):
            parameters, state = carry
            value, grads = jax.value_and_grad(loss)(parameters)
            updates, state = optimizer.update(grads, state, parameters)
            return (optax.apply_updates(parameters, updates), state), value

        parameters = (jnp.zeros_like(layer.weights), jnp.zeros_like(layer.bias))
        (parameters, _), history = jax.lax.scan(
            step, (parameters, optimizer.init(parameters)), None, length=self.steps
        )
        history = jnp.concatenate([history, loss(parameters)[None]])
        return layer_of(parameters), history

    def __call__(self, frames: Float[Array, "n_in s s"]) -> Float[Array, "n_out s s"]:
        output, _ = self.refine(frames)
        tau = jnp.arange(1, self.model.n_out + 1, dtype=frames.dtype)
        return self.model.trajectory(frames, tau, output=output)[0]


@register_recipe("refine")
def refine_recipe(
    stage: Stage,
    *,
    steps: int = 200,
    learning_rate: float = 3e-3,
    order: float = 1.0,
    substeps: int = 4,
    dealias: bool = False,
    solver_steps: tuple[int, ...] = (2, 4, 8),
) -> Trained:
    """Train the SFNO for the experiment's epochs, then refine it per test input.

    Records the test error before refinement (``test_relative_l2_before_refinement``;
    the judge's ``test_relative_l2`` is the refined one) and, under ``refinement``, the
    estimator against the true error per test sample (``refinement.png``), the wall time
    of refinement per sample, and the time and error of our ETDRK4 solver from the last
    input frame on the same grid with ``solver_steps`` steps per frame interval.
    """
    experiment = stage.experiment
    if experiment.task not in _EQUATIONS:
        raise ValueError(
            f"recipe 'refine' refines a vorticity trajectory of {' or '.join(_EQUATIONS)}; "
            f"the task is {experiment.task!r}"
        )
    _check_recipe(steps, learning_rate, order, substeps, solver_steps)
    model, history = stage.fit(stage.model)
    if not isinstance(model, SFNO):
        raise ValueError(
            "recipe 'refine' fine-tunes the output layer of an 'sfno' model in physical units "
            f'(normalise = "none"); got {type(model).__name__}'
        )
    inputs, outputs = stage.test
    forcing, frame_spacing = _EQUATIONS[experiment.task](experiment.data, inputs.shape[-1])
    refined = RefinedSFNO(
        model,
        jnp.asarray(experiment.data.nu, inputs.dtype),
        forcing,
        int(steps),
        float(learning_rate),
        float(order),
        int(substeps),
        bool(dealias),
        frame_spacing,
    )
    before = evaluate(model, inputs, outputs)
    report = _diagnose(refined, inputs, outputs, solver_steps, stage)
    record = {
        "test_relative_l2_before_refinement": float(np.mean(before)),
        "refinement": {
            "steps": int(steps),
            "learning_rate": float(learning_rate),
            "order": float(order),
            "substeps": int(substeps),
            "dealias": bool(dealias),
            **report,
        },
    }
    return Trained(refined, history, record)


#: The tasks whose trajectories the refiner knows the equation of: ``(data config, grid)
#: -> (forcing on the grid or None, time between frames)``.
_EQUATIONS = {
    "navier-stokes": lambda data, grid: (fno_forcing(grid), 1.0),
    "decaying-turbulence": lambda data, grid: (None, float(data.frame_interval)),
}


def _check_recipe(steps, learning_rate, order, substeps, solver_steps) -> None:
    checks = [
        ("steps", steps, isinstance(steps, int) and steps >= 1, "an integer >= 1"),
        ("learning_rate", learning_rate, learning_rate > 0, "a number > 0"),
        ("order", order, order >= 0, "a number >= 0 (s of H^-s)"),
        ("substeps", substeps, isinstance(substeps, int) and substeps >= 1, "an integer >= 1"),
        (
            "solver_steps",
            solver_steps,
            all(isinstance(n, int) and n >= 1 for n in solver_steps),
            "a list of integers >= 1 (steps per frame interval)",
        ),
    ]
    for name, value, ok, expected in checks:
        if not ok:
            raise ValueError(f"recipe.{name} must be {expected}, got {value!r}")


@eqx.filter_jit
def _refine_batch(refined: RefinedSFNO, inputs, outputs):
    """Per sample: the prediction and its squared estimator before and after refinement,
    and the true absolute L2 errors (over all output frames and grid points)."""

    def one(frames, truth):
        output, history = refined.refine(frames)
        tau = jnp.arange(1, refined.model.n_out + 1, dtype=frames.dtype)
        prediction = refined.model.trajectory(frames, tau, output=output)[0]
        first = refined.model(frames)
        error = jnp.sqrt(jnp.mean((prediction - truth) ** 2))
        error_before = jnp.sqrt(jnp.mean((first - truth) ** 2))
        scale = jnp.sqrt(jnp.mean(truth**2))
        return history[0], history[-1], error_before / scale, error / scale, error_before, error

    return jax.vmap(one)(inputs, outputs)


def _diagnose(refined, inputs, outputs, solver_steps, stage) -> dict[str, Any]:
    inputs, outputs = jnp.asarray(inputs), jnp.asarray(outputs)
    jax.block_until_ready(_refine_batch(refined, inputs[:1], outputs[:1]))  # compile
    started = time.perf_counter()
    results = jax.block_until_ready(_refine_batch(refined, inputs, outputs))
    seconds = (time.perf_counter() - started) / len(inputs)
    eta0, eta1, rel0, rel1, abs0, abs1 = (np.asarray(r, dtype=float) for r in results)
    eta0, eta1 = np.sqrt(eta0), np.sqrt(eta1)
    ratio = np.concatenate([eta0 / abs0, eta1 / abs1])
    both_eta, both_err = np.concatenate([eta0, eta1]), np.concatenate([abs0, abs1])
    solver = _solver_ladder(refined, inputs, outputs, solver_steps)
    matched = [
        row
        for row in solver
        if row["test_relative_l2"] is not None and row["test_relative_l2"] <= np.mean(rel1)
    ]
    if is_primary():
        _plot(stage.out / "refinement.png", eta0, eta1, abs0, abs1)
    return {
        "test_relative_l2": float(np.mean(rel1)),
        "seconds_per_sample": seconds,
        "estimator_before": _summary(eta0),
        "estimator_after": _summary(eta1),
        "error_before": _summary(abs0),
        "error_after": _summary(abs1),
        "estimator_over_error": _summary(ratio),
        # over both stages, then within each: the first is dominated by the gap between
        # the two clusters, the others say whether the estimator ranks samples
        "estimator_error_log_correlation": _log_correlation(both_eta, both_err),
        "estimator_error_log_correlation_trained": _log_correlation(eta0, abs0),
        "estimator_error_log_correlation_refined": _log_correlation(eta1, abs1),
        "samples_improved": int(np.sum(rel1 < rel0)),
        "solver": solver,
        "solver_to_same_accuracy": matched[0] if matched else None,
    }


def _log_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2:
        return None
    return float(np.corrcoef(np.log(a), np.log(b))[0, 1])


def _summary(values: np.ndarray) -> dict[str, float]:
    return {
        "mean": float(np.mean(values)),
        "min": float(np.min(values)),
        "median": float(np.median(values)),
        "max": float(np.max(values)),
    }


def _solver_ladder(refined, inputs, outputs, solver_steps) -> list[dict[str, Any]]:
    """Our ETDRK4 solver on the stored grid from the last input frame: relative L2 error
    against the reference frames and wall time per sample, for each number of steps
    per frame interval."""
    grid, n_out, spacing = inputs.shape[-1], refined.model.n_out, refined.frame_spacing
    rows = []
    for steps in sorted(solver_steps):
        stepper, per_frame = make_stepper(
            grid,
            nu=float(refined.nu),
            forcing=refined.forcing,
            dt=spacing / steps,
            record_every=spacing,
        )

        def solve(w0, stepper=stepper, per_frame=per_frame):
            return rollout(stepper, w0, num_frames=n_out, steps_per_frame=per_frame)

        batch = jax.jit(jax.vmap(solve))
        jax.block_until_ready(batch(inputs[:1, -1]))
        started = time.perf_counter()
        frames = jax.block_until_ready(batch(inputs[:, -1]))
        seconds = (time.perf_counter() - started) / len(inputs)
        axes = tuple(range(1, outputs.ndim))
        per_sample = jnp.sqrt(jnp.sum((frames - outputs) ** 2, axes) / jnp.sum(outputs**2, axes))
        error = float(jnp.mean(per_sample))
        rows.append(
            {
                "steps_per_frame": int(per_frame),
                # None: the step is beyond the scheme's stability bound
                "test_relative_l2": error if np.isfinite(error) else None,
                "seconds_per_sample": seconds,
            }
        )
    return rows


def _plot(path, eta0, eta1, abs0, abs1) -> None:
    from sciml.plots import save_png, subplots

    order = np.argsort(abs0)
    fig, (left, right) = subplots(1, 2, figsize=(11, 4))
    index = np.arange(len(order))
    left.semilogy(index, abs0[order], "o-", color="C0", label="true error, trained")
    left.semilogy(index, eta0[order], "s--", color="C0", alpha=0.6, label="estimator, trained")
    left.semilogy(index, abs1[order], "o-", color="C1", label="true error, refined")
    left.semilogy(index, eta1[order], "s--", color="C1", alpha=0.6, label="estimator, refined")
    left.set_xlabel("test sample (by trained error)")
    left.set_title("L2 error and a posteriori estimator per sample")
    left.legend(fontsize=8)
    right.loglog(abs0, eta0, "o", label="trained")
    right.loglog(abs1, eta1, "o", label="refined")
    both = np.concatenate([abs0, abs1])
    right.loglog(
        [both.min(), both.max()], [both.min(), both.max()], "k:", label="estimator = error"
    )
    right.set_xlabel("true L2 error")
    right.set_ylabel("estimator")
    right.legend(fontsize=8)
    save_png(fig, path)
