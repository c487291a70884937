"""The FNO's mixed precision and factorised spectral weights against the dense float32
layer: accuracy after a full quick-preset training run, and training-step speed.

Variants (``--variants``): ``dense`` (float32, dense spectral weights), ``bfloat16``
(``model.precision=bfloat16``: bfloat16 activations and pointwise products, float32
FFTs, spectral weights and accumulation), ``tucker`` and ``cp``
(``model.factorization=...`` at ``model.rank``, default 0.1 of the dense spectral
parameter count, as in the TFNO of Kossaifi et al. 2023); ``gelu-exact``
(``model.activation=gelu``, the erf form the reference codes use, against the quick
preset's tanh form: its speed cost).

``--part accuracy`` trains each variant with ``sciml train TASK --model fno --preset
quick`` (the preset's data, epochs and schedule; ``--tasks``) into ``--runs`` and
appends one JSON line per run to ``--log``: test relative L2, parameters, training
time. A run whose folder already holds ``results.json`` is read back, not repeated, so
an interrupted sweep continues where it stopped.

``--part speed`` times the compiled training epoch (``sciml.train.epoch``, the step
``fit`` runs: ``lax.scan`` over minibatches, Adam) of every variant at the preset's
size in one process, the variants alternating round by round; it reports the median
samples/s and the ratio to ``dense``.

    python benchmarks/fno_variants.py --part accuracy --tasks darcy navier-stokes \\
        --runs runs/fno-variants --log benchmarks/results/fno-variants-cpu-2core/accuracy.jsonl
    python benchmarks/fno_variants.py --part speed --tasks darcy --rounds 5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path

from cpuinfo import cpu_model

VARIANTS = {
    "dense": [],
    "bfloat16": ["model.precision=bfloat16"],
    "tucker": ["model.factorization=tucker"],
    "cp": ["model.factorization=cp"],
    "gelu-exact": ["model.activation=gelu"],
}


def overrides(variant: str, rank: float) -> list[str]:
    extra = [f"model.rank={rank}"] if variant in ("tucker", "cp") else []
    return VARIANTS[variant] + extra


def machine() -> dict:
    import jax

    return {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "device": str(jax.devices()[0].device_kind),
    }


def accuracy(args) -> list[dict]:
    from sciml.experiments import get_experiment, train

    rows = []
    for task in args.tasks:
        for variant in args.variants:
            factorised = variant in ("tucker", "cp")
            tag = f"-rank{args.rank:g}" if factorised and args.rank != 0.1 else ""
            out = Path(args.runs) / f"{task}-{variant}{tag}"
            done = out / "results.json"
            if not done.exists():
                if out.exists():  # an interrupted run: continue from its checkpoint
                    resume = (out / "checkpoint").exists()
                else:
                    resume = False
                experiment = get_experiment(task, "fno", "quick", overrides(variant, args.rank))
                load = os.getloadavg()[0]
                train(experiment, out, cache=args.cache, progress=False, resume=resume)
            else:
                load = None
            record = json.loads(done.read_text())
            row = {
                "task": task,
                "variant": variant,
                "overrides": overrides(variant, args.rank),
                "parameters": record["parameters"],
                "test_relative_l2": record["test_relative_l2"],
                "train_seconds": record["train_seconds"],
                "train_samples_per_s": record["train_samples_per_s"],
                "epochs": record["epochs"],
                "load_before": load,
                "machine": machine(),
            }
            rows.append(row)
            if args.log and load is not None:
                with open(args.log, "a") as file:
                    file.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    print("\n| task | variant | parameters | test rel. L2 | vs dense | train s |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        dense = next(
            (r for r in rows if r["task"] == row["task"] and r["variant"] == "dense"), None
        )
        ratio = row["test_relative_l2"] / dense["test_relative_l2"] if dense else float("nan")
        print(
            f"| {row['task']} | {row['variant']} | {row['parameters']:,} | "
            f"{row['test_relative_l2']:.4f} | {ratio:.3f} | {row['train_seconds']:.0f} |"
        )
    return rows


def speed(args) -> list[dict]:
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    from sciml.experiments import build_model, get_experiment
    from sciml.experiments.registry import get_task
    from sciml.models.fno import count_parameters
    from sciml.models.spec import ModelSpec
    from sciml.train.epoch import compiled_epoch
    from sciml.train.trainable import trainable_filter

    device = jax.devices()[0]
    rows = []
    for task in args.tasks:
        epochs = {}
        for variant in args.variants:
            experiment = get_experiment(task, "fno", "quick", overrides(variant, args.rank))
            grid = (int(experiment.data.resolution),) * 2
            channels = experiment.frames or (1, 1)
            spec = ModelSpec(*channels, grid, get_task(task).periodic, experiment.frames)
            model = build_model("fno", spec, experiment.model_config, key=jax.random.key(0))
            batch, steps = experiment.train.batch_size, args.steps
            rng = np.random.default_rng(0)
            in_shape = (steps * batch, channels[0], *grid)
            out_shape = (steps * batch, channels[1], *grid)
            inputs = rng.standard_normal(in_shape).astype(np.float32)
            targets = rng.standard_normal(out_shape).astype(np.float32)
            config = dataclasses.replace(experiment.train, epochs=1, eval_batch_size=None)
            params, rest = eqx.partition(model, trainable_filter(model))
            frozen, static = eqx.partition(rest, eqx.is_array)
            optimizer, train_epoch = compiled_epoch(static, config, steps, 100 * steps)
            opt_state = optimizer.init(params)
            order = jnp.arange(steps * batch)
            # committed, as fit places them: jit would otherwise compile again
            state = jax.device_put([params, opt_state], device)
            data = jax.device_put((frozen, inputs, targets, order), device)
            started = time.perf_counter()
            state[0], state[1], metrics = train_epoch(*state, *data)
            jax.block_until_ready(metrics)
            epochs[variant] = {
                "call": train_epoch,
                "state": state,
                "data": data,
                "compile_s": time.perf_counter() - started,
                "times": [],
                "parameters": count_parameters(model),
                "samples": steps * batch,
            }
        for _ in range(args.rounds):
            for entry in epochs.values():
                started = time.perf_counter()
                state = entry["state"]
                state[0], state[1], metrics = entry["call"](*state, *entry["data"])
                jax.block_until_ready(metrics)
                entry["times"].append(time.perf_counter() - started)
        base = None
        for variant, entry in epochs.items():
            rates = [entry["samples"] / t for t in entry["times"]]
            median = statistics.median(rates)
            base = base or (median if variant == "dense" else None)
            rows.append(
                {
                    "task": task,
                    "variant": variant,
                    "parameters": entry["parameters"],
                    "samples_per_s": rates,
                    "median_samples_per_s": median,
                    "ratio_to_dense": median / base if base else None,
                    "compile_s": entry["compile_s"],
                    "epoch_compilations": entry["call"]._cache_size(),
                    "load": os.getloadavg(),
                    "machine": machine(),
                }
            )
    print("\n| task | variant | parameters | train samples/s (median) | vs dense |")
    print("|---|---|---|---|---|")
    for row in rows:
        ratio = row["ratio_to_dense"]
        print(
            f"| {row['task']} | {row['variant']} | {row['parameters']:,} | "
            f"{row['median_samples_per_s']:.1f} | {ratio:.2f}x |"
            if ratio
            else f"| {row['task']} | {row['variant']} | {row['parameters']:,} | "
            f"{row['median_samples_per_s']:.1f} | |"
        )
    if args.log:
        with open(args.log, "a") as file:
            for row in rows:
                file.write(json.dumps(row) + "\n")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("accuracy", "speed"), default="speed")
    parser.add_argument("--tasks", nargs="+", default=["darcy", "navier-stokes"])
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=tuple(VARIANTS),
        default=["dense", "bfloat16", "tucker", "cp"],
    )
    parser.add_argument("--rank", type=float, default=0.1, help="Tucker / CP rank fraction")
    parser.add_argument("--runs", default="runs/fno-variants", help="run folders (accuracy)")
    parser.add_argument("--cache", default=None, help="data cache (accuracy)")
    parser.add_argument("--steps", type=int, default=5, help="minibatches per timed epoch")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (speed)")
    parser.add_argument("--log", default=None, help="append the JSON records here")
    args = parser.parse_args(argv)
    if args.part == "accuracy":
        accuracy(args)
    else:
        speed(args)


if __name__ == "__main__":
    main()
