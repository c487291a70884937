"""The FNO generator's Darcy convention against a NumPy/SciPy rendering of ``solve_gwf.m``.

The reference below follows the MATLAB script of Li et al. (ICLR 2021) step by step,
with SciPy in place of MATLAB: ``interp2(..., 'spline')`` as SciPy's not-a-knot
``CubicSpline`` along each axis (extrapolating), the matrix assembled block by block
for the unknowns numbered column by column (``F(:)``), a sparse direct solve, the
solution vector refilled row by row (``vec2mat``), splined back and transposed.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
from scipy.interpolate import CubicSpline

from sciml.data.darcy import DarcyConfig, darcy_coefficient
from sciml.solvers.darcy import solve_darcy, solve_darcy_fno_matlab
from sciml.splines import spline_to_nodes


def _interp2_spline(values, x, x_eval):
    along_rows = CubicSpline(x, values, axis=0, bc_type="not-a-knot", extrapolate=True)(x_eval)
    return CubicSpline(x, along_rows, axis=1, bc_type="not-a-knot", extrapolate=True)(x_eval)


def _solve_gwf_reference(coef, source):
    k = coef.shape[0]
    centres = np.arange(1, 2 * k, 2) / (2 * k)  # 1/(2K) : 1/K : (2K-1)/(2K)
    nodes = np.arange(k) / (k - 1)  # 0 : 1/(K-1) : 1
    coef = _interp2_spline(coef, centres, nodes)
    source = _interp2_spline(source, centres, nodes)[1:-1, 1:-1]

    n = k - 2
    matrix = scipy.sparse.lil_matrix((n * n, n * n))
    for j in range(1, k - 1):  # the block of grid column j
        for i in range(1, k - 1):
            row = (i - 1) + n * (j - 1)  # column-major numbering, as F(:)
            matrix[row, row] = (
                (coef[i - 1, j] + coef[i, j]) / 2
                + (coef[i + 1, j] + coef[i, j]) / 2
                + (coef[i, j - 1] + coef[i, j]) / 2
                + (coef[i, j + 1] + coef[i, j]) / 2
            )
            if i < k - 2:
                matrix[row, row + 1] = matrix[row + 1, row] = -(coef[i, j] + coef[i + 1, j]) / 2
            if j < k - 2:
                matrix[row, row + n] = matrix[row + n, row] = -(coef[i, j] + coef[i, j + 1]) / 2
    matrix = matrix.tocsc() * (k - 1) ** 2
    solution = scipy.sparse.linalg.spsolve(matrix, source.ravel(order="F"))
    pressure = np.pad(solution.reshape(n, n, order="C"), 1)  # vec2mat fills row by row
    return _interp2_spline(pressure, nodes, centres).T


def _thresholded(s, index):
    config = DarcyConfig(fine_resolution=s, subsample=1, convention="fno-matlab")
    key = jax.random.fold_in(jax.random.key(0), index)
    return np.asarray(darcy_coefficient(key, config), np.float64)


@pytest.mark.parametrize(("s", "index"), [(9, 0), (17, 2)])
def test_matches_a_scipy_rendering_of_solve_gwf(s, index):
    a = _thresholded(s, index)
    assert len(np.unique(a)) == 2
    # this field's nodal coefficient is negative somewhere: the case the original keeps
    assert float(jnp.min(spline_to_nodes(a))) < 0
    reference = _solve_gwf_reference(a, np.ones((s, s)))
    ours = np.asarray(solve_darcy_fno_matlab(a, 1.0, rtol=1e-13))
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-10 * np.abs(reference).max())
    # a source field is splined like the coefficient
    f = 1.0 + np.random.default_rng(s).uniform(size=(s, s))
    reference = _solve_gwf_reference(a, f)
    ours = np.asarray(solve_darcy_fno_matlab(a, f, rtol=1e-13))
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-10 * np.abs(reference).max())


def test_jit_vmap_and_gradient():
    a = np.stack([_thresholded(9, 0), _thresholded(9, 1)])
    batched = jax.jit(jax.vmap(lambda x: solve_darcy_fno_matlab(x, 1.0, rtol=1e-12)))(a)
    np.testing.assert_allclose(
        batched[1], solve_darcy_fno_matlab(a[1], 1.0, rtol=1e-12), rtol=0, atol=1e-12
    )
    weights = np.random.default_rng(0).standard_normal((9, 9))

    def loss(x):
        return jnp.sum(weights * solve_darcy_fno_matlab(x, 1.0, rtol=1e-12))

    direction = np.random.default_rng(1).standard_normal((9, 9))
    step = 1e-5
    finite = (loss(a[0] + step * direction) - loss(a[0] - step * direction)) / (2 * step)
    exact = jnp.vdot(jax.grad(loss)(jnp.asarray(a[0])), direction)
    np.testing.assert_allclose(exact, finite, rtol=1e-6)


def test_non_positive_coefficients_need_the_option_and_a_definite_operator():
    a = np.ones((6, 6))
    a[0, 2] = -2.0  # a boundary node: the faces stay positive
    with pytest.raises(ValueError, match=r"min\(a\) = -2.0"):
        solve_darcy(a, 1.0)
    u = solve_darcy(a, 1.0, rtol=1e-12, require_positive=False)
    assert np.all(np.isfinite(np.asarray(u)))
    # a negative coefficient everywhere makes the operator negative definite
    with pytest.raises(Exception, match="not positive definite"):
        jax.block_until_ready(solve_darcy(-np.ones((6, 6)), 1.0, require_positive=False))
    with pytest.raises(Exception, match="not positive definite"):
        batch = jnp.stack([jnp.ones((6, 6)), -jnp.ones((6, 6))])
        solve = jax.vmap(lambda x: solve_darcy(x, 1.0, require_positive=False))
        jax.block_until_ready(jax.jit(solve)(batch))
    a[3, 3] = np.nan
    with pytest.raises(ValueError, match="finite coefficient a; got 1 NaN or infinite"):
        solve_darcy(a, 1.0, require_positive=False)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"at least 4 x 4 cells.*got shape \(3, 3\)"):
        solve_darcy_fno_matlab(np.ones((3, 3)), 1.0)
    with pytest.raises(ValueError, match=r"got shape \(5, 6\)"):
        solve_darcy_fno_matlab(np.ones((5, 6)), 1.0)
