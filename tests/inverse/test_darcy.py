"""Darcy permeability: adjoint gradients against finite differences, recovery of a smooth
coefficient, and the gradient direction of a trained surrogate against the solver's."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.inverse import (
    DarcySolver,
    Posterior,
    SmoothThreshold,
    Surrogate,
    classification_accuracy,
    recover,
    uniform_sensors,
)
from sciml.models import FNO
from sciml.train import TrainConfig, fit

S = 17


@eqx.filter_jit
def _exact_state(parameterisation, latent):
    return DarcySolver(rtol=1e-12)(parameterisation(latent))


@eqx.filter_jit
def _value(posterior, latent):
    return posterior(latent)


@eqx.filter_jit
def _misfit_gradient(posterior, latent):
    return jax.grad(posterior.misfit)(latent)


def _posterior(
    parameterisation, truth_latent, forward=None, sensors_per_axis=5, noise=0.0, prior_weight=1.0
):
    forward = DarcySolver(rtol=1e-12) if forward is None else forward
    sensors = uniform_sensors((S, S), sensors_per_axis)
    state = _exact_state(parameterisation, truth_latent)
    observations = np.asarray(state)[sensors[:, 0], sensors[:, 1]]
    sigma = 1e-3 * float(np.sqrt(np.mean(observations**2)))
    rng = np.random.default_rng(0)
    observations = observations + noise * sigma * rng.standard_normal(observations.shape)
    return Posterior(
        parameterisation, forward, sensors, observations, sigma, (S, S), prior_weight=prior_weight
    )


def test_solver_misfit_gradient_matches_central_differences():
    """The adjoint gradient of Phi(z) against (Phi(z + h d) - Phi(z - h d)) / 2h, float64."""
    parameterisation = SmoothThreshold(S, 6, width=0.2, dtype=jnp.float64)
    key_truth, key_point, key_directions = jax.random.split(jax.random.key(0), 3)
    posterior = _posterior(parameterisation, jax.random.normal(key_truth, (6, 6), jnp.float64))
    latent = jax.random.normal(key_point, (6, 6), jnp.float64)
    grad = _misfit_gradient(posterior, latent) + latent  # the prior's gradient is z
    h = 1e-5
    for direction in jax.random.normal(key_directions, (3, 6, 6), jnp.float64):
        forward, backward = latent + h * direction, latent - h * direction
        central = (_value(posterior, forward) - _value(posterior, backward)) / (2 * h)
        directional = jnp.vdot(grad, direction)
        assert abs(float(central - directional)) <= 1e-6 * abs(float(directional))


def test_noise_free_smooth_coefficient_is_recovered():
    """A smooth coefficient (wide sigmoid), every interior node observed without noise and
    no prior: the MAP is the truth, to 1e-4 relative in L2."""
    parameterisation = SmoothThreshold(S, 4, width=1.0, dtype=jnp.float64)
    truth_latent = jax.random.normal(jax.random.key(1), (4, 4), jnp.float64)
    posterior = _posterior(parameterisation, truth_latent, sensors_per_axis=S - 2, prior_weight=0)
    result = recover(posterior, jnp.zeros((4, 4), jnp.float64), steps=200, gtol=1e-12)
    truth, estimate = parameterisation(truth_latent), parameterisation(result.estimate)
    error = float(jnp.linalg.norm(estimate - truth) / jnp.linalg.norm(truth))
    assert error < 1e-4, error
    assert result.history["misfit"][-1] < 1e-6 * result.history["misfit"][0]


def test_threshold_and_accuracy():
    parameterisation = SmoothThreshold(S, 8)
    latent = jax.random.normal(jax.random.key(2), (8, 8))
    binary = np.asarray(parameterisation.threshold(latent))
    assert set(np.unique(binary)) <= {4.0, 12.0}
    smooth = np.asarray(parameterisation(latent))
    assert smooth.min() > 4 and smooth.max() < 12
    assert classification_accuracy(smooth, binary) > 0.95
    assert classification_accuracy(binary, 16.0 - binary) == 0.0
    with pytest.raises(ValueError, match="one shape"):
        classification_accuracy(binary, binary[1:])


# ------------------------------------------------------------------- surrogate gradients


MODES, WIDTH = 6, 0.1


@pytest.fixture(scope="module")
def trained_surrogate():
    """An FNO a -> u trained on 17 x 17 Darcy solutions of smoothly thresholded fields,
    the coefficients the inversion visits (300 to train, 100 to test, 20 epochs): about 4 %
    relative L2 on the held-out samples."""
    parameterisation = SmoothThreshold(S, MODES, width=WIDTH)
    latents = jax.random.normal(jax.random.key(3), (400, MODES, MODES))
    a = jax.vmap(parameterisation)(latents)
    u = jax.jit(jax.vmap(lambda c: DarcySolver()(c)))(a)
    a, u = np.asarray(a)[:, None], np.asarray(u)[:, None] * 100.0  # u = O(1) for the network
    model = FNO(1, 1, (8, 8), width=12, n_layers=3, projection_channels=32, key=jax.random.key(4))
    config = TrainConfig(
        epochs=20, batch_size=20, learning_rate=5e-3, weight_decay=0.0, schedule="onecycle"
    )
    model, history = fit(
        model, (a[:300], u[:300]), (a[300:], u[300:]), config=config, progress=False
    )
    return parameterisation, _Scaled(model, 0.01), history["test_l2"][-1]


class _Scaled(eqx.Module):
    model: eqx.Module
    factor: float = eqx.field(static=True)

    def __call__(self, x):
        return self.factor * self.model(x)


def test_surrogate_and_solver_agree_on_the_gradient_direction(trained_surrogate):
    parameterisation, model, test_error = trained_surrogate
    assert test_error < 0.06, f"the surrogate did not train: test relative L2 {test_error}"
    key_truth, key_points = jax.random.split(jax.random.key(5))
    truth = jax.random.normal(key_truth, (MODES, MODES))
    solver_posterior = _posterior(parameterisation, truth, noise=10.0)
    surrogate_posterior = eqx.tree_at(lambda p: p.forward, solver_posterior, Surrogate(model))
    cosines = []
    for latent in jax.random.normal(key_points, (8, MODES, MODES)):
        g_solver = _misfit_gradient(solver_posterior, latent)
        g_surrogate = _misfit_gradient(surrogate_posterior, latent)
        cosine = jnp.vdot(g_solver, g_surrogate) / (
            jnp.linalg.norm(g_solver) * jnp.linalg.norm(g_surrogate)
        )
        cosines.append(float(cosine))
    # Measured: test L2 0.038, cosines 0.62 at one point and 0.96-0.997 at the other seven
    # (mean 0.94). Every surrogate gradient must be a descent direction of the solver's
    # misfit, and on average the directions must agree closely.
    print("surrogate test L2", test_error, "cosines", np.round(cosines, 4))
    assert min(cosines) > 0, cosines
    assert np.mean(cosines) > 0.9, cosines
