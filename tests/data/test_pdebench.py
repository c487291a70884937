"""Readers of the time-dependent PDEBench files: one tensor, compressible Navier–Stokes,
one group per sample; on demand and in memory.

The files are written as PDEBench's own scripts write them (``Data_Merge.py`` for the
tensor and CFD files, ``gen_diff_react.py`` / ``gen_diff_sorp.py`` /
``sim_radial_dam_break.py`` for the per-sample groups): the same names, float32
values, axis orders and root attributes. Every array encodes its own indices (entry =
sum of index_k * 100^k), so a transposed axis or a swapped channel changes the values.
"""

import h5py
import numpy as np
import pytest

from sciml.data.dataset import OperatorDataset
from sciml.data.lazy import LazyDataset
from sciml.data.pdebench import PDEBenchTrajectories, read_pdebench
from sciml.data.readers import PDEBenchTrajectories as ReExported
from sciml.data.readers import read_pdebench_burgers, read_pdebench_darcy


def encoded(*shape, offset=0.0):
    """An array whose entry at (i0, i1, ...) is i0 * 100^(r-1) + i1 * 100^(r-2) + ... ."""
    index = np.indices(shape)
    weights = 100.0 ** np.arange(len(shape) - 1, -1, -1)
    return np.tensordot(weights, index, axes=1) + offset


# ------------------------------------------------------------------------ writers


def write_tensor_file(path, tensor, attributes=()):
    """As ``Data_Merge.transform``: ``tensor`` float32 (N, T, X), coordinates, and the
    parameters as root attributes; ``t-coordinate`` holds T + 1 values."""
    n_times, size = tensor.shape[1:]
    with h5py.File(path, "w") as file:
        file.create_dataset("tensor", data=tensor.astype(np.float32))
        file.create_dataset("x-coordinate", data=((np.arange(size) + 0.5) / size).astype("f"))
        file.create_dataset("t-coordinate", data=(np.arange(n_times + 1) * 0.05).astype("f"))
        for key, value in dict(attributes).items():
            file.attrs[key] = value
    return path


CFD_VARIABLES = ("density", "pressure", "Vx", "Vy", "Vz")


def write_cfd_file(path, fields, attributes=(), skip=()):
    """As ``Data_Merge.merge``: one float32 (N, T, *grid) dataset per variable, the
    coordinates, ``t-coordinate`` with T + 1 values, and ``eta``, ``zeta`` (``M``)."""
    shape = next(iter(fields.values())).shape
    with h5py.File(path, "w") as file:
        for name, values in fields.items():
            file.create_dataset(name, data=values.astype(np.float32))
        for axis, size in zip("xyz", shape[2:]):
            if f"{axis}-coordinate" not in skip:
                coordinate = np.linspace(-1, 1, size, dtype=np.float32)
                file.create_dataset(f"{axis}-coordinate", data=coordinate)
        file.create_dataset("t-coordinate", data=np.arange(shape[1] + 1, dtype="f") * 0.1)
        for key, value in dict(attributes).items():
            file.attrs[key] = value
    return path


def cfd_fields(dimension, n=3, n_times=5, grid=(6, 5, 4)):
    shape = (n, n_times, *grid[:dimension])
    return {
        name: encoded(*shape, offset=0.125 * (k + 1))
        for k, name in enumerate(CFD_VARIABLES[: 2 + dimension])
    }


def write_group_file(path, samples, order=None, grid_of=None):
    """As ``gen_diff_react.py``: group ``"%04d"`` per seed with ``data`` (T, *grid, C)
    and ``grid/x`` (``grid/y``) and ``grid/t`` (T values), float32 and lzf-compressed,
    written in ``order`` (the generators' worker pool finishes seeds in any order)."""
    order = range(len(samples)) if order is None else order
    with h5py.File(path, "a") as file:
        for seed in order:
            data = samples[seed]
            name = str(seed).zfill(4)
            options = dict(dtype="float32", compression="lzf")
            file.create_dataset(f"{name}/data", data=data, **options)
            coords = grid_of(seed) if grid_of else default_grid(data.shape)
            for axis, values in coords.items():
                file.create_dataset(f"{name}/grid/{axis}", data=values, **options)
            file[name].attrs["config"] = f"sim:\n  seed: {seed}\n"
    return path


def default_grid(shape):
    grid = {axis: (np.arange(size) + 0.5) / size for axis, size in zip("xyz", shape[1:-1])}
    grid["t"] = np.linspace(0.0, 5.0, shape[0])
    return grid


