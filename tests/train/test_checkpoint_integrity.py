"""Checkpoints are verified on loading: a damaged one is refused by name, and "the
latest" falls back to the newest intact one (resume too, bit for bit)."""

import collections
import json
import random
import shutil
import time
import warnings
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

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
from sciml.train.checkpoint import (
    DamagedCheckpointError,
    DamagedCheckpointWarning,
    latest_intact_epoch,
    load_train_record,
)

CONFIG = TrainConfig(
    epochs=4,
    batch_size=4,
    learning_rate=0.05,
    optimizer="adam",
    schedule="cosine",
    seed=3,
    checkpoint_every=1,
)
METADATA = {"model": {"name": "tiny", "width": 32}}


class Tiny(eqx.Module):
    """Arrays large enough (4 KiB) to be stored in data files of their own, besides
    small ones that orbax keeps inline, and an integer one."""

    weight: jax.Array
    bias: jax.Array
    count: jax.Array

    def __init__(self, key):
        self.weight = jax.random.normal(key, (32, 32), jnp.float32)
        self.bias = jnp.arange(3, dtype=jnp.float32)
        self.count = jnp.arange(4, dtype=jnp.int32)


def leaves(tree):
    return jax.tree.leaves(eqx.filter(tree, eqx.is_array))


def same_arrays(a, b) -> bool:
    a, b = leaves(a), leaves(b)
    return len(a) == len(b) > 0 and all(
        x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b)
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Checkpoints 1 and 2 of a Tiny model and its Adam state, the arrays of each."""
    directory = tmp_path_factory.mktemp("saved") / "run"
    optimizer = optax.adam(1e-2)
    model = Tiny(jax.random.key(0))
    states = {}
    for epoch in (1, 2):
        model = eqx.tree_at(lambda m: (m.weight, m.bias), model, (model.weight + 1, model.bias - 1))
        params = eqx.filter(model, eqx.is_inexact_array)
        _, opt_state = optimizer.update(params, optimizer.init(params), params)
        save_checkpoint(
            directory,
            epoch,
            model,
            opt_state,
            config=CONFIG,
            key=jax.random.key(epoch),
            history={"train_loss": [0.5, 0.25][:epoch]},
            metadata=METADATA,
        )
        states[epoch] = (model, opt_state)
    return directory, states


def copy_of(saved, tmp_path):
    directory, _ = saved
    shutil.copytree(directory, tmp_path / "run")
    return tmp_path / "run"


def load(directory, states, **kwargs):
    """Checkpoint ``directory`` read into the structure of the saved ones."""
    like_model, like_opt_state = states[1]
    return load_checkpoint(directory, like_model, like_opt_state=like_opt_state, **kwargs)


def data_files(step: Path) -> list[Path]:
    """The files of a checkpoint's model arrays that orbax keeps out of line (> 1 KiB)."""
    return sorted(p for p in (step / "model").rglob("*") if p.is_file() and p.stat().st_size > 1024)


def test_checksums_are_stored_beside_each_leaf(saved):
    directory, states = saved
    record = load_train_record(directory)
    assert record["format"] == 2
    for leaf in record["model_leaves"] + record["opt_state_leaves"]:
        assert len(leaf["checksum"]) == 32 and int(leaf["checksum"], 16) >= 0
    weight = next(leaf for leaf in record["model_leaves"] if leaf["path"] == ".weight")
    assert weight["shape"] == [32, 32] and weight["dtype"] == "float32"
    checkpoint = load(directory, states)
    assert checkpoint.epoch == 2 and checkpoint.skipped == ()
    assert same_arrays(checkpoint.model, states[2][0])
    assert same_arrays(checkpoint.opt_state, states[2][1])


def test_one_flipped_byte_in_an_array_file_is_refused_by_name(saved, tmp_path):
    directory = copy_of(saved, tmp_path)
    (data,) = data_files(directory / "2")
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0x01
    data.write_bytes(bytes(content))
    with pytest.raises(DamagedCheckpointError, match=f"checkpoint {directory / '2'} is damaged"):
        load_model(directory, saved[1][1][0], epoch=2)
    with pytest.raises(ValueError, match=f"{directory / '2'}.*model"):
        load_checkpoint(directory, saved[1][1][0], epoch=2)


