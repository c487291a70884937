"""MultiONet: the sum of layer inner products against a hand computation, one summed
layer as a DeepONet, gradients against finite differences, the operator on a grid, and
clear errors."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from sciml.experiments.config import get_experiment
from sciml.experiments.registry import build_model
from sciml.models import ModelSpec, MultiONet, count_parameters
from sciml.models.multionet import ACTIVATIONS, MultiONetOperator, activation_function

KEY = jax.random.key(0)
BRANCH_IN, TRUNK_IN, WIDTH, LAYERS = 5, 2, 6, 3

apply = eqx.filter_jit(lambda model, *args: model(*args))


def _random(shape, seed):
    return jax.random.normal(jax.random.key(seed), shape, jnp.float64)


def _net(sum_layers=None, out_channels=1, activation="tanh_sin", **kwargs):
    net = MultiONet(
        BRANCH_IN,
        TRUNK_IN,
        WIDTH,
        LAYERS,
        sum_layers,
        out_channels,
        activation,
        activation,
        key=KEY,
        dtype=jnp.float64,
        **kwargs,
    )
    # weights and bias away from their initial 1 and 0, so that each one shows
    weights = 1.0 + 0.5 * _random(net.weights.shape, 7)
    return eqx.tree_at(lambda n: (n.weights, n.bias), net, (weights, _random(net.bias.shape, 8)))


def _features_by_hand(layers, h, sigma):
    """Every layer's activated features, one matrix-vector product per point: ``h``
    is one input vector or ``(P, n)`` of them."""
    rows = jnp.atleast_2d(h)
    features = []
    for layer in layers:
        rows = sigma(jnp.stack([layer.weight @ row + layer.bias for row in rows]))
        features.append(rows.reshape(*h.shape[:-1], -1))
    return features


def _inner_products_by_hand(net, beta, x):
    """``<t_k(x), b_k(beta)>`` for every hidden layer ``k = 1..L`` (one channel)."""
    sigma = activation_function(net.trunk_activation)
    t = _features_by_hand(net.trunk_layers, x, sigma)[1:]  # the input layer is never summed
    b = _features_by_hand(net.branch_layers, beta, sigma)[1:]
    return [tk @ bk for tk, bk in zip(t, b)]


BETA, X = _random((BRANCH_IN,), 1), _random((9, TRUNK_IN), 2)


def test_one_summed_layer_is_a_deeponet_of_the_last_features():
    net = _net(sum_layers=1)
    assert net.weights.shape == (1, 1)  # one weight: only the last layer is summed
    last = _inner_products_by_hand(net, BETA, X)[-1]
    expected = net.weights[0, 0] * last + net.bias[0]
    np.testing.assert_allclose(apply(net, BETA, X)[0], expected, rtol=1e-12)

    # the same towers, all layers summed: with the earlier layers' weights at 0 (and the
    # last at l, undoing the mean) it is the one-layer model; with them not 0 it is not
    full = _net(sum_layers=LAYERS)
    for a, b in zip(jax.tree.leaves(full.trunk_layers), jax.tree.leaves(net.trunk_layers)):
        np.testing.assert_array_equal(a, b)
    only_last = jnp.zeros((LAYERS, 1)).at[-1, 0].set(LAYERS * net.weights[0, 0])
    full = eqx.tree_at(lambda n: (n.weights, n.bias), full, (only_last, net.bias))
    np.testing.assert_allclose(apply(full, BETA, X), apply(net, BETA, X), rtol=1e-12)
    earlier = eqx.tree_at(lambda n: n.weights, full, only_last.at[0, 0].set(0.3))
    assert float(jnp.max(jnp.abs(apply(earlier, BETA, X) - apply(net, BETA, X)))) > 1e-3


def test_all_layers_summed_is_the_mean_of_the_weighted_inner_products():
    net = _net()
    assert net.sum_layers == LAYERS
    products = _inner_products_by_hand(net, BETA, X)
    expected = sum(w * p for w, p in zip(net.weights[:, 0], products)) / LAYERS + net.bias[0]
    np.testing.assert_allclose(apply(net, BETA, X)[0], expected, rtol=1e-12)
    np.testing.assert_allclose(net.layer_inner_products(BETA, X)[:, 0], jnp.stack(products))


def test_two_summed_layers_of_several_channels_split_the_features():
    net = _net(sum_layers=2, out_channels=3)
    sigma = activation_function(net.trunk_activation)
    t = _features_by_hand(net.trunk_layers, X, sigma)[-2:]
    b = _features_by_hand(net.branch_layers, BETA, sigma)[-2:]
    group = slice(0, WIDTH // 3), slice(WIDTH // 3, 2 * WIDTH // 3), slice(2 * WIDTH // 3, None)
    expected = [
        sum(net.weights[k, c] * (t[k][:, g] @ b[k][g]) for k in range(2)) / 2 + net.bias[c]
        for c, g in enumerate(group)
    ]
    np.testing.assert_allclose(apply(net, BETA, X), jnp.stack(expected), rtol=1e-12)


def test_initial_weights_are_one_and_bias_zero():
    net = MultiONet(BRANCH_IN, TRUNK_IN, WIDTH, LAYERS, out_channels=2, key=KEY)
    assert net.weights.shape == (LAYERS, 2) and net.weights.dtype == jnp.float32
    np.testing.assert_array_equal(net.weights, 1.0)
    np.testing.assert_array_equal(net.bias, 0.0)
    towers = 2 * LAYERS * (WIDTH + 1) * WIDTH + (BRANCH_IN + TRUNK_IN + 2) * WIDTH
    assert count_parameters(net) == towers + LAYERS * 2 + 2


@pytest.mark.parametrize("name", ["tanh_sin", "silu_sin", "silu_id"])
def test_residual_activations(name):
    z = jnp.linspace(-2.0, 2.0, 9)
    inner = {"tanh_sin": jnp.tanh, "silu_sin": jax.nn.silu}
    if name == "silu_id":
        expected = z / (1 + jnp.exp(-z)) + z
    else:
        expected = inner[name](jnp.sin(jnp.pi * (z + 1))) + z
    np.testing.assert_allclose(ACTIVATIONS[name](z), expected, rtol=1e-12)


def _central_difference(f, x, direction, h=1e-6):
    return (f(x + h * direction) - f(x - h * direction)) / (2 * h)


@pytest.mark.parametrize("activation", ["tanh_sin"])
def test_gradients_agree_with_central_differences(activation):
    net = _net(sum_layers=2, out_channels=2, activation=activation)
    params, static = eqx.partition(net, eqx.is_array)
    flat, unravel = ravel_pytree(params)
    probe = _random((2, len(X)), 3)

    def loss(flat_params, beta, x):
        u = eqx.combine(unravel(flat_params), static)(beta, x)
        return jnp.sum(probe * u) + 0.1 * jnp.sum(u**2)

    gradients = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(flat, BETA, X)
    loss = jax.jit(loss)
    arguments = (flat, BETA, X)
    for argnum, gradient in enumerate(gradients):
        direction = _random(arguments[argnum].shape, 10 + argnum)

        def along(s, argnum=argnum, direction=direction):
            shifted = list(arguments)
            shifted[argnum] = arguments[argnum] + s * direction
            return loss(*shifted)

        h = 1e-5  # truncation ~h^2, rounding ~1e-16 |loss| / h: both below 1e-9
        numeric = (along(h) - along(-h)) / (2 * h)
        np.testing.assert_allclose(jnp.vdot(gradient, direction), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("encoder, grid, periodic", [("mlp", (12,), True), ("conv", (9, 7), False)])
def test_operator_on_the_grid_and_at_points(encoder, grid, periodic):
    model = MultiONetOperator(
        2, 3, grid, width=6, n_layers=2, encoder=encoder, latent=5, encoder_width=8,
        conv_channels=(3,), fourier_features=2, periodic=periodic, key=KEY, dtype=jnp.float64,
    )  # fmt: skip
    a = _random((2, *grid), 4)
    axes = [jnp.arange(n) / n if periodic else jnp.linspace(0, 1, n) for n in grid]
    nodes = jnp.stack([m.reshape(-1) for m in jnp.meshgrid(*axes, indexing="ij")], -1)

    @eqx.filter_jit  # one compiled program for the four evaluations
    def evaluate(model, a):
        return model(a), model(a, nodes), jax.vmap(model)(jnp.stack([a, -a])), model(-a)

    on_grid, at_nodes, batch, negated = evaluate(model, a)
    assert on_grid.shape == (3, *grid)
    # the grid output is the pointwise output at the grid's nodes
    np.testing.assert_allclose(at_nodes.reshape(on_grid.shape), on_grid, rtol=1e-12)
    # a batch through vmap is each sample alone
    np.testing.assert_allclose(batch, jnp.stack([on_grid, negated]), rtol=1e-12)


def test_wrong_inputs_are_named():
    net = _net()
    with pytest.raises(ValueError, match=r"beta of shape \(5,\) \(branch_in=5\), got \(4,\)"):
        net(jnp.ones(4), X)
    with pytest.raises(ValueError, match=r"got \(3, 5\); a batch goes through jax.vmap"):
        net(jnp.ones((3, 5)), X)
    with pytest.raises(
        ValueError, match=r"points x of shape \(P, 2\) \(trunk_in=2\), got \(9, 3\)"
    ):
        net(BETA, jnp.ones((9, 3)))
    with pytest.raises(ValueError, match=r"points x of shape \(P, 2\) \(trunk_in=2\), got \(2,\)"):
        net(BETA, jnp.ones(2))
    model = MultiONetOperator(1, 1, (8, 8), width=4, n_layers=1, key=KEY)
    with pytest.raises(ValueError, match=r"expected shape \(1, 8, 8\), got \(8, 8\)"):
        model(jnp.ones((8, 8)))
    with pytest.raises(ValueError, match=r"points y of shape \(P, 2\), got \(5, 1\)"):
        model(jnp.ones((1, 8, 8)), jnp.ones((5, 1)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sum_layers": 4}, "at most its n_layers=3 hidden layers, got sum_layers=4"),
        ({"sum_layers": 0}, "sum_layers to be a positive integer, got 0"),
        ({"out_channels": 4}, "width=6 must be divisible by out_channels=4"),
        ({"trunk_activation": "relu"}, "unknown activation 'relu'; expected one of tanh"),
        ({"width": 2.5}, "width to be a positive integer, got 2.5"),
    ],
)
def test_bad_configurations_fail_at_construction(kwargs, message):
    arguments = {"width": WIDTH, "n_layers": LAYERS, **kwargs}
    with pytest.raises(ValueError, match=message):
        MultiONet(BRANCH_IN, TRUNK_IN, key=KEY, **arguments)


def test_operator_configurations_fail_at_construction():
    with pytest.raises(ValueError, match="unknown encoder 'fno'; expected one of mlp, conv"):
        MultiONetOperator(1, 1, (8, 8), encoder="fno", key=KEY)
    with pytest.raises(ValueError, match="reads 2-D inputs"):
        MultiONetOperator(1, 1, (16,), encoder="conv", key=KEY)


@pytest.mark.parametrize("task, preset_parameters", [("darcy", 203_301), ("burgers", 107_505)])
def test_registered_builder_makes_the_quick_presets(task, preset_parameters):
    experiment = get_experiment(task, "multionet", "quick")
    spec = ModelSpec(1, 1, (43, 43) if task == "darcy" else (256,), task == "burgers")
    # built abstractly (shapes only): the count needs no random initialisation
    model = eqx.filter_eval_shape(build_model, "multionet", spec, experiment.model_config, key=KEY)
    assert isinstance(model, MultiONetOperator) and model.net.sum_layers == 4
    shapes = [leaf.shape for leaf in jax.tree.leaves(model) if hasattr(leaf, "shape")]
    parameters = sum(math.prod(shape) for shape in shapes)
    assert parameters == preset_parameters  # the count the configs state
    one_layer = eqx.filter_eval_shape(build_model, "multionet", spec, {"sum_layers": 1}, key=KEY)
    assert one_layer.net.weights.shape == (1, 1)
