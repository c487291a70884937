"""Readers for the published operator-learning data files, into `OperatorDataset`.

Two families of files are read, so a user who has the original files can train on
them directly:

* The FNO files of Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart,
  Anandkumar, "Fourier Neural Operator for Parametric Partial Differential
  Equations", ICLR 2021: ``burgers_data_R10.mat``,
  ``piececonst_r421_N1024_smooth{1,2}.mat`` and ``NavierStokes_V1e-3_N5000_T50.mat``
  (and their siblings with other viscosities and lengths).
* The PDEBench files of Takamoto, Praditia, Leiteritz, MacKinlay, Alesiani,
  Pflüger, Niepert, "PDEBench: An Extensive Benchmark for Scientific Machine
  Learning", NeurIPS 2022 Datasets and Benchmarks, read in `sciml.data.pdebench`
  and named here too: `read_pdebench_burgers`, `read_pdebench_darcy`, and
  `read_pdebench` / `PDEBenchTrajectories` for every time-dependent layout.

Axis conventions
----------------
A ``.mat`` file is either MATLAB v5 (read with `scipy.io.loadmat`) or MATLAB v7.3,
which is an HDF5 file behind a 512-byte header ("userblock"). The format is found
from the file's contents, never from its name. MATLAB stores arrays column-major,
so an array that MATLAB calls ``(N, 8192)`` appears to HDF5 as ``(8192, N)``; the
v7.3 reader reverses every axis, so both formats give the array in MATLAB's own
axis order. That is also the order the FNO scripts work in (their ``MatReader``
reverses the axes of v7.3 arrays the same way), so ``coeff[n, i, j]`` here is the
``x_train[n, i, j]`` of the FNO Darcy script, and the grid axes of a 2-D field are
kept in that order: ``(N, C, s, s)`` with axis 2 the MATLAB row index.

The PDEBench files are plain (row-major) HDF5 and are read in the order stored
(see `sciml.data.pdebench` for their layouts).

Every reader returns channel-first float32 fields ``(N, C, *grid)``; ``n`` limits
the number of samples and, for HDF5 files, only those samples are read from disk.

What is read
------------
Only values stored in the given file are read: an HDF5 soft or external link, a
virtual dataset or a dataset with external raw storage is refused with a
`ValueError` naming the file and the dataset, since it would hand back values from
another file. No array bigger than ``max_bytes`` (default
`sciml.data.hdf5.DEFAULT_MAX_BYTES`, 8 GiB, which admits every published file) is
read: the size is the one the file declares, checked before anything is allocated.
For HDF5 files it is the selection read (``n`` samples, subsampled); a MATLAB v5
variable is read whole by scipy, so its whole declared size counts.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from sciml.data import hdf5
from sciml.data.dataset import OperatorDataset
from sciml.data.hdf5 import DEFAULT_MAX_BYTES

# The PDEBench readers have their own module and are named here too, where they were
# first; the checks both families share are defined there, so the import runs one way.
from sciml.data.pdebench import PDEBenchTrajectories as PDEBenchTrajectories
from sciml.data.pdebench import (
    _existing_file,
    _finite,
    _name_parameter,
    _positive_int,
    _same_shape,
    _sample_count,
)
from sciml.data.pdebench import read_pdebench as read_pdebench
from sciml.data.pdebench import read_pdebench_burgers as read_pdebench_burgers
from sciml.data.pdebench import read_pdebench_darcy as read_pdebench_darcy

__all__ = [
    "PDEBenchTrajectories",
    "read_fno_burgers",
    "read_fno_darcy",
    "read_fno_navier_stokes",
    "read_pdebench",
    "read_pdebench_burgers",
    "read_pdebench_darcy",
    "train_test_split",
]

_MAT_EXPECTED = "expected a MATLAB v5 or v7.3 (HDF5) .mat file"
_MAT73_HEADER = b"MATLAB 7.3 MAT-file"

#: Bytes per element of the numeric MATLAB classes that scipy's ``whosmat`` names.
_V5_ITEMSIZE = {
    "double": 8,
    "single": 4,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "uint64": 8,
    "logical": 1,
}


# --------------------------------------------------------------------------- files


class _MatFile:
    """A MATLAB v5 or v7.3 file, read variable by variable in MATLAB axis order."""

    def __init__(self, path: Path, max_bytes: int):
        self.path = path
        self.max_bytes = max_bytes
        self._hdf5: h5py.File | None = None
        self._v5_shapes: dict[str, tuple[int, ...]] = {}
        self._v5_classes: dict[str, str] = {}
        if h5py.is_hdf5(path):
            self._open_v73()
        else:
            self._open_v5()

    def _open_v73(self):
        try:
            file = h5py.File(self.path, "r")
        except OSError as error:
            raise ValueError(
                f"{self.path} looks like HDF5 but cannot be opened; {_MAT_EXPECTED}: {error}"
            ) from error
        with open(self.path, "rb") as raw:
            header = raw.read(len(_MAT73_HEADER))
        # Only hard-linked members are looked at: following a link opens another file.
        written_by_matlab = header == _MAT73_HEADER or any(
            isinstance(file.get(name, getlink=True), h5py.HardLink)
            and "MATLAB_class" in file[name].attrs
            for name in file
        )
        if not written_by_matlab:
            file.close()
            raise ValueError(
                f"{self.path} is an HDF5 file without the MATLAB 7.3 header or MATLAB_class "
                f"attributes; {_MAT_EXPECTED} (its axis order would be ambiguous)"
            )
        self._hdf5 = file

    def _open_v5(self):
        with open(self.path, "rb") as raw:
            header = raw.read(len(_MAT73_HEADER))
        if header == _MAT73_HEADER:
            raise ValueError(
                f"{self.path} has a MATLAB 7.3 header but no readable HDF5 content; {_MAT_EXPECTED}"
            )
        try:
            listing = scipy.io.whosmat(self.path)
        except (scipy.io.matlab.MatReadError, ValueError, TypeError, OSError, EOFError) as error:
            raise ValueError(f"{self.path}: {_MAT_EXPECTED}, could not read it: {error}") from error
        except NotImplementedError as error:  # scipy's answer to v7.3 it cannot read
            raise ValueError(f"{self.path}: {_MAT_EXPECTED}: {error}") from error
        self._v5_shapes = {name: tuple(shape) for name, shape, _ in listing}
        self._v5_classes = {name: matlab_class for name, _, matlab_class in listing}

    def __enter__(self) -> _MatFile:
        return self

    def __exit__(self, *exc_info):
        if self._hdf5 is not None:
            self._hdf5.close()

    @property
    def format(self) -> str:
        return "MATLAB v7.3" if self._hdf5 is not None else "MATLAB v5"

    def names(self) -> list[str]:
        if self._hdf5 is not None:
            # '#refs#' and '#subsystem#' are MATLAB's own bookkeeping groups.
            return sorted(name for name in self._hdf5 if not name.startswith("#"))
        return sorted(self._v5_shapes)

    def shape(self, name: str) -> tuple[int, ...]:
        """The MATLAB size of variable ``name``; ValueError if the file lacks it."""
        if name not in self.names():
            raise ValueError(
                f"{self.path} ({self.format}) has no variable {name!r}; it holds {self.names()}"
            )
        if self._hdf5 is None:
            return self._v5_shapes[name]
        item = hdf5.plain_dataset(self._hdf5, name, self.path)
        if item.dtype.kind not in "fiu":
            raise ValueError(
                f"{self.path}: variable {name!r} is not a real numeric array "
                f"(got {item!r}); expected a MATLAB double or single array"
            )
        return tuple(reversed(item.shape))

    def read(self, name: str, index: tuple[slice, ...] = ()) -> np.ndarray:
        """``variable[index]`` as float32, with ``index`` in MATLAB axis order."""
        rank = len(self.shape(name))
        index = tuple(index) + (slice(None),) * (rank - len(index))
        if self._hdf5 is not None:
            # HDF5 sees the axes reversed: select with the reversed index, then
            # transpose back, so only the selected samples leave the disk.
            dataset = hdf5.plain_dataset(self._hdf5, name, self.path)
            array = hdf5.read(
                dataset,
                tuple(reversed(index)),
                path=self.path,
                name=name,
                max_bytes=self.max_bytes,
            ).transpose()
        else:
            self._check_v5_size(name)
            array = scipy.io.loadmat(self.path, variable_names=[name])[name]
            if array.dtype.kind not in "fiu":
                raise ValueError(
                    f"{self.path}: variable {name!r} is not a real numeric array "
                    f"(got dtype {array.dtype}); expected a MATLAB double or single array"
                )
            array = array[index]
        return _finite(np.ascontiguousarray(array, dtype=np.float32), name, self.path)

    def _check_v5_size(self, name: str):
        """scipy reads a v5 variable whole: refuse it, before loading, when its
        declared size is above ``max_bytes`` or its class is not numeric."""
        matlab_class = self._v5_classes[name]
        if matlab_class not in _V5_ITEMSIZE:
            raise ValueError(
                f"{self.path}: variable {name!r} is not a real numeric array "
                f"(MATLAB class {matlab_class}); expected a MATLAB double or single array"
            )
        n_bytes = math.prod(self._v5_shapes[name]) * _V5_ITEMSIZE[matlab_class]
        hdf5.check_read_size(self.path, name, n_bytes, self.max_bytes)


def _open_mat(path: str | os.PathLike, max_bytes: int) -> _MatFile:
    return _MatFile(_existing_file(path), _positive_int(max_bytes, "max_bytes"))


# ----------------------------------------------------------------------- checking


def _mat_shape(mat: _MatFile, name: str, layout: str) -> tuple[int, ...]:
    """MATLAB size of ``name``, checked against ``layout`` such as ``'(N, X)'``."""
    shape = mat.shape(name)
    rank = layout.count(",") + 1
    if len(shape) != rank:
        raise ValueError(
            f"{mat.path}: variable {name!r} should have MATLAB size {layout}, got {shape}"
        )
    return shape


def _square_grid(shape: tuple[int, ...], name: str, path) -> int:
    if shape[1] != shape[2]:
        raise ValueError(f"{path}: {name!r} should be on a square grid (N, s, s), got {shape}")
    return shape[1]


# ---------------------------------------------------------------------- FNO files


def read_fno_burgers(
    path: str | os.PathLike,
    *,
    subsample: int = 1,
    n: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> OperatorDataset:
    """The 1-D Burgers data of Li et al. (2021), ``burgers_data_R10.mat``.

    The file holds ``a`` (initial conditions) and ``u`` (solutions at t = 1), each of
    MATLAB size ``(N, X)`` with X = 8192, on the periodic grid ``x_j = j / X``.
    Every ``subsample``-th node is kept, as the FNO script does with ``[:, ::sub]``.

    Args:
        path: the ``.mat`` file, MATLAB v5 or v7.3.
        subsample: keep every ``subsample``-th node; it must divide X.
        n: read only the first ``n`` samples (all when None).
        max_bytes: refuse, before reading, any array bigger than this many bytes
            as stored (default 8 GiB); raise it to read a larger file.

    Returns:
        inputs ``a: (n, 1, s)`` and outputs ``u: (n, 1, s)`` in float32 with
        ``s = X / subsample``; coordinates ``(arange(s) / s,)`` (periodic, the end
        point 1 excluded).

    References:
        Li et al., "Fourier Neural Operator for Parametric Partial Differential
        Equations", ICLR 2021, §5.1.
    """
    with _open_mat(path, max_bytes) as mat:
        shape = _mat_shape(mat, "a", "(N, X)")
        _same_shape(mat.path, "a", shape, "u", _mat_shape(mat, "u", "(N, X)"))
        n_total, size = shape
        step = _positive_int(subsample, "subsample")
        if size % step:
            raise ValueError(
                f"subsample={step} must divide the {size} periodic grid nodes of {mat.path}"
            )
        count = _sample_count(n, n_total, mat.path)
        index = (slice(0, count), slice(None, None, step))
        a, u = mat.read("a", index), mat.read("u", index)
        file_format = mat.format
    s = size // step
    config = {
        "kind": "fno_burgers",
        "file": Path(path).name,
        "format": file_format,
        "subsample": step,
        "n": count,
    }
    return OperatorDataset(a[:, None], u[:, None], (np.arange(s) / s,), config)


def read_fno_darcy(
    path: str | os.PathLike,
    *,
    subsample: int = 1,
    n: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> OperatorDataset:
    """The 2-D Darcy data of Li et al. (2021), ``piececonst_r421_N1024_smooth{1,2}.mat``.

    The file holds ``coeff`` (the piecewise-constant coefficient a) and ``sol`` (the
    solution u), each of MATLAB size ``(N, 421, 421)`` on the nodes of the unit
    square, boundary included. Every ``subsample``-th node is kept, as the FNO
    script does with ``[:, ::r, ::r]``, so the boundary nodes stay. The grid axes are
    in MATLAB order (see the module docstring), the order the FNO scripts use. The
    FNO paper trains on the first samples of ``smooth1`` and tests on ``smooth2``:
    read each file with its own ``n``.

    Args:
        path: the ``.mat`` file, MATLAB v5 or v7.3.
        subsample: keep every ``subsample``-th node; it must divide 421 - 1 = 420.
        n: read only the first ``n`` samples (all when None).
        max_bytes: refuse, before reading, any array bigger than this many bytes
            as stored (default 8 GiB); raise it to read a larger file.

    Returns:
        inputs ``a: (n, 1, s, s)`` and outputs ``u: (n, 1, s, s)`` in float32 with
        ``s = (421 - 1) / subsample + 1``; coordinates ``linspace(0, 1, s)`` on both
        axes.

    References:
        Li et al., "Fourier Neural Operator for Parametric Partial Differential
        Equations", ICLR 2021, §5.2.
    """
    with _open_mat(path, max_bytes) as mat:
        shape = _mat_shape(mat, "coeff", "(N, s, s)")
        _same_shape(mat.path, "coeff", shape, "sol", _mat_shape(mat, "sol", "(N, s, s)"))
        size = _square_grid(shape, "coeff", mat.path)
        step = _positive_int(subsample, "subsample")
        if size < 2 or (size - 1) % step:
            raise ValueError(
                f"subsample={step} must divide s - 1 = {size - 1} (the {size} x {size} grid "
                f"of {mat.path}) so that the boundary nodes are kept"
            )
        count = _sample_count(n, shape[0], mat.path)
        index = (slice(0, count), slice(None, None, step), slice(None, None, step))
        a, u = mat.read("coeff", index), mat.read("sol", index)
        file_format = mat.format
    s = (size - 1) // step + 1
    coords = (np.linspace(0.0, 1.0, s), np.linspace(0.0, 1.0, s))
    config = {
        "kind": "fno_darcy",
        "file": Path(path).name,
        "format": file_format,
        "subsample": step,
        "n": count,
    }
    return OperatorDataset(a[:, None], u[:, None], coords, config)


#: ν in an FNO Navier–Stokes file name: ``V`` then a number with a negative exponent,
#: as in the published ``NavierStokes_V1e-3_N5000_T50.mat``. The FNO scripts' own
#: ``ns_data_V100_N1000_T50_1.mat`` and ``ns_data_V10000_N1200_T20.mat`` use another
#: V (they pair with ν = 1e-3 and 1e-5, the viscosities of T = 50 and T = 20 in the
#: paper), so a V without one is not read as ν.
_NS_VISCOSITY = r"(?:^|_)V(\d+(?:\.\d*)?[eE]-\d+)(?=_|\.|$)"
_NS_HORIZON = r"(?:^|_)T(\d+)(?=_|\.|$)"


def _navier_stokes_viscosity(name: str, nu: float | None) -> tuple[float | None, str | None]:
    """ν and where it came from: the argument, else the file name (``V1e-3``), else None."""
    if nu is not None:
        if isinstance(nu, bool) or not isinstance(nu, (int, float, np.floating, np.integer)):
            raise ValueError(f"expected nu to be a positive number, got {nu!r}")
        if not (math.isfinite(nu) and nu > 0):
            raise ValueError(f"expected nu to be a positive number, got {nu!r}")
        return float(nu), "argument"
    named = _name_parameter(name, _NS_VISCOSITY, float)
    return named, None if named is None else "file name"


def _navier_stokes_horizon(
    path, name: str, times: list[float] | None, n_frames: int
) -> tuple[float | None, str | None]:
    """T and where it came from, the name's T checked against the file's contents.

    The FNO generator (``ns_2d.py``) records ``record_steps`` frames at
    ``t = k T / record_steps``, k = 1 .. record_steps, and stores them in ``t``; the
    published files take ``record_steps = T``, frames at t = 1 .. T. So the name's T
    must be the last stored time, or, without ``t``, the number of frames.
    """
    named = _name_parameter(name, _NS_HORIZON, int)
    if times is not None:
        if named is not None and not math.isclose(times[-1], named, rel_tol=1e-4):
            raise ValueError(
                f"{path}: the file name says T = {named} but its stored times 't' end at "
                f"{times[-1]:g}; rename the file or check its contents"
            )
        return (named, "file name") if named is not None else (times[-1], "t")
    if named is None:
        return None, None
    if named != n_frames:
        raise ValueError(
            f"{path}: the file name says T = {named} but 'u' holds {n_frames} frames and "
            f"no times 't'; the published files hold one frame per unit time, t = 1 .. T"
        )
    return named, "file name"


def read_fno_navier_stokes(
    path: str | os.PathLike,
    *,
    n: int | None = None,
    nu: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> OperatorDataset:
    """The 2-D Navier–Stokes data of Li et al. (2021), ``NavierStokes_V1e-3_N5000_T50.mat``.

    The file holds ``a`` (initial vorticity, MATLAB size ``(N, 64, 64)``), ``u``
    (vorticity at t = 1 .. T, ``(N, 64, 64, T)``) and ``t`` (the times, ``(1, T)``),
    on the periodic grid ``x_j = j / 64`` of the unit torus. The time axis is moved
    to the channel axis. ``t`` is optional (the config then has ``t: None``). When
    T = 1, MATLAB drops the trailing singleton axis and ``u`` is ``(N, 64, 64)``;
    that is read as one frame.

    The viscosity ν is ``nu`` when given, else read from a published file name
    (``NavierStokes_V1e-3_...``, ``ns_V1e-4_...``: V then a number with a negative
    exponent), else None; the ``V100`` of the FNO scripts' ``ns_data_V100_N1000_T50``
    is not ν and is not read. The horizon T of a name (``_T50``) is checked against
    the file: the last stored time, or, without ``t``, the number of frames (the
    published files hold frames at t = 1 .. T).

    Args:
        path: the ``.mat`` file, MATLAB v5 or v7.3.
        n: read only the first ``n`` trajectories (all when None); from a v7.3 file
            only those are read from disk.
        nu: the viscosity, when the file name does not give it (or gives it wrong);
            it wins over the name.
        max_bytes: refuse, before reading, any array bigger than this many bytes
            as stored (default 8 GiB); raise it to read a larger file.

    Returns:
        inputs ``w0: (n, 1, s, s)`` and outputs ``w: (n, T, s, s)`` in float32;
        coordinates ``arange(s) / s`` on both axes. The config holds the times
        ``t`` as a list (None without ``t``), ``nu`` with ``nu_source``
        (``"argument"``, ``"file name"`` or None) and ``T`` with ``T_source``
        (``"file name"``, checked, or ``"t"``, its last value, or None).

    Raises:
        ValueError: when the name's T disagrees with the stored times or the number
            of frames, naming both.

    References:
        Li et al., "Fourier Neural Operator for Parametric Partial Differential
        Equations", ICLR 2021, §5.3.
    """
    name = Path(path).name
    viscosity, viscosity_source = _navier_stokes_viscosity(name, nu)
    with _open_mat(path, max_bytes) as mat:
        shape = _mat_shape(mat, "a", "(N, s, s)")
        size = _square_grid(shape, "a", mat.path)
        u_shape = mat.shape("u")
        if len(u_shape) == 3:  # a single frame: MATLAB dropped the trailing axis
            u_shape = (*u_shape, 1)
        if len(u_shape) != 4 or u_shape[:3] != shape:
            raise ValueError(
                f"{mat.path}: variable 'u' should have MATLAB size (N, s, s, T) = "
                f"({shape[0]}, {size}, {size}, T) to match 'a' {shape}, got {mat.shape('u')}"
            )
        n_times = u_shape[3]
        times: list[float] | None = None
        if "t" in mat.names():
            stored = mat.read("t").ravel()
            if stored.size != n_times:
                raise ValueError(
                    f"{mat.path}: 't' should hold the T = {n_times} times of 'u', "
                    f"got {stored.size} values (MATLAB size {mat.shape('t')})"
                )
            times = [float(value) for value in stored]
        horizon, horizon_source = _navier_stokes_horizon(mat.path, name, times, n_times)
        count = _sample_count(n, shape[0], mat.path)
        w0 = mat.read("a", (slice(0, count),))
        w = mat.read("u", (slice(0, count),)).reshape(count, size, size, n_times)
        file_format = mat.format
    config = {
        "kind": "fno_navier_stokes",
        "file": name,
        "format": file_format,
        "n": count,
        "t": times,
        "nu": viscosity,
        "nu_source": viscosity_source,
        "T": horizon,
        "T_source": horizon_source,
    }
    outputs = np.ascontiguousarray(np.moveaxis(w, 3, 1))
    coords = (np.arange(size) / size, np.arange(size) / size)
    return OperatorDataset(w0[:, None], outputs, coords, config)


# ---------------------------------------------------------------------- splitting


def train_test_split(
    dataset: OperatorDataset, n_train: int, n_test: int
) -> tuple[OperatorDataset, OperatorDataset]:
    """The first ``n_train`` samples for training and the LAST ``n_test`` for testing.

    This is the split of the FNO scripts (Li et al. 2021): e.g. Burgers trains on
    the first 1000 of 2048 samples and tests on the last 100; Navier–Stokes on the
    first 1000 and the last 200.

    Returns:
        ``(train, test)``, sharing coordinates and config with ``dataset``.
    """
    n_train = _positive_int(n_train, "n_train")
    n_test = _positive_int(n_test, "n_test")
    total = len(dataset)
    if n_train + n_test > total:
        raise ValueError(
            f"expected n_train + n_test <= {total} (the samples in the data set) so that "
            f"train and test do not overlap, got {n_train} + {n_test} = {n_train + n_test}"
        )
    return dataset.take(slice(0, n_train)), dataset.take(slice(total - n_test, total))
