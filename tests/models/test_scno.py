"""The self-composing operator: composition, unrolling, convergence, gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.data.normalise import GaussianNormaliser, NormalisedOperator
from sciml.models import count_parameters
from sciml.models.mgno import mgno_param_count
from sciml.models.scno import SCNO, build_scno, depth_of, set_depth
from sciml.models.spec import ModelSpec

SMOOTHING = ((1, 0), (1, 0), (2, 0))
KEY = jax.random.key(0)


def tiny(backbone="mgno", depth=3, dtype=jnp.float64, **kwargs):
    options = dict(smoothing=SMOOTHING) if backbone == "mgno" else dict(modes=(3, 3))
    return SCNO(
        2, 1, (9, 9), backbone=backbone, channels=3, depth=depth, projection_channels=4,
        key=KEY, dtype=dtype, **options, **kwargs,
    )  # fmt: skip


def sample(shape=(2, 9, 9), seed=1):
    return jax.random.normal(jax.random.key(seed), shape, jnp.float64)


def by_hand(model, a, depth):
    """``depth`` applications of the block, one Python call each."""
    f = model.inject(a)
    z, block = f, eqx.filter_jit(model.block)
    for _ in range(depth):
        z = block(z, f)
    return model.project(z, a.shape[1:])


@pytest.mark.parametrize("backbone", ["mgno", "fno"])
def test_the_composed_operator_is_depth_applications_of_one_block(backbone):
    model = tiny(backbone, depth=4, fourier_padding=2 if backbone == "fno" else 0)
    a = sample()
    composed = eqx.filter_jit(model)(a)
    np.testing.assert_allclose(composed, by_hand(model, a, 4), rtol=1e-12, atol=1e-12)
    # and it is not the identity in depth: 4 compositions differ from 3
    assert float(jnp.max(jnp.abs(composed - by_hand(model, a, 3)))) > 1e-3


def test_unrolling_reuses_every_weight_and_adds_one_composition():
    model = tiny(depth=3)
    deeper = model.with_depth(4)
    assert deeper.depth == 4 and model.depth == 3
    assert count_parameters(deeper) == count_parameters(model)
    for x, y in zip(jax.tree.leaves(model), jax.tree.leaves(deeper)):
        assert x is y  # the same arrays, not copies
    a = sample()
    f = model.inject(a)
    z3 = model.compose(f, 3)
    np.testing.assert_allclose(
        deeper(a), model.project(model.block(z3, f), a.shape[1:]), rtol=1e-12
    )
    # set_depth reaches an SCNO inside a wrapper (the runner's normalisers)
    wrapped = NormalisedOperator(
        model,
        GaussianNormaliser.fit(np.ones((2, 2, 9, 9))),
        GaussianNormaliser.fit(np.ones((2, 1, 9, 9))),
    )
    assert depth_of(set_depth(wrapped, 7)) == 7 and depth_of(wrapped) == 3


def contractive(model, factor):
    """``model`` with the block's V-cycle and bias map scaled by ``factor``: for small
    factors the block is a contraction in ``z`` (GELU is 1.13-Lipschitz)."""
    return eqx.tree_at(
        lambda m: m.block.layer,
        model,
        jax.tree.map(lambda w: factor * w, model.block.layer),
    )


def test_a_contractive_block_converges_so_unrolling_a_converged_model_keeps_its_function():
    model = contractive(tiny(depth=1), 0.3)
    a = sample()
    f = model.inject(a)
    block = eqx.filter_jit(model.block)
    iterates = [f]
    for _ in range(30):
        iterates.append(block(iterates[-1], f))
    steps = np.array([float(jnp.linalg.norm(y - x)) for x, y in zip(iterates, iterates[1:])])
    resolved = steps > 1e-12 * steps[0]  # above round-off
    assert resolved[:8].all()
    ratios = steps[1:][resolved[1:]] / steps[:-1][resolved[1:]]
    assert np.all(ratios < 0.5), ratios  # geometric convergence of the iterates
    assert steps[-1] < 1e-12 * steps[0]

    def unrolling_change(model, depth):
        before, after = (eqx.filter_jit(model.with_depth(n))(a) for n in (depth, depth + 1))
        return float(jnp.linalg.norm(after - before) / jnp.linalg.norm(before))

    assert unrolling_change(model, 40) < 1e-12
    # far from its fixed point, unrolling changes the function: the initialised block at
    # depth 5 (it is not contractive enough to have converged)
    assert unrolling_change(tiny(depth=1), 5) > 1e-3


def test_gradients_through_the_scan_match_finite_differences():
    model = tiny(depth=3)
    a, target = sample(), sample((1, 9, 9), seed=2)
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def loss(p):
        return jnp.mean((eqx.combine(p, static)(a) - target) ** 2)

    loss = jax.jit(loss)
    grads = jax.jit(jax.grad(loss))(params)
    direction = jax.tree.map(
        lambda g: jax.random.normal(jax.random.key(3), g.shape, g.dtype), grads
    )
    directional = sum(
        float(jnp.vdot(g, d)) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction))
    )
    h = 1e-5
    plus, minus = (
        jax.tree.map(lambda p, d, s=s: p + s * h * d, params, direction) for s in (1, -1)
    )
    difference = (float(loss(plus)) - float(loss(minus))) / (2 * h)
    assert directional == pytest.approx(difference, rel=1e-6)


def test_the_depth_adds_no_parameters_and_the_block_is_one_mgno_layer():
    shallow, deep = tiny(depth=1), tiny(depth=12)
    assert count_parameters(shallow) == count_parameters(deep)
    # one MgNO layer c -> c, as mgno_param_count counts it, plus lifting and projection
    layer = mgno_param_count(3, 1, channels=3, n_layers=1, smoothing=SMOOTHING) - 3
    lift, projection = (2 + 1) * 3, (3 + 1) * 4 + (4 + 1) * 1
    assert count_parameters(shallow) == layer + lift + projection


def test_float32_jit_vmap_and_other_grids():
    model = tiny(dtype=jnp.float32, backbone="fno")
    batch = jnp.ones((3, 2, 16, 16), jnp.float32)  # a finer grid than it was built for
    out = jax.jit(jax.vmap(model))(batch)
    assert out.shape == (3, 1, 16, 16) and out.dtype == jnp.float32


def test_the_builder_follows_the_domain_and_bad_input_is_named():
    spec = ModelSpec(1, 1, (16, 16), periodic=True)
    model = build_scno(spec, key=KEY, channels=2, smoothing=[[1, 0], [1, 0]], projection_channels=2)
    assert model.block.layer.cycle.padding == "circular"
    with pytest.raises(ValueError, match="unknown SCNO backbone 'unet'; expected one of mgno, fno"):
        tiny("unet")
    with pytest.raises(ValueError, match="depth to be a positive integer, got 0"):
        tiny(depth=0)
    with pytest.raises(ValueError, match="depth to be a positive integer"):
        tiny().with_depth(-1)
    with pytest.raises(ValueError, match=r"expects input of shape \(in_channels=2"):
        tiny()(jnp.ones((1, 9, 9)))
    with pytest.raises(ValueError, match="expected a model holding an SCNO"):
        depth_of({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="set_depth expects a model holding an SCNO"):
        set_depth([jnp.ones(2)], 3)
