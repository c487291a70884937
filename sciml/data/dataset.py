"""`OperatorDataset`: pairs of input and output functions on a grid, and its HDF5 form.

A data set on disk is one HDF5 file holding every split (``train``, ``test``) and
the JSON generation config that made it. Files are written to a temporary name in
the same folder, flushed and renamed into place, so a reader never sees half a file.
Nothing in one is trusted on reading: the HDF5 user block holds a SHA-256 of the
rest of the file, checked before HDF5 parses a byte of it (a damaged HDF5 file can
crash or hang the library); a checksummed manifest records the config, the splits
and every array's shape, dtype and SHA-256, checked member by member; links and
external storage are refused; and the splits must agree with the config's
``n_train`` and ``n_test`` and hold only finite values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciml.data import hdf5

#: 2: a checksummed manifest of every array (coordinates included) and the splits.
FORMAT_VERSION = 2


@dataclasses.dataclass(frozen=True, eq=False)
class OperatorDataset:
    """Samples of an operator ``a -> u`` on a grid.

    Attributes:
        inputs: ``(N, C_in, *grid)`` input functions, channel-first.
        outputs: ``(N, C_out, *grid)`` output functions (a time axis, if any, is a
            channel axis or follows the convention of the task that made them).
        coords: one 1-D array of node coordinates per spatial axis.
        config: the JSON-serialisable generation config.
    """

    inputs: np.ndarray
    outputs: np.ndarray
    coords: tuple[np.ndarray, ...]
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        inputs, outputs = np.asarray(self.inputs), np.asarray(self.outputs)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", outputs)
        object.__setattr__(self, "coords", tuple(np.asarray(c) for c in self.coords))
        check_shapes("OperatorDataset", inputs.shape, outputs.shape, self.coords)

    def __len__(self) -> int:
        return self.inputs.shape[0]

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return self.inputs.shape[2:]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs, outputs)``, the form ``sciml.train.fit`` takes."""
        return self.inputs, self.outputs

    def take(self, index) -> OperatorDataset:
        """A subset (slice or index array) of the samples, same coordinates and config."""
        return OperatorDataset(self.inputs[index], self.outputs[index], self.coords, self.config)


def check_shapes(owner: str, inputs: tuple, outputs: tuple, coords) -> None:
    """Inputs ``(N, C_in, *grid)`` and outputs ``(N, C_out, *grid)`` of one ``N``, on
    the grid the coordinates describe, or a ValueError naming ``owner``."""
    inputs, outputs = tuple(inputs), tuple(outputs)
    if len(inputs) < 2 or len(outputs) < 2:
        raise ValueError(
            f"{owner} expects inputs (N, C_in, *grid) and outputs (N, C_out, *grid), "
            f"got shapes {inputs} and {outputs}"
        )
    if inputs[0] != outputs[0]:
        raise ValueError(
            f"{owner} expects as many inputs as outputs, "
            f"got {inputs[0]} inputs and {outputs[0]} outputs"
        )
    grid = tuple(len(c) for c in coords)
    if inputs[2:] != grid:
        raise ValueError(
            f"{owner} inputs have grid {inputs[2:]} but the coordinates describe a grid {grid}"
        )


