"""DeepONet and POD-DeepONet: operators as a sum of branch coefficients times a basis.

A DeepONet (Lu, Jin, Pang, Zhang and Karniadakis 2021) approximates

.. math::  G(a)(y) \\approx \\sum_{k=1}^{p} b_k(a)\\, t_k(y) + b_0,

where the *branch* net reads the input function ``a`` at fixed sensors (here: the
nodes of the input grid) and returns the coefficients ``b_k``, and the *trunk* net
reads an output coordinate ``y`` and returns the basis values ``t_k(y)``. Evaluation
uses the Cartesian-product form: one branch pass per input function and one trunk pass
per set of points, combined by a matrix product.

Branches: ``"mlp"`` (the unstacked DeepONet: one network with ``p`` outputs),
``"stacked"`` (``p`` independent networks with one output each) and ``"conv"`` (a
convolutional network for gridded 2-D inputs, as Lu et al. 2022 use for Darcy flow).
The trunk input can be expanded in Fourier features ``sin(pi j y_i), cos(pi j y_i)``.

POD-DeepONet (Lu et al. 2022) replaces the trunk by the mean and the leading POD modes
of the (centred) training outputs; only the branch is trained.

With ``C`` output channels the branch returns ``C p`` coefficients and the trunk (or
the POD) ``C p`` basis functions, ``p`` per channel.

References:
    L. Lu, P. Jin, G. Pang, Z. Zhang and G. E. Karniadakis, "Learning nonlinear
    operators via DeepONet based on the universal approximation theorem of
    operators", Nature Machine Intelligence 3 (2021).
    L. Lu, X. Meng, S. Cai, Z. Mao, S. Goswami, Z. Zhang and G. E. Karniadakis, "A
    comprehensive and fair comparison of two neural operators (with practical
    extensions) based on FAIR data", CMAME 393 (2022).
    M. Tancik et al., "Fourier features let networks learn high frequency functions in
    low dimensional domains", NeurIPS 2020.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from sciml.models.conv import Conv
from sciml.models.spec import ModelSpec, check_count

__all__ = [
    "BRANCHES",
    "ConvBranch",
    "DeepONet",
    "MLPBranch",
    "PODBasis",
    "PODDeepONet",
    "StackedBranch",
    "build_deeponet",
    "build_pod_deeponet",
    "deeponet_param_count",
    "grid_points",
]

BRANCHES = ("mlp", "stacked", "conv")


def grid_points(
    grid: Sequence[int], periodic: bool = False, dtype=jnp.float32
) -> Float[Array, "P d"]:
    """The nodes of a grid on the unit cube as points ``(prod(grid), d)``, C order.

    A periodic axis of ``n`` nodes holds ``j / n`` (the endpoint is the first node
    again); a bounded one ``linspace(0, 1, n)``, both ends included.
    """
    axes = [
        (jnp.arange(n, dtype=dtype) / n) if periodic else jnp.linspace(0.0, 1.0, n, dtype=dtype)
        for n in grid
    ]
    mesh = jnp.meshgrid(*axes, indexing="ij")
    return jnp.stack([m.reshape(-1) for m in mesh], axis=-1)


def _mlp(in_size, out_size, width, depth, activation, key, dtype, final=None):
    """An MLP with ``depth`` hidden layers of ``width``; ``final`` activates the output."""
    return eqx.nn.MLP(
        in_size,
        out_size,
        width,
        depth,
        activation=activation,
        final_activation=final if final is not None else (lambda x: x),
        key=key,
        dtype=dtype,
    )


def _mlp_params(in_size, out_size, width, depth):
    if depth == 0:
        return (in_size + 1) * out_size
    return (in_size + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * out_size


class MLPBranch(eqx.Module):
    """The unstacked branch: ``a: (C_in, *grid)``, flattened, through one MLP to ``n_out``."""

    net: eqx.nn.MLP

    def __init__(self, n_sensors, n_out, width, depth, activation, *, key, dtype=jnp.float32):
        self.net = _mlp(n_sensors, n_out, width, depth, activation, key, dtype)

    def __call__(self, a: Float[Array, "in *grid"]) -> Float[Array, " n_out"]:
        return self.net(a.reshape(-1))


class StackedBranch(eqx.Module):
    """The stacked branch: ``p`` independent MLPs, each giving the coefficients of one
    basis function (``per_basis`` values: one per output channel)."""

    nets: eqx.nn.MLP  # one MLP whose arrays carry a leading axis of length p

    def __init__(
        self, n_sensors, n_basis, per_basis, width, depth, activation, *, key, dtype=jnp.float32
    ):
        keys = jax.random.split(key, n_basis)

        @eqx.filter_vmap
        def make(k):
            return _mlp(n_sensors, per_basis, width, depth, activation, k, dtype)

        self.nets = make(keys)

    def __call__(self, a: Float[Array, "in *grid"]) -> Float[Array, " n_out"]:
        flat = a.reshape(-1)

        @eqx.filter_vmap(in_axes=(eqx.if_array(0), None))
        def each(net, x):
            return net(x)

        coefficients = each(self.nets, flat)  # (p, per_basis)
        return coefficients.T.reshape(-1)  # channel-major: (C p,)


class ConvBranch(eqx.Module):
    """A convolutional branch for 2-D grids: stride-2 3x3 convolutions, then an MLP.

    ``a: (C_in, H, W)`` passes ``len(channels)`` convolutions (stride 2, zero padding,
    each followed by the activation), is flattened and mapped by an MLP with one hidden
    layer of ``width`` to ``n_out`` coefficients.
    """

    convs: tuple[Conv, ...]
    head: eqx.nn.MLP
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        in_channels,
        grid,
        n_out,
        channels: Sequence[int],
        width,
        activation,
        *,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        if len(grid) != 2:
            raise ValueError(f"the convolutional branch reads 2-D inputs, got grid {tuple(grid)}")
        *conv_keys, head_key = jax.random.split(key, len(channels) + 1)
        widths = [int(in_channels), *(int(c) for c in channels)]
        self.convs = tuple(
            Conv(c_in, c_out, 3, 2, stride=2, use_bias=True, key=k, dtype=dtype)
            for c_in, c_out, k in zip(widths[:-1], widths[1:], conv_keys)
        )
        shape = tuple(grid)
        for _ in channels:
            shape = tuple((n + 1) // 2 for n in shape)
        self.head = _mlp(
            widths[-1] * math.prod(shape), n_out, width, 1, activation, head_key, dtype
        )
        self.activation = activation

    def __call__(self, a: Float[Array, "in *grid"]) -> Float[Array, " n_out"]:
        h = a
        for conv in self.convs:
            h = self.activation(conv(h))
        return self.head(h.reshape(-1))


class PODBasis(eqx.Module):
    """The mean and leading POD modes of training outputs: data, not parameters.

    ``mean: (C, P)`` and ``modes: (C, p, P)`` over the ``P = prod(grid)`` grid nodes
    (C order). Mode ``k`` is the ``k``-th right singular vector of the centred training
    outputs (flattened over channels and nodes), scaled by its standard deviation over
    the training set ``s_k / sqrt(N)``, so the coefficients a branch must produce have
    unit variance. Training leaves it as it is (``sciml.train.trainable_filter`` freezes
    it) and no gradient flows into it.

    Fit one with :meth:`fit`; :meth:`empty` makes one of the right shapes without data,
    for a checkpoint to fill when a trained model is rebuilt from its record.

    Args:
        mean: ``(C, P)``, the mean of the training outputs.
        modes: ``(C, p, P)``, the scaled modes.
        singular_values: ``(p,)``, the singular values ``s_k`` of the modes.
        grid: the grid the nodes lie on; ``prod(grid) == P``.
    """

    mean: Float[Array, "C P"]
    modes: Float[Array, "C p P"]
    singular_values: Float[Array, " p"]
    grid: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        mean: Float[Array, "C P"],
        modes: Float[Array, "C p P"],
        singular_values: Float[Array, " p"],
        grid: Sequence[int],
    ):
        grid = tuple(int(n) for n in grid)
        points = math.prod(grid)
        c = mean.shape[0] if mean.ndim == 2 else 0
        p = singular_values.shape[0] if singular_values.ndim == 1 else 0
        if 0 in (c, p) or mean.shape != (c, points) or modes.shape != (c, p, points):
            raise ValueError(
                "a PODBasis holds mean (C, P), modes (C, p, P) and singular_values (p,) "
                f"with P = prod(grid); got mean {tuple(mean.shape)}, modes "
                f"{tuple(modes.shape)}, singular_values {tuple(singular_values.shape)} "
                f"and grid {grid}"
            )
        self.mean, self.modes, self.singular_values = mean, modes, singular_values
        self.grid = grid

    @property
    def n_modes(self) -> int:
        """``p``, the number of modes (over all channels together)."""
        return self.modes.shape[1]

    @property
    def out_channels(self) -> int:
        """``C``, the channels of the outputs the basis spans."""
        return self.mean.shape[0]

    @classmethod
    def fit(
        cls, outputs: Float[Array, "N C *grid"] | Float[np.ndarray, "N C *grid"], n_modes: int
    ) -> PODBasis:
        """The POD of ``outputs: (N, C, *grid)`` (computed in float64 with NumPy).

        The basis keeps the outputs' floating dtype (float32 for other dtypes).
        """
        outputs = np.asarray(outputs)
        if outputs.ndim < 3 or outputs.shape[0] < 2:
            raise ValueError(
                "PODBasis.fit expects training outputs of shape (N, C, *grid) with N >= 2, "
                f"got shape {outputs.shape}"
            )
        n, c = outputs.shape[:2]
        points = math.prod(outputs.shape[2:])
        if not 1 <= int(n_modes) <= min(n, c * points):
            raise ValueError(
                f"n_modes must be between 1 and min(N, C * points) = {min(n, c * points)}, "
                f"got {n_modes}"
            )
        flat = outputs.reshape(n, c * points).astype(np.float64)
        mean = flat.mean(axis=0)
        _, s, vt = np.linalg.svd(flat - mean, full_matrices=False)
        s, vt = s[:n_modes], vt[:n_modes]
        modes = vt * (s / np.sqrt(n))[:, None]
        dtype = outputs.dtype if np.issubdtype(outputs.dtype, np.floating) else np.float32
        return cls(
            jnp.asarray(mean.reshape(c, points), dtype),
            jnp.asarray(modes.reshape(n_modes, c, points).transpose(1, 0, 2), dtype),
            jnp.asarray(s, dtype),
            outputs.shape[2:],
        )

    @classmethod
    def empty(
        cls, n_modes: int, out_channels: int, grid: Sequence[int], *, dtype=jnp.float32
    ) -> PODBasis:
        """A basis of zeros with the shapes of a fitted one: ``n_modes`` modes of
        ``out_channels`` channels on ``grid``.

        It spans nothing; it is the ``like`` structure that
        :func:`sciml.train.load_model` fills with a trained model's stored basis, so a
        :class:`PODDeepONet` is rebuilt from its configuration alone, without the
        training outputs.
        """
        grid = tuple(int(n) for n in grid)
        p = check_count("PODBasis.empty", "n_modes", n_modes)
        c = check_count("PODBasis.empty", "out_channels", out_channels)
        points = math.prod(grid)
        return cls(
            jnp.zeros((c, points), dtype),
            jnp.zeros((c, p, points), dtype),
            jnp.zeros((p,), dtype),
            grid,
        )

    def astype(self, dtype) -> PODBasis:
        """The same basis with its arrays in ``dtype``."""
        return PODBasis(
            self.mean.astype(dtype),
            self.modes.astype(dtype),
            self.singular_values.astype(dtype),
            self.grid,
        )

    def arrays(self) -> tuple[Array, Array]:
        """``(mean, modes)``, with no gradient flowing into them."""
        return jax.lax.stop_gradient(self.mean), jax.lax.stop_gradient(self.modes)


def _check_grid(grid) -> tuple[int, ...]:
    grid = tuple(int(n) for n in grid)
    if not grid or any(n < 2 for n in grid):
        raise ValueError(f"grid must be a tuple of sizes >= 2, got {grid}")
    return grid


def _check_branch_input(name, a_shape, in_channels, grid):
    expected = (in_channels, *grid)
    if tuple(a_shape) != expected:
        hint = "; a batch goes through jax.vmap(model)" if tuple(a_shape[1:]) == expected else ""
        raise ValueError(
            f"{name} reads the input function at the nodes of its grid: expected shape "
            f"{expected}, got {tuple(a_shape)}{hint}"
        )


def _check_points(name, y, dims):
    if y.ndim != 2 or y.shape[1] != dims:
        raise ValueError(f"{name} expects points y of shape (P, {dims}), got {tuple(y.shape)}")


def _make_branch(
    owner,
    kind,
    in_channels,
    grid,
    n_out,
    n_basis,
    out_channels,
    width,
    depth,
    conv_channels,
    activation,
    key,
    dtype,
):
    width = check_count(owner, "branch_width", width)
    depth = check_count(owner, "branch_depth", depth, minimum=0)
    if kind == "conv":
        conv_channels = tuple(
            check_count(owner, f"conv_channels[{i}]", c) for i, c in enumerate(conv_channels)
        )
    n_sensors = in_channels * math.prod(grid)
    if kind == "mlp":
        return MLPBranch(n_sensors, n_out, width, depth, activation, key=key, dtype=dtype)
    if kind == "stacked":
        return StackedBranch(
            n_sensors, n_basis, out_channels, width, depth, activation, key=key, dtype=dtype
        )
    if kind == "conv":
        return ConvBranch(
            in_channels, grid, n_out, conv_channels, width, activation, key=key, dtype=dtype
        )
    raise ValueError(f"unknown branch {kind!r}; expected one of {', '.join(BRANCHES)}")


class DeepONet(eqx.Module):
    """DeepONet (Lu et al. 2021) with a branch on the input grid and an MLP trunk.

    ``model(a)``: ``a: (in_channels, *grid) -> u: (out_channels, *grid)`` on the data
    grid; ``model(a, y)``: ``y: (P, d) -> u: (out_channels, P)`` at any points of the
    unit cube (the grid's coordinates: ``linspace(0, 1, n)``, or ``j / n`` if
    ``periodic``). Channel ``c`` of the output is ``sum_k b_{c,k}(a) t_{c,k}(y) + b0_c``.

    Args:
        in_channels: channels of the input function.
        out_channels: channels of the output function.
        grid: the input grid, which is also the default output grid; the branch reads
            the input at its nodes.
        n_basis: ``p``, the basis functions per output channel.
        branch: ``"mlp"`` (unstacked), ``"stacked"`` or ``"conv"`` (2-D).
        branch_width: hidden width of the MLP branch (or of each stacked branch); the
            conv branch's MLP has one hidden layer of this width.
        branch_depth: number of hidden layers of the MLP branch (or of each stacked
            branch).
        conv_channels: channels of the conv branch's stride-2 convolutions.
        trunk_width: hidden width of the trunk; the trunk's output is activated too
            (as in DeepXDE).
        trunk_depth: number of hidden layers of the trunk.
        fourier_features: ``J``: the trunk reads ``sin(pi j y_i), cos(pi j y_i)``,
            ``j = 1..J``, beside ``y`` (0: the coordinates alone).
        periodic: the grid is periodic (nodes ``j / n``) rather than bounded.
        activation: nonlinearity of both nets.
        key: random key.
        dtype: floating dtype of the parameters.
    """

    branch: MLPBranch | StackedBranch | ConvBranch
    trunk: eqx.nn.MLP
    bias: Float[Array, " out"]
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    grid: tuple[int, ...] = eqx.field(static=True)
    n_basis: int = eqx.field(static=True)
    fourier_features: int = eqx.field(static=True)
    periodic: bool = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        grid: Sequence[int],
        *,
        n_basis: int = 128,
        branch: str = "mlp",
        branch_width: int = 128,
        branch_depth: int = 2,
        conv_channels: Sequence[int] = (16, 32, 64, 64),
        trunk_width: int = 128,
        trunk_depth: int = 3,
        fourier_features: int = 0,
        periodic: bool = False,
        activation: Callable[[Array], Array] = jax.nn.gelu,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        self.grid = _check_grid(grid)
        self.in_channels = check_count("DeepONet", "in_channels", in_channels)
        self.out_channels = check_count("DeepONet", "out_channels", out_channels)
        self.n_basis = check_count("DeepONet", "n_basis", n_basis)
        self.fourier_features = check_count(
            "DeepONet", "fourier_features", fourier_features, minimum=0
        )
        trunk_width = check_count("DeepONet", "trunk_width", trunk_width)
        trunk_depth = check_count("DeepONet", "trunk_depth", trunk_depth, minimum=0)
        self.periodic = bool(periodic)
        branch_key, trunk_key = jax.random.split(key)
        n_out = self.out_channels * self.n_basis
        self.branch = _make_branch(
            "DeepONet",
            branch,
            self.in_channels,
            self.grid,
            n_out,
            self.n_basis,
            self.out_channels,
            branch_width,
            branch_depth,
            conv_channels,
            activation,
            branch_key,
            dtype,
        )
        d = len(self.grid)
        trunk_in = d * (1 + 2 * self.fourier_features)
        self.trunk = _mlp(
            trunk_in, n_out, trunk_width, trunk_depth, activation, trunk_key, dtype, activation
        )
        self.bias = jnp.zeros((self.out_channels,), dtype)

    def trunk_features(self, y: Float[Array, "P d"]) -> Float[Array, "P f"]:
        """The trunk's input: ``y`` and, with Fourier features, ``sin, cos(pi j y)``."""
        if self.fourier_features == 0:
            return y
        j = jnp.arange(1, self.fourier_features + 1, dtype=y.dtype)
        angles = jnp.pi * y[:, :, None] * j  # (P, d, J)
        return jnp.concatenate(
            [y, jnp.sin(angles).reshape(len(y), -1), jnp.cos(angles).reshape(len(y), -1)], -1
        )

    def basis(self, y: Float[Array, "P d"]) -> Float[Array, "C p P"]:
        """The trunk basis ``t_{c,k}(y)`` at the points ``y``."""
        t = jax.vmap(self.trunk)(self.trunk_features(y))  # (P, C p)
        return t.T.reshape(self.out_channels, self.n_basis, len(y))

    def coefficients(self, a: Float[Array, "in *grid"]) -> Float[Array, "C p"]:
        """The branch coefficients ``b_{c,k}(a)``."""
        _check_branch_input("DeepONet", a.shape, self.in_channels, self.grid)
        return self.branch(a).reshape(self.out_channels, self.n_basis)

    def __call__(
        self, a: Float[Array, "in *grid"], y: Float[Array, "P d"] | None = None
    ) -> Float[Array, " out ..."]:
        b = self.coefficients(a)
        if y is None:
            points = grid_points(self.grid, self.periodic, b.dtype)
        else:
            _check_points("DeepONet", y, len(self.grid))
            points = y
        u = jnp.einsum("ck,ckp->cp", b, self.basis(points)) + self.bias[:, None]
        return u.reshape(self.out_channels, *self.grid) if y is None else u


