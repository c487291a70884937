"""MultiONet: a DeepONet whose output sums the branch-trunk inner products of several layers.

A DeepONet combines only the last features of its branch and trunk nets. MultiONet
(Zang and Koutsourelakis 2025, the decoder of their DGNO / DGenNO) runs two towers of
equal width side by side, the trunk on a point ``x`` and the branch on a vector
``beta``, and combines the features of each of the last ``l`` hidden layers:

.. math::

    t_0 = \\sigma_t(W^t_0 x + c^t_0), \\quad b_0 = \\sigma_b(W^b_0 \\beta + c^b_0), \\qquad
    t_k = \\sigma_t(W^t_k t_{k-1} + c^t_k), \\quad b_k = \\sigma_b(W^b_k b_{k-1} + c^b_k),

.. math::

    G(\\beta)(x) = \\frac{1}{l} \\sum_{k = L - l + 1}^{L} w_k \\langle t_k(x), b_k(\\beta)
    \\rangle + b,

for ``k = 1..L`` hidden layers, with learned scalars ``w_k`` and ``b``. With ``l = 1``
this is a DeepONet whose basis and coefficients are the activated last features of the
two towers, scaled by one learned ``w_L``.

:class:`MultiONet` is the network itself, ``(beta, x) -> G(beta)(x)``; DGNO decodes its
latent ``beta`` with it. :class:`MultiONetOperator` makes it an operator on a task's
grid as :class:`~sciml.models.deeponet.DeepONet` is: the input field, flattened or
through a convolutional encoder, is ``beta``, and the trunk reads the grid's
coordinates (with optional Fourier features).

References:
    Y. Zang and P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator
    for solving forward and inverse PDE problems based on deep, generative
    probabilistic modeling", arXiv:2502.06250 (2025); J. Comput. Phys. 538 (2025).
    L. Lu, P. Jin, G. Pang, Z. Zhang and G. E. Karniadakis, "Learning nonlinear
    operators via DeepONet based on the universal approximation theorem of
    operators", Nature Machine Intelligence 3 (2021).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from sciml.models.deeponet import ConvBranch, grid_points
from sciml.models.spec import ModelSpec, check_count

__all__ = [
    "ACTIVATIONS",
    "ENCODERS",
    "MultiONet",
    "MultiONetOperator",
    "activation_function",
    "build_multionet",
]


def _tanh_sin(z: Array) -> Array:
    return jnp.tanh(jnp.sin(jnp.pi * (z + 1.0))) + z


def _silu_sin(z: Array) -> Array:
    return jax.nn.silu(jnp.sin(jnp.pi * (z + 1.0))) + z


def _silu_id(z: Array) -> Array:
    return jax.nn.silu(z) + z


# The residual-like "_sin" and "_id" activations are those of the DGenNO authors' code.
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "tanh_sin": _tanh_sin,
    "silu_sin": _silu_sin,
    "silu_id": _silu_id,
}

ENCODERS = ("mlp", "conv")


def activation_function(name: str) -> Callable[[Array], Array]:
    """The activation called ``name``, one of :data:`ACTIVATIONS`.

    ``"tanh_sin"`` is ``tanh(sin(pi (z + 1))) + z``, ``"silu_sin"`` is
    ``silu(sin(pi (z + 1))) + z`` and ``"silu_id"`` is ``silu(z) + z``.

    Args:
        name: the activation's name.

    Returns:
        The elementwise function.

    Raises:
        ValueError: an unknown name (the error lists the known ones).
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _affine(layer: eqx.nn.Linear, h: Array) -> Array:
    """``layer`` applied along the last axis of ``h``: ``(..., in) -> (..., out)``."""
    out = h @ layer.weight.T
    return out if layer.bias is None else out + layer.bias


