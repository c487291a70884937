r"""DGNO: a physics-aware generative operator for two-phase Darcy flow, trained without
solutions.

Zang & Koutsourelakis (2025) encode a PDE input ``a`` in low-dimensional latent
variables ``β`` and decode from them both the input (here a two-phase coefficient,
through a Bernoulli field) and the solution ``u``, with MultiONets as decoders. The
physics enters as *virtual observables*: weak-form residuals against compactly
supported test functions, which need no solutions as labels and no second derivatives
of the networks. For ``-div(a ∇u) = f`` on the unit square with ``u = 0`` on its
boundary:

* encoder ``β = tanh(MLP(2 χ(a) - 1))``, ``χ(a) ∈ {0, 1}`` the phase of each node;
* phase decoder ``p(x; β) = sigmoid(A(x, β))``, the probability that ``a(x)`` is the high
  value (``a`` itself: ``a_low + (a_high - a_low) p``, its mean);
* solution decoder ``u(x; β) = sin(π x) sin(π y) U(x, β)`` (the boundary condition holds
  exactly) and flux decoder ``s(x; β) ≈ a ∇u``, a two-channel MultiONet;
* the loss of one sample: the cross-entropy of ``p`` against the phases of ``a`` on the
  grid, plus the mixed-form residuals at quadrature points of ``Nc`` small balls
  (:mod:`sciml.solvers.weak_form`): ``|s - a ∇u|²`` and the weak equation
  ``∫ s·∇φ_c = ∫ f φ_c`` (integrated by parts; first derivatives only).

Everything is non-dimensionalised by ``f`` and ``a_ref = (a_low + a_high) / 2``:
the networks see ``ũ = u a_ref / f`` and ``s̃ = s / f``, so the residuals are of order
one whatever the units.

References:
    Y. Zang, P.-S. Koutsourelakis, "DGNO: A Novel Physics-aware Neural Operator for
    Solving Forward and Inverse PDE Problems based on Deep, Generative Probabilistic
    Modeling", arXiv:2502.06250 (2025); published as DGenNO, J. Comput. Phys. 538
    (2025) 114137.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from sciml.models.multionet import MultiONet
from sciml.solvers.weak_form import (
    BallQuadrature,
    polar_ball_quadrature,
    wendland,
    wendland_gradient,
)

__all__ = [
    "DGNO",
    "BallRule",
    "LossWeights",
    "build_dgno",
    "dgno_loss",
    "grid_nodes",
    "physics_residuals",
]


def grid_nodes(size: int) -> Float[Array, "P 2"]:
    """The ``size x size`` nodes of the unit square, boundary included, row-major
    (``(x_i, y_j)`` at ``i * size + j``): the nodes of the Darcy task's fields."""
    line = jnp.linspace(0.0, 1.0, size)
    x, y = jnp.meshgrid(line, line, indexing="ij")
    return jnp.stack([x.ravel(), y.ravel()], axis=-1)


