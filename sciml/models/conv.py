"""Convolutions in one or two dimensions with a choice of boundary condition.

The boundary condition of a convolutional operator is the padding it applies before
a ``VALID`` convolution: zeros (a homogeneous Dirichlet condition), circular (a
periodic domain) or reflect (an even extension, a homogeneous Neumann condition).
:class:`Conv` is an ordinary (strided) convolution; :class:`ConvTranspose` is the
stride-2 transposed convolution used for prolongation, evaluated onto a given fine
grid so that odd sizes (43, 85, 211, 421) need no special case.

Coarse grids follow the stride-2 convolution with a 3-point kernel and one point of
padding: ``n -> ceil(n / 2)`` nodes, coarse node ``j`` sitting on fine node ``2 j``
(:func:`coarse_shape`).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = [
    "PADDINGS",
    "Conv",
    "ConvTranspose",
    "check_sample_shape",
    "coarse_shape",
    "pad_spatial",
]

PADDINGS = ("zeros", "circular", "reflect")
_NUMPY_MODE = {"zeros": "constant", "circular": "wrap", "reflect": "reflect"}


def check_padding(padding: str) -> str:
    """``padding`` if it names a boundary condition, else a ``ValueError`` listing them."""
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; expected one of {', '.join(PADDINGS)}")
    return padding


def check_sample_shape(model: str, shape: tuple[int, ...], in_channels: int, dims: int) -> None:
    """A ``ValueError`` naming what ``model`` expects unless ``shape`` is one sample
    ``(in_channels, *grid)`` with ``dims`` spatial axes (a batch is pointed to vmap)."""
    expected = (
        f"{model} expects input of shape (in_channels={in_channels}, *grid) with {dims} "
        f"spatial axes, got shape {tuple(shape)}"
    )
    if len(shape) == dims + 2 and shape[1] == in_channels:
        raise ValueError(f"{expected}; a batch goes through jax.vmap(model)")
    if len(shape) != dims + 1 or shape[0] != in_channels:
        raise ValueError(expected)


def coarse_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The grid after one stride-2 restriction: ``ceil(n / 2)`` per axis."""
    return tuple((n + 1) // 2 for n in shape)


def pad_spatial(x: Array, widths: tuple[tuple[int, int], ...], padding: str) -> Array:
    """Pad the spatial axes of ``x: (C, *grid)`` by ``widths`` (one ``(lo, hi)`` per axis)."""
    return jnp.pad(x, ((0, 0), *widths), mode=_NUMPY_MODE[check_padding(padding)])


def _uniform(key: PRNGKeyArray, shape: tuple[int, ...], bound: float, dtype) -> Array:
    flat = jax.random.uniform(key, (math.prod(shape),), dtype, -bound, bound)
    return flat.reshape(shape)


def _convolve(x: Array, weight: Array, stride: int, widths=None) -> Array:
    """Cross-correlation of one sample ``x: (C_in, *grid)`` with ``weight: (O, I, *k)``,
    the input zero-padded by ``widths`` (one ``(lo, hi)`` per axis; none: ``VALID``)."""
    d = x.ndim - 1
    dtype = jnp.result_type(x, weight)  # float32 weights on float64 data compute in float64
    y = jax.lax.conv_general_dilated(
        x[None].astype(dtype),
        weight.astype(dtype),
        window_strides=(stride,) * d,
        padding="VALID" if widths is None else tuple(widths),
    )
    return y[0]


class Conv(eqx.Module):
    """``x: (in_channels, *grid) -> (out_channels, *grid')``, a padded convolution.

    With kernel size ``k`` the input is padded by ``(k - 1) // 2`` before and ``k // 2``
    after on every axis, with the boundary condition ``padding``; stride 1 keeps the
    grid, stride 2 maps ``n`` to ``ceil(n / 2)`` for ``k = 3``. Weights (and the bias,
    if any) are uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in))``, the PyTorch default.
    """

    weight: Float[Array, " out in *kernel"]
    bias: Float[Array, " out"] | None
    stride: int = eqx.field(static=True)
    padding: str = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dims: int,
        *,
        stride: int = 1,
        padding: str = "zeros",
        use_bias: bool = False,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        self.padding = check_padding(padding)
        self.stride = int(stride)
        kernel = (int(kernel_size),) * int(dims)
        bound = 1.0 / math.sqrt(in_channels * math.prod(kernel))
        weight_key, bias_key = jax.random.split(key)
        self.weight = _uniform(weight_key, (out_channels, in_channels, *kernel), bound, dtype)
        self.bias = _uniform(bias_key, (out_channels,), bound, dtype) if use_bias else None

    def __call__(self, x: Float[Array, "in *grid"]) -> Float[Array, " out *coarse"]:
        widths = tuple(((n - 1) // 2, n // 2) for n in self.weight.shape[2:])
        if self.padding == "zeros":  # the convolution pads with zeros itself, no copy
            y = _convolve(x, self.weight, self.stride, widths)
        else:
            y = _convolve(pad_spatial(x, widths, self.padding), self.weight, self.stride)
        if self.bias is not None:
            y = y + self.bias.reshape(-1, *(1,) * (y.ndim - 1))
        return y


class ConvTranspose(eqx.Module):
    """Stride-2 transposed convolution onto a given fine grid (a learned prolongation).

    ``x: (in_channels, *coarse), fine -> (out_channels, *fine)``. Coarse node ``j`` is
    placed on fine node ``2 j`` with zeros between (the adjoint of a stride-2
    restriction), and the result is convolved with a ``k``-point kernel: output node
    ``i`` sees the placed values ``i - k // 2, ..., i - k // 2 + k - 1``. For ``k = 4``
    on an even fine grid this is PyTorch's ``ConvTranspose(k=4, stride=2, padding=1)``,
    for ``k = 3`` on an odd one ``ConvTranspose(k=3, stride=2, padding=1)``; other
    sizes are cut to ``fine``, so every coarse/fine pair of :func:`coarse_shape` works.
    With ``padding="circular"`` the placed values wrap around (the fine grid must be
    exactly twice the coarse one), so the map commutes with periodic shifts;
    otherwise values beyond the grid are zero ("reflect" included, as for PyTorch's
    transposed convolutions).
    """

    weight: Float[Array, " out in *kernel"]
    padding: str = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dims: int,
        *,
        padding: str = "zeros",
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        self.padding = check_padding(padding)
        kernel = (int(kernel_size),) * int(dims)
        # PyTorch bounds a transposed convolution by its fan-out over the kernel, which
        # for stride 2 and these sizes is the same order as a convolution's fan-in.
        bound = 1.0 / math.sqrt(out_channels * math.prod(kernel))
        self.weight = _uniform(key, (out_channels, in_channels, *kernel), bound, dtype)

    def __call__(
        self, x: Float[Array, "in *coarse"], fine: tuple[int, ...]
    ) -> Float[Array, " out *fine"]:
        coarse = x.shape[1:]
        if len(fine) != len(coarse) or coarse_shape(tuple(fine)) != tuple(coarse):
            raise ValueError(
                f"ConvTranspose maps a coarse grid to the fine grid it came from "
                f"(n -> ceil(n / 2)); coarse grid {tuple(coarse)} does not fit fine grid "
                f"{tuple(fine)}"
            )
        circular = self.padding == "circular"
        if circular and any(n != 2 * m for n, m in zip(fine, coarse)):
            raise ValueError(
                f"a periodic prolongation needs a fine grid twice the coarse one, got "
                f"coarse {tuple(coarse)} and fine {tuple(fine)}"
            )
        # Sub-pixel form: fine node 2 r + phase reads coarse nodes r + offset only, so
        # every phase is a small convolution on the coarse grid (no zeros are stored or
        # multiplied). One convolution computes all 2**d phases as output channels.
        kernel, offsets = _phase_kernel(self.weight)
        widths = tuple((-lo, hi) for lo, hi in offsets)
        if circular:
            phases = _convolve(pad_spatial(x, widths, "circular"), kernel, 1)
        else:
            phases = _convolve(x, kernel, 1, widths)
        d = len(coarse)
        out = phases.reshape((2,) * d + (self.weight.shape[0], *coarse))
        # (phase_1, .., phase_d, O, m_1, .., m_d) -> (O, m_1, phase_1, .., m_d, phase_d)
        order = [d] + [axis for i in range(d) for axis in (d + 1 + i, i)]
        out = out.transpose(order).reshape(self.weight.shape[0], *(2 * m for m in coarse))
        crop = (slice(None), *(slice(0, n) for n in fine))
        return out[crop]


def _phase_kernel(weight: Array) -> tuple[Array, tuple[tuple[int, int], ...]]:
    """The sub-pixel kernel of a stride-2 transposed convolution and its offset range.

    Output node ``i = 2 r + phase`` of :class:`ConvTranspose` is
    ``sum_t w[t] placed[i - k // 2 + t]`` with ``placed[2 j] = x[j]`` and zeros
    between, i.e. ``sum_t w[t] x[r + (phase + t - k // 2) / 2]`` over the taps ``t`` that
    make ``phase + t - k // 2`` even. Per axis, this returns the offsets' range
    ``(o_min, o_max)``; the kernel ``(2**d * O, I, *span)`` holds, for every phase
    combination (most significant first, then output channel), the taps at
    ``offset - o_min`` and zeros elsewhere.
    """
    k = weight.shape[2:]
    selections, offsets = [], []
    for size in k:
        placed = [
            (phase, t, (phase + t - size // 2) // 2)
            for phase in (0, 1)
            for t in range(size)
            if (phase + t - size // 2) % 2 == 0
        ]
        lo = min(o for _, _, o in placed)
        hi = max(o for _, _, o in placed)
        select = [[[0.0] * size for _ in range(hi - lo + 1)] for _ in (0, 1)]
        for phase, t, o in placed:
            select[phase][o - lo][t] = 1.0
        selections.append(jnp.asarray(select, weight.dtype))
        offsets.append((lo, hi))
    d = len(k)
    taps, spans, phases = "abcd"[:d], "efgh"[:d], "pqrs"[:d]
    operands = ",".join(f"{phases[i]}{spans[i]}{taps[i]}" for i in range(d))
    subscripts = f"{operands},OI{taps}->{phases}OI{spans}"
    kernel = jnp.einsum(subscripts, *selections, weight)
    out_channels, in_channels = weight.shape[:2]
    span = kernel.shape[2 + d :]
    return kernel.reshape(2**d * out_channels, in_channels, *span), tuple(offsets)
