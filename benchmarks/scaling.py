"""Throughput against device count: data-parallel training and sharded generation.

For each device count the same work runs in a fresh process: ``fit`` of a Darcy-sized
FNO with its batches split over a mesh of that many devices (the global batch fixed),
and the Darcy generator with each batch of samples split over them. On a CPU the
devices are simulated (``--xla_force_host_platform_device_count``) and share the same
cores, so no speed-up is to be expected there: the table then shows what the
partitioning costs. On a machine with several GPUs the real ones are used.

    python benchmarks/scaling.py                        # 1, 2, 4 devices, a markdown table
    python benchmarks/scaling.py --devices 1 2 4 8 --grid 64 --width 32

Training rates are samples per second over the epochs after the first (which
compiles); generation rates exclude compilation (``sciml.data.darcy.generation_rate``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def worker(args) -> dict:
    """Runs in the child process: the rates on ``args.worker`` devices."""
    import jax
    import numpy as np

    from sciml.data.darcy import DarcyConfig, generation_rate
    from sciml.distributed import batch_mesh
    from sciml.models import FNO
    from sciml.train import TrainConfig, fit

    devices = jax.devices()
    if len(devices) != args.worker:
        raise SystemExit(f"asked for {args.worker} devices, this process has {len(devices)}")
    mesh = batch_mesh(devices)

    rng = np.random.default_rng(0)
    shape = (args.samples, 1, args.grid, args.grid)
    a = rng.standard_normal(shape).astype(np.float32)
    u = np.cumsum(a, axis=-1).astype(np.float32) / args.grid
    model = FNO(1, 1, (args.modes, args.modes), args.width, 4, key=jax.random.key(0))
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, learning_rate=1e-3)
    _, history = fit(model, (a, u), config=config, mesh=mesh, progress=False)
    steps = args.samples // args.batch
    timed = history["epoch_time"][1:]
    train_rate = steps * args.batch * len(timed) / sum(timed)

    generation = generation_rate(
        DarcyConfig(fine_resolution=args.fine_resolution, subsample=2),
        batch_size=args.generation_batch,
        repeats=args.repeats,
    )
    device = devices[0]
    return {
        "devices": len(devices),
        "device_kind": f"{device.platform}:{device.device_kind}",
        "train_samples_per_s": train_rate,
        "train_compile_s": history["epoch_time"][0] - timed[0],
        "generation_samples_per_s": generation["samples_per_s"],
        "final_train_loss": history["train_loss"][-1],
    }


def run_count(count: int, argv: list[str], simulate: bool) -> dict:
    """The worker's report; its process sees exactly ``count`` devices."""
    env = dict(os.environ)
    if simulate:
        env["XLA_FLAGS"] = (
            env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={count}"
        ).strip()
    else:
        visible = env.get("CUDA_VISIBLE_DEVICES")
        ids = visible.split(",") if visible else [str(i) for i in range(count)]
        env["CUDA_VISIBLE_DEVICES"] = ",".join(ids[:count])
    done = subprocess.run(
        [sys.executable, __file__, *argv, "--worker", str(count)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"the {count}-device run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: list[dict], args) -> str:
    base = results[0]
    lines = [
        f"FNO: grid {args.grid}x{args.grid}, width {args.width}, modes {args.modes}, 4 layers; "
        f"{args.samples} samples, global batch {args.batch}, {args.epochs} epochs (the first "
        f"compiles); Darcy generation at {args.fine_resolution}x{args.fine_resolution}, "
        f"batch {args.generation_batch}. float32.",
        "",
        "| devices | kind | train samples/s | speed-up | generation samples/s | speed-up "
        "| final train loss |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['devices']} | {r['device_kind']} | {r['train_samples_per_s']:.1f} "
            f"| {r['train_samples_per_s'] / base['train_samples_per_s']:.2f} "
            f"| {r['generation_samples_per_s']:.1f} "
            f"| {r['generation_samples_per_s'] / base['generation_samples_per_s']:.2f} "
            f"| {r['final_train_loss']:.6f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--grid", type=int, default=32)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--modes", type=int, default=8)
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fine-resolution", type=int, default=65)
    parser.add_argument("--generation-batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args)))
        return

    import jax

    simulate = jax.default_backend() == "cpu"
    if not simulate and jax.default_backend() != "gpu":
        raise SystemExit(f"scaling.py runs on CPUs or GPUs, not on {jax.default_backend()}")
    if not simulate and max(args.devices) > jax.device_count():
        counts = [n for n in args.devices if n <= jax.device_count()]
        print(f"only {jax.device_count()} devices: running {counts}", file=sys.stderr)
        args.devices = counts
    results = []
    for count in args.devices:
        results.append(run_count(count, _without_devices(argv), simulate))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    where = "simulated CPU devices sharing the same cores" if simulate else "real devices"
    print(f"{where}; jax {jax.__version__}, {os.cpu_count()} CPU cores\n")
    print(table(results, args))


def _without_devices(argv: list[str]) -> list[str]:
    """``argv`` less ``--devices N ...``, for the child processes."""
    kept, skipping = [], False
    for arg in argv:
        if arg == "--devices":
            skipping = True
            continue
        if skipping and arg.isdigit():
            continue
        skipping = False
        kept.append(arg)
    return kept


if __name__ == "__main__":
    main()
