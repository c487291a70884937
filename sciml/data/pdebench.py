"""Readers of the PDEBench files, into `OperatorDataset` or read on demand.

The files are those of Takamoto, Praditia, Leiteritz, MacKinlay, Alesiani, Pflüger,
Niepert, "PDEBench: An Extensive Benchmark for Scientific Machine Learning", NeurIPS
2022 Datasets and Benchmarks. They are plain (row-major) HDF5, read in the order
stored, in one of four layouts (found from the file's contents, never its name):

* one ``tensor`` ``(N, T, X)`` with ``x-coordinate`` ``(X,)`` and ``t-coordinate``
  (T or T + 1 values; the generators store the end of the last interval too):
  1-D Burgers ``1D_Burgers_Sols_Nu*.hdf5``, advection
  ``1D_Advection_Sols_beta*.hdf5`` and reaction–diffusion ``ReacDiff_Nu*_Rho*.hdf5``;
* compressible Navier–Stokes: ``density``, ``pressure``, ``Vx`` (and ``Vy``, ``Vz``
  in 2-D and 3-D), each ``(N, T, X(, Y, Z))``, with ``x-``, ``y-``, ``z-coordinate``
  and ``t-coordinate`` (T + 1 values): ``{1,2,3}D_CFD_*_Train.hdf5``;
* one group per sample, named ``"0000"``, ``"0001"``, ... and taken in sorted order,
  each holding ``data`` ``(T, X(, Y(, Z)), C)`` and ``grid/x`` (``grid/y``,
  ``grid/z``) and ``grid/t`` (T values): 2-D shallow water ``2D_rdb_NA_NA.h5``
  (C = 1, the depth h), 2-D diffusion–reaction ``2D_diff-react_NA_NA.h5`` (C = 2,
  u and v), 1-D diffusion–sorption ``1D_diff-sorp_NA_NA.h5`` (C = 1);
* 2-D Darcy, ``nu`` ``(N, X, Y)`` and ``tensor`` ``(N, 1, X, Y)``:
  ``2D_DarcyFlow_beta*_Train.hdf5``, read by `read_pdebench_darcy`.

The time-dependent layouts are read by :class:`PDEBenchTrajectories` (on demand) and
:func:`read_pdebench` (into memory): the input of a sample is its first
``n_steps_input`` frames and the output its last frame or the frames that follow the
inputs, channel-first with the channels ordered frame-major, then variable (for CFD
in 2-D with two input frames: density, pressure, Vx, Vy at t_0, then at t_1).

Parameters of the PDE
---------------------
The generators attach the PDE's parameters to the file root as HDF5 attributes:
``Nu`` (Burgers, reaction–diffusion), ``beta`` (advection, Darcy), ``rho``
(reaction–diffusion), ``eta``, ``zeta`` and, in 2-D and 3-D, ``M`` (CFD). They are
read from there first (a renamed file keeps them) and from the file name only when
absent; the config records where each came from (``"nu_source": "attribute"``,
``"file name"`` or None). When both are present and disagree, the attribute is used
and a `UserWarning` names both: the attribute was written by the generator from the
values it ran with, while a name can be edited, copied or truncated (the generators
cut the value printed in the name to five characters), so a mismatch says the name
is wrong, not the data, and refusing the file would refuse good data.

What is read
------------
As for every reader of published files (see `sciml.data.readers`): only values stored
in the given file (links, virtual datasets and external storage are refused), no
selection bigger than ``max_bytes``, only finite values, and, with ``n``, only the
first ``n`` samples.
"""

from __future__ import annotations

import abc
import math
import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciml.data import hdf5
from sciml.data.dataset import OperatorDataset
from sciml.data.hdf5 import DEFAULT_MAX_BYTES
from sciml.data.lazy import LazyDataset

__all__ = [
    "PDEBenchTrajectories",
    "read_pdebench",
    "read_pdebench_burgers",
    "read_pdebench_darcy",
]

_TARGETS = ("final", "trajectory")
_LAYOUTS = ("tensor", "cfd", "groups")