def group_samples(n=4, n_times=6, grid=(5, 4), channels=2):
    return [encoded(n_times, *grid, channels, offset=1000.0 * i) for i in range(n)]


def frame_major(fields, frames):
    """(k, f * C, *grid): frames ``frames`` of ``fields`` (k, T, C, *grid), frame-major."""
    chosen = fields[:, frames]
    return chosen.reshape(chosen.shape[0], -1, *chosen.shape[3:])


# -------------------------------------------------------------------- tensor layout


def test_reads_the_other_tensor_files_with_their_attributes(tmp_path):
    tensor = encoded(4, 7, 10)
    path = write_tensor_file(
        tmp_path / "ReacDiff_Nu0.5_Rho2.0.hdf5", tensor, {"Nu": 0.5, "rho": 2.0}
    )
    data = read_pdebench(path, n=3, n_steps_input=2, target="trajectory")
    assert isinstance(data, OperatorDataset)
    assert data.inputs.shape == (3, 2, 10) and data.outputs.shape == (3, 5, 10)
    np.testing.assert_array_equal(data.inputs, tensor[:3, :2])
    np.testing.assert_array_equal(data.outputs, tensor[:3, 2:])
    np.testing.assert_allclose(data.coords[0], (np.arange(10) + 0.5) / 10, rtol=1e-6)
    config = data.config
    assert config["layout"] == "tensor" and config["variables"] == ["u"]
    assert config["times"] == pytest.approx(list(np.arange(7) * 0.05))
    assert config["input_times"] == pytest.approx([0.0, 0.05])
    assert config["output_times"] == pytest.approx(list(np.arange(2, 7) * 0.05))
    assert (config["nu"], config["nu_source"]) == (0.5, "attribute")
    assert (config["rho"], config["rho_source"]) == (2.0, "attribute")
    assert (config["beta"], config["beta_source"]) == (None, None)


def test_the_burgers_reader_is_the_tensor_reader(tmp_path):
    tensor = encoded(3, 6, 8)
    path = write_tensor_file(tmp_path / "1D_Advection_Sols_beta0.4.hdf5", tensor)
    old = read_pdebench_burgers(path, target="trajectory")
    new = read_pdebench(path, target="trajectory")
    np.testing.assert_array_equal(old.inputs, new.inputs)
    np.testing.assert_array_equal(old.outputs, new.outputs)
    assert old.config["kind"] == "pdebench_burgers" and new.config["kind"] == "pdebench"
    assert (new.config["beta"], new.config["beta_source"]) == (0.4, "file name")


def test_attribute_survives_renaming_and_wins_over_the_name(tmp_path):
    tensor = encoded(2, 3, 8)
    renamed = write_tensor_file(tmp_path / "burgers_copy.hdf5", tensor, {"Nu": 0.002})
    config = read_pdebench_burgers(renamed).config
    assert (config["nu"], config["nu_source"]) == (0.002, "attribute")
    wrong = write_tensor_file(tmp_path / "1D_Burgers_Sols_Nu0.1.hdf5", tensor, {"Nu": 0.002})
    with pytest.warns(UserWarning, match=r"'Nu' = 0.002 disagrees with Nu0.1.*attribute is used"):
        config = read_pdebench_burgers(wrong).config
    assert (config["nu"], config["nu_source"]) == (0.002, "attribute")
    truncated = write_tensor_file(tmp_path / "a_beta0.333.hdf5", tensor, {"beta": 1 / 3})
    assert read_pdebench(truncated).config["beta"] == pytest.approx(1 / 3)  # no warning


def test_attribute_that_is_not_a_number_is_refused(tmp_path):
    path = write_tensor_file(tmp_path / "b.hdf5", encoded(2, 3, 8), {"Nu": "0.01"})
    with pytest.raises(ValueError, match="attribute 'Nu' should be one finite number"):
        read_pdebench(path)


def test_darcy_beta_from_attribute_first(tmp_path):
    path = tmp_path / "darcy.hdf5"
    with h5py.File(path, "w") as file:
        file["nu"] = encoded(2, 4, 3).astype(np.float32)
        file["tensor"] = encoded(2, 1, 4, 3).astype(np.float32)
        file["x-coordinate"] = np.arange(4.0)
        file["y-coordinate"] = np.arange(3.0)
        file.attrs["beta"] = 10.0
    config = read_pdebench_darcy(path).config
    assert (config["beta"], config["beta_source"]) == (10.0, "attribute")
    with pytest.raises(ValueError, match="2-D Darcy.*read_pdebench_darcy"):
        read_pdebench(path)


