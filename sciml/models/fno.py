"""Fourier neural operator in one, two or three dimensions.

The Fourier neural operator (FNO) lifts the input function to ``width`` channels,
applies ``n_layers`` Fourier layers

.. math::

    v \\leftarrow \\sigma\\bigl(\\mathcal{F}^{-1}(R \\cdot \\mathcal{F} v) + W v + b\\bigr),

where :math:`R` acts on the lowest Fourier modes only and :math:`W` is a pointwise
linear map, and projects back to the output channels with a small pointwise network.
Every module maps one channel-first sample ``(C, *grid)`` to one sample; batches go
through ``jax.vmap``.

References:
    Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart and
    A. Anandkumar, "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021. https://arxiv.org/abs/2010.08895
"""

from __future__ import annotations

import dataclasses
import math
import string
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float, PRNGKeyArray

from sciml.models.factorized import CPWeights, TuckerWeights, factorized_weights
from sciml.models.spec import ModelSpec, activation_function, check_count, modes_per_axis

__all__ = [
    "FNO",
    "FourierLayer",
    "PointwiseLinear",
    "RecurrentFNO",
    "SpaceTimeFNO",
    "SpectralConv",
    "build_fno",
    "build_fno3d",
    "build_fno_ar",
    "check_modes",
    "count_parameters",
    "fno_param_count",
    "grid_coordinates",
    "min_grid",
    "mode_mixing_subscripts",
    "truncated_irfftn",
    "truncated_rfftn",
]


def _check_dtype(dtype) -> jnp.dtype:
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"dtype must be a real floating dtype, got {dtype}")
    return dtype


def check_modes(modes: Sequence[int]) -> tuple[int, ...]:
    """``modes`` as a tuple of positive ints, one per spatial axis.

    Raises:
        ValueError: ``modes`` is a bare int, empty, or holds an entry below 1.
    """
    if isinstance(modes, int) or not isinstance(modes, Sequence):
        raise ValueError(
            f"modes must be a tuple with one entry per spatial axis, e.g. (12, 12) in 2-D, "
            f"got {modes!r}"
        )
    modes = tuple(int(m) for m in modes)
    if len(modes) == 0 or any(m < 1 for m in modes):
        raise ValueError(f"modes must be a non-empty tuple of positive integers, got {modes}")
    return modes


def _uniform(key: PRNGKeyArray, shape: tuple[int, ...], dtype, minval=0.0, maxval=1.0) -> Array:
    """``jax.random.uniform`` drawn flat and reshaped: XLA compiles the random-bit
    generator for a many-axis shape far more slowly (seconds) than for a flat one."""
    flat = jax.random.uniform(key, (math.prod(shape),), dtype, minval=minval, maxval=maxval)
    return flat.reshape(shape)


#: Activation dtypes an FNO's ``precision`` takes (``None``: the parameters' dtype).
PRECISIONS = ("float32", "bfloat16")


def check_precision(precision: str | None) -> str | None:
    """``precision`` checked: ``None`` or one of :data:`PRECISIONS`.

    Raises:
        ValueError: anything else, naming the accepted values.
    """
    if precision is None:
        return None
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be None or one of {PRECISIONS}, got {precision!r}")
    return precision


def min_grid(modes: Sequence[int]) -> tuple[int, ...]:
    """The smallest grid on which a spectral convolution with ``modes`` is defined.

    On every axis but the last the positive block ``[:m]`` and the negative block
    ``[n - m:]`` of the FFT must not overlap: ``2 m <= n``. On the last axis, where the
    real FFT keeps ``n // 2 + 1`` frequencies, ``m <= n // 2 + 1``, i.e. ``n >= 2 (m - 1)``
    (and ``n >= 1``).
    """
    *leading, last = modes
    return (*(2 * m for m in leading), max(2 * (last - 1), 1))


