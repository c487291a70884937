"""The reader of The Well (Ohana et al., NeurIPS 2024) on small files written in its layout.

The files follow the Well's own ``write_dummy_data`` (the_well/utils/dummy_data.py):
the same groups, attributes, dtypes and axis orders, with boundary masks set on the
two end nodes as the Well's data generators set them. Every value read back is
compared with the array written, channel by channel, built here with explicit loops.
"""

import json

import h5py
import numpy as np
import pytest

from sciml.cli import main
from sciml.data.dataset import OperatorDataset
from sciml.data.lazy import LazyDataset
from sciml.data.well import WellDataset, _parse_stats_yaml, read_well
from sciml.tasks.files import FileConfig, detect_format, generate_file

N_TRAJECTORIES, N_STEPS, NX, NY = 2, 5, 8, 6
CHANNELS = [
    "pressure",
    "constant_field",
    "obstacle",
    "velocity_x",
    "velocity_y",
    "stress_xx",
    "stress_xy",
    "stress_yx",
    "stress_yy",
]


def write_well_file(path, seed, *, grid_type="cartesian", y_condition="WALL"):
    """A two-trajectory file of the Well; returns the arrays written, by field name."""
    rng = np.random.default_rng(seed)
    shape = (N_TRAJECTORIES, N_STEPS, NX, NY)
    arrays = {
        "pressure": rng.random(shape, dtype=np.float32),
        # sample_varying, not time_varying (the dummy's "constant_field")
        "constant_field": rng.random((N_TRAJECTORIES, NX, NY), dtype=np.float32),
        # neither sample- nor time-varying, and constant along x (dim_varying [False, True])
        "obstacle": rng.random((NY,), dtype=np.float32),
        "velocity": rng.random((*shape, 2), dtype=np.float32),
        "stress": rng.random((*shape, 2, 2), dtype=np.float32),
    }
    x = np.linspace(0, 1, NX, dtype=np.float32)
    y = np.linspace(0, 2, NY, dtype=np.float32)
    t = np.linspace(0, 1, N_STEPS, dtype=np.float32)
    with h5py.File(path, "w") as file:
        file.attrs["a"] = 0.25 + seed
        file.attrs["b"] = 0.75
        file.attrs["dataset_name"] = "dummy_dataset"
        file.attrs["grid_type"] = grid_type
        file.attrs["n_spatial_dims"] = 2
        file.attrs["n_trajectories"] = N_TRAJECTORIES
        file.attrs["simulation_parameters"] = ["a", "b"]
        group = file.create_group("boundary_conditions")
        # associated_dims as a list (the Well's format check) and as one string (its dummy)
        for key, dims, bc_type, size in (
            ("x_periodic", ["x"], "PERIODIC", NX),
            (f"y_{y_condition.lower()}", "y", y_condition, NY),
        ):
            mask = np.zeros(size, dtype=bool)
            mask[0] = mask[-1] = True
            sub_group = group.create_group(key)
            sub_group.attrs["associated_dims"] = dims
            sub_group.attrs["associated_fields"] = []
            sub_group.attrs["bc_type"] = bc_type
            sub_group.attrs["sample_varying"] = False
            sub_group.attrs["time_varying"] = False
            sub_group.create_dataset("mask", data=mask)
        group = file.create_group("dimensions")
        group.attrs["spatial_dims"] = ["x", "y"]
        for key, val in zip(["time", "x", "y"], [t, x, y]):
            group.create_dataset(key, data=val)
            group[key].attrs["sample_varying"] = False
        group = file.create_group("scalars")
        group.attrs["field_names"] = ["a", "b", "time_varying_scalar"]
        for key, val in zip(["a", "b"], [0.25 + seed, 0.75]):
            group.create_dataset(key, data=np.array(val))
            group[key].attrs["time_varying"] = False
            group[key].attrs["sample_varying"] = False
        dset = group.create_dataset("time_varying_scalar", data=rng.random(N_STEPS))
        dset.attrs["time_varying"] = True
        dset.attrs["sample_varying"] = False
        layout = {
            "t0_fields": {
                "pressure": (True, True, [True, True]),
                "constant_field": (True, False, [True, True]),
                "obstacle": (False, False, [False, True]),
            },
            "t1_fields": {"velocity": (True, True, [True, True])},
            "t2_fields": {"stress": (True, True, [True, True])},
        }
        for group_name, fields in layout.items():
            group = file.create_group(group_name)
            group.attrs["field_names"] = list(fields)
            for name, (sample_varying, time_varying, dim_varying) in fields.items():
                dset = group.create_dataset(name, data=arrays[name])
                dset.attrs["dim_varying"] = dim_varying
                dset.attrs["sample_varying"] = sample_varying
                dset.attrs["time_varying"] = time_varying
    return arrays


