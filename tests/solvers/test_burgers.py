"""Verification of the Burgers solver: the exact Cole–Hopf solution, the fitted temporal
order of ETDRK4, exponential convergence in space, conservation of the mean, gradients
against finite differences, batching, dtypes and input validation.

The exact solution used throughout: with ``phi(x, t) = a + exp(-nu k^2 t) cos(k x)``,
``k = 2 pi``, a solution of the heat equation that stays positive for ``a > 1``,
``u = -2 nu phi_x / phi`` solves ``u_t + u u_x = nu u_xx`` (Cole–Hopf). Its analyticity
strip narrows as ``a -> 1``, so ``a`` sets how hard the problem is in space.
"""

from decimal import Decimal, getcontext

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.solvers.burgers import (
    BurgersETDRK4,
    cole_hopf_solution,
    etdrk4_coefficients,
    solve_burgers,
)

NU, A, T = 0.05, 1.05, 0.5  # max|u0| ~ 2, max|u(T)| ~ 0.5


def exact(x, t, nu=NU, a=A):
    """The closed-form Cole–Hopf solution above, in float64."""
    k = 2 * np.pi
    decay = np.exp(-nu * k**2 * t)
    return 2 * nu * k * decay * np.sin(k * x) / (a + decay * np.cos(k * x))


def grid(n):
    return np.arange(n) / n


def max_error(n, steps, t_final=T, nu=NU, a=A):
    x = grid(n)
    u = solve_burgers(exact(x, 0.0, nu, a), nu=nu, t_final=t_final, dt=t_final / steps)
    return float(np.max(np.abs(np.asarray(u) - exact(x, t_final, nu, a))))


# ------------------------------------------------------------------------------ accuracy


def test_agrees_with_cole_hopf_to_1e_10():
    assert max_error(128, 400) < 1e-10


def test_fourth_order_in_time():
    # n = 128 resolves the solution to round-off, so the error is the time error.
    steps = np.array([10, 20, 40, 80])
    errors = np.array([max_error(128, int(k)) for k in steps])
    slope, _ = np.polyfit(np.log(T / steps), np.log(errors), 1)
    assert 3.7 <= slope <= 4.3, (slope, errors)
    assert errors[-1] < 1e-7


def test_exponential_convergence_in_space():
    # Harder data (a closer to 1) so that n = 16 .. 64 spans four orders of magnitude;
    # dt = T / 200 puts the time error (~1e-9) below every spatial error here.
    sizes = np.array([16, 32, 48, 64])
    errors = np.array([max_error(int(n), 200, nu=0.02, a=1.02) for n in sizes])
    # log(error) is linear in n (exponential convergence) ...
    rate, intercept = np.polyfit(sizes, np.log(errors), 1)
    residual = np.log(errors) - (rate * sizes + intercept)
    assert rate < -0.15 and np.max(np.abs(residual)) < 0.6, (rate, errors)
    # ... so the apparent algebraic order -dlog(error)/dlog(n) keeps growing with n,
    # which no fixed-order method shows.
    orders = -np.diff(np.log(errors)) / np.diff(np.log(sizes))
    assert np.all(np.diff(orders) > 0) and orders[-1] > 8, orders


