"""Checkpoints: bit-for-bit resume, config checks, the non-finite stop, reloading models."""

import dataclasses
import json
import shutil

import equinox as eqx
import jax
import numpy as np
import pytest

from sciml.data.normalise import GaussianNormaliser, NormalisedOperator
from sciml.train import (
    NonFiniteLossError,
    TrainConfig,
    fit,
    latest_epoch,
    load_checkpoint,
    load_metadata,
    load_model,
    save_checkpoint,
)
from sciml.train.epoch import compiled_epoch
from sciml.train.fit import _recipe, _split

CONFIG = TrainConfig(
    epochs=4,
    batch_size=4,
    learning_rate=0.05,
    optimizer="adamw",
    weight_decay=0.1,
    schedule="cosine",
    seed=7,
    checkpoint_every=2,
)
METADATA = {"model": {"name": "pointwise", "width": 8}}


class Interrupt(Exception):
    pass


def stop_after(epoch_to_stop):
    def callback(epoch, history):
        assert len(history["train_loss"]) == epoch
        if epoch == epoch_to_stop:
            raise Interrupt

    return callback


def assert_same_arrays(a, b):
    a_leaves = jax.tree.leaves(eqx.filter(a, eqx.is_array))
    b_leaves = jax.tree.leaves(eqx.filter(b, eqx.is_array))
    assert len(a_leaves) == len(b_leaves) > 0
    for x, y in zip(a_leaves, b_leaves):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def wrapped(problem, model):
    """The tiny network between per-point normalisers, as the FNO recipe trains it."""
    (a, u), _ = problem
    return NormalisedOperator(model, GaussianNormaliser.fit(a), GaussianNormaliser.fit(u))


@pytest.fixture(scope="module")
def runs(problem, wrapped, tmp_path_factory):
    """An uninterrupted 4-epoch run, and one interrupted after epoch 2 then resumed."""
    traces = type(wrapped.operator).traces
    counts = {"before": traces[0]}
    full_dir = tmp_path_factory.mktemp("full")
    full = fit(
        wrapped, *problem, config=CONFIG, checkpoint_dir=full_dir, progress=False, metadata=METADATA
    )
    counts["full"] = traces[0]
    part_dir = tmp_path_factory.mktemp("part")
    with pytest.raises(Interrupt):
        fit(
            wrapped,
            *problem,
            config=CONFIG,
            checkpoint_dir=part_dir,
            progress=False,
            callbacks=[stop_after(2)],
            metadata=METADATA,
        )
    interrupted_at = latest_epoch(part_dir)
    counts["part"] = traces[0]
    resumed = fit(wrapped, *problem, config=CONFIG, resume=part_dir, progress=False)
    counts["resumed"] = traces[0]
    return {
        "traces": {
            "full": counts["full"] - counts["before"],
            "part": counts["part"] - counts["full"],
            "resumed": counts["resumed"] - counts["part"],
        },
        "full": full,
        "full_dir": full_dir,
        "resumed": resumed,
        "part_dir": part_dir,
        "interrupted_at": interrupted_at,
    }


def test_an_interrupted_run_resumes_bit_for_bit(runs):
    (full_model, full_history), (resumed_model, resumed_history) = runs["full"], runs["resumed"]
    assert runs["interrupted_at"] == 2
    assert_same_arrays(resumed_model, full_model)
    for name in ("train_loss", "test_l2", "test_h1", "learning_rate"):
        assert resumed_history[name] == full_history[name], name
    assert len(resumed_history["epoch_time"]) == CONFIG.epochs
    # the schedule decayed over the run, so restoring its step count mattered
    assert full_history["learning_rate"][-1] < full_history["learning_rate"][0] / 2


