r"""EStableNet: a network whose blocks are energy-decaying SAV steps of a gradient flow.

Following Fan, Jin, Lan, Xiang and Zhang ("Energy stable neural network for gradient flow
equations", arXiv 2309.10002, 2023), the network is a stack of blocks, each one step of
the scalar-auxiliary-variable (SAV) form of a gradient flow ``phi_t = -G mu``,
``mu = dE/dphi`` (Shen, Xu, Yang 2018), with learned ingredients. For the energy

    E(phi) = 1/2 <L phi, phi> + E_1(phi),   E_1 >= 0,   r = sqrt(E_1(phi) + C_0),

block ``k`` maps ``(phi_k, r_k)`` to ``(phi_{k+1}, r_{k+1})`` by

    (phi_{k+1} - phi_k) / tau_k = -G_k [L phi_{k+1} + r_{k+1} b_k],
    r_{k+1} - r_k = 1/2 <b_k, phi_{k+1} - phi_k>,      b_k = grad E_1(phi_k) / r(phi_k),

with ``<u, v> = h^d sum u v``. Taking the inner product of the first line with
``G_k^{-1}(phi_{k+1} - phi_k)`` (on the range of ``G_k``) and using the second,

    E~_{k+1} - E~_k = -tau_k <G_k mu_k, mu_k> - 1/2 <L delta, delta> - (r_{k+1} - r_k)^2 <= 0,
    E~(phi, r) = 1/2 <L phi, phi> + r^2 - C_0,

whatever ``b_k`` is. So the modified energy ``E~`` is non-increasing from block to block
BY CONSTRUCTION — for any weights and any input — as long as ``tau_k > 0``, ``G_k`` is
symmetric positive semi-definite and ``L`` is too. The architecture guarantees all three:

* ``tau_k = softplus(a_k)`` (learned per block);
* ``G_k`` is a Fourier multiplier ``m_k(|kappa|) > 0`` (Allen–Cahn) or ``|kappa|^2 m_k`` (the
  Cahn–Hilliard variant, ``-Laplacian`` times a positive multiplier), with
  ``m_k = softplus(sum_j w_kj exp(-(s - c_j)^2 / w^2) + w_k0)`` a radial basis expansion in
  ``s = log(1 + |kappa|^2)`` — learned, resolution independent, strictly positive;
* ``L = eps^2 (-Laplacian)`` with the known ``eps`` or, for a learned energy, a learned
  ``softplus(c) (-Laplacian)``.

The Cahn–Hilliard variant conserves the mass ``<phi, 1>`` by construction: its ``G_k``
vanishes on the mean mode, so no block changes the mean.

The bulk energy ``E_1`` is the double well ``<(phi^2 - 1)^2 / 4, 1>`` when the equation is
known (``energy="double-well"``), or a learned energy ``E_1 = <softplus(g_theta(phi)), 1>``
with a pointwise MLP ``g_theta`` (``energy="learned"``), bounded below by 0 as declared
(:meth:`EStableNet.energy_lower_bound`); its gradient ``b_k`` comes from ``jax.grad``.

The ``K = n_frames * blocks_per_frame`` block outputs are intermediate states of the
evolution: the network maps ``phi(t_0): (1, *grid)`` to the frames
``phi(t_0 + j (t_1 - t_0) / n_frames), j = 1 .. n_frames``, output of every
``blocks_per_frame``-th block, ``(n_frames, *grid)``.

References:
    Y. Fan, S. Jin, J. Lan, X. Xiang and Z. Zhang (listed in the arXiv record), "Energy
    stable neural network for gradient flow equations", arXiv:2309.10002 (2023).
    J. Shen, J. Xu and J. Yang, "The scalar auxiliary variable (SAV) approach for gradient
    flows", J. Comput. Phys. 353 (2018) 407-416.
"""

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from sciml.models.spec import ModelSpec
from sciml.spectral import each_axis

__all__ = ["EStableNet", "LearnedBulkEnergy", "build_estable"]

