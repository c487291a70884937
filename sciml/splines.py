"""Not-a-knot cubic spline interpolation as fixed linear maps, for tensor-product grids.

A cubic spline through ``n`` points depends linearly on the data, so its values at given
points are ``W @ y`` for a weight matrix ``W: (m, n)`` that depends only on where the
data and the evaluation points lie. :func:`not_a_knot_weights` builds ``W`` once in NumPy
(float64) by solving the spline's slope equations for every unit vector; on a square grid
the tensor-product spline, along one axis and then the other, is ``W @ Y @ W.T``.

The end condition is the *not-a-knot* one: the third derivative is continuous at the
second and the second-to-last data points, so the first two and the last two pieces are
one cubic each. That is the condition of MATLAB's ``spline`` and of
``scipy.interpolate.CubicSpline(..., bc_type="not-a-knot")``. Outside the data range the
first and last pieces are extended (extrapolation), as ``spline`` and MATLAB's
``interp2(..., 'spline')`` do. A cubic polynomial is reproduced exactly.

The grid pair of the Darcy generator of Li et al. (ICLR 2021) is provided as well:
``n`` cell centres ``(i + 1/2) / n`` and ``n`` nodes ``j / (n - 1)`` of the unit interval,
with :func:`spline_to_nodes` and :func:`spline_to_centres` applying the two tensor-product
maps to ``(..., n, n)`` arrays in JAX (jit-, vmap- and grad-compatible: each is a fixed
linear map). The nodes ``0`` and ``1`` lie half a cell outside the outermost centres,
so the map to the nodes extrapolates there.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "centres_to_nodes_weights",
    "nodes_to_centres_weights",
    "not_a_knot_weights",
    "spline_to_centres",
    "spline_to_nodes",
    "tensor_product",
]


def not_a_knot_weights(x: ArrayLike, x_eval: ArrayLike) -> np.ndarray:
    """Weights of the not-a-knot cubic spline: its values at ``x_eval`` are ``W @ y``.

    The spline is written piecewise in Hermite form with unknown slopes ``d_k`` at the
    data points: ``n - 2`` equations make the second derivative continuous at the inner
    points and two make the third derivative continuous at ``x[1]`` and ``x[-2]``
    (not-a-knot). Points of ``x_eval`` outside ``[x[0], x[-1]]`` are evaluated on the
    first or last piece.

    Args:
        x: ``(n,)`` strictly increasing data points, ``n >= 4``.
        x_eval: ``(m,)`` evaluation points.

    Returns:
        ``W: (m, n)`` in float64.
    """
    x = np.asarray(x, dtype=np.float64)
    x_eval = np.asarray(x_eval, dtype=np.float64)
    if x.ndim != 1 or x_eval.ndim != 1:
        raise ValueError(
            f"not_a_knot_weights expects 1-D x and x_eval; got shapes {x.shape}, {x_eval.shape}"
        )
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"not_a_knot_weights expects at least 4 data points; got {n}")
    h = np.diff(x)
    if not np.all(h > 0):
        raise ValueError("not_a_knot_weights expects strictly increasing data points x")

    # Divided differences as a linear map of the data: delta = D @ y, D: (n - 1, n).
    eye = np.eye(n)
    divided = (eye[1:] - eye[:-1]) / h[:, None]

    # Slope equations S @ d = R @ y.
    system = np.zeros((n, n))
    rhs = np.zeros((n, n))
    for k in range(1, n - 1):  # continuous second derivative at x[k]
        system[k, k - 1] = h[k]
        system[k, k] = 2.0 * (h[k - 1] + h[k])
        system[k, k + 1] = h[k - 1]
        rhs[k] = 3.0 * (h[k] * divided[k - 1] + h[k - 1] * divided[k])
    # Continuous third derivative at x[1]: (d0 + d1 - 2 delta0) / h0^2 equals
    # (d1 + d2 - 2 delta1) / h1^2; and likewise at x[n - 2].
    system[0, :3] = [1.0 / h[0] ** 2, 1.0 / h[0] ** 2 - 1.0 / h[1] ** 2, -1.0 / h[1] ** 2]
    rhs[0] = 2.0 * (divided[0] / h[0] ** 2 - divided[1] / h[1] ** 2)
    system[-1, -3:] = [1.0 / h[-2] ** 2, 1.0 / h[-2] ** 2 - 1.0 / h[-1] ** 2, -1.0 / h[-1] ** 2]
    rhs[-1] = 2.0 * (divided[-2] / h[-2] ** 2 - divided[-1] / h[-1] ** 2)
    slopes = np.linalg.solve(system, rhs)  # d = slopes @ y

    # The piece of every evaluation point, the end pieces extended outwards.
    piece = np.clip(np.searchsorted(x, x_eval, side="right") - 1, 0, n - 2)
    t = (x_eval - x[piece])[:, None]
    width = h[piece][:, None]
    d_left, d_right, delta = slopes[piece], slopes[piece + 1], divided[piece]
    c2 = (3.0 * delta - 2.0 * d_left - d_right) / width
    c3 = (d_left + d_right - 2.0 * delta) / width**2
    return eye[piece] + t * (d_left + t * (c2 + t * c3))


def _centres(n: int) -> np.ndarray:
    return (np.arange(n) + 0.5) / n


def _nodes(n: int) -> np.ndarray:
    return np.arange(n) / (n - 1)


def _read_only(weights: np.ndarray) -> np.ndarray:
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=16)
def centres_to_nodes_weights(n: int) -> np.ndarray:
    """``W: (n, n)`` from the ``n`` cell centres ``(i + 1/2) / n`` of the unit interval to
    its ``n`` nodes ``j / (n - 1)``; extrapolates at the nodes 0 and 1. Read-only, cached.

    Args:
        n: points per side, ``n >= 4``.
    """
    return _read_only(not_a_knot_weights(_centres(n), _nodes(n)))


@functools.lru_cache(maxsize=16)
def nodes_to_centres_weights(n: int) -> np.ndarray:
    """``W: (n, n)`` from the ``n`` nodes ``j / (n - 1)`` of the unit interval to its ``n``
    cell centres ``(i + 1/2) / n``. Read-only, cached.

    Args:
        n: points per side, ``n >= 4``.
    """
    return _read_only(not_a_knot_weights(_nodes(n), _centres(n)))


def tensor_product(
    weights: ArrayLike, values: Float[ArrayLike, "... n n"]
) -> Float[Array, "... m m"]:
    """``W @ Y @ W.T`` over the last two axes of ``values``: the 1-D map along each axis.

    Computed at full float32 precision on every backend (no reduced-precision matmul),
    in the dtype of ``values``.

    Args:
        weights: ``(m, n)`` 1-D weights, e.g. from :func:`not_a_knot_weights`.
        values: ``(..., n, n)`` data on the tensor-product grid.

    Returns:
        ``(..., m, m)``.
    """
    values = jnp.asarray(values)
    if not jnp.issubdtype(values.dtype, jnp.floating):
        values = values.astype(jnp.float32)
    weights = jnp.asarray(weights, values.dtype)
    n = weights.shape[1]
    if values.ndim < 2 or values.shape[-2:] != (n, n):
        raise ValueError(
            f"tensor_product expects values of shape (..., {n}, {n}) to match weights of "
            f"shape {tuple(weights.shape)}; got {values.shape}"
        )
    return jnp.einsum(
        "ij,...jk,lk->...il", weights, values, weights, precision=jax.lax.Precision.HIGHEST
    )


def spline_to_nodes(values: Float[ArrayLike, "... n n"]) -> Float[Array, "... n n"]:
    """Cell-centred values on the unit square -> the tensor-product not-a-knot spline at
    the nodes, as MATLAB's ``interp2(X1, Y1, V, X2, Y2, 'spline')`` in the Darcy generator
    of Li et al. (ICLR 2021).

    Args:
        values: ``(..., n, n)`` values at the cell centres ``((i + 1/2) / n, (j + 1/2) / n)``,
            ``n >= 4``.

    Returns:
        ``(..., n, n)`` at the nodes ``(i / (n - 1), j / (n - 1))``.
    """
    return tensor_product(centres_to_nodes_weights(_side(values, "spline_to_nodes")), values)


def spline_to_centres(values: Float[ArrayLike, "... n n"]) -> Float[Array, "... n n"]:
    """Nodal values on the unit square -> the tensor-product not-a-knot spline at the cell
    centres, the inverse direction of :func:`spline_to_nodes` (not its inverse map).

    Args:
        values: ``(..., n, n)`` values at the nodes ``(i / (n - 1), j / (n - 1))``, ``n >= 4``.

    Returns:
        ``(..., n, n)`` at the cell centres ``((i + 1/2) / n, (j + 1/2) / n)``.
    """
    return tensor_product(nodes_to_centres_weights(_side(values, "spline_to_centres")), values)


def _side(values, name: str) -> int:
    shape = np.shape(values)
    if len(shape) < 2 or shape[-1] != shape[-2] or shape[-1] < 4:
        raise ValueError(
            f"{name} expects values of shape (..., n, n) with n >= 4; got shape {shape}"
        )
    return shape[-1]