def test_a_damaged_latest_falls_back_to_the_previous_checkpoint(saved, tmp_path):
    directory = copy_of(saved, tmp_path)
    shutil.rmtree(directory / "2" / "model")
    with pytest.warns(DamagedCheckpointWarning, match=f"loaded {directory / '1'} instead.*"):
        checkpoint = load(directory, saved[1])
    assert checkpoint.epoch == 1 and checkpoint.path == directory / "1"
    assert same_arrays(checkpoint.model, saved[1][1][0])
    assert same_arrays(checkpoint.opt_state, saved[1][1][1])
    assert checkpoint.history == {"train_loss": [0.5]}
    (skip,) = checkpoint.skipped
    assert skip.path == directory / "2" and "cannot read its model arrays" in skip.reason
    with pytest.warns(DamagedCheckpointWarning):
        assert same_arrays(load_model(directory, saved[1][1][0]), saved[1][1][0])
    # the folder still holds a run of epoch 2, whose newest intact checkpoint is 1
    assert latest_epoch(directory) == 2
    assert latest_intact_epoch(directory)[0] == 1
    # named explicitly, the damaged one is refused
    with pytest.raises(DamagedCheckpointError, match=f"{directory / '2'} is damaged"):
        load(directory, saved[1], epoch=2)


def test_a_deleted_data_file_and_a_stray_empty_folder_are_skipped(saved, tmp_path):
    directory = copy_of(saved, tmp_path)
    data_files(directory / "2")[0].unlink()
    (directory / "99").mkdir()
    with pytest.warns(DamagedCheckpointWarning) as caught:
        checkpoint = load(directory, saved[1])
    assert checkpoint.epoch == 1
    assert [skip.path.name for skip in checkpoint.skipped] == ["99", "2"]
    message = str(caught[0].message)
    assert str(directory / "99") in message and str(directory / "2") in message
    epoch, skipped = latest_intact_epoch(directory)
    assert epoch == 1 and [skip.path for skip in skipped] == [directory / "99", directory / "2"]
    # the stray folder holds no record; checkpoint 2's record is intact, its arrays not
    assert latest_epoch(directory) == 2


def test_damaged_records_and_metadata_are_refused(saved, tmp_path):
    directory = copy_of(saved, tmp_path)
    record = directory / "2" / "train" / "metadata"
    stored = json.loads(record.read_text())
    stored["history"]["train_loss"][0] = 0.75  # valid JSON, another history
    record.write_text(json.dumps(stored))
    with pytest.raises(DamagedCheckpointError, match="training record .* does not match"):
        load_train_record(directory, epoch=2)
    assert latest_epoch(directory) == 1
    (directory / "1" / "metadata" / "metadata").write_text('{"model": {"name": "big"}}')
    with pytest.raises(DamagedCheckpointError, match=f"{directory / '1'} is damaged: its metadata"):
        load_metadata(directory, epoch=1)
    with pytest.raises(DamagedCheckpointError, match=f"no checkpoint in {directory} reads back"):
        load_metadata(directory)


def test_nothing_intact_is_a_named_error(saved, tmp_path):
    directory = copy_of(saved, tmp_path)
    for step in ("1", "2"):
        shutil.rmtree(directory / step / "opt_state")
    with pytest.raises(DamagedCheckpointError, match=f"no checkpoint in {directory} reads back"):
        load(directory, saved[1])
    assert latest_intact_epoch(directory)[0] is None and latest_epoch(directory) == 2


def test_a_checkpoint_of_the_unchecked_format_is_read_with_a_warning(saved, tmp_path):
    directory = copy_of(saved, tmp_path)
    path = directory / "2" / "train" / "metadata"
    record = json.loads(path.read_text())
    del record["checksum"], record["metadata_checksum"]
    for leaf in record["model_leaves"] + record["opt_state_leaves"]:
        del leaf["checksum"]
    path.write_text(json.dumps({**record, "format": 1}))
    with pytest.warns(UserWarning, match="before checkpoints carried checksums"):
        assert same_arrays(load_model(directory, saved[1][1][0]), saved[1][2][0])


# --- resume ------------------------------------------------------------------------


class Interrupt(Exception):
    pass


