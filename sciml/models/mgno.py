"""MgNO: neural operators whose linear maps are multigrid V-cycles.

He, Liu and Xu parameterise each linear operator between functions by one
multi-channel V-cycle of a multigrid method, with learned convolutions in the place
of the discrete operator ``A``, the smoother ``S``, the restrictions and the
prolongations. A layer is

.. math::  u_i \\leftarrow \\sigma\\Bigl(\\sum_j W_{ij} u_j + B_{ij}(u_j)\\Bigr),

with ``W`` the V-cycle (:class:`VCycle`) and ``B`` a 1x1 convolution with bias (a
bias *function*). There is no lifting: the first layer reads the input channels, and
a final 1x1 convolution is the head.

The V-cycle on levels ``0`` (finest) to ``L - 1`` (coarsest), for a right-hand side
``f`` with ``c_f`` channels and an iterate ``u`` with ``c_u`` channels:

1. level 0 starts from ``u = S f`` and smooths ``u <- u + S (f - A u)`` (the
   remaining pre-smoothing steps); ``A: c_u -> c_f`` and ``S: c_f -> c_u`` are 3x3
   convolutions, each step with its own;
2. going down, ``u <- Pi u`` and ``f <- R f`` (stride-2 3x3 convolutions), then the
   level's pre-smoothing steps;
3. going up, ``u_l <- u_l + P u_{l+1}`` (a stride-2 transposed convolution onto
   level ``l``'s grid), then the level's post-smoothing steps.

The boundary condition is the padding of every convolution: ``"zeros"`` (Dirichlet),
``"circular"`` (periodic) or ``"reflect"``. Odd grids coarsen as ``n -> ceil(n/2)``
(85, 43, 22, 11, 6, 3) and the prolongations are cut to each finer grid.

References:
    J. He, X. Liu and J. Xu, "MgNO: Efficient Parameterization of Linear Operators via
    Multigrid", ICLR 2024. https://arxiv.org/abs/2310.19809
    J. He and J. Xu, "MgNet: A unified framework of multigrid and convolutional neural
    network", Science China Mathematics 62 (2019).
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
from sciml.models.spec import ModelSpec, activation_function, check_count, domain_padding

__all__ = [
    "MgNO",
    "MgNOLayer",
    "PAPER_SMOOTHING",
    "VCycle",
    "build_mgno",
    "level_shapes",
    "mgno_param_count",
]

#: The smoothing of the paper's Darcy model: one pre-smoothing step on each of five
#: levels and two on the sixth, no post-smoothing.
PAPER_SMOOTHING = ((1, 0),) * 5 + ((2, 0),)


def _check_smoothing(smoothing) -> tuple[tuple[int, int], ...]:
    try:
        pairs = tuple((int(pre), int(post)) for pre, post in smoothing)
    except (TypeError, ValueError):
        raise ValueError(
            "smoothing must be one (pre, post) pair of step counts per level, e.g. "
            f"((1, 0), (1, 0), (2, 0)), got {smoothing!r}"
        ) from None
    if not pairs or any(pre < 0 or post < 0 for pre, post in pairs):
        raise ValueError(f"smoothing must be non-empty with counts >= 0, got {smoothing!r}")
    if pairs[0][0] < 1:
        raise ValueError(
            "the finest level needs at least one pre-smoothing step (it starts from u = S f), "
            f"got smoothing {pairs}"
        )
    return pairs


def level_shapes(grid: tuple[int, ...], levels: int, padding: str) -> tuple[tuple[int, ...], ...]:
    """The grids of a V-cycle with ``levels`` levels on ``grid``; a ``ValueError`` if it
    does not fit.

    Each level halves the grid (``ceil(n / 2)``) and the coarsest must keep at least 2
    points per axis. A periodic (``"circular"``) cycle needs every level but the
    coarsest to have an even size, i.e. ``n`` divisible by ``2**(levels - 1)``.
    """
    grid = tuple(int(n) for n in grid)
    shapes = [grid]
    for _ in range(levels - 1):
        if padding == "circular" and any(n % 2 for n in shapes[-1]):
            raise ValueError(
                f"a periodic (circular) MgNO with {levels} levels needs grid sizes divisible "
                f"by 2**{levels - 1} = {2 ** (levels - 1)}, got grid {grid}"
            )
        shapes.append(coarse_shape(shapes[-1]))
    if any(n < 2 for n in shapes[-1]):
        deepest = 1
        while all(n >= 2 for n in coarse_shape(shapes[deepest - 1])) and deepest < levels:
            deepest += 1
        raise ValueError(
            f"{levels} multigrid levels are too deep for grid {grid}: the coarsest grid "
            f"would be {shapes[-1]} (at least 2 points per axis are needed); use at most "
            f"{deepest} levels"
        )
    return tuple(shapes)


class Smoother(eqx.Module):
    """One smoothing step ``u <- u + S (f - A u)``; without ``A`` the first step ``u = S f``."""

    operator: Conv | None
    smoother: Conv

    def __init__(self, c_u: int, c_f: int, dims: int, first: bool, padding: str, *, key, dtype):
        a_key, s_key = jax.random.split(key)
        self.operator = (
            None if first else Conv(c_u, c_f, 3, dims, padding=padding, key=a_key, dtype=dtype)
        )
        self.smoother = Conv(c_f, c_u, 3, dims, padding=padding, key=s_key, dtype=dtype)

    def __call__(
        self, u: Float[Array, " c_u *grid"] | None, f: Float[Array, " c_f *grid"]
    ) -> Float[Array, " c_u *grid"]:
        if self.operator is None:
            return self.smoother(f)
        assert u is not None, "only the first smoothing step may start from u = None"
        return u + self.smoother(f - self.operator(u))


class VCycle(eqx.Module):
    """One multi-channel V-cycle ``f: (c_f, *grid) -> u: (c_u, *grid)``, linear in ``f``.

    See the module docstring for the cycle. ``smoothing[l] = (pre, post)`` gives the
    smoothing steps on level ``l``; ``len(smoothing)`` is the number of levels.
    """

    pre: tuple[tuple[Smoother, ...], ...]
    post: tuple[tuple[Smoother, ...], ...]
    restrict_u: tuple[Conv, ...]
    restrict_f: tuple[Conv, ...]
    prolong: tuple[ConvTranspose, ...]
    padding: str = eqx.field(static=True)

    def __init__(
        self,
        c_f: int,
        c_u: int,
        dims: int,
        smoothing: Sequence[tuple[int, int]],
        *,
        padding: str = "zeros",
        prolongation_kernel: int = 4,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        smoothing = _check_smoothing(smoothing)
        self.padding = check_padding(padding)
        levels = len(smoothing)
        keys = iter(jax.random.split(key, 4 * levels + sum(a + b for a, b in smoothing)))

        def smoothers(count, first_level_pre):
            return tuple(
                Smoother(
                    c_u, c_f, dims, first_level_pre and i == 0, padding, key=next(keys), dtype=dtype
                )
                for i in range(count)
            )

        self.pre = tuple(smoothers(pre, level == 0) for level, (pre, _) in enumerate(smoothing))
        self.post = tuple(smoothers(post, False) for _, post in smoothing)
        conv = dict(stride=2, padding=padding, dtype=dtype)
        self.restrict_u = tuple(
            Conv(c_u, c_u, 3, dims, key=next(keys), **conv) for _ in range(levels - 1)
        )
        self.restrict_f = tuple(
            Conv(c_f, c_f, 3, dims, key=next(keys), **conv) for _ in range(levels - 1)
        )
        self.prolong = tuple(
            ConvTranspose(
                c_u, c_u, prolongation_kernel, dims, padding=padding, key=next(keys), dtype=dtype
            )
            for _ in range(levels - 1)
        )

    @property
    def levels(self) -> int:
        return len(self.pre)

    def __call__(self, f: Float[Array, " c_f *grid"]) -> Float[Array, " c_u *grid"]:
        shapes = level_shapes(f.shape[1:], self.levels, self.padding)
        iterates: list[tuple[Array, Array]] = []
        u: Array | None = None
        for level in range(self.levels):
            if level > 0:
                assert u is not None
                u, f = self.restrict_u[level - 1](u), self.restrict_f[level - 1](f)
            for step in self.pre[level]:
                u = step(u, f)
            assert u is not None  # set by the finest level's first step, then by restriction
            if level < self.levels - 1:
                iterates.append((u, f))
        for step in self.post[-1]:
            u = step(u, f)
        assert u is not None
        for level in range(self.levels - 2, -1, -1):
            fine_u, fine_f = iterates[level]
            u = fine_u + self.prolong[level](u, shapes[level])
            for step in self.post[level]:
                u = step(u, fine_f)
        return u


class MgNOLayer(eqx.Module):
    """``u -> act(W u + B u)``: ``W`` a :class:`VCycle`, ``B`` a 1x1 convolution with bias."""

    cycle: VCycle
    bias_map: Conv
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dims: int,
        smoothing,
        *,
        padding: str,
        prolongation_kernel: int,
        activation: Callable[[Array], Array],
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        cycle_key, bias_key = jax.random.split(key)
        self.cycle = VCycle(
            in_channels,
            out_channels,
            dims,
            smoothing,
            padding=padding,
            prolongation_kernel=prolongation_kernel,
            key=cycle_key,
            dtype=dtype,
        )
        self.bias_map = Conv(
            in_channels, out_channels, 1, dims, use_bias=True, key=bias_key, dtype=dtype
        )
        self.activation = activation

    def linear(self, u: Float[Array, "in *grid"]) -> Float[Array, " out *grid"]:
        """``W u + B u`` before the activation (affine in ``u``)."""
        return self.cycle(u) + self.bias_map(u)

    def __call__(self, u: Float[Array, "in *grid"]) -> Float[Array, " out *grid"]:
        return self.activation(self.linear(u))


class MgNO(eqx.Module):
    """The multigrid neural operator of He, Liu and Xu (ICLR 2024), in 1-D or 2-D.

    ``a: (in_channels, *grid) -> u: (out_channels, *grid)``: ``n_layers`` layers
    :class:`MgNOLayer` (the first reads ``in_channels``, the others ``channels``), then
    a 1x1 convolution without bias to ``out_channels``. The same weights run on any grid
    that the V-cycle fits (:func:`level_shapes`).

    Args:
        in_channels: channels of the input function.
        out_channels: channels of the output function.
        grid: the grid the model is built for, ``(n,)`` or ``(n_1, n_2)``; it fixes the
            dimension and is checked against the levels here, at construction.
        channels: channels of ``u`` and of the right-hand side inside the layers (24 in
            the paper's Darcy model).
        n_layers: number of MgNO layers (4 in the paper).
        smoothing: ``(pre, post)`` smoothing steps per level, finest first; its length
            is the number of levels. Default :data:`PAPER_SMOOTHING` (6 levels).
        padding: boundary condition of every convolution: ``"zeros"`` (Dirichlet, the
            paper's Darcy runs), ``"circular"`` (periodic) or ``"reflect"``.
        prolongation_kernel: kernel size of the transposed convolutions (4: the
            paper's parameter count at 256 x 256).
        activation: pointwise nonlinearity (GELU by default).
        key: random key.
        dtype: floating dtype of the parameters.
    """

    layers: tuple[MgNOLayer, ...]
    head: Conv
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    dims: int = eqx.field(static=True)
    padding: str = eqx.field(static=True)
    levels: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        grid: Sequence[int],
        *,
        channels: int = 24,
        n_layers: int = 4,
        smoothing=PAPER_SMOOTHING,
        padding: str = "zeros",
        prolongation_kernel: int = 4,
        activation: Callable[[Array], Array] = jax.nn.gelu,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        grid = tuple(int(n) for n in grid)
        if len(grid) not in (1, 2):
            raise ValueError(f"MgNO is 1-D or 2-D: grid must have 1 or 2 sizes, got {grid}")
        in_channels = check_count("MgNO", "in_channels", in_channels)
        out_channels = check_count("MgNO", "out_channels", out_channels)
        channels = check_count("MgNO", "channels", channels)
        n_layers = check_count("MgNO", "n_layers", n_layers)
        prolongation_kernel = check_count(
            "MgNO", "prolongation_kernel", prolongation_kernel, minimum=2
        )
        smoothing = _check_smoothing(smoothing)
        self.padding = check_padding(padding)
        level_shapes(grid, len(smoothing), self.padding)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.dims = len(grid)
        self.levels = len(smoothing)
        *layer_keys, head_key = jax.random.split(key, int(n_layers) + 1)
        widths = [self.in_channels] + [int(channels)] * int(n_layers)
        self.layers = tuple(
            MgNOLayer(
                c_in,
                c_out,
                self.dims,
                smoothing,
                padding=self.padding,
                prolongation_kernel=int(prolongation_kernel),
                activation=activation,
                key=layer_key,
                dtype=dtype,
            )
            for c_in, c_out, layer_key in zip(widths[:-1], widths[1:], layer_keys)
        )
        self.head = Conv(int(channels), self.out_channels, 1, self.dims, key=head_key, dtype=dtype)

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Raise a ``ValueError`` unless ``shape`` is one sample on a grid the cycle fits."""
        check_sample_shape("MgNO", shape, self.in_channels, self.dims)
        level_shapes(shape[1:], self.levels, self.padding)

    def __call__(self, a: Float[Array, "in *grid"]) -> Float[Array, " out *grid"]:
        self.check_input(a.shape)
        u = a
        for layer in self.layers:
            u = layer(u)
        return self.head(u)


def mgno_param_count(
    in_channels: int,
    out_channels: int,
    channels: int = 24,
    n_layers: int = 4,
    smoothing=PAPER_SMOOTHING,
    dims: int = 2,
    prolongation_kernel: int = 4,
) -> int:
    """Parameter count of :class:`MgNO`, from its formula.

    With ``c_u = channels``, the V-cycle of a layer reading ``c_f`` channels and
    ``K = 3**dims``, ``P = prolongation_kernel**dims``, ``L`` levels and ``s`` smoothing
    steps in all (pre and post):

    .. math::

        K c_f c_u                       \\text{(the first step, } u = S f)
        + (s - 1) \\, 2 K c_f c_u          \\text{(} A \\text{ and } S \\text{ of the others)}
        + (L - 1) (K c_u^2 + K c_f^2 + P c_u^2)  \\text{(} \\Pi, R, \\text{ prolongation)}

    plus ``c_f c_u + c_u`` for the bias map; the layers read ``in_channels`` once and
    ``channels`` after; the head adds ``channels * out_channels``.
    """
    pairs = _check_smoothing(smoothing)
    levels, steps = len(pairs), sum(pre + post for pre, post in pairs)
    k, p, c = 3**dims, prolongation_kernel**dims, channels

    def layer(c_f):
        cycle = k * c_f * c + (steps - 1) * 2 * k * c_f * c
        cycle += (levels - 1) * (k * c * c + k * c_f * c_f + p * c * c)
        return cycle + c_f * c + c

    return layer(in_channels) + (n_layers - 1) * layer(c) + c * out_channels


# ------------------------------------------------------- built from a ModelSpec


def build_mgno(
    spec: ModelSpec,
    *,
    key: jax.Array,
    channels: int = 24,
    n_layers: int = 4,
    smoothing: Sequence[Sequence[int]] = PAPER_SMOOTHING,
    padding: str | None = None,
    activation: str = "gelu_tanh",
):
    """MgNO (He, Liu, Xu, ICLR 2024); padding follows the domain unless given;
    ``activation`` names one of :data:`sciml.models.spec.ACTIVATIONS` (the official
    code's is the exact ``"gelu"``)."""
    return MgNO(
        spec.in_channels,
        spec.out_channels,
        spec.grid,
        channels=channels,
        n_layers=n_layers,
        smoothing=smoothing,
        padding=domain_padding(padding, spec),
        activation=activation_function(activation),
        key=key,
    )
