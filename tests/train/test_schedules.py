"""Learning-rate schedules: values at given steps, also as traced steps under jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.train import TrainConfig, cosine, make_schedule, one_cycle, step_decay


def values(schedule, steps):
    """The schedule at integer steps, as the optimiser evaluates it: traced, under jit."""
    return np.asarray(jax.jit(jax.vmap(schedule))(jnp.asarray(steps, jnp.int32)))


def test_step_decay_halves_every_100_epochs_in_whole_epochs():
    schedule = step_decay(1e-3, steps_per_epoch=10, every_epochs=100, factor=0.5)
    steps = [0, 995, 999, 1000, 1999, 2000, 4999, 5000]
    expected = [1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 6.25e-5, 3.125e-5]
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=1e-12)


def test_cosine_anneals_to_the_final_fraction_and_stays():
    schedule = cosine(2.0, total_steps=100, final_fraction=0.1)
    expected = [2.0, 2.0 * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi / 4))), 1.1, 0.2, 0.2]
    np.testing.assert_allclose(values(schedule, [0, 25, 50, 100, 250]), expected, rtol=1e-6)


def test_one_cycle_rises_to_the_peak_then_falls_below_the_start():
    schedule = one_cycle(1.0, total_steps=100)
    start, final = 1.0 / 25, 1.0 / 25 / 1e4
    expected = [start, (start + 1.0) / 2, 1.0, (1.0 + final) / 2, final, final]
    np.testing.assert_allclose(values(schedule, [0, 15, 30, 65, 100, 150]), expected, rtol=1e-5)


def test_make_schedule_builds_the_named_schedule_from_epochs():
    config = TrainConfig(learning_rate=1.0, schedule="step", step_every_epochs=2, step_factor=0.1)
    schedule = make_schedule(config, steps_per_epoch=5, total_steps=50)
    np.testing.assert_allclose(values(schedule, [9, 10, 20]), [1.0, 0.1, 0.01], rtol=1e-6)
    config = TrainConfig(learning_rate=1.0, schedule="cosine")
    assert float(make_schedule(config, 5, total_steps=50)(50)) == pytest.approx(0.0, abs=1e-7)


def test_bad_lengths_are_rejected():
    with pytest.raises(ValueError, match="steps_per_epoch to be a positive integer, got 0"):
        step_decay(1e-3, steps_per_epoch=0)
    with pytest.raises(ValueError, match="total_steps"):
        cosine(1e-3, total_steps=-5)
