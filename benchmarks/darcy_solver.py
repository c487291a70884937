"""Throughput of the Darcy solver on the FNO paper's 12:4 coefficients.

For each resolution: generate a batch of piecewise-constant coefficients (12 where a
smooth random cosine series is >= 0, 4 elsewhere), then time ``jit(vmap(solve))`` with
``f = 1`` in float32, excluding compilation. Reports the compile time, samples per
second, the CG iteration counts and the final relative residual ``||f - A u|| / ||f||``.

    python benchmarks/darcy_solver.py --resolutions 85 421 --batch 16
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from sciml.solvers.darcy import solve_darcy_with_info


def threshold_coefficients(
    rng: np.random.Generator,
    batch: int,
    resolution: int,
    *,
    modes: int = 16,
    decay: float = 2.0,
    a_high: float = 12.0,
    a_low: float = 4.0,
) -> np.ndarray:
    """``(batch, s, s)`` float32 coefficients: ``a_high`` where a random cosine series is
    >= 0, ``a_low`` elsewhere. The series has coefficients decaying like
    ``(1 + k^2 + l^2)^(-decay / 2)``, so its zero level set is smooth."""
    x = np.linspace(0.0, 1.0, resolution)
    k = np.arange(modes)
    basis = np.cos(np.pi * np.outer(x, k))
    weights = (1.0 + k[:, None] ** 2 + k[None, :] ** 2) ** (-decay / 2)
    weights[0, 0] = 0.0  # no constant mode, so both values appear
    series = rng.standard_normal((batch, modes, modes)) * weights
    fields = np.einsum("ik,bkl,jl->bij", basis, series, basis)
    return np.where(fields >= 0, a_high, a_low).astype(np.float32)


def benchmark(resolution: int, batch: int, repeats: int, rtol: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    a = jnp.asarray(threshold_coefficients(rng, batch, resolution))
    solve = jax.jit(
        jax.vmap(lambda coefficient: solve_darcy_with_info(coefficient, 1.0, rtol=rtol))
    )

    start = time.perf_counter()
    compiled = solve.lower(a).compile()
    compile_s = time.perf_counter() - start

    jax.block_until_ready(compiled(a))  # warm-up run
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        u, iterations, residual = jax.block_until_ready(compiled(a))
        times.append(time.perf_counter() - start)
    best = min(times)
    return {
        "resolution": resolution,
        "batch": batch,
        "compile_s": compile_s,
        "batch_s": best,
        "samples_per_s": batch / best,
        "iterations_min": int(jnp.min(iterations)),
        "iterations_max": int(jnp.max(iterations)),
        "residual_max": float(jnp.max(residual)),
        "dtype": str(u.dtype),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[85, 421])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), rtol = {args.rtol}")
    header = (
        f"{'s':>5} {'batch':>5} {'compile s':>10} {'batch s':>9} {'samples/s':>10} "
        f"{'CG iters':>9} {'rel. residual':>14}"
    )
    print(header)
    print("-" * len(header))
    for resolution in args.resolutions:
        r = benchmark(resolution, args.batch, args.repeats, args.rtol, args.seed)
        iterations = f"{r['iterations_min']}-{r['iterations_max']}"
        print(
            f"{r['resolution']:>5} {r['batch']:>5} {r['compile_s']:>10.2f} {r['batch_s']:>9.3f} "
            f"{r['samples_per_s']:>10.1f} {iterations:>9} {r['residual_max']:>14.2e}"
        )
    print(
        "rel. residual: max over the batch of ||f - A u|| / ||f|| for the float32 u; on fine\n"
        "grids it is limited by the rounding of u (about eps * ||A|| ||u|| / ||f||), not by rtol."
    )


if __name__ == "__main__":
    main()