class PointwiseLinear(eqx.Module):
    """A pointwise (1x1 convolution) affine map over the channel axis.

    ``x: (in_channels, *grid) -> W x + b: (out_channels, *grid)``, with ``W: (out, in)``
    and ``b: (out,)`` initialised as a PyTorch ``Linear`` / 1x1 ``Conv``: uniform on
    ``[-1/sqrt(in), 1/sqrt(in))``.
    """

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"]

    def __init__(
        self, in_channels: int, out_channels: int, *, key: PRNGKeyArray, dtype=jnp.float32
    ):
        dtype = _check_dtype(dtype)
        in_channels = check_count("PointwiseLinear", "in_channels", in_channels)
        out_channels = check_count("PointwiseLinear", "out_channels", out_channels)
        bound = 1.0 / math.sqrt(in_channels)
        # One draw for weight and bias: each new random shape costs a compilation.
        values = _uniform(key, (out_channels * (in_channels + 1),), dtype, -bound, bound)
        self.weight = values[: out_channels * in_channels].reshape(out_channels, in_channels)
        self.bias = values[out_channels * in_channels :]

    def __call__(self, x: Float[Array, "in *grid"]) -> Float[Array, " out *grid"]:
        # One (out, in) @ (in, points) product: a GEMM (batched under vmap).
        points = x.reshape(x.shape[0], -1)
        y = self.weight @ points + self.bias[:, None]
        return y.reshape(self.weight.shape[0], *x.shape[1:])

    def channels_last(self, x: Float[Array, "*grid in"], dtype=None) -> Float[Array, "*grid out"]:
        """The same map on a channel-last sample ``(*grid, in) -> (*grid, out)``.

        ``x @ W^T + b`` contracts the last axis, so under ``vmap`` the batch and the
        points stay the rows of one GEMM and its result needs no transpose; the
        channel-first :meth:`__call__` gives ``(out, batch, points)``, which XLA copies
        to ``(batch, out, points)`` (and the weight gradient copies the activations to
        points-major) -- the layout copies that dominated the FNO's training step.

        Args:
            x: the sample, channels last.
            dtype: the dtype in which the product is formed (``None``: the input's); it
                accumulates in float32 (or the input's dtype, if wider) and returns that.
        """
        weight = self.weight.T
        if dtype is not None:
            x, weight = x.astype(dtype), weight.astype(dtype)
        accumulate = jnp.promote_types(jnp.promote_types(x.dtype, weight.dtype), jnp.float32)
        y = jnp.matmul(x, weight, preferred_element_type=accumulate)
        return y + self.bias


def truncated_rfftn(
    x: Float[Array, " C *grid"], modes: tuple[int, ...]
) -> Complex[Array, " C *spectrum"]:
    """The retained Fourier coefficients of ``x: (C, *grid)``: ``(C, 2 m_1, ..., 2 m_{d-1}, m_d)``.

    Equal to ``rfftn`` over the spatial axes followed by keeping ``[:m]`` and ``[-m:]``
    on every axis but the last and ``[:m]`` on the last, but truncated axis by axis
    (last axis first) so that every later FFT runs on fewer lines. The spectrum a
    :class:`SpectralConv` multiplies; the grid must be at least :func:`min_grid`.
    """
    d = len(modes)
    y = jnp.fft.rfft(x, axis=-1)[..., : modes[-1]]
    for axis in range(x.ndim - d, x.ndim - 1):
        m = modes[axis - (x.ndim - d)]
        y = jnp.fft.fft(y, axis=axis)
        n = y.shape[axis]
        y = jnp.concatenate(
            [
                jax.lax.slice_in_dim(y, 0, m, axis=axis),
                jax.lax.slice_in_dim(y, n - m, n, axis=axis),
            ],
            axis=axis,
        )
    return y


def truncated_irfftn(
    z: Complex[Array, " C *spectrum"], grid: tuple[int, ...]
) -> Float[Array, " C *grid"]:
    """Inverse of :func:`truncated_rfftn`: zero-fill the missing modes and ``irfftn``.

    ``z: (C, 2 m_1, ..., 2 m_{d-1}, m_d) -> (C, *grid)``, real.
    """
    d = len(grid)
    for axis in range(z.ndim - d, z.ndim - 1):
        n = grid[axis - (z.ndim - d)]
        m = z.shape[axis] // 2
        positive, negative = jnp.split(z, 2, axis=axis)
        zeros_shape = list(z.shape)
        zeros_shape[axis] = n - 2 * m
        z = jnp.concatenate([positive, jnp.zeros(zeros_shape, z.dtype), negative], axis=axis)
        z = jnp.fft.ifft(z, axis=axis)
    # irfft zero-pads the last axis up to n // 2 + 1 coefficients.
    return jnp.fft.irfft(z, n=grid[-1], axis=-1)