def expected_frame(arrays, trajectory, time):
    """``(9, NX, NY)``: the channels of one frame, in the Well's order."""
    channels = [
        arrays["pressure"][trajectory, time],
        arrays["constant_field"][trajectory],
        np.repeat(arrays["obstacle"][None, :], NX, axis=0),
    ]
    channels += [arrays["velocity"][trajectory, time, :, :, i] for i in range(2)]
    channels += [arrays["stress"][trajectory, time, :, :, i, j] for i in range(2) for j in range(2)]
    return np.stack(channels)


def expected_window(arrays, trajectory, start, n_in, n_out, stride):
    frames = [expected_frame(arrays, trajectory, start + k * stride) for k in range(n_in + n_out)]
    return np.concatenate(frames[:n_in]), np.concatenate(frames[n_in:])


@pytest.fixture
def well_root(tmp_path):
    """``<root>/data/train/`` with two files, and the arrays of each in name order."""
    folder = tmp_path / "dummy_dataset" / "data" / "train"
    folder.mkdir(parents=True)
    # Written out of name order: the reader must sort them.
    second = write_well_file(folder / "part_1.hdf5", seed=1)
    first = write_well_file(folder / "part_0.hdf5", seed=0)
    return tmp_path / "dummy_dataset", [first, second]


@pytest.mark.parametrize("n_in, n_out, stride", [(1, 1, 1), (2, 1, 1), (1, 2, 2), (2, 2, 1)])
def test_windows_hold_the_frames_written_in_channel_order(tmp_path, n_in, n_out, stride):
    arrays = write_well_file(tmp_path / "one.hdf5", seed=0)
    with WellDataset(
        tmp_path / "one.hdf5", n_steps_input=n_in, n_steps_output=n_out, stride=stride
    ) as dataset:
        windows = N_STEPS - stride * (n_in + n_out - 1)
        assert len(dataset) == N_TRAJECTORIES * windows
        assert dataset.input_shape == (n_in * len(CHANNELS), NX, NY)
        assert dataset.output_shape == (n_out * len(CHANNELS), NX, NY)
        assert dataset.config["channels"] == CHANNELS
        inputs, outputs = dataset.read(np.arange(len(dataset)))
    for index in range(len(dataset)):
        trajectory, start = divmod(index, windows)
        a, u = expected_window(arrays, trajectory, start, n_in, n_out, stride)
        np.testing.assert_array_equal(inputs[index], a)
        np.testing.assert_array_equal(outputs[index], u)


def test_split_folder_orders_samples_by_file_trajectory_then_start(well_root):
    root, arrays = well_root
    by_folder = WellDataset(root / "data" / "train")
    by_root = WellDataset(root, split="train")
    windows = N_STEPS - 1
    assert len(by_folder) == len(by_root) == 2 * N_TRAJECTORIES * windows
    assert by_root.config["files"][0]["file"] == "part_0.hdf5"
    order = np.array([13, 0, 7, 13, 4])  # unsorted, with a repeat, across both files
    inputs, outputs = by_root.read(order)
    for row, index in enumerate(order):
        file, local = divmod(index, N_TRAJECTORIES * windows)
        trajectory, start = divmod(local, windows)
        a, u = expected_window(arrays[file], trajectory, start, 1, 1, 1)
        np.testing.assert_array_equal(inputs[row], a)
        np.testing.assert_array_equal(outputs[row], u)
    np.testing.assert_array_equal(by_folder.read(order)[0], inputs)
    by_folder.close()
    by_root.close()


def test_a_list_of_files_reads_like_the_folder(well_root):
    root, _ = well_root
    folder = root / "data" / "train"
    with (
        WellDataset([folder / "part_0.hdf5", folder / "part_1.hdf5"]) as listed,
        WellDataset(folder) as whole,
    ):
        np.testing.assert_array_equal(listed.read([0, 9])[1], whole.read([0, 9])[1])


