"""The Flax NNX adapter: parameters round-trip exactly, and a sciml FNO trains in a Flax loop."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from sciml.data.normalise import GaussianNormaliser, NormalisedOperator
from sciml.interop.flax import Buffer, SciMLModule, to_equinox, to_nnx
from sciml.models import FNO, DeepONet, MgNO
from sciml.train import trainable_filter

N = 32


def _same(a, b, arrays_only=False):
    """Same structure and bit-identical array leaves (and equal other leaves, unless
    ``arrays_only``: two constructions of a model hold distinct closures)."""
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        if eqx.is_array(x):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        elif not arrays_only:
            assert x == y


def _normalised_fno(key):
    k1, k2 = jax.random.split(key)
    samples = jax.random.normal(k1, (8, 1, N))
    return NormalisedOperator(
        FNO(1, 1, (6,), width=8, n_layers=2, key=k2),
        GaussianNormaliser.fit(samples),
        GaussianNormaliser.fit(2.0 * samples + 1.0),
    )


MODELS = {
    "fno": lambda key: FNO(1, 1, (6,), width=8, n_layers=2, key=key),
    "deeponet": lambda key: DeepONet(
        1, 1, (N,), n_basis=16, branch_width=16, trunk_width=16, key=key
    ),
    "mgno": lambda key: MgNO(1, 1, (N,), channels=8, n_layers=2, smoothing=((1, 0),) * 3, key=key),
    "normalised-fno": _normalised_fno,
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameters_round_trip_exactly(name):
    model = MODELS[name](jax.random.key(0))
    module = to_nnx(model)
    _same(to_equinox(module), model)
    # The state holds one variable per array: Params where sciml trains, Buffers elsewhere.
    n_params = len(jax.tree.leaves(nnx.state(module, nnx.Param)))
    n_buffers = len(jax.tree.leaves(nnx.state(module, Buffer)))
    mask = jax.tree.leaves(trainable_filter(model))
    arrays = [leaf for leaf in jax.tree.leaves(model) if eqx.is_array(leaf)]
    assert n_params == sum(mask) and n_params + n_buffers == len(arrays)
    # nnx.split / nnx.merge and a state moved into a differently initialised module.
    graphdef, state = nnx.split(module)
    _same(to_equinox(nnx.merge(graphdef, state)), model)
    other = to_nnx(MODELS[name](jax.random.key(1)))
    nnx.update(other, nnx.state(module))
    _same(to_equinox(other), model, arrays_only=True)


def test_batched_call_matches_the_vmapped_model():
    model = MODELS["fno"](jax.random.key(0))
    a = jax.random.normal(jax.random.key(2), (5, 1, N))
    np.testing.assert_array_equal(to_nnx(model)(a), jax.vmap(model)(a))
    np.testing.assert_array_equal(to_nnx(model, in_axes=None)(a[0]), model(a[0]))
    # DeepONet at shared query points: batch the functions, not the points.
    deeponet = MODELS["deeponet"](jax.random.key(0))
    y = jnp.linspace(0.0, 1.0, 7)[:, None]
    out = SciMLModule(deeponet, in_axes=(0, None))(a, y)
    np.testing.assert_allclose(out, jax.vmap(lambda s: deeponet(s, y))(a), rtol=1e-6)


def test_rejects_a_flax_module():
    with pytest.raises(TypeError, match="sciml \\(equinox\\) model"):
        SciMLModule(nnx.Linear(2, 2, rngs=nnx.Rngs(0)))
    with pytest.raises(TypeError, match="SciMLModule"):
        to_equinox(nnx.Linear(2, 2, rngs=nnx.Rngs(0)))


class _FlaxModel(nnx.Module):
    """A user's Flax model: a sciml FNO between a Flax layer and a learned scale."""

    def __init__(self, fno, rngs: nnx.Rngs):
        self.lift = nnx.Linear(1, 1, rngs=rngs)
        self.operator = SciMLModule(fno)
        self.scale = nnx.Param(jnp.ones(()))

    def __call__(self, a):
        lifted = self.lift(a[..., None])[..., 0]  # pointwise affine map of the input
        return self.scale[...] * self.operator(lifted)


def _smoothing_task(key, n_samples):
    """a -> the periodic heat flow of a at t = 0.01: a linear operator an FNO can learn."""
    a = jax.random.normal(key, (n_samples, 1, N))
    k = jnp.fft.rfftfreq(N, 1.0 / N)
    u = jnp.fft.irfft(jnp.fft.rfft(a, axis=-1) * jnp.exp(-0.01 * (2 * jnp.pi * k) ** 2), n=N)
    return a, u


def _loss(model, a, u):
    return jnp.mean((model(a) - u) ** 2) / jnp.mean(u**2)


def test_fno_trains_inside_a_flax_model():
    fno = FNO(1, 1, (8,), width=16, n_layers=2, key=jax.random.key(0))
    model = _FlaxModel(fno, nnx.Rngs(0))
    a, u = _smoothing_task(jax.random.key(3), 64)

    # The gradient the Flax loop sees for the FNO is the equinox gradient.
    grads = nnx.grad(_loss)(model, a, u)
    lift = lambda x: model.lift(x[..., None])[..., 0]  # noqa: E731
    scale = model.scale[...]
    eqx_grads = eqx.filter_grad(
        lambda f: jnp.mean((scale * jax.vmap(f)(lift(a)) - u) ** 2) / jnp.mean(u**2)
    )(fno)
    flax_fno_grads = {
        name: np.asarray(grads["operator"]["params"][name][...]) for name in model.operator.params
    }
    reference = to_nnx(eqx_grads)
    for name, g in flax_fno_grads.items():
        np.testing.assert_allclose(g, reference.params[name][...], rtol=1e-4, atol=1e-7)

    optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, a, u):
        loss, grads = nnx.value_and_grad(_loss)(model, a, u)
        optimizer.update(model, grads)
        return loss

    before = to_equinox(model.operator)
    losses = [float(step(model, optimizer, a, u)) for _ in range(40)]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.2 * losses[0], losses[::8]
    # The trained FNO comes back as a sciml model that reproduces the Flax model's output.
    trained = to_equinox(model.operator)
    changed = [
        not np.array_equal(x, y)
        for x, y in zip(jax.tree.leaves(before), jax.tree.leaves(trained), strict=True)
    ]
    assert all(changed)
    out = model.scale[...] * jax.vmap(trained)(model.lift(a[..., None])[..., 0])
    np.testing.assert_allclose(out, model(a), rtol=1e-6, atol=1e-6)


def test_optimizer_leaves_buffers_alone():
    model = _normalised_fno(jax.random.key(0))
    module = SciMLModule(model)
    a = jax.random.normal(jax.random.key(4), (16, 1, N))
    u = 2.0 * a + 1.0
    optimizer = nnx.Optimizer(module, optax.adam(1e-2), wrt=nnx.Param)

    @nnx.jit
    def step(module, optimizer):
        optimizer.update(module, nnx.grad(_loss)(module, a, u))

    for _ in range(3):
        step(module, optimizer)
    trained = to_equinox(module)
    _same(trained.input_normaliser, model.input_normaliser)
    _same(trained.output_normaliser, model.output_normaliser)
    assert not np.array_equal(trained.operator.lifting.weight, model.operator.lifting.weight)


def test_readme_example_runs():
    """The README's Flax example is code that works, not a sketch."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Flax NNX", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    a = jax.random.normal(jax.random.key(0), (3, 1, 32))
    assert namespace["model"](a).shape == (3, 1, 32)
    assert isinstance(namespace["fno"], FNO)
