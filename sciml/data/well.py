"""A reader of The Well, windows of simulated trajectories read lazily, without torch.

The Well (Ohana, McCabe, Meyer, Morel, Agocs, Beneitez, Berger, Burkhart, Dalziel,
Fielding, Fortunato, Goldberg, Hirashima, Jiang, Kerswell, Maddu, Miller, Mukhopadhyay,
Nixon, Shen, Watteaux, Blancard, Rozet, Parker, Cranmer, Ho, "The Well: a Large-Scale
Collection of Diverse Physics Simulations for Machine Learning", NeurIPS 2024 Datasets
and Benchmarks) stores each data set as ``<dataset>/data/{train,valid,test}/*.hdf5``
with normalisation statistics in ``<dataset>/stats.yaml``. One file holds
``n_trajectories`` simulations (file attribute) and is laid out as follows.

* ``dimensions/``: attribute ``spatial_dims`` (the axis names, e.g. ``["x", "y"]``);
  a dataset per axis, its last axis the node coordinates; ``time``, its last axis
  the ``T`` saved times (``(n_trajectories, T)`` when ``sample_varying``).
* ``t0_fields/``, ``t1_fields/``, ``t2_fields/``: scalar, vector and rank-2 tensor
  fields, listed in each group's ``field_names`` attribute. A field is stored
  channel-last as ``[n_trajectories] [T] *grid *(D,)*order`` where the trajectory
  axis is there when its ``sample_varying`` attribute is true, the time axis when
  ``time_varying`` is, and a grid axis when its entry of ``dim_varying`` is (an
  absent axis means the field is constant along it); ``D`` is ``n_spatial_dims``.
* ``scalars/``: numbers per file (or per trajectory or time), listed in
  ``field_names``; the file attribute ``simulation_parameters`` names those that are
  also file attributes.
* ``boundary_conditions/<name>/``: attribute ``bc_type`` (``PERIODIC``, ``WALL`` or
  ``OPEN``), ``associated_dims`` and a boolean ``mask`` over those axes marking the
  nodes the condition holds on.
* File attributes ``dataset_name``, ``grid_type`` (``cartesian``, or e.g.
  ``equiangular`` for the sphere), ``n_spatial_dims``, ``n_trajectories``.

A sample here is the Well's: a window of one trajectory, ``n_steps_input`` frames
``stride`` apart as input and the next ``n_steps_output`` frames as output, its
windows numbered file by file, trajectory by trajectory, start time by start time.
The fields are moved channel-first, a vector or tensor flattened into its components
(``velocity_x``, ``velocity_y``; ``D_xx``, ``D_xy``, ...: the Well's own names and
order), and the frames stacked time-major: the input of ``n_steps_input = 2`` is
``[frame 0: all channels, frame 1: all channels]``. A field that is not
``time_varying`` is repeated in every frame, one that is not ``sample_varying`` is
shared by all trajectories, and one that is constant along an axis is repeated
along it.

What is read
------------
Only values stored in the file itself are read (links, virtual datasets and external
storage are refused, see :mod:`sciml.data.hdf5`), only the frames of the trajectories
asked for (HDF5 hyperslabs), and no selection bigger than ``max_bytes``. Every member
the layout above names is checked when the data set is opened: a missing group,
a field whose shape disagrees with ``n_trajectories``, the time axis or the grid,
a coordinate whose length disagrees with the grid: each is a `ValueError` that
names the file and the member. Data on a grid other than Cartesian (the Well's ``planetswe``
is on the sphere) are refused unless ``allow_non_cartesian=True``, so that they are
not fed by mistake to models that assume a Cartesian grid.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciml.data import hdf5
from sciml.data.dataset import OperatorDataset
from sciml.data.hdf5 import DEFAULT_MAX_BYTES
from sciml.data.lazy import LazyDataset

__all__ = ["WellDataset", "read_well"]

_SPLITS = ("train", "valid", "test")
_FIELD_GROUPS = ("t0_fields", "t1_fields", "t2_fields")
_HDF5_SUFFIXES = (".hdf5", ".h5")
#: The smallest standard deviation divided by, as in the Well's ``ZScoreNormalization``.
_MIN_STD = 1e-4


# ------------------------------------------------------------------- attributes


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _names(value) -> list[str]:
    """A list of names from an attribute: one string, or an array of them (h5py stores
    an empty Python list as an empty float array)."""
    if isinstance(value, (str, bytes)):
        return [_text(value)]
    return [_text(item) for item in np.asarray(value).ravel()]


def _json_value(value):
    """An attribute or scalar as JSON: a number, a string, a bool or a list of them."""
    if isinstance(value, (str, bytes)):
        return _text(value)
    array = np.asarray(value)
    if array.dtype.kind == "b":
        return array.tolist()
    if array.dtype.kind in "iu":
        return array.astype(np.int64).tolist()
    if array.dtype.kind == "f":
        return array.astype(np.float64).tolist()
    return [_text(item) for item in array.ravel()] if array.ndim else _text(array.item())


def _attr(obj, name: str, path, what: str):
    if name not in obj.attrs:
        raise ValueError(f"{path}: {obj.name} has no attribute {name!r} ({what})")
    return obj.attrs[name]


def _flag(obj, name: str, path) -> bool:
    value = np.asarray(_attr(obj, name, path, "a boolean"))
    if value.shape != () or value.dtype.kind not in "bi":
        raise ValueError(f"{path}: attribute {name!r} of {obj.name} should be a boolean")
    return bool(value)


def _group(parent: h5py.Group, name: str, path) -> h5py.Group:
    link = parent.get(name, getlink=True)
    if link is None:
        raise ValueError(
            f"{path}: no group {name!r} under {parent.name}; a file of the Well has "
            f"dimensions/, t0_fields/, t1_fields/, t2_fields/ (it holds {sorted(parent)})"
        )
    if not isinstance(link, h5py.HardLink) or not isinstance(parent[name], h5py.Group):
        raise ValueError(f"{path}: {parent.name.rstrip('/')}/{name} should be a group")
    return parent[name]


def _dataset(group: h5py.Group, name: str, path, what: str) -> h5py.Dataset:
    dataset = hdf5.plain_dataset(group, name, path)
    if dataset is None:
        raise ValueError(f"{path}: {group.name} has no dataset {name!r} ({what})")
    if dataset.dtype.kind not in "fiub":
        raise ValueError(f"{path}: {dataset.name} has dtype {dataset.dtype}, expected real numbers")
    return dataset


# ------------------------------------------------------------------ one file


@dataclasses.dataclass(frozen=True)
class _Field:
    """How one field of a file is stored."""

    name: str
    order: int
    sample_varying: bool
    time_varying: bool
    dim_varying: tuple[bool, ...]


@dataclasses.dataclass(frozen=True)
class _WellFile:
    """What is known of one file once checked: enough to map samples to hyperslabs."""

    path: Path
    dataset_name: str
    grid_type: str
    spatial_dims: tuple[str, ...]
    coords: tuple[np.ndarray, ...]
    n_trajectories: int
    n_steps: int
    fields: dict[str, _Field]
    boundaries: dict[str, list[str]]
    info: dict[str, Any]


def _coordinates(dims: h5py.Group, names: list[str], path, max_bytes: int):
    """The node coordinates of each spatial axis: the last axis of its dataset, the
    same for every trajectory and time (one grid is what an operator data set has)."""
    coords = []
    for name in names:
        dataset = _dataset(dims, name, path, "the coordinates of a spatial axis")
        if dataset.ndim == 0:
            raise ValueError(f"{path}: {dataset.name} should hold coordinates, got a scalar")
        values = np.asarray(hdf5.read(dataset, path=path, name=dataset.name, max_bytes=max_bytes))
        rows = values.reshape(-1, values.shape[-1])
        if not np.all(rows == rows[0]):
            raise ValueError(
                f"{path}: {dataset.name} holds coordinates that vary over trajectories or "
                f"times (shape {dataset.shape}); one fixed grid is needed"
            )
        coords.append(rows[0].astype(np.float64))
    return tuple(coords)


def _time_steps(dims: h5py.Group, n_trajectories: int, path, max_bytes: int):
    """``T`` and the spacing of the saved times (None when not uniform)."""
    time = _dataset(dims, "time", path, "the saved times")
    sample_varying = "sample_varying" in time.attrs and _flag(time, "sample_varying", path)
    expected = (n_trajectories, time.shape[-1]) if sample_varying else time.shape[-1:]
    if time.ndim == 0 or time.shape != expected:
        raise ValueError(
            f"{path}: {time.name} has shape {time.shape}, expected {expected} "
            f"(n_trajectories={n_trajectories}, sample_varying={sample_varying})"
        )
    values = np.asarray(hdf5.read(time, path=path, name=time.name, max_bytes=max_bytes))
    steps = np.diff(values.reshape(-1, values.shape[-1]), axis=-1)
    uniform = steps.size > 0 and np.allclose(steps, steps.flat[0], rtol=1e-5, atol=0)
    time_step = float(steps.flat[0]) if uniform else None
    return int(time.shape[-1]), time_step


def _fields(file: h5py.File, path, n_trajectories, n_steps, grid, n_dims) -> dict[str, _Field]:
    """Every field of ``t{0,1,2}_fields``, its shape checked against the layout."""
    fields: dict[str, _Field] = {}
    for order, group_name in enumerate(_FIELD_GROUPS):
        group = _group(file, group_name, path)
        for name in _names(_attr(group, "field_names", path, "the names of its fields")):
            dataset = hdf5.plain_dataset(group, name, path)
            if dataset is None:
                raise ValueError(
                    f"{path}: {group.name} lists {name!r} in field_names but holds no such "
                    f"dataset (it holds {sorted(group)})"
                )
            if name in fields:
                raise ValueError(f"{path}: field {name!r} appears in two of t0/t1/t2_fields")
            field = _Field(
                name,
                order,
                _flag(dataset, "sample_varying", path),
                _flag(dataset, "time_varying", path),
                tuple(
                    bool(v) for v in np.atleast_1d(_attr(dataset, "dim_varying", path, "per axis"))
                ),
            )
            if len(field.dim_varying) != n_dims:
                raise ValueError(
                    f"{path}: {dataset.name} has dim_varying {list(field.dim_varying)}, "
                    f"expected one entry per spatial axis ({n_dims})"
                )
            expected = _stored_shape(field, n_trajectories, n_steps, grid)
            if dataset.shape != expected:
                raise ValueError(
                    f"{path}: {dataset.name} has shape {dataset.shape}, expected {expected} "
                    f"from n_trajectories={n_trajectories}, T={n_steps} saved times, the "
                    f"grid {grid} of dimensions/ and tensor order {order} "
                    f"(sample_varying={field.sample_varying}, "
                    f"time_varying={field.time_varying}, dim_varying={list(field.dim_varying)})"
                )
            if dataset.dtype.kind not in "fiu":
                raise ValueError(
                    f"{path}: {dataset.name} has dtype {dataset.dtype}, expected real numbers"
                )
            fields[name] = field
    return fields


def _stored_shape(field: _Field, n_trajectories: int, n_steps: int, grid) -> tuple[int, ...]:
    shape: tuple[int, ...] = (n_trajectories,) if field.sample_varying else ()
    shape += (n_steps,) if field.time_varying else ()
    shape += tuple(n for n, varying in zip(grid, field.dim_varying) if varying)
    return shape + (len(grid),) * field.order


def _boundaries(file: h5py.File, path, dim_names: list[str], grid, max_bytes):
    """The condition on each side ``[low, high]`` of each axis: the ``bc_type`` whose
    mask holds on every node of that side, ``"MIXED"`` when none does, and
    ``"UNSPECIFIED"`` when no condition touches the side."""
    sides: dict[str, list[str]] = {name: ["UNSPECIFIED", "UNSPECIFIED"] for name in dim_names}
    if "boundary_conditions" not in file:
        return sides
    conditions = _group(file, "boundary_conditions", path)
    for key in conditions:
        condition = _group(conditions, key, path)
        bc_type = _text(_attr(condition, "bc_type", path, "PERIODIC, WALL or OPEN")).upper()
        axes = _names(_attr(condition, "associated_dims", path, "the axes it applies to"))
        unknown = [axis for axis in axes if axis not in dim_names]
        if unknown:
            raise ValueError(
                f"{path}: {condition.name} applies to axes {unknown} not among the spatial "
                f"axes {dim_names} of dimensions/"
            )
        # The mask's axes follow spatial_dims (as the Well's format check has them).
        axes = [axis for axis in dim_names if axis in axes]
        sizes = tuple(grid[dim_names.index(axis)] for axis in axes)
        dataset = _dataset(condition, "mask", path, "where the condition holds")
        if dataset.shape[dataset.ndim - len(axes) :] != sizes or dataset.ndim < len(axes):
            raise ValueError(
                f"{path}: {dataset.name} has shape {dataset.shape}, expected it to end with "
                f"{sizes}, the nodes of axes {axes}"
            )
        mask = np.asarray(hdf5.read(dataset, path=path, name=dataset.name, max_bytes=max_bytes))
        # Leading axes (trajectories, times) are kept: a side must hold in all of them.
        lead = mask.ndim - len(axes)
        for k, axis in enumerate(axes):
            for side, index in enumerate((0, -1)):
                edge = np.take(mask, index, axis=lead + k).astype(bool)
                if not edge.any():
                    continue
                current = sides[axis][side]
                whole = bool(edge.all())
                if current == "UNSPECIFIED" and whole:
                    sides[axis][side] = bc_type
                elif current != bc_type or not whole:
                    sides[axis][side] = "MIXED"
    return sides


def _scalars(file: h5py.File, path, max_bytes) -> tuple[dict[str, Any], list[str]]:
    """Scalars the same for every trajectory and time (as numbers) and the names of
    those that vary."""
    if "scalars" not in file:
        return {}, []
    group = _group(file, "scalars", path)
    constant: dict[str, Any] = {}
    varying = []
    for name in _names(group.attrs.get("field_names", [])):
        dataset = _dataset(group, name, path, "listed in the scalars' field_names")
        if _flag(dataset, "sample_varying", path) or _flag(dataset, "time_varying", path):
            varying.append(name)
        else:
            value = hdf5.read(dataset, path=path, name=dataset.name, max_bytes=max_bytes)
            constant[name] = _json_value(value)
    return constant, varying


def _simulation_parameters(file: h5py.File, path) -> dict[str, Any]:
    names = _names(file.attrs.get("simulation_parameters", []))
    missing = [name for name in names if name not in file.attrs]
    if missing:
        raise ValueError(
            f"{path}: simulation_parameters names {missing}, which are not file attributes"
        )
    return {name: _json_value(file.attrs[name]) for name in names}


def _inspect(file: h5py.File, path: Path, max_bytes: int) -> _WellFile:
    """Check one file against the layout of the Well and describe it."""
    n_trajectories = _attr(file, "n_trajectories", path, "the number of trajectories")
    if np.ndim(n_trajectories) or np.asarray(n_trajectories).dtype.kind not in "iu":
        raise ValueError(f"{path}: attribute 'n_trajectories' should be an integer")
    n_trajectories = int(n_trajectories)
    dims = _group(file, "dimensions", path)
    dim_names = _names(_attr(dims, "spatial_dims", path, "the names of the spatial axes"))
    if "n_spatial_dims" in file.attrs and int(file.attrs["n_spatial_dims"]) != len(dim_names):
        raise ValueError(
            f"{path}: n_spatial_dims={int(file.attrs['n_spatial_dims'])} but "
            f"dimensions/ names {len(dim_names)} spatial axes {dim_names}"
        )
    coords = _coordinates(dims, dim_names, path, max_bytes)
    grid = tuple(len(c) for c in coords)
    n_steps, time_step = _time_steps(dims, n_trajectories, path, max_bytes)
    fields = _fields(file, path, n_trajectories, n_steps, grid, len(dim_names))
    scalars, varying_scalars = _scalars(file, path, max_bytes)
    info = {
        "file": path.name,
        "n_trajectories": n_trajectories,
        "n_steps": n_steps,
        "time_step": time_step,
        "simulation_parameters": _simulation_parameters(file, path),
        "scalars": scalars,
        "varying_scalars": varying_scalars,
    }
    return _WellFile(
        path=path,
        dataset_name=_text(file.attrs.get("dataset_name", "")),
        grid_type=_text(_attr(file, "grid_type", path, "e.g. 'cartesian'")),
        spatial_dims=tuple(dim_names),
        coords=coords,
        n_trajectories=n_trajectories,
        n_steps=n_steps,
        fields=fields,
        boundaries=_boundaries(file, path, dim_names, grid, max_bytes),
        info=info,
    )


# ------------------------------------------------------------------ the folders


def _well_files(path: str | os.PathLike | Sequence, split: str | None) -> list[Path]:
    """The files of one file, a list of files, a split folder, or a data set's root
    folder with ``split``."""
    if not isinstance(path, (str, os.PathLike)):
        if split is not None:
            raise ValueError("split= selects a folder of the data set; a list of files was given")
        files = [Path(p) for p in path]
    else:
        root = Path(path)
        if split is not None:
            if split not in _SPLITS:
                raise ValueError(f"split should be one of {_SPLITS}, got {split!r}")
            root = root / "data" / split
            if not root.is_dir():
                raise FileNotFoundError(f"no folder {root} (the {split} split of {path})")
        if root.is_dir():
            files = sorted(p for p in root.iterdir() if p.suffix in _HDF5_SUFFIXES)
            if not files:
                hint = " (a data set's root: pass split=)" if (root / "data").is_dir() else ""
                raise ValueError(f"no .hdf5 or .h5 file in {root}{hint}")
        else:
            files = [root]
    if not files:
        raise ValueError("no file of the Well given")
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"no data file at {file}")
    return files


def _default_stats_path(files: list[Path]) -> Path:
    """``<dataset>/stats.yaml`` for files in ``<dataset>/data/<split>/``."""
    return files[0].resolve().parent.parent.parent / "stats.yaml"


def _parse_stats_yaml(text: str, source: Any = "stats.yaml") -> dict[str, Any]:
    """The mapping written in ``text``, in the subset of YAML the Well's ``stats.yaml``
    uses (PyYAML's block style): nested mappings of ``key: value`` and ``key:``, block
    sequences ``- value`` (also ``- - value``, a sequence in a sequence, and sequences
    indented like their key), numbers, and the flow forms ``[]``, ``{}`` and
    ``[1.0, 2.0]``.

    Args:
        text: the contents of the file.
        source: what to name in an error (the file).

    Returns:
        The mapping, numbers as floats; anything else is a `ValueError`.
    """
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        content = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if content.strip() and content.strip() != "---":
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise ValueError(f"{source}, line {number}: tabs are not YAML indentation")
            lines.append((len(content) - len(content.lstrip()), content.strip(), number))
    if not lines:
        return {}
    value, end = _yaml_block(lines, 0, lines[0][0], source)
    if end != len(lines) or not isinstance(value, dict):
        number = lines[min(end, len(lines) - 1)][2]
        raise ValueError(f"{source}, line {number}: expected one mapping of statistics")
    return value


def _is_item(content: str) -> bool:
    """Whether a line is an item of a block sequence (``- x``; not ``-1.0``)."""
    return content == "-" or content.startswith("- ")


def _yaml_block(lines, i: int, indent: int, source) -> tuple[Any, int]:
    """The mapping or sequence whose lines start at ``lines[i]``, indented ``indent``."""
    if _is_item(lines[i][1]):
        items = []
        while i < len(lines) and lines[i][0] == indent and _is_item(lines[i][1]):
            rest = lines[i][1][1:].strip()
            if _is_item(rest):  # "- - x": a sequence starting on this line
                # The inner sequence's items sit two columns to the right.
                lines[i] = (indent + 2, rest, lines[i][2])
                item, i = _yaml_block(lines, i, indent + 2, source)
            elif rest:
                item, i = _yaml_scalar(rest, lines[i][2], source), i + 1
            else:
                item, i = _yaml_nested(lines, i + 1, indent, source, in_sequence=True)
            items.append(item)
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        content, number = lines[i][1], lines[i][2]
        key, colon, rest = content.partition(":")
        if not colon or content.startswith("-") or (rest and not rest.startswith(" ")):
            raise ValueError(f"{source}, line {number}: expected 'key: value', got {content!r}")
        key = key.strip().strip("'\"")
        if rest.strip():
            mapping[key], i = _yaml_scalar(rest.strip(), number, source), i + 1
        else:
            mapping[key], i = _yaml_nested(lines, i + 1, indent, source, in_sequence=False)
    if i < len(lines) and lines[i][0] > indent:
        raise ValueError(f"{source}, line {lines[i][2]}: unexpected indentation")
    return mapping, i


def _yaml_nested(lines, i: int, indent: int, source, in_sequence: bool) -> tuple[Any, int]:
    """The value of ``key:`` or ``-`` with nothing after it: the block below, or None.
    A mapping's value may be a sequence indented like its key (PyYAML writes so)."""
    if i < len(lines) and (
        lines[i][0] > indent
        or (not in_sequence and lines[i][0] == indent and _is_item(lines[i][1]))
    ):
        return _yaml_block(lines, i, lines[i][0], source)
    return None, i


def _yaml_scalar(text: str, number: int, source):
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return (
            [_yaml_scalar(item.strip(), number, source) for item in inner.split(",")]
            if inner
            else []
        )
    if text == "{}":
        return {}
    if text[0] in "[{&*!|>":
        raise ValueError(f"{source}, line {number}: unsupported YAML {text!r}")
    special = {".nan": math.nan, ".inf": math.inf, "-.inf": -math.inf, "+.inf": math.inf}
    if text.lower() in special:
        return special[text.lower()]
    try:
        return float(text)
    except ValueError:
        return text.strip("'\"")


def _load_stats(path: Path, fields: list[str], components: dict[str, int]):
    """Per-component ``(mean, std)`` of each field from a ``stats.yaml``, ``std``
    raised to at least ``_MIN_STD`` as the Well does."""
    if not path.is_file():
        raise FileNotFoundError(
            f"normalize=True needs the statistics {path} (a data set's stats.yaml); pass "
            f"stats= to give another file"
        )
    stats = _parse_stats_yaml(path.read_text(), path)
    result = {}
    for key in ("mean", "std"):
        table = stats.get(key)
        if not isinstance(table, dict):
            raise ValueError(f"{path}: expected a mapping {key!r} of per-field statistics")
        for name in fields:
            if name not in table:
                raise ValueError(f"{path}: {key!r} has no entry for field {name!r}")
            try:
                values = np.asarray(table[name], dtype=np.float64).ravel()
            except (TypeError, ValueError) as error:
                raise ValueError(f"{path}: {key}[{name!r}] is not numeric: {error}") from None
            if values.size == 1:
                values = np.repeat(values, components[name])
            if values.size != components[name] or not np.all(np.isfinite(values)):
                raise ValueError(
                    f"{path}: {key}[{name!r}] should hold {components[name]} finite numbers "
                    f"(one per component), got {table[name]!r}"
                )
            result[key, name] = values
    return {
        name: (result["mean", name], np.maximum(result["std", name], _MIN_STD)) for name in fields
    }


# --------------------------------------------------------------- the data set


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"expected {name} to be a positive integer, got {value!r}")
    return int(value)


