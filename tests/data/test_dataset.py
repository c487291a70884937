"""OperatorDataset files: round trip, atomic writes, and a cache that never trusts a bad file."""

import numpy as np
import pytest

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


def test_corrupted_array_fails_its_checksum(tmp_path):
    import h5py

    splits, config = _splits()
    path = save_splits(tmp_path / "toy.h5", splits, config)
    with h5py.File(path, "r+") as file:
        file["train/outputs"][0, 0, 0, 0] += 1.0
    with pytest.raises(ValueError, match="checksum mismatch in train/outputs"):
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
        import h5py

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
    broken = {"train": splits["train"], "test": "not a dataset"}
    with pytest.raises(AttributeError):
        save_splits(path, broken, config)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))
