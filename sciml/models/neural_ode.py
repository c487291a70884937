r"""Neural ODEs through diffrax, and continuous-depth neural operators.

A neural ODE (Chen et al. 2018) is the map ``y_0 -> y(t)`` of

.. math::  \frac{dy}{dt} = f_\theta(t, y), \qquad y(t_0) = y_0,

with ``f_theta`` a network. :class:`NeuralODE` wraps ``diffrax.diffeqsolve``: the
solver, the step-size controller, the initial step and the adjoint (how reverse-mode
gradients are computed) are all parts one chooses; nothing here integrates by hand.

A continuous-depth neural operator replaces the stack of layers of an FNO by the flow
of one layer (Chen, He and Tai 2025, "neural flow operators"): lift the input function
pointwise to ``width`` channels, let the lifted function flow under

.. math::  \frac{dv}{dt} = \sigma(\mathcal{L} v), \qquad
           \mathcal{L} v = \mathcal{K} v + W v + b,

where ``L`` is a Fourier layer (spectral convolution plus a pointwise map; Li et al.
2021) or the linear part of an MgNO layer (a multigrid V-cycle plus a bias map; He, Liu
and Xu 2024), and project pointwise back to the output channels
(:class:`NeuralFlowOperator`). With a fixed explicit step ``h`` the discretised flow is a
composition of residual layers: explicit Euler gives ``v <- v + h sigma(L v)`` exactly,
a ResNet-type operator whose layers share their weights, which is the composition
structure behind the universal approximation result of Chen, He and Tai.

Which adjoint:

* ``diffrax.RecursiveCheckpointAdjoint`` (the default): differentiates the solver's own
  steps ("discretise-then-optimise"), storing checkpoints of the forward solve. The
  gradient is the exact gradient of the computed solution, so it agrees with finite
  differences to round-off; its memory grows like ``O(log n_steps)`` checkpoints (for
  ``max_steps`` set) and it costs about one extra forward solve. Use it unless memory
  forbids.
* ``diffrax.BacksolveAdjoint``: solves the continuous adjoint equations backwards in
  time ("optimise-then-discretise", the method popularised by Chen et al. 2018). Its
  memory does not grow with the number of steps, but the gradient is only as accurate
  as the backward solve (the forward trajectory is recomputed backwards, which is
  unstable for dissipative dynamics such as a diffusive PDE), and it needs its own
  tolerances. Use it for very long solves of large states where the checkpoints would
  not fit, with a tight step-size controller; see Kidger (2021), §5.1, for the trade-off.

Every module maps one sample; batches go through ``jax.vmap``. float32 and float64
both work (the dtype of the state is the dtype of the solve).

References:
    R. T. Q. Chen, Y. Rubanova, J. Bettencourt and D. Duvenaud, "Neural Ordinary
    Differential Equations", NeurIPS 2018. https://arxiv.org/abs/1806.07366
    P. Kidger, "On Neural Differential Equations", PhD thesis, University of Oxford,
    2021 (§5: backpropagation through ODE solvers, discretise-then-optimise and
    optimise-then-discretise). https://arxiv.org/abs/2202.02435
    Z. Chen, J. He and X.-C. Tai, "Neural flow operators can approximate any operator",
    2025.
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021. https://arxiv.org/abs/2010.08895
    J. He, X. Liu and J. Xu, "MgNO: Efficient Parameterization of Linear Operators via
    Multigrid", ICLR 2024. https://arxiv.org/abs/2310.19809
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from sciml.models.conv import check_sample_shape
from sciml.models.fno import FNO, FourierLayer, PointwiseLinear, check_modes, grid_coordinates
from sciml.models.mgno import PAPER_SMOOTHING, MgNOLayer, level_shapes
from sciml.models.spec import ModelSpec, modes_per_axis

__all__ = [
    "ADJOINTS",
    "LayerVectorField",
    "NeuralFlowOperator",
    "NeuralODE",
    "NeuralODEOperator",
    "OperatorVectorField",
    "SOLVERS",
    "build_neural_ode",
    "build_neural_ode_latent",
    "fourier_vector_field",
    "make_adjoint",
    "make_solver",
    "multigrid_vector_field",
]

#: Explicit Runge–Kutta solvers of diffrax by name, with their order.
SOLVERS = {
    "euler": (diffrax.Euler, 1),
    "heun": (diffrax.Heun, 2),
    "midpoint": (diffrax.Midpoint, 2),
    "ralston": (diffrax.Ralston, 2),
    "bosh3": (diffrax.Bosh3, 3),
    "tsit5": (diffrax.Tsit5, 5),
    "dopri5": (diffrax.Dopri5, 5),
    "dopri8": (diffrax.Dopri8, 8),
}

#: The adjoints by name.
ADJOINTS = ("recursive-checkpoint", "backsolve")


def make_solver(name: str) -> diffrax.AbstractSolver:
    """The diffrax solver called ``name`` (a key of :data:`SOLVERS`)."""
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; expected one of {', '.join(SOLVERS)}")
    return SOLVERS[name][0]()


def make_adjoint(name: str, **backsolve_options) -> diffrax.AbstractAdjoint:
    """``"recursive-checkpoint"`` -> ``diffrax.RecursiveCheckpointAdjoint()``;
    ``"backsolve"`` -> ``diffrax.BacksolveAdjoint(**backsolve_options)`` (the backward
    solve's ``solver``, ``stepsize_controller``, ``dt0``, ...; by default the forward ones).
    """
    if name == "recursive-checkpoint":
        if backsolve_options:
            raise ValueError(
                "options are for the backward solve of the 'backsolve' adjoint; "
                f"'recursive-checkpoint' takes none, got {sorted(backsolve_options)}"
            )
        return diffrax.RecursiveCheckpointAdjoint()
    if name == "backsolve":
        return diffrax.BacksolveAdjoint(**backsolve_options)
    raise ValueError(f"unknown adjoint {name!r}; expected one of {', '.join(ADJOINTS)}")


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _as_times(caller: str, name: str, ts) -> Array:
    """``ts`` as a 1-D array of at least one time, strictly increasing.

    Concrete times are checked now (a ``ValueError``); traced ones at run time
    (``eqx.error_if``, an error raised when the computation runs).
    """
    if _is_traced(ts):
        ts = jnp.asarray(ts)
        if ts.ndim != 1 or ts.shape[0] < 1:
            raise ValueError(f"{caller} expects {name} to be a 1-D array of times, got {ts.shape}")
        if ts.shape[0] > 1:
            ts = eqx.error_if(
                ts, jnp.any(jnp.diff(ts) <= 0), f"{caller} expects strictly increasing {name}"
            )
        return ts
    values = np.asarray(ts)
    if values.ndim != 1 or values.size < 1 or not np.issubdtype(values.dtype, np.number):
        raise ValueError(
            f"{caller} expects {name} to be a 1-D array of at least one time, got {ts!r}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{caller} expects finite {name}, got {values.tolist()}")
    if np.any(np.diff(values) <= 0):
        raise ValueError(f"{caller} expects strictly increasing {name}, got {values.tolist()}")
    # Float64 times stay float64 only with x64 on (asarray would warn otherwise).
    return jnp.asarray(values, jnp.result_type(float))


class NeuralODE(eqx.Module):
    r"""``y_0 -> (y(t_0), ..., y(t_k))`` for ``dy/dt = f_theta(t, y)``, solved by diffrax.

    The vector field is any callable module ``f(t, y) -> dy/dt`` with the shape and
    dtype of ``y`` (an array). The parts of the solve are choices, as in
    ``diffrax.diffeqsolve``: ``solver`` (default ``Tsit5``), ``stepsize_controller``
    (default ``PIDController(rtol=1e-3, atol=1e-6)``; ``diffrax.ConstantStepSize()``
    with ``dt0`` for a fixed step), ``dt0`` (the initial or fixed step; ``None`` lets
    an adaptive controller choose) and ``adjoint``
    (``RecursiveCheckpointAdjoint``, the default, or ``BacksolveAdjoint``; see the
    module docstring for when to use which).

    One sample: ``y0`` is one state; batch with ``jax.vmap``.

    Args:
        vector_field: the module ``f(t, y)``.
        solver: the diffrax solver (default ``Tsit5``).
        stepsize_controller: the diffrax step-size controller (default
            ``PIDController(rtol=1e-3, atol=1e-6)``).
        dt0: the initial or fixed step (``None``: an adaptive controller chooses).
        adjoint: how gradients are computed (default ``RecursiveCheckpointAdjoint``).
        max_steps: the most steps one solve may take (also sizes the checkpoints of
            ``RecursiveCheckpointAdjoint``).

    References:
        Chen et al., "Neural Ordinary Differential Equations", NeurIPS 2018; Kidger,
        "On Neural Differential Equations", thesis, 2021.
    """

    vector_field: Callable
    solver: diffrax.AbstractSolver
    stepsize_controller: diffrax.AbstractStepSizeController
    adjoint: diffrax.AbstractAdjoint
    dt0: float | ArrayLike | None
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        vector_field: Callable,
        *,
        solver: diffrax.AbstractSolver | None = None,
        stepsize_controller: diffrax.AbstractStepSizeController | None = None,
        dt0: float | ArrayLike | None = None,
        adjoint: diffrax.AbstractAdjoint | None = None,
        max_steps: int = 4096,
    ):
        if not callable(vector_field):
            raise ValueError(
                f"NeuralODE expects a callable vector field f(t, y), got {type(vector_field)}"
            )
        solver = diffrax.Tsit5() if solver is None else solver
        if stepsize_controller is None:
            stepsize_controller = diffrax.PIDController(rtol=1e-3, atol=1e-6)
        adjoint = diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint
        for name, value, kind in (
            ("solver", solver, diffrax.AbstractSolver),
            ("stepsize_controller", stepsize_controller, diffrax.AbstractStepSizeController),
            ("adjoint", adjoint, diffrax.AbstractAdjoint),
        ):
            if not isinstance(value, kind):
                raise ValueError(
                    f"NeuralODE expects {name} to be a diffrax.{kind.__name__}, got "
                    f"{type(value).__name__}"
                )
        adaptive = isinstance(stepsize_controller, diffrax.AbstractAdaptiveStepSizeController)
        if dt0 is None and not adaptive:
            raise ValueError(
                f"NeuralODE with the non-adaptive {type(stepsize_controller).__name__} needs "
                "a step dt0, got dt0=None"
            )
        if dt0 is not None and not _is_traced(dt0):
            step = np.asarray(dt0)
            if step.ndim != 0 or not (np.isfinite(step) and step > 0):
                raise ValueError(f"NeuralODE expects a finite scalar dt0 > 0, got {dt0!r}")
        if not (isinstance(max_steps, int) and max_steps >= 1):
            raise ValueError(f"NeuralODE expects an integer max_steps >= 1, got {max_steps!r}")
        self.vector_field = vector_field
        self.solver = solver
        self.stepsize_controller = stepsize_controller
        self.dt0 = dt0
        self.adjoint = adjoint
        self.max_steps = max_steps

    @property
    def order(self) -> int | None:
        """The solver's order for ODEs (``None`` if diffrax does not state it)."""
        order = getattr(self.solver, "order", None)
        return order(None) if callable(order) else order

    def check_state(self, y0: Array) -> None:
        """A ``ValueError`` unless ``y0`` is a floating array that the vector field maps
        to an array of the same shape and dtype (traced, not run)."""
        if not hasattr(y0, "shape") or not jnp.issubdtype(y0.dtype, jnp.floating):
            raise ValueError(
                f"NeuralODE expects a state y0 that is a real floating array, got "
                f"{type(y0).__name__} {getattr(y0, 'dtype', '')}"
            )
        state = jax.ShapeDtypeStruct(y0.shape, y0.dtype)
        time = jax.ShapeDtypeStruct((), jnp.result_type(float))
        try:
            derivative = eqx.filter_eval_shape(self.vector_field, time, state)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"NeuralODE: the vector field does not accept a state of shape {y0.shape} "
                f"and dtype {y0.dtype}: {error}"
            ) from error
        if getattr(derivative, "shape", None) != y0.shape:
            raise ValueError(
                f"NeuralODE: the vector field maps a state of shape {y0.shape} to "
                f"{getattr(derivative, 'shape', type(derivative).__name__)}; dy/dt must have "
                "the shape of y (one sample; a batch goes through jax.vmap)"
            )
        if not _is_traced(y0):
            bad = int(np.sum(~np.isfinite(np.asarray(y0))))
            if bad:
                raise ValueError(f"NeuralODE expects a finite y0; got {bad} NaN or inf values")

    def solve(
        self, y0: Float[ArrayLike, "*state"], t0, t1, *, saveat: diffrax.SaveAt
    ) -> diffrax.Solution:
        """The ``diffrax.Solution`` of the ODE from ``(t0, y0)`` to ``t1`` with ``saveat``.

        ``saveat=diffrax.SaveAt(dense=True)`` gives a solution that
        ``solution.evaluate(t)`` evaluates at any ``t`` in ``[t0, t1]`` (the solver's
        dense interpolant; not with ``BacksolveAdjoint``).
        """
        y0 = jnp.asarray(y0) if not _is_traced(y0) else cast(Array, y0)
        self.check_state(y0)
        return diffrax.diffeqsolve(
            diffrax.ODETerm(_call_vector_field),
            self.solver,
            t0,
            t1,
            self.dt0,
            y0,
            args=self.vector_field,  # in args, so that both adjoints see its parameters
            saveat=saveat,
            stepsize_controller=self.stepsize_controller,
            adjoint=self.adjoint,
            max_steps=self.max_steps,
        )

    def __call__(
        self, y0: Float[ArrayLike, "*state"], ts: Float[ArrayLike, " k"], *, t0=None
    ) -> Float[Array, " k *state"]:
        """The states at the strictly increasing times ``ts``: ``(len(ts), *y0.shape)``.

        ``y0`` is the state at ``t0``, by default ``ts[0]`` (then the first output is
        ``y0``); ``t0 <= ts[0]``. Times need not lie on the solver's steps: states between
        steps come from the solver's dense interpolant (``diffrax.SaveAt(ts=...)``).

        Raises:
            ValueError: ``ts`` is not 1-D and strictly increasing, ``t0 > ts[0]``, or the
                vector field does not map ``y0`` to an array of its shape.
        """
        ts = _as_times("NeuralODE", "ts", ts)
        y0 = cast(Array, y0) if _is_traced(y0) else jnp.asarray(y0)
        if jnp.issubdtype(y0.dtype, jnp.floating):
            # Times in the state's dtype: float64 times would promote a float32 solve.
            ts = ts.astype(y0.dtype)
        if t0 is None:
            t0 = ts[0]
        else:
            if not (_is_traced(t0) or _is_traced(ts)) and float(t0) > float(ts[0]):
                raise ValueError(
                    f"NeuralODE expects t0 <= ts[0] (it solves forwards from t0), got t0={t0}, "
                    f"ts[0]={float(ts[0])}"
                )
            t0 = jnp.asarray(t0, ts.dtype)
        solution = self.solve(y0, t0, ts[-1], saveat=diffrax.SaveAt(ts=ts))
        assert solution.ys is not None  # SaveAt(ts=...) saves the states
        return solution.ys


