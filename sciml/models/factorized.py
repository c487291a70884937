"""Factorised spectral weights: complex Tucker and CP decompositions of a Fourier layer's
weight tensor, as in the tensorised Fourier neural operator (TFNO).

A dense spectral convolution in ``d`` dimensions holds one complex weight per corner
block, input channel, output channel and mode: a complex tensor of shape
``(corners, in, out, *modes)`` with ``corners = 2**(d - 1)``, ``N = d + 3`` axes and
``prod(shape)`` entries. The modules here hold that tensor in factorised form instead:

- :class:`TuckerWeights`: a complex core ``G: (r_0, ..., r_{N-1})`` and one complex factor
  matrix ``U_k: (n_k, r_k)`` per axis, ``W = G x_0 U_0 x_1 U_1 ... x_{N-1} U_{N-1}``;
- :class:`CPWeights`: ``R`` complex weights ``lambda_r`` and factor matrices
  ``U_k: (n_k, R)``, ``W[i_0, ..., i_{N-1}] = sum_r lambda_r prod_k U_k[i_k, r]``.

Every parameter is a real array whose leading axis of length 2 holds the real and the
imaginary part (as ``SpectralConv.weights``), so any optax optimiser applies; the complex
tensor is assembled with ``jax.lax.complex`` by ``complex_weights()``, which returns
``(corners, in, out, *modes)``. ``SpectralConv.complex_weights`` reshapes its leading
corner axis to ``(2,) * (d - 1)``; the same reshape applies to these.

The rank is given as in neuraloperator: a float in ``(0, 1]`` is a fraction of the dense
parameter count (see :func:`tucker_ranks` and :func:`cp_rank` for how it becomes integer
ranks), or the integer ranks are given directly. :func:`factorized_param_count` gives the
number of real parameters of either kind without building it.

This module imports nothing from ``sciml.models.fno``, so that the spectral convolution
can import it.

References:
    J. Kossaifi, N. Kovachki, K. Azizzadenesheli and A. Anandkumar, "Multi-Grid
    Tensorized Fourier Neural Operator for High-Resolution PDEs", TMLR 2023.
    https://arxiv.org/abs/2310.00120

    L. De Lathauwer, B. De Moor and J. Vandewalle, "A Multilinear Singular Value
    Decomposition", SIAM J. Matrix Anal. Appl. 21(4), 2000 (the HOSVD of
    :meth:`TuckerWeights.from_dense`).
"""

from __future__ import annotations

import functools
import math
import numbers
import string
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from sciml.models.spec import check_count

__all__ = [
    "CPWeights",
    "FACTORIZATIONS",
    "TuckerWeights",
    "cp_rank",
    "factorized_param_count",
    "factorized_weights",
    "tucker_ranks",
    "weight_shape",
]

FACTORIZATIONS = ("tucker", "cp")
"""The factorisation kinds that :func:`factorized_weights` builds."""

RankLike = float | Sequence[int]


def _check_dtype(dtype) -> jnp.dtype:
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"dtype must be a real floating dtype, got {dtype}")
    return dtype


