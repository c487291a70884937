"""Not-a-knot spline maps against SciPy's CubicSpline, and exact on cubic polynomials."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.interpolate import CubicSpline

from sciml.splines import (
    centres_to_nodes_weights,
    nodes_to_centres_weights,
    not_a_knot_weights,
    spline_to_centres,
    spline_to_nodes,
)

N = 9
CENTRES = (np.arange(N) + 0.5) / N
NODES = np.arange(N) / (N - 1)


def _scipy_tensor(values, x, x_eval):
    """SciPy's not-a-knot spline along axis 0, then along axis 1, extrapolating."""
    along_rows = CubicSpline(x, values, axis=0, bc_type="not-a-knot", extrapolate=True)(x_eval)
    return CubicSpline(x, along_rows, axis=1, bc_type="not-a-knot", extrapolate=True)(x_eval)


@pytest.mark.parametrize("n", [4, 5, 9])
def test_weights_match_scipy(n):
    # a non-uniform grid: the spacing varies by up to a factor of 3
    x = np.cumsum(np.random.default_rng(n).uniform(0.5, 1.5, n)) / n
    x_eval = np.concatenate([np.linspace(-0.3, 1.3, 23), x])  # inside, outside, on the data
    reference = CubicSpline(x, np.eye(n), bc_type="not-a-knot", extrapolate=True)(x_eval)
    np.testing.assert_allclose(not_a_knot_weights(x, x_eval), reference, rtol=1e-12, atol=1e-12)


def test_grid_weights_match_scipy_and_are_cached_read_only():
    to_nodes = CubicSpline(CENTRES, np.eye(N), bc_type="not-a-knot", extrapolate=True)(NODES)
    to_centres = CubicSpline(NODES, np.eye(N), bc_type="not-a-knot", extrapolate=True)(CENTRES)
    np.testing.assert_allclose(centres_to_nodes_weights(N), to_nodes, rtol=0, atol=1e-13)
    np.testing.assert_allclose(nodes_to_centres_weights(N), to_centres, rtol=0, atol=1e-13)
    assert centres_to_nodes_weights(N) is centres_to_nodes_weights(N)
    assert not centres_to_nodes_weights(N).flags.writeable


def test_tensor_product_matches_scipy_on_9_by_9():
    values = np.random.default_rng(0).standard_normal((N, N))
    nodal = np.asarray(spline_to_nodes(jnp.asarray(values)))
    np.testing.assert_allclose(nodal, _scipy_tensor(values, CENTRES, NODES), rtol=0, atol=1e-12)
    centred = np.asarray(spline_to_centres(jnp.asarray(values)))
    np.testing.assert_allclose(centred, _scipy_tensor(values, NODES, CENTRES), rtol=0, atol=1e-12)


def test_cubic_polynomials_are_reproduced_exactly():
    coefficients = np.random.default_rng(1).standard_normal((4, 4))

    def cubic(x):
        powers = np.vander(x, 4, increasing=True)  # (n, 4): 1, x, x^2, x^3
        return powers @ coefficients @ powers.T  # sum_ij c_ij x^i y^j

    np.testing.assert_allclose(
        np.asarray(spline_to_nodes(jnp.asarray(cubic(CENTRES)))), cubic(NODES), atol=1e-12
    )
    np.testing.assert_allclose(
        np.asarray(spline_to_centres(jnp.asarray(cubic(NODES)))), cubic(CENTRES), atol=1e-12
    )


def test_batched_jitted_and_differentiated():
    values = jnp.asarray(np.random.default_rng(2).standard_normal((3, N, N)))
    batched = jax.jit(jax.vmap(spline_to_nodes))(values)
    np.testing.assert_allclose(batched, spline_to_nodes(values), rtol=0, atol=1e-13)
    np.testing.assert_allclose(batched[1], spline_to_nodes(values[1]), rtol=0, atol=1e-13)
    # a linear map: the gradient of one output is the outer product of its weight rows
    gradient = jax.grad(lambda v: spline_to_nodes(v)[0, 2])(values[0])
    w = centres_to_nodes_weights(N)
    np.testing.assert_allclose(gradient, np.outer(w[0], w[2]), rtol=0, atol=1e-13)
    assert spline_to_nodes(values.astype(jnp.float32)).dtype == jnp.float32


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="at least 4 data points"):
        not_a_knot_weights([0.0, 0.5, 1.0], [0.25])
    with pytest.raises(ValueError, match="strictly increasing"):
        not_a_knot_weights([0.0, 0.5, 0.5, 1.0], [0.25])
    with pytest.raises(ValueError, match=r"\(\.\.\., n, n\) with n >= 4; got shape \(3, 3\)"):
        spline_to_nodes(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"got shape \(5, 6\)"):
        spline_to_centres(np.ones((5, 6)))
