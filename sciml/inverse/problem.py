r"""The parts every inverse problem shares: sensors, misfit, prior, posterior, `recover`.

An inverse problem here is Bayesian in the sense of Stuart (2010): an unknown field
``x = T(z)`` is the image of a latent ``z`` with a standard Gaussian prior
``z ~ N(0, I)`` (a whitened Karhunen–Loève expansion), a forward map ``G`` (a
differentiable solver or a trained surrogate) gives the state, and noisy values
``y = O(G(x)) + eta``, ``eta ~ N(0, sigma^2 I)``, are observed at sensors ``O``. The
maximum a posteriori (MAP) estimate minimises the negative log posterior

    Phi(z) = |O(G(T(z))) - y|^2 / (2 sigma^2)  +  |z|^2 / 2
           = misfit(z)                         +  prior(z).

The pieces compose: a :class:`Posterior` holds the parameterisation ``T``, the forward
map ``G``, the sensors and the data; :func:`recover` minimises any scalar objective of
an array with optax (L-BFGS or Adam) and returns the estimate and its history.

References:
    A. M. Stuart, "Inverse problems: a Bayesian perspective", Acta Numerica 19 (2010)
    451-559.
    D. C. Liu and J. Nocedal, "On the limited memory BFGS method for large scale
    optimization", Math. Programming 45 (1989) 503-528.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, Int

from sciml.spectral import each_axis

__all__ = [
    "Posterior",
    "Recovery",
    "check_observations",
    "check_sensors",
    "gaussian_prior",
    "misfit",
    "observe",
    "recover",
    "uniform_sensors",
]

# ----------------------------------------------------------------------------- sensors


def uniform_sensors(
    grid_shape: Sequence[int], per_axis: int | Sequence[int], *, interior: bool = True
) -> Int[np.ndarray, "n d"]:
    """Indices of a uniform ``per_axis^d`` subset of the nodes of a grid.

    Along an axis of ``n`` nodes, sensor ``k = 1 .. m`` sits at the node nearest to
    ``k (n - 1) / (m + 1)`` when ``interior`` (the nodes ``0`` and ``n - 1`` of a
    Dirichlet boundary are never used), else at ``round(k n / m)`` for ``k = 0 .. m-1``
    (a periodic grid, where every node is interior).

    Args:
        grid_shape: nodes per axis.
        per_axis: sensors per axis (one number for all axes, or one per axis).
        interior: keep off the first and last node of every axis.

    Returns:
        ``(n_sensors, d)`` integer node indices, in row-major order.
    """
    grid_shape = tuple(int(n) for n in grid_shape)
    counts = each_axis(per_axis, len(grid_shape))
    if len(counts) != len(grid_shape):
        raise ValueError(
            f"uniform_sensors expects one count per axis of the grid {grid_shape}; got {counts}"
        )
    axes = []
    for n, m in zip(grid_shape, counts):
        room = n - 2 if interior else n
        if not (isinstance(m, (int, np.integer)) and 1 <= m <= room):
            raise ValueError(
                f"uniform_sensors expects between 1 and {room} sensors on an axis of {n} "
                f"nodes{' (interior only)' if interior else ''}; got {m!r}"
            )
        if interior:
            axes.append(np.rint(np.arange(1, m + 1) * (n - 1) / (m + 1)).astype(int))
        else:
            axes.append(np.rint(np.arange(m) * n / m).astype(int) % n)
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([axis.ravel() for axis in mesh], axis=-1)


def check_sensors(sensors: ArrayLike, grid_shape: Sequence[int]) -> Int[np.ndarray, "n d"]:
    """Return ``sensors`` as ``(n, d)`` integers, or raise if any lies off the grid.

    Raises:
        ValueError: ``sensors`` is not ``(n, d)`` with ``d = len(grid_shape)``, is not
            integer-valued, or holds an index outside ``[0, n_axis)``.
    """
    grid_shape = tuple(int(n) for n in grid_shape)
    values = np.asarray(sensors)
    if values.ndim != 2 or values.shape[1] != len(grid_shape) or values.shape[0] < 1:
        raise ValueError(
            f"sensors must be node indices of shape (n_sensors, {len(grid_shape)}) for the "
            f"grid {grid_shape}; got shape {values.shape}"
        )
    if not np.issubdtype(values.dtype, np.integer):
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise ValueError(
                f"sensors must be integer node indices on the grid {grid_shape}; got "
                f"non-integer values such as {values[values != np.round(values)][:3].tolist()}"
            )
        values = values.astype(int)
    off = np.any((values < 0) | (values >= np.asarray(grid_shape)), axis=1)
    if np.any(off):
        raise ValueError(
            f"sensors must lie on the grid {grid_shape} (indices 0 .. n - 1 per axis); "
            f"{int(off.sum())} lie off it, e.g. {values[off][0].tolist()}"
        )
    return values


def observe(field: Float[Array, "*grid"], sensors: Int[ArrayLike, "n d"]) -> Float[Array, " n"]:
    """The values of ``field`` at the sensor nodes: ``(*grid) -> (n,)``."""
    sensors = jnp.asarray(sensors)
    return field[tuple(sensors[:, axis] for axis in range(sensors.shape[1]))]


def check_observations(
    observations: ArrayLike, sensors: np.ndarray, name: str = "observations"
) -> Float[Array, " n"]:
    """Return ``observations`` as an array, or raise for a wrong shape or a non-finite value.

    Raises:
        ValueError: the shape is not ``(n_sensors,)``, or a value is NaN or infinite.
    """
    values = np.asarray(observations)
    if values.shape != (len(sensors),):
        raise ValueError(
            f"{name} must hold one value per sensor, shape ({len(sensors)},); got shape "
            f"{values.shape}"
        )
    n_nan, n_inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    if n_nan or n_inf:
        raise ValueError(f"{name} must be finite; got {n_nan} NaN and {n_inf} infinite values")
    return jnp.asarray(values)


# ------------------------------------------------------------------ misfit and prior


def misfit(
    predicted: Float[Array, " n"], observed: Float[Array, " n"], noise_std: float | Array
) -> Float[Array, ""]:
    """The Gaussian data misfit ``|predicted - observed|^2 / (2 sigma^2)``."""
    return 0.5 * jnp.sum(((predicted - observed) / noise_std) ** 2)


def gaussian_prior(latent: Float[Array, ...]) -> Float[Array, ""]:
    """``|z|^2 / 2``: minus the log density of the whitened prior ``z ~ N(0, I)``."""
    return 0.5 * jnp.sum(latent**2)


class Posterior(eqx.Module):
    """The negative log posterior ``Phi(z) = misfit(O(G(T(z))), y) + w |z|^2 / 2``.

    ``parameterisation: z -> x`` and ``forward: x -> state`` are equinox modules (or
    any callables that jit); ``sensors`` are ``(n, d)`` node indices of the state's
    grid and ``observations`` the ``(n,)`` noisy values there. ``prior_weight`` ``w``
    is 1 for the Bayesian MAP; other values turn it into Tikhonov regularisation.
    """

    parameterisation: Callable
    forward: Callable
    sensors: Int[Array, "n d"]
    observations: Float[Array, " n"]
    noise_std: Float[Array, ""]
    prior_weight: float = eqx.field(static=True, default=1.0)

    def __init__(
        self,
        parameterisation: Callable,
        forward: Callable,
        sensors: ArrayLike,
        observations: ArrayLike,
        noise_std: float,
        grid_shape: Sequence[int],
        *,
        prior_weight: float = 1.0,
    ):
        sensors = check_sensors(sensors, grid_shape)
        observations = check_observations(observations, sensors)
        if not (np.isfinite(noise_std) and noise_std > 0):
            raise ValueError(f"noise_std must be finite and > 0; got {noise_std!r}")
        if not (np.isfinite(prior_weight) and prior_weight >= 0):
            raise ValueError(f"prior_weight must be finite and >= 0; got {prior_weight!r}")
        self.parameterisation = parameterisation
        self.forward = forward
        self.sensors = jnp.asarray(sensors)
        self.observations = observations
        self.noise_std = jnp.asarray(float(noise_std))
        self.prior_weight = float(prior_weight)

    def predict(self, latent: Float[Array, "*latent"]) -> Float[Array, " n"]:
        """``O(G(T(z)))``: the state at the sensors."""
        return observe(self.forward(self.parameterisation(latent)), self.sensors)

    def misfit(self, latent: Float[Array, "*latent"]) -> Float[Array, ""]:
        observations = self.observations.astype(latent.dtype)
        return misfit(self.predict(latent), observations, self.noise_std.astype(latent.dtype))

    def prior(self, latent: Float[Array, "*latent"]) -> Float[Array, ""]:
        return self.prior_weight * gaussian_prior(latent)

    def __call__(self, latent: Float[Array, "*latent"]) -> Float[Array, ""]:
        return self.misfit(latent) + self.prior(latent)


# ------------------------------------------------------------------------ optimisation

OPTIMIZERS = ("lbfgs", "adam")


@dataclasses.dataclass(frozen=True)
class Recovery:
    """What :func:`recover` returns.

    Attributes:
        estimate: the final latent.
        history: per iteration (the iterate before the update): ``loss``,
            ``grad_norm``, and for a :class:`Posterior` also ``misfit`` and ``prior``;
            ``seconds`` since the start (compilation included).
        iterations: optimiser steps taken.
        seconds: wall time of the whole loop, compilation included.
        converged: whether the gradient-norm tolerance was met.
    """

    estimate: Array
    history: dict[str, list[float]]
    iterations: int
    seconds: float
    converged: bool


def _make_optimizer(optimizer, learning_rate: float):
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer, "custom"
    if optimizer in OPTIMIZERS:
        return _built_in(optimizer, float(learning_rate)), optimizer
    raise ValueError(
        f"optimizer must be one of {OPTIMIZERS} or an optax.GradientTransformation; "
        f"got {optimizer!r}"
    )


@functools.lru_cache(maxsize=16)
def _built_in(name: str, learning_rate: float) -> optax.GradientTransformation:
    """One optax object per built-in optimiser and rate: the compiled steps take it as a
    static argument, so a new object for every ``recover`` call (a sweep over viscosity or
    noise) would compile the step again each time."""
    return optax.lbfgs() if name == "lbfgs" else optax.adam(learning_rate)


@eqx.filter_jit
def _lbfgs_step(objective, optimizer, latent, state):
    value, grad = optax.value_and_grad_from_state(objective)(latent, state=state)
    updates, state = optimizer.update(
        grad, state, latent, value=value, grad=grad, value_fn=objective
    )
    return optax.apply_updates(latent, updates), state, value, grad


@eqx.filter_jit
def _gradient_step(objective, optimizer, latent, state):
    value, grad = jax.value_and_grad(objective)(latent)
    if isinstance(optimizer, optax.GradientTransformationExtraArgs):
        updates, state = optimizer.update(
            grad, state, latent, value=value, grad=grad, value_fn=objective
        )
    else:
        updates, state = optimizer.update(grad, state, latent)
    return optax.apply_updates(latent, updates), state, value, grad


@eqx.filter_jit
def _prior_term(objective, latent):
    return objective.prior(latent)


def recover(
    objective: Callable[[Array], Array],
    initial: Float[ArrayLike, "*latent"],
    *,
    optimizer: str | optax.GradientTransformation = "lbfgs",
    steps: int = 200,
    learning_rate: float = 1e-2,
    gtol: float = 1e-5,
    callback: Callable[[int, dict[str, list[float]]], None] | None = None,
) -> Recovery:
    r"""Minimise ``objective(z)`` from ``initial`` with optax; return the estimate and history.

    ``"lbfgs"`` is ``optax.lbfgs`` (limited-memory BFGS, Liu & Nocedal 1989, memory 10,
    with a zoom line search satisfying the strong Wolfe conditions); ``"adam"`` is
    ``optax.adam(learning_rate)``; any other optax transformation is used as given
    (extra-argument ones receive ``value``, ``grad`` and ``value_fn``). Each step is one
    compiled call; the loop stops after ``steps`` steps, or once
    ``|grad| <= gtol * max(1, |grad_0|)``.

    Args:
        objective: a scalar function of one array (an equinox module, such as a
            :class:`Posterior`, or a function); it is traced once.
        initial: the starting latent.
        optimizer: ``"lbfgs"``, ``"adam"`` or an ``optax.GradientTransformation``.
        steps: the most optimiser steps.
        learning_rate: Adam's step size (unused by L-BFGS, which line-searches).
        gtol: relative gradient-norm tolerance.
        callback: called as ``callback(step, history)`` after each step.

    Returns:
        A :class:`Recovery`.
    """
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise ValueError(f"recover expects steps to be an integer >= 1; got {steps!r}")
    latent = jnp.asarray(initial)
    if not jnp.issubdtype(latent.dtype, jnp.floating):
        raise ValueError(f"recover expects a real floating initial latent; got {latent.dtype}")
    if not bool(jnp.all(jnp.isfinite(latent))):
        raise ValueError("recover expects a finite initial latent; got NaN or infinite values")
    transform, kind = _make_optimizer(optimizer, learning_rate)
    step_fn = _lbfgs_step if kind == "lbfgs" else _gradient_step
    split = isinstance(objective, Posterior)
    # optax initialises some scalars as weakly typed and updates them strongly typed; one
    # type from the start keeps the step to one compilation
    state = jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.result_type(x)), transform.init(latent))
    history: dict[str, list[float]] = {"loss": [], "grad_norm": [], "seconds": []}
    if split:
        history.update(misfit=[], prior=[])
    started = time.perf_counter()
    converged, first_norm, iterations = False, None, 0
    for iterations in range(1, steps + 1):
        previous = latent
        latent, state, value, grad = step_fn(objective, transform, latent, state)
        value, grad_norm = float(value), float(jnp.linalg.norm(grad))
        if not np.isfinite(value):
            raise FloatingPointError(
                f"recover: the objective became {value} at step {iterations}; the forward "
                "map left its stable range (try a smaller step or Adam)"
            )
        history["loss"].append(value)
        history["grad_norm"].append(grad_norm)
        if split:
            prior = float(_prior_term(objective, previous))
            history["prior"].append(prior)
            history["misfit"].append(value - prior)
        history["seconds"].append(time.perf_counter() - started)
        if callback is not None:
            callback(iterations, history)
        first_norm = grad_norm if first_norm is None else first_norm
        if grad_norm <= gtol * max(1.0, first_norm):
            converged, latent = True, previous  # the gradient was measured at `previous`
            break
    return Recovery(
        estimate=latent,
        history=history,
        iterations=iterations,
        seconds=time.perf_counter() - started,
        converged=converged,
    )


def relative_error(estimate: ArrayLike, truth: ArrayLike) -> float:
    """``|estimate - truth|_2 / |truth|_2`` over all entries."""
    estimate, truth = np.asarray(estimate, float), np.asarray(truth, float)
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


def summary(posterior: Posterior, latent: Array) -> dict[str, Any]:
    """The misfit, the prior term and the root-mean-square data residual at ``latent``."""
    residual = np.asarray(posterior.predict(latent)) - np.asarray(posterior.observations)
    rms = float(np.sqrt(np.mean(residual**2)))
    return {
        "misfit": float(posterior.misfit(latent)),
        "prior": float(posterior.prior(latent)),
        "rms_residual_over_noise": rms / float(posterior.noise_std),
    }
