"""Readers of the FNO `.mat` files (v5 and v7.3) and PDEBench HDF5 files.

Every array written here encodes its own indices (entry = sum of index_k * 100^k),
so a transposed or reversed axis would change the values read back.
"""

import h5py
import numpy as np
import pytest
import scipy.io

from sciml.data.dataset import OperatorDataset
from sciml.data.readers import (
    read_fno_burgers,
    read_fno_darcy,
    read_fno_navier_stokes,
    read_pdebench,
    read_pdebench_burgers,
    read_pdebench_darcy,
    train_test_split,
)


def encoded(*shape, offset=0.0):
    """An array whose entry at (i0, i1, ...) is i0 * 100^(r-1) + i1 * 100^(r-2) + ... ."""
    index = np.indices(shape)
    weights = 100.0 ** np.arange(len(shape) - 1, -1, -1)
    return np.tensordot(weights, index, axes=1) + offset


def write_v5(path, variables):
    scipy.io.savemat(path, variables)
    return path


def write_v73(path, variables, matlab_class="double"):
    """A MATLAB v7.3 file as MATLAB writes it: a 512-byte header, then HDF5 holding
    every array column-major, i.e. with its axes reversed."""
    dtype = np.float64 if matlab_class == "double" else np.float32
    with h5py.File(path, "w", userblock_size=512) as file:
        for name, value in variables.items():
            value = np.atleast_2d(np.asarray(value, dtype=dtype))
            file.create_dataset(name, data=value.T)  # .T reverses every axis
            file[name].attrs["MATLAB_class"] = np.bytes_(matlab_class)
    text = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, "
        b"Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    )
    header = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as raw:
        raw.write(header)
    return path


WRITERS = {
    "v5": write_v5,
    "v7.3-double": write_v73,
    "v7.3-single": lambda path, variables: write_v73(path, variables, "single"),
}


@pytest.fixture(params=sorted(WRITERS))
def write_mat(request):
    return WRITERS[request.param]


def test_v73_writer_matches_matlab_layout(tmp_path):
    path = write_v73(tmp_path / "f.mat", {"a": encoded(3, 8)})
    assert h5py.is_hdf5(path)
    assert open(path, "rb").read(19) == b"MATLAB 7.3 MAT-file"
    with h5py.File(path, "r") as file:
        assert file["a"].shape == (8, 3)
        assert file.userblock_size == 512


# ------------------------------------------------------------------------ FNO


def test_fno_burgers_reads_values_and_axis_order(tmp_path, write_mat):
    a, u = encoded(4, 16), encoded(4, 16, offset=0.5)
    path = write_mat(tmp_path / "burgers_data_R10.mat", {"a": a, "u": u})
    data = read_fno_burgers(path)
    assert isinstance(data, OperatorDataset)
    assert data.inputs.shape == (4, 1, 16) and data.inputs.dtype == np.float32
    np.testing.assert_array_equal(data.inputs[:, 0], a)
    np.testing.assert_array_equal(data.outputs[:, 0], u)
    np.testing.assert_allclose(data.coords[0], np.arange(16) / 16)
    assert data.config["n"] == 4 and data.config["file"] == "burgers_data_R10.mat"


def test_fno_burgers_subsample_and_n(tmp_path, write_mat):
    a, u = encoded(5, 16), encoded(5, 16, offset=0.25)
    path = write_mat(tmp_path / "burgers.mat", {"a": a, "u": u})
    data = read_fno_burgers(path, subsample=4, n=3)
    assert data.inputs.shape == (3, 1, 4)
    np.testing.assert_array_equal(data.inputs[:, 0], a[:3, ::4])
    np.testing.assert_array_equal(data.outputs[:, 0], u[:3, ::4])
    np.testing.assert_allclose(data.coords[0], [0.0, 0.25, 0.5, 0.75])