class PODDeepONet(eqx.Module):
    """POD-DeepONet (Lu et al. 2022): ``u = mean + sum_k b_k(a) phi_k``.

    The basis is a fitted :class:`PODBasis` of training outputs (frozen), passed in as
    other parts computed from data are, so the model is rebuilt from its record alone:
    ``PODBasis.empty(n_modes, out_channels, grid)`` in place of the fitted basis, then
    :func:`sciml.train.load_model`. The branch is as in :class:`DeepONet`. ``model(a)``
    returns ``(out_channels, *grid)``; ``model(a, y)`` evaluates the mean and modes at
    points ``y: (P, d)`` by multilinear interpolation between the grid nodes (exact at
    the nodes), giving ``(out_channels, P)``.

    Args:
        in_channels: channels of the input function.
        pod: the basis, e.g. ``PODBasis.fit(train_outputs, n_modes)``; its grid is the
            model's grid (for the input too), its channels the output channels and its
            modes the ``p`` coefficients the branch returns. Its arrays are cast to
            ``dtype``.
        n_basis: if given, the number of modes the basis must hold: a check that a
            configuration and the basis agree (the count itself comes from ``pod``).
        branch: ``"mlp"``, ``"stacked"`` or ``"conv"``, as for :class:`DeepONet`.
        branch_width: hidden width of the branch, as for :class:`DeepONet`.
        branch_depth: hidden layers of the branch, as for :class:`DeepONet`.
        conv_channels: channels of the conv branch, as for :class:`DeepONet`.
        periodic: the grid is periodic, as for :class:`DeepONet`.
        activation: nonlinearity of the branch.
        key: random key.
        dtype: floating dtype of the parameters and the basis.

    Raises:
        TypeError: ``pod`` is not a :class:`PODBasis` (training outputs are fitted
            first: ``PODBasis.fit(train_outputs, n_modes)``).
        ValueError: ``n_basis`` disagrees with the basis, or the grid is too small.
    """

    branch: MLPBranch | StackedBranch | ConvBranch
    pod: PODBasis
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    grid: tuple[int, ...] = eqx.field(static=True)
    n_basis: int = eqx.field(static=True)
    periodic: bool = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        pod: PODBasis,
        *,
        n_basis: int | None = None,
        branch: str = "mlp",
        branch_width: int = 128,
        branch_depth: int = 2,
        conv_channels: Sequence[int] = (16, 32, 64, 64),
        periodic: bool = False,
        activation: Callable[[Array], Array] = jax.nn.gelu,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        if not isinstance(pod, PODBasis):
            modes = "n_modes" if n_basis is None else str(n_basis)
            raise TypeError(
                "PODDeepONet takes a fitted PODBasis, not training outputs: use "
                f"PODBasis.fit(train_outputs, {modes}); got {type(pod).__name__}"
            )
        if n_basis is not None and int(n_basis) != pod.n_modes:
            raise ValueError(f"n_basis={n_basis} but the POD basis holds {pod.n_modes} modes")
        self.pod = pod.astype(dtype)
        self.in_channels = check_count("PODDeepONet", "in_channels", in_channels)
        self.out_channels = pod.out_channels
        self.grid = _check_grid(pod.grid)
        self.n_basis = pod.n_modes
        self.periodic = bool(periodic)
        self.branch = _make_branch(
            "PODDeepONet",
            branch,
            self.in_channels,
            self.grid,
            self.n_basis,
            self.n_basis,
            1,
            branch_width,
            branch_depth,
            conv_channels,
            activation,
            key,
            dtype,
        )

    def __call__(
        self, a: Float[Array, "in *grid"], y: Float[Array, "P d"] | None = None
    ) -> Float[Array, " out ..."]:
        _check_branch_input("PODDeepONet", a.shape, self.in_channels, self.grid)
        b = self.branch(a)  # (p,)
        mean, modes = self.pod.arrays()
        if y is not None:
            _check_points("PODDeepONet", y, len(self.grid))
            mean = _interpolate(mean, self.grid, y, self.periodic)
            modes = _interpolate(modes, self.grid, y, self.periodic)
        u = mean + jnp.einsum("k,ckp->cp", b, modes)
        return u.reshape(self.out_channels, *self.grid) if y is None else u


