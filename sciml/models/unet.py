"""U-Net in one or two dimensions: the convolutional baseline of the operator tables.

An encoder of double convolutions at successively halved resolutions, a decoder that
upsamples with stride-2 transposed convolutions and concatenates the encoder's
features of the same resolution (the skip connections), and a 1x1 convolution head:

.. code-block:: text

    level 0: [conv3-act-conv3-act] c ------------------------------> concat -> [..] c -> head
    level 1:   maxpool -> [..] 2c ------------------------> concat -> [..] 2c -^ (upsample)
    ...
    level L-1:   maxpool -> [..] 2^(L-1) c (bottleneck) -> upsample -^

Odd sizes coarsen as ``n -> ceil(n / 2)`` (max pooling pads at the end) and every
upsampling is cut to its skip's grid, so any grid with at least 2 points per axis on
the coarsest level works. The boundary condition is the padding of the 3x3
convolutions (zeros, circular or reflect). Ronneberger et al. use batch
normalisation; one sample in, one sample out has no batch statistics, so this U-Net
has no normalisation layers (the FNO paper's Navier–Stokes baseline is this
architecture with them).

References:
    O. Ronneberger, P. Fischer and T. Brox, "U-Net: Convolutional networks for
    biomedical image segmentation", MICCAI 2015.
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021 (the U-Net baseline of its Navier–Stokes table).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from sciml.models.conv import (
    Conv,
    ConvTranspose,
    check_padding,
    check_sample_shape,
    coarse_shape,
)
from sciml.models.spec import ModelSpec, check_count, domain_padding

__all__ = ["UNet", "build_unet", "unet_param_count"]


class DoubleConv(eqx.Module):
    """``x -> act(conv3(act(conv3(x))))``, both convolutions with bias."""

    first: Conv
    second: Conv
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(self, c_in, c_out, dims, padding, activation, *, key, dtype):
        k1, k2 = jax.random.split(key)
        self.first = Conv(c_in, c_out, 3, dims, padding=padding, use_bias=True, key=k1, dtype=dtype)
        self.second = Conv(
            c_out, c_out, 3, dims, padding=padding, use_bias=True, key=k2, dtype=dtype
        )
        self.activation = activation

    def __call__(self, x: Float[Array, " c_in *grid"]) -> Float[Array, " c_out *grid"]:
        return self.activation(self.second(self.activation(self.first(x))))


def _max_pool(x: Array) -> Array:
    """2-wide, stride-2 max pooling of ``(C, *grid)`` to ``ceil(n / 2)`` per axis."""
    d = x.ndim - 1
    padding = ((0, 0),) + tuple((0, n % 2) for n in x.shape[1:])
    return jax.lax.reduce_window(
        x, -jnp.inf, jax.lax.max, (1,) + (2,) * d, (1,) + (2,) * d, padding
    )


class UNet(eqx.Module):
    """U-Net ``a: (in_channels, *grid) -> u: (out_channels, *grid)``, 1-D or 2-D.

    Args:
        in_channels: channels of the input function.
        out_channels: channels of the output function.
        grid: the grid the model is built for; it fixes the dimension and is checked
            against ``levels`` at construction (other grids are checked when called).
        channels: channels of the first level; level ``l`` has ``channels * 2**l``.
        levels: resolutions, the input's included (4: three poolings).
        padding: boundary condition of the convolutions: ``"zeros"``, ``"circular"``
            or ``"reflect"``.
        activation: pointwise nonlinearity (GELU by default).
        key: random key.
        dtype: floating dtype of the parameters.
    """

    down: tuple[DoubleConv, ...]
    up: tuple[ConvTranspose, ...]
    merge: tuple[DoubleConv, ...]
    head: Conv
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    dims: int = eqx.field(static=True)
    levels: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        grid: Sequence[int],
        *,
        channels: int = 32,
        levels: int = 4,
        padding: str = "zeros",
        activation: Callable[[Array], Array] = jax.nn.gelu,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        grid = tuple(int(n) for n in grid)
        if len(grid) not in (1, 2):
            raise ValueError(f"UNet is 1-D or 2-D: grid must have 1 or 2 sizes, got {grid}")
        in_channels = check_count("UNet", "in_channels", in_channels)
        out_channels = check_count("UNet", "out_channels", out_channels)
        channels = check_count("UNet", "channels", channels)
        levels = check_count("UNet", "levels", levels)
        padding = check_padding(padding)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.dims, self.levels = len(grid), int(levels)
        self._check_grid(grid)
        widths = [int(channels) * 2**level for level in range(self.levels)]
        keys = iter(jax.random.split(key, 3 * self.levels + 1))
        self.down = tuple(
            DoubleConv(c_in, c_out, self.dims, padding, activation, key=next(keys), dtype=dtype)
            for c_in, c_out in zip([self.in_channels] + widths[:-1], widths)
        )
        self.up = tuple(
            ConvTranspose(
                widths[level + 1], widths[level], 2, self.dims, key=next(keys), dtype=dtype
            )
            for level in range(self.levels - 1)
        )
        self.merge = tuple(
            DoubleConv(
                2 * widths[level],
                widths[level],
                self.dims,
                padding,
                activation,
                key=next(keys),
                dtype=dtype,
            )
            for level in range(self.levels - 1)
        )
        self.head = Conv(
            widths[0], self.out_channels, 1, self.dims, use_bias=True, key=next(keys), dtype=dtype
        )

    def _check_grid(self, grid: tuple[int, ...]) -> None:
        shape = grid
        for _ in range(self.levels - 1):
            shape = coarse_shape(shape)
        if any(n < 2 for n in shape):
            raise ValueError(
                f"a U-Net with {self.levels} levels is too deep for grid {grid}: the coarsest "
                f"grid would be {shape} (at least 2 points per axis are needed)"
            )

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Raise a ``ValueError`` unless ``shape`` is one sample on a grid deep enough."""
        check_sample_shape("UNet", shape, self.in_channels, self.dims)
        self._check_grid(tuple(shape[1:]))

    def __call__(self, a: Float[Array, "in *grid"]) -> Float[Array, " out *grid"]:
        self.check_input(a.shape)
        skips = []
        h = a
        for level, block in enumerate(self.down):
            if level > 0:
                h = _max_pool(h)
            h = block(h)
            skips.append(h)
        for level in range(self.levels - 2, -1, -1):
            skip = skips[level]
            h = self.up[level](h, skip.shape[1:])
            h = self.merge[level](jnp.concatenate([skip, h]))
        return self.head(h)


