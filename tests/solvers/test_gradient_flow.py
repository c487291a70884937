"""Verification of the gradient-flow schemes (float64): energy decay at large steps on
random data, mass conservation of Cahn–Hilliard, fitted temporal orders 1 and 2 against
an ETDRK4 reference, the maximum principle of stabilised Allen–Cahn, the discrete
energy and its gradient, and input validation.

Each energy test records the largest step-to-step increase of the scheme's discrete
energy, relative to the initial energy; round-off is ~1e-16, and the tests require
<= 1e-12.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.solvers.burgers import etdrk4_coefficients
from sciml.solvers.gradient_flow import (
    EQUATIONS,
    SAV,
    SCHEMES,
    GradientFlow,
    StabilisedETD,
    StabilisedSemiImplicit,
    double_well_derivative,
    make_scheme,
    rollout,
)

LENGTH = 2 * np.pi
N = 32
EPS = {"allen-cahn": 0.2, "cahn-hilliard": 0.1}
ROUND_OFF = 1e-12  # largest relative energy increase or mass change allowed


def random_field(shape, seed=0, low=-1.0, high=1.0):
    return jnp.asarray(np.random.default_rng(seed).uniform(low, high, shape))


def make_flow(equation, shape=(N, N), eps=None, **options):
    eps = EPS[equation] if eps is None else eps
    return GradientFlow(equation, shape, length=LENGTH, eps=eps, dtype=jnp.float64, **options)


# Scheme modules keep dt as an array, so one compiled program serves every dt.
_rollout = eqx.filter_jit(rollout)


@eqx.filter_jit
def _final_field(scheme, phi0, n_steps):
    state = jax.lax.fori_loop(0, n_steps, lambda _, s: scheme.step(s), scheme.init(phi0))
    return scheme.field(state)


def largest_relative_increase(energies) -> float:
    energies = np.asarray(energies)
    return float(np.max(np.diff(energies)) / abs(energies[0]))


# --------------------------------------------------------------- energy decay and mass


@pytest.fixture(scope="module")
def large_step_rollouts():
    """``{(equation, scheme, dt): (fields, energies)}``: 20 steps from random data in
    [-1, 1]^(32 x 32), at dt = 1 and dt = 10."""
    results = {}
    for equation in EQUATIONS:
        flow = make_flow(equation)
        phi0 = random_field((N, N), seed=1)
        for name in SCHEMES:
            for dt in (1.0, 10.0):
                fields, energies = _rollout(make_scheme(name, flow, dt), phi0, 20)
                results[equation, name, dt] = (np.asarray(fields), np.asarray(energies))
    return results


@pytest.mark.parametrize("dt", [1.0, 10.0])
@pytest.mark.parametrize("name", SCHEMES)
@pytest.mark.parametrize("equation", EQUATIONS)
def test_discrete_energy_never_increases_at_large_steps(large_step_rollouts, equation, name, dt):
    fields, energies = large_step_rollouts[equation, name, dt]
    assert np.all(np.isfinite(energies))
    increase = largest_relative_increase(energies)
    print(f"{equation} {name} dt={dt}: largest relative energy increase {increase:.2e}")
    assert increase <= ROUND_OFF, (increase, energies)
    # The energy genuinely moves: a scheme that stood still would pass the line above.
    assert energies[-1] < 0.9 * energies[0]
    if name in ("stabilised", "etd1"):
        # Their claim holds while |phi| <= beta with S = 2 >= (3 beta^2 - 1) / 2.
        assert np.max(np.abs(fields)) <= np.sqrt(5 / 3), np.max(np.abs(fields))


@pytest.mark.parametrize("dt", [1.0, 10.0])
@pytest.mark.parametrize("name", SCHEMES)
def test_cahn_hilliard_conserves_mass_to_round_off(large_step_rollouts, name, dt):
    fields, _ = large_step_rollouts["cahn-hilliard", name, dt]
    flow = make_flow("cahn-hilliard")
    masses = np.array([float(flow.mass(phi)) for phi in fields])
    scale = max(float(flow.cell_volume * np.sum(np.abs(phi))) for phi in fields)
    drift = np.max(np.abs(masses - masses[0])) / scale
    print(f"cahn-hilliard {name} dt={dt}: relative mass drift {drift:.2e}")
    assert drift <= ROUND_OFF, drift
    # Allen–Cahn does not conserve mass: the check above can tell the difference.
    ac_fields, _ = large_step_rollouts["allen-cahn", name, dt]
    ac_masses = [float(flow.mass(phi)) for phi in ac_fields]
    assert abs(ac_masses[-1] - ac_masses[0]) > 1e-3


@pytest.mark.parametrize("name", ["convex-splitting", "sav2"])
@pytest.mark.parametrize("shape", [(64,), (8, 8, 8)])
def test_energy_decay_and_mass_in_one_and_three_dimensions(shape, name):
    flow = make_flow("cahn-hilliard", shape)
    phi0 = random_field(shape, seed=2)
    _, energies = _rollout(make_scheme(name, flow, 1.0), phi0, 10)
    assert largest_relative_increase(energies) <= ROUND_OFF
    fields, _ = _rollout(make_scheme(name, flow, 1.0), phi0, 10, save_every=10)
    assert abs(float(flow.mass(fields[-1]) - flow.mass(phi0))) <= ROUND_OFF * flow.cell_volume


# ------------------------------------------------------------------ convergence orders


def etdrk4_reference(flow, phi0, t_final, steps):
    """A fourth-order solution: ETDRK4 of ``phi_t = -G L phi - G f(phi)``."""
    e, e2, q, f1, f2, f3 = etdrk4_coefficients(-flow.mobility * flow.linear, t_final / steps)

    def nonlinear(v):
        return -flow.mobility * flow.fft(double_well_derivative(flow.ifft(v)))

    def step(v, _):
        nv = nonlinear(v)
        a = e2 * v + q * nv
        na = nonlinear(a)
        b = e2 * v + q * na
        nb = nonlinear(b)
        c = e2 * a + q * (2 * nb - nv)
        return e * v + f1 * nv + 2 * f2 * (na + nb) + f3 * nonlinear(c), None

    v, _ = jax.jit(lambda v: jax.lax.scan(step, v, length=steps))(flow.fft(phi0))
    return flow.ifft(v)


# eps = 0.2 in both: with eps = 0.1 the stabilised Cahn–Hilliard error is still
# pre-asymptotic at these steps (successive ratios 1.74, 1.86, 1.93 towards 2).
ORDER_EPS = 0.2
T_FINAL = {"allen-cahn": 1.0, "cahn-hilliard": 0.1}
ORDERS = {"stabilised": 1, "convex-splitting": 1, "sav1": 1, "sav2": 2, "etd1": 1}
FITTED_ORDERS = {}


@pytest.fixture(scope="module")
def smooth_problem():
    x = np.arange(N) * LENGTH / N
    X, Y = np.meshgrid(x, x, indexing="ij")
    phi0 = jnp.asarray(0.4 * np.sin(X) * np.cos(2 * Y) + 0.3 * np.cos(X + Y) + 0.1)
    references = {}
    for equation in EQUATIONS:
        flow = make_flow(equation, eps=ORDER_EPS)
        references[equation] = etdrk4_reference(flow, phi0, T_FINAL[equation], 1024)
    return phi0, references


@pytest.mark.parametrize("name", SCHEMES)
@pytest.mark.parametrize("equation", EQUATIONS)
def test_fitted_temporal_order(smooth_problem, equation, name):
    phi0, reference = smooth_problem
    flow = make_flow(equation, eps=ORDER_EPS)
    t_final = T_FINAL[equation]
    steps = np.array([32, 64, 128, 256])
    errors = []
    for k in steps:
        scheme = make_scheme(name, flow, t_final / int(k))
        phi = _final_field(scheme, phi0, jnp.asarray(int(k)))
        errors.append(float(jnp.max(jnp.abs(phi - reference[equation]))))
    slope, _ = np.polyfit(np.log(t_final / steps), np.log(errors), 1)
    FITTED_ORDERS[equation, name] = slope
    print(f"{equation} {name}: fitted order {slope:.3f}, errors {errors}")
    expected = ORDERS[name]
    assert abs(slope - expected) <= 0.1, (slope, errors)


# ------------------------------------------------------------------- maximum principle


@pytest.mark.parametrize("dt", [0.1, 1.0, 10.0])
def test_stabilised_allen_cahn_keeps_the_maximum_bound(dt):
    # The stated condition S >= 2 - 1/dt, at equality, with the central-difference
    # Laplacian; random data filling [-1, 1].
    flow = GradientFlow(
        "allen-cahn", (N, N), length=1.0, eps=0.02, laplacian="central", dtype=jnp.float64
    )
    phi0 = random_field((N, N), seed=3)
    for scheme in (
        StabilisedSemiImplicit(flow, dt, stabilisation=max(0.0, 2 - 1 / dt)),
        StabilisedETD(flow, dt, stabilisation=2.0),
    ):
        fields, energies = _rollout(scheme, phi0, 30)
        assert float(jnp.max(jnp.abs(fields))) <= 1 + 1e-14
        assert largest_relative_increase(energies) <= ROUND_OFF


def test_maximum_bound_fails_without_the_stabilisation():
    # S = 0 at dt = 10 breaks the condition: the bound is lost, so the test above can fail.
    flow = GradientFlow(
        "allen-cahn", (N, N), length=1.0, eps=0.02, laplacian="central", dtype=jnp.float64
    )
    fields, _ = _rollout(
        StabilisedSemiImplicit(flow, 10.0, stabilisation=0.0), random_field((N, N), seed=3), 5
    )
    assert float(jnp.max(jnp.abs(fields))) > 1.01


# ------------------------------------------------------------ the energy and its gradient


def test_energy_of_a_sine_matches_the_closed_form():
    # phi = a sin(x) on [0, 2 pi): E = eps^2 a^2 pi / 2 + (3 pi a^4 / 4 - 2 pi a^2 + 2 pi) / 4,
    # exact on the grid for the spectral and (with its own symbol) the central Laplacian.
    a, eps, n = 0.7, 0.3, 16
    x = np.arange(n) * LENGTH / n
    flow = GradientFlow("allen-cahn", n, length=LENGTH, eps=eps, dtype=jnp.float64)
    exact = eps**2 * a**2 * np.pi / 2 + (3 * np.pi * a**4 / 4 - 2 * np.pi * a**2 + 2 * np.pi) / 4
    assert abs(float(flow.energy(a * np.sin(x))) - exact) < 1e-13


@pytest.mark.parametrize("equation", EQUATIONS)
def test_chemical_potential_is_the_gradient_and_the_flow_dissipates(equation):
    flow = make_flow(equation, (16, 16), laplacian="central")
    phi = random_field((16, 16), seed=4)
    mu = flow.chemical_potential(phi)
    gradient = jax.grad(flow.energy)(phi) / flow.cell_volume
    np.testing.assert_allclose(gradient, mu, rtol=0, atol=1e-12)
    rate = jax.jvp(flow.energy, (phi,), (flow.time_derivative(phi),))[1]
    dissipation = flow.inner(flow.apply(flow.mobility, mu), mu)
    assert float(dissipation) > 0
    np.testing.assert_allclose(rate, -dissipation, rtol=1e-12)


def test_sav_modified_energy_starts_at_the_energy():
    flow = make_flow("allen-cahn")
    phi0 = random_field((N, N), seed=5)
    scheme = SAV(flow, 0.1)
    np.testing.assert_allclose(
        scheme.discrete_energy(scheme.init(phi0)), flow.energy(phi0), rtol=1e-14
    )


def test_float32_runs_in_float32():
    flow = GradientFlow("cahn-hilliard", (16, 16), length=LENGTH, eps=0.1)
    phi0 = random_field((16, 16), seed=6).astype(jnp.float32)
    fields, energies = _rollout(make_scheme("sav2", flow, 0.01), phi0, 4)
    assert fields.dtype == jnp.float32 and energies.dtype == jnp.float32


# ------------------------------------------------------------------------------ errors


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="equation to be one of"):
        GradientFlow("heat", (8, 8))
    with pytest.raises(ValueError, match="grid shape of 1 to 3 integers >= 4"):
        GradientFlow("allen-cahn", (8, 8, 8, 8))
    with pytest.raises(ValueError, match="eps > 0"):
        GradientFlow("allen-cahn", (8, 8), eps=-1.0)
    flow = GradientFlow("allen-cahn", (8, 8), dtype=jnp.float64)
    with pytest.raises(ValueError, match="dt > 0"):
        make_scheme("sav1", flow, 0.0)
    with pytest.raises(ValueError, match="unknown scheme 'rk4'"):
        make_scheme("rk4", flow, 0.1)
    with pytest.raises(ValueError, match=r"shape \(8, 8\).*jax.vmap"):
        make_scheme("sav1", flow, 0.1).init(jnp.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="NaN"):
        make_scheme("etd1", flow, 0.1).init(jnp.full((8, 8), jnp.nan))
    with pytest.raises(ValueError, match="dtype"):
        make_scheme("etd1", flow, 0.1).init(jnp.zeros((8, 8), jnp.float32))
    with pytest.raises(ValueError, match="save_every"):
        rollout(make_scheme("etd1", flow, 0.1), jnp.zeros((8, 8)), 10, save_every=3)