def _call_vector_field(t, y, vector_field):
    return vector_field(t, y)


class LayerVectorField(eqx.Module):
    r"""``f(t, v) = sigma(L v)``: one neural-operator layer as an autonomous vector field.

    ``L`` is a :class:`~sciml.models.fno.FourierLayer` (``K v + W v + b``, Li et al. 2021)
    or the linear part of a :class:`~sciml.models.mgno.MgNOLayer` (``W v + B v`` with
    ``W`` a V-cycle, He, Liu and Xu 2024). ``v: (width, *grid) -> (width, *grid)``. The
    field does not depend on ``t``, so its flow is a semigroup: flowing to ``s`` and
    then for ``t`` is flowing for ``s + t``, which is what continuing past a training
    horizon relies on. Build one with :func:`fourier_vector_field` or
    :func:`multigrid_vector_field`.
    """

    layer: FourierLayer | MgNOLayer
    activation: Callable[[Array], Array] = eqx.field(static=True)
    width: int = eqx.field(static=True)
    dims: int = eqx.field(static=True)

    def __init__(
        self,
        layer: FourierLayer | MgNOLayer,
        width: int,
        dims: int,
        activation: Callable[[Array], Array] = jax.nn.gelu,
    ):
        if not isinstance(layer, FourierLayer | MgNOLayer):
            raise ValueError(
                "LayerVectorField expects a FourierLayer or an MgNOLayer, got "
                f"{type(layer).__name__}"
            )
        self.layer = layer
        self.width = int(width)
        self.dims = int(dims)
        self.activation = activation

    def check_input(self, shape: tuple[int, ...]) -> None:
        """A ``ValueError`` unless ``shape`` is one latent state ``(width, *grid)``."""
        check_sample_shape("LayerVectorField", shape, self.width, self.dims)
        if isinstance(self.layer, FourierLayer):
            self.layer.spectral.check_input(shape)
        else:
            level_shapes(shape[1:], self.layer.cycle.levels, self.layer.cycle.padding)

    def __call__(self, t, v: Float[Array, " width *grid"]) -> Float[Array, " width *grid"]:
        del t  # autonomous
        self.check_input(v.shape)
        if isinstance(self.layer, FourierLayer):
            return self.activation(self.layer(v))
        return self.activation(self.layer.linear(v))