# ------------------------------------------------- checks shared with the FNO readers


def _existing_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no data file at {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    return path


def _finite(array: np.ndarray, name: str, path) -> np.ndarray:
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{path}: {name!r} holds {bad} non-finite values (NaN or inf)")
    return array


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"expected {name} to be a positive integer, got {value!r}")
    return int(value)


def _sample_count(n: int | None, available: int, path) -> int:
    """How many samples to read: all when ``n`` is None, else ``n`` (checked)."""
    if n is None:
        return available
    n = _positive_int(n, "n")
    if n > available:
        raise ValueError(f"{path} holds {available} samples, but n={n} were asked for")
    return n


def _same_shape(path, first: str, first_shape, second: str, second_shape):
    if tuple(first_shape) != tuple(second_shape):
        raise ValueError(
            f"{path}: {second!r} should have the shape of {first!r} {tuple(first_shape)}, "
            f"got {tuple(second_shape)}"
        )


#: A number as the publishers write it in a file name: ``0.01``, ``1e-3``, ``1.e-8``.
_NUMBER = r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"


def _name_parameter(name: str, pattern: str, cast):
    """A parameter written in a file name (``V1e-3`` -> 1e-3), or None."""
    match = re.search(pattern, name)
    return cast(match.group(1)) if match else None


# ----------------------------------------------------------------------- HDF5 files


def _open_hdf5(path: str | os.PathLike, expected: str) -> h5py.File:
    path = _existing_file(path)
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not an HDF5 file; expected {expected}")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: expected {expected}, could not open it: {error}") from error


def _hdf5_dataset(file: h5py.File, name: str, rank: int | None, layout: str) -> h5py.Dataset:
    """Dataset ``name`` (a path in ``file``), stored in the file itself (no link,
    virtual or external storage), numeric, and of the given rank unless None."""
    dataset = hdf5.plain_dataset(file, name, file.filename)
    if dataset is None:
        parent, _, leaf = name.rpartition("/")
        where = f"{file.filename}: group {parent!r}" if parent else file.filename
        raise ValueError(
            f"{where} has no dataset {leaf!r} (expected {name} {layout}); "
            f"it holds {sorted(file[parent] if parent else file)}"
        )
    if dataset.dtype.kind not in "fiu":
        raise ValueError(
            f"{file.filename}: dataset {name!r} has dtype {dataset.dtype}, expected real numbers"
        )
    if rank is not None and dataset.ndim != rank:
        raise ValueError(
            f"{file.filename}: dataset {name!r} should be {layout}, got shape {dataset.shape}"
        )
    return dataset


def _read(file: h5py.File, dataset: h5py.Dataset, index: tuple, max_bytes: int) -> np.ndarray:
    """``dataset[index]`` (slices), refused before reading if above ``max_bytes``."""
    name = dataset.name.lstrip("/")
    return hdf5.read(dataset, index, path=file.filename, name=name, max_bytes=max_bytes)


def _coordinate(file: h5py.File, name: str, length: int, axis: str, max_bytes: int) -> np.ndarray:
    dataset = _hdf5_dataset(file, name, 1, f"({axis},)")
    if dataset.shape != (length,):
        raise ValueError(
            f"{file.filename}: {name!r} should hold the {length} nodes of the data's "
            f"{axis} axis, got shape {dataset.shape}"
        )
    values = _read(file, dataset, (), max_bytes)
    return _finite(np.asarray(values, dtype=np.float64), name, file.filename)


def _frame_times(file: h5py.File, name: str, n_times: int, max_bytes: int, *, extra: bool):
    """The T frame times stored in ``name``: T values, or T + 1 when ``extra`` (the
    last, the end of the final interval, is dropped)."""
    allowed = (n_times, n_times + 1) if extra else (n_times,)
    dataset = _hdf5_dataset(file, name, 1, "(T,) or (T + 1,)" if extra else "(T,)")
    if dataset.shape[0] not in allowed:
        expected = f"T = {n_times} or T + 1 = {n_times + 1}" if extra else f"T = {n_times}"
        raise ValueError(
            f"{file.filename}: {name!r} should hold {expected} times for the {n_times} "
            f"frames of the data, got {dataset.shape[0]}"
        )
    values = np.asarray(_read(file, dataset, (), max_bytes), dtype=np.float64)[:n_times]
    return _finite(values, name, file.filename)