def test_coordinates_periodicity_and_config(tmp_path):
    write_well_file(tmp_path / "one.hdf5", seed=0)
    with WellDataset(tmp_path / "one.hdf5", fields=["velocity", "pressure"]) as dataset:
        config = dataset.config
        np.testing.assert_allclose(dataset.coords[0], np.linspace(0, 1, NX), rtol=1e-6)
        np.testing.assert_allclose(dataset.coords[1], np.linspace(0, 2, NY), rtol=1e-6)
        assert dataset.periodic == (True, False)
    assert config["channels"] == ["velocity_x", "velocity_y", "pressure"]
    assert config["periodic"] == [True, False]
    assert config["boundary_conditions"] == {
        "x": ["PERIODIC", "PERIODIC"],
        "y": ["WALL", "WALL"],
    }
    assert config["dataset_name"] == "dummy_dataset"
    assert config["grid_type"] == "cartesian"
    (file,) = config["files"]
    assert file["file"] == "one.hdf5"
    assert file["simulation_parameters"] == {"a": 0.25, "b": 0.75}
    assert file["scalars"] == {"a": 0.25, "b": 0.75}
    assert file["varying_scalars"] == ["time_varying_scalar"]
    assert file["time_step"] == pytest.approx(0.25)
    assert json.loads(json.dumps(config)) == config


def test_a_condition_on_part_of_a_side_is_not_periodic(tmp_path):
    write_well_file(tmp_path / "one.hdf5", seed=0, y_condition="PERIODIC")
    with h5py.File(tmp_path / "one.hdf5", "r+") as file:
        mask = file["boundary_conditions/x_periodic/mask"]
        mask[-1] = False  # periodic on the low side of x only
    with WellDataset(tmp_path / "one.hdf5") as dataset:
        assert dataset.periodic == (False, True)
        assert dataset.config["boundary_conditions"]["x"] == ["PERIODIC", "UNSPECIFIED"]


