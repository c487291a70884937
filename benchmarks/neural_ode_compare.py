"""Neural ODEs against the autoregressive FNO on Burgers trajectories, one after another.

Runs the ``burgers-trajectory`` presets of the state-space neural ODE
(``neural-ode``), the latent continuous-depth operator (``neural-ode-latent``) and the
autoregressive FNO (``fno-ar``) on the same cached data, each in this process after the
other (so their wall times compare on one machine), and writes ``comparison.md`` and
``comparison.json`` beside the run folders: relative L2 up to the training horizon
``T``, from ``T`` to ``2 T``, at ``2 T``, and at the half-way times between frames.

    python benchmarks/neural_ode_compare.py --out benchmarks/results/neural-ode-cpu-2core
    python benchmarks/neural_ode_compare.py --models neural-ode fno-ar --preset quick
    python benchmarks/neural_ode_compare.py --models --variant fno-ar,n_layers=1 ...
    python benchmarks/neural_ode_compare.py --out /tmp/ode --set train.epochs=2   # a smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sciml._io import write_atomic, write_json
from sciml.experiments import get_experiment, train
from sciml.experiments.config import replace
from sciml.tasks import get_task

TASK = "burgers-trajectory"

COLUMNS = (
    ("parameters", "parameters", "{:,}"),
    ("relative_l2_frames_to_T", "L2, frames to T", "{:.4f}"),
    ("relative_l2_frames_T_to_2T", "L2, frames T to 2T", "{:.4f}"),
    ("relative_l2_at_end", "L2 at 2T", "{:.4f}"),
    ("relative_l2_halfway_to_T", "L2, half-way to T", "{:.4f}"),
    ("relative_l2_halfway_T_to_2T", "L2, half-way T to 2T", "{:.4f}"),
    ("time_per_epoch_s", "s / epoch", "{:.2f}"),
    ("train_seconds", "training (s)", "{:.0f}"),
    ("wall_seconds", "wall (s)", "{:.0f}"),
)


def table(records: list[dict]) -> str:
    header = "| model | " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    lines = [header, "|" + " --- |" * (len(COLUMNS) + 1)]
    for record in records:
        cells = [fmt.format(record[key]) for key, _, fmt in COLUMNS]
        lines.append(f"| {record['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for runs and tables")
    parser.add_argument("--models", nargs="*", default=list(get_task(TASK).suite))
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument(
        "--variant",
        nargs="+",
        default=[],
        metavar="MODEL,KEY=INT",
        help="also run MODEL with integer model options changed, e.g. fno-ar,n_layers=1",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change every run's experiment, as sciml train --set does (repeatable)",
    )
    args = parser.parse_args(argv)
    runs = [(get_experiment(TASK, name, args.preset, args.overrides), name) for name in args.models]
    for variant in args.variant:
        model, *changes = variant.split(",")
        experiment = get_experiment(TASK, model, args.preset, args.overrides)
        # an unknown key is refused with the model's valid keys
        options = {key: int(value) for key, value in (change.split("=") for change in changes)}
        runs.append((replace(experiment, model_config=options), variant))
    records = []
    for experiment, label in runs:
        load_before = os.getloadavg()
        folder = label.replace(",", "-").replace("=", "")
        out = args.out / f"{folder}-{args.preset}"
        record = train(experiment, out, cache=args.cache, progress=False).record
        record["label"] = label
        record["load_average_before"], record["load_average_after"] = load_before, os.getloadavg()
        records.append(record)
        print(
            f"{label}: frames to T {record['relative_l2_frames_to_T']:.4f}, T to 2T "
            f"{record['relative_l2_frames_T_to_2T']:.4f}, "
            f"at 2T {record['relative_l2_at_end']:.4f}; "
            f"wall {record['wall_seconds']:.0f} s; load {load_before[0]:.1f} -> "
            f"{record['load_average_after'][0]:.1f}",
            flush=True,
        )
    summary = [
        {key: record[key] for key, _, _ in COLUMNS}
        | {
            "model": record["label"],
            "load_average_before": record["load_average_before"],
            "load_average_after": record["load_average_after"],
        }
        for record in records
    ]
    write_json(args.out / "comparison.json", summary)
    write_atomic(args.out / "comparison.md", table(records).encode())
    print(table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