# ------------------------------------------------------------------------ parameters


def _attribute_number(file: h5py.File, attribute: str) -> float | None:
    """Root attribute ``attribute`` (matched exactly, else ignoring case) as a float."""
    names = [attribute] if attribute in file.attrs else []
    names = names or [key for key in file.attrs if key.lower() == attribute.lower()]
    if not names:
        return None
    value = np.asarray(file.attrs[names[0]])
    if value.size != 1 or value.dtype.kind not in "fiu" or not np.isfinite(value).all():
        raise ValueError(
            f"{file.filename}: attribute {names[0]!r} should be one finite number, got {value!r}"
        )
    return float(value.ravel()[0])


def _file_parameters(
    file: h5py.File, name: str, specs: Sequence[tuple[str, str, str]]
) -> dict[str, Any]:
    """``{key: value, key_source: ...}`` for each ``(key, attribute, name label)``: the
    root attribute first, else ``<label><number>`` in the file name, else None."""
    config: dict[str, Any] = {}
    for key, attribute, label in specs:
        stored = _attribute_number(file, attribute)
        named = _name_parameter(name, rf"(?:^|_){label}{_NUMBER}", float)
        if stored is not None:
            if named is not None and not math.isclose(stored, named, rel_tol=1e-2):
                warnings.warn(
                    f"{file.filename}: attribute {attribute!r} = {stored!r} disagrees with "
                    f"{label}{named!r} in the file name; the attribute is used",
                    UserWarning,
                    stacklevel=3,
                )
            value, source = stored, "attribute"
        elif named is not None:
            value, source = named, "file name"
        else:
            value, source = None, None
        config[key] = value
        config[f"{key}_source"] = source
    return config


# ------------------------------------------------------------------------ layouts


class _Layout(abc.ABC):
    """Where the frames of each sample lie in a PDEBench file: sizes, coordinates and
    a reader of ``(k, frames, C, *grid)`` blocks. Built from an open file; holds no
    HDF5 object, so it outlives the file."""

    kind: str
    n_samples: int
    n_times: int
    variables: tuple[str, ...]
    coords: tuple[np.ndarray, ...]
    times: np.ndarray
    #: ``(config key, root attribute, label in the file name)`` of the parameters.
    parameters: tuple[tuple[str, str, str], ...] = ()

    @abc.abstractmethod
    def check_samples(self, file: h5py.File, count: int) -> None:
        """Refuse, before any sample is read, a malformed one among the first ``count``."""

    @abc.abstractmethod
    def __init__(self, file: h5py.File, max_bytes: int):
        """Read the layout's sizes and coordinates from ``file``, checking them."""

    @abc.abstractmethod
    def read(
        self,
        file: h5py.File,
        samples: range,
        frames: slice,
        space: tuple[slice, ...],
        max_bytes: int,
    ) -> np.ndarray:
        """``(len(samples), n_frames, C, *grid)`` values of the selected frames and nodes."""


class _TensorLayout(_Layout):
    """``tensor`` ``(N, T, X)``: the 1-D scalar equations (Burgers, advection,
    reaction–diffusion)."""

    kind = "tensor"
    variables = ("u",)
    parameters = (("nu", "Nu", "Nu"), ("beta", "beta", "beta"), ("rho", "rho", "Rho"))

    def __init__(self, file: h5py.File, max_bytes: int):
        tensor = _hdf5_dataset(file, "tensor", 3, "(N, T, X)")
        self.n_samples, self.n_times, size = tensor.shape
        self.coords = (_coordinate(file, "x-coordinate", size, "X", max_bytes),)
        self.times = _frame_times(file, "t-coordinate", self.n_times, max_bytes, extra=True)

    def check_samples(self, file, count):
        pass  # one array holds every sample: its shape was checked above

    def read(self, file, samples, frames, space, max_bytes):
        tensor = _hdf5_dataset(file, "tensor", 3, "(N, T, X)")
        index = (slice(samples.start, samples.stop), frames, *space)
        return _read(file, tensor, index, max_bytes)[:, :, None]


