"""Per-point Gaussian normalisation."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.data.normalise import GaussianNormaliser, NormalisedOperator


def test_encode_gives_zero_mean_unit_std_per_point_and_decode_inverts():
    rng = np.random.default_rng(0)
    samples = rng.normal(3.0, 2.0, size=(200, 2, 4, 4)) * np.arange(1, 17).reshape(4, 4)
    norm = GaussianNormaliser.fit(samples, eps=0.0)
    encoded = jax.vmap(norm.encode)(jnp.asarray(samples))
    np.testing.assert_allclose(np.mean(encoded, axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.std(encoded, axis=0), 1.0, rtol=1e-12)
    decoded = jax.vmap(norm.decode)(encoded)
    np.testing.assert_allclose(decoded, samples, rtol=1e-12)


def test_constant_points_stay_finite():
    samples = np.zeros((10, 1, 3, 3))
    samples[:, 0, 1, 1] = np.arange(10)
    norm = GaussianNormaliser.fit(samples)
    assert np.all(np.isfinite(norm.encode(jnp.asarray(samples[0]))))


def test_shape_errors_name_expected_and_received():
    norm = GaussianNormaliser.fit(np.ones((4, 1, 3, 3)) * np.arange(4)[:, None, None, None])
    with pytest.raises(ValueError, match=r"shape \(1, 3, 3\).*got \(4, 1, 3, 3\)"):
        norm.encode(jnp.ones((4, 1, 3, 3)))
    with pytest.raises(ValueError, match="N >= 2"):
        GaussianNormaliser.fit(np.ones((1, 1, 3)))


def test_no_gradient_reaches_the_statistics():
    samples = jnp.asarray(np.random.default_rng(1).normal(size=(8, 1, 5)))
    norm = GaussianNormaliser.fit(samples)
    model = NormalisedOperator(lambda x: 2.0 * x, norm, norm)
    grads = eqx.filter_grad(lambda m: jnp.sum(m(samples[0]) ** 2))(model)
    np.testing.assert_array_equal(grads.input_normaliser.mean, 0.0)
    np.testing.assert_array_equal(grads.output_normaliser.std, 0.0)
