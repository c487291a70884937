"""The one rollout convention: saves, the initial state, irregular snapshots, PyTree
states, reverse-mode gradients and input validation, against plain Python loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.solvers.stepping import advance, rollout, snapshots


def step(state):
    """A nonlinear map on a PyTree state ``(x, count)``."""
    x, count = state
    return jnp.sin(x) + 0.5 * x + 0.1, count + 1


def python_loop(state, n_steps):
    states = [state]
    for _ in range(n_steps):
        states.append(step(states[-1]))
    return states


INITIAL = (jnp.asarray([0.3, -1.2, 2.0]), jnp.asarray(0))


def test_rollout_saves_every_k_steps_and_the_final_state():
    expected = python_loop(INITIAL, 12)
    final, saved = rollout(step, INITIAL, 12, 4, observe=lambda s: (s[0].sum(), s[1]))
    assert int(final[1]) == 12
    np.testing.assert_allclose(final[0], expected[12][0], rtol=1e-14)
    np.testing.assert_array_equal(saved[1], [4, 8, 12])
    np.testing.assert_allclose(saved[0], [expected[k][0].sum() for k in (4, 8, 12)], rtol=1e-14)
    _, with_initial = rollout(step, INITIAL, 12, 4, include_initial=True)
    np.testing.assert_array_equal(with_initial[1], [0, 4, 8, 12])
    np.testing.assert_allclose(with_initial[0][0], INITIAL[0])
    assert int(advance(step, INITIAL, 7)[1]) == 7
    assert int(advance(step, INITIAL, 0)[1]) == 0


def test_snapshots_at_irregular_steps():
    save_steps = [0, 1, 3, 5, 7, 8, 20]
    expected = python_loop(INITIAL, 20)
    x, count = jax.jit(lambda s: snapshots(step, s, save_steps))(INITIAL)
    np.testing.assert_array_equal(count, save_steps)
    np.testing.assert_allclose(x, np.stack([expected[k][0] for k in save_steps]), rtol=1e-14)
    x, count = snapshots(step, INITIAL, [6], observe=lambda s: (2 * s[0], s[1]))
    np.testing.assert_array_equal(count, [6])
    np.testing.assert_allclose(x[0], 2 * expected[6][0], rtol=1e-14)


def test_reverse_mode_through_nested_scans():
    """d x_n / d x_0 of the scalar map x -> a x is a^n, for every save."""
    a = 0.9

    def saved(x0):
        return snapshots(lambda x: a * x, x0, [2, 4, 5, 9]).sum()

    derivative = jax.grad(saved)(jnp.asarray(1.5))
    np.testing.assert_allclose(derivative, sum(a**k for k in (2, 4, 5, 9)), rtol=1e-14)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rollout(step, INITIAL, 10, 4), "divide n_steps"),
        (lambda: rollout(step, INITIAL, 10, 0), "save_every"),
        (lambda: rollout(step, INITIAL, -1, 1), "n_steps"),
        (lambda: advance(step, INITIAL, 2.5), "n_steps"),
        (lambda: snapshots(step, INITIAL, [3, 3]), "strictly increasing"),
        (lambda: snapshots(step, INITIAL, []), "strictly increasing"),
        (lambda: snapshots(step, INITIAL, [-1, 2]), "strictly increasing"),
    ],
)
def test_bad_counts_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