class _CFDLayout(_Layout):
    """``density``, ``pressure``, ``Vx`` (``Vy``, ``Vz``), each ``(N, T, *grid)``:
    compressible Navier–Stokes in 1, 2 or 3 dimensions."""

    kind = "cfd"
    parameters = (("eta", "eta", "Eta"), ("zeta", "zeta", "Zeta"), ("M", "M", "M"))

    def __init__(self, file: h5py.File, max_bytes: int):
        density = _hdf5_dataset(file, "density", None, "(N, T, X(, Y, Z))")
        if density.ndim not in (3, 4, 5):
            raise ValueError(
                f"{file.filename}: dataset 'density' should be (N, T, X), (N, T, X, Y) or "
                f"(N, T, X, Y, Z), got shape {density.shape}"
            )
        dimension = density.ndim - 2
        self.variables = ("density", "pressure", "Vx", "Vy", "Vz")[: 2 + dimension]
        for name in self.variables[1:]:
            shape = _hdf5_dataset(file, name, density.ndim, "(N, T, *grid)").shape
            _same_shape(file.filename, "density", density.shape, name, shape)
        self.n_samples, self.n_times = density.shape[:2]
        self.coords = tuple(
            _coordinate(file, f"{axis}-coordinate", size, axis.upper(), max_bytes)
            for axis, size in zip("xyz", density.shape[2:])
        )
        self.times = _frame_times(file, "t-coordinate", self.n_times, max_bytes, extra=True)

    def check_samples(self, file, count):
        pass  # one array per variable holds every sample: their shapes were checked above

    def read(self, file, samples, frames, space, max_bytes):
        index = (slice(samples.start, samples.stop), frames, *space)
        fields = [
            _read(file, _hdf5_dataset(file, name, None, ""), index, max_bytes)
            for name in self.variables
        ]
        return np.stack(fields, axis=2)