class SpectralConv(eqx.Module):
    """Spectral convolution of Li et al. (2021), eq. (4), in any number of dimensions.

    ``x: (in_channels, *grid) -> (out_channels, *grid)`` with ``d = len(modes)`` spatial
    axes. The input is transformed with a real FFT over the spatial axes; on every axis
    but the last the lowest ``m`` positive frequencies ``[:m]`` and the lowest ``m``
    negative ones ``[-m:]`` are kept, on the last (real-FFT) axis the lowest ``m``.
    This makes ``2**(d - 1)`` corner blocks of the spectrum, each multiplied channel-wise
    by its own complex weight ``R_c: (in, out, *modes)``,

    .. math::  \\hat y_{o,k} = \\sum_i \\hat x_{i,k} R_{c(k), i, o, k},

    and every other mode is set to zero before the inverse real FFT to the input grid.
    The operator is defined on any grid with ``2 m <= n`` on the leading axes and
    ``m <= n // 2 + 1`` on the last, so one layer evaluates at many resolutions.

    Weights are stored as one real array ``weights: (2**(d-1), 2, in, out, *modes)``
    (index 1: real part, imaginary part) so that any optax optimiser applies. Corner
    ``c`` written in binary, most significant bit first, says for axes ``0 .. d-2`` whether
    that axis takes the negative block. Initialisation follows the reference code: real
    and imaginary parts are ``1 / (in * out)`` times uniform on ``[0, 1)``.

    With ``factorization="tucker"`` or ``"cp"`` the same complex tensor is held as a
    Tucker or CP decomposition instead (:mod:`sciml.models.factorized`, the TFNO of
    Kossaifi et al. 2023), at ``rank`` (a fraction of the dense parameter count, or the
    integer ranks); it is reconstructed in each call and mixed as the dense one.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        modes: Fourier modes kept per spatial axis.
        factorization: ``None`` (dense weights), ``"tucker"`` or ``"cp"``.
        rank: the factorisation's rank (ignored for dense weights).
        key: random key.
        dtype: floating dtype of the parameters.

    References:
        Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
        Equations", ICLR 2021. https://arxiv.org/abs/2010.08895
    """

    weights: Float[Array, "corners 2 in out *modes"] | TuckerWeights | CPWeights
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: tuple[int, ...],
        *,
        factorization: str | None = None,
        rank: float | Sequence[int] = 0.1,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        dtype = _check_dtype(dtype)
        self.modes = check_modes(modes)
        self.in_channels = check_count("SpectralConv", "in_channels", in_channels)
        self.out_channels = check_count("SpectralConv", "out_channels", out_channels)
        if factorization is not None:
            self.weights = factorized_weights(
                factorization,
                self.in_channels,
                self.out_channels,
                self.modes,
                rank=rank,
                key=key,
                dtype=dtype,
            )
            return
        corners = 2 ** (len(self.modes) - 1)
        shape = (corners, 2, self.in_channels, self.out_channels, *self.modes)
        scale = 1.0 / (self.in_channels * self.out_channels)
        self.weights = scale * _uniform(key, shape, dtype)

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Raise a ``ValueError`` unless ``shape`` is ``(in_channels, *grid)`` on a big grid."""
        d = len(self.modes)
        if len(shape) != d + 1 or shape[0] != self.in_channels:
            raise ValueError(
                f"SpectralConv expects input of shape (in_channels={self.in_channels}, *grid) "
                f"with {d} spatial axes, got shape {tuple(shape)}"
            )
        need = min_grid(self.modes)
        if any(n < k for n, k in zip(shape[1:], need)):
            raise ValueError(
                f"SpectralConv with modes {self.modes} needs a grid of at least {need} "
                f"(2 m on leading axes, 2 (m - 1) on the last), got grid {tuple(shape[1:])}"
            )

    @property
    def weights_dtype(self) -> jnp.dtype:
        """The real dtype of the stored weights (or of their factors)."""
        return jax.tree.leaves(self.weights)[0].dtype

    def complex_weights(self) -> Array:
        """The weights as complex numbers, ``(2,) * (d - 1) + (in, out, *modes)``."""
        d = len(self.modes)
        if isinstance(self.weights, (TuckerWeights, CPWeights)):
            w = self.weights.complex_weights()
        else:
            w = jax.lax.complex(self.weights[:, 0], self.weights[:, 1])
        return w.reshape((2,) * (d - 1) + w.shape[1:])

    def __call__(self, x: Float[Array, "in *grid"]) -> Float[Array, " out *grid"]:
        self.check_input(x.shape)
        d = len(self.modes)
        grid = x.shape[1:]
        spectrum = truncated_rfftn(x, self.modes)
        # Axis of length 2 m -> (2, m): index 0 is the block [:m], index 1 the block [-m:],
        # so all corners meet their weights in one einsum.
        corner_shape = [self.in_channels]
        for m in self.modes[:-1]:
            corner_shape += [2, m]
        corner_shape.append(self.modes[-1])
        spectrum = spectrum.reshape(corner_shape)
        mixed = jnp.einsum(mode_mixing_subscripts(d), spectrum, self.complex_weights())
        mixed = mixed.reshape(self.out_channels, *(2 * m for m in self.modes[:-1]), self.modes[-1])
        return truncated_irfftn(mixed, grid)


def mode_mixing_subscripts(d: int) -> str:
    """The ``einsum`` subscripts with which a :class:`SpectralConv` in ``d`` dimensions
    mixes channels mode by mode, every corner block with its own weights.

    The spectrum's leading axes of length ``2 m`` are split into ``(2, m)`` (corner
    bit, mode), and the weights are :meth:`SpectralConv.complex_weights`. E.g. ``d = 2``:
    ``'iaxy,aioxy->oaxy'`` (a: corner bit, x, y: modes, i/o: channels).
    """
    letters = iter(c for c in string.ascii_letters if c not in "io")
    corner_bits = [next(letters) for _ in range(d - 1)]
    mode_axes = [next(letters) for _ in range(d)]
    blocks = "".join(c + x for c, x in zip(corner_bits, mode_axes[:-1])) + mode_axes[-1]
    weights = "".join(corner_bits) + "io" + "".join(mode_axes)
    return f"i{blocks},{weights}->o{blocks}"


class FourierLayer(eqx.Module):
    """One Fourier layer before its activation: ``v -> K v + W v`` (Li et al. 2021, eq. 2).

    ``K`` is a :class:`SpectralConv` and ``W`` a :class:`PointwiseLinear` (with bias).

    Args:
        width: channels in and out.
        modes: Fourier modes kept per spatial axis.
        factorization: the spectral weights' factorisation (see :class:`SpectralConv`).
        rank: the factorisation's rank.
        key: random key.
        dtype: floating dtype of the parameters.
    """

    spectral: SpectralConv
    skip: PointwiseLinear

    def __init__(
        self,
        width: int,
        modes: tuple[int, ...],
        *,
        factorization: str | None = None,
        rank: float | Sequence[int] = 0.1,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        spectral_key, skip_key = jax.random.split(key)
        self.spectral = SpectralConv(
            width,
            width,
            modes,
            factorization=factorization,
            rank=rank,
            key=spectral_key,
            dtype=dtype,
        )
        self.skip = PointwiseLinear(width, width, key=skip_key, dtype=dtype)

    def __call__(self, v: Float[Array, " width *grid"]) -> Float[Array, " width *grid"]:
        return self.spectral(v) + self.skip(v)

    def channels_last(
        self, v: Float[Array, "*grid width"], dtype=None
    ) -> Float[Array, "*grid width"]:
        """The layer on a channel-last sample ``(*grid, width)``.

        The spectral path runs channel-first (the FFT transforms the trailing axes), in
        float32 or wider whatever ``dtype`` is: one transpose in, one out, which XLA
        fuses into the sum with the skip path. The skip path is
        :meth:`PointwiseLinear.channels_last` in ``dtype``.

        Args:
            v: the sample, channels last.
            dtype: the dtype of the pointwise product (``None``: the input's).
        """
        spectral_dtype = jnp.promote_types(
            jnp.promote_types(v.dtype, self.spectral.weights_dtype), jnp.float32
        )
        channel_first = jnp.moveaxis(v.astype(spectral_dtype), -1, 0)
        spectral = jnp.moveaxis(self.spectral(channel_first), 0, -1)
        return spectral + self.skip.channels_last(v, dtype)


def grid_coordinates(grid: tuple[int, ...], dtype=jnp.float32) -> Float[Array, " d *grid"]:
    """``(d, *grid)`` coordinates ``linspace(0, 1, n_i)`` along each axis."""
    axes = [jnp.linspace(0.0, 1.0, n, dtype=dtype) for n in grid]
    return jnp.stack(jnp.meshgrid(*axes, indexing="ij"))


class FNO(eqx.Module):
    """Fourier neural operator (Li et al. 2021) for 1-D, 2-D and 3-D fields.

    ``a: (in_channels, *grid) -> u: (out_channels, *grid)`` with ``d = len(modes)``:

    1. append ``d`` coordinate channels ``linspace(0, 1, n_i)`` (if ``positional_embedding``);
    2. lift pointwise to ``width`` channels;
    3. pad with zeros at the end of every spatial axis (``padding`` points; the reference
       Darcy code pads 9 so that the non-periodic solution need not be periodic);
    4. ``n_layers`` Fourier layers ``v <- act(K v + W v)``, with no activation after the
       last one;
    5. remove the padding and project pointwise: ``width -> projection_channels``,
       ``act``, ``-> out_channels``.

    The model is discretisation invariant: one set of weights evaluates on any grid
    large enough for ``modes`` (see :func:`min_grid`).

    Args:
        in_channels: channels of the input function.
        out_channels: channels of the output function.
        modes: Fourier modes kept per spatial axis, one entry per axis, e.g. ``(12, 12)``.
        width: channels inside the Fourier layers.
        n_layers: number of Fourier layers.
        projection_channels: hidden channels of the projection.
        padding: zero points appended to each spatial axis (an int for all axes, or one
            per axis).
        positional_embedding: whether to append grid coordinates to the input.
        activation: pointwise nonlinearity (default ``jax.nn.gelu``, its tanh form; the
            reference uses the erf form, ``partial(jax.nn.gelu, approximate=False)``).
        precision: dtype of the activations between the layers and of the pointwise
            products' operands: ``None`` (the parameters' dtype) or ``"bfloat16"``
            (mixed precision: the FFTs, the spectral weights, the products'
            accumulation and the output stay float32, as in the mixed-precision FNO
            of Tu et al.).
        factorization: the spectral weights: ``None`` (dense), ``"tucker"`` or ``"cp"``
            (the TFNO of Kossaifi et al.; see :class:`SpectralConv`).
        rank: the factorisation's rank: a fraction of the dense parameter count, or
            the integer ranks.
        key: random key.
        dtype: floating dtype of the parameters.

    Inside, the activations are channel-last, ``(*grid, width)``: the pointwise maps
    are then one GEMM over batch and points without the layout copies a channel-first
    product needs under ``vmap``; the input and output keep the channel-first
    convention.

    References:
        Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
        Equations", ICLR 2021. https://arxiv.org/abs/2010.08895

        R. Tu, C. White, J. Kossaifi, B. Bonev, N. Kovachki, G. Pekhimenko,
        K. Azizzadenesheli and A. Anandkumar, "Guaranteed Approximation Bounds for
        Mixed-Precision Neural Operators", ICLR 2024. https://arxiv.org/abs/2307.15034

        J. Kossaifi, N. Kovachki, K. Azizzadenesheli and A. Anandkumar, "Multi-Grid
        Tensorized Fourier Neural Operator for High-Resolution PDEs", TMLR 2023.
        https://arxiv.org/abs/2310.00120
    """

    lifting: PointwiseLinear
    layers: tuple[FourierLayer, ...]
    projection_hidden: PointwiseLinear
    projection_out: PointwiseLinear
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)
    padding: tuple[int, ...] = eqx.field(static=True)
    positional_embedding: bool = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)
    precision: str | None = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: tuple[int, ...],
        width: int,
        n_layers: int = 4,
        *,
        projection_channels: int = 128,
        padding: int | tuple[int, ...] = 0,
        positional_embedding: bool = True,
        activation: Callable[[Array], Array] = jax.nn.gelu,
        precision: str | None = None,
        factorization: str | None = None,
        rank: float | Sequence[int] = 0.1,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        self.modes = check_modes(modes)
        self.precision = check_precision(precision)
        d = len(self.modes)
        if isinstance(padding, int):
            padding = (padding,) * d
        padding = tuple(int(p) for p in padding)
        if len(padding) != d or any(p < 0 for p in padding):
            raise ValueError(
                f"padding must be a non-negative int or a tuple of {d} of them, got {padding}"
            )
        self.padding = padding
        self.in_channels = check_count("FNO", "in_channels", in_channels)
        self.out_channels = check_count("FNO", "out_channels", out_channels)
        width = check_count("FNO", "width", width)
        n_layers = check_count("FNO", "n_layers", n_layers)
        projection_channels = check_count("FNO", "projection_channels", projection_channels)
        self.positional_embedding = bool(positional_embedding)
        self.activation = activation

        lifting_key, projection_key, out_key, *layer_keys = jax.random.split(key, 3 + n_layers)
        lifted = self.in_channels + (d if self.positional_embedding else 0)
        self.lifting = PointwiseLinear(lifted, width, key=lifting_key, dtype=dtype)
        self.layers = tuple(
            FourierLayer(
                width,
                self.modes,
                factorization=factorization,
                rank=rank,
                key=layer_key,
                dtype=dtype,
            )
            for layer_key in layer_keys
        )
        self.projection_hidden = PointwiseLinear(
            width, projection_channels, key=projection_key, dtype=dtype
        )
        self.projection_out = PointwiseLinear(
            projection_channels, self.out_channels, key=out_key, dtype=dtype
        )

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Raise a ``ValueError`` unless ``shape`` is a valid single input."""
        d = len(self.modes)
        expected = (
            f"FNO expects input of shape (in_channels={self.in_channels}, *grid) with "
            f"{d} spatial axes, got shape {tuple(shape)}"
        )
        if len(shape) == d + 2 and shape[1] == self.in_channels:
            raise ValueError(f"{expected}; a batch goes through jax.vmap(model)")
        if len(shape) != d + 1 or shape[0] != self.in_channels:
            raise ValueError(expected)
        need = min_grid(self.modes)
        padded = tuple(n + p for n, p in zip(shape[1:], self.padding))
        if any(n < k for n, k in zip(padded, need)):
            smallest = tuple(max(k - p, 1) for k, p in zip(need, self.padding))
            raise ValueError(
                f"FNO with modes {self.modes} and padding {self.padding} needs a grid of at "
                f"least {smallest}, got grid {tuple(shape[1:])}"
            )

    def __call__(self, a: Float[Array, "in *grid"]) -> Float[Array, " out *grid"]:
        self.check_input(a.shape)
        grid = a.shape[1:]
        if self.positional_embedding:
            a = jnp.concatenate([a, grid_coordinates(grid, a.dtype)])
        # Channel-last inside: one transpose in, one out (see PointwiseLinear.channels_last).
        dtype = None if self.precision is None else jnp.dtype(self.precision)

        def store(v):
            return v if dtype is None else v.astype(dtype)

        v = store(self.lifting.channels_last(jnp.moveaxis(a, 0, -1), dtype))
        if any(self.padding):
            v = jnp.pad(v, [(0, p) for p in self.padding] + [(0, 0)])
        *hidden, last = self.layers
        for layer in hidden:
            v = store(self.activation(layer.channels_last(v, dtype)))
        v = store(last.channels_last(v, dtype))
        if any(self.padding):
            v = v[tuple(slice(0, n) for n in grid)]
        v = store(self.activation(self.projection_hidden.channels_last(v, dtype)))
        return jnp.moveaxis(self.projection_out.channels_last(v, dtype), -1, 0)