def fourier_vector_field(
    width: int,
    modes: Sequence[int],
    *,
    activation: Callable[[Array], Array] = jax.nn.gelu,
    key: PRNGKeyArray,
    dtype=jnp.float32,
) -> LayerVectorField:
    """``f(t, v) = sigma(K v + W v + b)`` with ``K`` a spectral convolution keeping
    ``modes`` (one entry per spatial axis) and ``W`` pointwise (Li et al. 2021)."""
    modes = check_modes(modes)
    layer = FourierLayer(int(width), modes, key=key, dtype=dtype)
    return LayerVectorField(layer, width, len(modes), activation)


def multigrid_vector_field(
    width: int,
    dims: int,
    *,
    smoothing=PAPER_SMOOTHING[:3],
    padding: str = "circular",
    prolongation_kernel: int = 4,
    activation: Callable[[Array], Array] = jax.nn.gelu,
    key: PRNGKeyArray,
    dtype=jnp.float32,
) -> LayerVectorField:
    """``f(t, v) = sigma(W v + B v)`` with ``W`` a multi-channel V-cycle (``smoothing``
    per level, convolutions padded by ``padding``) and ``B`` a 1x1 convolution with bias
    (He, Liu and Xu 2024); ``dims`` is 1 or 2."""
    if int(dims) not in (1, 2):
        raise ValueError(f"multigrid_vector_field is 1-D or 2-D, got dims={dims}")
    layer = MgNOLayer(
        int(width),
        int(width),
        int(dims),
        smoothing,
        padding=padding,
        prolongation_kernel=prolongation_kernel,
        activation=activation,
        key=key,
        dtype=dtype,
    )
    return LayerVectorField(layer, width, dims, activation)


