"""Batched generation shared by the tasks: per-sample keys, batches, splits, rates.

A task supplies ``solve_batch(keys) -> (inputs, outputs)``, one compiled
``jit(vmap(...))`` program over a batch of keys; these functions run it over the
whole data set (the last batch padded, so one program serves all), cut the result
into the train and test splits, and time it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sciml.data.dataset import OperatorDataset

SolveBatch = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


def sample_keys(seed: int, start: int, count: int) -> jax.Array:
    """The keys of samples ``start .. start+count-1``: ``fold_in(key(seed), i)``.

    Sample ``i`` therefore does not depend on the batch it is generated in.
    """
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(
        jnp.arange(start, start + count)
    )


def solve_in_batches(
    solve_batch: SolveBatch, *, seed: int, n_total: int, batch_size: int, progress=None
) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, outputs)`` of samples ``0 .. n_total-1``, batch axis first, as NumPy.

    ``progress(count)`` is called after each batch.
    """
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    inputs, outputs = [], []
    for start in range(0, n_total, batch_size):
        a, u = solve_batch(sample_keys(seed, start, batch_size))
        count = min(batch_size, n_total - start)
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
        "train": OperatorDataset(inputs[:n_train], outputs[:n_train], coords, config),
        "test": OperatorDataset(inputs[n_train:], outputs[n_train:], coords, config),
    }


def batch_rate(
    solve_batch: SolveBatch, *, seed: int, batch_size: int, repeats: int = 1
) -> tuple[float, float]:
    """``(compile seconds, samples per second)`` of ``solve_batch``, compile excluded."""
    keys = sample_keys(seed, 0, batch_size)
    start = time.perf_counter()
    jax.block_until_ready(solve_batch(keys))
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(solve_batch(keys))
    elapsed = time.perf_counter() - start
    return compile_s, batch_size * repeats / elapsed