def test_runs_of_one_configuration_share_one_compilation(runs, wrapped):
    # after the first run, only the up-front shape check traces the network
    assert 0 < runs["traces"]["full"] <= 3
    assert runs["traces"]["part"] <= 1 and runs["traces"]["resumed"] <= 1
    # and the restored arrays do not force a second executable (white-box)
    _, train_epoch = compiled_epoch(_split(wrapped)[2], _recipe(CONFIG), 6, 24)
    if not hasattr(train_epoch, "_cache_size"):
        pytest.skip("this jax version does not report the compilation cache size")
    assert train_epoch._cache_size() == 1


def test_training_leaves_the_normaliser_statistics_alone(runs, wrapped):
    trained, _ = runs["full"]
    for name in ("input_normaliser", "output_normaliser"):
        assert_same_arrays(getattr(trained, name), getattr(wrapped, name))
    with pytest.raises(AssertionError):
        assert_same_arrays(trained.operator, wrapped.operator)


def test_checkpoints_hold_the_run(runs, wrapped):
    full_dir = runs["full_dir"]
    assert sorted(int(p.name) for p in full_dir.iterdir()) == [2, 4]
    checkpoint = load_checkpoint(full_dir, wrapped)
    assert checkpoint.epoch == 4 and checkpoint.config == CONFIG
    assert checkpoint.metadata == METADATA == load_metadata(full_dir)
    assert checkpoint.steps_per_epoch == 6 and checkpoint.schedule_steps == 24
    np.testing.assert_array_equal(
        jax.random.key_data(checkpoint.key), jax.random.key_data(jax.random.key(CONFIG.seed))
    )
    full_model, full_history = runs["full"]
    assert checkpoint.history["test_l2"] == full_history["test_l2"]
    assert_same_arrays(checkpoint.model, full_model)
    assert_same_arrays(load_model(full_dir, wrapped), full_model)
    earlier = load_model(full_dir, wrapped, epoch=2)
    with pytest.raises(AssertionError):
        assert_same_arrays(earlier, full_model)


def test_more_epochs_go_on_at_the_original_schedules_final_rate(runs, problem, wrapped, tmp_path):
    shutil.copytree(runs["full_dir"], tmp_path / "run")
    longer = dataclasses.replace(CONFIG, epochs=6)
    model, history = fit(wrapped, *problem, config=longer, resume=tmp_path / "run", progress=False)
    full_model, full_history = runs["full"]
    assert history["train_loss"][:4] == full_history["train_loss"]
    assert len(history["train_loss"]) == 6 and latest_epoch(tmp_path / "run") == 6
    # the cosine of the 4-epoch run has reached 0; a schedule stretched to 6 epochs
    # would still be at a quarter of its peak
    assert history["learning_rate"][4:] == pytest.approx([0.0, 0.0], abs=1e-9)
    for new, old in zip(jax.tree.leaves(model), jax.tree.leaves(full_model)):
        np.testing.assert_allclose(new, old, rtol=1e-6)


def test_resuming_with_another_config_is_refused(runs, problem, wrapped):
    for change in ({"learning_rate": 0.1}, {"schedule": "step"}, {"seed": 8}):
        config = dataclasses.replace(CONFIG, **change)
        (name,) = change
        with pytest.raises(ValueError, match=f"only epochs may change.*{name}"):
            fit(wrapped, *problem, config=config, resume=runs["part_dir"], progress=False)
    (a, u), test = problem
    with pytest.raises(ValueError, match="trained with 6 steps per epoch.* gives 5"):
        fit(wrapped, (a[:20], u[:20]), test, config=CONFIG, resume=runs["part_dir"], progress=False)


def test_a_used_checkpoint_dir_is_not_overwritten(runs, problem, wrapped):
    with pytest.raises(ValueError, match="already holds checkpoints.*epoch 4"):
        fit(wrapped, *problem, config=CONFIG, checkpoint_dir=runs["full_dir"], progress=False)


def test_resuming_from_nothing_is_a_missing_file(tmp_path, problem, wrapped):
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        (tmp_path / "empty").mkdir()
        fit(wrapped, *problem, config=CONFIG, resume=tmp_path / "empty", progress=False)


