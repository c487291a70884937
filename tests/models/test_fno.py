"""FNO: the spectral layer against a brute-force Fourier sum, resolution independence,
the parameter-count formula, 1-D/2-D/3-D, padding and clear input errors."""

import itertools
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.models import FNO, SpectralConv, count_parameters, fno_param_count
from sciml.models.fno import (
    PointwiseLinear,
    grid_coordinates,
    min_grid,
    truncated_irfftn,
    truncated_rfftn,
)


def brute_force_spectral_conv(layer: SpectralConv, x: np.ndarray) -> np.ndarray:
    """The spectral convolution by explicit Fourier sums, independent of any FFT.

    Every retained wavenumber k (``[0, m)`` or ``[n - m, n)`` on leading axes, ``[0, m)``
    on the last) has coefficient ``X_k = sum_j x_j exp(-2 pi i k.j / n)``, is mixed by
    the weight of its corner, and contributes ``c_k Re(Y_k exp(2 pi i k.j / n)) / N``
    to the output, with ``c_k = 1`` for a zero last wavenumber and 2 otherwise (the
    conjugate half that a real field carries implicitly).
    """
    x = np.asarray(x, dtype=np.float64)
    weights = np.asarray(layer.weights, dtype=np.float64)
    weights = weights[:, 0] + 1j * weights[:, 1]  # (corners, in, out, *modes)
    grid = x.shape[1:]
    d = len(grid)
    points = np.stack(np.meshgrid(*[np.arange(n) for n in grid], indexing="ij"), -1)
    points = points.reshape(-1, d)
    y = np.zeros((layer.out_channels, points.shape[0]))
    for corner in range(2 ** (d - 1)):
        negative = [(corner >> (d - 2 - axis)) & 1 for axis in range(d - 1)]
        for index in itertools.product(*[range(m) for m in layer.modes]):
            k = [
                (grid[axis] - layer.modes[axis] + i) if axis < d - 1 and negative[axis] else i
                for axis, i in enumerate(index)
            ]
            phase = np.exp(2j * np.pi * (points @ (np.array(k) / np.array(grid))))
            coefficient = x.reshape(x.shape[0], -1) @ phase.conj()  # (in,)
            mixed = coefficient @ weights[(corner, slice(None), slice(None), *index)]
            factor = 1.0 if k[-1] == 0 else 2.0
            y += factor * np.real(mixed[:, None] * phase[None, :])
    return y.reshape(layer.out_channels, *grid) / np.prod(grid)


@pytest.mark.parametrize(
    "grid, modes",
    [((16,), (5,)), ((12, 10), (3, 4)), ((8, 10, 6), (2, 3, 2))],
    ids=["1d", "2d", "3d"],
)
def test_spectral_conv_equals_brute_force_fourier_sum(grid, modes):
    layer = SpectralConv(3, 2, modes, key=jax.random.key(0), dtype=jnp.float64)
    # random (not small) weights so every corner and mode matters
    layer = eqx.tree_at(
        lambda conv: conv.weights, layer, jax.random.normal(jax.random.key(1), layer.weights.shape)
    )
    x = jax.random.normal(jax.random.key(2), (3, *grid), jnp.float64)
    expected = brute_force_spectral_conv(layer, np.asarray(x))
    np.testing.assert_allclose(
        np.asarray(eqx.filter_jit(layer)(x)), expected, rtol=1e-10, atol=1e-10
    )


def test_spectral_conv_is_resolution_independent_on_band_limited_input():
    """A field with no energy beyond the kept modes, sampled on two grids: the layer's
    outputs are the same function, so they agree where the grids share points."""
    layer = SpectralConv(2, 2, (4, 4), key=jax.random.key(0), dtype=jnp.float64)

    def field(n):
        s = np.arange(n) / n
        x, y = np.meshgrid(s, s, indexing="ij")
        first = np.sin(2 * np.pi * (x + 2 * y)) + np.cos(2 * np.pi * 3 * x)
        second = np.cos(2 * np.pi * (2 * x - y)) + 0.5
        return jnp.asarray(np.stack([first, second]))

    apply = eqx.filter_jit(layer)
    coarse, fine = apply(field(16)), apply(field(32))
    np.testing.assert_allclose(np.asarray(fine[:, ::2, ::2]), np.asarray(coarse), atol=1e-12)