EQUATIONS = ("allen-cahn", "cahn-hilliard")
ENERGIES = ("double-well", "learned")


def _k2(shape: tuple[int, ...], length: tuple[float, ...]) -> np.ndarray:
    """``|kappa|^2`` in the ``rfftn`` layout of ``shape`` (static, NumPy)."""
    k2 = np.zeros((1,) * len(shape))
    for axis, (n, side) in enumerate(zip(shape, length)):
        last = axis == len(shape) - 1
        k = np.fft.rfftfreq(n, 1.0 / n) if last else np.fft.fftfreq(n, 1.0 / n)
        broadcast = [1] * len(shape)
        broadcast[axis] = k.shape[0]
        k2 = k2 + ((2 * np.pi * k / side) ** 2).reshape(broadcast)
    return k2


class LearnedBulkEnergy(eqx.Module):
    r"""``E_1(phi) = h^d sum_j softplus(g(phi_j))`` with a pointwise MLP ``g: R -> R``.

    Bounded below by 0 for every weight and input (softplus > 0); the gradient of ``E_1``
    with respect to ``<., .>`` is ``softplus'(g(phi)) g'(phi)`` pointwise.
    """

    hidden: eqx.nn.Linear
    output: eqx.nn.Linear

    def __init__(self, width: int = 16, *, key: PRNGKeyArray, dtype=jnp.float32):
        hidden_key, output_key = jax.random.split(key)
        self.hidden = eqx.nn.Linear(1, width, key=hidden_key, dtype=dtype)
        self.output = eqx.nn.Linear(width, 1, key=output_key, dtype=dtype)

    def density(self, phi: Float[Array, "*grid"]) -> Float[Array, "*grid"]:
        """``softplus(g(phi))`` pointwise (>= 0)."""

        def one(value):
            return jax.nn.softplus(self.output(jnp.tanh(self.hidden(value[None])))[0])

        return jnp.vectorize(one)(phi)

    @property
    def lower_bound(self) -> float:
        return 0.0