class NeuralFlowOperator(eqx.Module):
    r"""A continuous-depth neural operator: lift, flow, project (Chen, He and Tai 2025).

    ``a: (in_channels, *grid) -> (len(times) * out_channels, *grid)``:

    1. append the grid coordinates ``linspace(0, 1, n_i)`` (if ``positional_embedding``)
       and lift pointwise to ``width`` channels, ``v_0 = P a`` (as in the FNO);
    2. solve ``dv/dt = f(t, v)`` from ``t = 0`` with :class:`NeuralODE`, ``f`` a
       :class:`LayerVectorField` (a Fourier or multigrid layer);
    3. project ``v(t)`` pointwise at each of ``times``: ``width -> projection_channels``,
       ``act``, ``-> out_channels``; frames are stacked time-major on the channel axis.

    With ``times = (1.0,)`` this is an operator of depth 1 whose layers are the steps
    of the solver; with a fixed explicit step it is a ResNet-type FNO (or MgNO) with
    shared weights (explicit Euler: ``v <- v + h sigma(L v)``). With ``times`` the
    snapshot times of a trajectory, the depth is physical time and the model learns the
    dynamics in the lifted (latent) space; :meth:`trajectory` evaluates it at any times.

    Args:
        in_channels: channels of the input function.
        out_channels: channels of the output function at each time.
        vector_field: the latent vector field, from :func:`fourier_vector_field` or
            :func:`multigrid_vector_field`; its ``width`` is the latent width.
        times: the strictly increasing positive times ``__call__`` returns.
        solver: the diffrax solver, as for :class:`NeuralODE`.
        stepsize_controller: the diffrax step-size controller, as for :class:`NeuralODE`.
        dt0: the initial or fixed step, as for :class:`NeuralODE`.
        adjoint: how gradients are computed, as for :class:`NeuralODE`.
        max_steps: the most steps one solve may take, as for :class:`NeuralODE`.
        projection_channels: hidden channels of the projection.
        positional_embedding: whether to append grid coordinates to the input.
        activation: the projection's nonlinearity.
        key: random key (lifting and projection).
        dtype: floating dtype of the parameters.

    References:
        Z. Chen, J. He and X.-C. Tai, "Neural flow operators can approximate any
        operator", 2025; Li et al., ICLR 2021; He, Liu and Xu, ICLR 2024; Chen et al.,
        NeurIPS 2018.
    """

    lifting: PointwiseLinear
    flow: NeuralODE
    projection_hidden: PointwiseLinear
    projection_out: PointwiseLinear
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    times: tuple[float, ...] = eqx.field(static=True)
    positional_embedding: bool = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        vector_field: LayerVectorField,
        *,
        times: Sequence[float] = (1.0,),
        solver: diffrax.AbstractSolver | None = None,
        stepsize_controller: diffrax.AbstractStepSizeController | None = None,
        dt0: float | None = None,
        adjoint: diffrax.AbstractAdjoint | None = None,
        max_steps: int = 4096,
        projection_channels: int = 64,
        positional_embedding: bool = True,
        activation: Callable[[Array], Array] = jax.nn.gelu,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        if not isinstance(vector_field, LayerVectorField):
            raise ValueError(
                "NeuralFlowOperator expects a LayerVectorField (fourier_vector_field or "
                f"multigrid_vector_field), got {type(vector_field).__name__}"
            )
        if min(int(in_channels), int(out_channels), int(projection_channels)) < 1:
            raise ValueError(
                "in_channels, out_channels and projection_channels must be >= 1, got "
                f"{in_channels}, {out_channels}, {projection_channels}"
            )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.times = _check_output_times("NeuralFlowOperator", times)
        self.positional_embedding = bool(positional_embedding)
        self.activation = activation
        width, dims = vector_field.width, vector_field.dims
        lifting_key, hidden_key, out_key = jax.random.split(key, 3)
        lifted = self.in_channels + (dims if self.positional_embedding else 0)
        self.lifting = PointwiseLinear(lifted, width, key=lifting_key, dtype=dtype)
        self.flow = NeuralODE(
            vector_field,
            solver=solver,
            stepsize_controller=stepsize_controller,
            dt0=dt0,
            adjoint=adjoint,
            max_steps=max_steps,
        )
        self.projection_hidden = PointwiseLinear(
            width, int(projection_channels), key=hidden_key, dtype=dtype
        )
        self.projection_out = PointwiseLinear(
            int(projection_channels), self.out_channels, key=out_key, dtype=dtype
        )

    @property
    def vector_field(self) -> LayerVectorField:
        return cast(LayerVectorField, self.flow.vector_field)

    def check_input(self, shape: tuple[int, ...]) -> None:
        """A ``ValueError`` unless ``shape`` is one input ``(in_channels, *grid)`` on a
        grid the vector field is defined on."""
        field = self.vector_field
        check_sample_shape("NeuralFlowOperator", shape, self.in_channels, field.dims)
        field.check_input((field.width, *shape[1:]))

    def lift(self, a: Float[Array, "in *grid"]) -> Float[Array, " width *grid"]:
        """``v_0 = P [a, x]``: the initial latent state."""
        self.check_input(a.shape)
        if self.positional_embedding:
            a = jnp.concatenate([a, grid_coordinates(a.shape[1:], a.dtype)])
        return self.lifting(a)

    def project(self, v: Float[Array, " width *grid"]) -> Float[Array, " out *grid"]:
        """``Q v = W_2 act(W_1 v + b_1) + b_2``, pointwise."""
        return self.projection_out(self.activation(self.projection_hidden(v)))

    def trajectory(
        self, a: Float[Array, "in *grid"], ts: Float[ArrayLike, " k"]
    ) -> Float[Array, " k out *grid"]:
        """The output function at the strictly increasing times ``ts >= 0`` (any times,
        between or beyond ``self.times``): ``(len(ts), out_channels, *grid)``."""
        ts = _as_times("NeuralFlowOperator.trajectory", "ts", ts)
        if not _is_traced(ts) and float(ts[0]) < 0:
            raise ValueError(
                f"NeuralFlowOperator.trajectory expects times >= 0, got ts[0]={float(ts[0])}"
            )
        v0 = self.lift(a)
        latent = self.flow(v0, ts, t0=0.0)
        return jax.vmap(self.project)(latent)

    def __call__(self, a: Float[Array, "in *grid"]) -> Float[Array, " frames *grid"]:
        frames = self.trajectory(a, np.asarray(self.times))
        return frames.reshape(len(self.times) * self.out_channels, *frames.shape[2:])


