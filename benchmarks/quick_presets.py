"""The quick presets of several models on one task, run one after another in one process.

Each run is ``sciml train TASK --model MODEL --preset quick`` (generate or load the data,
train, evaluate); all share one data cache, so the first run generates the data and the
others read it. Running them in one script on one machine makes their training times
comparable (this machine's speed drifts between runs minutes apart, so a time taken
from another run is not a fair budget); with ``--rounds 2`` every model runs twice, in
the order A B ... A B ..., to show that drift.

    python benchmarks/quick_presets.py darcy --models fno mgno deeponet pod-deeponet unet
    python benchmarks/quick_presets.py burgers --out runs/burgers-quick --rounds 1
    python benchmarks/quick_presets.py allen-cahn --models estable fno --set train.epochs=5
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from sciml.experiments import get_experiment, model_names, task_names, train
from sciml.tasks import format_value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=task_names())
    parser.add_argument("--models", nargs="+", default=["fno", "mgno"], choices=model_names())
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: temporary)")
    parser.add_argument("--cache", type=Path, default=None, help="data cache folder")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change every run's experiment, as sciml train --set does (repeatable)",
    )
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix=f"quick-{args.task}-"))
    rows = []
    print(
        "| model | round | parameters | epochs | training s | samples/s | test relative L2 "
        "| worst sample |"
    )
    print("|" + "---|" * 8, flush=True)
    for round_ in range(1, args.rounds + 1):
        for model in args.models:
            experiment = get_experiment(args.task, model, "quick", args.overrides)
            folder = out / f"{model}-{round_}"
            record = train(experiment, folder, cache=args.cache, progress=False).record
            rows.append(record)
            print(
                f"| {model} | {round_} | {record['parameters']:,} | {record['epochs']} "
                f"| {record['train_seconds']:.1f} | {record['train_samples_per_s']:.1f} "
                f"| {record['test_relative_l2']:.4f} "
                f"| {format_value(record.get('test_relative_l2_worst'))} |",
                flush=True,
            )
    summary = [
        {k: r[k] for k in ("model", "parameters", "epochs", "train_seconds", "test_relative_l2")}
        for r in rows
    ]
    print(json.dumps({"task": args.task, "device": rows[0]["device"], "runs": summary}))
    print(f"run folders: {out}")


if __name__ == "__main__":
    main()