class RecurrentFNO(eqx.Module):
    """FNO-2D in time: a window of past frames predicts the next frame, recurrently.

    ``frames: (n_in, *grid) -> (n_out, *grid)``. The network ``step`` (an :class:`FNO`
    with ``n_in`` input channels and one output channel) maps the frames
    ``w(t - n_in + 1), ..., w(t)`` to ``w(t + 1)``; the prediction is appended to the
    window, the oldest frame dropped, and the step repeated ``n_out`` times with
    ``lax.scan``. Training through the whole rollout (as here, the loss of the full
    predicted trajectory) is the FNO paper's Navier–Stokes set-up: 10 frames in,
    ``T - 10`` frames out (Li et al. 2021, §5.3, ``fourier_2d_time.py``).

    Args:
        n_in: frames in the input window (10 in the paper).
        n_out: frames predicted.
        modes: Fourier modes per spatial axis, e.g. ``(12, 12)``.
        width: channels of the Fourier layers (20 in the paper).
        n_layers: number of Fourier layers, as for :class:`FNO`.
        projection_channels: hidden channels of the projection, as for :class:`FNO`.
        padding: zero points appended to each spatial axis, as for :class:`FNO`.
        positional_embedding: whether to append grid coordinates, as for :class:`FNO`.
        activation: pointwise nonlinearity, as for :class:`FNO`.
        precision: activation dtype, as for :class:`FNO`.
        factorization: spectral weights' factorisation, as for :class:`FNO`.
        rank: the factorisation's rank, as for :class:`FNO`.
        key: random key.
        dtype: floating dtype of the parameters.
    """

    step: FNO
    n_in: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_out: int,
        modes: tuple[int, ...],
        width: int,
        n_layers: int = 4,
        *,
        projection_channels: int = 128,
        padding: int | tuple[int, ...] = 0,
        positional_embedding: bool = True,
        activation: Callable[[Array], Array] = jax.nn.gelu,
        precision: str | None = None,
        factorization: str | None = None,
        rank: float | Sequence[int] = 0.1,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        self.n_in = check_count("RecurrentFNO", "n_in", n_in)
        self.n_out = check_count("RecurrentFNO", "n_out", n_out)
        width = check_count("RecurrentFNO", "width", width)
        n_layers = check_count("RecurrentFNO", "n_layers", n_layers)
        projection_channels = check_count(
            "RecurrentFNO", "projection_channels", projection_channels
        )
        self.step = FNO(
            self.n_in,
            1,
            modes,
            width,
            n_layers,
            projection_channels=projection_channels,
            padding=padding,
            positional_embedding=positional_embedding,
            activation=activation,
            precision=precision,
            factorization=factorization,
            rank=rank,
            key=key,
            dtype=dtype,
        )

    def __call__(self, frames: Float[Array, " n_in *grid"]) -> Float[Array, " n_out *grid"]:
        self.step.check_input(frames.shape)

        def advance(window, _):
            new = self.step(window)
            return jnp.concatenate([window[1:], new]), new[0]

        _, predicted = jax.lax.scan(advance, frames, None, length=self.n_out)
        return predicted


