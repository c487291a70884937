"""Relative Lp and H1 losses: exact values, invariances, analytic Fourier-mode errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.train import losses

# compiled once each: eager evaluation would compile every primitive separately
relative_l2 = jax.jit(losses.relative_l2)
relative_h1 = jax.jit(losses.relative_h1, static_argnames="length")
relative_lp = jax.jit(losses.relative_lp, static_argnames="p")


@pytest.fixture
def fields():
    rng = np.random.default_rng(1)
    return rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((2, 3, 8, 8))


def test_relative_l2_of_zero_prediction_is_one_and_of_exact_prediction_is_zero(fields):
    _, target = fields
    assert float(relative_l2(jnp.zeros_like(target), target)) == pytest.approx(1.0, rel=1e-12)
    assert float(relative_l2(target, target)) == 0.0


def test_relative_l2_is_invariant_to_a_common_scale(fields):
    pred, target = fields
    assert float(relative_l2(1e3 * pred, 1e3 * target)) == pytest.approx(
        float(relative_l2(pred, target)), rel=1e-12
    )


@pytest.mark.parametrize("p", [1, 2, 3, np.inf])
def test_relative_lp_matches_numpy(fields, p):
    pred, target = fields
    expected = np.linalg.norm((pred - target).ravel(), p) / np.linalg.norm(target.ravel(), p)
    assert float(relative_lp(pred, target, p=p)) == pytest.approx(expected, rel=1e-12)


def test_relative_lp_rejects_mismatched_shapes_and_small_p(fields):
    pred, target = fields
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3, 8, 8\) and \(3, 8, 8\)"):
        losses.relative_l2(pred, target[0])
    with pytest.raises(ValueError, match="p >= 1"):
        losses.relative_lp(pred, target, p=0.5)


def test_gradient_at_an_exact_prediction_is_zero_not_nan(fields):
    _, target = fields
    for loss in (losses.relative_l2, losses.relative_h1):
        grad = jax.jit(jax.grad(loss))(target, target)
        np.testing.assert_array_equal(grad, np.zeros_like(target))


def test_gradient_of_relative_l2_matches_finite_differences(fields):
    pred, target = fields
    direction = np.random.default_rng(2).standard_normal(pred.shape)
    h = 1e-6
    numeric = (
        relative_l2(pred + h * direction, target) - relative_l2(pred - h * direction, target)
    ) / (2 * h)
    analytic = jnp.vdot(jax.jit(jax.grad(losses.relative_l2))(pred, target), direction)
    assert float(analytic) == pytest.approx(float(numeric), rel=1e-6)


def test_relative_h1_of_one_fourier_mode_error_in_1d():
    n, eps = 32, 1e-2
    x = np.arange(n) / n
    target = np.sin(2 * np.pi * x)[None]
    pred = target + eps * np.sin(2 * np.pi * 3 * x)[None]
    expected = np.sqrt((1 + (6 * np.pi) ** 2) * eps**2 / (1 + (2 * np.pi) ** 2))
    assert float(relative_h1(pred, target)) == pytest.approx(expected, rel=1e-10)
    # the L2 part alone would be eps; the H1 weight favours the higher mode
    assert float(relative_l2(pred, target)) == pytest.approx(eps, rel=1e-10)


def test_relative_h1_uses_the_domain_length_of_each_axis():
    # on [0, 1) x [0, 2): target sin(2πx), error eps sin(2π·3y/2), so |k| = 2π and 3π
    n, m, eps = 16, 24, 1e-3
    x = (np.arange(n) / n)[:, None]
    y = (2 * np.arange(m) / m)[None, :]
    target = np.broadcast_to(np.sin(2 * np.pi * x), (n, m))[None]
    pred = target + eps * np.sin(3 * np.pi * y)[None]
    expected = np.sqrt((1 + (3 * np.pi) ** 2) * eps**2 / (1 + (2 * np.pi) ** 2))
    assert float(relative_h1(pred, target, length=(1.0, 2.0))) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="one per spatial axis"):
        relative_h1(pred, target, length=(1.0, 2.0, 3.0))


def test_relative_h1_keeps_float32():
    target = jnp.ones((1, 8, 8), jnp.float32)
    assert relative_h1(target * 1.1, target).dtype == jnp.float32