def config_hash(config: Mapping[str, Any]) -> str:
    """A content hash of a JSON config: the name of its cache entry."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _checksum(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _text_checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _entry(array: np.ndarray) -> dict[str, Any]:
    """What the manifest records of one array: enough to check it before reading it."""
    return {"shape": list(array.shape), "dtype": array.dtype.str, "sha256": _checksum(array)}


def check_splits(
    splits: Mapping[str, OperatorDataset], config: Mapping[str, Any], source: Any
) -> None:
    """Refuse splits that disagree with the config that is said to have made them.

    There must be at least one split; every array finite; a config's ``n_train`` and
    ``n_test``, when it has them, the lengths of the ``train`` and ``test`` splits. The
    `ValueError` names ``source`` (a file, or what generated the splits).
    """
    if not splits:
        raise ValueError(f"{source} holds no split")
    sizes = {"train": config.get("n_train"), "test": config.get("n_test")}
    for name, data in splits.items():
        if not isinstance(data, OperatorDataset):
            raise TypeError(
                f"{source}: split {name!r} is a {type(data).__name__}, not an OperatorDataset"
            )
        expected = sizes.get(name)
        if isinstance(expected, int) and len(data) != expected:
            raise ValueError(
                f"{source}: split {name!r} holds {len(data)} samples on the grid "
                f"{data.grid_shape}, but its config says n_{name} = {expected}"
            )
        arrays = {"inputs": data.inputs, "outputs": data.outputs}
        arrays.update({f"coord_{axis}": c for axis, c in enumerate(data.coords)})
        for field, array in arrays.items():
            if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
                bad = int(array.size - np.count_nonzero(np.isfinite(array)))
                raise ValueError(f"{source}: {name}/{field} holds {bad} non-finite values")


def _fsync(path: str | os.PathLike, directory: bool = False) -> None:
    """Flush ``path`` (a file, or a folder's entries) to the disk."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if directory:  # some systems cannot open a folder; the rename is still atomic
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def save_splits(
    path: str | os.PathLike, splits: Mapping[str, OperatorDataset], config: Mapping[str, Any]
) -> Path:
    """Write the splits of one data set to ``path`` atomically (temporary file, fsync,
    rename), with a manifest of every array's shape, dtype and SHA-256 and the config,
    itself checksummed.

    Raises:
        ValueError: the splits disagree with ``config`` (see `check_splits`).
    """
    path = Path(path)
    check_splits(splits, config, f"the splits for {path}")
    manifest = {"config": json.loads(json.dumps(config, sort_keys=True)), "splits": {}}
    for name, data in splits.items():
        manifest["splits"][name] = {
            "inputs": _entry(data.inputs),
            "outputs": _entry(data.outputs),
            "coords": [_entry(c) for c in data.coords],
        }
    manifest_text = json.dumps(manifest, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w", userblock_size=_HEADER_SIZE) as file:
            file.attrs["format_version"] = FORMAT_VERSION
            file.attrs["manifest"] = manifest_text
            file.attrs["manifest_sha256"] = _text_checksum(manifest_text)
            for name, data in splits.items():
                group = file.create_group(name)
                group.create_dataset("inputs", data=data.inputs)
                group.create_dataset("outputs", data=data.outputs)
                for axis, coord in enumerate(data.coords):
                    group.create_dataset(f"coord_{axis}", data=coord)
            file.attrs["complete"] = True
        _stamp(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


#: The HDF5 user block (ignored by HDF5) that holds the SHA-256 of the rest of the file.
_HEADER_SIZE = 512
_HEADER_PREFIX = b"sciml data set; sha256 of the bytes after this block: "


def _header(digest: str) -> bytes:
    return (_HEADER_PREFIX + digest.encode() + b"\n").ljust(_HEADER_SIZE, b"\0")


def _content_digest(raw, block: int = 2**24) -> str:
    """SHA-256 of the bytes of the open file ``raw`` after the header."""
    raw.seek(_HEADER_SIZE)
    digest = hashlib.sha256()
    while chunk := raw.read(block):
        digest.update(chunk)
    return digest.hexdigest()


def _stamp(path: str | os.PathLike) -> None:
    """Write into the header of the HDF5 file ``path`` the checksum of its content."""
    with open(path, "r+b") as raw:
        digest = _content_digest(raw)
        raw.seek(0)
        raw.write(_header(digest))


def _check_file_checksum(path: Path) -> None:
    """Refuse a file whose header is not the one `save_splits` writes or whose content
    does not match the checksum in it: any damaged byte, before HDF5 reads any."""
    try:
        with open(path, "rb") as raw:
            header = raw.read(_HEADER_SIZE)
            stated = header[len(_HEADER_PREFIX) : len(_HEADER_PREFIX) + 64]
            well_formed = header.startswith(_HEADER_PREFIX) and header == _header(
                stated.decode("ascii", errors="replace")
            )
            if not well_formed:
                raise ValueError(
                    f"{path} is not a readable HDF5 data set file: it lacks the header "
                    f"save_splits writes (damaged, or not written by sciml)"
                )
            if _content_digest(raw) != stated.decode():
                raise ValueError(f"{path} fails its file checksum (damaged or modified)")
    except OSError as error:
        raise ValueError(f"{path} is not a readable HDF5 data set file: {error}") from error


#: What a damaged HDF5 file can raise from h5py and the HDF5 library.
_DAMAGE = (
    KeyError,
    OSError,
    RuntimeError,
    TypeError,
    ValueError,
    IndexError,
    OverflowError,
    UnicodeDecodeError,
)


def load_splits(
    path: str | os.PathLike,
    expected_config: Mapping[str, Any] | None = None,
    *,
    required_splits: Collection[str] = (),
) -> dict[str, OperatorDataset]:
    """Read and verify a file written by `save_splits`.

    Nothing is read before it is checked: first the whole file against the SHA-256 in
    its header, before HDF5 parses any of it (a damaged HDF5 file can crash or hang
    the library); then the manifest against its checksum, every member against the
    manifest (a plain group or dataset stored in the file, with the
    recorded shape and dtype), then every array against its SHA-256. The splits must
    agree with the config (`check_splits`) and include ``required_splits``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: anything else that is wrong with the file: not a readable HDF5
            data set, incomplete, damaged, made by another config than
            ``expected_config``, disagreeing with its config, lacking a required split.
            The message names the file and says what is wrong.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no data set file at {path}")
    _check_file_checksum(path)
    try:
        file = h5py.File(path, "r")
    except _DAMAGE as error:
        raise ValueError(f"{path} is not a readable HDF5 data set file: {error}") from error
    try:
        with file:
            config, splits = _read_checked(file, path)
    except _DAMAGE as error:
        if isinstance(error, ValueError) and str(error).startswith(str(path)):
            raise
        raise ValueError(f"{path} is not a valid sciml data set: {error!r}") from error
    if expected_config is not None and config != json.loads(
        json.dumps(expected_config, sort_keys=True)
    ):
        raise ValueError(f"{path} was made by config {config}, expected {dict(expected_config)}")
    missing = sorted(set(required_splits) - set(splits))
    if missing:
        raise ValueError(f"{path} holds the splits {sorted(splits)}, lacking {missing}")
    check_splits(splits, config, path)
    return splits


def _read_checked(file: h5py.File, path: Path) -> tuple[dict, dict[str, OperatorDataset]]:
    """``(config, splits)`` of an open data set file, every part checked before use."""
    if file.attrs.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {file.attrs.get('format_version')}, "
            f"expected {FORMAT_VERSION}"
        )
    if not file.attrs.get("complete", False):
        raise ValueError(f"{path} is incomplete (no completion mark)")
    manifest_text = file.attrs.get("manifest")
    if not isinstance(manifest_text, str) or _text_checksum(manifest_text) != file.attrs.get(
        "manifest_sha256"
    ):
        raise ValueError(f"{path}: its manifest is missing or fails its checksum")
    manifest = json.loads(manifest_text)
    hdf5.plain_members(file, path)
    if set(file) != set(manifest["splits"]):
        raise ValueError(
            f"{path} holds the groups {sorted(file)}, its manifest the splits "
            f"{sorted(manifest['splits'])}"
        )
    splits = {}
    for name, entries in manifest["splits"].items():
        group = file[name]
        fields = {"inputs": entries["inputs"], "outputs": entries["outputs"]}
        fields.update({f"coord_{i}": entry for i, entry in enumerate(entries["coords"])})
        if not isinstance(group, h5py.Group) or set(group) != set(fields):
            raise ValueError(f"{path}: {name} does not hold {sorted(fields)}")
        arrays = {field: _read_array(group, field, entry, path) for field, entry in fields.items()}
        coords = tuple(arrays[f"coord_{i}"] for i in range(len(entries["coords"])))
        splits[name] = OperatorDataset(
            arrays["inputs"], arrays["outputs"], coords, manifest["config"]
        )
    return manifest["config"], splits


def _read_array(group: h5py.Group, field: str, entry: Mapping[str, Any], path: Path) -> np.ndarray:
    """``group[field]``, checked against its manifest entry before and after reading."""
    where = f"{group.name.lstrip('/')}/{field}"
    dataset = hdf5.plain_dataset(group, field, path)
    shape, dtype = tuple(entry["shape"]), np.dtype(entry["dtype"])
    if dataset.shape != shape or dataset.dtype != dtype or dataset.dtype.str != dtype.str:
        raise ValueError(
            f"{path}: {where} is {dataset.dtype.str} {dataset.shape}, its manifest says "
            f"{dtype.str} {shape}"
        )
    max_bytes = max(1, math.prod(shape) * dtype.itemsize)
    array = hdf5.read(dataset, path=path, name=where, max_bytes=max_bytes)
    if _checksum(array) != entry["sha256"]:
        raise ValueError(f"{path}: checksum mismatch in {where}")
    return array


def cache_dir() -> Path:
    """The data cache folder: ``$SCIML_CACHE`` if set, else ``~/.cache/sciml``."""
    return Path(os.environ.get("SCIML_CACHE", Path.home() / ".cache" / "sciml"))


def config_to_dict(config: Any, added: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A frozen dataclass config as a JSON-ready dict, tagged with its class name.

    Args:
        config: the config.
        added: fields added to the config after its dicts were first written, each with
            the value that reproduces the old behaviour: a field holding that value is
            left out, so the config keeps the dict (and the cache entry and run folder it
            names) it had before the field existed, while any other value changes it.
    """
    table = {"kind": type(config).__name__, **dataclasses.asdict(config)}
    for name, value in (added or {}).items():
        if table[name] == value:
            del table[name]
    return table