class DGNO(eqx.Module):
    """The DGNO model of two-phase Darcy flow: an encoder ``a -> β`` and decoders of the
    phase probability, the solution and the flux (see the module's text).

    As an operator model, ``model(a)`` maps a two-phase coefficient ``(1, s, s)`` to the
    pressure ``(1, s, s)`` on the same nodes, like every Darcy model.

    Args:
        size: nodes per side of the grid ``(s, s)``, boundary included.
        latent: the dimension of ``β``.
        width: the width of the MultiONet decoders of the pressure and the flux.
        phase_width: the width of the phase decoder (default ``width``; the authors'
            is wider than the others).
        n_layers: their hidden layers (all summed).
        encoder_widths: hidden widths of the encoder MLP.
        a_low: the coefficient of the low phase.
        a_high: the coefficient of the high phase.
        source: the constant source ``f``.
        activation: the decoders' activation (a name :class:`MultiONet` takes).
        key: the PRNG key.
    """

    encoder: eqx.nn.MLP
    phase: MultiONet
    solution: MultiONet
    flux: MultiONet
    size: int = eqx.field(static=True)
    latent: int = eqx.field(static=True)
    a_low: float = eqx.field(static=True)
    a_high: float = eqx.field(static=True)
    source: float = eqx.field(static=True)

    def __init__(
        self,
        size: int,
        *,
        latent: int = 64,
        width: int = 64,
        phase_width: int | None = None,
        n_layers: int = 4,
        encoder_widths: tuple[int, ...] = (256, 256),
        a_low: float = 4.0,
        a_high: float = 12.0,
        source: float = 1.0,
        activation: str = "tanh_sin",
        key: PRNGKeyArray,
    ):
        if not (isinstance(size, int) and size >= 3):
            raise ValueError(f"DGNO expects a grid of size >= 3 nodes per side, got {size!r}")
        if not 0 < a_low < a_high:
            raise ValueError(
                f"DGNO expects 0 < a_low < a_high (the two phases), got {a_low}, {a_high}"
            )
        if not source > 0:
            raise ValueError(f"DGNO expects a positive constant source f, got {source}")
        keys = jax.random.split(key, 5)
        widths = tuple(encoder_widths)
        self.encoder = _mlp(size * size, latent, widths, keys[0])

        def decoder(width, out_channels, key):
            return MultiONet(
                latent,
                2,
                width,
                n_layers,
                out_channels=out_channels,
                trunk_activation=activation,
                branch_activation=activation,
                key=key,
            )

        self.phase = decoder(width if phase_width is None else phase_width, 1, keys[1])
        self.solution = decoder(width, 1, keys[2])
        self.flux = decoder(width, 2, keys[3])
        self.size, self.latent = size, latent
        self.a_low, self.a_high, self.source = float(a_low), float(a_high), float(source)

    # -- scales

    @property
    def a_ref(self) -> float:
        return 0.5 * (self.a_low + self.a_high)

    def phases(self, a: Float[Array, "1 s s"]) -> Float[Array, "s s"]:
        """The phase ``χ(a) ∈ {0, 1}`` of each node (1: ``a_high``); values between the
        two phases are mapped linearly."""
        return jnp.clip((a[0] - self.a_low) / (self.a_high - self.a_low), 0.0, 1.0)

    # -- the parts

    def encode(self, a: Float[Array, "1 s s"]) -> Float[Array, " latent"]:
        """``β = tanh(MLP(2 χ(a) - 1))``."""
        if a.shape != (1, self.size, self.size):
            raise ValueError(
                f"DGNO expects a coefficient of shape (1, {self.size}, {self.size}), got {a.shape}"
            )
        return jnp.tanh(self.encoder(2.0 * self.phases(a).ravel() - 1.0))

    def phase_logit(
        self, beta: Float[Array, " latent"], x: Float[Array, "P 2"]
    ) -> Float[Array, " P"]:
        """``A(x, β)``: the logit of the probability of the high phase at ``x``."""
        return self.phase(beta, x)[0]

    def coefficient(
        self, beta: Float[Array, " latent"], x: Float[Array, "P 2"]
    ) -> Float[Array, " P"]:
        """The decoded coefficient's mean, ``a_low + (a_high - a_low) p(x; β)``."""
        p = jax.nn.sigmoid(self.phase_logit(beta, x))
        return self.a_low + (self.a_high - self.a_low) * p

    def scaled_solution(
        self, beta: Float[Array, " latent"], x: Float[Array, "P 2"]
    ) -> Float[Array, " P"]:
        """``ũ = u a_ref / f = sin(π x) sin(π y) U(x, β)``."""
        bubble = jnp.sin(jnp.pi * x[:, 0]) * jnp.sin(jnp.pi * x[:, 1])
        return bubble * self.solution(beta, x)[0]

    def pressure(self, beta: Float[Array, " latent"], x: Float[Array, "P 2"]) -> Float[Array, " P"]:
        """``u(x; β)`` in physical units."""
        return self.scaled_solution(beta, x) * (self.source / self.a_ref)

    def scaled_flux(
        self, beta: Float[Array, " latent"], x: Float[Array, "P 2"]
    ) -> Float[Array, "P 2"]:
        """``s̃ ≈ ã ∇ũ`` (``ã = a / a_ref``): the flux in units of ``f``."""
        return self.flux(beta, x).T

    def __call__(self, a: Float[Array, "1 s s"]) -> Float[Array, "1 s s"]:
        beta = self.encode(a)
        u = self.pressure(beta, grid_nodes(self.size))
        return u.reshape(1, self.size, self.size)


