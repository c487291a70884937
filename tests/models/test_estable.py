"""EStableNet: the modified energy never increases from block to block for random weights
and inputs (a hypothesis property), the Cahn–Hilliard variant conserves mass, the learned
energy is bounded below as declared, shapes, batching and errors.

The largest relative increase of the modified energy seen over all draws is printed; it
must be round-off (<= 1e-12 in float64).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sciml.models.estable import EStableNet, LearnedBulkEnergy

N = 16
ROUND_OFF = 1e-12
LARGEST_INCREASE = [-np.inf]


def randomised(model, key, scale):
    """``model`` with every array leaf redrawn from ``N(0, scale^2)``: arbitrary weights."""
    leaves, tree = jax.tree_util.tree_flatten(eqx.filter(model, eqx.is_array))
    keys = jax.random.split(key, len(leaves))
    new = [scale * jax.random.normal(k, leaf.shape, leaf.dtype) for k, leaf in zip(keys, leaves)]
    return eqx.combine(jax.tree_util.tree_unflatten(tree, new), model)


@pytest.fixture(scope="module")
def nets():
    """One template per (equation, energy); weights are swapped in per draw, so each
    compiles once."""
    return {
        (equation, energy): EStableNet(
            equation,
            3,
            2,
            length=2 * np.pi,
            eps=0.1,
            energy=energy,
            n_basis=6,
            max_wavenumber=N / 2,
            key=jax.random.key(0),
            dtype=jnp.float64,
        )
        for equation in ("allen-cahn", "cahn-hilliard")
        for energy in ("double-well", "learned")
    }


@eqx.filter_jit
def _trajectory(net, phi):
    return net.trajectory(phi)


@settings(max_examples=40, deadline=None)
@given(
    equation=st.sampled_from(["allen-cahn", "cahn-hilliard"]),
    energy=st.sampled_from(["double-well", "learned"]),
    seed=st.integers(0, 2**31 - 1),
    weight_scale=st.floats(0.1, 4.0),
    amplitude=st.floats(0.01, 3.0),
    mean=st.floats(-1.5, 1.5),
)
def test_modified_energy_never_increases_across_blocks(
    nets, equation, energy, seed, weight_scale, amplitude, mean
):
    weight_key, input_key = jax.random.split(jax.random.key(seed))
    net = randomised(nets[equation, energy], weight_key, weight_scale)
    phi = mean + amplitude * jax.random.normal(input_key, (1, N, N), jnp.float64)
    states, energies, _ = _trajectory(net, phi)
    energies = np.asarray(energies)
    assert np.all(np.isfinite(energies)) and np.all(np.isfinite(np.asarray(states)))
    increase = float(np.max(np.diff(energies)) / np.max(np.abs(energies)))
    LARGEST_INCREASE[0] = max(LARGEST_INCREASE[0], increase)
    print(f"largest relative block energy increase so far: {LARGEST_INCREASE[0]:.2e}")
    assert increase <= ROUND_OFF, (increase, energies)


def test_rollout_past_the_horizon_keeps_decaying(nets):
    net = randomised(nets["allen-cahn", "double-well"], jax.random.key(1), 1.0)
    phi = jax.random.normal(jax.random.key(2), (1, N, N), jnp.float64)
    frames, energies = net.rollout(phi, 3)
    assert frames.shape == (9, N, N) and energies.shape == (3 * 6 + 1,)
    assert float(jnp.max(jnp.diff(energies)) / jnp.max(jnp.abs(energies))) <= ROUND_OFF
    # The first application is the network itself.
    np.testing.assert_allclose(frames[:3], net(phi), rtol=0, atol=1e-14)


@pytest.mark.parametrize("energy", ["double-well", "learned"])
def test_cahn_hilliard_variant_conserves_mass(nets, energy):
    net = randomised(nets["cahn-hilliard", energy], jax.random.key(3), 2.0)
    phi = 0.3 + jax.random.normal(jax.random.key(4), (1, N, N), jnp.float64)
    states, _, _ = _trajectory(net, phi)
    drift = np.abs(np.asarray(states).mean(axis=(1, 2)) - float(phi.mean()))
    assert np.max(drift) <= ROUND_OFF, drift
    # The Allen–Cahn variant does change the mass: the check above could fail.
    ac_states, _, _ = _trajectory(
        randomised(nets["allen-cahn", energy], jax.random.key(3), 2.0), phi
    )
    assert abs(float(ac_states[-1].mean() - phi.mean())) > 1e-3


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.1, 10.0), amplitude=st.floats(0.1, 100.0))
def test_learned_energy_is_bounded_below_as_declared(seed, scale, amplitude):
    weight_key, input_key = jax.random.split(jax.random.key(seed))
    energy = randomised(
        LearnedBulkEnergy(8, key=jax.random.key(0), dtype=jnp.float64), weight_key, scale
    )
    phi = amplitude * jax.random.normal(input_key, (N, N), jnp.float64)
    density = np.asarray(energy.density(phi))
    assert np.min(density) >= energy.lower_bound
    assert energy.lower_bound == 0.0


def test_steps_and_mobility_are_positive_for_any_weights(nets):
    net = randomised(nets["cahn-hilliard", "double-well"], jax.random.key(5), 50.0)
    assert np.all(np.asarray(net.steps) > 0)
    symbols = np.asarray(net.mobility_symbols((N, N)))
    assert np.all(symbols >= 0) and np.all(symbols.reshape(symbols.shape[0], -1)[:, 0] == 0)
    ac = randomised(nets["allen-cahn", "double-well"], jax.random.key(5), 50.0)
    assert np.all(np.asarray(ac.mobility_symbols((N, N))) > 0)


def test_shapes_batching_and_float32():
    net = EStableNet("allen-cahn", 4, 1, length=1.0, eps=0.05, key=jax.random.key(0))
    batch = jax.random.normal(jax.random.key(1), (3, 1, 24, 24), jnp.float32)
    out = jax.vmap(net)(batch)
    assert out.shape == (3, 4, 24, 24) and out.dtype == jnp.float32
    np.testing.assert_allclose(out[1], net(batch[1]), rtol=1e-5, atol=1e-6)
    net_1d = EStableNet("cahn-hilliard", 2, 1, length=1.0, ndim=1, key=jax.random.key(0))
    assert net_1d(jnp.ones((1, 32))).shape == (2, 32)


def test_bad_inputs_raise():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="equation to be one of"):
        EStableNet("heat", 2, key=key)
    with pytest.raises(ValueError, match="energy to be one of"):
        EStableNet("allen-cahn", 2, energy="quadratic", key=key)
    with pytest.raises(ValueError, match="step > 0"):
        EStableNet("allen-cahn", 2, step=0.0, key=key)
    net = EStableNet("allen-cahn", 2, key=key)
    with pytest.raises(ValueError, match=r"shape \(1, \*grid\).*jax.vmap"):
        net(jnp.ones((5, 1, 8, 8)))