def test_mean_conserved_and_snapshots_match():
    n = 64
    x = grid(n)
    u0 = exact(x, 0.0) + 0.3  # nonzero mean: exercises the Galilean shift too
    times = [0.0, 0.1, 0.25, 0.5]
    snapshots = np.asarray(solve_burgers(u0, nu=NU, t_final=T, dt=T / 100, save_at=times))
    assert snapshots.shape == (4, n)
    np.testing.assert_allclose(snapshots[0], u0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(snapshots.mean(axis=1), u0.mean(), rtol=0, atol=1e-14)
    final = np.asarray(solve_burgers(u0, nu=NU, t_final=T, dt=T / 100))
    np.testing.assert_allclose(snapshots[-1], final, rtol=0, atol=1e-14)
    for t, u in zip(times, snapshots):
        np.testing.assert_allclose(u, 0.3 + exact(x - 0.3 * t, t), rtol=0, atol=1e-5)


def test_cole_hopf_solution_matches_closed_form():
    x = grid(256)  # resolves u0 (Fourier coefficients ~ exp(-0.32 k)) to round-off
    for shift in (0.0, -0.7):
        u0 = exact(x, 0.0) + shift
        for t in (0.0, 0.3, 1.0):
            u = np.asarray(cole_hopf_solution(u0, t, nu=NU))
            np.testing.assert_allclose(u, shift + exact(x - shift * t, t), rtol=0, atol=1e-12)


def _reference_coefficients(z: float) -> list[float]:
    """Q, f1, f2, f3 (dt = 1) in 60-digit decimal arithmetic, free of cancellation."""
    getcontext().prec = 60
    z = Decimal(z)
    e = z.exp()
    return [
        float(((z / 2).exp() - 1) / z),
        float((-4 - z + e * (4 - 3 * z + z * z)) / z**3),
        float((2 + z + e * (z - 2)) / z**3),
        float((-4 - 3 * z - z * z + e * (4 - z)) / z**3),
    ]


@pytest.mark.parametrize(("dtype", "tolerance"), [(jnp.float64, 1e-14), (jnp.float32, 2e-6)])
def test_contour_coefficients_are_accurate(dtype, tolerance):
    # Across the cancellation region near 0 and the stiff range. Errors are relative to
    # max(|f(z)|, 1 / max(1, |z|)^2): f1 changes sign near z = -2.68.
    z = np.concatenate([-np.logspace(-9, 7, 49), -np.linspace(0.05, 3, 60)])
    _, _, *coefficients = etdrk4_coefficients(jnp.asarray(z, dtype), 1.0)
    reference = np.array([_reference_coefficients(value) for value in z]).T
    for computed, expected in zip(coefficients, reference):
        assert computed.dtype == dtype
        scale = np.maximum(np.abs(expected), 1.0 / np.maximum(1.0, np.abs(z)) ** 2)
        error = np.abs(np.asarray(computed, np.float64) - expected) / scale
        assert np.max(error) < tolerance, np.max(error)


# ---------------------------------------------------------------- transformations, dtypes


def test_vmap_and_jit_match_per_sample_solves():
    n = 32
    x = grid(n)
    batch = np.stack([exact(x, 0.0, a=a) for a in (1.1, 1.3, 2.0)])
    solve = lambda u0, nu: solve_burgers(u0, nu=nu, t_final=0.2, dt=0.01)
    nus = jnp.asarray([0.05, 0.1, 0.2])
    batched = jax.jit(jax.vmap(solve))(batch, nus)
    for u0, nu, u in zip(batch, nus, batched):
        np.testing.assert_allclose(u, solve(u0, nu), rtol=0, atol=1e-13)


def test_stepper_steps_equal_solve():
    x = grid(32)
    u0 = jnp.asarray(exact(x, 0.0))
    stepper = BurgersETDRK4(32, nu=NU, dt=0.01, dtype=jnp.float64)
    step = jax.jit(BurgersETDRK4.__call__)
    u = u0
    for _ in range(20):
        u = step(stepper, u)
    np.testing.assert_allclose(u, solve_burgers(u0, nu=NU, t_final=0.2, dt=0.01), atol=1e-14)


def test_gradients_match_central_differences():
    n, t_final, dt = 32, 0.2, 0.01
    x = grid(n)
    u0 = jnp.asarray(exact(x, 0.0))
    weights = jnp.asarray(np.cos(2 * np.pi * x) + 0.5 * np.sin(6 * np.pi * x))
    direction = jnp.asarray(np.sin(4 * np.pi * x + 0.3))

    @jax.jit
    def loss(u0, nu):
        return jnp.sum(weights * solve_burgers(u0, nu=nu, t_final=t_final, dt=dt))

    nu = jnp.asarray(NU)
    grad_u0, grad_nu = jax.jit(jax.grad(loss, argnums=(0, 1)))(u0, nu)
    h = 1e-5
    fd_nu = (loss(u0, nu + h) - loss(u0, nu - h)) / (2 * h)
    fd_u0 = (loss(u0 + h * direction, nu) - loss(u0 - h * direction, nu)) / (2 * h)
    assert abs(grad_nu - fd_nu) <= 1e-7 * abs(fd_nu), (grad_nu, fd_nu)
    directional = jnp.vdot(grad_u0, direction)
    assert abs(directional - fd_u0) <= 1e-7 * abs(fd_u0), (directional, fd_u0)


def test_float32_in_float32_out():
    x = grid(64)
    u0 = exact(x, 0.0)
    u32 = solve_burgers(u0.astype(np.float32), nu=NU, t_final=T, dt=T / 100)
    assert u32.dtype == jnp.float32
    u64 = solve_burgers(u0, nu=NU, t_final=T, dt=T / 100)
    assert u64.dtype == jnp.float64
    np.testing.assert_allclose(u32, u64, rtol=0, atol=1e-6)
    assert BurgersETDRK4(16, nu=0.1, dt=0.1).q.dtype == jnp.float32


# ------------------------------------------------------------------------------ errors


def test_bad_inputs_raise():
    u0 = np.zeros(16)
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        solve_burgers(np.zeros((2, 16)), nu=0.1, t_final=1.0, dt=0.1)
    with pytest.raises(ValueError, match="dt > 0"):
        solve_burgers(u0, nu=0.1, t_final=1.0, dt=0.0)
    with pytest.raises(ValueError, match="must be an integer"):
        solve_burgers(u0, nu=0.1, t_final=1.0, dt=0.3)
    with pytest.raises(ValueError, match="nu > 0"):
        solve_burgers(u0, nu=-0.1, t_final=1.0, dt=0.1)
    with pytest.raises(ValueError, match="NaN"):
        solve_burgers(np.full(16, np.nan), nu=0.1, t_final=1.0, dt=0.1)
    with pytest.raises(ValueError, match="real u0"):
        solve_burgers(u0 + 0j, nu=0.1, t_final=1.0, dt=0.1)
    with pytest.raises(ValueError, match="save_at"):
        solve_burgers(u0, nu=0.1, t_final=1.0, dt=0.1, save_at=[0.5, 0.2])
    with pytest.raises(ValueError, match="save_at"):
        solve_burgers(u0, nu=0.1, t_final=1.0, dt=0.1, save_at=[2.0])
    with pytest.raises(ValueError, match="Python number"):
        jax.jit(lambda dt: solve_burgers(u0, nu=0.1, t_final=1.0, dt=dt))(0.1)
    stepper = BurgersETDRK4(16, nu=0.1, dt=0.1)  # float32
    with pytest.raises(ValueError, match="dtype"):
        stepper(jnp.zeros(16, jnp.float64))
    with pytest.raises(ValueError, match=r"shape \(16,\)"):
        stepper(jnp.zeros(8, jnp.float32))


# A traced viscosity has no value when the program is built; the compiled program itself
# must refuse a bad one (it used to return NaN, or a blown-up solution, without a word).
# Under jax.jit the error comes back as JAX's wrapper of the runtime error (a
# RuntimeError or, depending on the dispatch path, a ValueError) with our message in it.
BAD_VISCOSITIES = [-0.1, 0.0, float("nan"), float("inf")]
RUNTIME_ERRORS = (RuntimeError, ValueError)


@pytest.mark.parametrize("nu", BAD_VISCOSITIES)
def test_traced_bad_viscosity_raises_under_jit(nu):
    u0 = jnp.asarray(exact(grid(16), 0.0))
    solve = jax.jit(lambda nu: solve_burgers(u0, nu=nu, t_final=0.1, dt=0.01))
    assert np.all(np.isfinite(solve(NU)))  # the same compiled program accepts a good nu
    with pytest.raises(RUNTIME_ERRORS, match="solve_burgers expects a finite viscosity nu > 0"):
        jax.block_until_ready(solve(nu))


def test_traced_bad_viscosity_raises_under_vmap_and_grad():
    u0 = jnp.asarray(exact(grid(16), 0.0))
    solve = lambda nu: solve_burgers(u0, nu=nu, t_final=0.1, dt=0.01)
    message = "solve_burgers expects a finite viscosity nu > 0"
    with pytest.raises(RUNTIME_ERRORS, match=message):
        jax.block_until_ready(jax.jit(jax.vmap(solve))(jnp.asarray([NU, -0.1])))
    loss = jax.jit(jax.grad(lambda nu: jnp.sum(jnp.cos(2 * np.pi * grid(16)) * solve(nu))))
    assert np.isfinite(loss(NU)) and loss(NU) != 0
    with pytest.raises(RUNTIME_ERRORS, match=message):
        jax.block_until_ready(loss(-0.1))


def test_stepper_and_exact_solution_refuse_a_traced_bad_viscosity():
    u0 = jnp.asarray(exact(grid(16), 0.0))
    rollout = jax.jit(lambda nu: BurgersETDRK4(16, nu=nu, dt=0.01, dtype=u0.dtype).rollout(u0, 3))
    with pytest.raises(RUNTIME_ERRORS, match="BurgersETDRK4 expects a finite viscosity nu > 0"):
        jax.block_until_ready(rollout(-0.1))
    exact_solution = jax.jit(lambda nu: cole_hopf_solution(u0, 0.1, nu=nu))
    message = "cole_hopf_solution expects a finite viscosity nu > 0"
    with pytest.raises(RUNTIME_ERRORS, match=message):
        jax.block_until_ready(exact_solution(-0.1))
