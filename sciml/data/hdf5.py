"""Reading HDF5 files without trusting them: only data stored in the file itself, and
no read bigger than the caller allows.

HDF5 can make a name in one file stand for data elsewhere: an external or soft link
to another object or file, a virtual dataset assembled from other files, or a dataset
whose raw storage is an external file. A reader that follows them returns values the
file it was given does not hold (a crafted data file could hand back the bytes of any
file the reader can open). A declared shape can also ask for far more memory than the
file stores: a chunked dataset whose chunks were never written reads as fill values.
The functions here accept a dataset only when it is reached through hard links and
its values are stored, all of them, in the file; anything else is a `ValueError` that
names the file and the dataset. They are shared by the data readers and the cache.
"""

from __future__ import annotations

import math
import os

import h5py
import numpy as np

__all__ = [
    "DEFAULT_MAX_BYTES",
    "check_read_size",
    "plain_dataset",
    "plain_members",
    "read",
    "selection_shape",
]

#: The largest array a reader reads unless told otherwise: 8 GiB, above the biggest
#: variable of the published FNO and PDEBench files (``u`` of
#: ``NavierStokes_V1e-3_N5000_T50.mat``, 5000 x 64 x 64 x 50 float32 = 4.1 GB, or
#: 8.2 GB had it been stored as double; ``coeff`` of ``piececonst_r421_N1024``,
#: 1024 x 421 x 421 float64 = 1.45 GB).
DEFAULT_MAX_BYTES = 8 * 2**30


def _size_text(n_bytes: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


def check_read_size(path, name: str, n_bytes: int, max_bytes: int) -> None:
    """Refuse, before anything is allocated, a read of ``n_bytes`` above ``max_bytes``."""
    if n_bytes > max_bytes:
        raise ValueError(
            f"{path}: reading {name!r} would take {n_bytes} bytes ({_size_text(n_bytes)}), "
            f"more than max_bytes={max_bytes} ({_size_text(max_bytes)}); pass a larger "
            f"max_bytes= to read it"
        )


def _link_kind(group: h5py.Group, name: str) -> str | None:
    """``'hard'``, another kind of link in words, or None when ``group`` has no ``name``."""
    link = group.get(name, getlink=True)
    if link is None:
        return None
    if isinstance(link, h5py.HardLink):
        return "hard"
    return {h5py.SoftLink: "a soft link", h5py.ExternalLink: "an external link"}.get(
        type(link), f"a {type(link).__name__}"
    )


def plain_dataset(group: h5py.Group, name: str, path: str | os.PathLike | None = None):
    """``group[name]`` if it is a dataset stored in this file, else a `ValueError`.

    Returns None when ``group`` has no member ``name``. Refused: a soft or external
    link, a virtual dataset, a dataset with external raw storage, a member that is not
    a dataset, and a dataset some of whose values were never written (chunks absent
    from the file, which would read as fill values).
    """
    path = path if path is not None else group.file.filename
    kind = _link_kind(group, name)
    if kind is None:
        return None
    where = f"{path}: {name!r}"
    if kind != "hard":
        raise ValueError(
            f"{where} is {kind}; only data stored in the file itself is read, "
            f"so links to other objects or files are refused"
        )
    item = group[name]
    if not isinstance(item, h5py.Dataset):
        raise ValueError(f"{where} is a {type(item).__name__}, expected a dataset")
    if item.is_virtual:
        raise ValueError(
            f"{where} is a virtual dataset (its values come from other files); only data "
            f"stored in the file itself is read"
        )
    if item.external is not None:
        raise ValueError(
            f"{where} keeps its values in external files {[str(e[0]) for e in item.external]}; "
            f"only data stored in the file itself is read"
        )
    _check_stored(item, where)
    return item


def _check_stored(dataset: h5py.Dataset, where: str) -> None:
    """Every value of ``dataset`` must have storage in the file (none is a fill value)."""
    if dataset.size == 0:
        return
    if dataset.chunks is None:
        stored, needed = dataset.id.get_storage_size(), dataset.size * dataset.dtype.itemsize
        if dataset.id.get_create_plist().get_layout() == h5py.h5d.COMPACT:
            return  # compact data lives in the object header: it is always there
        if stored < needed:
            raise ValueError(
                f"{where} declares shape {dataset.shape} ({needed} bytes) but the file stores "
                f"{stored} bytes of it"
            )
        return
    expected = math.prod(-(-n // c) for n, c in zip(dataset.shape, dataset.chunks))
    stored = dataset.id.get_num_chunks()
    if stored < expected:
        raise ValueError(
            f"{where} declares shape {dataset.shape} in {expected} chunks but the file stores "
            f"only {stored}; the rest would be fill values, not data"
        )


def plain_members(group: h5py.Group, path: str | os.PathLike | None = None) -> None:
    """Refuse any member of ``group``, at any depth, that is not a plain group or a
    dataset stored in the file (see `plain_dataset`)."""
    path = path if path is not None else group.file.filename
    for name in group:
        kind = _link_kind(group, name)
        if kind != "hard":
            raise ValueError(
                f"{path}: {group.name.rstrip('/')}/{name} is {kind}; links to other "
                f"objects or files are refused"
            )
        item = group[name]
        if isinstance(item, h5py.Group):
            plain_members(item, path)
        else:
            plain_dataset(group, name, path)


def selection_shape(shape: tuple[int, ...], index: tuple[slice, ...]) -> tuple[int, ...]:
    """The shape of ``array[index]`` for an array of ``shape`` and a tuple of slices."""
    index = tuple(index) + (slice(None),) * (len(shape) - len(index))
    return tuple(len(range(*s.indices(n))) for s, n in zip(index, shape))


def read(
    dataset: h5py.Dataset,
    index: tuple[slice, ...] = (),
    *,
    path: str | os.PathLike,
    name: str,
    max_bytes: int,
) -> np.ndarray:
    """``dataset[index]`` (slices only), refused before reading when the selection, or
    one chunk HDF5 must decompress for it, would take more than ``max_bytes``."""
    itemsize = dataset.dtype.itemsize
    check_read_size(
        path, name, math.prod(selection_shape(dataset.shape, index)) * itemsize, max_bytes
    )
    if dataset.chunks is not None:
        check_read_size(
            path, f"{name} (one chunk)", math.prod(dataset.chunks) * itemsize, max_bytes
        )
    return dataset[index] if index else dataset[()]
