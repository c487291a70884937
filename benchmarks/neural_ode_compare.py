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
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from sciml._io import write_atomic, write_json
from sciml.neural_ode_run import MODELS, get_trajectory_preset, run_trajectory

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
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument(
        "--variant",
        nargs="+",
        default=[],
        metavar="MODEL,KEY=INT",
        help="also run MODEL with integer model options changed, e.g. fno-ar,n_layers=1",
    )
    args = parser.parse_args(argv)
    runs = [
        (get_trajectory_preset("burgers-trajectory", name, args.preset), name)
        for name in args.models
    ]
    for variant in args.variant:
        model, *changes = variant.split(",")
        preset = get_trajectory_preset("burgers-trajectory", model, args.preset)
        options = dict(preset.model_options)
        for change in changes:
            key, value = change.split("=")
            if key not in options:
                raise ValueError(f"{model} has no model option {key!r}; it has {sorted(options)}")
            options[key] = int(value)
        runs.append((dataclasses.replace(preset, model_options=options), variant))
    records = []
    for preset, label in runs:
        load_before = os.getloadavg()
        folder = label.replace(",", "-").replace("=", "")
        record = run_trajectory(
            preset, args.out / f"{folder}-{args.preset}", cache=args.cache, progress=False
        )
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