def test_fno_evaluates_at_two_resolutions():
    model = FNO(1, 2, (4, 4), 8, 2, padding=3, key=jax.random.key(0))
    for n in (16, 29):
        a = jax.random.normal(jax.random.key(n), (1, n, n))
        out = eqx.filter_jit(model)(a)
        assert out.shape == (2, n, n)
        assert bool(jnp.all(jnp.isfinite(out)))


@pytest.mark.parametrize(
    "modes, grid",
    [((6,), (32,)), ((4, 3), (12, 9)), ((2, 2, 3), (6, 5, 7))],
    ids=["1d", "2d", "3d"],
)
def test_fno_runs_in_one_two_and_three_dimensions_and_batches_by_vmap(modes, grid):
    model = FNO(2, 3, modes, 6, 3, padding=2, key=jax.random.key(0))
    a = jax.random.normal(jax.random.key(1), (4, 2, *grid))
    out = jax.jit(jax.vmap(model))(a)
    assert out.shape == (4, 3, *grid)
    np.testing.assert_allclose(
        np.asarray(out[1]), np.asarray(eqx.filter_jit(model)(a[1])), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "in_channels, out_channels, modes, width, n_layers, projection, embedding",
    [
        (1, 1, (12, 12), 32, 4, 128, True),
        (3, 2, (5,), 7, 2, 16, False),
        (2, 1, (3, 4, 2), 5, 3, 9, True),
    ],
)
def test_parameter_count_equals_formula(
    in_channels, out_channels, modes, width, n_layers, projection, embedding
):
    model = FNO(
        in_channels,
        out_channels,
        modes,
        width,
        n_layers,
        projection_channels=projection,
        positional_embedding=embedding,
        key=jax.random.key(0),
    )
    expected = fno_param_count(
        in_channels, out_channels, modes, width, n_layers, projection, embedding
    )
    assert count_parameters(model) == expected


def test_paper_darcy_fno_has_the_published_size():
    # 2,368,001 parameters, as reported for the FNO-2D Darcy model with 12 modes and width 32
    model = FNO(1, 1, (12, 12), 32, 4, key=jax.random.key(0))
    assert count_parameters(model) == 2_368_001


def test_padding_changes_the_operator_but_not_the_output_grid():
    plain = FNO(1, 1, (3, 3), 6, 2, key=jax.random.key(0))
    padded = FNO(1, 1, (3, 3), 6, 2, padding=(4, 2), key=jax.random.key(0))
    a = jax.random.normal(jax.random.key(1), (1, 10, 11))
    out = eqx.filter_jit(padded)(a)
    assert out.shape == (1, 10, 11)
    assert not np.allclose(np.asarray(eqx.filter_jit(plain)(a)), np.asarray(out))


def test_gradients_flow_to_every_parameter():
    model = FNO(1, 1, (3, 3), 4, 2, padding=1, key=jax.random.key(0))
    a = jax.random.normal(jax.random.key(1), (1, 9, 9))
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(a) ** 2)))(model)
    for leaf in jax.tree.leaves(eqx.filter(grads, eqx.is_inexact_array)):
        assert bool(jnp.any(leaf != 0))


@pytest.mark.parametrize(
    "shape, message",
    [
        ((2, 16, 16), r"in_channels=1, \*grid\) with 2 spatial axes, got shape \(2, 16, 16\)"),
        ((1, 16), r"with 2 spatial axes, got shape \(1, 16\)"),
        ((1, 16, 16, 16), r"with 2 spatial axes, got shape \(1, 16, 16, 16\)"),
        ((4, 1, 16, 16), r"got shape \(4, 1, 16, 16\); a batch goes through jax.vmap"),
        ((1, 5, 16), r"needs a grid of at least \(8, 6\), got grid \(5, 16\)"),
    ],
)
def test_bad_input_names_expected_and_received(shape, message):
    model = FNO(1, 1, (4, 4), 4, 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match=message):
        model(jnp.zeros(shape))


