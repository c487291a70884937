"""DeepONet and POD-DeepONet: shapes, parameter formulas, evaluation at any points, the
POD basis against the SVD it comes from, and clear errors."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.models import (
    DeepONet,
    PODBasis,
    PODDeepONet,
    count_parameters,
    deeponet_param_count,
    grid_points,
)
from sciml.train import load_model, save_checkpoint, trainable_filter

KEY = jax.random.key(0)

# One compiled program per model structure and input shape: far faster than running
# the many small convolutions op by op.
apply = eqx.filter_jit(lambda model, *args: model(*args))


def _random(shape, seed=1, dtype=jnp.float64):
    return jax.random.normal(jax.random.key(seed), shape, dtype)


@pytest.mark.parametrize(
    "branch, grid, options",
    [
        ("mlp", (17, 13), {}),
        ("stacked", (17, 13), {"branch_depth": 1}),
        ("conv", (17, 13), {"conv_channels": (4, 8)}),
        ("stacked", (40,), {"fourier_features": 2, "branch_width": 16}),
        ("conv", (23, 21), {"fourier_features": 1}),
    ],
)
def test_shapes_and_parameter_count(branch, grid, options):
    kwargs = {"n_basis": 6, "branch": branch, "branch_width": 12, "trunk_width": 10, **options}
    model = DeepONet(2, 3, grid, key=KEY, **kwargs)
    a = _random((2, *grid), dtype=jnp.float32)
    assert apply(model, a).shape == (3, *grid) and apply(model, a).dtype == jnp.float32
    assert apply(model, a, jnp.full((5, len(grid)), 0.3, jnp.float32)).shape == (3, 5)
    assert count_parameters(model) == deeponet_param_count(2, 3, grid, **kwargs)
    out = jax.vmap(model)(jnp.stack([a, 2 * a]))
    np.testing.assert_allclose(out[1], apply(model, 2 * a), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("branch", ["mlp", "conv"])
def test_evaluation_at_points_agrees_with_the_grid_output_at_the_nodes(periodic, branch):
    grid = (11, 9)
    model = DeepONet(
        1, 2, grid, n_basis=8, branch=branch, conv_channels=(4,), fourier_features=2,
        periodic=periodic, key=KEY, dtype=jnp.float64,
    )  # fmt: skip
    a = _random((1, *grid))
    nodes = grid_points(grid, periodic, jnp.float64)
    np.testing.assert_allclose(
        apply(model, a, nodes).reshape(2, *grid), apply(model, a), rtol=1e-13, atol=1e-13
    )
    # the nodes themselves: linspace(0, 1, n), or j / n on a periodic axis
    last = (1.0, 1.0) if not periodic else (10 / 11, 8 / 9)
    np.testing.assert_allclose(nodes[-1], last)
    # between the nodes the output is the trunk's function, not a copy of a node
    mid = nodes[:1] + 0.5 / np.array(grid)
    assert not np.allclose(apply(model, a, mid), apply(model, a, nodes[:1]))


def test_trunk_fourier_features():
    model = DeepONet(1, 1, (8,), n_basis=2, fourier_features=3, key=KEY, dtype=jnp.float64)
    y = jnp.asarray([[0.25], [0.5]])
    features = model.trunk_features(y)
    j = np.arange(1, 4)
    expected = np.concatenate(
        [np.asarray(y), np.sin(np.pi * np.asarray(y) * j), np.cos(np.pi * np.asarray(y) * j)], 1
    )
    np.testing.assert_allclose(features, expected, atol=1e-15)


@pytest.fixture(scope="module")
def outputs():
    """30 training outputs (N, 2, 7, 6) of rank 5 plus a little noise."""
    rng = np.random.default_rng(3)
    basis = rng.standard_normal((5, 2 * 7 * 6))
    coefficients = rng.standard_normal((30, 5)) * np.array([5, 3, 2, 1, 0.5])
    flat = 1.5 + coefficients @ basis + 1e-3 * rng.standard_normal((30, 2 * 7 * 6))
    return flat.reshape(30, 2, 7, 6)


def test_pod_reproduces_the_training_mean_and_modes(outputs):
    pod = PODBasis.fit(outputs, 4)
    flat = outputs.reshape(30, -1)
    np.testing.assert_allclose(np.asarray(pod.mean).reshape(-1), flat.mean(0), atol=1e-13)
    _, s, vt = np.linalg.svd(flat - flat.mean(0), full_matrices=False)
    modes = np.asarray(pod.modes).transpose(1, 0, 2).reshape(4, -1)  # (p, C P)
    # mode k is the k-th right singular vector scaled by s_k / sqrt(N) (up to its sign)
    np.testing.assert_allclose(np.linalg.norm(modes, axis=1), s[:4] / np.sqrt(30), rtol=1e-12)
    unit = modes / np.linalg.norm(modes, axis=1, keepdims=True)
    np.testing.assert_allclose(np.abs(np.sum(unit * vt[:4], axis=1)), 1.0, atol=1e-12)
    np.testing.assert_allclose(unit @ unit.T, np.eye(4), atol=1e-12)
    # the training outputs' coefficients have unit variance in this scaling
    coefficients = (flat - flat.mean(0)) @ modes.T / np.sum(modes**2, axis=1)
    np.testing.assert_allclose(coefficients.var(axis=0), 1.0, rtol=1e-10)
    # mean + the modes reproduce the outputs up to the discarded singular values
    rebuilt = flat.mean(0) + coefficients @ modes
    np.testing.assert_allclose(np.linalg.norm(flat - rebuilt), np.linalg.norm(s[4:]), rtol=1e-9)


def test_pod_deeponet_output_is_mean_plus_branch_times_modes(outputs):
    model = PODDeepONet(1, PODBasis.fit(outputs, 5), branch="mlp", key=KEY, dtype=jnp.float64)
    assert (model.out_channels, model.grid, model.n_basis) == (2, (7, 6), 5)
    a = _random((1, 7, 6))
    b = model.branch(a)
    expected = model.pod.mean + jnp.einsum("k,ckp->cp", b, model.pod.modes)
    np.testing.assert_allclose(apply(model, a), expected.reshape(2, 7, 6), atol=1e-13)
    # evaluation at the nodes equals the grid output; in between it interpolates
    nodes = grid_points((7, 6), dtype=jnp.float64)
    np.testing.assert_allclose(apply(model, a, nodes).reshape(2, 7, 6), apply(model, a), atol=1e-12)
    mid = jnp.asarray([[0.5 / 6, 0.0]])
    np.testing.assert_allclose(
        apply(model, a, mid)[:, 0],
        0.5 * (apply(model, a)[:, 0, 0] + apply(model, a)[:, 1, 0]),
        atol=1e-12,
    )


def test_pod_basis_is_frozen_in_training(outputs):
    model = PODDeepONet(1, PODBasis.fit(outputs, 3), key=KEY)
    marks = trainable_filter(model)
    assert not any(jax.tree.leaves(marks.pod))
    arrays = jax.tree.leaves(eqx.filter(model.branch, eqx.is_inexact_array))
    assert sum(jax.tree.leaves(marks.branch)) == len(arrays) > 0
    grads = eqx.filter_grad(lambda m: jnp.sum(m(jnp.ones((1, 7, 6))) ** 2))(model)
    assert float(jnp.max(jnp.abs(grads.pod.modes))) == 0.0


def test_empty_basis_has_the_shapes_of_a_fitted_one(outputs):
    fitted = PODBasis.fit(outputs.astype(np.float32), 4)
    empty = PODBasis.empty(4, 2, (7, 6))
    assert jax.tree.structure(empty) == jax.tree.structure(fitted)
    for a, b in zip(jax.tree.leaves(empty), jax.tree.leaves(fitted)):
        assert (a.shape, a.dtype) == (b.shape, b.dtype)
    assert not any(np.any(leaf) for leaf in jax.tree.leaves(empty))
    assert PODBasis.empty(4, 2, (7, 6), dtype=jnp.float64).modes.dtype == jnp.float64


def test_pod_deeponet_rebuilt_from_an_empty_basis_and_its_checkpoint(outputs, tmp_path):
    """Only the configuration and the checkpoint: no training outputs, no SVD."""
    model = PODDeepONet(1, PODBasis.fit(outputs, 4), branch_width=16, periodic=True, key=KEY)
    a = _random((1, 7, 6), dtype=jnp.float32)
    target = _random((2, 7, 6), seed=2, dtype=jnp.float32)

    # a few gradient steps, so the branch is not the one a key would make
    @eqx.filter_jit
    def step(model):
        grads = eqx.filter_grad(lambda m: jnp.sum((m(a) - target) ** 2))(model)
        return eqx.apply_updates(model, jax.tree.map(lambda g: -1e-3 * g, grads))

    for _ in range(3):
        model = step(model)
    save_checkpoint(tmp_path, 3, model)

    like = PODDeepONet(
        1, PODBasis.empty(4, 2, (7, 6)), branch_width=16, periodic=True, key=jax.random.key(7)
    )
    assert not np.allclose(apply(like, a), apply(model, a))
    rebuilt = load_model(tmp_path, like)
    y = jnp.asarray([[0.1, 0.3], [0.55, 0.9]], jnp.float32)
    np.testing.assert_array_equal(apply(rebuilt, a), apply(model, a))
    np.testing.assert_array_equal(apply(rebuilt, a, y), apply(model, a, y))
    np.testing.assert_array_equal(rebuilt.pod.singular_values, model.pod.singular_values)


def test_pod_deeponet_refuses_training_outputs_in_place_of_a_basis(outputs):
    with pytest.raises(TypeError, match="use PODBasis.fit\\(train_outputs, 5\\)"):
        PODDeepONet(1, outputs, n_basis=5, key=KEY)
    with pytest.raises(TypeError, match="PODBasis.fit\\(train_outputs, n_modes\\)"):
        PODDeepONet(1, jnp.asarray(outputs), key=KEY)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: DeepONet(1, 1, (8, 8), branch="rnn", key=KEY), "unknown branch 'rnn'"),
        (lambda: DeepONet(1, 1, (16,), branch="conv", key=KEY), "reads 2-D inputs"),
        (lambda: DeepONet(1, 1, (8, 1), key=KEY), "grid must be a tuple of sizes >= 2"),
        (lambda: DeepONet(1, 1, (8,), n_basis=0, key=KEY), "n_basis to be a positive integer"),
        (lambda: PODBasis.fit(np.ones((1, 1, 4)), 1), "N >= 2"),
        (lambda: PODBasis.fit(np.ones((3, 1, 4)), 4), "n_modes must be between 1 and"),
        (
            lambda: PODBasis.empty(0, 1, (4, 4)),
            "PODBasis.empty expects n_modes to be a positive integer, got 0",
        ),
        (
            lambda: PODBasis(jnp.zeros((1, 12)), jnp.zeros((1, 2, 12)), jnp.zeros(2), (4, 4)),
            "P = prod\\(grid\\); got mean \\(1, 12\\)",
        ),
        (
            lambda: PODBasis(jnp.zeros((1, 16)), jnp.zeros((2, 2, 16)), jnp.zeros(2), (4, 4)),
            "modes \\(2, 2, 16\\)",
        ),
        (
            lambda: PODDeepONet(1, PODBasis.empty(3, 1, (4, 4)), n_basis=4, key=KEY),
            "n_basis=4 but the POD basis holds 3 modes",
        ),
        (lambda: PODDeepONet(1, PODBasis.empty(3, 1, (4, 1)), key=KEY), "sizes >= 2"),
    ],
)
def test_bad_configurations_fail_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_wrong_inputs_are_named():
    model = DeepONet(2, 1, (8, 6), n_basis=3, key=KEY)
    with pytest.raises(ValueError, match="expected shape \\(2, 8, 6\\), got \\(2, 6, 8\\)"):
        apply(model, jnp.ones((2, 6, 8)))
    with pytest.raises(ValueError, match="a batch goes through jax.vmap"):
        apply(model, jnp.ones((5, 2, 8, 6)))
    with pytest.raises(ValueError, match="points y of shape \\(P, 2\\), got \\(4, 3\\)"):
        apply(model, jnp.ones((2, 8, 6)), jnp.ones((4, 3)))


# Before these checks a zero or negative width or depth built an empty network or failed
# inside XLA, and a zero channel count of the conv branch divided by zero.
@pytest.mark.parametrize("value", [0, -3, 2.5, True])
@pytest.mark.parametrize(
    "name",
    ["in_channels", "out_channels", "n_basis", "branch_width", "trunk_width", "conv_channels"],
)
def test_deeponet_sizes_must_be_positive_integers(name, value):
    kwargs = dict(in_channels=1, out_channels=1, grid=(8, 8), n_basis=4, branch="conv")
    kwargs |= dict(branch_width=4, trunk_width=4, conv_channels=(2, 2))
    kwargs[name] = (value, 2) if name == "conv_channels" else value
    label = "conv_channels[0]" if name == "conv_channels" else name
    expected = f"DeepONet expects {label} to be a positive integer, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        DeepONet(**kwargs, key=KEY)


@pytest.mark.parametrize("value", [-1, 2.5, True])
@pytest.mark.parametrize("name", ["branch_depth", "trunk_depth", "fourier_features"])
def test_deeponet_depths_must_be_non_negative_integers(name, value):
    expected = f"DeepONet expects {name} to be a non-negative integer, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        DeepONet(1, 1, (8, 8), n_basis=4, **{name: value}, key=KEY)


@pytest.mark.parametrize("value", [0, -3, 2.5])
@pytest.mark.parametrize("name", ["in_channels", "branch_width"])
def test_pod_deeponet_sizes_must_be_positive_integers(name, value):
    kwargs = {"in_channels": 1, "branch_width": 4, name: value}
    expected = f"PODDeepONet expects {name} to be a positive integer, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        PODDeepONet(pod=PODBasis.empty(3, 1, (4, 4)), **kwargs, key=KEY)
