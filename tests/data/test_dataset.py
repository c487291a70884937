"""OperatorDataset files: round trip, atomic writes, and a cache that never trusts a bad file."""

import contextlib
import logging
import re

import h5py
import numpy as np
import pytest

from sciml.data import dataset as dataset_module
from sciml.data.cache import cache_path, load_or_generate
from sciml.data.dataset import OperatorDataset, config_hash, load_splits, save_splits


def _splits(seed=0, n=(6, 3), s=5):
    rng = np.random.default_rng(seed)
    coords = (np.linspace(0, 1, s), np.linspace(0, 1, s))
    config = {"kind": "toy", "seed": seed}
    make = lambda k: OperatorDataset(
        rng.normal(size=(k, 1, s, s)).astype(np.float32),
        rng.normal(size=(k, 2, s, s)).astype(np.float32),
        coords,
        config,
    )
    return {"train": make(n[0]), "test": make(n[1])}, config


def test_round_trip_keeps_values_shapes_and_config(tmp_path):
    splits, config = _splits()
    path = save_splits(tmp_path / "toy.h5", splits, config)
    loaded = load_splits(path, config)
    assert set(loaded) == {"train", "test"}
    for name in splits:
        np.testing.assert_array_equal(loaded[name].inputs, splits[name].inputs)
        np.testing.assert_array_equal(loaded[name].outputs, splits[name].outputs)
        assert loaded[name].outputs.dtype == np.float32
        for a, b in zip(loaded[name].coords, splits[name].coords):
            np.testing.assert_array_equal(a, b)
        assert loaded[name].config == config
    assert not list(tmp_path.glob("*.tmp")), "temporary files must not be left behind"


def test_config_hash_is_order_independent_and_content_sensitive():
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_mismatched_shapes_are_rejected():
    coords = (np.linspace(0, 1, 4),)
    with pytest.raises(ValueError, match="as many inputs as outputs"):
        OperatorDataset(np.zeros((3, 1, 4)), np.zeros((2, 1, 4)), coords)
    with pytest.raises(ValueError, match=r"grid \(5,\)"):
        OperatorDataset(np.zeros((3, 1, 5)), np.zeros((3, 1, 5)), coords)


def test_missing_file_and_non_hdf5_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no data set file"):
        load_splits(tmp_path / "absent.h5")
    bogus = tmp_path / "bogus.h5"
    bogus.write_text("not an HDF5 file")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        load_splits(bogus)


def test_config_mismatch_is_detected(tmp_path):
    splits, config = _splits()
    path = save_splits(tmp_path / "toy.h5", splits, config)
    with pytest.raises(ValueError, match="was made by config"):
        load_splits(path, {**config, "seed": 99})


@contextlib.contextmanager
def rewritten(path):
    """Change the HDF5 content of a data set file and re-seal it with a matching file
    checksum, as a writer that knew the format would: the checks inside must catch it."""
    with h5py.File(path, "r+") as file:
        yield file
    dataset_module._stamp(path)


def test_changed_file_fails_its_file_checksum_before_hdf5_reads_it(tmp_path):
    splits, config = _splits()
    path = save_splits(tmp_path / "toy.h5", splits, config)
    with h5py.File(path, "r+") as file:
        file["train/outputs"][0, 0, 0, 0] += 1.0
    with pytest.raises(ValueError, match="toy.h5 fails its file checksum"):
        load_splits(path)


@pytest.mark.parametrize("field", ["outputs", "coord_1"])
def test_corrupted_array_fails_its_checksum(tmp_path, field):
    splits, config = _splits()
    path = save_splits(tmp_path / "toy.h5", splits, config)
    with rewritten(path) as file:
        file[f"train/{field}"][0] += 1.0
    with pytest.raises(ValueError, match=f"checksum mismatch in train/{field}"):
        load_splits(path)


def _count_generate(splits, counter):
    def generate():
        counter.append(1)
        return splits

    return generate


