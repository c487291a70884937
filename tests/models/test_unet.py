"""U-Net: shapes on odd grids in 1-D and 2-D, the parameter formula, and errors."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.models import UNet, count_parameters, unet_param_count
from sciml.models.unet import _max_pool

KEY = jax.random.key(0)

# One compiled program per model structure and input shape: far faster than running
# the many small convolutions op by op.
apply = eqx.filter_jit(lambda model, *args: model(*args))


@pytest.mark.parametrize(
    "grid, levels, padding",
    [
        ((43, 43), 4, "zeros"),
        ((85, 30), 3, "reflect"),
        ((32, 32), 4, "circular"),
        ((257,), 5, "zeros"),
        ((64,), 3, "circular"),
    ],
)
def test_shapes_and_parameter_count(grid, levels, padding):
    model = UNet(2, 3, grid, channels=4, levels=levels, padding=padding, key=KEY)
    a = jax.random.normal(jax.random.key(1), (2, *grid))
    out = apply(model, a)
    assert out.shape == (3, *grid) and bool(jnp.all(jnp.isfinite(out)))
    assert count_parameters(model) == unet_param_count(2, 3, 4, levels, len(grid))


def test_the_fno_papers_width_and_one_model_at_several_resolutions():
    model = UNet(10, 1, (64, 64), channels=32, levels=4, key=KEY)
    assert count_parameters(model) == unet_param_count(10, 1, 32, 4, 2)
    for grid in [(64, 64), (43, 43), (21, 37)]:
        assert apply(model, jnp.ones((10, *grid))).shape == (1, *grid)


def test_max_pool_halves_odd_grids_upwards():
    x = jnp.arange(5.0).reshape(1, 5)
    np.testing.assert_array_equal(_max_pool(x), [[1.0, 3.0, 4.0]])


def test_circular_unet_commutes_with_shifts_by_the_coarsest_spacing():
    model = UNet(1, 1, (32,), channels=3, levels=3, padding="circular", key=KEY, dtype=jnp.float64)
    a = jax.random.normal(jax.random.key(2), (1, 32), jnp.float64)
    np.testing.assert_allclose(
        apply(model, jnp.roll(a, 4, 1)), jnp.roll(apply(model, a), 4, 1), atol=1e-12
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(grid=(12, 12), levels=5), "too deep for grid \\(12, 12\\)"),
        (dict(grid=(12, 12), padding="dirichlet"), "unknown padding 'dirichlet'"),
        (dict(grid=(4, 4, 4)), "1-D or 2-D"),
        (dict(grid=(16, 16), channels=0), "UNet expects channels to be a positive integer, got 0"),
    ],
)
def test_bad_configurations_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UNet(1, 1, key=KEY, **{"levels": 3, **kwargs})


def test_wrong_input_is_named():
    model = UNet(2, 1, (16, 16), channels=2, levels=3, key=KEY)
    with pytest.raises(ValueError, match="expects input of shape \\(in_channels=2"):
        apply(model, jnp.ones((1, 16, 16)))
    with pytest.raises(ValueError, match="a batch goes through jax.vmap"):
        apply(model, jnp.ones((3, 2, 16, 16)))


@pytest.mark.parametrize("value", [0, -3, 2.5, True])
@pytest.mark.parametrize("name", ["in_channels", "out_channels", "channels", "levels"])
def test_sizes_must_be_positive_integers(name, value):
    sizes = {"in_channels": 1, "out_channels": 1, "channels": 2, "levels": 2, name: value}
    expected = f"UNet expects {name} to be a positive integer, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        UNet(grid=(16,), **sizes, key=KEY)