def _mlp(n_in: int, n_out: int, widths: tuple[int, ...], key: PRNGKeyArray) -> eqx.nn.MLP:
    if len(set(widths)) > 1:
        # eqx.nn.MLP has one hidden width; a tapering encoder is a chain of them
        raise ValueError(f"DGNO's encoder takes equal hidden widths, got {widths}")
    width = widths[0] if widths else n_out
    return eqx.nn.MLP(n_in, n_out, width, len(widths), activation=jax.nn.silu, key=key)


def build_dgno(
    spec,
    *,
    key: jax.Array,
    latent: int = 64,
    width: int = 64,
    phase_width: int = 0,
    n_layers: int = 4,
    encoder_width: int = 256,
    encoder_depth: int = 2,
    activation: str = "tanh_sin",
):
    """DGNO (Zang & Koutsourelakis 2025) for the Darcy task; the phases and source are
    the data config's (``a_low``, ``a_high``, ``source``); ``phase_width = 0``: the
    phase decoder as wide as the others."""
    grid = tuple(spec.grid)
    if spec.in_channels != 1 or spec.out_channels != 1 or len(grid) != 2 or grid[0] != grid[1]:
        raise ValueError(
            "dgno maps a two-phase coefficient (1, s, s) to the pressure (1, s, s) (the darcy "
            f"task); got {spec.in_channels} -> {spec.out_channels} channels on a grid {grid}"
        )
    data = spec.data
    return DGNO(
        grid[0],
        latent=latent,
        width=width,
        phase_width=phase_width or None,
        n_layers=n_layers,
        encoder_widths=(encoder_width,) * encoder_depth,
        a_low=getattr(data, "a_low", 4.0),
        a_high=getattr(data, "a_high", 12.0),
        source=getattr(data, "source", 1.0),
        activation=activation,
        key=key,
    )


# ------------------------------------------------------------------------------ losses


class BallRule(NamedTuple):
    """A quadrature rule on the unit ball with the test function's values there.

    Attributes:
        points: ``ξ_q``, ``(Q, 2)`` points of the unit ball.
        weights: ``(Q,)`` weights (their scale cancels in the residuals).
        phi: ``φ(|ξ_q|)``, the test function at the points.
        grad_phi: ``∇_ξ φ(ξ_q)``, ``(Q, 2)``; the gradient of ``φ_c(x) = φ(|x - c| / R)``
            is ``∇_ξ φ / R``.
    """

    points: Array
    weights: Array
    phi: Array
    grad_phi: Array


class LossWeights(NamedTuple):
    """The weights of the DGNO loss's terms.

    Attributes:
        phase: the cross-entropy of the decoded phases against the input's.
        constitutive: the mean of ``|s̃ - ã ∇ũ|²`` (the flux is ``a ∇u``).
        weak: the mean square of the relative weak residual
            ``∫ s̃·∇φ_c / ∫ φ_c - 1`` (the equation ``-div s = f``).
        solution: the relative L2 misfit of ``u`` against solutions (0: physics only).
    """

    phase: float = 1.0
    constitutive: float = 10.0
    weak: float = 1.0
    solution: float = 0.0