def _interpolate(values: Array, grid, y: Array, periodic: bool) -> Array:
    """Multilinear interpolation of node values ``(..., prod(grid))`` at points ``y``."""
    lead = values.shape[:-1]
    fields = values.reshape(-1, *grid)
    scale = jnp.asarray([n if periodic else n - 1 for n in grid], y.dtype)
    coordinates = (y * scale).T  # fractional node indices, (d, P)
    mode = "wrap" if periodic else "nearest"

    def one(field):
        return jax.scipy.ndimage.map_coordinates(field, list(coordinates), order=1, mode=mode)

    return jax.vmap(one)(fields).reshape(*lead, y.shape[0])


def deeponet_param_count(
    in_channels: int,
    out_channels: int,
    grid: Sequence[int],
    *,
    n_basis: int = 128,
    branch: str = "mlp",
    branch_width: int = 128,
    branch_depth: int = 2,
    conv_channels: Sequence[int] = (16, 32, 64, 64),
    trunk_width: int = 128,
    trunk_depth: int = 3,
    fourier_features: int = 0,
) -> int:
    """Parameter count of :class:`DeepONet`, from its formula.

    An MLP ``n_in -> (width x depth) -> n_out`` has ``(n_in + 1) w + (depth - 1)(w + 1) w
    + (w + 1) n_out`` parameters. With ``q = out_channels * n_basis`` and ``S =
    in_channels * prod(grid)`` sensors: the unstacked branch is one MLP ``S -> q``; the
    stacked branch ``n_basis`` MLPs ``S -> out_channels``; the conv branch has ``(9 c_in +
    1) c_out`` per convolution and an MLP with one hidden layer from the flattened last
    feature map to ``q``. The trunk is an MLP ``d (1 + 2 J) -> q`` and the bias adds
    ``out_channels``.
    """
    grid = tuple(grid)
    q = out_channels * n_basis
    sensors = in_channels * math.prod(grid)
    if branch == "mlp":
        branch_count = _mlp_params(sensors, q, branch_width, branch_depth)
    elif branch == "stacked":
        branch_count = n_basis * _mlp_params(sensors, out_channels, branch_width, branch_depth)
    elif branch == "conv":
        widths = [in_channels, *conv_channels]
        branch_count = sum((9 * a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
        shape = grid
        for _ in conv_channels:
            shape = tuple((n + 1) // 2 for n in shape)
        branch_count += _mlp_params(widths[-1] * math.prod(shape), q, branch_width, 1)
    else:
        raise ValueError(f"unknown branch {branch!r}; expected one of {', '.join(BRANCHES)}")
    trunk_count = _mlp_params(len(grid) * (1 + 2 * fourier_features), q, trunk_width, trunk_depth)
    return branch_count + trunk_count + out_channels


# ------------------------------------------------------- built from a ModelSpec


def build_deeponet(
    spec: ModelSpec,
    *,
    key: jax.Array,
    n_basis: int = 128,
    branch: str = "mlp",
    branch_width: int = 128,
    branch_depth: int = 2,
    conv_channels: Sequence[int] = (16, 32, 64, 64),
    trunk_width: int = 128,
    trunk_depth: int = 3,
    fourier_features: int = 0,
):
    """DeepONet (Lu et al., Nat. Mach. Intell. 2021) on the task's grid."""
    return DeepONet(
        spec.in_channels,
        spec.out_channels,
        spec.grid,
        n_basis=n_basis,
        branch=branch,
        branch_width=branch_width,
        branch_depth=branch_depth,
        conv_channels=conv_channels,
        trunk_width=trunk_width,
        trunk_depth=trunk_depth,
        fourier_features=fourier_features,
        periodic=spec.periodic,
        key=key,
    )


def build_pod_deeponet(
    spec: ModelSpec,
    *,
    key: jax.Array,
    n_basis: int = 64,
    branch: str = "mlp",
    branch_width: int = 128,
    branch_depth: int = 2,
    conv_channels: Sequence[int] = (16, 32, 64, 64),
):
    """POD-DeepONet (Lu et al., CMAME 2022): the trunk is the POD basis of the training
    outputs, fitted here from ``spec.targets`` (an empty basis when rebuilt)."""
    if spec.targets is not None:
        pod = PODBasis.fit(np.asarray(spec.targets), n_basis)
    else:
        pod = PODBasis.empty(n_basis, spec.out_channels, spec.grid)
    return PODDeepONet(
        spec.in_channels,
        pod,
        branch=branch,
        branch_width=branch_width,
        branch_depth=branch_depth,
        conv_channels=conv_channels,
        periodic=spec.periodic,
        key=key,
    )