# ----------------------------------------------------------------------------- CFD


@pytest.mark.parametrize("dimension", [1, 2, 3])
def test_cfd_channels_are_frame_major_then_variable(tmp_path, dimension):
    fields = cfd_fields(dimension)
    attributes = {"eta": 1e-8, "zeta": 1e-8} | ({"M": 0.1} if dimension > 1 else {})
    name = f"{dimension}D_CFD_Rand_Eta1.e-8_Zeta1.e-8_periodic_Train.hdf5"
    path = write_cfd_file(tmp_path / name, fields, attributes)
    data = read_pdebench(path, n_steps_input=2)
    # as stored: float32 (3-D values above 2^24 are rounded)
    stacked = np.stack([fields[v] for v in CFD_VARIABLES[: 2 + dimension]], axis=2)
    stacked = stacked.astype(np.float32)
    n_vars = 2 + dimension
    assert data.inputs.shape == (3, 2 * n_vars, *stacked.shape[3:])
    assert data.outputs.shape == (3, n_vars, *stacked.shape[3:])
    np.testing.assert_array_equal(data.inputs, frame_major(stacked, slice(0, 2)))
    np.testing.assert_array_equal(data.outputs, stacked[:, -1])
    # channel 1 * C + 1 is the pressure at t_1: sample 2, frame 1
    corner = (0,) * dimension
    pressure = 2 * 100 ** (dimension + 1) + 100**dimension + 0.25
    assert data.inputs[(2, n_vars + 1, *corner)] == np.float32(pressure)
    assert data.config["variables"] == list(CFD_VARIABLES[:n_vars])
    assert data.config["times"] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert (data.config["eta"], data.config["eta_source"]) == (1e-8, "attribute")
    expected_m = (0.1, "attribute") if dimension > 1 else (None, None)
    assert (data.config["M"], data.config["M_source"]) == expected_m
    for axis in data.coords:
        np.testing.assert_allclose(axis, np.linspace(-1, 1, len(axis)), rtol=1e-6)


def test_cfd_parameters_from_the_published_name(tmp_path):
    name = "2D_CFD_Rand_M0.1_Eta1e-08_Zeta1e-08_periodic_512_Train.hdf5"
    config = read_pdebench(write_cfd_file(tmp_path / name, cfd_fields(2))).config
    assert (config["M"], config["M_source"]) == (0.1, "file name")
    assert config["eta"] == config["zeta"] == 1e-8 and config["eta_source"] == "file name"


def test_cfd_subsampling_in_space_and_time(tmp_path):
    fields = cfd_fields(2, n_times=7, grid=(8, 6))
    path = write_cfd_file(tmp_path / "cfd.hdf5", fields)
    data = read_pdebench(path, target="trajectory", reduced_resolution=2, reduced_resolution_t=3)
    stacked = np.stack([fields[v] for v in CFD_VARIABLES[:4]], axis=2)[..., ::2, ::2]
    stacked = stacked.astype(np.float32)
    np.testing.assert_array_equal(data.inputs, stacked[:, 0])
    np.testing.assert_array_equal(data.outputs, frame_major(stacked, [3, 6]))
    assert data.config["times"] == pytest.approx([0.0, 0.3, 0.6])
    np.testing.assert_allclose(data.coords[0], np.linspace(-1, 1, 8)[::2], rtol=1e-6)
    assert data.inputs.shape[2:] == (4, 3)


def test_cfd_malformed_files_are_refused(tmp_path):
    fields = cfd_fields(2)
    missing_vy = {k: v for k, v in fields.items() if k != "Vy"}
    cases = [
        (write_cfd_file(tmp_path / "a.h5", missing_vy), "no dataset 'Vy'"),
        (
            write_cfd_file(tmp_path / "b.h5", fields, skip=("y-coordinate",)),
            "no dataset 'y-coordinate'",
        ),
        (
            write_cfd_file(tmp_path / "c.h5", fields | {"Vx": fields["Vx"][:, :4]}),
            r"'Vx' should have the shape of 'density' \(3, 5, 6, 5\)",
        ),
        (
            write_cfd_file(tmp_path / "d.h5", {"density": encoded(3, 5)}),
            r"'density' should be \(N, T, X\).*got shape \(3, 5\)",
        ),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=message):
            read_pdebench(path)


# -------------------------------------------------------------- one group per sample