class SpaceTimeFNO(eqx.Module):
    """FNO-3D in space-time: the input frames, repeated along a time axis, map to the
    whole predicted trajectory at once.

    ``frames: (n_in, *grid) -> (n_out, *grid)``. The ``n_in`` input frames become
    channels at every one of ``n_out`` output times (a new last axis), the network is an
    :class:`FNO` over ``(*grid, time)`` with coordinates ``(x, y, t)`` appended, and its
    one output channel is the trajectory. Time is not periodic, so the time axis is
    zero-padded (``time_padding``, 6 in the reference ``fourier_3d.py``); the spatial
    axes are periodic and are not padded (Li et al. 2021, §5.3, FNO-3D).

    Args:
        n_in: frames in the input (10 in the paper).
        n_out: frames predicted (the length of the time axis the network sees).
        modes: Fourier modes per axis, spatial axes first and time last, e.g.
            ``(8, 8, 8)``.
        width: channels of the Fourier layers (20 in the paper).
        time_padding: zero points appended to the time axis.
        n_layers: number of Fourier layers, as for :class:`FNO`.
        projection_channels: hidden channels of the projection, as for :class:`FNO`.
        positional_embedding: whether to append the coordinates ``(x, y, t)``, as for
            :class:`FNO`.
        activation: pointwise nonlinearity, as for :class:`FNO`.
        precision: activation dtype, as for :class:`FNO`.
        factorization: spectral weights' factorisation, as for :class:`FNO`.
        rank: the factorisation's rank, as for :class:`FNO`.
        key: random key.
        dtype: floating dtype of the parameters.
    """

    network: FNO
    n_in: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_out: int,
        modes: tuple[int, ...],
        width: int,
        n_layers: int = 4,
        *,
        time_padding: int = 6,
        projection_channels: int = 128,
        positional_embedding: bool = True,
        activation: Callable[[Array], Array] = jax.nn.gelu,
        precision: str | None = None,
        factorization: str | None = None,
        rank: float | Sequence[int] = 0.1,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        self.n_in = check_count("SpaceTimeFNO", "n_in", n_in)
        self.n_out = check_count("SpaceTimeFNO", "n_out", n_out)
        width = check_count("SpaceTimeFNO", "width", width)
        n_layers = check_count("SpaceTimeFNO", "n_layers", n_layers)
        projection_channels = check_count(
            "SpaceTimeFNO", "projection_channels", projection_channels
        )
        time_padding = check_count("SpaceTimeFNO", "time_padding", time_padding, minimum=0)
        modes = check_modes(modes)
        self.network = FNO(
            self.n_in,
            1,
            modes,
            width,
            n_layers,
            projection_channels=projection_channels,
            padding=(0,) * (len(modes) - 1) + (time_padding,),
            positional_embedding=positional_embedding,
            activation=activation,
            precision=precision,
            factorization=factorization,
            rank=rank,
            key=key,
            dtype=dtype,
        )

    def __call__(self, frames: Float[Array, " n_in *grid"]) -> Float[Array, " n_out *grid"]:
        d = len(self.network.modes) - 1
        if frames.ndim != d + 1 or frames.shape[0] != self.n_in:
            raise ValueError(
                f"SpaceTimeFNO expects input frames of shape (n_in={self.n_in}, *grid) with "
                f"{d} spatial axes, got shape {tuple(frames.shape)}; a batch goes through "
                "jax.vmap(model)"
            )
        repeated = jnp.broadcast_to(frames[..., None], (*frames.shape, self.n_out))
        trajectory = self.network(repeated)[0]
        return jnp.moveaxis(trajectory, -1, 0)