def ball_rule(quadrature: BallQuadrature | None = None) -> BallRule:
    """The Wendland test function (:func:`~sciml.solvers.weak_form.wendland`) at the
    nodes of a quadrature rule on the unit disc (default: the polar rule of
    :func:`~sciml.solvers.weak_form.polar_ball_quadrature`)."""
    quadrature = polar_ball_quadrature() if quadrature is None else quadrature
    points = quadrature.points
    return BallRule(
        points,
        quadrature.weights,
        wendland(jnp.linalg.norm(points, axis=-1)),
        wendland_gradient(points),
    )


def _batched_values(net: MultiONet, betas: Array, x: Array) -> Array:
    """``G(β_b)(x_p)``, ``(B, C, P)``, for a batch of latents sharing the points: the
    trunk once for all."""
    trunk = net.trunk_features(x)  # (l, P, W)
    branch = jax.vmap(net.branch_features)(betas)  # (B, l, W)
    c, group, layers = net.out_channels, net.width // net.out_channels, net.sum_layers
    trunk = trunk.reshape(layers, len(x), c, group)
    branch = branch.reshape(len(betas), layers, c, group)
    scale = net.weights / layers  # (l, C)
    return jnp.einsum("kc,kpcg,bkcg->bcp", scale, trunk, branch) + net.bias[None, :, None]


def _values_and_gradients(net: MultiONet, betas: Array, x: Array) -> tuple[Array, Array]:
    """``G(β_b)(x_p)`` ``(B, C, P)`` and its gradient in ``x``, ``(B, C, P, 2)``, for a
    batch of latents sharing the points: the trunk (and its Jacobian) once for all."""

    def one_point(point):
        return net.trunk_features(point[None])[:, 0]  # (l, W)

    jacobian = jax.vmap(jax.jacfwd(one_point))(x)  # (P, l, W, 2)
    branch = jax.vmap(net.branch_features)(betas)  # (B, l, W)
    c, group, layers = net.out_channels, net.width // net.out_channels, net.sum_layers
    jacobian = jacobian.reshape(len(x), layers, c, group, 2)
    branch = branch.reshape(len(betas), layers, c, group)
    gradients = jnp.einsum("kc,pkcgd,bkcg->bcpd", net.weights / layers, jacobian, branch)
    return _batched_values(net, betas, x), gradients


def nearest_node_values(fields: Array, x: Array) -> Array:
    """``fields (B, s, s)`` on the nodes ``i / (s - 1)`` at the points ``x (P, 2)``,
    each point taking its nearest node's value (a two-phase coefficient stays two-valued,
    as the authors look it up)."""
    size = fields.shape[-1]
    index = jnp.clip(jnp.round(x * (size - 1)).astype(jnp.int32), 0, size - 1)
    return fields[:, index[:, 0], index[:, 1]]


def physics_residuals(
    model: DGNO,
    betas: Array,
    coefficient: Array | None,
    centres: Array,
    radius: float,
    rule: BallRule,
) -> tuple[Array, Array]:
    """The virtual observables of a batch of latents: per sample and ball,
    ``r1 = Σ_q w_q |s̃ - ã ∇ũ|² / Σ_q w_q`` and ``r2 = Σ_q w_q s̃·∇φ_c / Σ_q w_q φ_c - 1``.

    Args:
        model: the DGNO.
        betas: ``(B, latent)``.
        coefficient: ``(B, s, s)`` nodal coefficients (training: the inputs), or None
            to use the decoded one (an inverse problem).
        centres: ``(Nc, 2)`` ball centres, shared by the batch.
        radius: the balls' radius ``R``.
        rule: the quadrature rule and test function on the unit ball.

    Returns:
        ``(r1, r2)``, each ``(B, Nc)``.
    """
    n_centres, n_points = len(centres), len(rule.points)
    x = (centres[:, None, :] + radius * rule.points[None]).reshape(-1, 2)
    u, grad_u = _values_and_gradients(model.solution, betas, x)  # (B, 1, P), (B, 1, P, 2)
    bubble = jnp.sin(jnp.pi * x[:, 0]) * jnp.sin(jnp.pi * x[:, 1])
    grad_bubble = jnp.pi * jnp.stack(
        [
            jnp.cos(jnp.pi * x[:, 0]) * jnp.sin(jnp.pi * x[:, 1]),
            jnp.sin(jnp.pi * x[:, 0]) * jnp.cos(jnp.pi * x[:, 1]),
        ],
        axis=-1,
    )
    grad = grad_bubble[None] * u[:, 0, :, None] + bubble[None, :, None] * grad_u[:, 0]  # (B, P, 2)
    flux_values = _batched_values(model.flux, betas, x)  # (B, 2, P)
    flux_values = jnp.moveaxis(flux_values, 1, 2)  # (B, P, 2)
    if coefficient is None:
        a = jax.vmap(lambda beta: model.coefficient(beta, x))(betas)
    else:
        a = nearest_node_values(coefficient, x)
    a = a / model.a_ref
    mismatch = jnp.sum((flux_values - a[..., None] * grad) ** 2, axis=-1)
    mean = rule.weights / jnp.sum(rule.weights)
    r1 = mismatch.reshape(len(betas), n_centres, n_points) @ mean
    along = jnp.einsum(
        "bcqd,qd->bcq", flux_values.reshape(len(betas), n_centres, n_points, 2), rule.grad_phi
    )
    r2 = (jnp.einsum("bcq,q->bc", along, rule.weights) / radius) / jnp.sum(
        rule.weights * rule.phi
    ) - 1.0
    return r1, r2