class OperatorVectorField(eqx.Module):
    r"""``f(t, u) = G(u)``: any neural operator ``G`` that maps one function to one function
    of the same shape, as an autonomous vector field on the state itself.

    With ``G`` a one-layer :class:`~sciml.models.FNO` (lift, one Fourier layer, project)
    the state-space neural ODE ``du/dt = G(u)`` is the neural-operator analogue of a
    semi-discrete PDE ``du/dt = N(u)``; being autonomous and acting on ``u`` itself, its
    flow is a semigroup in the physical state, as the PDE's is.
    """

    operator: Callable[[Array], Array]

    def __call__(self, t, u: Float[Array, " C *grid"]) -> Float[Array, " C *grid"]:
        del t  # autonomous
        return self.operator(u)


class NeuralODEOperator(eqx.Module):
    r"""``u_0 -> (u(t_1), ..., u(t_k))`` for ``du/dt = f(t, u)`` in the state space.

    ``u0: (C, *grid) -> (k * C, *grid)``, the frames at ``times`` stacked time-major on the
    channel axis (one channel: ``(k, *grid)``, the layout of a trajectory data set).
    :meth:`trajectory` evaluates at any times ``>= 0``, between or beyond ``times``.

    Args:
        vector_field: ``f(t, u)``, e.g. an :class:`OperatorVectorField`.
        times: strictly increasing times ``> 0``; the input is at ``t = 0``.
        solver: the diffrax solver, as for :class:`NeuralODE`.
        stepsize_controller: the diffrax step-size controller, as for :class:`NeuralODE`.
        dt0: the initial or fixed step, as for :class:`NeuralODE`.
        adjoint: how gradients are computed, as for :class:`NeuralODE`.
        max_steps: the most steps one solve may take, as for :class:`NeuralODE`.

    References:
        Chen et al., NeurIPS 2018; Li et al., ICLR 2021.
    """

    flow: NeuralODE
    times: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self,
        vector_field: Callable,
        *,
        times: Sequence[float],
        solver: diffrax.AbstractSolver | None = None,
        stepsize_controller: diffrax.AbstractStepSizeController | None = None,
        dt0: float | None = None,
        adjoint: diffrax.AbstractAdjoint | None = None,
        max_steps: int = 4096,
    ):
        self.times = _check_output_times("NeuralODEOperator", times)
        self.flow = NeuralODE(
            vector_field,
            solver=solver,
            stepsize_controller=stepsize_controller,
            dt0=dt0,
            adjoint=adjoint,
            max_steps=max_steps,
        )

    def trajectory(
        self, u0: Float[Array, " C *grid"], ts: Float[ArrayLike, " k"]
    ) -> Float[Array, " k C *grid"]:
        """The state at the strictly increasing times ``ts >= 0``: ``(len(ts), *u0.shape)``."""
        ts = _as_times("NeuralODEOperator.trajectory", "ts", ts)
        if not _is_traced(ts) and float(ts[0]) < 0:
            raise ValueError(
                f"NeuralODEOperator.trajectory expects times >= 0, got ts[0]={float(ts[0])}"
            )
        return self.flow(u0, ts, t0=0.0)

    def __call__(self, u0: Float[Array, " C *grid"]) -> Float[Array, " frames *grid"]:
        frames = self.trajectory(u0, np.asarray(self.times))
        return frames.reshape(-1, *frames.shape[2:])