def count_parameters(model) -> int:
    """Number of real scalars in the inexact array leaves of ``model`` (complex counts 2)."""
    leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))
    return sum(
        int(leaf.size) * (2 if jnp.issubdtype(leaf.dtype, jnp.complexfloating) else 1)
        for leaf in leaves
    )


def fno_param_count(
    in_channels: int,
    out_channels: int,
    modes: Sequence[int],
    width: int,
    n_layers: int = 4,
    projection_channels: int = 128,
    positional_embedding: bool = True,
) -> int:
    """Parameter count of :class:`FNO`, from its formula.

    With ``d = len(modes)``, ``c_in = in_channels + d`` (coordinates appended) or
    ``in_channels``, ``w = width`` and ``p = projection_channels``:

    .. math::

        (c_in + 1) w
        + L \\bigl(2^{d-1} \\cdot 2 w^2 \\prod_i m_i + w^2 + w\\bigr)
        + (w + 1) p + (p + 1) c_{out}.

    The paper's Darcy FNO (1 -> 1, modes (12, 12), width 32, 4 layers, p = 128) has
    2,368,001.
    """
    modes = check_modes(modes)
    d = len(modes)
    lifted = in_channels + (d if positional_embedding else 0)
    spectral = 2 ** (d - 1) * 2 * width * width * math.prod(modes)
    skip = width * width + width
    return (
        (lifted + 1) * width
        + n_layers * (spectral + skip)
        + (width + 1) * projection_channels
        + (projection_channels + 1) * out_channels
    )