class _GroupLayout(_Layout):
    """One group per sample (sorted by name) holding ``data`` ``(T, *grid, C)`` and
    ``grid/x`` (``grid/y``, ``grid/z``) and ``grid/t``: shallow water,
    diffusion–reaction, diffusion–sorption."""

    kind = "groups"

    def __init__(self, file: h5py.File, max_bytes: int):
        self.groups = sorted(file)
        if not self.groups:
            raise ValueError(f"{file.filename} holds no sample groups; expected a PDEBench file")
        for name in self.groups:
            link = file.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink) or not isinstance(file[name], h5py.Group):
                raise ValueError(
                    f"{file.filename}: {name!r} is not a group stored in the file; a PDEBench "
                    f"file without 'tensor' or 'density' holds one group per sample"
                )
        first = self.groups[0]
        data = _hdf5_dataset(file, f"{first}/data", None, "(T, X(, Y(, Z)), C)")
        if data.ndim not in (3, 4, 5):
            raise ValueError(
                f"{file.filename}: dataset '{first}/data' should be (T, X, C), (T, X, Y, C) "
                f"or (T, X, Y, Z, C), got shape {data.shape}"
            )
        self.data_shape, self.itemsize = data.shape, data.dtype.itemsize
        self.n_samples, self.n_times = len(self.groups), data.shape[0]
        self.variables = tuple(f"c{channel}" for channel in range(data.shape[-1]))
        self.axes = "xyz"[: data.ndim - 2]
        self.coords, self.times = self._grid(file, first, max_bytes)

    def _grid(self, file: h5py.File, group: str, max_bytes: int):
        link = file[group].get("grid", getlink=True)
        if not isinstance(link, h5py.HardLink) or not isinstance(file[group]["grid"], h5py.Group):
            raise ValueError(
                f"{file.filename}: group {group!r} has no group 'grid' stored in the file "
                f"(expected grid/x, ..., grid/t); it holds {sorted(file[group])}"
            )
        coords = tuple(
            _coordinate(file, f"{group}/grid/{axis}", size, axis.upper(), max_bytes)
            for axis, size in zip(self.axes, self.data_shape[1:-1])
        )
        times = _frame_times(file, f"{group}/grid/t", self.n_times, max_bytes, extra=False)
        return coords, times

    def check_samples(self, file, count):
        for name in self.groups[1:count]:
            shape = _hdf5_dataset(file, f"{name}/data", None, "(T, *grid, C)").shape
            if shape != self.data_shape:
                raise ValueError(
                    f"{file.filename}: '{name}/data' has shape {shape}, but "
                    f"'{self.groups[0]}/data' has {self.data_shape}; every sample of a "
                    f"PDEBench file should share one grid"
                )

    def read(self, file, samples, frames, space, max_bytes):
        # One dataset per sample: the whole selection is checked before any is read.
        n_frames = len(range(*frames.indices(self.n_times)))
        per_sample = n_frames * math.prod(
            len(range(*s.indices(n))) for s, n in zip(space, self.data_shape[1:-1])
        )
        n_bytes = len(samples) * per_sample * self.data_shape[-1] * self.itemsize
        hdf5.check_read_size(file.filename, "data", n_bytes, max_bytes)
        blocks = []
        for sample in samples:
            name = self.groups[sample]
            self._check_grid(file, name, max_bytes)
            data = _hdf5_dataset(file, f"{name}/data", None, "")
            blocks.append(_read(file, data, (frames, *space, slice(None)), max_bytes))
        return np.moveaxis(np.stack(blocks), -1, 2)

    def _check_grid(self, file: h5py.File, name: str, max_bytes: int):
        if name == self.groups[0]:
            return
        coords, times = self._grid(file, name, max_bytes)
        labels = [f"grid/{axis}" for axis in self.axes] + ["grid/t"]
        for label, mine, reference in zip(labels, (*coords, times), (*self.coords, self.times)):
            if not np.array_equal(mine, reference):
                raise ValueError(
                    f"{file.filename}: '{name}/{label}' differs from "
                    f"'{self.groups[0]}/{label}'; every sample of a PDEBench file should "
                    f"share one grid"
                )


def _layout_of(file: h5py.File, max_bytes: int, expected: str | None) -> _Layout:
    if "nu" in file and "tensor" in file:
        raise ValueError(
            f"{file.filename} holds 'nu' and 'tensor', the layout of a PDEBench 2-D Darcy "
            f"file, which has no time axis; read it with read_pdebench_darcy"
        )
    found = "tensor" if "tensor" in file else "cfd" if "density" in file else "groups"
    # An expected layout is looked for even when another is found: its reader names
    # what the file lacks.
    return _LAYOUT_READERS[expected or found](file, max_bytes)


_LAYOUT_READERS: dict[str, Callable[[h5py.File, int], _Layout]] = {
    "tensor": _TensorLayout,
    "cfd": _CFDLayout,
    "groups": _GroupLayout,
}


# ---------------------------------------------------------------------- the data set