def _check_output_times(caller: str, times) -> tuple[float, ...]:
    values = np.asarray(times, dtype=float)
    if values.ndim != 1 or values.size < 1 or not np.all(np.isfinite(values)):
        raise ValueError(f"{caller} expects times to be a 1-D list of finite times, got {times!r}")
    if values[0] <= 0 or np.any(np.diff(values) <= 0):
        raise ValueError(
            f"{caller} expects strictly increasing times > 0 (the input is at t = 0), got "
            f"{values.tolist()}"
        )
    return tuple(float(t) for t in values)


# ------------------------------------------------------- built from a ModelSpec


def _ode_options(spec, solver, adjoint, dt0, rtol, atol) -> dict[str, Any]:
    """The diffrax options of the neural ODEs: a fixed step (``dt0``, default one frame
    interval) or, with ``rtol``, a PID controller."""
    interval = getattr(spec.data, "frame_interval", None)
    if interval is None:
        raise ValueError("the neural ODE models learn trajectories; use them on burgers-trajectory")
    controller = (
        diffrax.ConstantStepSize() if rtol is None else diffrax.PIDController(rtol=rtol, atol=atol)
    )
    return {
        "times": tuple(interval * np.arange(1, spec.out_channels + 1)),
        "solver": make_solver(solver),
        "adjoint": make_adjoint(adjoint),
        "dt0": interval if dt0 is None else dt0,
        "stepsize_controller": controller,
    }