def _check_modes(owner: str, modes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(modes, int) or not isinstance(modes, Sequence) or len(modes) == 0:
        raise ValueError(
            f"{owner} expects modes to be a non-empty tuple with one entry per spatial "
            f"axis, e.g. (12, 12) in 2-D, got {modes!r}"
        )
    return tuple(check_count(owner, "modes entries", m) for m in modes)


def weight_shape(in_channels: int, out_channels: int, modes: Sequence[int]) -> tuple[int, ...]:
    """The shape ``(corners, in, out, *modes)`` of the complex weight tensor that is
    factorised, with ``corners = 2**(d - 1)`` and ``d = len(modes)``.

    Args:
        in_channels: input channels of the spectral convolution.
        out_channels: output channels of the spectral convolution.
        modes: modes kept on each spatial axis.

    Raises:
        ValueError: a channel count or a mode is not a positive integer, or ``modes`` is
            not a non-empty tuple.
    """
    modes = _check_modes("weight_shape", modes)
    in_channels = check_count("weight_shape", "in_channels", in_channels)
    out_channels = check_count("weight_shape", "out_channels", out_channels)
    return (2 ** (len(modes) - 1), in_channels, out_channels, *modes)


def _is_fraction(rank) -> bool:
    return isinstance(rank, (float, np.floating))


def _check_fraction(owner: str, rank) -> float:
    rank = float(rank)
    if not 0.0 < rank <= 1.0:
        raise ValueError(
            f"{owner} expects a rank fraction in (0, 1] (of the dense parameter count), got {rank}"
        )
    return rank


def tucker_ranks(shape: Sequence[int], rank: RankLike) -> tuple[int, ...]:
    """The Tucker ranks, one per axis of a tensor of ``shape``.

    A fraction ``rank`` in ``(0, 1]`` asks for about ``rank`` times the parameters of the
    dense tensor, ``prod(n)``. The ranks are taken proportional to the dimensions,
    ``r_k = f n_k``, which makes the Tucker count ``prod(r) + sum(n_k r_k) =
    f**N prod(n) + f sum(n_k**2)``; ``f`` solves ``f**N prod(n) + f sum(n_k**2) =
    rank prod(n)`` (the left side increases with ``f``; bisection), and each ``f n_k`` is
    rounded to the nearest integer and clipped to ``[1, n_k]``. This is the rule of
    tensorly's ``validate_tucker_rank`` that neuraloperator's TFNO uses, but rounding to
    nearest rather than up, which keeps the count closer to the target. The factor 2 of
    complex parameters cancels between both counts. At small fractions the floor of 1
    per rank can put the count above the target.

    Args:
        shape: the shape of the tensor, ``(n_0, ..., n_{N-1})``.
        rank: a float in ``(0, 1]`` (fraction of the dense parameter count) or a sequence
            of ``N`` integers with ``1 <= r_k <= n_k``.

    Raises:
        ValueError: ``rank`` is a fraction outside ``(0, 1]``, a sequence of the wrong
            length or with a rank outside ``[1, n_k]``, or neither.
    """
    shape = tuple(int(n) for n in shape)
    n_axes = len(shape)
    if _is_fraction(rank):
        fraction = _check_fraction("tucker_ranks", rank)
        total = math.prod(shape)
        squares = sum(n * n for n in shape)
        target = fraction * total
        lo, hi = 0.0, 1.0
        for _ in range(60):
            f = 0.5 * (lo + hi)
            if f**n_axes * total + f * squares < target:
                lo = f
            else:
                hi = f
        f = 0.5 * (lo + hi)
        return tuple(min(max(round(f * n), 1), n) for n in shape)
    expected = (
        f"a rank fraction in (0, 1] or a sequence of {n_axes} integer ranks (one per axis "
        f"of the weight tensor {shape}, each between 1 and its dimension)"
    )
    if isinstance(rank, (str, bytes)) or not isinstance(rank, Sequence):
        raise ValueError(f"Tucker rank must be {expected}, got {rank!r}")
    if len(rank) != n_axes:
        raise ValueError(f"Tucker rank must be {expected}, got {len(rank)} ranks: {rank!r}")
    ranks: list[int] = []
    for r, n in zip(rank, shape):
        if isinstance(r, bool) or not isinstance(r, numbers.Integral) or not 1 <= r <= n:
            raise ValueError(f"Tucker rank must be {expected}, got {tuple(rank)!r}")
        ranks.append(int(r))
    return tuple(ranks)


def cp_rank(shape: Sequence[int], rank: float) -> int:
    """The CP rank ``R`` for a tensor of ``shape``.

    A fraction ``rank`` in ``(0, 1]`` gives ``R = floor(rank * prod(n) / sum(n))``, at
    least 1, as tensorly's ``validate_cp_rank`` (used by neuraloperator's TFNO): the
    factor matrices then hold about ``rank`` times the dense tensor's entries (the ``R``
    weights add ``R`` more). An integer is taken as ``R`` itself (``1`` is rank one,
    ``1.0`` the full fraction).

    Args:
        shape: the shape of the tensor, ``(n_0, ..., n_{N-1})``.
        rank: a float in ``(0, 1]`` (fraction of the dense parameter count) or a positive
            integer ``R``.

    Raises:
        ValueError: ``rank`` is a fraction outside ``(0, 1]``, or neither a float nor a
            positive integer.
    """
    shape = tuple(int(n) for n in shape)
    if _is_fraction(rank):
        fraction = _check_fraction("cp_rank", rank)
        return max(int(fraction * math.prod(shape) / sum(shape)), 1)
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or rank < 1:
        raise ValueError(
            f"CP rank must be a rank fraction in (0, 1] or a positive integer R, got {rank!r}"
        )
    return int(rank)


def _cp_scalar(rank: RankLike) -> float:
    """``rank`` for :func:`cp_rank`: a ValueError for a sequence (a Tucker rank)."""
    if isinstance(rank, Sequence):
        raise ValueError(
            f"CP rank must be a rank fraction in (0, 1] or a positive integer R, got {rank!r}"
        )
    return rank


def _check_kind(kind) -> str:
    if not isinstance(kind, str) or kind.lower() not in FACTORIZATIONS:
        raise ValueError(
            f"factorization kind must be one of {', '.join(map(repr, FACTORIZATIONS))}, "
            f"got {kind!r}"
        )
    return kind.lower()


def factorized_param_count(
    kind: str, in_channels: int, out_channels: int, modes: Sequence[int], rank: RankLike
) -> int:
    """The number of real parameters of a factorised weight, without building it.

    With the tensor shape ``n = (corners, in, out, *modes)`` (:func:`weight_shape`):
    Tucker holds ``2 (prod(r) + sum(n_k r_k))`` (complex core and factors), CP
    ``2 R (1 + sum(n_k))`` (complex weights and factors). The dense layer holds
    ``2 prod(n)``.

    Args:
        kind: ``"tucker"`` or ``"cp"`` (case-insensitive).
        in_channels: input channels of the spectral convolution.
        out_channels: output channels of the spectral convolution.
        modes: modes kept on each spatial axis.
        rank: as for :func:`tucker_ranks` or :func:`cp_rank`.

    Raises:
        ValueError: an unknown ``kind``, or a bad shape or rank.
    """
    kind = _check_kind(kind)
    shape = weight_shape(in_channels, out_channels, modes)
    if kind == "tucker":
        ranks = tucker_ranks(shape, rank)
        return 2 * (math.prod(ranks) + sum(n * r for n, r in zip(shape, ranks)))
    big_r = cp_rank(shape, _cp_scalar(rank))
    return 2 * big_r * (1 + sum(shape))


def _dense_rms(in_channels: int, out_channels: int) -> float:
    # Real and imaginary parts of the dense layer: uniform on [0, 1/(in out)), whose root
    # mean square is 1 / (sqrt(3) in out).
    return 1.0 / (math.sqrt(3.0) * in_channels * out_channels)


def _normal_pieces(key: PRNGKeyArray, shapes: Sequence[tuple[int, ...]], dtype) -> list[Array]:
    """Standard normal arrays of ``shapes``, cut from one flat draw: one random-bit
    generator compiles much faster than one per shape."""
    sizes = [math.prod(s) for s in shapes]
    flat = jax.random.normal(key, (sum(sizes),), dtype)
    offsets = np.cumsum([0, *sizes])
    return [flat[a:b].reshape(s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes)]


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _init_tucker(
    key: PRNGKeyArray, shape: tuple[int, ...], ranks: tuple[int, ...], sigma: float, dtype
) -> tuple[Array, tuple[Array, ...]]:
    """Core and factors of :class:`TuckerWeights` (one compiled function per shape: XLA
    compiles it faster than the many small operations it holds run one by one)."""
    shapes = [(2, *ranks)] + [(2, n, r) for n, r in zip(shape, ranks)]
    core, *gaussians = _normal_pieces(key, shapes, dtype)
    core = sigma * math.sqrt(math.prod(shape) / math.prod(ranks)) * core
    factors = []
    for gaussian in gaussians:
        q = jnp.linalg.qr(jax.lax.complex(gaussian[0], gaussian[1]))[0]
        factors.append(jnp.stack([q.real, q.imag]))
    return core, tuple(factors)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _init_cp(
    key: PRNGKeyArray, shape: tuple[int, ...], rank: int, sigma: float, dtype
) -> tuple[Array, tuple[Array, ...]]:
    """Weights and factors of :class:`CPWeights` (one compiled function per shape)."""
    shapes = [(2, rank)] + [(2, n, rank) for n in shape]
    weights, *gaussians = _normal_pieces(key, shapes, dtype)
    weights = sigma / math.sqrt(rank) * weights
    # Every column of a complex factor to squared norm n: unit mean squared modulus.
    factors = [g / jnp.sqrt(jnp.sum(g**2, axis=(0, 1)) / g.shape[1]) for g in gaussians]
    return weights, tuple(factors)


def _complex(parts: Array) -> Array:
    return jax.lax.complex(parts[0], parts[1])


def _mode_product(tensor: Array, matrix: Array, axis: int) -> Array:
    """``tensor x_axis matrix``: contract ``tensor``'s ``axis`` with ``matrix``'s columns."""
    return jnp.moveaxis(jnp.tensordot(matrix, tensor, axes=((1,), (axis,))), 0, axis)


class _FactorisedWeights(eqx.Module):
    """What both factorisations keep of the dense tensor they stand for: its channels
    and modes, and so its shape ``(corners, in, out, *modes)``."""

    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)

    def _set_shape(self, in_channels: int, out_channels: int, modes: Sequence[int]):
        """Check and keep the dense shape (in ``__init__``); return it."""
        shape = weight_shape(in_channels, out_channels, modes)
        self.in_channels, self.out_channels = shape[1], shape[2]
        self.modes = shape[3:]
        return shape

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape ``(corners, in, out, *modes)`` of the complex weight tensor."""
        corners = 2 ** (len(self.modes) - 1)
        return (corners, self.in_channels, self.out_channels, *self.modes)


class TuckerWeights(_FactorisedWeights):
    """A complex Tucker decomposition of a spectral convolution's weight tensor.

    ``W = G x_0 U_0 x_1 U_1 ... x_{N-1} U_{N-1}`` of shape ``n = (corners, in, out,
    *modes)``, with complex core ``G: (r_0, ..., r_{N-1})`` and factors ``U_k: (n_k,
    r_k)``; ``N = d + 3``. Stored as real arrays: ``core: (2, *ranks)`` and ``factors[k]:
    (2, n_k, r_k)``, index 0 of the leading axis the real part, 1 the imaginary part.

    Initialisation: each factor ``U_k`` has orthonormal columns (the Q of the QR
    decomposition of a complex Gaussian matrix), so that ``||W||_F = ||G||_F``, and the
    core's real and imaginary parts are independent zero-mean normals with standard
    deviation ``sigma sqrt(prod(n) / prod(r))``, ``sigma = 1 / (sqrt(3) in out)``. Then
    the real and imaginary parts of the reconstructed ``W`` have zero mean and root mean
    square ``sigma``, that of the dense layer's parts (``1 / (in out)`` times uniform on
    ``[0, 1)``), though not their positive mean ``1 / (2 in out)``.

    Args:
        in_channels: input channels of the spectral convolution.
        out_channels: output channels of the spectral convolution.
        modes: modes kept on each spatial axis, ``(m_1, ..., m_d)``.
        rank: a float in ``(0, 1]``, the fraction of the dense parameter count (ranks
            from :func:`tucker_ranks`), or ``N = d + 3`` integer ranks, one per axis of
            ``(corners, in, out, *modes)``.
        key: random key for the initialisation.
        dtype: real floating dtype of the parameters; the complex weights are its
            complex counterpart.

    Raises:
        ValueError: a bad shape, rank or dtype.
    """

    core: Float[Array, "2 ..."]
    factors: tuple[Float[Array, "2 n r"], ...]
    ranks: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        rank: RankLike = 0.1,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        dtype = _check_dtype(dtype)
        shape = self._set_shape(in_channels, out_channels, modes)
        self.ranks = tucker_ranks(shape, rank)
        sigma = _dense_rms(shape[1], shape[2])
        self.core, self.factors = _init_tucker(key, shape, self.ranks, sigma, dtype)

    def complex_weights(self) -> Array:
        """The reconstructed complex weights ``(corners, in, out, *modes)``."""
        w = _complex(self.core)
        for axis, factor in enumerate(self.factors):
            w = _mode_product(w, _complex(factor), axis)
        return w

    @classmethod
    def from_dense(cls, dense: Array | np.ndarray, rank: RankLike | None = None) -> TuckerWeights:
        """The truncated higher-order SVD (HOSVD) of a dense complex weight tensor.

        ``U_k`` holds the leading ``r_k`` left singular vectors of the mode-``k``
        unfolding of ``dense`` and the core is ``dense x_0 U_0^H ... x_{N-1} U_{N-1}^H``.
        With full ranks every ``U_k`` is unitary and the reconstruction equals ``dense``
        up to round-off; truncated, it is quasi-optimal (within ``sqrt(N)`` of the best
        approximation of those ranks in the Frobenius norm). It runs in NumPy on a
        concrete array (a conversion, not to be traced), and the parameters take the
        real dtype of ``dense``.

        Args:
            dense: the complex tensor ``(corners, in, out, *modes)`` with ``corners =
                2**(d - 1)``, e.g. a ``SpectralConv``'s ``complex_weights()`` reshaped to
                one corner axis. A real tensor is taken as complex.
            rank: as for :func:`tucker_ranks`; ``None`` keeps the full ranks.

        Raises:
            ValueError: ``dense`` is not of that shape, or a bad rank.
        """
        tensor = np.asarray(dense)
        if not np.iscomplexobj(tensor):
            tensor = tensor.astype(np.result_type(tensor.dtype, np.complex64))
        d = tensor.ndim - 3
        if d < 1 or tensor.shape[0] != 2 ** (d - 1):
            raise ValueError(
                "TuckerWeights.from_dense expects a tensor (corners, in, out, *modes) with "
                f"corners = 2**(d - 1) for d = len(modes) >= 1, got shape {tensor.shape}"
            )
        shape = weight_shape(tensor.shape[1], tensor.shape[2], tensor.shape[3:])
        ranks = shape if rank is None else tucker_ranks(shape, rank)
        factors = []
        for axis, (n, r) in enumerate(zip(shape, ranks)):
            unfolded = np.moveaxis(tensor, axis, 0).reshape(n, -1)
            # Full matrices only where the unfolding is too narrow to give n left singular
            # vectors; then its right factor is small.
            u = np.linalg.svd(unfolded, full_matrices=unfolded.shape[1] < n)[0][:, :r]
            factors.append(u)
        core = tensor
        for axis, u in enumerate(factors):
            core = np.moveaxis(np.tensordot(u.conj().T, core, axes=((1,), (axis,))), 0, axis)
        self = object.__new__(cls)
        for name, value in (
            ("core", jnp.asarray(np.stack([core.real, core.imag]))),
            ("factors", tuple(jnp.asarray(np.stack([u.real, u.imag])) for u in factors)),
            ("in_channels", shape[1]),
            ("out_channels", shape[2]),
            ("modes", shape[3:]),
            ("ranks", tuple(ranks)),
        ):
            object.__setattr__(self, name, value)
        return self


class CPWeights(_FactorisedWeights):
    """A complex CP (canonical polyadic) decomposition of a spectral convolution's
    weight tensor.

    ``W[i_0, ..., i_{N-1}] = sum_r lambda_r prod_k U_k[i_k, r]`` of shape ``n =
    (corners, in, out, *modes)``, ``N = d + 3``, with ``R`` complex weights ``lambda``
    and complex factors ``U_k: (n_k, R)``. Stored as real arrays: ``weights: (2, R)`` and
    ``factors[k]: (2, n_k, R)``, index 0 of the leading axis the real part, 1 the
    imaginary part.

    Initialisation: each column of a factor ``U_k`` is a complex Gaussian vector scaled
    to squared norm ``n_k`` (mean squared modulus 1), and the weights' real and
    imaginary parts are independent zero-mean normals with standard deviation
    ``sigma / sqrt(R)``, ``sigma = 1 / (sqrt(3) in out)``. Then the real and imaginary
    parts of the reconstructed ``W`` have zero mean and, in expectation, root mean square
    ``sigma``, that of the dense layer's parts (``1 / (in out)`` times uniform on
    ``[0, 1)``), though not their positive mean ``1 / (2 in out)``.

    Args:
        in_channels: input channels of the spectral convolution.
        out_channels: output channels of the spectral convolution.
        modes: modes kept on each spatial axis, ``(m_1, ..., m_d)``.
        rank: a float in ``(0, 1]``, the fraction of the dense parameter count (``R``
            from :func:`cp_rank`), or the integer rank ``R``.
        key: random key for the initialisation.
        dtype: real floating dtype of the parameters; the complex weights are its
            complex counterpart.

    Raises:
        ValueError: a bad shape, rank or dtype.
    """

    weights: Float[Array, "2 R"]
    factors: tuple[Float[Array, "2 n R"], ...]
    rank: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        rank: float = 0.1,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        dtype = _check_dtype(dtype)
        shape = self._set_shape(in_channels, out_channels, modes)
        self.rank = cp_rank(shape, rank)
        sigma = _dense_rms(shape[1], shape[2])
        self.weights, self.factors = _init_cp(key, shape, self.rank, sigma, dtype)

    def complex_weights(self) -> Array:
        """The reconstructed complex weights ``(corners, in, out, *modes)``."""
        axes = string.ascii_letters[: len(self.factors)]
        subscripts = "z," + ",".join(a + "z" for a in axes) + "->" + axes
        return jnp.einsum(
            subscripts,
            _complex(self.weights),
            *(_complex(f) for f in self.factors),
            optimize="optimal",
        )


def factorized_weights(
    kind: str,
    in_channels: int,
    out_channels: int,
    modes: Sequence[int],
    *,
    rank: RankLike,
    key: PRNGKeyArray,
    dtype=jnp.float32,
) -> TuckerWeights | CPWeights:
    """A randomly initialised :class:`TuckerWeights` or :class:`CPWeights`.

    Args:
        kind: ``"tucker"`` or ``"cp"`` (case-insensitive).
        in_channels: input channels of the spectral convolution.
        out_channels: output channels of the spectral convolution.
        modes: modes kept on each spatial axis.
        rank: as for :func:`tucker_ranks` (Tucker) or :func:`cp_rank` (CP).
        key: random key for the initialisation.
        dtype: real floating dtype of the parameters.

    Raises:
        ValueError: an unknown ``kind``, or a bad shape, rank or dtype.
    """
    kind = _check_kind(kind)
    if kind == "tucker":
        return TuckerWeights(in_channels, out_channels, modes, rank=rank, key=key, dtype=dtype)
    return CPWeights(in_channels, out_channels, modes, rank=_cp_scalar(rank), key=key, dtype=dtype)