def test_format_is_detected_from_contents_not_name(tmp_path):
    a = encoded(2, 8)
    v73 = write_v73(tmp_path / "looks_like.hdf5", {"a": a, "u": a})
    v5 = write_v5(tmp_path / "other.dat", {"a": a, "u": a})
    assert read_fno_burgers(v73).config["format"] == "MATLAB v7.3"
    assert read_fno_burgers(v5).config["format"] == "MATLAB v5"
    np.testing.assert_array_equal(read_fno_burgers(v73).inputs[:, 0], a)


def test_fno_darcy_keeps_boundary_nodes_and_axis_order(tmp_path, write_mat):
    coeff, sol = encoded(3, 9, 9), encoded(3, 9, 9, offset=0.5)
    path = write_mat(tmp_path / "piececonst_r9.mat", {"coeff": coeff, "sol": sol})
    full = read_fno_darcy(path)
    np.testing.assert_array_equal(full.inputs[:, 0], coeff)
    np.testing.assert_array_equal(full.outputs[:, 0], sol)
    data = read_fno_darcy(path, subsample=2, n=2)
    assert data.inputs.shape == data.outputs.shape == (2, 1, 5, 5)
    np.testing.assert_array_equal(data.inputs[:, 0], coeff[:2, ::2, ::2])
    np.testing.assert_array_equal(data.outputs[:, 0], sol[:2, ::2, ::2])
    assert data.outputs[1, 0, 1, 2] == 100**2 + 2 * 100 + 4 + 0.5  # sol[1, 2, 4]
    for axis in data.coords:
        np.testing.assert_allclose(axis, np.linspace(0, 1, 5))