def _tower(
    layers: tuple[eqx.nn.Linear, ...], h: Array, activation: str, kept: int
) -> Float[Array, "l ... width"]:
    """The activated features of the last ``kept`` layers of ``layers``, stacked."""
    sigma = activation_function(activation)
    features = []
    for layer in layers:
        h = sigma(_affine(layer, h))
        features.append(h)
    return jnp.stack(features[len(features) - kept :])


class MultiONet(eqx.Module):
    """MultiONet (Zang and Koutsourelakis 2025): ``(beta, x) -> G(beta)(x)``.

    ``model(beta, x)``: ``beta: (branch_in,)``, ``x: (P, trunk_in) -> (out_channels,
    P)``. A batch of ``beta`` (each with its own points, or sharing them) goes through
    ``jax.vmap``; a trunk evaluation that does not depend on the batch is computed once.

    Each tower is an input layer (``branch_in`` or ``trunk_in`` to ``width``) and
    ``n_layers`` hidden ``width x width`` layers, each layer followed by its tower's
    activation (the last one too). The last ``sum_layers = l`` hidden layers each add
    ``w_k <t_k(x), b_k(beta)>``, and ``G = (1 / l) sum_k w_k <t_k, b_k> + b``.

    With ``C = out_channels > 1`` the features of ``width`` split into ``C`` consecutive
    groups of ``width / C``, one per channel (as a DeepONet gives each output channel its
    own ``p`` basis functions), and channel ``c`` has its own scalars ``w_k^c`` and
    ``b^c``: ``G_c = (1 / l) sum_k w_k^c <t_k^c, b_k^c> + b^c``. The towers stay shared.

    The weights ``w_k`` start at 1 and ``b`` at 0 (as in the authors' first code; their
    journal code starts ``w_k`` at 0). At ``w = 0`` the output is 0 whatever the towers
    are, so the first steps move only ``w`` and ``b`` and every tower parameter starts
    with a zero gradient; at ``w = 1`` all layers train from the first step, and the
    model starts as the plain mean of its layers' inner products.

    Args:
        branch_in: size of ``beta``, the branch's input.
        trunk_in: size of one point ``x``, the trunk's input.
        width: the features of every layer of both towers.
        n_layers: ``L``, the hidden ``width x width`` layers of each tower (after the
            input layer).
        sum_layers: ``l``, how many of the last hidden layers contribute an inner
            product, ``1 <= l <= L``; ``None``: all ``L``. ``l = 1`` is a DeepONet.
        out_channels: ``C``, the output channels; ``width`` must be divisible by it.
        trunk_activation: the trunk's activation, a name of :data:`ACTIVATIONS`.
        branch_activation: the branch's activation, a name of :data:`ACTIVATIONS`.
        key: random key.
        dtype: floating dtype of the parameters.

    Raises:
        ValueError: a size that is not a positive integer, ``sum_layers`` outside
            ``1..n_layers``, ``width`` not divisible by ``out_channels``, or an unknown
            activation.
    """

    trunk_layers: tuple[eqx.nn.Linear, ...]
    branch_layers: tuple[eqx.nn.Linear, ...]
    weights: Float[Array, "l C"]
    bias: Float[Array, " C"]
    branch_in: int = eqx.field(static=True)
    trunk_in: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    n_layers: int = eqx.field(static=True)
    sum_layers: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    trunk_activation: str = eqx.field(static=True)
    branch_activation: str = eqx.field(static=True)

    def __init__(
        self,
        branch_in: int,
        trunk_in: int,
        width: int,
        n_layers: int = 4,
        sum_layers: int | None = None,
        out_channels: int = 1,
        trunk_activation: str = "tanh_sin",
        branch_activation: str = "tanh_sin",
        *,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        self.branch_in = check_count("MultiONet", "branch_in", branch_in)
        self.trunk_in = check_count("MultiONet", "trunk_in", trunk_in)
        self.width = check_count("MultiONet", "width", width)
        self.n_layers = check_count("MultiONet", "n_layers", n_layers)
        self.out_channels = check_count("MultiONet", "out_channels", out_channels)
        if sum_layers is None:
            sum_layers = self.n_layers
        self.sum_layers = check_count("MultiONet", "sum_layers", sum_layers)
        if self.sum_layers > self.n_layers:
            raise ValueError(
                f"MultiONet sums the inner products of at most its n_layers={self.n_layers} "
                f"hidden layers, got sum_layers={self.sum_layers}"
            )
        if self.width % self.out_channels:
            raise ValueError(
                f"MultiONet splits its width among the output channels: width={self.width} "
                f"must be divisible by out_channels={self.out_channels}"
            )
        for name in (trunk_activation, branch_activation):
            activation_function(name)  # an unknown name fails here, not at the first call
        self.trunk_activation, self.branch_activation = trunk_activation, branch_activation
        trunk_key, branch_key = jax.random.split(key)
        # the towers' keys do not depend on sum_layers: models that differ only in it
        # share their towers, which the tests use
        self.trunk_layers = self._make_tower(self.trunk_in, trunk_key, dtype)
        self.branch_layers = self._make_tower(self.branch_in, branch_key, dtype)
        self.weights = jnp.ones((self.sum_layers, self.out_channels), dtype)
        self.bias = jnp.zeros((self.out_channels,), dtype)

    def _make_tower(self, in_size: int, key: PRNGKeyArray, dtype) -> tuple[eqx.nn.Linear, ...]:
        keys = jax.random.split(key, self.n_layers + 1)
        sizes = [in_size] + [self.width] * self.n_layers
        return tuple(eqx.nn.Linear(n, self.width, key=k, dtype=dtype) for n, k in zip(sizes, keys))

    def trunk_features(self, x: Float[Array, "P trunk_in"]) -> Float[Array, "l P width"]:
        """``t_k(x)`` of the ``l`` summed layers, at the points ``x``."""
        if x.ndim != 2 or x.shape[1] != self.trunk_in:
            raise ValueError(
                f"MultiONet's trunk reads points x of shape (P, {self.trunk_in}) "
                f"(trunk_in={self.trunk_in}), got {tuple(x.shape)}"
            )
        return _tower(self.trunk_layers, x, self.trunk_activation, self.sum_layers)

    def branch_features(self, beta: Float[Array, " branch_in"]) -> Float[Array, "l width"]:
        """``b_k(beta)`` of the ``l`` summed layers."""
        if beta.shape != (self.branch_in,):
            hint = "; a batch goes through jax.vmap(model)" if beta.ndim == 2 else ""
            raise ValueError(
                f"MultiONet's branch reads one vector beta of shape ({self.branch_in},) "
                f"(branch_in={self.branch_in}), got {tuple(beta.shape)}{hint}"
            )
        return _tower(self.branch_layers, beta, self.branch_activation, self.sum_layers)

    def layer_inner_products(
        self, beta: Float[Array, " branch_in"], x: Float[Array, "P trunk_in"]
    ) -> Float[Array, "l C P"]:
        """``<t_k^c(x), b_k^c(beta)>`` for each summed layer ``k`` and channel ``c``."""
        b = self.branch_features(beta)
        t = self.trunk_features(x)
        c, group = self.out_channels, self.width // self.out_channels
        t = t.reshape(self.sum_layers, len(x), c, group)
        b = b.reshape(self.sum_layers, c, group)
        return jnp.einsum("kpcg,kcg->kcp", t, b)

    def __call__(
        self, beta: Float[Array, " branch_in"], x: Float[Array, "P trunk_in"]
    ) -> Float[Array, "C P"]:
        products = self.layer_inner_products(beta, x)
        return (
            jnp.einsum("kc,kcp->cp", self.weights, products) / self.sum_layers
            + (self.bias[:, None])
        )


def _fourier_features(y: Float[Array, "P d"], count: int) -> Float[Array, "P f"]:
    """``y`` and, for ``count = J > 0``, ``sin(pi j y_i), cos(pi j y_i)``, ``j = 1..J``
    (the trunk input of :class:`~sciml.models.deeponet.DeepONet`)."""
    if count == 0:
        return y
    j = jnp.arange(1, count + 1, dtype=y.dtype)
    angles = jnp.pi * y[:, :, None] * j  # (P, d, J)
    return jnp.concatenate(
        [y, jnp.sin(angles).reshape(len(y), -1), jnp.cos(angles).reshape(len(y), -1)], -1
    )


class MultiONetOperator(eqx.Module):
    """:class:`MultiONet` as an operator on a grid: ``a: (in_channels, *grid) -> u``.

    ``model(a)``: ``a: (in_channels, *grid) -> u: (out_channels, *grid)`` on the data
    grid; ``model(a, y)``: ``y: (P, d) -> u: (out_channels, P)`` at any points of the
    unit cube (the grid's coordinates: ``linspace(0, 1, n)``, or ``j / n`` if
    ``periodic``), as for :class:`~sciml.models.deeponet.DeepONet`.

    ``beta``, the branch tower's input, is the input field read at the grid's nodes:
    flattened (``encoder="mlp"``: the branch tower's input layer reads the sensors, as
    DeepONet's unstacked branch does), or mapped to ``latent`` features by the
    convolutional :class:`~sciml.models.deeponet.ConvBranch` (``encoder="conv"``, 2-D
    grids). The trunk tower reads ``y`` and, with Fourier features, ``sin(pi j y_i),
    cos(pi j y_i)``, ``j = 1..J``.

    Args:
        in_channels: channels of the input function.
        out_channels: channels of the output function; ``width`` must be divisible by it.
        grid: the input grid, which is also the default output grid.
        width: the features of every layer of both towers.
        n_layers: hidden layers of each tower, after its input layer.
        sum_layers: how many of the last hidden layers are summed (``None``: all; 1: a
            DeepONet).
        encoder: ``"mlp"`` (the flattened field) or ``"conv"`` (2-D).
        latent: size of ``beta`` that the conv encoder returns (unused by ``"mlp"``).
        encoder_width: hidden width of the conv encoder's MLP head.
        conv_channels: channels of the conv encoder's stride-2 convolutions.
        encoder_activation: the conv encoder's activation, a name of
            :data:`ACTIVATIONS`.
        fourier_features: ``J``, the trunk's Fourier features per coordinate (0: the
            coordinates alone).
        periodic: the grid is periodic (nodes ``j / n``) rather than bounded.
        trunk_activation: the trunk tower's activation, a name of :data:`ACTIVATIONS`.
        branch_activation: the branch tower's activation, a name of :data:`ACTIVATIONS`.
        key: random key.
        dtype: floating dtype of the parameters.

    Raises:
        ValueError: an unknown encoder or activation, a bad size, or a conv encoder on
            a grid that is not 2-D.
    """

    encoder: ConvBranch | None
    net: MultiONet
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    grid: tuple[int, ...] = eqx.field(static=True)
    fourier_features: int = eqx.field(static=True)
    periodic: bool = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        grid: Sequence[int],
        *,
        width: int = 100,
        n_layers: int = 4,
        sum_layers: int | None = None,
        encoder: str = "mlp",
        latent: int = 128,
        encoder_width: int = 128,
        conv_channels: Sequence[int] = (16, 32, 64, 64),
        encoder_activation: str = "gelu",
        fourier_features: int = 0,
        periodic: bool = False,
        trunk_activation: str = "tanh_sin",
        branch_activation: str = "tanh_sin",
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        grid = tuple(int(n) for n in grid)
        if not grid or any(n < 2 for n in grid):
            raise ValueError(f"MultiONetOperator expects a grid of sizes >= 2, got {grid}")
        self.grid = grid
        self.in_channels = check_count("MultiONetOperator", "in_channels", in_channels)
        self.out_channels = check_count("MultiONetOperator", "out_channels", out_channels)
        self.fourier_features = check_count(
            "MultiONetOperator", "fourier_features", fourier_features, minimum=0
        )
        self.periodic = bool(periodic)
        encoder_key, net_key = jax.random.split(key)
        if encoder == "mlp":
            self.encoder = None
            branch_in = self.in_channels * math.prod(grid)
        elif encoder == "conv":
            branch_in = check_count("MultiONetOperator", "latent", latent)
            channels = tuple(
                check_count("MultiONetOperator", f"conv_channels[{i}]", c)
                for i, c in enumerate(conv_channels)
            )
            self.encoder = ConvBranch(
                self.in_channels,
                grid,
                branch_in,
                channels,
                check_count("MultiONetOperator", "encoder_width", encoder_width),
                activation_function(encoder_activation),
                key=encoder_key,
                dtype=dtype,
            )
        else:
            raise ValueError(f"unknown encoder {encoder!r}; expected one of {', '.join(ENCODERS)}")
        self.net = MultiONet(
            branch_in,
            len(grid) * (1 + 2 * self.fourier_features),
            width,
            n_layers,
            sum_layers,
            self.out_channels,
            trunk_activation,
            branch_activation,
            key=net_key,
            dtype=dtype,
        )

    def encode(self, a: Float[Array, "in *grid"]) -> Float[Array, " beta"]:
        """``beta``, the branch tower's input, of the input field ``a``."""
        expected = (self.in_channels, *self.grid)
        if tuple(a.shape) != expected:
            hint = "; a batch goes through jax.vmap(model)" if a.shape[1:] == expected else ""
            raise ValueError(
                "MultiONetOperator reads the input function at the nodes of its grid: "
                f"expected shape {expected}, got {tuple(a.shape)}{hint}"
            )
        return a.reshape(-1) if self.encoder is None else self.encoder(a)

    def __call__(
        self, a: Float[Array, "in *grid"], y: Float[Array, "P d"] | None = None
    ) -> Float[Array, " out ..."]:
        beta = self.encode(a)
        if y is None:
            points = grid_points(self.grid, self.periodic, beta.dtype)
        elif y.ndim != 2 or y.shape[1] != len(self.grid):
            raise ValueError(
                f"MultiONetOperator expects points y of shape (P, {len(self.grid)}), "
                f"got {tuple(y.shape)}"
            )
        else:
            points = y
        u = self.net(beta, _fourier_features(points, self.fourier_features))
        return u.reshape(self.out_channels, *self.grid) if y is None else u


# ------------------------------------------------------- built from a ModelSpec


def build_multionet(
    spec: ModelSpec,
    *,
    key: jax.Array,
    width: int = 100,
    n_layers: int = 4,
    sum_layers: int | None = None,
    encoder: str = "mlp",
    latent: int = 128,
    encoder_width: int = 128,
    conv_channels: Sequence[int] = (16, 32, 64, 64),
    fourier_features: int = 0,
    activation: str = "tanh_sin",
    branch_activation: str | None = None,
    encoder_activation: str = "gelu",
):
    """MultiONet (Zang and Koutsourelakis, arXiv:2502.06250, 2025) on the task's grid.

    ``activation`` is the trunk's and, unless ``branch_activation`` is given, the
    branch's; ``sum_layers=None`` sums all ``n_layers``, 1 makes a DeepONet.
    """
    return MultiONetOperator(
        spec.in_channels,
        spec.out_channels,
        spec.grid,
        width=width,
        n_layers=n_layers,
        sum_layers=sum_layers,
        encoder=encoder,
        latent=latent,
        encoder_width=encoder_width,
        conv_channels=conv_channels,
        encoder_activation=encoder_activation,
        fourier_features=fourier_features,
        periodic=spec.periodic,
        trunk_activation=activation,
        branch_activation=activation if branch_activation is None else branch_activation,
        key=key,
    )
