"""fit with a researcher's own parts: an OperatorDataset, an optax optimiser and a loss
callable, used as given, checkpointed and resumed bit for bit; loud errors for bad ones."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from sciml.data import OperatorDataset
from sciml.train import TrainConfig, fit, latest_epoch, load_checkpoint, relative_l2
from sciml.train.checkpoint import load_train_record
from sciml.train.fit import _split

from .conftest import PointwiseMLP

CONFIG = TrainConfig(epochs=2, batch_size=4, learning_rate=0.05, weight_decay=0.0, seed=5)
RESUME_CONFIG = dataclasses.replace(CONFIG, epochs=4, checkpoint_every=2)


def arrays_of(model):
    return jax.tree.leaves(eqx.filter(model, eqx.is_array))


def assert_same_run(a, b):
    """Two ``(model, history)`` results are equal bit for bit (timings aside)."""
    (model_a, history_a), (model_b, history_b) = a, b
    assert set(history_a) == set(history_b)
    for name in history_a:
        if name != "epoch_time":
            np.testing.assert_array_equal(history_a[name], history_b[name], err_msg=name)
    leaves_a, leaves_b = arrays_of(model_a), arrays_of(model_b)
    assert len(leaves_a) == len(leaves_b) > 0
    for x, y in zip(leaves_a, leaves_b):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def assert_different_models(a, b):
    assert any(not np.array_equal(x, y) for x, y in zip(arrays_of(a), arrays_of(b)))


def as_dataset(split):
    inputs, outputs = split
    coords = tuple(np.linspace(0, 1, n) for n in inputs.shape[2:])
    return OperatorDataset(inputs, outputs, coords)


@pytest.fixture(scope="module")
def default_run(problem, model):
    return fit(model, *problem, config=CONFIG, progress=False)


def test_an_operator_dataset_trains_as_its_arrays_do(problem, model, default_run):
    train, test = problem
    from_datasets = fit(model, as_dataset(train), as_dataset(test), config=CONFIG, progress=False)
    assert_same_run(from_datasets, default_run)
    assert len(default_run[1]["test_l2"]) == CONFIG.epochs


def test_a_loss_callable_is_vmapped_and_reduced_as_the_built_in_losses(problem, model):
    calls = []

    def my_relative_l2(prediction, target):
        calls.append(prediction.shape)  # traced on one sample, not on a batch
        return relative_l2(prediction, target)

    for reduction in ("mean", "sum"):
        config = dataclasses.replace(CONFIG, loss_reduction=reduction, optimizer="adamw")
        built_in = fit(model, *problem, config=config, loss="l2", progress=False)
        calls.clear()
        mine = fit(model, *problem, config=config, loss=my_relative_l2, progress=False)
        assert calls and set(calls) == {(1, 8, 8)}
        assert_same_run(mine, built_in)


def test_a_hand_written_loss_trains_by_its_own_value(problem, model, default_run):
    def written_out_l2(prediction, target):
        return jnp.sqrt(jnp.sum((prediction - target) ** 2) / jnp.sum(target**2))

    written = fit(model, *problem, config=CONFIG, loss=written_out_l2, progress=False)
    # the same maths by other operations: equal to float32 rounding
    np.testing.assert_allclose(
        written[1]["train_loss"], default_run[1]["train_loss"], rtol=1e-5, atol=0
    )

    def offset_l2(prediction, target):
        return relative_l2(prediction, target) + 10.0

    # a constant offset leaves the gradients alone but is in the recorded loss
    offset_model, offset_history = fit(
        model, *problem, config=CONFIG, loss=offset_l2, progress=False
    )
    for x, y in zip(arrays_of(offset_model), arrays_of(default_run[0])):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        np.asarray(offset_history["train_loss"]) - 10.0,
        default_run[1]["train_loss"],
        rtol=0,
        atol=1e-5,
    )

    def squared_error(prediction, target):
        return jnp.mean((prediction - target) ** 2)

    squared_model, _ = fit(model, *problem, config=CONFIG, loss=squared_error, progress=False)
    assert_different_models(squared_model, default_run[0])


def test_a_loss_name_overrides_the_configs_loss(problem, model, tmp_path):
    by_name = fit(
        model, *problem, config=CONFIG, loss="h1", checkpoint_dir=tmp_path, progress=False
    )
    by_config = fit(model, *problem, config=dataclasses.replace(CONFIG, loss="h1"), progress=False)
    assert_same_run(by_name, by_config)
    assert load_checkpoint(tmp_path, model).config.loss == "h1"
    with pytest.raises(AssertionError):
        assert_same_run(by_name, fit(model, *problem, config=CONFIG, progress=False))


def test_a_user_optimizer_is_applied_as_given(problem):
    """One full-batch step of optax.sgd moves the weights by -lr * grad, whatever the
    optimiser fields of the config say; the learning rate it leaves no trace of is NaN."""
    model = PointwiseMLP(2, 1, key=jax.random.key(2), dtype=jnp.float64)
    inputs, outputs = (np.asarray(x, np.float64) for x in problem[0])
    one_step = TrainConfig(epochs=1, batch_size=len(inputs), learning_rate=1.0, optimizer="adamw")
    trained, history = fit(
        model, (inputs, outputs), config=one_step, optimizer=optax.sgd(0.1), progress=False
    )

    def loss(params):
        network = eqx.combine(params, _split(model)[2])
        return jnp.mean(jax.vmap(lambda a, u: relative_l2(network(a), u))(inputs, outputs))

    params = _split(model)[0]
    expected = jax.tree.map(lambda p, g: p - 0.1 * g, params, jax.grad(loss)(params))
    for x, y in zip(arrays_of(trained), jax.tree.leaves(expected)):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)
    assert np.isnan(history["learning_rate"]).all() and len(history["learning_rate"]) == 1
    other_config = dataclasses.replace(one_step, optimizer="adam", learning_rate=1e-3)
    again, _ = fit(
        model, (inputs, outputs), config=other_config, optimizer=optax.sgd(0.1), progress=False
    )
    for x, y in zip(arrays_of(trained), arrays_of(again)):
        np.testing.assert_array_equal(x, y)


def test_a_user_optimizer_changes_training_and_reports_an_injected_rate(
    problem, model, default_run
):
    steps_per_epoch = 24 // CONFIG.batch_size
    schedule = optax.exponential_decay(0.05, steps_per_epoch, 0.5)
    optimizer = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule)
    trained, history = fit(model, *problem, config=CONFIG, optimizer=optimizer, progress=False)
    assert_different_models(trained, default_run[0])
    # the rate of each epoch's first step, read from the optimiser's state
    expected = [float(schedule(epoch * steps_per_epoch)) for epoch in range(CONFIG.epochs)]
    assert history["learning_rate"] == pytest.approx(expected, rel=1e-6)
    assert expected[1] == pytest.approx(expected[0] / 2)
    # one compiled call per step reads the same rates and takes the same steps
    steps = dataclasses.replace(CONFIG, epoch_loop="steps")
    _, stepped = fit(model, *problem, config=steps, optimizer=optimizer, progress=False)
    assert stepped["learning_rate"] == history["learning_rate"]
    np.testing.assert_allclose(stepped["train_loss"], history["train_loss"], rtol=1e-5)


def clipped_adamw():
    """The optimiser of the resume tests: clipping, then AdamW on a cosine decay."""
    schedule = optax.cosine_decay_schedule(0.05, 4 * 6, alpha=0.1)
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=0.1))


def relative_l1(prediction, target):
    return jnp.sum(jnp.abs(prediction - target)) / jnp.sum(jnp.abs(target))


class Interrupt(Exception):
    pass


def stop_after(epoch_to_stop):
    def callback(epoch, history):
        if epoch == epoch_to_stop:
            raise Interrupt

    return callback


@pytest.fixture(scope="module")
def user_runs(problem, model, tmp_path_factory):
    """With a user optimiser and loss: 4 epochs straight, and 2 then resumed to 4."""
    optimizer = clipped_adamw()
    parts = {"optimizer": optimizer, "loss": relative_l1, "progress": False}
    full_dir = tmp_path_factory.mktemp("full")
    full = fit(model, *problem, config=RESUME_CONFIG, checkpoint_dir=full_dir, **parts)
    part_dir = tmp_path_factory.mktemp("part")
    with pytest.raises(Interrupt):
        fit(
            model,
            *problem,
            config=RESUME_CONFIG,
            checkpoint_dir=part_dir,
            callbacks=[stop_after(2)],
            **parts,
        )
    interrupted_at = latest_epoch(part_dir)
    # a new optimiser object of the same construction, as a new process would build
    resumed = fit(
        model,
        *problem,
        config=RESUME_CONFIG,
        resume=part_dir,
        optimizer=clipped_adamw(),
        loss=relative_l1,
        progress=False,
    )
    return {
        "full": full,
        "resumed": resumed,
        "interrupted_at": interrupted_at,
        "full_dir": full_dir,
        "part_dir": part_dir,
    }


def test_a_run_with_user_parts_resumes_bit_for_bit(user_runs, default_run):
    assert user_runs["interrupted_at"] == 2
    assert_same_run(user_runs["resumed"], user_runs["full"])
    history = user_runs["full"][1]
    assert len(history["train_loss"]) == RESUME_CONFIG.epochs
    # optax.adamw keeps no readable rate: NaN, through the checkpoint too
    assert np.isnan(history["learning_rate"]).all()
    assert np.isnan(user_runs["resumed"][1]["learning_rate"]).all()
    assert_different_models(user_runs["full"][0], default_run[0])


def test_checkpoints_record_the_user_parts(user_runs, model):
    part_dir = user_runs["part_dir"]
    record = load_train_record(part_dir, epoch=2)
    assert (record["optimizer"], record["loss"]) == ("user", "user")
    checkpoint = load_checkpoint(part_dir, model, epoch=2)
    assert (checkpoint.optimizer, checkpoint.loss) == ("user", "user")
    # the TrainConfig cannot rebuild the caller's optimiser state...
    assert checkpoint.opt_state is None
    # ...the caller's optimiser can
    like = jax.eval_shape(clipped_adamw().init, _split(model)[0])
    restored = load_checkpoint(part_dir, model, epoch=2, like_opt_state=like)
    counts = [leaf for leaf in jax.tree.leaves(restored.opt_state) if leaf.ndim == 0]
    assert counts and all(int(count) == 2 * 6 for count in counts)


def test_resuming_with_other_parts_is_refused(user_runs, problem, model, tmp_path):
    part_dir = user_runs["part_dir"]
    resume = {"config": RESUME_CONFIG, "resume": part_dir, "progress": False}
    with pytest.raises(ValueError, match="opt_state has 8 arrays.* has 0; load it with the opt"):
        fit(model, *problem, optimizer=optax.sgd(0.1), loss=relative_l1, **resume)
    # the same arrays in another order of the chain: only the paths tell them apart
    schedule = optax.cosine_decay_schedule(0.05, 4 * 6, alpha=0.1)
    swapped = optax.chain(optax.adamw(schedule, weight_decay=0.1), optax.clip_by_global_norm(1.0))
    with pytest.raises(
        ValueError, match=r"opt_state array \[1\]\[0\]\.count is .* at \[0\]\[0\]\.count"
    ):
        fit(model, *problem, optimizer=swapped, loss=relative_l1, **resume)
    with pytest.raises(ValueError, match="trained with an optimizer= of the caller's, this call"):
        fit(model, *problem, loss=relative_l1, **resume)
    with pytest.raises(ValueError, match="trained with a loss callable of the caller's"):
        fit(model, *problem, optimizer=clipped_adamw(), **resume)
    # and a run of the config's optimiser does not take the caller's
    fit(model, *problem, config=CONFIG, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="trained with the optimiser its TrainConfig names"):
        fit(model, *problem, config=CONFIG, resume=tmp_path, optimizer=optax.adam(1e-3))
    assert latest_epoch(part_dir) == 4  # the resumed run's; the refused ones wrote none


def test_config_defaults_to_the_fno_recipe(problem, model):
    (a, u), _ = problem
    # TrainConfig() batches 20 samples: 10 are fewer than one batch
    with pytest.raises(ValueError, match=r"fewer than one batch \(batch_size=20\)"):
        fit(model, (a[:10], u[:10]), progress=False)


def test_bad_parts_are_rejected_naming_what_was_expected(problem, model):
    train, _ = problem
    expected_optimizer = "optimizer to be an optax.GradientTransformation"
    with pytest.raises(ValueError, match=f"{expected_optimizer}.*got the function adam.*called"):
        fit(model, train, config=CONFIG, optimizer=optax.adam)
    with pytest.raises(ValueError, match=f"{expected_optimizer}.*got str"):
        fit(model, train, config=CONFIG, optimizer="adam")
    expected_loss = (
        "loss to be one of 'l2', 'h1', 'hminus1', 'mse', a callable loss\\(prediction, target\\)"
    )
    with pytest.raises(ValueError, match=f"unknown loss 'mae'; fit expects {expected_loss}"):
        fit(model, train, config=CONFIG, loss="mae")
    with pytest.raises(ValueError, match=f"fit expects {expected_loss}.*got int"):
        fit(model, train, config=CONFIG, loss=2)
    with pytest.raises(ValueError, match=r"real scalar .* \(1, 8, 8\), got float32\(1, 8, 8\)"):
        fit(model, train, config=CONFIG, loss=lambda prediction, target: prediction - target)
    with pytest.raises(ValueError, match=r"loss cannot be applied .* shape \(1, 8, 8\)"):
        fit(model, train, config=CONFIG, loss=lambda prediction: prediction.sum())
    expected_data = "an OperatorDataset or a pair \\(inputs, outputs\\) of arrays"
    with pytest.raises(ValueError, match=f"train split must be {expected_data}, got ndarray"):
        fit(model, train[0], config=CONFIG)
    with pytest.raises(ValueError, match=f"test split must be {expected_data}, got dict"):
        fit(model, train, {"inputs": train[0]}, config=CONFIG)
