"""Burgers initial condition: the gradient through the spectral solver, and the prior field."""

import logging

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sciml.fields import periodic_grf_spectrum
from sciml.inverse import BurgersSolver, PeriodicField, Posterior, recover, uniform_sensors

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


def _posterior(nu):
    """A float64 posterior whose data come from the solver at ``nu = 0.1``."""
    field = PeriodicField((N,), alpha=2.0, tau=5.0, sigma=25.0, dtype=jnp.float64)
    truth = BurgersSolver(nu=0.1, t_final=0.2, dt=0.01)(
        field(jax.random.normal(jax.random.key(2), (N,), jnp.float64))
    )
    sensors = uniform_sensors((N,), 8, interior=False)
    observations = np.asarray(truth)[sensors[:, 0]]
    solver = BurgersSolver(nu=nu, t_final=0.2, dt=0.01)
    return Posterior(field, solver, sensors, observations, 0.01, (N,))


def test_viscosity_sweep_compiles_once():
    """nu is traced: one trace of the jitted value-and-gradient serves every viscosity."""
    traces = []

    @eqx.filter_jit
    def value_and_gradient(posterior, latent):
        traces.append(None)  # runs once per trace, never in the compiled program
        return jax.value_and_grad(posterior)(latent)

    latent = jax.random.normal(jax.random.key(3), (N,), jnp.float64)
    nus = (0.05, 0.1, 0.2)
    swept = [value_and_gradient(_posterior(nu), latent) for nu in nus]
    assert len(traces) == 1
    values = [float(value) for value, _ in swept]
    assert len(set(values)) == len(nus), values  # the viscosity reached the solve
    for nu, (value, gradient) in zip(nus, swept):
        fresh_value, fresh_gradient = jax.value_and_grad(_posterior(nu))(latent)
        np.testing.assert_allclose(value, fresh_value, rtol=1e-12)
        np.testing.assert_allclose(gradient, fresh_gradient, rtol=1e-10, atol=1e-12)


def test_gradient_with_respect_to_viscosity_matches_central_differences():
    """d misfit / d nu through the ETDRK4 coefficients (computed from the traced nu), float64."""
    latent = jax.random.normal(jax.random.key(4), (N,), jnp.float64)

    @eqx.filter_jit
    def loss(posterior):
        return posterior(latent)

    posterior = _posterior(0.07)
    derivative = float(eqx.filter_grad(loss)(posterior).forward.nu)
    h = 1e-6
    central = (float(loss(_posterior(0.07 + h))) - float(loss(_posterior(0.07 - h)))) / (2 * h)
    assert abs(derivative) > 1.0  # the data were made at nu = 0.1, so the misfit moves
    assert abs(derivative - central) <= 1e-6 * abs(central), (derivative, central)


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


def test_recovery_over_a_viscosity_sweep_compiles_its_step_once(caplog):
    """One L-BFGS step program serves every viscosity and every iteration: the built-in
    optimiser is one object and its state one type from the first step."""
    with caplog.at_level(logging.WARNING, logger="jax"), jax.log_compiles():
        for nu in (0.05, 0.1, 0.2):
            recover(_posterior(nu), jnp.zeros(N, jnp.float64), steps=3)
    compiled = [r for r in caplog.records if "compilation of jit(_lbfgs_step)" in r.getMessage()]
    assert len(compiled) == 1, [r.getMessage() for r in compiled]
