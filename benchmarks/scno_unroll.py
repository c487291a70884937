"""Self-composing operator: train-and-unroll against training the final depth from
scratch, beside MgNO and FNO, in one process on one machine.

Runs, one after another and sharing one data cache (a run folder that already holds a
record is read, not run again, so an interrupted script resumes):

1. ``scno`` with the preset's train-and-unroll recipe;
2. ``scno`` trained at the depth the first run reached, from scratch, for the same
   epochs (the same recipe with ``start = final``, so the depth sweep is recorded too);
3. the preset's ``mgno`` and ``fno`` runs (parameters and error for comparison).

and prints a markdown table: parameters, epochs, compositions x epochs (the cost of
training in units of one composition over the training set), training time (and the
epochs' own time, without the depth sweep and the final evaluation), test relative L2,
the depth schedule and the test error at every depth of evaluation (1 to twice the depth
trained).

    python benchmarks/scno_unroll.py darcy --out runs/scno-darcy
    python benchmarks/scno_unroll.py navier-stokes --out runs/scno-ns --compare mgno fno3d
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sciml.experiments import get_experiment, train
from sciml.experiments.config import replace


def run(experiment, folder: Path, cache) -> dict:
    if (folder / "results.json").is_file():
        return json.loads((folder / "results.json").read_text())
    resume = (folder / "checkpoint").is_dir()
    return train(experiment, folder, cache=cache, progress=False, resume=resume).record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", default="darcy")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--out", type=Path, required=True, help="run folders")
    parser.add_argument("--cache", type=Path, default=None, help="data cache folder")
    parser.add_argument("--compare", nargs="*", default=["mgno", "fno"])
    parser.add_argument(
        "--no-scratch", action="store_true", help="run train-and-unroll alone (a timing round)"
    )
    args = parser.parse_args(argv)

    unroll = get_experiment(args.task, "scno", args.preset)
    if unroll.recipe != "train-and-unroll":
        raise SystemExit(f"the {args.preset} scno preset of {args.task} does not unroll")
    records = {"scno (train-and-unroll)": run(unroll, args.out / "scno-unroll", args.cache)}
    reached = records["scno (train-and-unroll)"]["depth_reached"]
    if not args.no_scratch:
        scratch = replace(unroll, recipe_config={"start": reached, "final": reached})
        records[f"scno (depth {reached} from scratch)"] = run(
            scratch, args.out / "scno-scratch", args.cache
        )
    for model in args.compare:
        experiment = get_experiment(args.task, model, args.preset)
        records[model] = run(experiment, args.out / model, args.cache)

    print(f"## {args.task}, preset {args.preset}\n")
    print(
        "| run | parameters | epochs | compositions x epochs | training s (epochs alone) "
        "| test relative L2 | depths per epoch |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, record in records.items():
        depths = record.get("depth_per_epoch")
        epochs_alone = sum(record["history"]["epoch_time"])
        print(
            f"| {name} | {record['parameters']:,} | {record['epochs']} "
            f"| {sum(depths) if depths else '-'} "
            f"| {record['train_seconds']:.0f} ({epochs_alone:.0f}) "
            f"| {record['test_relative_l2']:.4f} "
            f"| {' '.join(map(str, depths)) if depths else '-'} |"
        )
    print("\nTest relative L2 against the depth of evaluation:\n")
    sweeps = {name: r["depth_sweep"] for name, r in records.items() if "depth_sweep" in r}
    depths = max((sweep["depth"] for sweep in sweeps.values()), key=len)
    print("| depth | " + " | ".join(sweeps) + " |")
    print("|---|" + "---|" * len(sweeps))
    for index, depth in enumerate(depths):
        cells = [
            f"{sweep['test_relative_l2'][index]:.4f}" if index < len(sweep["depth"]) else ""
            for sweep in sweeps.values()
        ]
        print(f"| {depth} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
