"""Samples per second of the Burgers data generator, and the whole quick-preset generation.

The generator is the task's whole pipeline (``sciml.data.burgers``): periodic Gaussian
random field ``u0``, ETDRK4 solve to T = 1 on the fine grid, subsampling, all under
one ``jit(vmap)`` in float32; rates exclude compilation. Also reported, for the
solve grid of each config: how far its ``u(T)`` is from that of an 8192-point solve
of the same initial condition (the fine ``u0`` sampled at the coarser grid's points),
relative L2 at the stored points — the price of solving on the coarser grid.

    python benchmarks/burgers_generation.py                    # paper and quick configs
    python benchmarks/burgers_generation.py --full-quick       # also time generate_burgers
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import jax
import numpy as np

from sciml.data.batched import sample_keys
from sciml.data.burgers import (
    BurgersConfig,
    burgers_initial_condition,
    generate_burgers,
    generation_rate,
)
from sciml.experiments import get_experiment
from sciml.solvers.burgers import solve_burgers

PAPER = BurgersConfig()  # 8192 -> 1024, dt = 1/100
# The quick preset: solved on 1024 points, s = 256 kept (the paper's smallest).
QUICK = get_experiment("burgers", "fno", "quick").data


def resolution_error(config: BurgersConfig, samples: int = 8, reference: int = 8192) -> float:
    """Max relative L2 of ``u(T)`` solved on ``config``'s grid vs on ``reference`` points."""
    if config.fine_resolution == reference:
        return 0.0
    fine = dataclasses.replace(config, fine_resolution=reference, subsample=1)
    u0 = jax.vmap(lambda key: burgers_initial_condition(key, fine))(
        sample_keys(config.seed, 0, samples)
    )
    factor = reference // config.fine_resolution

    def solve(u0):
        return solve_burgers(u0, nu=config.nu, t_final=config.t_final, dt=config.dt)

    u_fine = jax.jit(jax.vmap(solve))(u0)[:, ::factor]
    u_coarse = jax.jit(jax.vmap(solve))(u0[:, ::factor])
    r = config.subsample
    u_fine, u_coarse = np.asarray(u_fine[:, ::r]), np.asarray(u_coarse[:, ::r])
    return float(
        np.max(np.linalg.norm(u_coarse - u_fine, axis=-1) / np.linalg.norm(u_fine, axis=-1))
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full-quick", action="store_true", help="time generate_burgers(QUICK)")
    parser.add_argument("--json", type=str, default=None)
    args = parser.parse_args(argv)

    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}), jax {jax.__version__}")
    print(
        "| config | solve grid -> s | steps | batch | compile s | samples/s "
        "| est. 1100 samples s | u(T) vs 8192 solve |"
    )
    print("|---|---|---|---|---|---|---|---|")
    records = []
    for name, config in (("paper", PAPER), ("quick", QUICK)):
        rate = generation_rate(config, batch_size=args.batch, repeats=args.repeats)
        error = resolution_error(config)
        total = (config.n_train + config.n_test) / rate["samples_per_s"]
        records.append({"config": name, **rate, "vs_8192": error, "estimate_s": total})
        print(
            f"| {name} | {config.fine_resolution} -> {config.resolution} | {config.n_steps} "
            f"| {args.batch} | {rate['compile_s']:.1f} | {rate['samples_per_s']:.1f} "
            f"| {total:.0f} | {error:.1e} |",
            flush=True,
        )
    if args.full_quick:
        start = time.perf_counter()
        splits = generate_burgers(QUICK, batch_size=args.batch)
        elapsed = time.perf_counter() - start
        shapes = {k: v.inputs.shape for k, v in splits.items()}
        print(f"\ngenerate_burgers(quick): {elapsed:.1f} s wall, compile included; {shapes}")
        records.append({"config": "quick full run", "wall_s": elapsed})
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"device": str(device), "records": records}, file, indent=1)


if __name__ == "__main__":
    main()