def build_neural_ode(
    spec: ModelSpec,
    *,
    key: jax.Array,
    width: int = 16,
    modes: int | Sequence[int] = 16,
    n_layers: int = 1,
    projection_channels: int = 32,
    solver: str = "tsit5",
    adjoint: str = "recursive-checkpoint",
    dt0: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
):
    """State-space neural ODE ``du/dt = G(u)``, ``G`` an FNO; states at the frame times."""
    options = _ode_options(spec, solver, adjoint, dt0, rtol, atol)
    field_key, _ = jax.random.split(key)
    operator = FNO(
        spec.in_channels,
        spec.in_channels,
        modes_per_axis(modes, len(spec.grid)),
        width,
        n_layers,
        projection_channels=projection_channels,
        key=field_key,
    )
    return NeuralODEOperator(OperatorVectorField(operator), **options)


def build_neural_ode_latent(
    spec: ModelSpec,
    *,
    key: jax.Array,
    width: int = 16,
    modes: int | Sequence[int] = 16,
    projection_channels: int = 32,
    solver: str = "tsit5",
    adjoint: str = "recursive-checkpoint",
    dt0: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
):
    """The continuous-depth neural operator of Chen, He and Tai (2025): lift, the flow of
    one Fourier layer in physical time, project at the frame times."""
    options = _ode_options(spec, solver, adjoint, dt0, rtol, atol)
    field_key, key = jax.random.split(key)
    field = fourier_vector_field(width, modes_per_axis(modes, len(spec.grid)), key=field_key)
    return NeuralFlowOperator(
        spec.in_channels,
        1,
        field,
        projection_channels=projection_channels,
        key=key,
        **options,
    )