def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(
    tmp_path, problem, model, diverging
):
    # 6 steps an epoch: epoch 1 at lr 1e-3, then NaN updates
    config = TrainConfig(epochs=4, batch_size=4, learning_rate=1e-3)
    optimizer = diverging(1e-3, good_steps=6)
    with pytest.raises(NonFiniteLossError) as caught:
        fit(
            model,
            problem[0],
            config=config,
            optimizer=optimizer,
            checkpoint_dir=tmp_path,
            progress=False,
        )
    error = caught.value
    assert isinstance(error, FloatingPointError)
    assert error.epoch == 2 and error.checkpoint == tmp_path.absolute() / "1"
    message = str(error)
    assert "epoch 2: the training loss or the parameters are not finite" in message
    assert "epoch 2 was not checkpointed" in message
    assert f"last good checkpoint (epoch 1) is kept at {tmp_path.absolute() / '1'}" in message
    assert latest_epoch(tmp_path) == 1
    good = load_model(tmp_path, model)
    leaves = jax.tree.leaves(eqx.filter(good, eqx.is_array))
    assert all(np.isfinite(leaf).all() for leaf in leaves)
    with pytest.raises(AssertionError):
        assert_same_arrays(good, model)


def test_save_and_load_round_trip_and_reject_a_wrong_model(tmp_path, model):
    path = save_checkpoint(tmp_path, 5, model, metadata={"width": 8})
    assert path == tmp_path.absolute() / "5"
    assert_same_arrays(load_model(tmp_path, model), model)
    assert load_metadata(tmp_path) == {"width": 8}
    loaded = load_checkpoint(tmp_path, model)
    assert loaded.opt_state is None and loaded.config is None and loaded.epoch == 5
    wider = type(model)(2, 1, width=16, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"\.hidden is float32\(8, 2\).*expects float32\(16, 2\)"):
        load_model(tmp_path, wider)
    with pytest.raises(FileNotFoundError, match="no checkpoint of epoch 3.*available: \\[5\\]"):
        load_model(tmp_path, model, epoch=3)
    with pytest.raises(FileNotFoundError, match="no checkpoint directory"):
        load_model(tmp_path / "missing", model)
    with pytest.raises(ValueError, match="JSON-serialisable"):
        save_checkpoint(tmp_path, 6, model, metadata={"f": print})


def test_a_partly_written_checkpoint_is_not_taken_for_one(tmp_path, model):
    save_checkpoint(tmp_path, 1, model)
    # what a crash during the write of epoch 2 leaves: the temporary folder, unrenamed
    (tmp_path / "2.orbax-checkpoint-tmp-1700000000").mkdir()
    (tmp_path / "2.orbax-checkpoint-tmp-1700000000" / "train").mkdir()
    assert latest_epoch(tmp_path) == 1
    assert_same_arrays(load_model(tmp_path, model), model)
    stored = json.loads((tmp_path / "1" / "train" / "metadata").read_text())
    assert stored["epoch"] == 1


def test_stop_ends_a_run_early_checkpointed_and_a_resume_ends_where_the_full_run_ends(
    problem, wrapped, runs, tmp_path
):
    # epoch 3 is not a checkpoint epoch (every 2): stopping there must write it anyway
    stopped_model, history = fit(
        wrapped,
        *problem,
        config=CONFIG,
        checkpoint_dir=tmp_path,
        progress=False,
        metadata=METADATA,
        stop=lambda epoch, history: epoch == 3,
    )
    assert len(history["train_loss"]) == 3
    assert latest_epoch(tmp_path) == 3
    resumed, resumed_history = fit(
        wrapped, *problem, config=CONFIG, resume=tmp_path, progress=False
    )
    full_model, full_history = runs["full"]
    assert_same_arrays(resumed, full_model)
    assert resumed_history["train_loss"] == full_history["train_loss"]
