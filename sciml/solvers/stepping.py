"""Time stepping by ``lax.scan``: one convention for every solver's rollout.

A solver supplies a pure ``step: state -> state`` (any PyTree state: Fourier
coefficients, a field, a scheme's tuple) and these functions repeat it:

- :func:`advance` takes ``n_steps`` steps and keeps only the last state;
- :func:`rollout` takes ``n_steps`` steps and keeps ``observe(state)`` every
  ``save_every`` steps: a ``lax.scan`` over the saves whose body is a ``lax.scan`` over
  the steps between two saves, so memory grows with the saves, not the steps;
- :func:`snapshots` keeps ``observe(state)`` at any increasing list of step indices,
  as a few :func:`rollout` calls, one per run of equal gaps between saves.

Step counts are Python integers (static under ``jit``), and every loop is a ``scan`` of
fixed length, so all three are differentiable in forward and reverse mode; reverse mode
stores one state per step. One sample; batch with ``jax.vmap``.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["advance", "rollout", "snapshots"]

State = TypeVar("State")


def _identity(state):
    return state


def _check_count(name: str, value, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"expected {name} to be an integer >= {minimum}, got {value!r}")
    return int(value)


def advance(step: Callable[[State], State], state: State, n_steps: int) -> State:
    """The state after ``n_steps`` applications of ``step`` (``n_steps >= 0``)."""
    n_steps = _check_count("n_steps", n_steps, 0)
    state, _ = jax.lax.scan(lambda s, _: (step(s), None), state, length=n_steps)
    return state


def rollout(
    step: Callable[[State], State],
    state: State,
    n_steps: int,
    save_every: int,
    *,
    observe: Callable[[State], Any] | None = None,
    include_initial: bool = False,
) -> tuple[State, Any]:
    """Take ``n_steps`` steps from ``state``, observing the state every ``save_every`` steps.

    Args:
        step: pure ``state -> state``.
        state: the initial state (a PyTree).
        n_steps: steps to take, a Python int ``>= 0`` and a multiple of ``save_every``.
        save_every: steps between two saves (``>= 1``).
        observe: what to keep of a state (default: the state itself), e.g. the field in
            physical space, or ``(field, energy)``.
        include_initial: also keep ``observe(state)`` of the initial state, first.

    Returns:
        ``(final_state, saved)``: the state after ``n_steps`` steps and ``observe`` of the
        states after ``save_every, 2 save_every, ..., n_steps`` steps (preceded by step 0
        when ``include_initial``), stacked along a new leading axis of every leaf.
    """
    n_steps = _check_count("n_steps", n_steps, 0)
    save_every = _check_count("save_every", save_every, 1)
    if n_steps % save_every:
        raise ValueError(
            f"expected save_every to divide n_steps = {n_steps}, got save_every = {save_every}"
        )
    observe = _identity if observe is None else observe

    def advance_and_observe(state, _):
        state = advance(step, state, save_every)
        return state, observe(state)

    initial = state
    state, saved = jax.lax.scan(advance_and_observe, state, length=n_steps // save_every)
    if include_initial:
        saved = jax.tree.map(
            lambda first, rest: jnp.concatenate([first[None], rest]), observe(initial), saved
        )
    return state, saved


def snapshots(
    step: Callable[[State], State],
    state: State,
    save_steps: Sequence[int],
    *,
    observe: Callable[[State], Any] | None = None,
) -> Any:
    """``observe`` of the states after ``save_steps[0], save_steps[1], ...`` steps.

    The steps up to the first save are taken by :func:`advance`, and each run of equal
    gaps ``g`` between consecutive saves by one :func:`rollout` with ``save_every = g``;
    evenly spaced saves are thus one scan over the saves, and no state after the last
    save is computed.

    Args:
        step: pure ``state -> state``.
        state: the initial state (a PyTree), step 0.
        save_steps: strictly increasing step indices ``>= 0`` (Python ints); ``0`` keeps
            the initial state.
        observe: what to keep of a state (default: the state itself).

    Returns:
        ``observe`` of each saved state, stacked along a new leading axis of every leaf
        (``len(save_steps)`` entries).
    """
    steps = np.asarray(save_steps)
    if (
        steps.ndim != 1
        or steps.size == 0
        or not np.issubdtype(steps.dtype, np.integer)
        or steps[0] < 0
        or np.any(np.diff(steps) <= 0)
    ):
        raise ValueError(
            f"expected save_steps to be strictly increasing integers >= 0, got {save_steps!r}"
        )
    observe = _identity if observe is None else observe
    state = advance(step, state, int(steps[0]))
    pieces = [jax.tree.map(lambda leaf: leaf[None], observe(state))]
    for gap, run in itertools.groupby(np.diff(steps).tolist()):
        count = len(list(run))
        state, saved = rollout(step, state, gap * count, gap, observe=observe)
        pieces.append(saved)
    return jax.tree.map(lambda *leaves: jnp.concatenate(leaves), *pieces)
