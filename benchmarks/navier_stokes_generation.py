"""Samples per second of the Navier–Stokes task generator, on whatever device JAX uses.

Modes:

``--mode rate`` (default): the compiled batch generator's samples/s (compile excluded) for
the quick preset (the full horizon) and for the paper config (nu = 1e-3, T = 50, solved
on 256^2). On a CPU the paper config is timed over ``--horizon`` frames and scaled to
T = 50 (the cost per frame is a fixed number of steps), which the table says.

``--mode generate``: generate a whole data set (the paper's 1000 + 200 samples by
default) with a progress log, and report the wall time and samples/s. Meant for a GPU:

    python benchmarks/navier_stokes_generation.py --mode generate --config paper \
        --batch-size 64 --log ns-paper-generation.log

Both modes print a markdown table and append a JSON record to ``--log`` if given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time

import jax

from sciml.data.navier_stokes import NavierStokesConfig, generate_navier_stokes, generation_rate
from sciml.experiments import get_experiment

QUICK = get_experiment("navier-stokes", "fno", "quick").data
"""Quick preset: 64^2 solve, 32^2 stored, nu = 1e-3, T = 20 (10 input + 10 target frames),
ETDRK4 at dt = 1/8 (160 steps). dt = 1/8 is above the advective CFL limit (C ~ 2.4 for
max|u| ~ 0.3) and is stable only because viscosity damps the high modes at this
resolution and nu; dt = 1/4 blew up on some of 1000 samples. Its error is ~7e-7 relative
(vs dt = 1/64, 16 samples, all 20 frames)."""

PAPER = NavierStokesConfig()


def log_record(path, record):
    if path:
        with open(path, "a") as file:
            file.write(json.dumps(record) + "\n")


def device_name() -> str:
    device = jax.devices()[0]
    return f"{device.platform}:{getattr(device, 'device_kind', '')}"


def rate_mode(args):
    rows = []
    quick = generation_rate(QUICK, batch_size=args.batch_size, repeats=args.repeats)
    rows.append(("quick", QUICK, quick, "full horizon"))
    paper = generation_rate(PAPER, batch_size=args.paper_batch_size, horizon=args.horizon)
    rows.append(("paper nu=1e-3", PAPER, paper, f"estimated from {args.horizon} of 50 frames"))
    print(f"\n### Navier–Stokes generation rate on {device_name()} ({platform.processor()})\n")
    print(
        "| config | solve / store | T | scheme, dt | batch | compile (s) | samples/s | "
        "time for 1000 + 200 | note |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, config, result, note in rows:
        total = (config.n_train + config.n_test) / result["samples_per_s"]
        n_total = config.n_train + config.n_test
        print(
            f"| {label} | {config.solve_resolution} / {config.resolution} | "
            f"{config.t_final} | {config.scheme}, {result['dt']:.4g} | "
            f"{result['batch_size']} | {result['compile_s']:.1f} | "
            f"{result['samples_per_s']:.3g} | {total:.0f} s ({n_total} samples) | {note} |"
        )
        log_record(
            args.log,
            {
                "mode": "rate",
                "label": label,
                "config": config.to_dict(),
                "device": device_name(),
                **result,
            },
        )


def generate_mode(args):
    config = {"quick": QUICK, "paper": PAPER}[args.config]
    if args.n_train is not None:
        config = dataclasses.replace(config, n_train=args.n_train)
    if args.n_test is not None:
        config = dataclasses.replace(config, n_test=args.n_test)
    n_total = config.n_train + config.n_test
    done = 0
    start = time.perf_counter()

    def progress(count):
        nonlocal done
        done += count
        line = f"{done}/{n_total} samples, {time.perf_counter() - start:.1f} s"
        print(line, flush=True)
        if args.log:
            with open(args.log, "a") as file:
                file.write(line + "\n")

    splits = generate_navier_stokes(config, batch_size=args.batch_size, progress=progress)
    elapsed = time.perf_counter() - start
    print("\n| config | device | samples | batch | wall (s, incl. compile) | samples/s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.config} | {device_name()} | {n_total} | {args.batch_size} | "
        f"{elapsed:.1f} | {n_total / elapsed:.3g} |"
    )
    print(
        f"train outputs {splits['train'].outputs.shape}, test outputs "
        f"{splits['test'].outputs.shape}"
    )
    log_record(
        args.log,
        {
            "mode": "generate",
            "config": config.to_dict(),
            "device": device_name(),
            "batch_size": args.batch_size,
            "wall_s": elapsed,
            "samples_per_s": n_total / elapsed,
        },
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["rate", "generate"], default="rate")
    parser.add_argument("--config", choices=["quick", "paper"], default="paper")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--paper-batch-size", type=int, default=4)
    parser.add_argument("--horizon", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)
    {"rate": rate_mode, "generate": generate_mode}[args.mode](args)


if __name__ == "__main__":
    main()
