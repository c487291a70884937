"""2-D Navier–Stokes (vorticity form) on the unit torus: exact solutions, orders, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.fields import periodic_grf
from sciml.solvers.navier_stokes import (
    ETDRK4,
    CrankNicolsonEuler,
    cfl_time_step,
    divergence,
    fno_forcing,
    make_stepper,
    max_speed,
    rollout,
    solve_navier_stokes,
    steps_per_interval,
    velocity_from_vorticity,
    vorticity_from_velocity,
)


def grid(s):
    x = np.arange(s) / s
    return x[:, None], x[None, :]


def smooth_vorticity(s, *, amplitude, seed=0, tau=7.0):
    """A smooth, zero-mean random vorticity (GRF, alpha = 4) with max |w| = amplitude."""
    w = periodic_grf(jax.random.key(seed), 1, (s, s), alpha=4.0, tau=tau, dtype=jnp.float64)[0]
    return amplitude * w / jnp.max(jnp.abs(w))


def relative_l2(a, b):
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


# ----------------------------------------------------------------------- kinematics


def test_velocity_is_divergence_free_and_has_curl_w():
    s = 32
    w = periodic_grf(jax.random.key(1), 1, (s, s), alpha=2.5, tau=7.0, dtype=jnp.float64)[0]
    u, v = velocity_from_vorticity(w)
    scale = float(jnp.max(jnp.abs(u)) + jnp.max(jnp.abs(v))) * 2 * np.pi * s
    assert float(jnp.max(jnp.abs(divergence(u, v)))) < 1e-14 * scale

    # curl u = w on every mode off the Nyquist row and column (first derivatives of the
    # Nyquist modes are set to zero)
    def drop_nyquist(field):
        spectrum = jnp.fft.rfft2(field).at[s // 2].set(0).at[:, s // 2].set(0)
        return jnp.fft.irfft2(spectrum, s=(s, s))

    curl = vorticity_from_velocity(u, v)
    np.testing.assert_allclose(drop_nyquist(curl), drop_nyquist(w), atol=1e-13)
    # the sign convention: w = sin(2 pi x) gives psi = w / (2 pi)^2, u = 0, v = -psi_x
    x, y = grid(s)
    w = np.sin(2 * np.pi * x) + 0 * y
    u, v = velocity_from_vorticity(w)
    np.testing.assert_allclose(u, 0, atol=1e-14)
    np.testing.assert_allclose(v, -np.cos(2 * np.pi * x) / (2 * np.pi) + 0 * y, atol=1e-14)


# ---------------------------------------------------------------------- the released update


def released_generator_steps(w0, f, nu, dt, steps):
    """A line-by-line numpy transcription of ``navier_stokes_2d`` in the FNO ``ns_2d.py``:
    full complex spectra, torch's ``irfft(onesided=False)`` read as the inverse real FFT
    of the first ``N // 2 + 1`` columns."""
    n = w0.shape[-1]
    k_max = n // 2
    k_y = np.tile(np.concatenate([np.arange(0, k_max), np.arange(-k_max, 0)]), (n, 1))
    k_x = k_y.T
    lap = 4 * np.pi**2 * (k_x**2 + k_y**2)
    lap[0, 0] = 1.0
    dealias = (np.abs(k_y) <= (2 / 3) * k_max) & (np.abs(k_x) <= (2 / 3) * k_max)

    def irfft(z):
        return np.fft.irfft2(z[:, : n // 2 + 1], s=(n, n))

    w_h, f_h = np.fft.fft2(w0), np.fft.fft2(f)
    for _ in range(steps):
        psi_h = w_h / lap
        q = irfft(2j * np.pi * k_y * psi_h)
        v = irfft(-2j * np.pi * k_x * psi_h)
        w_x = irfft(2j * np.pi * k_x * w_h)
        w_y = irfft(2j * np.pi * k_y * w_h)
        F_h = np.fft.fft2(q * w_x + v * w_y) * dealias
        a = 0.5 * dt * nu * lap
        w_h = (-dt * F_h + dt * f_h + (1.0 - a) * w_h) / (1.0 + a)
    return irfft(w_h)


def test_paper_scheme_is_the_released_update():
    s, nu, dt, steps = 32, 1e-3, 1e-2, 5
    w0 = periodic_grf(jax.random.key(2), 1, (s, s), alpha=2.5, tau=7.0, dtype=jnp.float64)[0]
    w0 = 10 * w0  # strong advection, so that the nonlinear term matters
    f = fno_forcing(s, jnp.float64)
    stepper = CrankNicolsonEuler(s, nu=nu, dt=dt, forcing=f)
    ours = rollout(stepper, w0, num_frames=1, steps_per_frame=steps)[0]
    reference = released_generator_steps(np.asarray(w0), np.asarray(f), nu, dt, steps)
    assert np.max(np.abs(reference - np.asarray(w0))) > 1e-2  # it moved
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-13)


# ---------------------------------------------------------------------- exact solutions


@pytest.mark.parametrize("scheme", ["paper", "fast"])
def test_taylor_green_decay(scheme):
    """w = sin(2 pi k x) sin(2 pi k y) is steady under advection (u . grad w = 0) and decays
    as exp(-2 nu (2 pi k)^2 t). ETDRK4 integrates the linear part exactly; Crank–Nicolson
    multiplies by r = (1 - a) / (1 + a), a = nu |k|^2 dt / 2, per step, an error O(dt^2)."""
    s, k, nu, t_final = 16, 2, 0.01, 3
    x, y = grid(s)
    w0 = np.sin(2 * np.pi * k * x) * np.sin(2 * np.pi * k * y)
    dt = 1e-3 if scheme == "paper" else 0.25
    frames = solve_navier_stokes(w0, nu=nu, t_final=t_final, scheme=scheme, dt=dt)
    times = np.arange(1, t_final + 1)[:, None, None]
    rate = 2 * nu * (2 * np.pi * k) ** 2
    exact = w0 * np.exp(-rate * times)
    if scheme == "fast":
        np.testing.assert_allclose(frames, exact, rtol=0, atol=1e-13)
    else:
        a = 0.5 * dt * rate
        crank_nicolson = w0 * ((1 - a) / (1 + a)) ** np.round(times / dt)
        np.testing.assert_allclose(frames, crank_nicolson, rtol=0, atol=1e-13)
        error = np.max(np.abs(frames - exact), axis=(1, 2))
        predicted = np.exp(-rate * times[:, 0, 0]) * rate**3 * dt**2 * times[:, 0, 0] / 12
        np.testing.assert_allclose(error, predicted, rtol=1e-2)


@pytest.mark.parametrize("scheme", ["paper", "fast"])
def test_kolmogorov_flow_is_steady_and_attracting(scheme):
    """f = F sin(2 pi n y) has the steady laminar state w* = F / (nu (2 pi n)^2) sin(2 pi n y)
    (u = (psi_y, 0) is parallel to the level lines of w*). Here Re = max|u| / nu ~ 0.05."""
    s, n, amplitude, nu = 16, 2, 1.0, 0.1
    x, y = grid(s)
    forcing = amplitude * np.sin(2 * np.pi * n * y) + 0 * x
    steady = forcing / (nu * (2 * np.pi * n) ** 2)
    dt = 1e-2 if scheme == "paper" else 0.1
    frames = solve_navier_stokes(steady, nu=nu, t_final=2, forcing=forcing, scheme=scheme, dt=dt)
    np.testing.assert_allclose(frames, np.broadcast_to(steady, frames.shape), rtol=0, atol=1e-15)
    # a perturbation decays at least like its slowest viscous mode, exp(-nu (2 pi)^2 t)
    perturbed = steady + smooth_vorticity(s, amplitude=0.05)
    frames = solve_navier_stokes(perturbed, nu=nu, t_final=4, forcing=forcing, scheme=scheme, dt=dt)
    distance = np.max(np.abs(np.asarray(frames) - steady), axis=(1, 2))
    assert np.all(np.diff(distance) < 0)
    assert distance[-1] < 0.05 * np.exp(-nu * (2 * np.pi) ** 2 * 4) * 1.01


# ---------------------------------------------------------------------- convergence orders


@pytest.fixture(scope="module")
def nonlinear_case():
    """A strongly advective forced flow on 32^2: max|u| ~ 1, so advection dominates."""
    s, nu, t_final = 32, 1e-3, 0.5
    w0 = smooth_vorticity(s, amplitude=8.0, seed=3, tau=5.0)
    forcing = fno_forcing(s, jnp.float64)
    reference_stepper = ETDRK4(s, nu=nu, dt=t_final / 800, forcing=forcing)
    reference = rollout(reference_stepper, w0, num_frames=1, steps_per_frame=800)[0]
    return s, nu, t_final, w0, forcing, reference


def fitted_order(stepper_class, nonlinear_case, steps_list):
    s, nu, t_final, w0, forcing, reference = nonlinear_case
    dts, errors = [], []
    for steps in steps_list:
        stepper = stepper_class(s, nu=nu, dt=t_final / steps, forcing=forcing)
        final = rollout(stepper, w0, num_frames=1, steps_per_frame=steps)[0]
        dts.append(t_final / steps)
        errors.append(relative_l2(final, reference))
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    return slope, errors


def test_paper_scheme_is_first_order(nonlinear_case):
    slope, errors = fitted_order(CrankNicolsonEuler, nonlinear_case, [200, 400, 800, 1600])
    assert 1e-6 < errors[-1] < errors[0] < 1e-1
    assert 0.9 < slope < 1.1, (slope, errors)


def test_fast_scheme_is_fourth_order(nonlinear_case):
    slope, errors = fitted_order(ETDRK4, nonlinear_case, [10, 14, 20, 28, 40])
    assert 1e-11 < errors[-1] < errors[0] < 1e-2
    assert 3.7 < slope < 4.3, (slope, errors)


# ----------------------------------------------------------------------- differentiation


def test_gradient_matches_finite_differences():
    s, nu = 16, 1e-2
    w0 = smooth_vorticity(s, amplitude=5.0, seed=4)
    direction = smooth_vorticity(s, amplitude=1.0, seed=5)
    weights = smooth_vorticity(s, amplitude=1.0, seed=6)
    stepper = ETDRK4(s, nu=nu, dt=0.05, forcing=fno_forcing(s, jnp.float64))

    def loss(w):
        frames = rollout(stepper, w, num_frames=2, steps_per_frame=5)
        return jnp.sum(weights * frames[-1] ** 2) + jnp.sum(frames[0] * weights)

    directional = float(jnp.vdot(jax.grad(loss)(w0), direction))
    eps = 1e-5
    finite_difference = (loss(w0 + eps * direction) - loss(w0 - eps * direction)) / (2 * eps)
    assert abs(directional - float(finite_difference)) < 1e-8 * abs(directional)


# ---------------------------------------------------------------------- batching, dtypes, times


def test_vmap_equals_loop_and_float32_stays_float32():
    s = 16
    w0 = jnp.stack([smooth_vorticity(s, amplitude=3.0, seed=i) for i in range(3)])
    forcing = fno_forcing(s, jnp.float64)
    stepper = ETDRK4(s, nu=1e-3, dt=0.1, forcing=forcing)
    batched = jax.vmap(lambda w: rollout(stepper, w, num_frames=2, steps_per_frame=10))(w0)
    looped = jnp.stack([rollout(stepper, w, num_frames=2, steps_per_frame=10) for w in w0])
    np.testing.assert_allclose(batched, looped, rtol=0, atol=1e-13)
    single = rollout(stepper, w0[0].astype(jnp.float32), num_frames=2, steps_per_frame=10)
    assert single.dtype == jnp.float32
    assert relative_l2(single.astype(jnp.float64), looped[0]) < 1e-5
    frames = solve_navier_stokes(
        w0[0].astype(jnp.float32), nu=1e-3, t_final=1, scheme="paper", dt=1e-2, forcing=forcing
    )
    assert frames.dtype == jnp.float32


def test_frames_are_at_the_recording_times():
    s, nu = 16, 1e-3
    w0 = smooth_vorticity(s, amplitude=4.0, seed=7)
    forcing = fno_forcing(s, jnp.float64)
    frames = solve_navier_stokes(w0, nu=nu, t_final=3, forcing=forcing, dt=0.1)
    alone = solve_navier_stokes(w0, nu=nu, t_final=2, forcing=forcing, dt=0.1)
    assert alone.shape == (2, s, s)
    np.testing.assert_allclose(frames[:2], alone, rtol=0, atol=1e-13)
    halves = solve_navier_stokes(w0, nu=nu, t_final=3, record_every=0.5, forcing=forcing, dt=0.1)
    assert halves.shape == (6, s, s)
    np.testing.assert_allclose(halves[1::2], frames, rtol=0, atol=1e-13)


def test_time_step_rounding_and_cfl():
    assert steps_per_interval(1.0, 1e-4) == 10000
    assert steps_per_interval(1.0, 0.3) == 4
    dt = cfl_time_step(1.0, 64, cfl=0.5, record_every=1.0)
    assert dt <= 0.5 / 64 and round(1.0 / dt) * dt == pytest.approx(1.0, abs=1e-12)
    assert cfl_time_step(1e-6, 64, max_dt=0.05) == 0.05
    stepper, steps = make_stepper(32, nu=1e-3, scheme="fast", speed=2.0, record_every=0.5)
    assert isinstance(stepper, ETDRK4) and steps * stepper.dt == pytest.approx(0.5)
    assert stepper.dt <= 0.5 / (32 * 2.0)
    stepper, steps = make_stepper(32, nu=1e-3, scheme="paper")
    assert isinstance(stepper, CrankNicolsonEuler) and steps == 10000
    # without a bound, the step comes from the speed of w0 (times the safety factor 2)
    w0 = smooth_vorticity(32, amplitude=4.0, seed=8)
    expected = cfl_time_step(2 * max_speed(w0), 32)
    frames = solve_navier_stokes(w0, nu=1e-3, t_final=1)
    stepper, steps = make_stepper(32, nu=1e-3, dt=expected)
    np.testing.assert_allclose(
        frames, rollout(stepper, w0, num_frames=1, steps_per_frame=steps), atol=1e-13
    )


def test_bad_inputs_raise():
    w = np.zeros((16, 16))
    with pytest.raises(ValueError, match=r"shape \(s, s\)"):
        solve_navier_stokes(np.zeros((16, 8)), nu=1e-3, t_final=1, dt=0.1)
    with pytest.raises(ValueError, match=r"shape \(s, s\)"):
        solve_navier_stokes(np.zeros((2, 16, 16)), nu=1e-3, t_final=1, dt=0.1)
    with pytest.raises(ValueError, match="even grid size"):
        solve_navier_stokes(np.zeros((15, 15)), nu=1e-3, t_final=1, dt=0.1)
    with pytest.raises(ValueError, match="dt > 0"):
        solve_navier_stokes(w, nu=1e-3, t_final=1, dt=0.0)
    with pytest.raises(ValueError, match="dt > 0"):
        ETDRK4(16, nu=1e-3, dt=-1.0)
    with pytest.raises(ValueError, match="nu >= 0"):
        CrankNicolsonEuler(16, nu=-1.0)
    with pytest.raises(ValueError, match="integer multiple of record_every"):
        solve_navier_stokes(w, nu=1e-3, t_final=1.5, dt=0.1)
    with pytest.raises(ValueError, match="scheme"):
        solve_navier_stokes(w, nu=1e-3, t_final=1, scheme="rk4", dt=0.1)
    with pytest.raises(ValueError, match="NaN or inf"):
        solve_navier_stokes(np.full((16, 16), np.nan), nu=1e-3, t_final=1, dt=0.1)
    with pytest.raises(ValueError, match=r"forcing of shape \(16, 16\)"):
        solve_navier_stokes(w, nu=1e-3, t_final=1, dt=0.1, forcing=np.zeros((8, 8)))
    with pytest.raises(ValueError, match="real floating"):
        velocity_from_vorticity(np.zeros((16, 16), dtype=np.int32))
    with pytest.raises(ValueError, match="pass dt or a velocity bound"):
        jax.vmap(lambda w: solve_navier_stokes(w, nu=1e-3, t_final=1))(np.ones((2, 16, 16)))
    stepper = ETDRK4(16, nu=1e-3, dt=0.1)
    with pytest.raises(ValueError, match="steps_per_frame >= 1"):
        rollout(stepper, w, num_frames=1, steps_per_frame=0)
    with pytest.raises(ValueError, match=r"shape \(16, 16\)"):
        rollout(stepper, np.zeros((32, 32)), num_frames=1, steps_per_frame=1)