def test_fno_navier_stokes_moves_time_to_channels(tmp_path, write_mat):
    a, u = encoded(3, 8, 8), encoded(3, 8, 8, 5, offset=0.5)
    t = np.arange(1.0, 6.0)[None]
    path = write_mat(tmp_path / "NavierStokes_V1e-3_N3_T5.mat", {"a": a, "u": u, "t": t})
    data = read_fno_navier_stokes(path, n=2)
    assert data.inputs.shape == (2, 1, 8, 8) and data.outputs.shape == (2, 5, 8, 8)
    np.testing.assert_array_equal(data.inputs[:, 0], a[:2])
    np.testing.assert_array_equal(data.outputs, np.moveaxis(u[:2], 3, 1))
    assert data.outputs[1, 4, 2, 3] == u[1, 2, 3, 4]
    for axis in data.coords:
        np.testing.assert_allclose(axis, np.arange(8) / 8)
    assert data.config["t"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert data.config["nu"] == pytest.approx(1e-3) and data.config["T"] == 5
    assert data.config["nu_source"] == "file name"


def test_fno_navier_stokes_single_frame_and_no_times(tmp_path):
    # MATLAB drops trailing singleton axes: u of size (N, s, s, 1) is stored as (N, s, s).
    a, u = encoded(2, 4, 4), encoded(2, 4, 4, offset=0.5)
    data = read_fno_navier_stokes(write_v73(tmp_path / "ns.mat", {"a": a, "u": u}))
    assert data.outputs.shape == (2, 1, 4, 4)
    np.testing.assert_array_equal(data.outputs[:, 0], u)
    assert data.config["t"] is None and data.config["nu"] is None


@pytest.mark.parametrize(
    ("name", "nu"),
    [
        ("NavierStokes_V1e-3_N5000_T3.mat", 1e-3),
        ("NavierStokes_V1e-4_N10000_T3.mat", 1e-4),
        ("NavierStokes_V1e-5_N1200_T3.mat", 1e-5),
        ("ns_V1e-3_N5000_T3.mat", 1e-3),
        ("ns_data_V1e-4_N20_T3_R256test.mat", 1e-4),
        # the FNO scripts' own names: this V is not the viscosity
        ("ns_data_V100_N1000_T3_1.mat", None),
        ("ns_data_V10000_N1200_T3.mat", None),
    ],
)
def test_fno_navier_stokes_viscosity_only_from_published_names(tmp_path, name, nu):
    variables = {"a": encoded(2, 4, 4), "u": encoded(2, 4, 4, 3), "t": np.arange(1.0, 4.0)[None]}
    config = read_fno_navier_stokes(write_v5(tmp_path / name, variables)).config
    assert config["nu"] == (pytest.approx(nu) if nu else None)
    assert config["nu_source"] == ("file name" if nu else None)
    assert (config["T"], config["T_source"]) == (3, "file name") and isinstance(config["T"], int)


def test_fno_navier_stokes_nu_argument_wins(tmp_path):
    variables = {"a": encoded(2, 4, 4), "u": encoded(2, 4, 4, 2)}
    renamed = write_v5(tmp_path / "ns_data_V100_N2_T2_1.mat", variables)
    config = read_fno_navier_stokes(renamed, nu=1e-3).config
    assert (config["nu"], config["nu_source"]) == (1e-3, "argument")
    published = write_v5(tmp_path / "NavierStokes_V1e-3_N2_T2.mat", variables)
    assert read_fno_navier_stokes(published, nu=2e-3).config["nu"] == 2e-3
    for bad in (0, -1e-3, float("nan"), "1e-3", True):
        with pytest.raises(ValueError, match="nu to be a positive number"):
            read_fno_navier_stokes(published, nu=bad)


def test_fno_navier_stokes_horizon_is_checked_against_the_file(tmp_path, write_mat):
    a = encoded(2, 4, 4)
    # the generator's own default: 4 frames per unit time, t = 0.25 .. T
    quarter = {"a": a, "u": encoded(2, 4, 4, 8), "t": (np.arange(1.0, 9.0) / 4)[None]}
    config = read_fno_navier_stokes(write_mat(tmp_path / "ns_V1e-4_N2_T2.mat", quarter)).config
    assert (config["T"], config["T_source"]) == (2, "file name")
    with pytest.raises(ValueError, match=r"name says T = 8 but its stored times 't' end at 2"):
        read_fno_navier_stokes(write_mat(tmp_path / "ns_V1e-4_N2_T8.mat", quarter))
    untimed = {"a": a, "u": encoded(2, 4, 4, 3)}
    config = read_fno_navier_stokes(write_mat(tmp_path / "NavierStokes_N2_T3.mat", untimed)).config
    assert (config["T"], config["T_source"], config["t"]) == (3, "file name", None)
    with pytest.raises(ValueError, match=r"name says T = 50 but 'u' holds 3 frames and no times"):
        read_fno_navier_stokes(write_mat(tmp_path / "NavierStokes_V1e-3_N2_T50.mat", untimed))
    unnamed = read_fno_navier_stokes(write_mat(tmp_path / "vorticity.mat", quarter)).config
    assert (unnamed["T"], unnamed["T_source"], unnamed["nu"]) == (2.0, "t", None)


def test_train_test_split_takes_first_and_last(tmp_path):
    a = encoded(10, 8)
    data = read_fno_burgers(write_v5(tmp_path / "b.mat", {"a": a, "u": a}))
    train, test = train_test_split(data, 6, 3)
    np.testing.assert_array_equal(train.inputs[:, 0], a[:6])
    np.testing.assert_array_equal(test.inputs[:, 0], a[7:])
    assert test.coords[0] is data.coords[0]
    with pytest.raises(ValueError, match="n_train \\+ n_test <= 10.*6 \\+ 5 = 11"):
        train_test_split(data, 6, 5)
    with pytest.raises(ValueError, match="n_test"):
        train_test_split(data, 6, 0)


# ------------------------------------------------------------------- PDEBench


def write_pdebench_burgers(path, tensor, x, t):
    with h5py.File(path, "w") as file:
        file["tensor"] = tensor.astype(np.float32)
        file["x-coordinate"] = x.astype(np.float32)
        file["t-coordinate"] = t.astype(np.float32)
    return path


@pytest.mark.parametrize("extra_time", [0, 1])
def test_pdebench_burgers_final_and_trajectory(tmp_path, extra_time):
    tensor = encoded(4, 6, 10)
    x = (np.arange(10) + 0.5) / 10
    t = np.arange(6 + extra_time) * 0.25
    path = write_pdebench_burgers(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5", tensor, x, t)
    final = read_pdebench_burgers(path, n=3)
    assert final.inputs.shape == final.outputs.shape == (3, 1, 10)
    np.testing.assert_array_equal(final.inputs[:, 0], tensor[:3, 0])
    np.testing.assert_array_equal(final.outputs[:, 0], tensor[:3, -1])
    np.testing.assert_allclose(final.coords[0], x, rtol=1e-6)
    assert final.config["times"] == pytest.approx(list(t[:6]))
    assert final.config["output_times"] == pytest.approx([1.25])
    assert final.config["nu"] == pytest.approx(0.01)
    trajectory = read_pdebench_burgers(path, target="trajectory")
    assert trajectory.outputs.shape == (4, 5, 10)
    np.testing.assert_array_equal(trajectory.outputs, tensor[:, 1:])
    assert trajectory.config["output_times"] == pytest.approx(list(t[1:6]))


def write_pdebench_darcy(path, nu, tensor, x, y):
    with h5py.File(path, "w") as file:
        file["nu"] = nu.astype(np.float32)
        file["tensor"] = tensor.astype(np.float32)
        file["x-coordinate"] = x
        file["y-coordinate"] = y
    return path


def test_pdebench_darcy_reads_rectangular_grid_in_stored_order(tmp_path):
    nu, tensor = encoded(3, 6, 5), encoded(3, 1, 6, 5, offset=0.5)
    x, y = np.linspace(0, 1, 6), np.linspace(0, 2, 5)
    path = write_pdebench_darcy(tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5", nu, tensor, x, y)
    data = read_pdebench_darcy(path, n=2)
    assert data.inputs.shape == data.outputs.shape == (2, 1, 6, 5)
    np.testing.assert_array_equal(data.inputs[:, 0], nu[:2])
    np.testing.assert_array_equal(data.outputs, tensor[:2])
    np.testing.assert_allclose(data.coords[0], x)
    np.testing.assert_allclose(data.coords[1], y)
    assert data.config["beta"] == pytest.approx(1.0)


# --------------------------------------------------------------------- errors

READERS = [
    read_fno_burgers,
    read_fno_darcy,
    read_fno_navier_stokes,
    read_pdebench,
    read_pdebench_burgers,
    read_pdebench_darcy,
]


@pytest.mark.parametrize("reader", READERS)
def test_missing_path_raises_file_not_found(tmp_path, reader):
    with pytest.raises(FileNotFoundError, match="nowhere.mat"):
        reader(tmp_path / "nowhere.mat")


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("content", [b"", b"not a data file at all\n" * 20, b"\x00" * 300])
def test_garbage_file_raises_value_error(tmp_path, reader, content):
    path = tmp_path / "garbage.mat"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="expected"):
        reader(path)


def test_wrong_family_of_file_is_refused(tmp_path):
    a = encoded(2, 8)
    v5 = write_v5(tmp_path / "b.mat", {"a": a, "u": a})
    with pytest.raises(ValueError, match="not an HDF5 file; expected a PDEBench"):
        read_pdebench_burgers(v5)
    plain = write_pdebench_burgers(
        tmp_path / "p.hdf5", encoded(2, 3, 8), np.arange(8), np.arange(3)
    )
    with pytest.raises(ValueError, match="without the MATLAB 7.3 header"):
        read_fno_burgers(plain)


@pytest.mark.parametrize("writer", [write_v5, write_v73])
def test_missing_variable_is_named(tmp_path, writer):
    path = writer(tmp_path / "b.mat", {"a": encoded(2, 8), "extra": encoded(2, 2)})
    with pytest.raises(ValueError, match=r"no variable 'u'.*\['a', 'extra'\]"):
        read_fno_burgers(path)


@pytest.mark.parametrize("writer", [write_v5, write_v73])
def test_fno_shape_errors(tmp_path, writer):
    cases = [
        (
            read_fno_burgers,
            {"a": encoded(2, 2, 8), "u": encoded(2, 2, 8)},
            r"\(N, X\).*\(2, 2, 8\)",
        ),
        (read_fno_burgers, {"a": encoded(4, 8), "u": encoded(3, 8)}, r"\(4, 8\).*got \(3, 8\)"),
        (read_fno_darcy, {"coeff": encoded(2, 9, 7), "sol": encoded(2, 9, 7)}, "square"),
        (read_fno_darcy, {"coeff": encoded(2, 9, 9), "sol": encoded(2, 9, 5)}, r"got \(2, 9, 5\)"),
        (
            read_fno_navier_stokes,
            {"a": encoded(2, 4, 4), "u": encoded(3, 4, 4, 2)},
            r"\(2, 4, 4, T\).*got \(3, 4, 4, 2\)",
        ),
        (
            read_fno_navier_stokes,
            {"a": encoded(2, 4, 4), "u": encoded(2, 4, 4, 3), "t": np.arange(4.0)[None]},
            "T = 3 times.*got 4",
        ),
    ]
    for number, (reader, variables, message) in enumerate(cases):
        path = writer(tmp_path / f"case{number}.mat", variables)
        with pytest.raises(ValueError, match=message):
            reader(path)


def test_subsample_and_n_errors(tmp_path):
    burgers = write_v5(tmp_path / "b.mat", {"a": encoded(3, 16), "u": encoded(3, 16)})
    darcy = write_v73(tmp_path / "d.mat", {"coeff": encoded(2, 9, 9), "sol": encoded(2, 9, 9)})
    with pytest.raises(ValueError, match="subsample=3 must divide the 16"):
        read_fno_burgers(burgers, subsample=3)
    with pytest.raises(ValueError, match="subsample=3 must divide s - 1 = 8"):
        read_fno_darcy(darcy, subsample=3)
    with pytest.raises(ValueError, match="positive integer, got 0"):
        read_fno_burgers(burgers, subsample=0)
    with pytest.raises(ValueError, match="holds 3 samples, but n=4"):
        read_fno_burgers(burgers, n=4)
    with pytest.raises(ValueError, match="positive integer, got 2.5"):
        read_fno_darcy(darcy, n=2.5)


@pytest.mark.parametrize("writer", [write_v5, write_v73])
def test_nan_in_mat_file_is_refused(tmp_path, writer):
    u = encoded(2, 8)
    u[1, 3] = np.nan
    path = writer(tmp_path / "b.mat", {"a": encoded(2, 8), "u": u})
    with pytest.raises(ValueError, match="'u' holds 1 non-finite"):
        read_fno_burgers(path)


def test_pdebench_errors(tmp_path):
    tensor, x = encoded(2, 3, 8), np.arange(8.0)
    cases = [
        (
            write_pdebench_burgers(tmp_path / "x.h5", tensor, x[:7], np.arange(3.0)),
            "8 nodes.*got shape \\(7,\\)",
        ),
        (
            write_pdebench_burgers(tmp_path / "t.h5", tensor, x, np.arange(5.0)),
            "T = 3 or T \\+ 1 = 4.*got 5",
        ),
        (
            write_pdebench_burgers(tmp_path / "r.h5", tensor[0], x, np.arange(3.0)),
            "\\(N, T, X\\), got shape \\(3, 8\\)",
        ),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=message):
            read_pdebench_burgers(path)
    bad = tensor.copy()
    bad[0, 2, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        read_pdebench_burgers(write_pdebench_burgers(tmp_path / "n.h5", bad, x, np.arange(3.0)))
    good = write_pdebench_burgers(tmp_path / "g.h5", tensor, x, np.arange(3.0))
    with pytest.raises(ValueError, match="'final' or 'trajectory', got 'middle'"):
        read_pdebench_burgers(good, target="middle")
    with pytest.raises(
        ValueError, match="no dataset 'nu'.*\\['t-coordinate', 'tensor', 'x-coordinate'\\]"
    ):
        read_pdebench_darcy(good)
    nu, y = encoded(2, 6, 5), np.arange(5.0)
    darcy = write_pdebench_darcy(tmp_path / "d.h5", nu, encoded(2, 1, 5, 6), np.arange(6.0), y)
    with pytest.raises(ValueError, match="'tensor' should have the shape of 'nu' \\(2, 1, 6, 5\\)"):
        read_pdebench_darcy(darcy)


# ------------------------------------------- only what the file holds, and not too much


def write_other_file(path, values):
    """Another HDF5 file a crafted data file may point into."""
    with h5py.File(path, "w") as file:
        file["values"] = values
    return path


def point_elsewhere(file, name, how, other, like):
    """Make ``file[name]`` an HDF5 route to data outside ``file``: ``like`` gives the
    shape and dtype the reader expects there."""
    if how == "external link":
        file[name] = h5py.ExternalLink(str(other), "/values")
    elif how == "soft link":
        file[name] = h5py.SoftLink("/hidden")
    elif how == "virtual dataset":
        layout = h5py.VirtualLayout(shape=like.shape, dtype=like.dtype)
        layout[...] = h5py.VirtualSource(str(other), "values", shape=like.shape)
        file.create_virtual_dataset(name, layout)
    else:  # external raw storage: the values are the bytes of another file
        file.create_dataset(
            name, shape=like.shape, dtype=like.dtype, external=[(str(other), 0, like.nbytes)]
        )


ROUTES = ["external link", "soft link", "virtual dataset", "external storage"]


@pytest.mark.parametrize("how", ROUTES)
def test_mat_v73_refuses_data_from_outside_the_file(tmp_path, how):
    a = encoded(2, 8)
    stored = np.ascontiguousarray((a + 1000.0).T)  # what the other file holds, MATLAB order
    other = write_other_file(tmp_path / "other.h5", stored)
    path = write_v73(tmp_path / "burgers.mat", {"a": a})
    with h5py.File(path, "r+") as file:
        file["hidden"] = stored
        point_elsewhere(file, "u", how, other, stored)
    with pytest.raises(ValueError, match=rf"burgers\.mat: 'u' .*{how.split()[0]}"):
        read_fno_burgers(path)


@pytest.mark.parametrize("how", ROUTES)
def test_pdebench_refuses_data_from_outside_the_file(tmp_path, how):
    tensor = encoded(2, 3, 8).astype(np.float32)
    other = write_other_file(tmp_path / "other.h5", tensor)
    path = write_pdebench_burgers(tmp_path / "b.hdf5", tensor, np.arange(8.0), np.arange(3.0))
    with h5py.File(path, "r+") as file:
        file["hidden"] = tensor
        del file["tensor"]
        point_elsewhere(file, "tensor", how, other, tensor)
    with pytest.raises(ValueError, match=rf"b\.hdf5: 'tensor' .*{how.split()[0]}"):
        read_pdebench_burgers(path)


def test_uint8_external_storage_does_not_leak_another_files_bytes(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"password=hunter2;" * 8)
    nu = np.zeros((2, 4, 4), np.uint8)
    darcy = write_pdebench_darcy(
        tmp_path / "d.hdf5", nu, encoded(2, 1, 4, 4), np.arange(4.0), np.arange(4.0)
    )
    with h5py.File(darcy, "r+") as file:
        del file["nu"]
        file.create_dataset("nu", shape=nu.shape, dtype=np.uint8, external=[(str(secret), 0, 32)])
    with pytest.raises(ValueError, match=r"d\.hdf5: 'nu' keeps its values in external files"):
        read_pdebench_darcy(darcy)


def write_compressed_v73(path, variables):
    """A v7.3 file whose variables are chunked and deflated, as MATLAB writes large
    arrays: the declared size can be far above the file's size."""
    write_v73(path, {name: value[:1] for name, value in variables.items()})
    with h5py.File(path, "r+") as file:
        for name, value in variables.items():
            del file[name]
            file.create_dataset(name, data=value.T, chunks=True, compression="gzip")
            file[name].attrs["MATLAB_class"] = np.bytes_("double")
    return path


def test_declared_size_above_max_bytes_is_refused_before_reading(tmp_path):
    a = np.zeros((64, 2048))  # 1 MiB as float64, a few KiB on disk
    path = write_compressed_v73(tmp_path / "big.mat", {"a": a, "u": a + 1.0})
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(
        ValueError, match=r"big\.mat: reading 'a' would take 1048576 bytes.*max_bytes"
    ):
        read_fno_burgers(path, max_bytes=2**19)
    # the bytes counted are those of the selection: two samples fit
    assert len(read_fno_burgers(path, max_bytes=2**19, n=2)) == 2
    data = read_fno_burgers(path, max_bytes=2**20)
    np.testing.assert_array_equal(data.outputs[:, 0], a + 1.0)


def test_pdebench_declared_size_above_max_bytes_is_refused(tmp_path):
    tensor = np.zeros((16, 8, 1024), np.float32)  # 512 KiB
    path = tmp_path / "b.hdf5"
    with h5py.File(path, "w") as file:
        file.create_dataset("tensor", data=tensor, chunks=(1, 8, 1024), compression="gzip")
        file["x-coordinate"] = np.arange(1024.0)
        file["t-coordinate"] = np.arange(8.0)
    with pytest.raises(ValueError, match=r"'tensor' would take 458752 bytes.*max_bytes=100000"):
        read_pdebench_burgers(path, target="trajectory", max_bytes=100_000)
    assert read_pdebench_burgers(path, target="trajectory").outputs.shape == (16, 7, 1024)


def test_chunks_never_written_are_refused_not_read_as_fill_values(tmp_path):
    """A file of a few KiB declaring 256 MiB: none of its values is in the file."""
    path = write_v73(tmp_path / "empty.mat", {"a": encoded(2, 8)})
    with h5py.File(path, "r+") as file:
        del file["a"]
        for name in ("a", "u"):
            file.create_dataset(name, shape=(4096, 4096), dtype=np.float64, chunks=(64, 64))
            file[name].attrs["MATLAB_class"] = np.bytes_("double")
    assert path.stat().st_size < 16 * 1024
    with pytest.raises(ValueError, match=r"empty\.mat: 'a' declares shape \(4096, 4096\).*fill"):
        read_fno_burgers(path, max_bytes=2**40)


def test_mat_v5_variable_above_max_bytes_is_refused_before_loading(tmp_path, monkeypatch):
    path = write_v5(tmp_path / "b.mat", {"a": encoded(8, 64), "u": encoded(8, 64)})
    assert len(read_fno_burgers(path, max_bytes=8 * 64 * 8)) == 8

    def must_not_load(*args, **kwargs):
        raise AssertionError("loadmat must not be called for a variable above max_bytes")

    monkeypatch.setattr(scipy.io, "loadmat", must_not_load)
    # scipy reads a v5 variable whole, so even n=1 counts all of it
    with pytest.raises(ValueError, match=r"reading 'a' would take 4096 bytes.*max_bytes=4095"):
        read_fno_burgers(path, max_bytes=4095, n=1)


@pytest.mark.parametrize("reader", READERS)
def test_max_bytes_must_be_a_positive_integer(tmp_path, reader):
    path = write_v73(tmp_path / "f.mat", {"a": encoded(2, 8)})
    with pytest.raises(ValueError, match="max_bytes to be a positive integer, got 0"):
        reader(path, max_bytes=0)


def test_the_file_task_reads_an_fno_file_of_either_format(tmp_path, write_mat):
    """``sciml train --data file.mat``: the FNO reader is found from the contents and
    the file split first-train / last-test."""
    from sciml.tasks.files import FileConfig, detect_format, generate_file

    coeff, sol = encoded(10, 5, 5), encoded(10, 5, 5, offset=0.5)
    path = write_mat(tmp_path / "renamed.bin", {"coeff": coeff, "sol": sol})
    assert detect_format(path) == "fno"
    splits = generate_file(FileConfig(str(path), n_train=6, n_test=3))
    np.testing.assert_array_equal(splits["train"].inputs[:, 0], coeff[:6])
    np.testing.assert_array_equal(splits["test"].outputs[:, 0], sol[7:])
    assert splits["train"].config["periodic"] is False