def _same_across_files(files: list[_WellFile], fields: list[str]) -> None:
    first = files[0]
    for other in files[1:]:
        for what in ("dataset_name", "spatial_dims", "grid_type", "boundaries"):
            if getattr(other, what) != getattr(first, what):
                raise ValueError(
                    f"{other.path}: {what} {getattr(other, what)!r} differs from "
                    f"{getattr(first, what)!r} in {first.path}; one data set is read at a time"
                )
        for a, b, name in zip(first.coords, other.coords, first.spatial_dims):
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-6, atol=0):
                raise ValueError(
                    f"{other.path}: the coordinates dimensions/{name} differ from those of "
                    f"{first.path}; every file must be on the same grid"
                )
        for name in fields:
            if name not in other.fields:
                raise ValueError(f"{other.path} has no field {name!r} (found in {first.path})")
            if other.fields[name].order != first.fields[name].order:
                raise ValueError(
                    f"{other.path}: field {name!r} is in t{other.fields[name].order}_fields, "
                    f"but in t{first.fields[name].order}_fields in {first.path}"
                )


class WellDataset(LazyDataset):
    """Windows of the trajectories of The Well (Ohana et al., NeurIPS 2024), read lazily.

    Sample ``i`` is a window of one trajectory: frames ``t0, t0 + s, ...,
    t0 + (n_in + n_out - 1) s`` (``s = stride``), the first ``n_in`` of them the input
    and the rest the output, each frame the selected fields' channels. Shapes:
    ``a: (n_in * C, *grid) -> u: (n_out * C, *grid)`` with the frames time-major
    (channel ``k * C + c`` is channel ``c`` of frame ``k``; ``config["channels"]``
    names the ``C``). Windows are numbered file by file (files in name order),
    trajectory by trajectory, start by start, as in the Well's own ``WellDataset``.

    The HDF5 files are opened on first read and kept open until `close` (or the end
    of a ``with`` block); one thread at a time should read.

    Args:
        path: one ``.hdf5`` file, a list of them, a split folder
            ``<dataset>/data/train``, or the data set's root folder with ``split``.
        split: ``"train"``, ``"valid"`` or ``"test"`` when ``path`` is the root.
        fields: the names of the fields to read, in channel order (default all of
            ``t0_fields``, ``t1_fields`` and ``t2_fields``, in that order).
        n_steps_input: the number of input frames.
        n_steps_output: the number of output frames after them.
        stride: the number of saved time steps between consecutive frames.
        normalize: apply ``(x - mean) / std`` per field component with the
            statistics of ``stats.yaml`` (``std`` below 1e-4 raised to 1e-4, as the
            Well does).
        stats: the statistics file (default ``<dataset>/stats.yaml``, two folders
            above the split folder).
        allow_non_cartesian: read data whose ``grid_type`` is not ``cartesian``.
        max_bytes: refuse, before reading, any selection of one HDF5 dataset bigger
            than this many bytes.

    Attributes:
        coords: the node coordinates of each spatial axis (``dimensions/``).
        periodic: per spatial axis, whether both of its sides are ``PERIODIC`` on
            every node (``boundary_conditions/``).
        config: the data set, files, fields, channels, windows, boundary conditions,
            scalars, simulation parameters and normalisation, as JSON.
    """

    def __init__(
        self,
        path: str | os.PathLike | Sequence[str | os.PathLike],
        *,
        split: str | None = None,
        fields: Sequence[str] | None = None,
        n_steps_input: int = 1,
        n_steps_output: int = 1,
        stride: int = 1,
        normalize: bool = False,
        stats: str | os.PathLike | None = None,
        allow_non_cartesian: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ):
        self.n_steps_input = _positive_int(n_steps_input, "n_steps_input")
        self.n_steps_output = _positive_int(n_steps_output, "n_steps_output")
        self.stride = _positive_int(stride, "stride")
        self.max_bytes = _positive_int(max_bytes, "max_bytes")
        self._handles: dict[Path, h5py.File] = {}
        paths = _well_files(path, split)
        try:
            self._files = [_inspect(self._open(p), p, self.max_bytes) for p in paths]
        finally:
            self.close()  # reopened on first read: a split may hold hundreds of files
        first = self._files[0]
        self.fields = self._select(fields)
        _same_across_files(self._files, self.fields)
        for file in self._files:
            self._check(file, allow_non_cartesian)
        self.coords = first.coords
        self.periodic = tuple(
            first.boundaries[name] == ["PERIODIC", "PERIODIC"] for name in first.spatial_dims
        )
        self._components = {
            name: math.prod((len(first.spatial_dims),) * first.fields[name].order)
            for name in self.fields
        }
        self.channels = [
            f"{name}_{''.join(axes)}" if axes else name
            for name in self.fields
            for axes in itertools.product(first.spatial_dims, repeat=first.fields[name].order)
        ]
        self._offsets = np.cumsum([0] + [f.n_trajectories * self._windows(f) for f in self._files])
        self._stats = None
        stats_path = Path(stats) if stats is not None else _default_stats_path(paths)
        if normalize:
            self._stats = _load_stats(stats_path, self.fields, self._components)
        self.config = self._describe(split, stats_path)

    # -- construction

    def _select(self, fields: Sequence[str] | None) -> list[str]:
        available = list(self._files[0].fields)
        if fields is None:
            if not available:
                raise ValueError(f"{self._files[0].path} holds no field in t0/t1/t2_fields")
            return available
        if isinstance(fields, str):
            fields = [fields]
        unknown = [name for name in fields if name not in available]
        if unknown or len(set(fields)) != len(fields) or not fields:
            raise ValueError(
                f"fields should be distinct names among {available} (the fields of "
                f"{self._files[0].path}), got {list(fields)}"
            )
        return list(fields)

    def _check(self, file: _WellFile, allow_non_cartesian: bool) -> None:
        if file.grid_type.lower() != "cartesian" and not allow_non_cartesian:
            raise ValueError(
                f"{file.path}: grid_type is {file.grid_type!r}, not 'cartesian'; models on a "
                f"Cartesian grid would read these fields wrongly (pass "
                f"allow_non_cartesian=True to read them anyway)"
            )
        span = self.stride * (self.n_steps_input + self.n_steps_output - 1) + 1
        if span > file.n_steps:
            raise ValueError(
                f"{file.path}: a window of n_steps_input={self.n_steps_input} and "
                f"n_steps_output={self.n_steps_output} frames {self.stride} steps apart "
                f"spans {span} saved times, but its trajectories have T={file.n_steps}"
            )

    def _windows(self, file: _WellFile) -> int:
        """Windows per trajectory (the Well's ``raw_steps_to_possible_sample_t0s``)."""
        return file.n_steps - self.stride * (self.n_steps_input + self.n_steps_output - 1)

    def _describe(self, split: str | None, stats_path: Path) -> dict[str, Any]:
        first = self._files[0]
        config: dict[str, Any] = {
            "kind": "well",
            "dataset_name": first.dataset_name,
            "split": split,
            "grid_type": first.grid_type,
            "spatial_dims": list(first.spatial_dims),
            "fields": list(self.fields),
            "channels": list(self.channels),
            "n_steps_input": self.n_steps_input,
            "n_steps_output": self.n_steps_output,
            "stride": self.stride,
            "periodic": list(self.periodic),
            "boundary_conditions": {k: list(v) for k, v in first.boundaries.items()},
            "files": [dict(f.info) for f in self._files],
            "normalized": self._stats is not None,
        }
        if self._stats is not None:
            config["stats"] = stats_path.name
            config["mean"] = np.concatenate([self._stats[n][0] for n in self.fields]).tolist()
            config["std"] = np.concatenate([self._stats[n][1] for n in self.fields]).tolist()
        return config

    # -- the LazyDataset interface

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.n_steps_input * len(self.channels), *self.grid)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.n_steps_output * len(self.channels), *self.grid)

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.coords)

    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_frames = self.n_steps_input + self.n_steps_output
        windows = np.empty((len(indices), n_frames, len(self.channels), *self.grid), np.float32)
        offsets = self.stride * np.arange(n_frames)
        file_of = np.searchsorted(self._offsets, indices, side="right") - 1
        for f in np.unique(file_of):
            file = self._files[f]
            rows = np.flatnonzero(file_of == f)
            trajectory, start = np.divmod(indices[rows] - self._offsets[f], self._windows(file))
            for t in np.unique(trajectory):
                chosen = rows[trajectory == t]
                frames_of = start[trajectory == t][:, None] + offsets  # (k, n_frames)
                frames = np.unique(frames_of)
                block = self._read_frames(file, int(t), frames)
                windows[chosen] = block[np.searchsorted(frames, frames_of)]
        inputs = windows[:, : self.n_steps_input].reshape(len(indices), *self.input_shape)
        outputs = windows[:, self.n_steps_input :].reshape(len(indices), *self.output_shape)
        return inputs, outputs

    # -- reading

    def _read_frames(self, file: _WellFile, trajectory: int, frames: np.ndarray) -> np.ndarray:
        """``(len(frames), C, *grid)``: the selected fields of one trajectory at the saved
        times ``frames`` (sorted, unique)."""
        parts = [self._read_field(file, name, trajectory, frames) for name in self.fields]
        return np.concatenate(parts, axis=1)

    def _read_field(
        self, file: _WellFile, name: str, trajectory: int, frames: np.ndarray
    ) -> np.ndarray:
        """One field ``(len(frames), components, *grid)``, channel-first, normalised."""
        field = file.fields[name]
        group = self._open(file.path)[_FIELD_GROUPS[field.order]]
        dataset = _dataset(group, name, file.path, "a field")
        member = dataset.name
        lead = (slice(trajectory, trajectory + 1),) if field.sample_varying else ()
        if field.time_varying:
            # One hyperslab per run of consecutive frames: no frame is read twice.
            runs = np.split(frames, np.flatnonzero(np.diff(frames) != 1) + 1)
            pieces = [
                hdf5.read(
                    dataset,
                    (*lead, slice(int(run[0]), int(run[-1]) + 1)),
                    path=file.path,
                    name=member,
                    max_bytes=self.max_bytes,
                )
                for run in runs
            ]
            values = np.concatenate([p[0] if lead else p for p in pieces], axis=0)
        else:
            fixed = hdf5.read(dataset, lead, path=file.path, name=member, max_bytes=self.max_bytes)
            fixed = fixed[0] if lead else fixed
            values = np.broadcast_to(fixed, (len(frames), *fixed.shape))
        values = np.asarray(values, dtype=np.float32)
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"{file.path}: {member} holds non-finite values (NaN or inf) in trajectory "
                f"{trajectory}"
            )
        # Axes a field is constant along are absent from the file: put them back.
        for axis, varying in enumerate(field.dim_varying):
            if not varying:
                values = np.expand_dims(values, 1 + axis)
        n_components = self._components[name]
        values = np.broadcast_to(
            values, (len(frames), *self.grid, *values.shape[1 + len(self.grid) :])
        ).reshape(len(frames), *self.grid, n_components)
        values = np.moveaxis(values, -1, 1)
        if self._stats is not None:
            mean, std = self._stats[name]
            shape = (1, n_components) + (1,) * len(self.grid)
            values = (values - mean.astype(np.float32).reshape(shape)) / std.astype(
                np.float32
            ).reshape(shape)
        return values

    def _open(self, path: Path) -> h5py.File:
        handle = self._handles.get(path)
        if handle is None:
            if not h5py.is_hdf5(path):
                raise ValueError(f"{path} is not an HDF5 file; expected a file of the Well")
            try:
                handle = h5py.File(path, "r")
            except OSError as error:
                raise ValueError(f"{path}: could not open it as HDF5: {error}") from error
            self._handles[path] = handle
        return handle

    def close(self) -> None:
        """Close the files opened for reading (they are reopened when read again)."""
        while self._handles:
            _, handle = self._handles.popitem()
            handle.close()

    def __enter__(self) -> WellDataset:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def read_well(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    split: str | None = None,
    fields: Sequence[str] | None = None,
    n_steps_input: int = 1,
    n_steps_output: int = 1,
    stride: int = 1,
    normalize: bool = False,
    stats: str | os.PathLike | None = None,
    allow_non_cartesian: bool = False,
    n: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> OperatorDataset:
    """The first ``n`` windows of a data set of The Well, read into memory.

    See `WellDataset` for the samples, the channel order and the checks.

    Args:
        path: one ``.hdf5`` file, a list of them, a split folder
            ``<dataset>/data/train``, or the data set's root folder with ``split``.
        split: ``"train"``, ``"valid"`` or ``"test"`` when ``path`` is the root.
        fields: the names of the fields to read, in channel order (default all).
        n_steps_input: the number of input frames.
        n_steps_output: the number of output frames after them.
        stride: the number of saved time steps between consecutive frames.
        normalize: apply ``(x - mean) / std`` per field with ``stats.yaml``.
        stats: the statistics file (default ``<dataset>/stats.yaml``).
        allow_non_cartesian: read data whose ``grid_type`` is not ``cartesian``.
        n: read only the first ``n`` windows (all when None).
        max_bytes: refuse, before reading, a result or any HDF5 selection bigger than
            this many bytes (default 8 GiB).

    Returns:
        inputs ``(n, n_steps_input * C, *grid)`` and outputs
        ``(n, n_steps_output * C, *grid)`` in float32, the coordinates of
        ``dimensions/`` and `WellDataset`'s config.

    References:
        Ohana et al., "The Well: a Large-Scale Collection of Diverse Physics
        Simulations for Machine Learning", NeurIPS 2024 Datasets and Benchmarks.
    """
    with WellDataset(
        path,
        split=split,
        fields=fields,
        n_steps_input=n_steps_input,
        n_steps_output=n_steps_output,
        stride=stride,
        normalize=normalize,
        stats=stats,
        allow_non_cartesian=allow_non_cartesian,
        max_bytes=max_bytes,
    ) as dataset:
        count = len(dataset) if n is None else _positive_int(n, "n")
        if count > len(dataset):
            raise ValueError(f"{path} holds {len(dataset)} windows, but n={count} were asked for")
        subset = dataset.take(slice(0, count))
        hdf5.check_read_size(path, "the windows read", subset.nbytes, max_bytes)
        return subset.load()