def stop_after(epoch_to_stop):
    def callback(epoch, history):
        if epoch == epoch_to_stop:
            raise Interrupt

    return callback


@pytest.fixture(scope="module")
def interrupted(problem, model, tmp_path_factory):
    """An uninterrupted run, and one stopped after epoch 3 (checkpoints 1, 2, 3)."""
    full = fit(model, *problem, config=CONFIG, progress=False)
    folder = tmp_path_factory.mktemp("interrupted") / "run"
    with pytest.raises(Interrupt):
        fit(
            model,
            *problem,
            config=CONFIG,
            checkpoint_dir=folder,
            callbacks=[stop_after(3)],
            progress=False,
        )
    assert latest_epoch(folder) == 3
    return full, folder


def assert_same_run(resumed, full):
    (model, history), (full_model, full_history) = resumed, full
    assert same_arrays(model, full_model)
    for name in ("train_loss", "test_l2", "learning_rate"):
        assert history[name] == full_history[name], name


def test_resume_falls_back_past_a_deleted_model_and_ends_bit_for_bit(
    interrupted, problem, model, tmp_path
):
    full, folder = interrupted
    shutil.copytree(folder, tmp_path / "run")
    shutil.rmtree(tmp_path / "run" / "3" / "model")
    with pytest.warns(DamagedCheckpointWarning, match=f"{tmp_path / 'run' / '3'}"):
        resumed = fit(model, *problem, config=CONFIG, resume=tmp_path / "run", progress=False)
    assert_same_run(resumed, full)
    # the damaged checkpoint is set aside, and epochs 3 and 4 written again
    assert (tmp_path / "run" / "3.damaged").is_dir()
    assert latest_intact_epoch(tmp_path / "run") == (4, ())
    assert same_arrays(load_model(tmp_path / "run", model), full[0])


def test_resume_skips_a_stray_empty_newest_folder(interrupted, problem, model, tmp_path):
    full, folder = interrupted
    shutil.copytree(folder, tmp_path / "run")
    (tmp_path / "run" / "99").mkdir()
    assert latest_epoch(tmp_path / "run") == 3
    with pytest.warns(DamagedCheckpointWarning, match=f"{tmp_path / 'run' / '99'}"):
        resumed = fit(model, *problem, config=CONFIG, resume=tmp_path / "run", progress=False)
    assert_same_run(resumed, full)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["2", "3", "4", "99.damaged"]


def test_resume_refuses_a_folder_without_an_intact_checkpoint(
    interrupted, problem, model, tmp_path
):
    _, folder = interrupted
    shutil.copytree(folder, tmp_path / "run")
    for step in ("1", "2", "3"):
        shutil.rmtree(tmp_path / "run" / step / "model")
    with pytest.raises(DamagedCheckpointError, match=f"no checkpoint in {tmp_path / 'run'}"):
        fit(model, *problem, config=CONFIG, resume=tmp_path / "run", progress=False)


def test_a_checkpoint_never_overwrites_a_newer_one(saved, tmp_path):
    directory = copy_of(saved, tmp_path)
    with pytest.raises(ValueError, match="already holds checkpoint 2"):
        save_checkpoint(directory, 1, saved[1][1][0])


def test_the_non_finite_stop_names_only_an_intact_checkpoint_good(
    tmp_path, problem, model, diverging
):
    # 6 steps an epoch: epochs 1 and 2 at lr 1e-3, then NaN updates
    config = TrainConfig(epochs=4, batch_size=4, learning_rate=1e-3, checkpoint_every=1)

    def damage_checkpoint_2(epoch, history):
        if epoch == 2:  # once orbax has renamed it into place, remove its arrays
            deadline = time.monotonic() + 60
            while not (tmp_path / "2" / "_CHECKPOINT_METADATA").exists():
                assert time.monotonic() < deadline, "checkpoint 2 was never written"
                time.sleep(0.01)
            shutil.rmtree(tmp_path / "2" / "model")

    with pytest.raises(NonFiniteLossError) as caught:
        fit(
            model,
            problem[0],
            config=config,
            optimizer=diverging(1e-3, good_steps=12),
            checkpoint_dir=tmp_path,
            callbacks=[damage_checkpoint_2],
            progress=False,
        )
    error = caught.value
    assert error.epoch == 3 and error.checkpoint == tmp_path.absolute() / "1"
    message = str(error)
    assert f"last good checkpoint (epoch 1) is kept at {tmp_path.absolute() / '1'}" in message
    assert f"the checkpoint {tmp_path.absolute() / '2'} is damaged" in message