def test_groups_are_read_in_sorted_order_with_their_channels(tmp_path):
    samples = group_samples()
    path = write_group_file(tmp_path / "2D_diff-react_NA_NA.h5", samples, order=[2, 0, 3, 1])
    data = read_pdebench(path, n_steps_input=2, target="trajectory")
    fields = np.moveaxis(np.stack(samples), -1, 2)  # (N, T, C, X, Y)
    np.testing.assert_array_equal(data.inputs, frame_major(fields, slice(0, 2)))
    np.testing.assert_array_equal(data.outputs, frame_major(fields, slice(2, None)))
    # sample 3, channel 1 * 2 + 1 = v at t_1, node (2, 3)
    assert data.inputs[3, 3, 2, 3] == 3000.0 + 1 * 100**3 + 2 * 100**2 + 3 * 100 + 1
    assert data.config["layout"] == "groups" and data.config["variables"] == ["c0", "c1"]
    assert data.config["times"] == pytest.approx(list(np.linspace(0, 5, 6)))
    np.testing.assert_allclose(data.coords[1], (np.arange(4) + 0.5) / 4)


@pytest.mark.parametrize(
    ("name", "grid", "channels"),
    [("1D_diff-sorp_NA_NA.h5", (7,), 1), ("2D_rdb_NA_NA.h5", (4, 5), 1)],
)
def test_groups_final_frame_in_one_and_two_dimensions(tmp_path, name, grid, channels):
    samples = group_samples(n=3, n_times=5, grid=grid, channels=channels)
    data = read_pdebench(write_group_file(tmp_path / name, samples), n=2)
    assert data.inputs.shape == data.outputs.shape == (2, 1, *grid)
    for i in range(2):
        np.testing.assert_array_equal(data.inputs[i, 0], samples[i][0, ..., 0])
        np.testing.assert_array_equal(data.outputs[i, 0], samples[i][-1, ..., 0])


def test_lazy_reads_equal_eager_in_any_order(tmp_path):
    path = write_group_file(tmp_path / "g.h5", group_samples(n=5))
    lazy = PDEBenchTrajectories(path, n=4, n_steps_input=2, reduced_resolution=2)
    assert isinstance(lazy, LazyDataset) and ReExported is PDEBenchTrajectories
    eager = read_pdebench(path, n=4, n_steps_input=2, reduced_resolution=2)
    assert len(lazy) == 4 and lazy.input_shape == (4, 3, 2) and lazy.output_shape == (2, 3, 2)
    order = np.array([3, 0, 3, 1])
    inputs, outputs = lazy.read(order)
    np.testing.assert_array_equal(inputs, eager.inputs[order])
    np.testing.assert_array_equal(outputs, eager.outputs[order])
    subset_inputs, _ = lazy.take(slice(1, 3)).read([1, 0])
    np.testing.assert_array_equal(subset_inputs, eager.inputs[[2, 1]])
    assert lazy.config == eager.config
    for mine, theirs in zip(lazy.coords, eager.coords):
        np.testing.assert_array_equal(mine, theirs)


def test_lazy_reads_only_the_samples_asked_for(tmp_path):
    tensor = encoded(5, 4, 8)
    tensor[3, 2, 1] = np.nan  # sample 3 is never read unless asked for
    path = write_tensor_file(tmp_path / "t.hdf5", tensor)
    lazy = PDEBenchTrajectories(path, target="trajectory")
    inputs, outputs = lazy.read([4, 0, 2])
    np.testing.assert_array_equal(outputs, tensor[[4, 0, 2], 1:])
    with pytest.raises(ValueError, match="non-finite"):
        lazy.read([3])
    assert len(read_pdebench(path, n=3)) == 3  # the first n only leave the disk