def test_cache_generates_once_then_reads(tmp_path):
    splits, config = _splits()
    calls = []
    first, cached = load_or_generate("toy", config, _count_generate(splits, calls), tmp_path)
    assert not cached and len(calls) == 1
    second, cached = load_or_generate("toy", config, _count_generate(splits, calls), tmp_path)
    assert cached and len(calls) == 1
    np.testing.assert_array_equal(second["test"].outputs, splits["test"].outputs)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_damaged_cache_entry_is_regenerated_not_trusted(tmp_path, damage):
    splits, config = _splits()
    calls = []
    load_or_generate("toy", config, _count_generate(splits, calls), tmp_path)
    path = cache_path("toy", config, tmp_path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\0" * len(data))
    else:
        with h5py.File(path, "r+") as file:
            file["test/inputs"][1, 0, 2, 2] = 123.0
    regenerated, cached = load_or_generate("toy", config, _count_generate(splits, calls), tmp_path)
    assert not cached and len(calls) == 2
    np.testing.assert_array_equal(regenerated["test"].inputs, splits["test"].inputs)
    # the replacement on disk is whole again
    reread = load_splits(path, config)
    np.testing.assert_array_equal(reread["test"].inputs, splits["test"].inputs)


def test_failed_write_leaves_previous_file_intact(tmp_path):
    splits, config = _splits()
    path = save_splits(tmp_path / "toy.h5", splits, config)
    before = path.read_bytes()
    test = splits["test"]
    unwritable = OperatorDataset(test.inputs.astype(object), test.outputs, test.coords, config)
    with pytest.raises(TypeError):  # HDF5 cannot store Python objects: fails mid-write
        save_splits(path, {"train": splits["train"], "test": unwritable}, config)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))


# ------------------------------------------------ every bad cache entry is regenerated

SIZED = {"kind": "toy", "seed": 0, "n_train": 6, "n_test": 3}


def _sized_splits(n=(6, 3), s=5, config=SIZED):
    splits, _ = _splits(n=n, s=s)
    return {
        name: OperatorDataset(*data.arrays(), data.coords, config) for name, data in splits.items()
    }


def _write_unchecked(monkeypatch, path, splits, config):
    """An entry as a writer that skipped the checks would have left it."""
    monkeypatch.setattr(dataset_module, "check_splits", lambda *args: None)
    save_splits(path, splits, config)
    monkeypatch.undo()


def _assert_regenerated(tmp_path, caplog, why, required=()):
    path = cache_path("toy", SIZED, tmp_path)
    good = _sized_splits()
    with caplog.at_level(logging.WARNING, logger="sciml.data.cache"):
        splits, cached = load_or_generate(
            "toy", SIZED, lambda: good, tmp_path, required_splits=required
        )
    assert not cached
    (message,) = [r.getMessage() for r in caplog.records if "discarding" in r.getMessage()]
    assert message.startswith(f"discarding cache entry {path} (")
    assert message.endswith("; regenerating")
    assert re.search(why, message), message
    reread = load_splits(path, SIZED, required_splits=("train", "test"))
    for name in good:
        np.testing.assert_array_equal(reread[name].outputs, good[name].outputs)
        np.testing.assert_array_equal(splits[name].inputs, good[name].inputs)


def test_entry_with_sizes_other_than_its_config_is_regenerated(tmp_path, caplog, monkeypatch):
    # checksums hold, but 4 + 2 samples on a 3 x 3 grid where the config says 6 + 3
    wrong = _sized_splits(n=(4, 2), s=3)
    _write_unchecked(monkeypatch, cache_path("toy", SIZED, tmp_path), wrong, SIZED)
    _assert_regenerated(
        tmp_path, caplog, r"holds [42] samples on the grid \(3, 3\), but its config says n_"
    )


def test_entry_holding_nan_is_regenerated_and_named(tmp_path, caplog, monkeypatch):
    bad = _sized_splits()
    bad["test"].outputs[1, 0, 2, 2] = np.nan
    _write_unchecked(monkeypatch, cache_path("toy", SIZED, tmp_path), bad, SIZED)
    _assert_regenerated(tmp_path, caplog, r"test/outputs holds 1 non-finite")


def test_entry_lacking_a_required_split_is_regenerated(tmp_path, caplog):
    save_splits(cache_path("toy", SIZED, tmp_path), {"train": _sized_splits()["train"]}, SIZED)
    _assert_regenerated(tmp_path, caplog, r"lacking \['test'\]", required=("train", "test"))


def test_entry_with_a_deleted_split_is_regenerated(tmp_path, caplog):
    path = save_splits(cache_path("toy", SIZED, tmp_path), _sized_splits(), SIZED)
    with rewritten(path) as file:
        del file["test"]
    _assert_regenerated(tmp_path, caplog, r"its manifest the splits \['test', 'train'\]")