def unet_param_count(
    in_channels: int, out_channels: int, channels: int = 32, levels: int = 4, dims: int = 2
) -> int:
    """Parameter count of :class:`UNet`, from its formula.

    With ``K = 3**dims``, widths ``w_l = channels 2**l``: the encoder's double
    convolutions ``(K c_in + 1) w_l + (K w_l + 1) w_l`` (``c_in`` the previous width, or
    ``in_channels``), each upsampling ``2**dims w_{l+1} w_l`` (no bias), each decoder
    block ``(2 K w_l + 1) w_l + (K w_l + 1) w_l`` and the head ``(w_0 + 1) out_channels``.
    """
    k, widths = 3**dims, [channels * 2**level for level in range(levels)]

    def double(c_in, c_out):
        return (k * c_in + 1) * c_out + (k * c_out + 1) * c_out

    count = sum(double(c_in, c_out) for c_in, c_out in zip([in_channels] + widths[:-1], widths))
    count += sum(2**dims * widths[i + 1] * widths[i] for i in range(levels - 1))
    count += sum(double(2 * widths[i], widths[i]) for i in range(levels - 1))
    return count + (widths[0] + 1) * out_channels


# ------------------------------------------------------- built from a ModelSpec


def build_unet(
    spec: ModelSpec,
    *,
    key: jax.Array,
    channels: int = 32,
    levels: int = 4,
    padding: str | None = None,
):
    """The U-Net baseline; padding follows the domain unless given."""
    return UNet(
        spec.in_channels,
        spec.out_channels,
        spec.grid,
        channels=channels,
        levels=levels,
        padding=domain_padding(padding, spec),
        key=key,
    )
