"""DGNO: the batched decoders and their gradients, the virtual observables against the
independent weak-form module, the loss's gradient, and the inverse problem."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.inverse.dgno import invert_dgno
from sciml.models.dgno import (
    DGNO,
    _values_and_gradients,
    ball_rule,
    dgno_loss,
    grid_nodes,
    physics_residuals,
)
from sciml.solvers.weak_form import darcy_mixed_residuals, lattice_centres

SIZE = 9


def small(dtype=jnp.float32):
    model = DGNO(
        SIZE,
        latent=6,
        width=8,
        n_layers=2,
        encoder_widths=(16,),
        a_low=4.0,
        a_high=12.0,
        source=2.0,
        key=jax.random.key(0),
    )
    return jax.tree.map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, model)


def coefficients(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.where(rng.random((n, 1, SIZE, SIZE)) > 0.5, 12.0, 4.0).astype(np.float32)


def test_batched_decoders_and_their_gradients_are_the_networks():
    model = small()
    betas = jax.random.uniform(jax.random.key(1), (3, 6), minval=-1, maxval=1)
    x = jax.random.uniform(jax.random.key(2), (5, 2))

    @eqx.filter_jit
    def reference(model, betas, x):
        def jacobian(beta, point):
            return jax.jacfwd(lambda y: model.flux(beta, y[None])[:, 0])(point)  # (C, 2)

        values = jax.vmap(lambda beta: model.flux(beta, x))(betas)
        jacobians = jax.vmap(lambda beta: jax.vmap(lambda p: jacobian(beta, p))(x))(betas)
        return values, jnp.moveaxis(jacobians, 1, 2)  # (B, C, P, 2)

    values, gradients = eqx.filter_jit(_values_and_gradients)(model.flux, betas, x)
    expected_values, expected_gradients = reference(model, betas, x)
    np.testing.assert_allclose(values, expected_values, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradients, expected_gradients, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("decoded", [False, True])
def test_virtual_observables_agree_with_the_weak_form_module(decoded):
    """physics_residuals (scaled, batched, shared trunk) against darcy_mixed_residuals
    of the same fields in physical units: r1 = f² r1_module, r2 = r2_module / (f R² ∫φ)."""
    model = small()
    a = coefficients(2)
    betas = jax.vmap(model.encode)(jnp.asarray(a))
    radius = 0.05
    centres = lattice_centres(3, radius)
    rule = ball_rule()
    r1, r2 = physics_residuals(
        model, betas, None if decoded else jnp.asarray(a[:, 0]), centres, radius, rule
    )
    f = model.source
    ball_integral = radius**2 * float(jnp.sum(rule.weights * rule.phi))
    for b, beta in enumerate(betas):

        def u(x, beta=beta):
            return model.pressure(beta, x[None])[0]

        def flux(x, beta=beta):
            return f * model.scaled_flux(beta, x[None])[0]

        if decoded:

            def coefficient(x, beta=beta):
                return model.coefficient(beta, x[None])[0]
        else:
            nodes = jnp.asarray(a[b, 0])

            def coefficient(x, nodes=nodes):
                index = jnp.clip(jnp.round(x * (SIZE - 1)).astype(int), 0, SIZE - 1)
                return nodes[index[0], index[1]]

        m1, m2 = darcy_mixed_residuals(u, flux, coefficient, f, centres, radius)
        np.testing.assert_allclose(f**2 * r1[b], m1, rtol=2e-4, atol=1e-9)
        np.testing.assert_allclose(r2[b] * f * ball_integral, m2, rtol=2e-4, atol=1e-9)


def test_the_loss_gradient_matches_finite_differences():
    if True:  # float64 (the suite's conftest enables it)
        model = small(jnp.float64)
        a = jnp.asarray(coefficients(2, seed=1), jnp.float64)
        u = jnp.ones_like(a) * 0.01
        centres = lattice_centres(2, 0.1, dtype=jnp.float64)
        rule = ball_rule()
        rule = type(rule)(*(jnp.asarray(x, jnp.float64) for x in rule))
        params, static = eqx.partition(model, eqx.is_array)

        def loss(params):
            weights = None
            value, _ = dgno_loss(eqx.combine(params, static), a, u, centres, 0.1, rule, weights)
            return value

        loss = jax.jit(loss)
        grads = jax.grad(loss)(params)
        direction = jax.tree.map(
            lambda x: jax.random.normal(jax.random.key(x.size), x.shape, x.dtype), params
        )
        h = 1e-6
        plus = jax.tree.map(lambda p, d: p + h * d, params, direction)
        minus = jax.tree.map(lambda p, d: p - h * d, params, direction)
        numeric = (loss(plus) - loss(minus)) / (2 * h)
        analytic = sum(
            jnp.sum(g * d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction))
        )
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


def test_the_model_maps_a_coefficient_to_a_pressure_that_vanishes_on_the_boundary():
    model = small()
    u = eqx.filter_jit(model)(jnp.asarray(coefficients(1)[0]))
    assert u.shape == (1, SIZE, SIZE)
    for edge in (u[0, 0], u[0, -1], u[0, :, 0], u[0, :, -1]):
        np.testing.assert_allclose(edge, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match=r"coefficient of shape \(1, 9, 9\)"):
        model.encode(jnp.zeros((1, 8, 8)))
    with pytest.raises(ValueError, match="0 < a_low < a_high"):
        DGNO(SIZE, a_low=5.0, a_high=5.0, key=jax.random.key(0))


def test_the_inversion_recovers_data_made_by_the_model_itself():
    """Pressures decoded from a known latent, observed with little noise: the MAP fits
    them to the noise level, and the Laplace spread is finite and positive."""
    model = small()
    z_true = 0.5 * jax.random.normal(jax.random.key(3), (6,))
    nodes = grid_nodes(SIZE)
    u_true = np.asarray(model.pressure(jnp.tanh(z_true), nodes)).reshape(SIZE, SIZE)
    sensors = np.stack(
        np.meshgrid(np.arange(1, 8, 2), np.arange(1, 8, 2), indexing="ij"), -1
    ).reshape(-1, 2)
    clean = u_true[sensors[:, 0], sensors[:, 1]]
    sigma = 1e-2 * float(np.sqrt(np.mean(clean**2)))
    observations = clean + sigma * np.random.default_rng(0).standard_normal(clean.shape)
    posterior = invert_dgno(
        model,
        sensors,
        observations,
        sigma,
        residual_scales=(1e3, 1e3),
        steps=600,
        centres_per_axis=2,
        radius=0.1,
        samples=32,
    )
    fitted = posterior.u_estimate[sensors[:, 0], sensors[:, 1]]
    assert np.sqrt(np.mean((fitted - observations) ** 2)) < 3 * sigma
    assert np.all(np.isfinite(posterior.a_spread)) and np.all(posterior.a_spread > 0)
    assert posterior.history[-1] < posterior.history[0]
    with pytest.raises(ValueError, match="node indices"):
        invert_dgno(model, sensors + 20, observations, sigma, residual_scales=(1.0, 1.0))
