"""Samples per second of the Darcy data generator, against a sparse direct solver.

The generator is the task's whole pipeline (``sciml.data.darcy``): Neumann Gaussian
random field, 12/4 threshold, preconditioned CG solve with ``f = 1`` on the fine
grid, all under one ``jit(vmap)`` in float32; timings exclude compilation. The peer
runs in the same process on the same machine: SciPy's sparse LU (SuperLU via
``scipy.sparse.linalg.spsolve``) of the same 5-point system, in float64, one sample
at a time, on coefficients drawn by the same generator (assembly included, as a
user of the peer would pay it).

    python benchmarks/darcy_generation.py                     # 85 and 421
    python benchmarks/darcy_generation.py --resolutions 85 211 421 --batch 32
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from sciml.data.batched import sample_keys
from sciml.data.darcy import DarcyConfig, darcy_coefficient, generation_rate


def sparse_darcy_matrix(a: np.ndarray) -> scipy.sparse.csr_matrix:
    """The 5-point operator with face-averaged coefficients on the interior unknowns."""
    s = a.shape[0]
    n = s - 2
    inverse_h2 = (s - 1) ** 2
    east = 0.5 * (a[1:-1, 1:-1] + a[2:, 1:-1]) * inverse_h2  # face (i+1/2, j)
    west = 0.5 * (a[1:-1, 1:-1] + a[:-2, 1:-1]) * inverse_h2
    north = 0.5 * (a[1:-1, 1:-1] + a[1:-1, 2:]) * inverse_h2
    south = 0.5 * (a[1:-1, 1:-1] + a[1:-1, :-2]) * inverse_h2
    diagonal = (east + west + north + south).ravel()
    index = np.arange(n * n).reshape(n, n)
    rows = [index.ravel()]
    cols = [index.ravel()]
    vals = [diagonal]
    for face, di, dj in ((east, 1, 0), (west, -1, 0), (north, 0, 1), (south, 0, -1)):
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        inside = (0 <= i + di) & (i + di < n) & (0 <= j + dj) & (j + dj < n)
        rows.append(index[inside])
        cols.append(index[(i + di)[inside], (j + dj)[inside]])
        vals.append(-face[inside])
    return scipy.sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n * n, n * n)
    )


def peer_rate(config: DarcyConfig, samples: int) -> float:
    """Samples per second of assembling and solving with SciPy's sparse LU."""
    keys = sample_keys(config.seed, 0, samples)
    coefficients = np.asarray(jax.vmap(lambda k: darcy_coefficient(k, config))(keys), np.float64)
    s = config.fine_resolution
    rhs = np.full((s - 2) ** 2, config.source)
    start = time.perf_counter()
    for a in coefficients:
        scipy.sparse.linalg.spsolve(sparse_darcy_matrix(a).tocsc(), rhs)
    return samples / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[85, 421])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--peer-samples", type=int, default=4)
    args = parser.parse_args(argv)

    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}), jax {jax.__version__}")
    print("| solve grid | batch | compile s | sciml samples/s | SciPy spsolve samples/s | ratio |")
    print("|---|---|---|---|---|---|")
    for s in args.resolutions:
        config = DarcyConfig(fine_resolution=s, subsample=1)
        ours = generation_rate(config, batch_size=args.batch, repeats=args.repeats)
        peer = peer_rate(config, args.peer_samples)
        print(
            f"| {s} x {s} | {args.batch} | {ours['compile_s']:.1f} "
            f"| {ours['samples_per_s']:.1f} | {peer:.2f} | {ours['samples_per_s'] / peer:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
