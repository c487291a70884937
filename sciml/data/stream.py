"""Batches of a lazy data set, read and placed on the devices ahead of the step.

:class:`BatchStream` is the loader :func:`sciml.train.fit` streams a
:class:`~sciml.data.lazy.LazyDataset` through. Given the batches of an epoch (rows of
sample indices, drawn by the same shuffle as in memory), one background thread reads
each batch and puts it on the devices while the compiled step runs on the one before;
at most ``depth`` placed batches wait in a queue, so the data resident in host and
device memory is bounded by ``depth + 2`` batches whatever the size of the data set.
A "batch" may be a chunk of several minibatches that one compiled ``lax.scan`` steps
through (what ``fit`` streams when its epoch loop is ``"scan"``), which spares a
dispatch per step.

Why a thread of our own and not a loader library (grain, a PyTorch ``DataLoader``):
the work to hide is one HDF5 read and one host-to-device copy per batch, a few
milliseconds against the step's hundreds, while the step runs in XLA's own threads,
which do not need the Python interpreter: the reading thread can hold it without
stopping the step. One thread and a bounded queue overlap them; worker processes would
add a copy of every batch through shared memory, a dependency, and a second notion of
shuffling and sharding beside the one ``fit`` already has.

With a device mesh, each process reads only the rows of the batch that its own
devices hold (the rows of a multi-process batch never all pass through one host).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence

import jax
import numpy as np
from jax.sharding import Mesh

from sciml.data.lazy import LazyDataset
from sciml.distributed import batch_mesh, batch_sharding

__all__ = ["BatchStream", "place_batch"]

_END = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def _check_finite(array: np.ndarray, indices: np.ndarray, role: str, name: str) -> None:
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    if bad.any():
        samples = [int(i) for i in indices[bad][:5]]
        raise ValueError(
            f"{name} {role} hold non-finite values in {int(bad.sum())} sample(s) of a batch; "
            f"the first are samples {samples} of the data set"
        )


def place_batch(
    source: LazyDataset,
    indices: np.ndarray,
    mesh: Mesh,
    *,
    check_finite: bool = True,
    name: str = "train",
) -> tuple[jax.Array, jax.Array]:
    """The samples ``indices`` of ``source`` as two arrays split over the mesh's
    ``"batch"`` axis; this process reads only the rows its own devices hold.

    Args:
        source: the lazy data set.
        indices: ``(batch,)`` sample numbers in batch order, or ``(k, batch)`` for a
            chunk of ``k`` minibatches (split over the devices along ``batch``).
        mesh: the device mesh (an axis named ``"batch"``).
        check_finite: refuse a batch holding a non-finite value.
        name: the split's name, for error messages.

    Returns:
        ``(inputs, outputs)``: ``(*indices.shape, C_in, *grid)`` and
        ``(*indices.shape, C_out, *grid)`` float32 arrays.
    """
    indices = np.asarray(indices)
    axis = indices.ndim - 1
    sharding = batch_sharding(mesh, axis)
    shapes = ((*indices.shape, *source.input_shape), (*indices.shape, *source.output_shape))
    read: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    shards: tuple[list, list] = ([], [])
    for device, index in sharding.addressable_devices_indices_map(shapes[0]).items():
        rows = slice(None) if index is None else index[axis]
        key = (rows.start, rows.stop)
        if key not in read:
            chosen = indices[..., rows]
            flat = chosen.reshape(-1)
            pair = source.read(flat)
            if check_finite:
                for role, array in zip(("inputs", "outputs"), pair):
                    _check_finite(array, flat, role, name)
            read[key] = tuple(array.reshape(*chosen.shape, *array.shape[1:]) for array in pair)  # type: ignore[assignment]
        for shard, array in zip(shards, read[key]):
            shard.append(jax.device_put(array, device))
    inputs, outputs = (
        jax.make_array_from_single_device_arrays(shape, sharding, shard)
        for shape, shard in zip(shapes, shards)
    )
    return inputs, outputs


class BatchStream:
    """The batches ``batches`` of ``source``, read and placed ahead by a thread.

    Iterate over it once (or use it as a context manager, which stops the thread on
    leaving, also on an error): it yields ``(inputs, outputs)`` device arrays, batch
    by batch. An error in the reading thread (a damaged file, a non-finite sample) is
    raised where the batch would have been yielded.

    Args:
        source: the lazy data set.
        batches: a sequence of index arrays, each ``(batch,)`` (one minibatch) or
            ``(k, batch)`` (a chunk of minibatches); or one ``(n_batches, batch)`` array.
        mesh: the mesh the batches are split over (default: all devices).
        depth: how many placed batches may wait ahead of the step.
        check_finite: refuse a batch holding a non-finite value.
        name: the split's name, for error messages.
    """

    def __init__(
        self,
        source: LazyDataset,
        batches: Sequence[np.ndarray] | np.ndarray,
        mesh: Mesh | None = None,
        *,
        depth: int = 2,
        check_finite: bool = True,
        name: str = "train",
    ):
        if not isinstance(source, LazyDataset):
            raise ValueError(f"BatchStream expects a LazyDataset, got {type(source).__name__}")
        if not (isinstance(depth, int) and depth >= 1):
            raise ValueError(f"BatchStream expects depth >= 1, got {depth!r}")
        self.source = source
        self.batches = [np.asarray(batch) for batch in batches]
        self.mesh = batch_mesh() if mesh is None else mesh
        self.check_finite = check_finite
        self.name = name
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self.batches)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            for indices in self.batches:
                if self._stop.is_set():
                    return
                placed = place_batch(
                    self.source,
                    indices,
                    self.mesh,
                    check_finite=self.check_finite,
                    name=self.name,
                )
                if not self._put(placed):
                    return
            self._put(_END)
        except BaseException as error:  # handed to the consumer, raised there
            self._put(_Failure(error))

    def start(self) -> BatchStream:
        """Start reading (iterating starts it too)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="sciml-batches", daemon=True)
            self._thread.start()
        return self

    def __iter__(self) -> Iterator[tuple[jax.Array, jax.Array]]:
        self.start()
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def close(self) -> None:
        """Stop the reading thread and drop the batches read ahead."""
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._queue.get(timeout=0.05)
                except queue.Empty:
                    pass
            self._thread.join()

    def __enter__(self) -> BatchStream:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()
