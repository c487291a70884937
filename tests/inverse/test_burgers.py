"""Burgers initial condition: the gradient through the spectral solver, and the prior field."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sciml.fields import periodic_grf_spectrum
from sciml.inverse import BurgersSolver, PeriodicField, Posterior, uniform_sensors

N = 32


@eqx.filter_jit
def _value(posterior, latent):
    return posterior(latent)


@eqx.filter_jit
def _gradient(posterior, latent):
    return jax.grad(posterior)(latent)


def test_solver_misfit_gradient_matches_central_differences():
    """Reverse mode through the ETDRK4 scan against central differences, float64."""
    field = PeriodicField((N,), alpha=2.0, tau=5.0, sigma=25.0, dtype=jnp.float64)
    solver = BurgersSolver(nu=0.1, t_final=0.2, dt=0.01)
    key_truth, key_point, key_directions = jax.random.split(jax.random.key(0), 3)
    truth = solver(field(jax.random.normal(key_truth, (N,), jnp.float64)))
    sensors = uniform_sensors((N,), 8, interior=False)
    observations = np.asarray(truth)[sensors[:, 0]]
    posterior = Posterior(field, solver, sensors, observations, 0.01, (N,))
    latent = jax.random.normal(key_point, (N,), jnp.float64)
    grad = _gradient(posterior, latent)
    h = 1e-5
    for direction in jax.random.normal(key_directions, (3, N), jnp.float64):
        central = (
            _value(posterior, latent + h * direction) - _value(posterior, latent - h * direction)
        ) / (2 * h)
        directional = jnp.vdot(grad, direction)
        assert abs(float(central - directional)) <= 1e-6 * abs(float(directional))


def test_periodic_field_has_the_generators_spectrum():
    """White noise through PeriodicField has E|fft(u)_k|^2 = S_k of periodic_grf_spectrum."""
    field = PeriodicField((N,), alpha=2.0, tau=5.0, sigma=25.0, dtype=jnp.float64)
    noise = jax.random.normal(jax.random.key(1), (4000, N), jnp.float64)
    samples = jax.vmap(field)(noise)
    measured = np.mean(np.abs(np.fft.fft(np.asarray(samples), axis=1)) ** 2, axis=0)
    expected = np.asarray(periodic_grf_spectrum((N,), alpha=2.0, tau=5.0, sigma=25.0))
    kept = expected > 0
    # 4000 samples: each mode's mean has a relative standard error of about 1/sqrt(2000)
    np.testing.assert_allclose(measured[kept], expected[kept], rtol=0.12)
    assert measured[0] < 1e-20
    np.testing.assert_allclose(field(field.whiten(samples[0])), samples[0], atol=1e-12)