class PDEBenchTrajectories(LazyDataset):
    """The trajectories of a time-dependent PDEBench file, read on demand.

    Sample ``i`` maps its first ``n_steps_input`` frames to its final frame
    (``target="final"``) or to the frames that follow the inputs
    (``target="trajectory"``). With ``C`` variables per frame, the channels are
    frame-major, then variable:

    ``a: (n_steps_input * C, *grid) -> u: (C, *grid)`` or
    ``u: ((T' - n_steps_input) * C, *grid)``,

    with ``T' = ceil(T / reduced_resolution_t)`` frames kept. PDEBench's own FNO
    takes ``initial_step = 10`` input frames and the whole trajectory as target.
    Reading is done in `LazyDataset.read`: the file is opened for each read, so a
    data set may be read from a background thread; ``load()`` reads it all.

    Args:
        path: the PDEBench HDF5 file (``.hdf5`` or ``.h5``).
        n: use only the first ``n`` samples (all when None).
        n_steps_input: the number of leading frames in each input.
        target: ``"final"`` or ``"trajectory"``, as above.
        reduced_resolution: keep every ``reduced_resolution``-th node on each
            spatial axis (PDEBench's name).
        reduced_resolution_t: keep every ``reduced_resolution_t``-th frame, the
            first included (PDEBench's name).
        layout: ``"tensor"``, ``"cfd"`` or ``"groups"`` to refuse a file of
            another layout; None to accept any (see the module docstring).
        max_bytes: refuse, before reading, any selection bigger than this many
            bytes as stored (default 8 GiB).

    Attributes:
        coords: the spatial coordinates of the kept nodes, one array per axis.
        config: ``kind``, ``layout``, ``file``, ``n``, ``variables``, the arguments,
            ``times`` (of the kept frames), ``input_times``, ``output_times`` and the
            file's parameters with their sources (module docstring).

    References:
        Takamoto et al., "PDEBench: An Extensive Benchmark for Scientific Machine
        Learning", NeurIPS 2022 Datasets and Benchmarks.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        n: int | None = None,
        n_steps_input: int = 1,
        target: str = "final",
        reduced_resolution: int = 1,
        reduced_resolution_t: int = 1,
        layout: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ):
        if target not in _TARGETS:
            raise ValueError(f"expected target 'final' or 'trajectory', got {target!r}")
        if layout is not None and layout not in _LAYOUTS:
            raise ValueError(f"expected layout None or one of {_LAYOUTS}, got {layout!r}")
        self.max_bytes = _positive_int(max_bytes, "max_bytes")
        steps_in = _positive_int(n_steps_input, "n_steps_input")
        step = _positive_int(reduced_resolution, "reduced_resolution")
        step_t = _positive_int(reduced_resolution_t, "reduced_resolution_t")
        with _open_hdf5(path, "a PDEBench HDF5 file") as file:
            self._layout = _layout_of(file, self.max_bytes, layout)
            self._count = _sample_count(n, self._layout.n_samples, file.filename)
            self._layout.check_samples(file, self._count)
            parameters = _file_parameters(file, Path(path).name, self._layout.parameters)
            self.path = Path(file.filename)
        kept = range(0, self._layout.n_times, step_t)
        if len(kept) <= steps_in:
            raise ValueError(
                f"{self.path}: {len(kept)} frames are kept (T = {self._layout.n_times}, "
                f"reduced_resolution_t={step_t}), but n_steps_input={steps_in} leaves none "
                f"for the output"
            )
        self._space = (slice(None, None, step),) * len(self._layout.coords)
        self._input_frames = slice(0, steps_in * step_t, step_t)
        if target == "final":
            self._output_frames = slice(kept[-1], kept[-1] + 1)
        else:
            self._output_frames = slice(kept[steps_in], self._layout.n_times, step_t)
        self.coords = tuple(axis[::step] for axis in self._layout.coords)
        times = [float(self._layout.times[k]) for k in kept]
        self.config = {
            "kind": "pdebench",
            "layout": self._layout.kind,
            "file": self.path.name,
            "n": self._count,
            "variables": list(self._layout.variables),
            "n_steps_input": steps_in,
            "target": target,
            "reduced_resolution": step,
            "reduced_resolution_t": step_t,
            "times": times,
            "input_times": times[:steps_in],
            "output_times": times[-1:] if target == "final" else times[steps_in:],
            **parameters,
        }

    def __len__(self) -> int:
        return self._count

    @property
    def input_shape(self) -> tuple[int, ...]:
        channels = len(self.config["input_times"]) * len(self._layout.variables)
        return (channels, *(len(axis) for axis in self.coords))

    @property
    def output_shape(self) -> tuple[int, ...]:
        channels = len(self.config["output_times"]) * len(self._layout.variables)
        return (channels, *(len(axis) for axis in self.coords))

    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inputs, outputs = [], []
        with _open_hdf5(self.path, "a PDEBench HDF5 file") as file:
            for run in _runs(indices):
                inputs.append(self._frames(file, run, self._input_frames))
                outputs.append(self._frames(file, run, self._output_frames))
        if not inputs:
            return np.zeros((0, *self.input_shape), np.float32), np.zeros(
                (0, *self.output_shape), np.float32
            )
        return np.concatenate(inputs), np.concatenate(outputs)

    def _frames(self, file: h5py.File, samples: range, frames: slice) -> np.ndarray:
        """``(k, f * C, *grid)`` float32: frames ``frames`` of ``samples``, frame-major."""
        block = self._layout.read(file, samples, frames, self._space, self.max_bytes)
        block = _finite(block.astype(np.float32), "data", file.filename)
        return block.reshape(block.shape[0], -1, *block.shape[3:])


def _runs(indices: np.ndarray) -> list[range]:
    """Sorted unique ``indices`` as runs of consecutive samples, one read each."""
    if indices.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    return [range(int(run[0]), int(run[-1]) + 1) for run in np.split(indices, breaks)]


# ---------------------------------------------------------------------- into memory


def read_pdebench(
    path: str | os.PathLike,
    *,
    n: int | None = None,
    n_steps_input: int = 1,
    target: str = "final",
    reduced_resolution: int = 1,
    reduced_resolution_t: int = 1,
    layout: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> OperatorDataset:
    """A time-dependent PDEBench file (Takamoto et al. 2022), read into memory.

    Any layout of the module docstring but Darcy: 1-D Burgers, advection and
    reaction–diffusion (``tensor``), compressible Navier–Stokes in 1-3 D, shallow
    water, diffusion–reaction and diffusion–sorption (one group per sample). This is
    `PDEBenchTrajectories` with the same arguments, loaded: only the first ``n``
    samples leave the disk.

    Args:
        path: the PDEBench HDF5 file.
        n: read only the first ``n`` samples (all when None).
        n_steps_input: the number of leading frames in each input.
        target: ``"final"`` (outputs are the last kept frame) or ``"trajectory"``
            (outputs are the kept frames after the inputs).
        reduced_resolution: keep every ``reduced_resolution``-th node per spatial axis.
        reduced_resolution_t: keep every ``reduced_resolution_t``-th frame.
        layout: ``"tensor"``, ``"cfd"`` or ``"groups"`` to insist on one; None for any.
        max_bytes: refuse, before reading, any selection bigger than this many bytes
            as stored (default 8 GiB); raise it to read a larger file.

    Returns:
        inputs ``(n, n_steps_input * C, *grid)`` and outputs ``(n, C, *grid)`` or
        ``(n, (T' - n_steps_input) * C, *grid)`` in float32, channels frame-major
        then variable; the coordinates of the kept nodes; the config of
        `PDEBenchTrajectories`.

    References:
        Takamoto et al., "PDEBench: An Extensive Benchmark for Scientific Machine
        Learning", NeurIPS 2022 Datasets and Benchmarks.
    """
    return PDEBenchTrajectories(
        path,
        n=n,
        n_steps_input=n_steps_input,
        target=target,
        reduced_resolution=reduced_resolution,
        reduced_resolution_t=reduced_resolution_t,
        layout=layout,
        max_bytes=max_bytes,
    ).load()


def read_pdebench_burgers(
    path: str | os.PathLike,
    *,
    n: int | None = None,
    target: str = "final",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> OperatorDataset:
    """A 1-D Burgers file of PDEBench (Takamoto et al. 2022), ``1D_Burgers_Sols_Nu*.hdf5``.

    The file holds ``tensor`` ``(N, T, X)`` (T frames of N trajectories),
    ``x-coordinate`` ``(X,)`` and ``t-coordinate``. PDEBench writes
    ``t-coordinate`` with either T values or T + 1 (its generator also stores the
    end of the last interval); frame ``k`` is taken at ``t-coordinate[k]``, and a
    T + 1-th value is dropped. This is `read_pdebench` with ``layout="tensor"`` and
    one input frame; it reads the advection and reaction–diffusion files as well.

    Args:
        path: the PDEBench HDF5 file.
        n: read only the first ``n`` trajectories (all when None).
        target: ``"final"``: outputs are the last frame, ``(n, 1, X)``;
            ``"trajectory"``: outputs are frames 1 .. T-1 as channels,
            ``(n, T - 1, X)``.
        max_bytes: refuse, before reading, any array bigger than this many bytes
            as stored (default 8 GiB); raise it to read a larger file.

    Returns:
        inputs ``u(t_0): (n, 1, X)`` and the outputs above in float32; coordinates
        ``(x-coordinate,)``. The config holds ``times`` (the T frame times) and
        ``output_times``, and ``nu`` from the attribute ``Nu``, else from the file
        name (``Nu0.01``), with ``nu_source``.

    References:
        Takamoto et al., "PDEBench: An Extensive Benchmark for Scientific Machine
        Learning", NeurIPS 2022 Datasets and Benchmarks.
    """
    data = read_pdebench(path, n=n, target=target, layout="tensor", max_bytes=max_bytes)
    config = {**data.config, "kind": "pdebench_burgers"}
    return OperatorDataset(data.inputs, data.outputs, data.coords, config)


def read_pdebench_darcy(
    path: str | os.PathLike, *, n: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> OperatorDataset:
    """A 2-D Darcy file of PDEBench (Takamoto et al. 2022), ``2D_DarcyFlow_beta*_Train.hdf5``.

    The file holds ``nu`` ``(N, X, Y)`` (the coefficient), ``tensor``
    ``(N, 1, X, Y)`` (the solution), ``x-coordinate`` ``(X,)`` and ``y-coordinate``
    ``(Y,)``; the arrays are read in the stored (row-major) order.

    Args:
        path: the PDEBench HDF5 file.
        n: read only the first ``n`` samples (all when None).
        max_bytes: refuse, before reading, any array bigger than this many bytes
            as stored (default 8 GiB); raise it to read a larger file.

    Returns:
        inputs ``a: (n, 1, X, Y)`` and outputs ``u: (n, 1, X, Y)`` in float32;
        coordinates ``(x-coordinate, y-coordinate)``. The config holds ``beta``
        (the constant source) from the root attribute ``beta``, else from the file
        name (``beta1.0``), with ``beta_source``.

    References:
        Takamoto et al., "PDEBench: An Extensive Benchmark for Scientific Machine
        Learning", NeurIPS 2022 Datasets and Benchmarks.
    """
    max_bytes = _positive_int(max_bytes, "max_bytes")
    with _open_hdf5(path, "a PDEBench 2-D Darcy HDF5 file") as file:
        coefficient = _hdf5_dataset(file, "nu", 3, "(N, X, Y)")
        solution = _hdf5_dataset(file, "tensor", 4, "(N, 1, X, Y)")
        n_total, size_x, size_y = coefficient.shape
        _same_shape(file.filename, "nu", (n_total, 1, size_x, size_y), "tensor", solution.shape)
        x = _coordinate(file, "x-coordinate", size_x, "X", max_bytes)
        y = _coordinate(file, "y-coordinate", size_y, "Y", max_bytes)
        count = _sample_count(n, n_total, file.filename)
        inputs = _read(file, coefficient, (slice(0, count),), max_bytes)
        outputs = _read(file, solution, (slice(0, count),), max_bytes)
        inputs = _finite(inputs.astype(np.float32), "nu", file.filename)
        outputs = _finite(outputs.astype(np.float32), "tensor", file.filename)
        parameters = _file_parameters(file, Path(path).name, (("beta", "beta", "beta"),))
    config = {"kind": "pdebench_darcy", "file": Path(path).name, "n": count, **parameters}
    return OperatorDataset(inputs[:, None], outputs, (x, y), config)
