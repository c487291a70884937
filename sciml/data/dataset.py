"""`OperatorDataset`: pairs of input and output functions on a grid, and its HDF5 form.

A data set on disk is one HDF5 file holding every split (``train``, ``test``) and
the JSON generation config that made it. Files are written to a temporary name in
the same folder and renamed into place, so a reader never sees half a file; a
SHA-256 checksum of every array is stored beside it, so a truncated or corrupted
file is detected on reading instead of being trusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

FORMAT_VERSION = 1


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
        if inputs.ndim < 2 or outputs.ndim < 2:
            raise ValueError(
                "OperatorDataset expects inputs (N, C_in, *grid) and outputs (N, C_out, *grid), "
                f"got shapes {inputs.shape} and {outputs.shape}"
            )
        if inputs.shape[0] != outputs.shape[0]:
            raise ValueError(
                "OperatorDataset expects as many inputs as outputs, "
                f"got {inputs.shape[0]} inputs and {outputs.shape[0]} outputs"
            )
        grid = tuple(len(c) for c in self.coords)
        if inputs.shape[2:] != grid:
            raise ValueError(
                f"OperatorDataset inputs have grid {inputs.shape[2:]} but the coordinates "
                f"describe a grid {grid}"
            )

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


def config_hash(config: Mapping[str, Any]) -> str:
    """A content hash of a JSON config: the name of its cache entry."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _checksum(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def save_splits(
    path: str | os.PathLike, splits: Mapping[str, OperatorDataset], config: Mapping[str, Any]
) -> Path:
    """Write the splits of one data set to ``path`` atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as file:
            file.attrs["format_version"] = FORMAT_VERSION
            file.attrs["config"] = json.dumps(config, sort_keys=True)
            for name, data in splits.items():
                group = file.create_group(name)
                for field in ("inputs", "outputs"):
                    array = getattr(data, field)
                    group.create_dataset(field, data=array)
                    group.attrs[f"{field}_sha256"] = _checksum(array)
                for axis, coord in enumerate(data.coords):
                    group.create_dataset(f"coord_{axis}", data=coord)
                group.attrs["n_axes"] = len(data.coords)
            file.attrs["complete"] = True
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_splits(
    path: str | os.PathLike, expected_config: Mapping[str, Any] | None = None
) -> dict[str, OperatorDataset]:
    """Read and verify a file written by `save_splits`.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a readable HDF5 data set, is incomplete, its
            checksums do not match its arrays, or its config differs from
            ``expected_config``. The message says which.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no data set file at {path}")
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path} is not a readable HDF5 data set file: {error}") from error
    with file:
        try:
            if not file.attrs.get("complete", False):
                raise ValueError(f"{path} is incomplete (no completion mark)")
            if file.attrs.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"{path} has format version {file.attrs.get('format_version')}, "
                    f"expected {FORMAT_VERSION}"
                )
            config = json.loads(file.attrs["config"])
            if expected_config is not None and config != json.loads(
                json.dumps(expected_config, sort_keys=True)
            ):
                raise ValueError(
                    f"{path} was made by config {config}, expected {dict(expected_config)}"
                )
            splits = {}
            for name, group in file.items():
                arrays = {}
                for field in ("inputs", "outputs"):
                    array = group[field][()]
                    if _checksum(array) != group.attrs[f"{field}_sha256"]:
                        raise ValueError(f"{path}: checksum mismatch in {name}/{field}")
                    arrays[field] = array
                coords = tuple(group[f"coord_{i}"][()] for i in range(int(group.attrs["n_axes"])))
                splits[name] = OperatorDataset(arrays["inputs"], arrays["outputs"], coords, config)
        except (KeyError, OSError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} is not a valid sciml data set: {error!r}") from error
    return splits


def cache_dir() -> Path:
    """The data cache folder: ``$SCIML_CACHE`` if set, else ``~/.cache/sciml``."""
    return Path(os.environ.get("SCIML_CACHE", Path.home() / ".cache" / "sciml"))


def config_to_dict(config: Any) -> dict[str, Any]:
    """A frozen dataclass config as a JSON-ready dict, tagged with its class name."""
    return {"kind": type(config).__name__, **dataclasses.asdict(config)}
