"""The vorticity residual: zero for an exact solution, linear in an imposed error."""

import jax.numpy as jnp
import numpy as np
import pytest

from sciml.solvers.navier_stokes import fno_forcing
from sciml.solvers.vorticity_residual import vorticity_residual

NU = 1e-2


def _taylor_green(n, times):
    """Two modes of one |k|^2 = 5 (2 pi)^2 decaying at rate nu |k|^2: u . grad w = 0, an
    exact solution of the unforced equation. Returns ``w, w_t: (T, n, n)``."""
    x = np.arange(n) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    shape = np.sin(2 * np.pi * (X + 2 * Y)) + 0.7 * np.cos(2 * np.pi * (2 * X - Y))
    rate = NU * 5 * (2 * np.pi) ** 2
    decay = np.exp(-rate * np.asarray(times))[:, None, None]
    return decay * shape, -rate * decay * shape


def _perturbation(n, times):
    x = np.arange(n) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    return np.cos(2 * np.pi * X) * np.sin(4 * np.pi * Y)[None] * np.ones((len(times), 1, 1))


@pytest.mark.parametrize("dealias", [True, False])
def test_the_residual_of_taylor_green_is_round_off(dealias):
    w, w_t = _taylor_green(16, [0.0, 0.5, 1.0])
    residual = vorticity_residual(w, w_t, nu=NU, dealias=dealias)
    scale = np.max(np.abs(w_t))
    assert float(jnp.max(jnp.abs(residual))) < 1e-13 * scale
    # the same flow with a forcing that is not in the equation leaves exactly -f
    f = fno_forcing(16, jnp.float64)
    forced = vorticity_residual(w, w_t, nu=NU, forcing=f, dealias=dealias)
    np.testing.assert_allclose(forced, -np.broadcast_to(f, forced.shape), atol=1e-13)


def test_the_residual_grows_linearly_with_an_imposed_error():
    times = [0.0, 0.5]
    w, w_t = _taylor_green(16, times)
    g = _perturbation(16, times)
    epsilons = np.array([1e-6, 1e-5, 1e-4, 1e-3])
    sizes = [
        float(jnp.sqrt(jnp.mean(vorticity_residual(w + e * g, w_t, nu=NU) ** 2))) for e in epsilons
    ]
    slope = np.polyfit(np.log(epsilons), np.log(sizes), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.01)
    assert min(sizes) > 1e6 * 1e-15  # far above round-off: the growth is the error's


def test_float32_and_bad_shapes():
    w, w_t = _taylor_green(8, [0.0])
    residual = vorticity_residual(w.astype(np.float32), w_t.astype(np.float32), nu=NU)
    assert residual.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(residual))) < 1e-5
    with pytest.raises(ValueError, match="same shape \\(T, s, s\\)"):
        vorticity_residual(w[0], w_t[0], nu=NU)