# ------------------------------------------------------- built from a ModelSpec


def build_fno(
    spec: ModelSpec,
    *,
    key: jax.Array,
    modes: int | Sequence[int] = 12,
    width: int = 32,
    n_layers: int = 4,
    projection_channels: int = 128,
    padding: int | Sequence[int] = 0,
    positional_embedding: bool = True,
    precision: str | None = None,
    factorization: str | None = None,
    rank: float | Sequence[int] = 0.1,
    activation: str = "gelu_tanh",
):
    """The FNO (Li et al., ICLR 2021); on frames, the recurrent FNO-2D of its
    Navier–Stokes experiments (one frame at a time, fed back). ``precision``
    (``"bfloat16"``: mixed precision), ``factorization`` (``"tucker"``, ``"cp"``) and
    ``rank`` are :class:`FNO`'s; ``activation`` names one of
    :data:`sciml.models.spec.ACTIVATIONS` (``"gelu"``: the exact GELU of the reference
    code; ``"gelu_tanh"``: its tanh approximation, the default)."""
    model = RecurrentFNO if spec.frames is not None else FNO
    channels = spec.frames if spec.frames is not None else (spec.in_channels, spec.out_channels)
    return model(
        *channels,
        modes_per_axis(modes, len(spec.grid)),
        width,
        n_layers,
        projection_channels=projection_channels,
        padding=tuple(padding) if isinstance(padding, Sequence) else padding,
        positional_embedding=positional_embedding,
        precision=precision,
        factorization=factorization,
        rank=tuple(rank) if isinstance(rank, Sequence) else rank,
        activation=activation_function(activation),
        key=key,
    )


