"""The shared ETDRK4 core: fitted fourth order and stability on a stiff system against a
fine-step reference, classical RK4 when the linear part vanishes, a traced linear part."""

import jax
import jax.numpy as jnp
import numpy as np

from sciml.solvers.etdrk import ETDRK4Coefficients, etdrk4_coefficients, etdrk4_step

STIFF = -50.0


def nonlinear(v):
    """A coupled nonlinear part; ``y`` relaxes at the rate ``-STIFF`` towards ``cos x``."""
    x, y = v
    return jnp.stack([-(x**2) + jnp.sin(y), -STIFF * jnp.cos(x)])


def etdrk4_solve(steps, t_final=1.0):
    """``(x, y)' = (0, STIFF) (x, y) + N(x, y)`` from ``(0.8, 0.3)``, float64."""
    coefficients = etdrk4_coefficients(jnp.asarray([0.0, STIFF]), t_final / steps)

    def step(v, _):
        return etdrk4_step(coefficients, v, nonlinear), None

    v, _ = jax.lax.scan(step, jnp.asarray([0.8, 0.3]), length=steps)
    return np.asarray(v)


def test_fourth_order_and_stable_on_a_stiff_system():
    reference = etdrk4_solve(16384)
    steps = np.array([16, 32, 64, 128])
    errors = np.array([np.max(np.abs(etdrk4_solve(int(k)) - reference)) for k in steps])
    slope, _ = np.polyfit(np.log(1.0 / steps), np.log(errors), 1)
    assert 3.7 <= slope <= 4.3, (slope, errors)
    # h STIFF = -6.25 lies outside the stability interval of explicit RK4 (|h lam| < 2.79);
    # the exponential integrator stays accurate there.
    assert np.max(np.abs(etdrk4_solve(8) - reference)) < 1e-3


def test_zero_linear_part_is_classical_rk4():
    h, v = 0.3, jnp.asarray([0.7, -1.2])
    nonlinear = lambda w: jnp.sin(w) - w**3
    k1 = nonlinear(v)
    k2 = nonlinear(v + h / 2 * k1)
    k3 = nonlinear(v + h / 2 * k2)
    k4 = nonlinear(v + h * k3)
    rk4 = v + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    coefficients = etdrk4_coefficients(jnp.zeros(2), h)
    np.testing.assert_allclose(etdrk4_step(coefficients, v, nonlinear), rk4, rtol=1e-14)


def test_coefficients_of_a_traced_operator_and_their_derivative():
    """Under jit and grad the coefficients follow lam: d E / d lam = h e^{h lam}, and
    Q = (e^{h lam / 2} - 1) / lam in closed form away from lam = 0."""
    h = 0.1

    @jax.jit
    def q_and_exp(lam):
        coefficients = etdrk4_coefficients(lam, h)
        assert isinstance(coefficients, ETDRK4Coefficients)
        return coefficients.q, coefficients.exp_step

    lam = jnp.asarray(-30.0)
    q, exp_step = q_and_exp(lam)
    np.testing.assert_allclose(q, np.expm1(h * -30.0 / 2) / -30.0, rtol=1e-14)
    derivative = jax.grad(lambda lam: q_and_exp(lam)[1])(lam)
    np.testing.assert_allclose(derivative, h * np.exp(h * -30.0), rtol=1e-14)
    q_derivative = jax.grad(lambda lam: q_and_exp(lam)[0])(lam)
    exact = (h / 2 * np.exp(h * -15.0) * -30.0 - np.expm1(h * -15.0)) / 900.0
    np.testing.assert_allclose(q_derivative, exact, rtol=1e-12)