def test_a_side_is_periodic_only_when_the_condition_holds_on_all_of_it(tmp_path):
    """A condition over both axes with a mask (x, y) that covers the low side of x on
    a few of its nodes, none at the ends of y, and is alone there: that side is
    mixed, the high side of x has no condition, and y is still periodic."""
    write_well_file(tmp_path / "one.hdf5", seed=0, y_condition="PERIODIC")
    with h5py.File(tmp_path / "one.hdf5", "r+") as file:
        del file["boundary_conditions/x_periodic"]
        mask = np.zeros((NX, NY), bool)
        mask[0, 1 : NY // 2] = True
        group = file["boundary_conditions"].create_group("corner_open")
        group.attrs["associated_dims"] = ["x", "y"]
        group.attrs["associated_fields"] = []
        group.attrs["bc_type"] = "OPEN"
        group.attrs["sample_varying"] = False
        group.attrs["time_varying"] = False
        group.create_dataset("mask", data=mask)
    with WellDataset(tmp_path / "one.hdf5") as dataset:
        assert dataset.config["boundary_conditions"] == {
            "x": ["MIXED", "UNSPECIFIED"],
            "y": ["PERIODIC", "PERIODIC"],
        }
        assert dataset.periodic == (False, True)


STATS = """\
mean:
  constant_field: 5.0000E-01
  obstacle: 2.5000E-01
  pressure: -1.0000E+00
  stress:
  - - 1.0000E+00
    - -2.0000E+00
  - - 3.0000E+00
    - 4.0000E+00
  velocity:
  - 1.0000E-01
  - -2.0000E-01
mean_delta:
  pressure: 0.0000E+00
std:
  constant_field: 2.0000E+00
  obstacle: 1.0000E-07
  pressure: 5.0000E-01
  stress:
  - - 1.0000E+00
    - 2.0000E+00
  - - 4.0000E+00
    - 8.0000E+00
  velocity:
  - 2.5000E-01
  - 4.0000E+00
"""


def test_normalisation_by_stats_yaml(well_root):
    root, arrays = well_root
    (root / "stats.yaml").write_text(STATS)
    mean = np.array([-1.0, 0.5, 0.25, 0.1, -0.2, 1.0, -2.0, 3.0, 4.0])
    std = np.array([0.5, 2.0, 1e-4, 0.25, 4.0, 1.0, 2.0, 4.0, 8.0])  # 1e-7 raised to 1e-4
    with (
        WellDataset(root, split="train", n_steps_input=2, normalize=True) as normalised,
        WellDataset(root, split="train", n_steps_input=2) as raw,
    ):
        assert normalised.config["normalized"] and normalised.config["stats"] == "stats.yaml"
        np.testing.assert_allclose(normalised.config["std"], std)
        a, u = normalised.read([0, 5])
        a_raw, u_raw = raw.read([0, 5])
    per_channel = (slice(None), None, None)
    for frame in range(2):
        block = slice(frame * 9, (frame + 1) * 9)
        expected = (a_raw[:, block] - mean[per_channel]) / std[per_channel]
        np.testing.assert_allclose(a[:, block], expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(u, (u_raw - mean[per_channel]) / std[per_channel], rtol=1e-5)


def test_stats_parser_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    text = STATS + "rms: {}\nempty: []\nflow: [1.0, -2.5]\nname: 'x'\n"
    assert _parse_stats_yaml(text) == yaml.safe_load(text)
    with pytest.raises(ValueError, match="line 3: unexpected indentation"):
        _parse_stats_yaml("mean:\n  a: 1\n    b: 2\n")


def test_read_well_loads_the_first_windows(well_root):
    root, _ = well_root
    data = read_well(root, split="train", n=3, n_steps_output=2)
    assert isinstance(data, OperatorDataset)
    with WellDataset(root, split="train", n_steps_output=2) as dataset:
        inputs, outputs = dataset.read([0, 1, 2])
    np.testing.assert_array_equal(data.inputs, inputs)
    np.testing.assert_array_equal(data.outputs, outputs)
    assert data.config["n_steps_output"] == 2
    with pytest.raises(ValueError, match="n=99"):
        read_well(root, split="train", n=99)


def test_reads_only_the_frames_asked_for(tmp_path):
    """A limit below one field's whole array still reads a window: only its frames
    leave the file (the stress field of one trajectory and two frames is 1536 bytes)."""
    arrays = write_well_file(tmp_path / "one.hdf5", seed=0)
    with WellDataset(tmp_path / "one.hdf5", stride=3, max_bytes=1600) as dataset:
        inputs, outputs = dataset.read([3])
        a, u = expected_window(arrays, 1, 1, 1, 1, 3)
        np.testing.assert_array_equal(inputs[0], a)
        np.testing.assert_array_equal(outputs[0], u)
        dataset.close()
        np.testing.assert_array_equal(dataset.read([3])[0], inputs)  # reopened
    with pytest.raises(ValueError, match="max_bytes"):
        WellDataset(tmp_path / "one.hdf5", n_steps_input=3, max_bytes=1600).read([0])


# ------------------------------------------------------------------------ refusals


def _delete(member):
    def edit(file):
        del file[member]

    return edit


def _replace(member, data):
    def edit(file):
        attrs = dict(file[member].attrs)
        del file[member]
        file[member] = data
        file[member].attrs.update(attrs)

    return edit


def _set_attr(member, name, value):
    def edit(file):
        file[member].attrs[name] = value

    return edit


def _soft_link(file):
    file["t0_fields/real_pressure"] = file["t0_fields/pressure"]
    del file["t0_fields/pressure"]
    file["t0_fields/pressure"] = h5py.SoftLink("/t0_fields/real_pressure")


MALFORMED = {
    "missing group": (_delete("t1_fields"), r"no group 't1_fields'"),
    "time axis": (
        _replace("t1_fields/velocity", np.zeros((2, 4, NX, NY, 2), np.float32)),
        r"/t1_fields/velocity has shape \(2, 4, 8, 6, 2\), expected \(2, 5, 8, 6, 2\)",
    ),
    "n_trajectories": (
        _set_attr("/", "n_trajectories", 3),
        r"/t0_fields/pressure has shape \(2, 5, 8, 6\), expected \(3, 5, 8, 6\)",
    ),
    "tensor order": (
        _replace("t2_fields/stress", np.zeros((2, 5, NX, NY, 4), np.float32)),
        r"/t2_fields/stress has shape .* expected \(2, 5, 8, 6, 2, 2\)",
    ),
    "field_names": (
        _set_attr("t0_fields", "field_names", ["pressure", "density"]),
        r"t0_fields lists 'density' in field_names but holds no such dataset",
    ),
    "coordinate length": (
        _replace("dimensions/x", np.linspace(0, 1, NX - 1, dtype=np.float32)),
        r"/t0_fields/pressure has shape \(2, 5, 8, 6\), expected \(2, 5, 7, 6\)",
    ),
    "dim_varying": (
        _set_attr("t1_fields/velocity", "dim_varying", [True]),
        r"dim_varying \[True\], expected one entry per spatial axis",
    ),
    "missing flag": (
        lambda file: file["t0_fields/pressure"].attrs.__delitem__("time_varying"),
        r"/t0_fields/pressure has no attribute 'time_varying'",
    ),
    "mask length": (
        _replace("boundary_conditions/x_periodic/mask", np.ones(NX - 2, bool)),
        r"x_periodic/mask has shape \(6,\), expected it to end with \(8,\)",
    ),
    "bc axis": (
        _set_attr("boundary_conditions/x_periodic", "associated_dims", ["z"]),
        r"applies to axes \['z'\] not among the spatial axes",
    ),
    "simulation parameter": (
        _set_attr("/", "simulation_parameters", ["a", "nu"]),
        r"simulation_parameters names \['nu'\]",
    ),
    "non-cartesian grid": (
        _set_attr("/", "grid_type", "equiangular"),
        r"grid_type is 'equiangular', not 'cartesian'",
    ),
    "soft link": (_soft_link, r"'pressure' is a soft link"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_are_refused_naming_file_and_member(tmp_path, case):
    edit, message = MALFORMED[case]
    path = tmp_path / "bad.hdf5"
    write_well_file(path, seed=0)
    with h5py.File(path, "r+") as file:
        edit(file)
    with pytest.raises(ValueError, match=message) as error:
        WellDataset(path)
    assert "bad.hdf5" in str(error.value)


def test_an_empty_field_group_as_the_dummy_writes_it(tmp_path):
    """``field_names = []`` (stored by h5py as an empty float array) lists no field."""
    arrays = write_well_file(tmp_path / "one.hdf5", seed=0)
    with h5py.File(tmp_path / "one.hdf5", "r+") as file:
        del file["t2_fields/stress"]
        file["t2_fields"].attrs["field_names"] = []
    with WellDataset(tmp_path / "one.hdf5") as dataset:
        assert dataset.config["channels"] == CHANNELS[:5]
        np.testing.assert_array_equal(dataset.read([0])[1][0], expected_frame(arrays, 0, 1)[:5])


def test_non_cartesian_grid_is_read_when_allowed(tmp_path):
    arrays = write_well_file(tmp_path / "sphere.hdf5", seed=0, grid_type="equiangular")
    with WellDataset(tmp_path / "sphere.hdf5", allow_non_cartesian=True) as dataset:
        assert dataset.config["grid_type"] == "equiangular"
        np.testing.assert_array_equal(dataset.read([0])[0][0], expected_frame(arrays, 0, 0))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"n_steps_input": 3, "n_steps_output": 3}, r"spans 6 saved times, but .* T=5"),
        ({"stride": 3, "n_steps_input": 2}, r"spans 7 saved times"),
        ({"fields": ["velocity", "density"]}, r"fields should be distinct names among"),
        ({"fields": ["velocity", "velocity"]}, r"fields should be distinct names"),
        ({"n_steps_input": 0}, r"n_steps_input to be a positive integer"),
        ({"split": "train"}, r"no folder .*data.train"),
        ({"normalize": True}, r"normalize=True needs the statistics"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, arguments, message):
    write_well_file(tmp_path / "one.hdf5", seed=0)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        WellDataset(tmp_path / "one.hdf5", **arguments)


def test_a_root_folder_without_split_and_bad_stats_are_refused(well_root):
    root, _ = well_root
    with pytest.raises(ValueError, match="pass split="):
        WellDataset(root)
    with pytest.raises(ValueError, match="split should be one of"):
        WellDataset(root, split="validation")
    (root / "stats.yaml").write_text(STATS.replace("  velocity:\n  - 2.5000E-01\n", ""))
    with pytest.raises(ValueError, match=r"stats.yaml: 'std' has no entry for field 'velocity'"):
        WellDataset(root, split="train", normalize=True)
    (root / "stats.yaml").write_text(STATS.replace("  - 2.5000E-01\n  - 4.0000E+00\n", ""))
    with pytest.raises(ValueError, match=r"std\['velocity'\] should hold 2 finite numbers"):
        WellDataset(root, split="train", normalize=True)


def test_files_of_different_grids_are_refused(well_root):
    root, _ = well_root
    folder = root / "data" / "train"
    with h5py.File(folder / "part_1.hdf5", "r+") as file:
        file["dimensions/y"][...] = np.linspace(0, 3, NY)
    with pytest.raises(ValueError, match=r"part_1.hdf5: the coordinates dimensions/y differ"):
        WellDataset(folder)


# ---------------------------------------------------------------- sciml train --data
# The file task (sciml.tasks.files) on a Well data set: its own splits, streamed or in
# memory; a single file split first-train/last-test; formats found from the contents.


@pytest.fixture(scope="module")
def well_dataset_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("well") / "dummy"
    for split, seeds in (("train", (0, 1)), ("test", (2,))):
        (root / "data" / split).mkdir(parents=True)
        for seed in seeds:
            write_well_file(root / "data" / split / f"part{seed}.hdf5", seed)
    return root


def test_a_well_root_gives_its_own_splits_streamed_or_in_memory(well_dataset_root):
    fields = ("pressure", "velocity")
    streamed = generate_file(FileConfig(str(well_dataset_root), fields=fields, stream="stream"))
    in_memory = generate_file(FileConfig(str(well_dataset_root), fields=fields, stream="memory"))
    assert isinstance(streamed["train"], LazyDataset)
    reference = WellDataset(well_dataset_root, split="train", fields=list(fields))
    assert len(streamed["train"]) == len(reference) == len(in_memory["train"])
    every = np.arange(len(reference))
    for got in (streamed["train"].read(every), in_memory["train"].arrays()):
        for x, y in zip(got, reference.read(every)):
            np.testing.assert_array_equal(x, y)
    test = WellDataset(well_dataset_root, split="test", fields=list(fields))
    np.testing.assert_array_equal(streamed["test"].inputs, test.read(np.arange(len(test)))[0])
    # x is periodic, y has walls: not periodic on every axis
    assert streamed["train"].config["periodic"] is False


def test_a_single_file_splits_first_train_and_last_test(well_dataset_root):
    path = well_dataset_root / "data" / "train" / "part0.hdf5"
    whole = WellDataset(path)
    splits = generate_file(FileConfig(str(path), stream="memory"))
    n = len(whole)
    n_test = max(1, n // 10)
    assert (len(splits["train"]), len(splits["test"])) == (n - n_test, n_test)
    np.testing.assert_array_equal(splits["test"].inputs, whole.read(np.arange(n - n_test, n))[0])
    with pytest.raises(ValueError, match="do not fit without overlapping"):
        generate_file(FileConfig(str(path), n_train=n, n_test=1))


def test_formats_are_found_from_the_contents(well_dataset_root, tmp_path):
    assert detect_format(well_dataset_root) == "well"
    assert detect_format(well_dataset_root / "data" / "train" / "part0.hdf5") == "well"
    renamed = tmp_path / "renamed.mat"
    renamed.write_bytes((well_dataset_root / "data" / "train" / "part1.hdf5").read_bytes())
    assert detect_format(renamed) == "well"
    with pytest.raises(FileNotFoundError, match="no data file or folder"):
        detect_format(tmp_path / "missing.h5")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither a Well data set"):
        detect_format(tmp_path / "empty")
    with pytest.raises(ValueError, match="needs data.path"):
        FileConfig()
    with pytest.raises(ValueError, match="data.stream must be one of"):
        FileConfig("x", stream="sometimes")


def test_sciml_train_data_streams_a_well_data_set(well_dataset_root, tmp_path, capsys):
    out = tmp_path / "run"
    status = main(
        [
            "train",
            "--data",
            str(well_dataset_root),
            "--model",
            "fno",
            "--epochs",
            "2",
            "--set",
            "model.width=8",
            "--set",
            "model.modes=[3, 3]",
            "--set",
            "model.n_layers=1",
            "--set",
            "model.projection_channels=8",
            "--set",
            "train.batch_size=4",
            "--set",
            "data.stream=stream",
            "--set",
            'data.fields=["pressure"]',
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    record = json.loads((out / "results.json").read_text())
    assert record["task"] == "file" and record["config"]["data"]["path"] == str(well_dataset_root)
    assert record["n_train"] == len(WellDataset(well_dataset_root, split="train"))
    assert record["spec"]["in_channels"] == 1 and record["spec"]["grid"] == [8, 6]
    assert np.isfinite(record["test_relative_l2"])
    assert main(["train", "darcy", "--data", str(well_dataset_root)]) != 0
    assert "give no TASK" in capsys.readouterr().err