def build_fno_ar(
    spec: ModelSpec,
    *,
    key: jax.Array,
    modes: int | Sequence[int] = 16,
    width: int = 32,
    n_layers: int = 4,
    projection_channels: int = 64,
    precision: str | None = None,
    factorization: str | None = None,
    rank: float | Sequence[int] = 0.1,
    activation: str = "gelu_tanh",
):
    """An autoregressive FNO: one step maps ``u(t)`` to ``u(t + Delta)``, applied to its
    own output for every output frame (the recurrent FNO with the channels as frames)."""
    stepped = dataclasses.replace(spec, frames=(spec.in_channels, spec.out_channels))
    return build_fno(
        stepped,
        key=key,
        modes=modes,
        width=width,
        n_layers=n_layers,
        projection_channels=projection_channels,
        precision=precision,
        factorization=factorization,
        rank=rank,
        activation=activation,
    )


def build_fno3d(
    spec: ModelSpec,
    *,
    key: jax.Array,
    modes: int | Sequence[int] = 8,
    width: int = 20,
    n_layers: int = 4,
    time_padding: int = 6,
    projection_channels: int = 128,
    precision: str | None = None,
    factorization: str | None = None,
    rank: float | Sequence[int] = 0.1,
    activation: str = "gelu_tanh",
):
    """The space-time FNO-3D of the FNO paper's Navier–Stokes experiments (frames only);
    ``precision``, ``factorization``, ``rank`` and ``activation`` as for
    :func:`build_fno`."""
    if spec.frames is None:
        raise ValueError("model 'fno3d' maps input frames to output frames; the task has no frames")
    return SpaceTimeFNO(
        *spec.frames,
        modes_per_axis(modes, len(spec.grid) + 1),
        width,
        n_layers,
        time_padding=time_padding,
        projection_channels=projection_channels,
        precision=precision,
        factorization=factorization,
        rank=tuple(rank) if isinstance(rank, Sequence) else rank,
        activation=activation_function(activation),
        key=key,
    )