def test_group_files_with_a_bad_sample_are_refused(tmp_path):
    samples = group_samples(n=3)
    missing = write_group_file(tmp_path / "missing.h5", samples)
    with h5py.File(missing, "r+") as file:
        del file["0001/data"]
    with pytest.raises(ValueError, match=r"group '0001' has no dataset 'data'.*\['grid'\]"):
        PDEBenchTrajectories(missing)
    assert len(read_pdebench(missing, n=1)) == 1  # only the first n are checked

    def moved(seed):  # sample 2 has other y nodes
        return default_grid(samples[0].shape) | ({"y": np.arange(4.0)} if seed == 2 else {})

    shifted = write_group_file(tmp_path / "shifted.h5", samples, grid_of=moved)
    lazy = PDEBenchTrajectories(shifted)
    lazy.read([0, 1])
    with pytest.raises(ValueError, match="'0002/grid/y' differs from '0000/grid/y'"):
        lazy.read([2])

    reshaped = write_group_file(tmp_path / "reshaped.h5", [samples[0], samples[1][:, :4]])
    with pytest.raises(ValueError, match=r"'0001/data' has shape \(6, 4, 4, 2\).*\(6, 5, 4, 2\)"):
        read_pdebench(reshaped)

    no_time = write_group_file(tmp_path / "no_time.h5", samples[:1])
    with h5py.File(no_time, "r+") as file:
        del file["0000/grid/t"]
    with pytest.raises(ValueError, match="group '0000/grid' has no dataset 't'"):
        read_pdebench(no_time)

    flat = write_group_file(tmp_path / "flat.h5", [samples[0][..., 0, 0]])
    with pytest.raises(ValueError, match=r"'0000/data' should be \(T, X, C\).*got shape \(6, 5\)"):
        read_pdebench(flat)

    stray = write_group_file(tmp_path / "stray.h5", samples[:1])
    with h5py.File(stray, "r+") as file:
        file["extra"] = np.zeros(3)
    with pytest.raises(ValueError, match="'extra' is not a group.*one group per sample"):
        read_pdebench(stray)


def test_group_times_must_match_the_frames(tmp_path):
    samples = group_samples(n=1)

    def grid(seed):
        return default_grid(samples[0].shape) | {"t": np.arange(7.0)}

    path = write_group_file(tmp_path / "t.h5", samples, grid_of=grid)
    with pytest.raises(ValueError, match="'0000/grid/t' should hold T = 6 times.*got 7"):
        read_pdebench(path)


def test_group_selection_above_max_bytes_is_refused(tmp_path):
    path = write_group_file(tmp_path / "g.h5", group_samples(n=4))  # 4 x 6x5x4x2 float32
    # the outputs of all four, 4 x 5 frames x 160 bytes, checked before any is read
    with pytest.raises(ValueError, match=r"reading 'data' would take 3200 bytes"):
        read_pdebench(path, target="trajectory", max_bytes=1000)
    assert len(read_pdebench(path, target="trajectory", n=1, max_bytes=1000)) == 1


# ----------------------------------------------------------------------- arguments


def test_argument_errors(tmp_path):
    path = write_tensor_file(tmp_path / "t.hdf5", encoded(2, 4, 8))
    with pytest.raises(ValueError, match="2 frames are kept.*n_steps_input=2 leaves none"):
        read_pdebench(path, n_steps_input=2, reduced_resolution_t=2)
    with pytest.raises(ValueError, match="'final' or 'trajectory', got 'all'"):
        read_pdebench(path, target="all")
    with pytest.raises(ValueError, match="layout None or one of"):
        read_pdebench(path, layout="cube")
    with pytest.raises(ValueError, match="reduced_resolution to be a positive integer"):
        read_pdebench(path, reduced_resolution=0)
    with pytest.raises(ValueError, match="no dataset 'density'"):
        read_pdebench(path, layout="cfd")
    with pytest.raises(ValueError, match="holds 2 samples, but n=3"):
        PDEBenchTrajectories(path, n=3)


# ------------------------------------------------------------ sciml train --data


def test_the_file_task_splits_a_pdebench_file_first_train_last_test(tmp_path):
    """Per-sample groups and CFD files, found from their contents (a renamed file too),
    split as the FNO scripts split: the first n_train samples and the last n_test."""
    from sciml.tasks.files import FileConfig, detect_format, generate_file

    groups = write_group_file(tmp_path / "renamed.hdf5", group_samples(n=10))
    cfd = write_cfd_file(tmp_path / "2D_CFD_Rand.hdf5", cfd_fields(2, n=10), {"eta": 0.1})
    for path in (groups, cfd):
        assert detect_format(path) == "pdebench"
        whole = read_pdebench(path, n_steps_input=2, target="trajectory")
        splits = generate_file(
            FileConfig(str(path), n_steps_input=2, target="trajectory", stream="stream")
        )
        assert isinstance(splits["train"], LazyDataset)
        train_inputs, train_outputs = splits["train"].read(np.arange(9))
        np.testing.assert_array_equal(train_inputs, whole.inputs[:9])
        np.testing.assert_array_equal(train_outputs, whole.outputs[:9])
        np.testing.assert_array_equal(splits["test"].inputs, whole.inputs[9:])
        splits = generate_file(FileConfig(str(path), n_train=4, n_test=3, stream="memory"))
        assert isinstance(splits["train"], OperatorDataset)
        assert (len(splits["train"]), len(splits["test"])) == (4, 3)
