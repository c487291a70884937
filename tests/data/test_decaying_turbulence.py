"""Decaying turbulence: McWilliams' initial spectrum, its energy, and an enstrophy that
only falls."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.data.decaying_turbulence import (
    DecayingTurbulenceConfig,
    generate_decaying_turbulence,
    mcwilliams_vorticity,
)
from sciml.solvers.navier_stokes import velocity_from_vorticity


def test_the_initial_field_has_the_energy_asked_for_and_mcwilliams_spectrum():
    s, n0 = 64, 6.0
    keys = jax.random.split(jax.random.key(0), 16)
    fields = jax.vmap(lambda k: mcwilliams_vorticity(k, s, peak_wavenumber=n0, energy=0.3))(keys)
    u, v = velocity_from_vorticity(fields[0])
    assert float(0.5 * jnp.mean(u**2 + v**2)) == pytest.approx(0.3, rel=1e-5)
    assert abs(float(jnp.mean(fields[0]))) < 1e-10
    # the mean |psi_hat(n)|^2 over the samples follows n^-1 (1 + (n / n0)^4)^-1: their
    # ratio, averaged over each shell of wavenumbers 2..20, is one constant (a wrong
    # exponent would make it drift by orders of magnitude over that range)
    psi_hat = jnp.fft.fft2(fields, norm="forward")
    n = np.sqrt(np.add.outer(np.fft.fftfreq(s, 1 / s) ** 2, np.fft.fftfreq(s, 1 / s) ** 2))
    safe = np.where(n == 0, 1, n)
    psi2 = np.asarray(jnp.mean(jnp.abs(psi_hat) ** 2, axis=0)) / (2 * np.pi * safe) ** 4
    ratio = psi2 * safe * (1 + (safe / n0) ** 4)
    shell = np.rint(n).astype(int)
    means = np.array([ratio[shell == k].mean() for k in range(2, 21)])
    assert np.max(np.abs(means / np.mean(means) - 1)) < 0.3


def test_generated_frames_lose_enstrophy_frame_by_frame():
    config = DecayingTurbulenceConfig(
        solve_resolution=16, resolution=8, t_warmup=0.05, n_frames=4, n_train=2, n_test=1
    )
    splits = generate_decaying_turbulence(config)
    train = splits["train"]
    assert train.inputs.shape == (2, 1, 8, 8) and train.outputs.shape == (2, 4, 8, 8)
    enstrophy = np.mean(train.outputs**2, axis=(2, 3))
    assert np.all(np.diff(enstrophy, axis=1) < 0)
    assert np.all(np.mean(train.inputs[:, 0] ** 2, axis=(1, 2)) > enstrophy[:, 0])


def test_bad_configs_name_what_was_expected():
    with pytest.raises(ValueError, match="t_warmup >= 0, a whole number of frame intervals"):
        DecayingTurbulenceConfig(t_warmup=0.03, frame_interval=0.025)
    with pytest.raises(ValueError, match="resolution to divide solve_resolution"):
        DecayingTurbulenceConfig(solve_resolution=64, resolution=24)
