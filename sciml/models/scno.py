"""Self-composing neural operators: one block, shared, applied again and again.

He, Liu and Xu write a self-composing neural operator as

.. math::  \\mathcal O(v) = P \\circ (G_\\theta \\circ)^n \\circ L(v),

a lifting ``L``, ``n`` compositions of ONE backbone block ``G_theta`` whose
parameters are shared by every composition, and a projection ``P``. The depth ``n``
adds no parameters, so it can grow during training (:mod:`sciml.train.unroll`) and
be chosen again at evaluation, like the number of iterations of an iterative solver.

Here the block is an iteration with input injection, after the iterative methods
that inspire it: with ``f = L(v)`` and ``z_0 = f``,

.. math::  z_{k+1} = G_\\theta(z_k; f) = \\sigma\\bigl(W z_k + B z_k + f\\bigr),

``W`` the backbone's linear operator and ``B`` a 1x1 convolution with bias. The
backbone is the MgNO layer (``W`` a multigrid V-cycle, :class:`~sciml.models.mgno.VCycle`,
the paper's choice) or a Fourier layer (``W`` a spectral convolution, as in the FNO).
Re-injecting ``f`` makes the fixed points of the iteration depend on the input, so
that running it longer refines rather than forgets it: where the block is a
contraction in ``z``, ``z_n`` converges as ``n`` grows (tested), and unrolling a
converged model deeper leaves its function unchanged.

The compositions run in one ``lax.scan`` of the block: one compiled body whatever the
depth, which is a static field (:meth:`SCNO.with_depth` returns the same weights at
another depth).

References:
    J. He, X. Liu and J. Xu, "Self-Composing Neural Operators with Depth and Accuracy
    Scaling via Adaptive Train-and-Unroll Approach", arXiv:2508.20650 (2025).
    J. He, X. Liu and J. Xu, "MgNO: Efficient Parameterization of Linear Operators via
    Multigrid", ICLR 2024.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from sciml.models.conv import check_padding, check_sample_shape
from sciml.models.fno import FourierLayer, PointwiseLinear, check_modes, grid_coordinates
from sciml.models.mgno import PAPER_SMOOTHING, MgNOLayer, level_shapes
from sciml.models.spec import ModelSpec, check_count, domain_padding, modes_per_axis

__all__ = ["BACKBONES", "SCNO", "FourierBlock", "MgNOBlock", "build_scno", "set_depth"]

BACKBONES = ("mgno", "fno")


class MgNOBlock(eqx.Module):
    """``(z, f) -> act(W z + B z + f)`` with ``W`` a V-cycle: an MgNO layer that reads the
    injected input ``f`` beside its iterate."""

    layer: MgNOLayer

    def __call__(self, z: Float[Array, " c *grid"], f: Float[Array, " c *grid"]) -> Array:
        return self.layer.activation(self.layer.linear(z) + f)


class FourierBlock(eqx.Module):
    """``(z, f) -> act(K z + W z + f)`` with ``K`` a spectral convolution: a Fourier layer
    that reads the injected input ``f`` beside its iterate."""

    layer: FourierLayer
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __call__(self, z: Float[Array, " c *grid"], f: Float[Array, " c *grid"]) -> Array:
        return self.activation(self.layer(z) + f)


class SCNO(eqx.Module):
    """A self-composing neural operator ``a: (in_channels, *grid) -> u: (out_channels, *grid)``.

    1. lift pointwise to ``channels`` (grid coordinates appended for the Fourier
       backbone, as in the FNO): ``f = L(a)``; pad (Fourier backbone on a
       non-periodic domain, ``padding`` points, as the FNO does);
    2. ``z_0 = f`` and ``depth`` times ``z <- G(z; f)``, one shared block;
    3. crop and project pointwise: ``channels -> projection_channels``, act, ``-> out``.

    Args:
        in_channels: channels of the input function.
        out_channels: channels of the output function.
        grid: the grid the model is built for (it fixes the dimension and is checked
            against the V-cycle's levels).
        backbone: ``"mgno"`` (a V-cycle; the paper's) or ``"fno"`` (a spectral
            convolution).
        channels: channels of the iterate ``z``.
        depth: the number of compositions (at least 1); :meth:`with_depth` changes it.
        smoothing: the V-cycle's ``(pre, post)`` smoothing steps per level (``"mgno"``).
        padding: the V-cycle's boundary condition, ``"zeros"``, ``"circular"`` or
            ``"reflect"`` (``"mgno"``).
        modes: Fourier modes per axis (``"fno"``).
        fourier_padding: zero points appended to each axis around the compositions
            (``"fno"`` on a non-periodic domain).
        projection_channels: hidden channels of the projection.
        activation: the pointwise nonlinearity (GELU, its tanh form by default).
        key: random key.
        dtype: floating dtype of the parameters.
    """

    lifting: PointwiseLinear
    block: MgNOBlock | FourierBlock
    projection_hidden: PointwiseLinear
    projection_out: PointwiseLinear
    depth: int = eqx.field(static=True)
    backbone: str = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    dims: int = eqx.field(static=True)
    fourier_padding: tuple[int, ...] = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        grid: Sequence[int],
        *,
        backbone: str = "mgno",
        channels: int = 16,
        depth: int = 4,
        smoothing=PAPER_SMOOTHING,
        padding: str = "zeros",
        modes: Sequence[int] = (12, 12),
        fourier_padding: int | Sequence[int] = 0,
        projection_channels: int = 64,
        activation: Callable[[Array], Array] = jax.nn.gelu,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        grid = tuple(int(n) for n in grid)
        if len(grid) not in (1, 2):
            raise ValueError(f"SCNO is 1-D or 2-D: grid must have 1 or 2 sizes, got {grid}")
        if backbone not in BACKBONES:
            raise ValueError(
                f"unknown SCNO backbone {backbone!r}; expected one of {', '.join(BACKBONES)}"
            )
        self.dims, self.backbone = len(grid), backbone
        self.in_channels = check_count("SCNO", "in_channels", in_channels)
        self.out_channels = check_count("SCNO", "out_channels", out_channels)
        channels = check_count("SCNO", "channels", channels)
        self.depth = check_count("SCNO", "depth", depth)
        projection_channels = check_count("SCNO", "projection_channels", projection_channels)
        self.activation = activation
        lift_key, block_key, hidden_key, out_key = jax.random.split(key, 4)
        lifted = self.in_channels
        if backbone == "mgno":
            padding = check_padding(padding)
            level_shapes(grid, len(tuple(smoothing)), padding)
            layer = MgNOLayer(
                channels,
                channels,
                self.dims,
                smoothing,
                padding=padding,
                prolongation_kernel=4,
                activation=activation,
                key=block_key,
                dtype=dtype,
            )
            self.block = MgNOBlock(layer)
            self.fourier_padding = (0,) * self.dims
        else:
            modes = check_modes(modes)
            if len(modes) != self.dims:
                raise ValueError(
                    f"SCNO on a {self.dims}-D grid needs {self.dims} modes, got {modes}"
                )
            pads = (
                (fourier_padding,) * self.dims
                if isinstance(fourier_padding, int)
                else fourier_padding
            )
            self.fourier_padding = tuple(
                check_count("SCNO", "fourier_padding", p, minimum=0) for p in pads
            )
            if len(self.fourier_padding) != self.dims:
                raise ValueError(
                    f"fourier_padding must be one int or {self.dims} of them, got "
                    f"{fourier_padding!r}"
                )
            self.block = FourierBlock(
                FourierLayer(channels, modes, key=block_key, dtype=dtype), activation
            )
            lifted += self.dims  # grid coordinates, as the FNO appends them
        self.lifting = PointwiseLinear(lifted, channels, key=lift_key, dtype=dtype)
        self.projection_hidden = PointwiseLinear(
            channels, projection_channels, key=hidden_key, dtype=dtype
        )
        self.projection_out = PointwiseLinear(
            projection_channels, self.out_channels, key=out_key, dtype=dtype
        )

    def with_depth(self, depth: int) -> SCNO:
        """The same weights composed ``depth`` times."""
        depth = check_count("SCNO", "depth", depth)
        deeper = copy.copy(self)
        object.__setattr__(deeper, "depth", depth)
        return deeper

    def inject(self, a: Float[Array, "in *grid"]) -> Float[Array, " c *padded"]:
        """The lifted (and padded) input ``f = L(a)``, which every composition reads."""
        check_sample_shape("SCNO", a.shape, self.in_channels, self.dims)
        if self.backbone == "fno":
            a = jnp.concatenate([a, grid_coordinates(a.shape[1:], a.dtype)])
        f = self.lifting(a)
        if any(self.fourier_padding):
            f = jnp.pad(f, [(0, 0)] + [(0, p) for p in self.fourier_padding])
        return f

    def compose(self, f: Float[Array, " c *padded"], depth: int) -> Float[Array, " c *padded"]:
        """``z_depth``: ``depth`` compositions of the block from ``z_0 = f``."""

        def step(z, _):
            return self.block(z, f), None

        z, _ = jax.lax.scan(step, f, None, length=depth)
        return z

    def project(self, z: Float[Array, " c *padded"], grid: tuple[int, ...]) -> Array:
        """The output from an iterate: crop the padding, then project pointwise."""
        z = z[(slice(None),) + tuple(slice(0, n) for n in grid)]
        return self.projection_out(self.activation(self.projection_hidden(z)))

    def __call__(self, a: Float[Array, "in *grid"]) -> Float[Array, " out *grid"]:
        return self.project(self.compose(self.inject(a), self.depth), a.shape[1:])


def set_depth(tree: PyTree, depth: int) -> PyTree:
    """``tree`` (a model, or a model wrapped, e.g. between normalisers) with every
    :class:`SCNO` in it composed ``depth`` times; a ``ValueError`` if it holds none."""
    found = []

    def deeper(node):
        if isinstance(node, SCNO):
            found.append(node)
            return node.with_depth(depth)
        return node

    result = jax.tree.map(deeper, tree, is_leaf=lambda node: isinstance(node, SCNO))
    if not found:
        raise ValueError(f"set_depth expects a model holding an SCNO, got {type(tree).__name__}")
    return result


def depth_of(tree: PyTree) -> int:
    """The depth of the (first) :class:`SCNO` in ``tree``."""
    nodes = [
        node
        for node in jax.tree.leaves(tree, is_leaf=lambda node: isinstance(node, SCNO))
        if isinstance(node, SCNO)
    ]
    if not nodes:
        raise ValueError(f"expected a model holding an SCNO, got {type(tree).__name__}")
    return nodes[0].depth


# ------------------------------------------------------- built from a ModelSpec


def build_scno(
    spec: ModelSpec,
    *,
    key: jax.Array,
    backbone: str = "mgno",
    channels: int = 16,
    depth: int = 4,
    smoothing: Sequence[Sequence[int]] = PAPER_SMOOTHING,
    padding: str | None = None,
    modes: int | Sequence[int] = 12,
    fourier_padding: int | Sequence[int] = 0,
    projection_channels: int = 64,
):
    """The self-composing neural operator (He, Liu, Xu 2025); the V-cycle's padding
    follows the domain unless given."""
    return SCNO(
        spec.in_channels,
        spec.out_channels,
        spec.grid,
        backbone=backbone,
        channels=channels,
        depth=depth,
        smoothing=smoothing,
        padding=domain_padding(padding, spec),
        modes=modes_per_axis(modes, len(spec.grid)),
        fourier_padding=tuple(fourier_padding)
        if isinstance(fourier_padding, Sequence)
        else fourier_padding,
        projection_channels=projection_channels,
        key=key,
    )
