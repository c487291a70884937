"""Navier–Stokes initial vorticity: the gradient through the pseudo-spectral solver."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sciml.inverse import NavierStokesSolver, PeriodicField, Posterior, uniform_sensors

S = 16


@eqx.filter_jit
def _value(posterior, latent):
    return posterior(latent)


@eqx.filter_jit
def _gradient(posterior, latent):
    return jax.grad(posterior)(latent)


def test_solver_misfit_gradient_matches_central_differences():
    """Reverse mode through the ETDRK4 rollout (T = 2, 7 x 7 sensors), float64."""
    field = PeriodicField((S, S), alpha=2.5, tau=7.0, dtype=jnp.float64)
    solver = NavierStokesSolver(S, nu=1e-3, t_final=2, dt=0.25)
    key_truth, key_point, key_directions = jax.random.split(jax.random.key(0), 3)
    truth = _state(field, solver, jax.random.normal(key_truth, (S, S), jnp.float64))
    sensors = uniform_sensors((S, S), 7, interior=False)
    observations = np.asarray(truth)[sensors[:, 0], sensors[:, 1]]
    posterior = Posterior(field, solver, sensors, observations, 0.01, (S, S))
    latent = jax.random.normal(key_point, (S, S), jnp.float64)
    grad = _gradient(posterior, latent)
    h = 1e-5
    for direction in jax.random.normal(key_directions, (3, S, S), jnp.float64):
        central = (
            _value(posterior, latent + h * direction) - _value(posterior, latent - h * direction)
        ) / (2 * h)
        directional = jnp.vdot(grad, direction)
        assert abs(float(central - directional)) <= 1e-6 * abs(float(directional))


@eqx.filter_jit
def _state(field, solver, latent):
    return solver(field(latent))


def test_viscosity_sweep_compiles_once_and_differentiates():
    """nu is traced: one trace serves every viscosity, and d w(T) / d nu matches central
    differences (float64)."""
    traces = []

    @eqx.filter_jit
    def loss(solver, w0):
        traces.append(None)  # runs once per trace, never in the compiled program
        return jnp.sum(solver(w0) ** 2)

    w0 = PeriodicField((S, S), alpha=2.5, tau=7.0, dtype=jnp.float64)(
        jax.random.normal(jax.random.key(1), (S, S), jnp.float64)
    )
    nus = (1e-3, 1e-2, 3e-2)
    swept = [float(loss(NavierStokesSolver(S, nu=nu, t_final=1, dt=0.25), w0)) for nu in nus]
    assert len(traces) == 1
    assert len(set(swept)) == len(nus), swept
    for nu, value in zip(nus, swept):
        fresh = NavierStokesSolver(S, nu=nu, t_final=1, dt=0.25)(w0)
        np.testing.assert_allclose(value, jnp.sum(fresh**2), rtol=1e-12)
    solver = NavierStokesSolver(S, nu=1e-2, t_final=1, dt=0.25)
    derivative = float(eqx.filter_grad(loss)(solver, w0).nu)
    h = 1e-6
    central = (
        float(loss(NavierStokesSolver(S, nu=1e-2 + h, t_final=1, dt=0.25), w0))
        - float(loss(NavierStokesSolver(S, nu=1e-2 - h, t_final=1, dt=0.25), w0))
    ) / (2 * h)
    assert derivative < 0  # viscosity damps the vorticity
    assert abs(derivative - central) <= 1e-6 * abs(central), (derivative, central)