def test_bad_constructor_arguments_are_named():
    with pytest.raises(ValueError, match="modes must be a tuple with one entry per spatial axis"):
        FNO(1, 1, 12, 8, key=jax.random.key(0))
    with pytest.raises(ValueError, match="padding must be a non-negative int or a tuple of 2"):
        FNO(1, 1, (4, 4), 8, padding=(1, 2, 3), key=jax.random.key(0))
    with pytest.raises(ValueError, match="FNO expects n_layers to be a positive integer, got 0"):
        FNO(1, 1, (4, 4), 8, 0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="dtype must be a real floating dtype"):
        FNO(1, 1, (4, 4), 8, key=jax.random.key(0), dtype=jnp.int32)


def test_min_grid():
    assert min_grid((12, 12)) == (24, 22)
    assert min_grid((5,)) == (8,)
    assert min_grid((1,)) == (1,)


def test_truncated_transforms_are_numpy_fft_with_the_corner_blocks_kept():
    grid, modes = (8, 10, 6), (2, 3, 2)
    x = np.random.default_rng(4).standard_normal((3, *grid))
    full = np.fft.rfftn(x, axes=(1, 2, 3))
    leading = [np.r_[0:m, n - m : n] for n, m in zip(grid[:-1], modes[:-1])]
    kept = full[np.ix_(range(3), *leading, range(modes[-1]))]
    z = truncated_rfftn(jnp.asarray(x), modes)
    np.testing.assert_allclose(np.asarray(z), kept, rtol=1e-12, atol=1e-12)
    # the inverse zero-fills every other mode: the projection onto the kept ones
    zero_filled = np.zeros_like(full)
    zero_filled[np.ix_(range(3), *leading, range(modes[-1]))] = kept
    expected = np.fft.irfftn(zero_filled, s=grid, axes=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(truncated_irfftn(z, grid)), expected, atol=1e-12)


def test_grid_coordinates_run_from_zero_to_one_along_each_axis():
    coordinates = grid_coordinates((5, 3), jnp.float64)
    assert coordinates.shape == (2, 5, 3) and coordinates.dtype == jnp.float64
    np.testing.assert_allclose(coordinates[0, :, 0], np.linspace(0, 1, 5))
    np.testing.assert_allclose(coordinates[1, 2], np.linspace(0, 1, 3))
    np.testing.assert_array_equal(coordinates[0, 4], 1.0)


# Before these checks a zero width divided by zero, a negative one failed inside XLA,
# and zero input channels or a fractional size built a model without a word.
NOT_POSITIVE_INTEGERS = [0, -3, 2.5, True]


@pytest.mark.parametrize("value", NOT_POSITIVE_INTEGERS)
@pytest.mark.parametrize(
    "name", ["in_channels", "out_channels", "width", "n_layers", "projection_channels"]
)
def test_fno_sizes_must_be_positive_integers(name, value):
    sizes = dict(in_channels=1, out_channels=1, width=4, n_layers=1, projection_channels=4)
    expected = f"FNO expects {name} to be a positive integer, got {re.escape(repr(value))}"
    with pytest.raises(ValueError, match=expected):
        FNO(modes=(4,), **{**sizes, name: value}, key=jax.random.key(0))


@pytest.mark.parametrize("value", NOT_POSITIVE_INTEGERS)
@pytest.mark.parametrize("name", ["in_channels", "out_channels"])
@pytest.mark.parametrize("layer", [SpectralConv, PointwiseLinear])
def test_layer_channels_must_be_positive_integers(layer, name, value):
    channels = {"in_channels": 2, "out_channels": 3, name: value}
    extra = {"modes": (4,)} if layer is SpectralConv else {}
    expected = (
        f"{layer.__name__} expects {name} to be a positive integer, got {re.escape(repr(value))}"
    )
    with pytest.raises(ValueError, match=expected):
        layer(**channels, **extra, key=jax.random.key(0))