# --- fault injection -----------------------------------------------------------------


def outcome(directory, states) -> str:
    """What loading the latest checkpoint of ``directory`` makes of it: "identical"
    (checkpoint 2 as saved), "fallback" (checkpoint 1 as saved, 2 named as skipped)
    or "refused" (a ValueError or FileNotFoundError naming the folder)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DamagedCheckpointWarning)
            checkpoint = load(directory, states)
    except (ValueError, FileNotFoundError) as error:
        assert str(directory) in str(error), error
        return "refused"
    model, opt_state = states[checkpoint.epoch]
    assert same_arrays(checkpoint.model, model) and same_arrays(checkpoint.opt_state, opt_state)
    assert checkpoint.metadata == METADATA and checkpoint.config == CONFIG
    assert checkpoint.history == {"train_loss": [0.5, 0.25][: checkpoint.epoch]}
    np.testing.assert_array_equal(
        jax.random.key_data(checkpoint.key), jax.random.key_data(jax.random.key(checkpoint.epoch))
    )
    if checkpoint.epoch == 2:
        assert checkpoint.skipped == ()
        return "identical"
    assert checkpoint.epoch == 1
    assert [skip.path for skip in checkpoint.skipped] == [directory / "2"]
    assert str(directory / "2") in checkpoint.skipped[0].reason
    return "fallback"


# orbax leaves a read coroutine unawaited when a file fails to decode
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_fault_injection_never_loads_a_silently_different_array(saved, tmp_path):
    """Bytes flipped all over checkpoint 2's files (and each file deleted) end in an
    identical read, a fallback to checkpoint 1, or a named refusal: never in other
    arrays, nor in an exception of another type."""
    directory = copy_of(saved, tmp_path)
    states = saved[1]
    files = sorted(p for p in (directory / "2").rglob("*") if p.is_file())
    sizes = [f.stat().st_size for f in files]
    total = sum(sizes)
    starts = np.cumsum([0, *sizes])
    # 200 offsets evenly spread over all the bytes, the first byte of every file, and
    # 30 random (offset, xor mask) pairs of a fixed seed
    flips = [(int(at), 0xFF) for at in np.linspace(0, total - 1, 200)]
    flips += [(int(start), 0xFF) for start in starts[:-1]]
    rng = random.Random(0)
    flips += [(rng.randrange(total), rng.randrange(1, 256)) for _ in range(30)]
    counts: collections.Counter = collections.Counter()
    for at, mask in flips:
        index = int(np.searchsorted(starts, at, side="right")) - 1
        path, offset = files[index], at - starts[index]
        original = path.read_bytes()
        damaged = bytearray(original)
        damaged[offset] ^= mask
        path.write_bytes(bytes(damaged))
        try:
            counts["flip: " + outcome(directory, states)] += 1
        finally:
            path.write_bytes(original)
    for path in files:
        original = path.read_bytes()
        path.unlink()
        try:
            counts["delete: " + outcome(directory, states)] += 1
        finally:
            path.write_bytes(original)
    print(f"\n{len(files)} files, {total} bytes:", dict(sorted(counts.items())))
    assert sum(counts.values()) == len(flips) + len(files)
    # the injection reaches the arrays: some flips must be caught
    assert counts["flip: fallback"] > 0 and counts["delete: fallback"] > 0
    assert outcome(directory, states) == "identical"


def test_checksums_do_not_depend_on_the_byte_order():
    from sciml.train.checkpoint import _checksum

    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert _checksum(values) == _checksum(values.astype(">f4")) == _checksum(values.T.T)
    assert _checksum(values) != _checksum(values.astype(np.float64))
    other = values.copy()
    other[1, 2] = np.nextafter(other[1, 2], np.float32(20))
    assert _checksum(values) != _checksum(other)
    assert _checksum(np.float32(1.5)) == _checksum(np.array([1.5], np.float32))