def phase_cross_entropy(model: DGNO, betas: Array, coefficients: Array) -> Array:
    """The mean over the batch and the nodes of the cross-entropy of the decoded phase
    probability against the phases of ``coefficients (B, 1, s, s)``."""
    nodes = grid_nodes(model.size)
    logits = _batched_values(model.phase, betas, nodes)
    labels = jax.vmap(model.phases)(coefficients).reshape(len(betas), -1)
    return jnp.mean(_binary_cross_entropy(logits[:, 0], labels))


def _binary_cross_entropy(logits: Array, labels: Array) -> Array:
    """``-[y log σ(z) + (1 - y) log(1 - σ(z))]``, computed stably."""
    return jnp.maximum(logits, 0) - logits * labels + jnp.log1p(jnp.exp(-jnp.abs(logits)))


def dgno_loss(
    model: DGNO,
    coefficients: Array,
    solutions: Array | None,
    centres: Array,
    radius: float,
    rule: BallRule,
    weights: LossWeights | None = None,
) -> tuple[Array, dict[str, Array]]:
    """The DGNO loss of a batch and its parts.

    Args:
        model: the DGNO.
        coefficients: ``(B, 1, s, s)`` two-phase inputs.
        solutions: ``(B, 1, s, s)`` solutions for the mixed mode, or None (physics only).
        centres: ``(Nc, 2)`` ball centres, shared by the batch.
        radius: the balls' radius.
        rule: the quadrature rule and test function on the unit ball.
        weights: the terms' weights (default :class:`LossWeights`).

    Returns:
        ``(loss, parts)``, ``parts`` holding each term before its weight.
    """
    weights = LossWeights() if weights is None else weights
    betas = jax.vmap(model.encode)(coefficients)
    parts = {"phase": phase_cross_entropy(model, betas, coefficients)}
    r1, r2 = physics_residuals(model, betas, coefficients[:, 0], centres, radius, rule)
    parts["constitutive"] = jnp.mean(r1)
    parts["weak"] = jnp.mean(r2**2)
    loss = (
        weights.phase * parts["phase"]
        + weights.constitutive * parts["constitutive"]
        + weights.weak * parts["weak"]
    )
    if solutions is not None and weights.solution:
        nodes = grid_nodes(model.size)
        predicted = jax.vmap(lambda beta: model.pressure(beta, nodes))(betas)
        truth = solutions.reshape(len(betas), -1)
        misfit = jnp.linalg.norm(predicted - truth, axis=-1) / jnp.linalg.norm(truth, axis=-1)
        parts["solution"] = jnp.mean(misfit)
        loss = loss + weights.solution * parts["solution"]
    return loss, parts