def fno_channel_first(model: FNO, a: np.ndarray) -> np.ndarray:
    """The FNO of Li et al. composed from its public channel-first parts in NumPy
    float64: lifting, far-end zero padding, Fourier layers (brute-force Fourier sums
    plus the pointwise skip), crop, projection. Independent of the channel-last
    layout the model computes in."""

    def pointwise(linear, v):
        w, b = np.asarray(linear.weight, np.float64), np.asarray(linear.bias, np.float64)
        return np.tensordot(w, v, axes=(1, 0)) + b.reshape((-1,) + (1,) * (v.ndim - 1))

    def act(v):
        return np.asarray(model.activation(jnp.asarray(v)))

    grid = a.shape[1:]
    coords = np.asarray(grid_coordinates(grid, jnp.float64))
    v = pointwise(model.lifting, np.concatenate([a, coords]))
    v = np.pad(v, [(0, 0)] + [(0, p) for p in model.padding])
    for i, layer in enumerate(model.layers):
        v = brute_force_spectral_conv(layer.spectral, v) + pointwise(layer.skip, v)
        v = act(v) if i < len(model.layers) - 1 else v
    v = v[(slice(None),) + tuple(slice(0, n) for n in grid)]
    return pointwise(model.projection_out, act(pointwise(model.projection_hidden, v)))


@pytest.mark.parametrize(
    "grid, modes, padding",
    [((9,), (3,), 2), ((7, 6), (2, 3), (1, 2)), ((5, 4, 6), (2, 2, 2), 1)],
    ids=["1d", "2d", "3d"],
)
def test_channel_last_fno_equals_the_channel_first_composition(grid, modes, padding):
    model = FNO(
        2,
        3,
        modes,
        4,
        2,
        projection_channels=5,
        padding=padding,
        key=jax.random.key(0),
        dtype=jnp.float64,
    )
    a = np.random.default_rng(1).standard_normal((2, *grid))
    got = np.asarray(eqx.filter_jit(model)(jnp.asarray(a)))
    np.testing.assert_allclose(got, fno_channel_first(model, a), rtol=0, atol=1e-11)


def test_bfloat16_activations_keep_ffts_spectral_weights_and_output_in_float32():
    f32 = FNO(1, 1, (4, 4), 8, 2, projection_channels=8, padding=2, key=jax.random.key(0))
    mixed = FNO(
        1,
        1,
        (4, 4),
        8,
        2,
        projection_channels=8,
        padding=2,
        precision="bfloat16",
        key=jax.random.key(0),
    )
    a = jax.random.normal(jax.random.key(1), (3, 1, 12, 12), jnp.float32)
    jaxpr = str(jax.make_jaxpr(jax.vmap(mixed))(a))
    assert "bf16[" in jaxpr and "preferred_element_type=float32" in jaxpr
    ffts = re.findall(r"(\w+)\[[\d,]*\] = fft\[", jaxpr)
    assert ffts and all(dtype in ("f32", "c64") for dtype in ffts), ffts
    batched = eqx.filter_jit(lambda model, x: jax.vmap(model)(x))
    out, ref = batched(mixed, a), batched(f32, a)
    assert out.dtype == jnp.float32
    error = float(jnp.linalg.norm(out - ref) / jnp.linalg.norm(ref))
    # bfloat16 keeps 8 bits of mantissa: a relative error near 2^-8, not 0 and not O(1).
    assert 1e-4 < error < 3e-2, error


def test_precision_must_be_a_known_dtype():
    expected = r"precision must be None or one of \(.float32., .bfloat16.\)"
    with pytest.raises(ValueError, match=expected):
        FNO(1, 1, (4, 4), 8, precision="half", key=jax.random.key(0))


def test_a_full_rank_tucker_fno_is_the_dense_fno():
    from sciml.models.factorized import TuckerWeights

    dense = FNO(
        1,
        1,
        (3, 4),
        5,
        2,
        projection_channels=6,
        padding=2,
        key=jax.random.key(0),
        dtype=jnp.float64,
    )
    factorised = dense
    for i, layer in enumerate(dense.layers):
        w = layer.spectral.complex_weights().reshape(2, 5, 5, 3, 4)
        factorised = eqx.tree_at(
            lambda m, i=i: m.layers[i].spectral.weights, factorised, TuckerWeights.from_dense(w)
        )
    assert isinstance(factorised.layers[1].spectral.weights, TuckerWeights)
    a = jax.random.normal(jax.random.key(1), (1, 10, 9), jnp.float64)
    np.testing.assert_allclose(
        eqx.filter_jit(factorised)(a), eqx.filter_jit(dense)(a), rtol=0, atol=1e-12
    )
    low = FNO(1, 1, (3, 4), 5, 2, factorization="cp", rank=0.2, key=jax.random.key(0))
    assert count_parameters(low) < count_parameters(FNO(1, 1, (3, 4), 5, 2, key=jax.random.key(0)))
