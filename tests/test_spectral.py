"""Tests of the spectral helpers: wavenumbers, the 2/3 rule, spectral derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.spectral import (
    dealias_mask,
    rwavenumbers,
    spectral_derivative,
    squared_wavenumbers,
    wavenumber_grid,
    wavenumbers,
)

# --------------------------------------------------------------------------- wavenumbers


@pytest.mark.parametrize("n", [1, 2, 7, 8, 33])
@pytest.mark.parametrize("length", [1.0, 2.5])
def test_wavenumbers_agree_with_numpy(n, length):
    expected = 2 * np.pi * np.fft.fftfreq(n, d=length / n) / 1.0
    # fftfreq(n, d) is k / (n d) = k / length, so this is 2 pi k / length.
    np.testing.assert_allclose(wavenumbers(n, length, jnp.float64), expected, rtol=1e-15)
    expected_real = 2 * np.pi * np.fft.rfftfreq(n, d=length / n)
    np.testing.assert_allclose(rwavenumbers(n, length, jnp.float64), expected_real, rtol=1e-15)


def test_wavenumbers_dtype():
    assert wavenumbers(8).dtype == jnp.float32
    assert rwavenumbers(8, dtype=jnp.float64).dtype == jnp.float64
    assert rwavenumbers(9).shape == (5,)


@pytest.mark.parametrize("real", [True, False])
def test_wavenumber_grid_is_a_sparse_meshgrid(real):
    shape, lengths = (4, 6, 5), (1.0, 2.0, 3.0)
    grid = wavenumber_grid(shape, lengths, real=real, dtype=jnp.float64)
    axes = [2 * np.pi * np.fft.fftfreq(n, d=length / n) for n, length in zip(shape, lengths)]
    if real:
        axes[-1] = 2 * np.pi * np.fft.rfftfreq(shape[-1], d=lengths[-1] / shape[-1])
    expected = np.meshgrid(*axes, indexing="ij", sparse=True)
    assert len(grid) == 3
    for got, want in zip(grid, expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-15)


def test_wavenumber_grid_scalar_length_and_bad_length():
    kx, ky = wavenumber_grid((4, 4), 2.0, real=False, dtype=jnp.float64)
    np.testing.assert_allclose(kx[:, 0], np.pi * np.array([0, 1, -2, -1]))
    np.testing.assert_allclose(ky[0], np.pi * np.array([0, 1, -2, -1]))
    with pytest.raises(ValueError, match="one scalar per axis"):
        wavenumber_grid((4, 4), (1.0, 2.0, 3.0))


@pytest.mark.parametrize("real", [True, False])
def test_squared_wavenumbers_are_the_symbol_of_the_spectral_laplacian(real):
    """|kappa|^2 times the transform of u is minus the transform of the exact Laplacian of
    u = sin(2 pi x / L_1) cos(4 pi y / L_2) + cos(6 pi x / L_1)."""
    shape, lengths = (12, 10), (2.0, 3.0)
    k2 = squared_wavenumbers(shape, lengths, real=real, dtype=jnp.float64)
    assert k2.shape == ((12, 6) if real else shape) and float(k2[0, 0]) == 0.0
    x = np.arange(12)[:, None] * lengths[0] / 12
    y = np.arange(10)[None, :] * lengths[1] / 10
    a, b, c = 2 * np.pi / lengths[0], 4 * np.pi / lengths[1], 6 * np.pi / lengths[0]
    u = np.sin(a * x) * np.cos(b * y) + np.cos(c * x) + 0 * y
    minus_laplacian = (a**2 + b**2) * np.sin(a * x) * np.cos(b * y) + c**2 * np.cos(c * x) + 0 * y
    transform = np.fft.rfftn if real else np.fft.fftn
    np.testing.assert_allclose(
        np.asarray(k2) * transform(u), transform(minus_laplacian), rtol=0, atol=1e-11
    )


def test_central_stencil_is_the_symbol_of_the_three_point_laplacian():
    """On any periodic field, multiplying by the central symbol equals applying
    -(u_{j+1} - 2 u_j + u_{j-1}) / h^2 on every axis, to round-off."""
    shape, lengths = (8, 6, 5), (1.0, 2.0, 0.5)
    u = np.random.default_rng(0).standard_normal(shape)
    stencil = sum(
        -(np.roll(u, 1, axis) - 2 * u + np.roll(u, -1, axis)) / (length / n) ** 2
        for axis, (n, length) in enumerate(zip(shape, lengths))
    )
    symbol = squared_wavenumbers(shape, lengths, dtype=jnp.float64, stencil="central")
    applied = np.fft.irfftn(np.asarray(symbol) * np.fft.rfftn(u), s=shape, axes=(0, 1, 2))
    np.testing.assert_allclose(applied, stencil, rtol=0, atol=1e-11 * np.max(np.abs(stencil)))
    spectral = squared_wavenumbers(shape, lengths, dtype=jnp.float64)
    assert np.all(np.asarray(symbol) <= np.asarray(spectral) + 1e-12)  # sin(x) <= x
    with pytest.raises(ValueError, match="stencil"):
        squared_wavenumbers(shape, stencil="upwind")


# --------------------------------------------------------------------------- 2/3 rule


@pytest.mark.parametrize("n, kept", [(9, 2), (12, 3), (16, 5), (48, 15), (64, 21)])
def test_dealias_mask_keeps_the_right_modes_1d(n, kept):
    k = np.fft.fftfreq(n, 1.0 / n)
    np.testing.assert_array_equal(dealias_mask((n,), real=False), np.abs(k) <= kept)
    k_real = np.fft.rfftfreq(n, 1.0 / n)
    np.testing.assert_array_equal(dealias_mask((n,)), k_real <= kept)


def test_dealias_mask_is_the_product_of_the_axis_masks():
    mask = np.asarray(dealias_mask((12, 16)))
    assert mask.shape == (12, 9)
    rows = np.abs(np.fft.fftfreq(12, 1 / 12)) <= 3
    columns = np.fft.rfftfreq(16, 1 / 16) <= 5
    np.testing.assert_array_equal(mask, rows[:, None] & columns[None, :])
    assert dealias_mask((6, 4, 5), real=False).shape == (6, 4, 5)


def _random_band_limited(rng, shape, mask):
    """A real field whose full-FFT coefficients vanish outside ``mask``."""
    spectrum = np.fft.fftn(rng.standard_normal(shape)) * mask
    return np.fft.ifftn(spectrum).real


def _exact_product_coefficients(a, b, shape):
    """fftn of the exact product of two trigonometric interpolants, on the ``shape`` modes."""
    fine_shape = tuple(4 * n for n in shape)
    ks = np.meshgrid(*[np.fft.fftfreq(n, 1.0 / n).astype(int) for n in shape], indexing="ij")
    fine_index = tuple(k % m for k, m in zip(ks, fine_shape))

    def to_fine(field):
        # Zero-padding the spectrum evaluates the interpolant on the fine grid exactly
        # (the fields have no Nyquist content, so the padding is unambiguous).
        fine = np.zeros(fine_shape, dtype=complex)
        fine[fine_index] = np.fft.fftn(field)
        return np.fft.ifftn(fine).real * (np.prod(fine_shape) / np.prod(shape))

    product = np.fft.fftn(to_fine(a) * to_fine(b))
    return product[fine_index] * (np.prod(shape) / np.prod(fine_shape))


@pytest.mark.parametrize("shape", [(48,), (12, 18)])
def test_dealiased_product_has_no_aliasing_error(shape):
    # A pseudo-spectral product of two fields in the kept band, filtered by the mask,
    # equals the filtered exact product; with a cut-off one mode wider it does not.
    rng = np.random.default_rng(0)
    mask = np.asarray(dealias_mask(shape, real=False))
    a = _random_band_limited(rng, shape, mask)
    b = _random_band_limited(rng, shape, mask)
    exact = _exact_product_coefficients(a, b, shape)
    pseudo_spectral = np.fft.fftn(a * b)
    np.testing.assert_allclose(pseudo_spectral * mask, exact * mask, atol=1e-10)

    ks = np.meshgrid(*[np.fft.fftfreq(n, 1.0 / n) for n in shape], indexing="ij")
    wider = np.all([3 * np.abs(k) <= n + 3 for k, n in zip(ks, shape)], axis=0)
    a = _random_band_limited(rng, shape, wider)
    b = _random_band_limited(rng, shape, wider)
    exact = _exact_product_coefficients(a, b, shape)
    assert np.max(np.abs((np.fft.fftn(a * b) - exact) * wider)) > 1e-3


# --------------------------------------------------------------------------- derivatives


@pytest.mark.parametrize("n", [16, 17])
def test_derivative_of_sin_and_cos_is_exact_1d(n):
    length = 2.0
    x = np.arange(n) * length / n
    a, b = 2 * np.pi * 3 / length, 2 * np.pi * 5 / length
    u = np.sin(a * x) + 0.5 * np.cos(b * x)
    derivatives = {
        1: a * np.cos(a * x) - 0.5 * b * np.sin(b * x),
        2: -(a**2) * np.sin(a * x) - 0.5 * b**2 * np.cos(b * x),
        3: -(a**3) * np.cos(a * x) + 0.5 * b**3 * np.sin(b * x),
        4: a**4 * np.sin(a * x) + 0.5 * b**4 * np.cos(b * x),
    }
    np.testing.assert_allclose(spectral_derivative(jnp.asarray(u), 0, length), u, atol=1e-14)
    for order, expected in derivatives.items():
        got = spectral_derivative(jnp.asarray(u), order, length)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(got, expected, atol=1e-13 * np.max(np.abs(expected)))


def test_derivative_of_sin_cos_is_exact_2d():
    shape, lengths = (16, 12), (1.0, 3.0)
    x = np.arange(shape[0])[:, None] * lengths[0] / shape[0]
    y = np.arange(shape[1])[None, :] * lengths[1] / shape[1]
    a, b = 2 * np.pi * 3 / lengths[0], 2 * np.pi * 2 / lengths[1]
    u = np.sin(a * x) * np.cos(b * y)
    cases = {
        (1, 0): a * np.cos(a * x) * np.cos(b * y),
        (0, 1): -b * np.sin(a * x) * np.sin(b * y),
        (1, 1): -a * b * np.cos(a * x) * np.sin(b * y),
        (2, 1): a**2 * b * np.sin(a * x) * np.sin(b * y),
        (2, 2): a**2 * b**2 * np.sin(a * x) * np.cos(b * y),
    }
    for order, expected in cases.items():
        got = spectral_derivative(jnp.asarray(u), order, lengths)
        scale = np.max(np.abs(expected))
        np.testing.assert_allclose(got, expected, atol=1e-13 * scale, err_msg=str(order))


def test_odd_derivatives_drop_the_nyquist_mode_and_even_ones_keep_it():
    n, length = 8, 2.0
    j = np.arange(n)
    nyquist = np.cos(np.pi * n / length * j * length / n)  # (-1)^j
    np.testing.assert_allclose(spectral_derivative(nyquist, 1, length), 0.0, atol=1e-12)
    np.testing.assert_allclose(spectral_derivative(nyquist, 3, length), 0.0, atol=1e-10)
    second = spectral_derivative(nyquist, 2, length)
    np.testing.assert_allclose(second, -((np.pi * n / length) ** 2) * nyquist, rtol=1e-13)
    # In 2-D, the Nyquist row (full-FFT axis) and column (rfft axis) both vanish under an
    # odd derivative along their own axis and survive one along the other axis.
    field = np.cos(np.pi * j)[:, None] * np.sin(2 * np.pi * j / n)[None, :]
    np.testing.assert_allclose(spectral_derivative(field, (1, 0)), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        spectral_derivative(field, (0, 1)),
        np.cos(np.pi * j)[:, None] * 2 * np.pi * np.cos(2 * np.pi * j / n)[None, :],
        atol=1e-12,
    )
    np.testing.assert_allclose(spectral_derivative(field.T, (0, 1)), 0.0, atol=1e-12)


def test_derivative_keeps_float32_and_works_under_jit():
    x = jnp.arange(32, dtype=jnp.float32) / 32
    u = jnp.sin(2 * jnp.pi * x)
    derivative = jax.jit(spectral_derivative, static_argnums=1)(u, 1)
    assert derivative.dtype == jnp.float32
    np.testing.assert_allclose(derivative, 2 * np.pi * np.cos(2 * np.pi * x), atol=1e-4)


@pytest.mark.parametrize(
    "u, order, message",
    [
        (jnp.zeros((8, 8)), 1, "1 axes but u has shape"),
        (jnp.zeros(8), (1, 1), "2 axes but u has shape"),
        (jnp.zeros(8), -1, "non-negative"),
        (jnp.zeros(8), 1.5, "non-negative"),
        (jnp.zeros(8, dtype=jnp.int32), 1, "real floating"),
        (jnp.zeros(8, dtype=jnp.complex64), 1, "real floating"),
    ],
)
def test_spectral_derivative_rejects_bad_inputs(u, order, message):
    with pytest.raises(ValueError, match=message):
        spectral_derivative(u, order)


@pytest.mark.parametrize("shape", [(0,), (4, -1), ()])
def test_bad_shapes_raise(shape):
    with pytest.raises(ValueError, match="got"):
        dealias_mask(shape)
    with pytest.raises(ValueError, match="got"):
        wavenumber_grid(shape)
