"""Sensors, misfit, prior, Posterior and recover on a problem with a closed-form MAP."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.inverse import (
    Posterior,
    check_sensors,
    gaussian_prior,
    misfit,
    observe,
    recover,
    uniform_sensors,
)


def test_uniform_sensors_are_interior_and_evenly_spaced():
    sensors = uniform_sensors((43, 43), 8)
    assert sensors.shape == (64, 2)
    assert sensors.min() >= 1 and sensors.max() <= 41
    rows = np.unique(sensors[:, 0])
    assert len(rows) == 8
    gaps = np.diff(np.concatenate([[0], rows, [42]]))
    assert gaps.max() - gaps.min() <= 1  # uniform up to rounding to nodes


def test_periodic_sensors_cover_the_grid_evenly():
    sensors = uniform_sensors((32, 32), 8, interior=False)
    np.testing.assert_array_equal(np.unique(sensors[:, 1]), np.arange(0, 32, 4))


class _Linear(eqx.Module):
    matrix: jax.Array

    def __call__(self, x):
        return (self.matrix @ x.ravel()).reshape(6, 6)


def _linear_problem(key):
    """A linear-Gaussian posterior: its MAP solves (A^T A / s^2 + I) z = A^T y / s^2."""
    k1, k2 = jax.random.split(key)
    matrix = jax.random.normal(k1, (36, 10), jnp.float64)
    sensors = uniform_sensors((6, 6), 4)
    data = jax.random.normal(k2, (16,), jnp.float64)
    sigma = 0.3
    posterior = Posterior(lambda z: z, _Linear(matrix), sensors, data, sigma, (6, 6))
    rows = sensors[:, 0] * 6 + sensors[:, 1]
    observed = np.asarray(matrix)[rows]
    normal = observed.T @ observed / sigma**2 + np.eye(10)
    exact = np.linalg.solve(normal, observed.T @ np.asarray(data) / sigma**2)
    return posterior, exact


def test_recover_finds_the_map_of_a_linear_gaussian_problem():
    """Adam here; L-BFGS is tested on the Darcy problem (tests/inverse/test_darcy.py)."""
    posterior, exact = _linear_problem(jax.random.key(0))
    result = recover(
        posterior,
        jnp.zeros(10, jnp.float64),
        optimizer="adam",
        steps=3000,
        learning_rate=0.05,
        gtol=1e-10,
    )
    np.testing.assert_allclose(result.estimate, exact, atol=1e-3)
    history = result.history
    assert len(history["loss"]) == result.iterations
    # The loss is misfit + prior, recorded term by term.
    np.testing.assert_allclose(
        np.add(history["misfit"], history["prior"]), history["loss"], rtol=1e-10
    )
    assert history["loss"][-1] < history["loss"][0]


def test_misfit_and_prior_are_the_gaussian_negative_log_densities():
    predicted, observed = jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0])
    assert float(misfit(predicted, observed, 2.0)) == pytest.approx(0.5 * (1 + 4) / 4)
    assert float(gaussian_prior(jnp.array([3.0, 4.0]))) == pytest.approx(12.5)
    field = jnp.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(observe(field, np.array([[0, 1], [2, 3]])), [1.0, 11.0])


# ------------------------------------------------------------------------ bad input


def _posterior(sensors, observations, grid=(6, 6)):
    return Posterior(lambda z: z, lambda x: x, sensors, observations, 0.1, grid)


def test_sensors_off_the_grid_are_refused():
    with pytest.raises(ValueError, match=r"lie off it, e.g. \[6, 2\]"):
        _posterior(np.array([[1, 1], [6, 2]]), np.zeros(2))
    with pytest.raises(ValueError, match=r"lie off it"):
        check_sensors(np.array([[-1, 0]]), (6, 6))
    with pytest.raises(ValueError, match=r"integer node indices.*\[2.5\]"):
        check_sensors(np.array([[2.5, 1.0]]), (6, 6))


def test_sensors_of_the_wrong_dimension_are_refused():
    with pytest.raises(ValueError, match=r"shape \(n_sensors, 2\).*got shape \(3,\)"):
        _posterior(np.array([1, 2, 3]), np.zeros(3))


def test_observations_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"shape \(2,\); got shape \(3,\)"):
        _posterior(np.array([[1, 1], [2, 2]]), np.zeros(3))


def test_nan_observations_are_refused():
    with pytest.raises(ValueError, match="got 1 NaN and 0 infinite values"):
        _posterior(np.array([[1, 1], [2, 2]]), np.array([0.0, np.nan]))


def test_bad_noise_and_options_are_refused():
    with pytest.raises(ValueError, match="noise_std must be finite and > 0; got 0"):
        Posterior(lambda z: z, lambda x: x, [[1, 1]], [0.0], 0, (6, 6))
    with pytest.raises(ValueError, match="optimizer must be one of"):
        recover(lambda z: jnp.sum(z**2), jnp.ones(2), optimizer="sgd")
    with pytest.raises(ValueError, match="finite initial latent"):
        recover(lambda z: jnp.sum(z**2), jnp.array([jnp.nan]))
    with pytest.raises(ValueError, match="too many|between 1 and 4"):
        uniform_sensors((6, 6), 5)
