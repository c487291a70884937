"""fit: a tiny model learns a linear operator; one compilation; frozen normalisers;
loud errors for bad data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.data.normalise import GaussianNormaliser, NormalisedOperator
from sciml.train import TrainConfig, fit, make_schedule, trainable_filter
from sciml.train.epoch import shuffle

CONFIG = TrainConfig(
    epochs=8, batch_size=2, learning_rate=0.1, weight_decay=0.0, schedule="cosine", seed=3
)


@pytest.fixture(scope="module")
def trained(problem, model):
    traces_before = type(model).traces[0]
    weights_before = np.array(model.hidden)
    result, history = fit(model, *problem, config=CONFIG, progress=False)
    return result, history, type(model).traces[0] - traces_before, weights_before


def test_a_tiny_model_fits_a_linear_operator(trained):
    _, history, _, _ = trained
    assert history["train_loss"][-1] < history["train_loss"][0] / 10
    assert history["test_l2"][-1] < 0.05
    assert history["test_h1"][-1] < 0.1


def test_history_has_one_entry_per_epoch_and_the_schedule(trained):
    _, history, _, _ = trained
    assert set(history) == {"train_loss", "test_l2", "test_h1", "epoch_time", "learning_rate"}
    assert all(len(values) == CONFIG.epochs for values in history.values())
    steps_per_epoch = 24 // CONFIG.batch_size
    schedule = make_schedule(CONFIG, steps_per_epoch, CONFIG.epochs * steps_per_epoch)
    expected = [float(schedule(epoch * steps_per_epoch)) for epoch in range(CONFIG.epochs)]
    np.testing.assert_allclose(history["learning_rate"], expected, rtol=1e-5)


def test_the_epoch_is_compiled_once_not_per_epoch(trained):
    # the network is traced once for the shape check, once for the epoch function and
    # once for the test metrics, whatever the number of epochs
    _, _, traces, _ = trained
    assert 0 < traces <= 3 < CONFIG.epochs


def test_each_epoch_draws_its_own_reproducible_permutation():
    key = jax.random.key(3)
    orders = [np.asarray(shuffle(key, np.int32(epoch), 24)) for epoch in range(3)]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(24))
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])
    np.testing.assert_array_equal(shuffle(key, np.int32(1), 24), orders[1])


def test_the_callers_model_is_left_intact(trained, model):
    # the epoch function donates its parameter buffers; they must be copies
    trained_model, _, _, weights_before = trained
    np.testing.assert_array_equal(np.asarray(model.hidden), weights_before)
    assert not np.array_equal(np.asarray(trained_model.hidden), weights_before)


def test_normaliser_statistics_are_not_trained(problem, model, capsys):
    (a, u), test = problem
    wrapped = NormalisedOperator(model, GaussianNormaliser.fit(a), GaussianNormaliser.fit(u))
    flags = trainable_filter(wrapped)
    assert not any(
        jax.tree.leaves(flags.input_normaliser) + jax.tree.leaves(flags.output_normaliser)
    )
    assert all(jax.tree.leaves(flags.operator))

    # AdamW's decoupled decay would shrink any leaf it were given
    config = TrainConfig(
        epochs=2, batch_size=4, learning_rate=0.05, optimizer="adamw", weight_decay=0.5, loss="h1"
    )
    result, _ = fit(wrapped, (a, u), test, config=config, progress=True)
    for name in ("input_normaliser", "output_normaliser"):
        for field in ("mean", "std"):
            np.testing.assert_array_equal(
                getattr(getattr(result, name), field), getattr(getattr(wrapped, name), field)
            )
    assert not np.array_equal(result.operator.hidden, wrapped.operator.hidden)
    assert "test L2=" in capsys.readouterr().err


def test_mismatched_sample_counts_are_rejected(problem, model):
    (a, u), _ = problem
    with pytest.raises(ValueError, match="same number of samples, got 24 inputs .* 23 outputs"):
        fit(model, (a, u[:-1]), config=CONFIG, progress=False)


def test_non_finite_inputs_are_rejected_with_their_place(problem, model):
    (a, u), test = problem
    bad = a.copy()
    bad[5, 1, 2, 3] = np.nan
    with pytest.raises(
        ValueError, match=r"train inputs contain 1 non-finite.*sample 5, index \(1, 2, 3\)"
    ):
        fit(model, (bad, u), config=CONFIG, progress=False)
    bad_test = test[1].copy()
    bad_test[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="test outputs contain 1 non-finite"):
        fit(model, (a, u), (test[0], bad_test), config=CONFIG, progress=False)


def test_other_bad_inputs_are_rejected(problem, model):
    (a, u), _ = problem
    with pytest.raises(ValueError, match="fewer than one batch"):
        fit(model, (a[:1], u[:1]), config=CONFIG, progress=False)
    with pytest.raises(ValueError, match=r"maps one input \(2, 8, 8\) to \(1, 8, 8\), but"):
        fit(model, (a, jnp.concatenate([u, u], axis=1)), config=CONFIG, progress=False)
    with pytest.raises(ValueError, match="test inputs .* do not match"):
        fit(model, (a, u), (a[:, :1], u), config=CONFIG, progress=False)
    with pytest.raises(ValueError, match="JSON"):
        fit(model, (a, u), config=CONFIG, progress=False, metadata={"key": object()})
    with pytest.raises(ValueError, match="TrainConfig"):
        fit(model, (a, u), config=CONFIG.to_dict(), progress=False)


def test_sum_reduction_scales_the_gradient_by_the_batch_size(problem):
    """One SGD step (float64): the summed batch loss moves the weights batch_size times
    as far as the mean, and the recorded loss is the per-sample mean either way."""
    import equinox as eqx
    import optax

    from sciml.train.epoch import make_train_epoch
    from sciml.train.losses import relative_l2

    from .conftest import PointwiseMLP

    model = PointwiseMLP(2, 1, key=jax.random.key(1), dtype=jnp.float64)
    inputs, outputs = (np.asarray(x, np.float64) for x in problem[0])
    params, rest = eqx.partition(model, eqx.is_inexact_array)
    frozen, static = eqx.partition(rest, eqx.is_array)
    order = jnp.arange(len(inputs))
    moved, losses = {}, {}
    for reduction in ("mean", "sum"):
        optimizer = optax.chain(optax.sgd(0.05), optax.scale_by_schedule(lambda step: 1.0))
        epoch = make_train_epoch(static, optimizer, lambda step: 0.05, relative_l2, 4, 1, reduction)
        start = jax.tree.map(jnp.copy, params)
        new, _, metrics = epoch(start, optimizer.init(start), frozen, inputs, outputs, order)
        moved[reduction] = np.asarray(new.hidden) - np.asarray(params.hidden)
        losses[reduction] = float(metrics["loss"])
    np.testing.assert_allclose(moved["sum"], 4 * moved["mean"], rtol=1e-12)
    assert losses["sum"] == pytest.approx(losses["mean"])


def test_the_step_by_step_epoch_follows_the_scanned_one(problem, trained, model):
    # The same optimiser steps, run one compiled call at a time instead of in one scan.
    import dataclasses

    _, scanned, _, _ = trained
    steps = dataclasses.replace(CONFIG, epoch_loop="steps")
    traces_before = type(model).traces[0]
    _, stepped = fit(model, *problem, config=steps, progress=False)
    assert type(model).traces[0] - traces_before <= 3  # compiled once, not per step
    np.testing.assert_allclose(stepped["train_loss"], scanned["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(stepped["test_l2"], scanned["test_l2"], rtol=1e-5)
    np.testing.assert_allclose(stepped["learning_rate"], scanned["learning_rate"], rtol=1e-7)
    assert stepped["train_loss"][-1] < stepped["train_loss"][0] / 10
    with pytest.raises(ValueError, match="unknown epoch_loop 'python'"):
        TrainConfig(epoch_loop="python")
