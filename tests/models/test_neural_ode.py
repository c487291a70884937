"""Neural ODEs through diffrax: an exact linear solution, fitted orders of fixed-step
solvers, both adjoints against finite differences, evaluation between saved times, the
explicit-Euler flow of an operator layer as a ResNet composition, and loud errors."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from jax.flatten_util import ravel_pytree

from sciml.models.neural_ode import (
    SOLVERS,
    NeuralFlowOperator,
    NeuralODE,
    fourier_vector_field,
    make_adjoint,
    make_solver,
    multigrid_vector_field,
)

# A damped rotation with a slower third mode: eigenvalues -0.5 +- 1.0i and -1.
MATRIX = np.array([[-0.5, 1.0, 0.0], [-1.0, -0.5, 0.2], [0.0, 0.3, -1.0]])
Y0 = np.array([1.0, 0.5, -0.3])


class LinearField(eqx.Module):
    matrix: jax.Array

    def __call__(self, t, y):
        return self.matrix @ y


class MLPField(eqx.Module):
    mlp: eqx.nn.MLP

    def __init__(self, key):
        self.mlp = eqx.nn.MLP(2, 2, 16, 1, activation=jnp.tanh, key=key, dtype=jnp.float64)

    def __call__(self, t, y):
        return self.mlp(y)


def exact(ts):
    return np.stack([scipy.linalg.expm(t * MATRIX) @ Y0 for t in ts])


def test_linear_field_matches_the_matrix_exponential_to_the_tolerance():
    ts = np.array([0.0, 0.3, 1.1, 2.0, 3.5])
    model = NeuralODE(
        LinearField(jnp.asarray(MATRIX)),
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-12),
    )
    ys = np.asarray(eqx.filter_jit(model)(jnp.asarray(Y0), ts))
    np.testing.assert_array_equal(ys[0], Y0)
    error = np.max(np.abs(ys - exact(ts)))
    # Local error control at rtol 1e-10 over ~10^2 steps: a global error near 1e-9.
    assert error < 1e-8, error


@eqx.filter_jit
def _fixed_step_error(model, y0, t1):
    ys = model(y0, jnp.stack([jnp.zeros_like(t1), t1]))
    return ys[-1]


@pytest.mark.parametrize("name", ["euler", "heun", "tsit5"])
def test_fixed_step_solvers_converge_at_their_nominal_order(name):
    order = SOLVERS[name][1]
    t1 = 1.0
    counts = np.array([8, 16, 32, 64])
    errors = []
    for n in counts:
        # dt0 as an array is traced: one compilation serves every step size.
        model = NeuralODE(
            LinearField(jnp.asarray(MATRIX)),
            solver=make_solver(name),
            stepsize_controller=diffrax.ConstantStepSize(),
            dt0=jnp.asarray(t1 / n),
        )
        y1 = np.asarray(_fixed_step_error(model, jnp.asarray(Y0), jnp.asarray(t1)))
        errors.append(np.max(np.abs(y1 - exact([t1])[0])))
    slope = np.polyfit(np.log(t1 / counts), np.log(errors), 1)[0]
    assert model.order == order
    assert abs(slope - order) < 0.2, (name, slope, errors)


def test_both_adjoints_match_finite_differences():
    """The gradient of a loss of a small MLP neural ODE with respect to every parameter
    and y0, by each adjoint, against central differences (float64)."""
    field = MLPField(jax.random.key(0))
    y0 = jnp.array([0.7, -0.4])
    flat, unravel = ravel_pytree((eqx.filter(field, eqx.is_inexact_array), y0))
    static = eqx.filter(field, eqx.is_inexact_array, inverse=True)
    ts = jnp.array([0.0, 0.4, 1.0])
    weights = jnp.array([[0.0, 0.0], [1.0, -2.0], [0.5, 3.0]])

    def loss(vector, adjoint_name):
        params, start = unravel(vector)
        model = NeuralODE(
            eqx.combine(params, static),
            solver=diffrax.Tsit5(),
            stepsize_controller=diffrax.ConstantStepSize(),
            dt0=1 / 64,
            adjoint=make_adjoint(adjoint_name),
        )
        return jnp.sum(weights * jnp.sin(model(start, ts)))

    eps = 1e-5
    steps = eps * jnp.eye(flat.size)
    losses = jax.jit(jax.vmap(lambda v: loss(v, "recursive-checkpoint")))
    central = np.asarray((losses(flat + steps) - losses(flat - steps)) / (2 * eps))
    # Recursive checkpointing differentiates the computed solution: round-off and the
    # O(eps^2) error of the differences remain. Backsolve solves the adjoint equation
    # with the same 5th-order step, whose error (about 1e-15 at this step) adds to it.
    for adjoint_name, bound in (("recursive-checkpoint", 1e-8), ("backsolve", 1e-6)):
        gradient = np.asarray(jax.jit(jax.grad(loss), static_argnums=1)(flat, adjoint_name))
        error = np.max(np.abs(gradient - central)) / np.max(np.abs(central))
        assert error < bound, (adjoint_name, error)


def test_evaluation_at_arbitrary_times_equals_saveat_output():
    model = NeuralODE(MLPField(jax.random.key(1)))
    y0 = jnp.array([0.3, 0.9])
    ts = np.array([0.13, 0.5, 0.77, 1.31])

    @eqx.filter_jit
    def both(model, y0):
        dense = model.solve(y0, 0.0, 1.31, saveat=diffrax.SaveAt(dense=True))
        return jax.vmap(dense.evaluate)(jnp.asarray(ts)), model(y0, ts, t0=0.0), dense.stats

    evaluated, saved, stats = both(model, y0)
    # Adaptive steps do not land on these times: the values come from the interpolant.
    assert int(stats["num_accepted_steps"]) >= 2
    np.testing.assert_allclose(np.asarray(evaluated), np.asarray(saved), rtol=0, atol=1e-12)


def _operator(kind, **options):
    key_field, key = jax.random.split(jax.random.key(3))
    if kind == "fourier":
        field = fourier_vector_field(6, (4,), key=key_field, dtype=jnp.float64)
    else:
        field = multigrid_vector_field(
            6, 1, smoothing=((1, 0), (1, 1)), key=key_field, dtype=jnp.float64
        )
    solve = dict(solver=diffrax.Tsit5(), stepsize_controller=diffrax.ConstantStepSize(), dt0=0.1)
    return NeuralFlowOperator(
        1, 1, field, projection_channels=8, key=key, dtype=jnp.float64, **{**solve, **options}
    )


def _sample(n=16):
    x = np.arange(n) / n
    return jnp.asarray(np.sin(2 * np.pi * x) + 0.3 * np.cos(6 * np.pi * x))[None]


@eqx.filter_jit
def _resnet(model, a, n_steps):
    """The explicit composition v <- v + h sigma(L v), written out."""
    field, h = model.vector_field, model.times[0] / n_steps
    v = model.lift(a)
    for _ in range(n_steps):
        v = v + h * field(0.0, v)
    return model.project(v), model.project(model.lift(a))


@pytest.mark.parametrize("kind", ["fourier", "multigrid"])
def test_explicit_euler_flow_is_a_resnet_of_shared_layers(kind):
    model = _operator(kind, solver=diffrax.Euler(), dt0=0.25)
    a = _sample()
    resnet, no_flow = _resnet(model, a, 4)
    np.testing.assert_allclose(np.asarray(eqx.filter_jit(model)(a)), resnet, atol=1e-12)
    # The flow is not the identity: the composition is doing the work.
    assert float(jnp.max(jnp.abs(resnet - no_flow))) > 1e-3


def test_operator_trajectory_is_continuous_in_time_under_vmap():
    model = _operator("fourier", times=(0.25, 0.5))
    a = jnp.stack([_sample(), 0.5 * _sample()[:, ::-1]])
    ts = np.array([0.1, 0.25, 0.4, 0.5, 0.9])

    @eqx.filter_jit
    def run(model, a):
        return jax.vmap(model)(a), jax.vmap(lambda x: model.trajectory(x, ts))(a)

    frames, between = run(model, a)
    assert frames.shape == (2, 2, 16) and between.shape == (2, 5, 1, 16)
    # The frames are the trajectory at the model's times; other times lie between them
    # and beyond them, and differ from both.
    np.testing.assert_allclose(frames[:, 0], between[:, 1, 0], atol=1e-12)
    np.testing.assert_allclose(frames[:, 1], between[:, 3, 0], atol=1e-12)
    assert float(jnp.min(jnp.abs(between[:, 2] - between[:, 1]).max(axis=-1))) > 1e-6


def test_float32_in_float32_out():
    key_field, key = jax.random.split(jax.random.key(0))
    field = fourier_vector_field(4, (3,), key=key_field)
    model = NeuralFlowOperator(
        1,
        1,
        field,
        times=(0.5,),
        key=key,
        solver=diffrax.Euler(),
        stepsize_controller=diffrax.ConstantStepSize(),
        dt0=0.25,
    )
    out = eqx.filter_jit(model)(_sample(8).astype(jnp.float32))
    assert out.dtype == jnp.float32 and out.shape == (1, 8)


def test_bad_input_is_named():
    mlp_model = NeuralODE(MLPField(jax.random.key(0)))
    with pytest.raises(ValueError, match=r"does not accept a state of shape \(3,\)"):
        mlp_model(jnp.ones(3), [0.0, 1.0])
    with pytest.raises(ValueError, match="dy/dt must have the shape of y"):
        NeuralODE(lambda t, y: jnp.sum(y))(jnp.ones(2), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"strictly increasing ts, got \[0.0, 0.5, 0.3\]"):
        mlp_model(jnp.ones(2), [0.0, 0.5, 0.3])
    with pytest.raises(ValueError, match="t0 <= ts"):
        mlp_model(jnp.ones(2), [0.0, 0.5], t0=0.2)
    with pytest.raises(ValueError, match="finite y0"):
        mlp_model(jnp.array([1.0, np.nan]), [0.0, 0.5])
    with pytest.raises(ValueError, match="needs a step dt0"):
        NeuralODE(LinearField(jnp.eye(2)), stepsize_controller=diffrax.ConstantStepSize())
    with pytest.raises(ValueError, match="unknown solver 'rk45'"):
        make_solver("rk45")
    with pytest.raises(ValueError, match="unknown adjoint 'adjoint'"):
        make_adjoint("adjoint")
    field = fourier_vector_field(4, (3,), key=jax.random.key(0))
    with pytest.raises(ValueError, match="strictly increasing times > 0"):
        NeuralFlowOperator(1, 1, field, times=(0.5, 0.5), key=jax.random.key(1))
    model = NeuralFlowOperator(1, 1, field, times=(0.5,), key=jax.random.key(1))
    with pytest.raises(ValueError, match="a batch goes through jax.vmap"):
        model(jnp.ones((2, 1, 8)))
    with pytest.raises(ValueError, match="needs a grid of at least"):
        model(jnp.ones((1, 2)))


def test_traced_times_that_decrease_fail_when_run():
    model = NeuralODE(MLPField(jax.random.key(0)))
    with pytest.raises(RuntimeError, match="strictly increasing ts"):
        eqx.filter_jit(model)(jnp.ones(2), jnp.array([0.0, 0.5, 0.3]))