@pytest.mark.parametrize("how", ["external link", "soft link", "external storage"])
def test_entry_pointing_outside_itself_is_regenerated(tmp_path, caplog, how):
    """Even when the values it points at are the right ones."""
    good = _sized_splits()
    path = save_splits(cache_path("toy", SIZED, tmp_path), good, SIZED)
    inputs = good["test"].inputs
    other = tmp_path / "other.bin"
    with rewritten(path) as file:
        del file["test/inputs"]
        if how == "external link":
            with h5py.File(tmp_path / "other.h5", "w") as elsewhere:
                elsewhere["inputs"] = inputs
            file["test/inputs"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/inputs")
        elif how == "soft link":
            file["copy"] = inputs
            file["test/inputs"] = h5py.SoftLink("/copy")
        else:
            other.write_bytes(inputs.tobytes())
            file["test"].create_dataset(
                "inputs", inputs.shape, inputs.dtype, external=[(str(other), 0, inputs.nbytes)]
            )
    _assert_regenerated(tmp_path, caplog, how.split()[0])


def test_entry_of_an_older_format_is_regenerated(tmp_path, caplog):
    path = save_splits(cache_path("toy", SIZED, tmp_path), _sized_splits(), SIZED)
    with rewritten(path) as file:
        file.attrs["format_version"] = 1
    _assert_regenerated(tmp_path, caplog, "format version 1, expected 2")


def test_generator_disagreeing_with_its_config_is_an_error_and_not_cached(tmp_path):
    with pytest.raises(ValueError, match=r"split 'test' holds 2 samples.*n_test = 3"):
        load_or_generate("toy", SIZED, lambda: _sized_splits(n=(6, 2)), tmp_path)
    with pytest.raises(ValueError, match=r"lacking \['test'\]"):
        load_or_generate(
            "toy",
            SIZED,
            lambda: {"train": _sized_splits()["train"]},
            tmp_path,
            required_splits=("train", "test"),
        )
    assert not list(tmp_path.iterdir())


def _identical(splits, good):
    return set(splits) == set(good) and all(
        np.array_equal(splits[name].inputs, good[name].inputs)
        and np.array_equal(splits[name].outputs, good[name].outputs)
        and splits[name].inputs.dtype == good[name].inputs.dtype
        and splits[name].outputs.dtype == good[name].outputs.dtype
        and len(splits[name].coords) == len(good[name].coords)
        and all(np.array_equal(a, b) for a, b in zip(splits[name].coords, good[name].coords))
        and splits[name].config == good[name].config
        for name in good
    )


def test_fault_injection_every_flipped_byte_reads_identically_or_regenerates(tmp_path, caplog):
    """Flip one byte of a cache entry at 300 evenly spread and 200 random offsets: each
    load is either the very same arrays from the cache, or a logged regeneration;
    never other values, never an exception."""
    good = _sized_splits()
    pristine = save_splits(tmp_path / "pristine.h5", good, SIZED).read_bytes()
    directory = tmp_path / "cache"
    path = cache_path("toy", SIZED, directory)
    rng = np.random.default_rng(0)
    offsets = np.concatenate(
        [np.linspace(0, len(pristine) - 1, 300).astype(int), rng.integers(0, len(pristine), 200)]
    )
    masks = rng.integers(1, 256, len(offsets))
    outcomes = {"identical": 0, "regenerated": 0}
    caplog.set_level(logging.WARNING, logger="sciml.data.cache")
    directory.mkdir()
    path.write_bytes(pristine)
    splits, cached = load_or_generate("toy", SIZED, lambda: pytest.fail("cached"), directory)
    assert cached and _identical(splits, good) and not caplog.records
    for offset, mask in zip(offsets, masks):
        damaged = bytearray(pristine)
        damaged[offset] ^= mask
        directory.mkdir(exist_ok=True)
        path.write_bytes(bytes(damaged))
        caplog.clear()
        splits, cached = load_or_generate("toy", SIZED, lambda: good, directory)
        warnings = [r.getMessage() for r in caplog.records]
        if cached:
            assert _identical(splits, good), f"flip at {offset} gave other values"
            assert not warnings
            outcomes["identical"] += 1
        else:
            assert len(warnings) == 1 and f"discarding cache entry {path} (" in warnings[0]
            assert path.read_bytes() != bytes(damaged), "the bad entry must be replaced"
            assert _identical(load_splits(path, SIZED), good)
            outcomes["regenerated"] += 1
    print(f"fault injection over {len(offsets)} flips of {len(pristine)} bytes: {outcomes}")
    assert outcomes["identical"] + outcomes["regenerated"] == len(offsets)
    assert outcomes["regenerated"] > 0
