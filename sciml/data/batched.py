"""Batched generation shared by the tasks: per-sample keys, batches, splits, rates.

A task supplies ``solve_batch(keys) -> (inputs, outputs)``, one compiled
``jit(vmap(...))`` program over a batch of keys; these functions run it over the
whole data set (the last batch padded, so one program serves all), cut the result
into the train and test splits, and time it.

Each batch of keys is split over the devices of a mesh (by default all of this
process's devices), so the one program runs on all of them; as every sample has its
own key, the samples do not depend on the device count. In a multi-process run each
process generates its share of the samples (:func:`sciml.distributed.process_range`)
by passing ``start``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from sciml.data.dataset import OperatorDataset
from sciml.distributed import batch_devices, batch_mesh, batch_sharding

SolveBatch = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


def sample_keys(seed: int, start: int, count: int) -> jax.Array:
    """The keys of samples ``start .. start+count-1``: ``fold_in(key(seed), i)``.

    Sample ``i`` therefore does not depend on the batch it is generated in.
    """
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(
        jnp.arange(start, start + count)
    )


def solve_in_batches(
    solve_batch: SolveBatch,
    *,
    seed: int,
    n_total: int,
    batch_size: int,
    progress=None,
    start: int = 0,
    mesh: Mesh | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, outputs)`` of samples ``start .. start+n_total-1``, batch axis first,
    as NumPy.

    Each batch of keys is split over the ``"batch"`` axis of ``mesh`` (default: all
    local devices, :func:`sciml.distributed.batch_mesh`); ``batch_size`` is rounded up
    to a multiple of its size, the extra samples solved and dropped.
    ``progress(count)`` is called after each batch.
    """
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not (isinstance(start, int) and start >= 0):
        raise ValueError(f"start must be an integer >= 0, got {start!r}")
    mesh = batch_mesh(jax.local_devices()) if mesh is None else mesh
    batch_size = _round_up(batch_size, batch_devices(mesh))
    inputs, outputs = [], []
    for first in range(0, n_total, batch_size):
        a, u = solve_batch(_split_keys(sample_keys(seed, start + first, batch_size), mesh))
        count = min(batch_size, n_total - first)
        inputs.append(np.asarray(a)[:count])
        outputs.append(np.asarray(u)[:count])
        if progress is not None:
            progress(count)
    return np.concatenate(inputs), np.concatenate(outputs)


def train_test_splits(
    inputs: np.ndarray,
    outputs: np.ndarray,
    n_train: int,
    coords: Sequence[np.ndarray],
    config: dict[str, Any],
) -> dict[str, OperatorDataset]:
    """``{"train": the first n_train samples, "test": the rest}``."""
    return {
        "train": OperatorDataset(inputs[:n_train], outputs[:n_train], tuple(coords), config),
        "test": OperatorDataset(inputs[n_train:], outputs[n_train:], tuple(coords), config),
    }


def batch_rate(
    solve_batch: SolveBatch,
    *,
    seed: int,
    batch_size: int,
    repeats: int = 1,
    mesh: Mesh | None = None,
) -> tuple[float, float]:
    """``(compile seconds, samples per second)`` of ``solve_batch``, compile excluded,
    its batches split over ``mesh`` as in :func:`solve_in_batches`."""
    mesh = batch_mesh(jax.local_devices()) if mesh is None else mesh
    batch_size = _round_up(batch_size, batch_devices(mesh))
    keys = _split_keys(sample_keys(seed, 0, batch_size), mesh)
    start = time.perf_counter()
    jax.block_until_ready(solve_batch(keys))
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(solve_batch(keys))
    elapsed = time.perf_counter() - start
    return compile_s, batch_size * repeats / elapsed


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _split_keys(keys: jax.Array, mesh: Mesh) -> jax.Array:
    """``keys`` split over the batch devices of ``mesh``, one block per device."""
    return jax.device_put(keys, batch_sharding(mesh))
