"""The quick inverse problems, solver and surrogate side by side.

Runs ``sciml invert TASK --forward F --preset quick`` for Darcy (solver, surrogate),
Burgers (solver) and Navier-Stokes (solver, surrogate), one after another, each into
``OUT/TASK-FORWARD`` (a folder that already holds ``results.json`` is read, not rerun),
and writes ``OUT/results.md``: recovery errors, classification accuracy, data misfit,
seconds per forward evaluation and per gradient, time-to-solution and wall time, with
the machine's load average before and after each run (the cores may be shared).

    python benchmarks/inverse_quick.py --out benchmarks/results/inverse-cpu-2core-logs
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from sciml._io import write_atomic, write_json

RUNS = (
    ("darcy", "solver"),
    ("darcy", "surrogate"),
    ("burgers", "solver"),
    ("navier-stokes", "solver"),
    ("navier-stokes", "surrogate"),
)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_all(out: Path, cache: Path | None) -> list[dict]:
    from sciml.inverse.run import run_inversion

    records = []
    for task, forward in RUNS:
        folder = out / f"{task}-{forward}"
        if (folder / "results.json").is_file():
            records.append(json.loads((folder / "results.json").read_text()))
            continue
        before = _load()
        started = time.perf_counter()
        record = run_inversion(task, forward, "quick", folder, cache=cache, progress=False)
        record["command_seconds"] = time.perf_counter() - started
        record["load_before"], record["load_after"] = before, _load()
        write_json(
            folder / "load.json",
            {k: record[k] for k in ("command_seconds", "load_before", "load_after")},
        )
        records.append(record)
    return records


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(records: list[dict]) -> str:
    lines = [
        "| task | forward | rel. L2 | classified | misfit (own) | misfit (solver) | n_obs "
        "| forward (s) | gradient (s) | iterations | time-to-solution (s) | surrogate (s) "
        "| wall (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in records:
        through_solver = r.get("at_estimate_through_solver", r["at_estimate"])
        surrogate = r.get("surrogate") or {}
        lines.append(
            f"| {r['task']} | {r['forward']} | {r['relative_l2']:.4f} "
            f"| {_fmt(r.get('classification_accuracy'), '.4f')} "
            f"| {r['at_estimate']['misfit']:.1f} | {through_solver['misfit']:.1f} "
            f"| {r['data']['n_observations']} | {r['forward_s']:.5f} | {r['gradient_s']:.5f} "
            f"| {r['iterations']} | {r['time_to_solution_s']:.1f} "
            f"| {_fmt(surrogate.get('seconds_to_get'), '.1f')} | {r['wall_seconds']:.1f} |"
        )
    burgers = [r for r in records if r["task"] == "burgers"]
    if burgers:
        sweep = burgers[0]["sweep"]
        noises = sorted({row["noise"] for row in sweep})
        lines += [
            "",
            "Burgers: relative L2 of u0 against viscosity (rows) and noise (columns)",
            "",
            "| nu | " + " | ".join(f"noise {100 * n:g} %" for n in noises) + " |",
            "| --- |" + " --- |" * len(noises),
        ]
        for nu in sorted({row["nu"] for row in sweep}):
            cells = [
                next(row["relative_l2"] for row in sweep if row["nu"] == nu and row["noise"] == n)
                for n in noises
            ]
            lines.append(f"| {nu:g} | " + " | ".join(f"{c:.4f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    records = run_all(args.out, args.cache)
    text = table(records)
    write_atomic(args.out / "results.md", text.encode())
    print(text)


if __name__ == "__main__":
    main()