class EStableNet(eqx.Module):
    r"""Energy-stable network of SAV blocks (Fan et al. 2023) for Allen–Cahn/Cahn–Hilliard.

    ``phi0: (1, *grid) -> frames: (n_frames, *grid)`` on a periodic box of side
    ``length`` (1-, 2- or 3-D); see the module docstring for the block, the guarantee and
    what is learned. :meth:`trajectory` also returns every block's state and modified
    energy; :meth:`rollout` applies the network again and again past its horizon,
    carrying the auxiliary variable so the energy keeps decaying.

    Args:
        equation: ``"allen-cahn"`` (``G = m(|kappa|)``) or ``"cahn-hilliard"``
            (``G = |kappa|^2 m(|kappa|)``, mass conserving).
        n_frames: output frames.
        blocks_per_frame: blocks between two frames.
        length: period of the box, one per axis or one for all (its dimension is
            ``len(length)`` when a sequence, else ``ndim``).
        ndim: spatial dimension when ``length`` is a scalar.
        eps: interface parameter of the known energy (its ``L = eps^2 (-Laplacian)``).
        energy: ``"double-well"`` (known) or ``"learned"``.
        n_basis: radial basis functions of each block's mobility multiplier.
        max_wavenumber: the basis covers ``s = log(1 + |kappa|^2)`` up to
            ``log(1 + max_wavenumber^2)`` (beyond, the multiplier levels off).
        step: initial per-block step ``tau_k`` (e.g. the frame interval over
            ``blocks_per_frame``).
        mobility: initial value of the multiplier ``m_k`` (the physical mobility).
        offset: ``C_0 > 0`` of ``r = sqrt(E_1 + C_0)``.
        energy_width: hidden width of the learned energy's MLP.
        key: random key.
        dtype: parameter and state dtype.
    """

    steps_raw: Float[Array, " blocks"]
    mobility_weights: Float[Array, "blocks basis"]
    mobility_bias: Float[Array, " blocks"]
    linear_raw: Float[Array, ""]
    learned_energy: LearnedBulkEnergy | None
    equation: str = eqx.field(static=True)
    n_frames: int = eqx.field(static=True)
    blocks_per_frame: int = eqx.field(static=True)
    length: tuple[float, ...] = eqx.field(static=True)
    eps: float = eqx.field(static=True)
    energy: str = eqx.field(static=True)
    centres: tuple[float, ...] = eqx.field(static=True)
    offset: float = eqx.field(static=True)

    def __init__(
        self,
        equation: str,
        n_frames: int,
        blocks_per_frame: int = 1,
        *,
        length: float | Sequence[float] = 1.0,
        ndim: int = 2,
        eps: float = 0.1,
        energy: str = "double-well",
        n_basis: int = 8,
        max_wavenumber: float = 64.0,
        step: float = 1.0,
        mobility: float = 1.0,
        offset: float = 1.0,
        energy_width: int = 16,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        if equation not in EQUATIONS:
            raise ValueError(
                f"EStableNet expects equation to be one of {', '.join(EQUATIONS)}, got {equation!r}"
            )
        if energy not in ENERGIES:
            raise ValueError(
                f"EStableNet expects energy to be one of {', '.join(ENERGIES)}, got {energy!r}"
            )
        if n_frames < 1 or blocks_per_frame < 1 or n_basis < 1:
            raise ValueError(
                "EStableNet expects n_frames, blocks_per_frame and n_basis >= 1, got "
                f"{n_frames}, {blocks_per_frame}, {n_basis}"
            )
        for name, value in (("eps", eps), ("step", step), ("mobility", mobility)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"EStableNet expects a finite {name} > 0, got {value!r}")
        if not (math.isfinite(offset) and offset > 0):
            raise ValueError(f"EStableNet expects a finite offset C_0 > 0, got {offset!r}")
        self.length = tuple(float(v) for v in each_axis(length, ndim))
        if not 1 <= len(self.length) <= 3:
            raise ValueError(f"EStableNet works in 1 to 3 dimensions, got {len(self.length)}")
        self.equation = equation
        self.n_frames = int(n_frames)
        self.blocks_per_frame = int(blocks_per_frame)
        self.eps = float(eps)
        self.energy = energy
        self.offset = float(offset)
        self.centres = tuple(np.linspace(0, np.log1p(max_wavenumber**2), n_basis).tolist())
        n_blocks = self.n_frames * self.blocks_per_frame
        weight_key, energy_key = jax.random.split(key)
        inverse_softplus = lambda y: float(np.log(np.expm1(y)))
        self.steps_raw = jnp.full((n_blocks,), inverse_softplus(step), dtype)
        self.mobility_bias = jnp.full((n_blocks,), inverse_softplus(mobility), dtype)
        self.mobility_weights = 0.01 * jax.random.normal(weight_key, (n_blocks, n_basis), dtype)
        self.linear_raw = jnp.asarray(inverse_softplus(eps**2), dtype)
        self.learned_energy = (
            LearnedBulkEnergy(energy_width, key=energy_key, dtype=dtype)
            if energy == "learned"
            else None
        )

    # ------------------------------------------------------------------ ingredients

    @property
    def n_blocks(self) -> int:
        return self.n_frames * self.blocks_per_frame

    @property
    def steps(self) -> Float[Array, " blocks"]:
        """``tau_k = softplus(a_k) > 0``."""
        return jax.nn.softplus(self.steps_raw)

    def _cell_volume(self, shape) -> float:
        return math.prod(side / n for side, n in zip(self.length, shape))

    def _linear_symbol(self, k2: Array) -> Array:
        coefficient: float | Array
        if self.energy == "double-well":
            coefficient = self.eps**2
        else:
            coefficient = jax.nn.softplus(self.linear_raw)
        return coefficient * k2

    def mobility_symbols(self, shape: tuple[int, ...]) -> Float[Array, " blocks *spectrum"]:
        """Each block's ``G_k`` as a Fourier multiplier in the ``rfftn`` layout (>= 0)."""
        k2 = jnp.asarray(_k2(shape, self.length), self.steps_raw.dtype)
        s = jnp.log1p(k2)
        centres = jnp.asarray(self.centres, s.dtype)
        width = centres[1] - centres[0] if len(self.centres) > 1 else 1.0
        basis = jnp.exp(-(((s[..., None] - centres) / width) ** 2))  # (*spectrum, basis)
        logits = jnp.einsum("...j,kj->k...", basis, self.mobility_weights)
        logits = logits + self.mobility_bias.reshape((-1,) + (1,) * s.ndim)
        multiplier = jax.nn.softplus(logits)
        return multiplier if self.equation == "allen-cahn" else k2 * multiplier

    def bulk_energy(self, phi: Float[Array, "*grid"]) -> Float[Array, ""]:
        """``E_1(phi) >= 0``: the double well or the learned energy, times ``h^d``."""
        volume = self._cell_volume(phi.shape)
        if self.learned_energy is None:
            return volume * jnp.sum((phi * phi - 1) ** 2 / 4)
        return volume * jnp.sum(self.learned_energy.density(phi))

    def energy_lower_bound(self) -> float:
        """The declared lower bound of ``E_1`` (0 for both energies)."""
        return 0.0

    def modified_energy(self, phi: Float[Array, "*grid"], r: Float[Array, ""]) -> Array:
        """``E~ = 1/2 <L phi, phi> + r^2 - C_0``, non-increasing from block to block."""
        volume = self._cell_volume(phi.shape)
        k2 = jnp.asarray(_k2(phi.shape, self.length), phi.dtype)
        l_phi = jnp.fft.irfftn(self._linear_symbol(k2) * jnp.fft.rfftn(phi), s=phi.shape)
        return 0.5 * volume * jnp.sum(l_phi * phi) + r**2 - self.offset

    def auxiliary(self, phi: Float[Array, "*grid"]) -> Float[Array, ""]:
        """``r = sqrt(E_1(phi) + C_0)``, the starting value of the auxiliary variable."""
        return jnp.sqrt(self.bulk_energy(phi) + self.offset)

    # ------------------------------------------------------------------------ blocks

    def _block(self, state, parameters, linear, volume):
        phi, r = state
        tau, g = parameters
        shape = phi.shape
        r_phi, grad_e1 = jax.value_and_grad(self.auxiliary)(phi)
        # grad w.r.t. <., .>: d E_1 / d phi_j = h^d (dE_1/dphi)_j, and d r = d E_1 / (2 r).
        b = 2 * grad_e1 / volume
        inner = lambda u, v: volume * jnp.sum(u * v)
        implicit = 1 / (1 + tau * g * linear)
        b_hat = jnp.fft.rfftn(b)
        c_hat = jnp.fft.rfftn(phi) - tau * g * b_hat * (r - 0.5 * inner(b, phi))
        a_inv_c = jnp.fft.irfftn(implicit * c_hat, s=shape)
        a_inv_gb = jnp.fft.irfftn(implicit * g * b_hat, s=shape)
        b_dot_next = inner(b, a_inv_c) / (1 + 0.5 * tau * inner(b, a_inv_gb))
        phi_next = (a_inv_c - 0.5 * tau * b_dot_next * a_inv_gb).astype(phi.dtype)
        r_next = r + 0.5 * inner(b, phi_next - phi)
        del r_phi
        return phi_next, r_next

    def _check_input(self, phi0) -> Array:
        d = len(self.length)
        if phi0.ndim != d + 1 or phi0.shape[0] != 1:
            hint = "; a batch goes through jax.vmap(model)" if phi0.ndim == d + 2 else ""
            raise ValueError(
                f"EStableNet expects one field of shape (1, *grid) with {d} spatial axes, got "
                f"shape {tuple(phi0.shape)}{hint}"
            )
        if any(n < 4 for n in phi0.shape[1:]):
            raise ValueError(f"EStableNet expects at least 4 points per axis, got {phi0.shape}")
        return phi0[0]

    def trajectory(
        self, phi0: Float[Array, " 1 *grid"], r0: Float[Array, ""] | None = None
    ) -> tuple[
        Float[Array, " blocks_plus_1 *grid"], Float[Array, " blocks_plus_1"], Float[Array, ""]
    ]:
        """Every block's state and modified energy.

        Args:
            phi0: ``(1, *grid)`` input.
            r0: the auxiliary variable to start from (default ``sqrt(E_1(phi0) + C_0)``).

        Returns:
            ``(states, energies, r)``: ``(n_blocks + 1, *grid)`` states (the input first),
            their modified energies ``(n_blocks + 1,)``, and the final ``r``.
        """
        phi = self._check_input(phi0)
        shape = phi.shape
        volume = self._cell_volume(shape)
        linear = self._linear_symbol(jnp.asarray(_k2(shape, self.length), phi.dtype))
        r = self.auxiliary(phi) if r0 is None else jnp.asarray(r0, phi.dtype)

        def body(state, parameters):
            state = self._block(state, parameters, linear, volume)
            return state, (state[0], self.modified_energy(*state))

        parameters = (self.steps, self.mobility_symbols(shape))
        (_, r_final), (states, energies) = jax.lax.scan(body, (phi, r), parameters)
        states = jnp.concatenate([phi[None], states])
        energies = jnp.concatenate([self.modified_energy(phi, r)[None], energies])
        return states, energies, r_final

    def __call__(self, phi0: Float[Array, " 1 *grid"]) -> Float[Array, " n_frames *grid"]:
        states, _, _ = self.trajectory(phi0)
        return states[self.blocks_per_frame :: self.blocks_per_frame]

    def rollout(
        self, phi0: Float[Array, " 1 *grid"], n_applications: int
    ) -> tuple[Float[Array, " frames *grid"], Float[Array, " energies"]]:
        """Apply the network ``n_applications`` times, each on the last output, carrying
        ``r`` across so that the modified energy decays over the whole rollout.

        Returns:
            ``(frames, energies)``: ``(n_applications * n_frames, *grid)`` frames and the
            modified energy after every block, the input's first.
        """
        frames: list[Array] = []
        energies: list[Array] = []
        phi, r = phi0, None
        for _ in range(n_applications):
            states, block_energies, r = self.trajectory(phi, r)
            frames.append(states[self.blocks_per_frame :: self.blocks_per_frame])
            energies.append(block_energies if not energies else block_energies[1:])
            phi = states[-1][None]
        return jnp.concatenate(frames), jnp.concatenate(energies)


# ------------------------------------------------------- built from a ModelSpec


def _gradient_flow_data(spec: ModelSpec):
    """The gradient flow's physics in ``spec.data`` (a gradient-flow data config)."""
    if getattr(spec.data, "equation", None) not in EQUATIONS:
        raise ValueError(
            "model 'estable' learns a gradient flow; use it on allen-cahn or cahn-hilliard"
        )
    return spec.data


def build_estable(spec: ModelSpec, *, key: jax.Array, blocks_per_frame: int = 2, n_basis: int = 12):
    """EStableNet (Fan et al., arXiv 2309.10002) for the task's gradient flow: SAV blocks
    whose modified energy cannot increase, ``blocks_per_frame`` per frame interval."""
    data = _gradient_flow_data(spec)
    return EStableNet(
        data.equation,
        data.n_frames,
        blocks_per_frame,
        length=data.length,
        ndim=len(spec.grid),
        eps=data.eps,
        step=data.frame_interval / blocks_per_frame,
        mobility=1.0 if data.equation == "allen-cahn" else data.mobility,
        max_wavenumber=np.pi * data.resolution / data.length,
        n_basis=n_basis,
        key=key,
    )
