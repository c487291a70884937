"""Tests of the Gaussian random field samplers: their law, their keys, dtypes and errors.

The statistical tests draw M samples and compare empirical second moments with the
prescribed ones. A squared transform coefficient of a Gaussian field is a scaled chi^2
with 2 degrees of freedom (a complex Fourier mode) or 1 (a real mode: the zero and
Nyquist modes of an FFT, every DCT mode), so its mean over M samples has relative
standard deviation sqrt(1/M) or sqrt(2/M). The keys are fixed, so the tests are
deterministic; the bands are wide enough (6 sigma per mode, 5 sigma for averages) that a
correct sampler passes for any key, and narrow enough to catch a wrong factor.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.fft
from scipy.special import gamma

from sciml.fields import (
    neumann_grf,
    neumann_grf_spectrum,
    periodic_grf,
    periodic_grf_spectrum,
)

NUM_SAMPLES = 2000


def _key(seed):
    # The statistical tests only need some valid key; the "rbg" implementation compiles
    # much faster on CPU than the default threefry one, which the key tests below cover.
    return jax.random.key(seed, impl="rbg")


def _self_conjugate_modes(shape):
    """Modes with k = -k (mod n) on every axis: their FFT coefficients of a real field are real."""
    ks = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return np.all([(2 * k) % n == 0 for k, n in zip(ks, shape)], axis=0)


def _assert_power_matches(power, prescribed, real_modes, num):
    """Per-mode and mode-averaged agreement of an empirical mean power with its prescription.

    Args:
        power: mean over ``num`` samples of the squared modulus of each coefficient.
        prescribed: the prescribed variance of each coefficient.
        real_modes: which coefficients are real Gaussians (chi^2_1) rather than complex (chi^2_2).
        num: number of samples.
    """
    assert np.all(power[prescribed == 0] < 1e-20 * np.max(prescribed))
    active = prescribed > 0
    ratio = power[active] / prescribed[active]
    relative_std = np.where(real_modes[active], np.sqrt(2 / num), np.sqrt(1 / num))
    worst = np.max(np.abs(ratio - 1) / relative_std)
    assert worst < 6.0, f"a mode is {worst:.1f} standard deviations off"
    # Modes are independent, except that +k and -k of a real field are the same variable;
    # either way the mean of the ratios over K modes has variance 2 / (K M).
    mean_std = np.sqrt(2 / (ratio.size * num))
    assert abs(np.mean(ratio) - 1) < 5 * mean_std, f"mean ratio {np.mean(ratio)}"


# --------------------------------------------------------------------------- samples

# The statistical tests share these draws (and so their compiled samplers).
PERIODIC_CASES = {
    "1d": ((16,), {}),
    "1d-odd": ((15,), {"alpha": 1.5, "tau": 5.0, "length": 2.0}),
    "2d": ((16, 16), {}),
    "2d-odd": ((6, 9), {"alpha": 2.5, "tau": 7.0, "sigma": 0.5, "length": 1.5, "mean_zero": False}),
    "3d": ((8, 8, 8), {}),
}
NEUMANN_SIZE = 16


@functools.cache
def _periodic_samples(case):
    shape, kwargs = PERIODIC_CASES[case]
    return periodic_grf(_key(1), NUM_SAMPLES, shape, dtype=jnp.float64, **kwargs)


@functools.cache
def _neumann_samples():
    return neumann_grf(_key(2), NUM_SAMPLES, NEUMANN_SIZE, dtype=jnp.float64)


# --------------------------------------------------------------------------- periodic law


@pytest.mark.parametrize("case", list(PERIODIC_CASES))
def test_periodic_empirical_spectrum_matches_prescribed(case):
    shape, kwargs = PERIODIC_CASES[case]
    samples = _periodic_samples(case)
    assert samples.shape == (NUM_SAMPLES, *shape)
    assert samples.dtype == jnp.float64
    coefficients = np.fft.fftn(np.asarray(samples), axes=tuple(range(1, len(shape) + 1)))
    power = np.mean(np.abs(coefficients) ** 2, axis=0)
    prescribed = np.asarray(periodic_grf_spectrum(shape, dtype=jnp.float64, **kwargs))
    assert prescribed.shape == shape
    mean_zero = kwargs.get("mean_zero", True)
    assert (prescribed[(0,) * len(shape)] == 0) == mean_zero
    _assert_power_matches(power, prescribed, _self_conjugate_modes(shape), NUM_SAMPLES)
    if mean_zero:
        sample_means = np.mean(np.asarray(samples).reshape(NUM_SAMPLES, -1), axis=1)
        assert np.max(np.abs(sample_means)) < 1e-14 * np.std(samples)


@pytest.mark.parametrize("case", ["1d", "1d-odd", "2d-odd"])
def test_periodic_covariance_is_the_truncated_continuous_covariance(case):
    # E[u(x) u(y)] = (1 / L^d) sum_k lambda_k cos(kappa_k . (x - y)) over the grid's modes,
    # with lambda_k = sigma^2 (|kappa_k|^2 + tau^2)^(-alpha), built here mode by mode, and
    # the documented default sigma = tau^(alpha - d / 2).
    shape, kwargs = PERIODIC_CASES[case]
    d = len(shape)
    alpha, tau, length = kwargs.get("alpha", 2.0), kwargs.get("tau", 3.0), kwargs.get("length", 1.0)
    sigma = kwargs.get("sigma", tau ** (alpha - d / 2))
    points = np.stack(
        np.meshgrid(*[np.arange(n) * length / n for n in shape], indexing="ij"), -1
    ).reshape(-1, d)
    modes = np.stack(
        np.meshgrid(*[np.fft.fftfreq(n, 1 / n) for n in shape], indexing="ij"), -1
    ).reshape(-1, d)
    if kwargs.get("mean_zero", True):
        modes = modes[np.any(modes != 0, axis=1)]
    kappa = 2 * np.pi * modes / length
    eigenvalues = sigma**2 * (np.sum(kappa**2, -1) + tau**2) ** (-alpha)
    phase = kappa @ (points[:, None, :] - points[None, :, :]).reshape(-1, d).T
    covariance = (eigenvalues @ np.cos(phase)).reshape(len(points), len(points)) / length**d

    flat = np.asarray(_periodic_samples(case)).reshape(NUM_SAMPLES, -1)
    empirical = flat.T @ flat / NUM_SAMPLES
    variance = np.diag(covariance)
    entry_std = np.sqrt((variance[:, None] * variance[None, :] + covariance**2) / NUM_SAMPLES)
    assert np.max(np.abs(empirical - covariance) / entry_std) < 6.0


@pytest.mark.parametrize("case", ["1d", "2d", "3d"])
def test_periodic_pointwise_variance_is_parseval_sum(case):
    shape, kwargs = PERIODIC_CASES[case]
    samples = np.asarray(_periodic_samples(case))
    spectrum = np.asarray(periodic_grf_spectrum(shape, dtype=jnp.float64, **kwargs))
    n_points = np.prod(shape)
    expected = spectrum.sum() / n_points**2
    # mean_j u_j^2 = sum_k |U_k|^2 / N^2 per sample; its variance is 2 sum_k S_k^2 / N^4.
    std = np.sqrt(2 * np.sum(spectrum**2) / NUM_SAMPLES) / n_points**2
    assert abs(np.mean(samples**2) - expected) < 5 * std


@pytest.mark.parametrize(
    "shape, length, alpha, tau",
    [((4096,), 1.0, 2.0, 40.0), ((256, 256), 3.0, 3.0, 30.0), ((64, 64, 64), 2.0, 3.0, 10.0)],
)
def test_default_sigma_gives_the_tau_independent_continuum_variance(shape, length, alpha, tau):
    # For tau L >> 2 pi and a grid resolving kappa >> tau, (1 / L^d) sum_k lambda_k approaches
    # (2 pi)^-d times the integral of lambda over R^d; with sigma^2 = tau^(2 alpha - d) the
    # pointwise variance is then (4 pi)^(-d/2) G(alpha - d/2) / G(alpha), whatever tau and L.
    d = len(shape)
    spectrum = periodic_grf_spectrum(
        shape, alpha=alpha, tau=tau, length=length, mean_zero=False, dtype=jnp.float64
    )
    variance = float(jnp.sum(spectrum)) / np.prod(shape) ** 2
    continuum = (4 * np.pi) ** (-d / 2) * gamma(alpha - d / 2) / gamma(alpha)
    np.testing.assert_allclose(variance, continuum, rtol=3e-3)


def test_periodic_grf_under_jit_and_differentiable_in_tau():
    @jax.jit
    def energy(tau):
        samples = periodic_grf(_key(1), NUM_SAMPLES, (16,), tau=tau, dtype=jnp.float64)
        return jnp.mean(samples**2)

    # Same key and tau = 3.0 (the default) as the eager "1d" draws, now with a traced tau.
    eager = np.mean(np.asarray(_periodic_samples("1d")) ** 2)
    np.testing.assert_allclose(energy(3.0), eager, rtol=1e-12)
    step = 1e-5
    finite_difference = (energy(3.0 + step) - energy(3.0 - step)) / (2 * step)
    np.testing.assert_allclose(jax.jit(jax.grad(energy))(3.0), finite_difference, rtol=1e-6)


# --------------------------------------------------------------------------- Neumann law


def test_neumann_empirical_spectrum_matches_prescribed():
    samples = _neumann_samples()
    assert samples.shape == (NUM_SAMPLES, NEUMANN_SIZE, NEUMANN_SIZE)
    assert samples.dtype == jnp.float64
    coefficients = scipy.fft.dctn(np.asarray(samples), type=2, norm="ortho", axes=(1, 2))
    power = np.mean(coefficients**2, axis=0)
    prescribed = np.asarray(neumann_grf_spectrum(NEUMANN_SIZE, dtype=jnp.float64))
    real_modes = np.ones(prescribed.shape, dtype=bool)
    _assert_power_matches(power, prescribed, real_modes, NUM_SAMPLES)


def test_neumann_spectrum_is_that_of_the_fno_darcy_generator():
    # The generator's recipe: coef = tau^(alpha-1) (pi^2 (K1^2 + K2^2) + tau^2)^(-alpha/2),
    # L = s * coef * xi with L[0, 0] = 0, so Var L = (s coef)^2.
    s, alpha, tau = 10, 2.0, 3.0
    k1, k2 = np.meshgrid(np.arange(s), np.arange(s))
    coef = tau ** (alpha - 1) * (np.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha / 2)
    expected = (s * coef) ** 2
    expected[0, 0] = 0
    spectrum = neumann_grf_spectrum(s, alpha=alpha, tau=tau, dtype=jnp.float64)
    np.testing.assert_allclose(spectrum, expected, rtol=1e-14)
    with_sigma = neumann_grf_spectrum(s, alpha=alpha, tau=tau, sigma=2.0, dtype=jnp.float64)
    np.testing.assert_allclose(with_sigma, expected * (2.0 / tau ** (alpha - 1)) ** 2, rtol=1e-14)


def test_neumann_samples_are_the_kl_series_at_cell_centres():
    # u(x_i, y_j) = sum_k coef_k xi_k phi_k(x_i, y_j), phi the L^2-orthonormal cosines
    # c_k1 c_k2 cos(pi k1 x) cos(pi k2 y), and coef_k xi_k = dct_ortho(u)_k / s.
    s = NEUMANN_SIZE
    u = np.asarray(_neumann_samples()[0])
    weights = scipy.fft.dctn(u, type=2, norm="ortho") / s
    centres = (np.arange(s) + 0.5) / s
    k = np.arange(s)
    phi = np.where(k == 0, 1.0, np.sqrt(2.0))[:, None] * np.cos(np.pi * k[:, None] * centres)
    np.testing.assert_allclose(phi.T @ weights @ phi, u, atol=1e-13 * np.max(np.abs(u)))
    np.testing.assert_allclose(np.mean(u), 0.0, atol=1e-15 * np.max(np.abs(u)))


# --------------------------------------------------------------------------- keys, dtypes


@pytest.mark.parametrize(
    "sampler",
    [
        lambda key: periodic_grf(key, 3, (8, 8)),
        lambda key: neumann_grf(key, 3, 8),
    ],
    ids=["periodic", "neumann"],
)
def test_keys_default_dtype_and_batch_axis(sampler):
    # Default (threefry) keys, as users make them; both samplers draw (3, 8, 8) noise.
    # (float64 on request is checked on the float64 draws above.)
    key, other = jax.random.key(9), jax.random.key(10)
    first = sampler(key)
    assert first.dtype == jnp.float32
    assert first.shape == (3, 8, 8)
    np.testing.assert_array_equal(first, sampler(key))
    assert not np.allclose(first, sampler(other))
    # The samples within a batch are different draws.
    assert not np.allclose(first[0], first[1])


def test_one_dimensional_shape_may_be_an_int():
    as_int = periodic_grf(_key(1), NUM_SAMPLES, 16, dtype=jnp.float64)
    np.testing.assert_array_equal(as_int, _periodic_samples("1d"))


# --------------------------------------------------------------------------- errors


KEY = _key(0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: periodic_grf(KEY, 0, (8,)), "num must be an integer >= 1, got 0"),
        (lambda: periodic_grf(KEY, 2.5, (8,)), "num must be an integer >= 1, got 2.5"),
        (lambda: periodic_grf(KEY, 2, (0, 8)), r"shape \(0, 8\) must be an integer >= 1, got 0"),
        (lambda: periodic_grf(KEY, 2, (8, -4)), "got -4"),
        (lambda: periodic_grf(KEY, 2, ()), r"1, 2 or 3 axes .* got \(\) with 0 axes"),
        (lambda: periodic_grf(KEY, 2, (4, 4, 4, 4)), "1, 2 or 3 axes .* with 4 axes"),
        (lambda: periodic_grf(KEY, 2, (8,), tau=0.0), "tau must be finite and > 0, got 0.0"),
        (lambda: periodic_grf(KEY, 2, (8,), tau=-1.0), "tau must be .* got -1.0"),
        (lambda: periodic_grf(KEY, 2, (8,), sigma=0.0), "sigma must be .* got 0.0"),
        (lambda: periodic_grf(KEY, 2, (8,), length=-2.0), "length must be .* got -2.0"),
        (lambda: periodic_grf(KEY, 2, (8, 8), length=(1.0, 2.0, 3.0)), "one scalar per axis"),
        (lambda: periodic_grf(KEY, 2, (8,), dtype=jnp.int32), "real floating dtype"),
        (lambda: periodic_grf_spectrum((8, 0)), "got 0"),
        (lambda: periodic_grf_spectrum((8,), tau=-3.0), "tau must be"),
        (lambda: neumann_grf(KEY, 0, 8), "num must be an integer >= 1, got 0"),
        (lambda: neumann_grf(KEY, 2, 0), "s must be an integer >= 1, got 0"),
        (lambda: neumann_grf(KEY, 2, 8, tau=-2.0), "tau must be .* got -2.0"),
        (lambda: neumann_grf(KEY, 2, 8, sigma=-1.0), "sigma must be .* got -1.0"),
        (lambda: neumann_grf(KEY, 2, 8, dtype=jnp.complex64), "real floating dtype"),
        (lambda: neumann_grf_spectrum(-1), "s must be an integer >= 1, got -1"),
    ],
)
def test_bad_inputs_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
