"""The ``sciml`` command.

``sciml train TASK --model MODEL --preset quick|paper [--out DIR]`` generates the
task's data (or loads it from the cache), trains the model, evaluates it on the
test split, prints a results table and writes ``results.json``, a checkpoint and
a figure into ``DIR``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sciml.presets import MODELS, PRESETS, TASKS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sciml", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="generate data, train a model, evaluate it")
    train.add_argument(
        "task",
        help=f"one of: {', '.join(TASKS)}; allen-cahn, cahn-hilliard (models estable, fno); "
        "burgers-trajectory (models neural-ode, neural-ode-latent, fno-ar)",
    )
    train.add_argument(
        "--model", default="fno", help=f"for the operator tasks one of: {', '.join(MODELS)}"
    )
    train.add_argument("--preset", default="quick", help=f"one of: {', '.join(PRESETS)}")
    train.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: runs/TASK-MODEL-PRESET, numbered if it exists)",
    )
    train.add_argument(
        "--resume", action="store_true", help="continue the run checkpointed in --out"
    )
    train.add_argument("--cache", type=Path, default=None, help="data cache folder")
    train.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-host run (jax.distributed.initialize); or SCIML_DISTRIBUTED=1",
    )
    _add_bench_parser(commands)
    _add_invert_parser(commands)
    return parser


def _add_invert_parser(commands) -> None:
    invert = commands.add_parser(
        "invert",
        help="recover a coefficient or initial condition through a solver or a surrogate",
        description="MAP estimate from noisy synthetic observations; writes results.json, "
        "results.md, fields.png and history.png into OUT (see sciml.inverse.run).",
    )
    invert.add_argument("task", help="one of: darcy, burgers, navier-stokes")
    invert.add_argument("--forward", default="solver", help="one of: solver, surrogate")
    invert.add_argument("--preset", default="quick", help="one of: quick")
    invert.add_argument(
        "--out", type=Path, default=None, help="output folder (default: runs/invert-TASK-...)"
    )
    invert.add_argument(
        "--surrogate",
        type=Path,
        default=None,
        help="a 'sciml train' run folder whose model is the surrogate (default: train one "
        "on first use and cache it)",
    )
    invert.add_argument("--cache", type=Path, default=None, help="data and surrogate cache")
    invert.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_bench_parser(commands) -> None:
    from sciml.bench import SUITE

    bench = commands.add_parser(
        "bench",
        help="the benchmark suite: every task x model, beside the published numbers",
        description="Generate, train and evaluate every task x model of a preset; write one "
        "JSON record per run, OUT/results.md (ours beside the papers) and a figure per task. "
        "Rerunning with the same --out resumes: finished runs are not redone.",
    )
    bench.add_argument("tasks", nargs="*", help=f"some of: {', '.join(SUITE)} (default: all)")
    bench.add_argument("--models", nargs="+", default=None, help="only these models")
    bench.add_argument("--preset", default="quick", help=f"one of: {', '.join(PRESETS)}")
    bench.add_argument(
        "--out", type=Path, default=None, help="suite folder (default: runs/bench-PRESET)"
    )
    bench.add_argument("--cache", type=Path, default=None, help="data cache folder")
    bench.add_argument("--no-progress", action="store_true", help="no progress bars")


def _bench(args) -> int:
    from sciml.bench import load_failures, run_suite, suite_runs

    if args.preset not in PRESETS:
        print(
            f"sciml: error: unknown preset {args.preset!r}; expected one of {', '.join(PRESETS)}",
            file=sys.stderr,
        )
        return 2
    try:
        suite_runs(args.tasks, args.models)
    except ValueError as error:
        print(f"sciml: error: {error}", file=sys.stderr)
        return 2
    out = args.out or Path("runs") / f"bench-{args.preset}"
    try:
        records = run_suite(
            out,
            tasks=args.tasks,
            models=args.models,
            preset=args.preset,
            cache=args.cache,
            progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"sciml: error: {error}", file=sys.stderr)
        return 2
    for record in records:
        print(
            f"{record['task']:>14} {record['model']:>13}  test L2 {record['test_relative_l2']:.4f}"
            f"  ({record['wall_seconds']:.0f} s)"
        )
    print(f"wrote {out}/: results.md, records/, runs/, one figure per task")
    failures = load_failures(out)
    for name, message in failures.items():
        print(f"sciml: run {name} failed: {message} (traceback in {out}/failures/{name}.txt)")
    return 1 if failures else 0


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def _fresh_folder(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3``, ... : the first that does not exist yet."""
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


@dataclasses.dataclass(frozen=True)
class _Runner:
    """How ``sciml train`` runs one family of tasks.

    Attributes:
        get_preset: ``(task, model, preset name) -> preset``; raises ``ValueError``.
        run: ``(preset, out, *, cache, progress[, resume]) -> record``; ``resume`` is
            passed only to resumable families.
        summary_rows: ``record -> [(name, value)]``, printed after the run.
        writes: the files the run leaves in its folder, for the closing line.
        resumable: whether ``--resume`` can continue a run of this family (its ``run``
            takes ``resume=``).
        label: the kind of run, in the error for ``--resume``.
    """

    get_preset: Callable[[str, str, str], Any]
    run: Callable[..., dict]
    summary_rows: Callable[[dict], list[tuple[str, str]]]
    writes: str
    resumable: bool
    label: str


def _runner(task: str) -> _Runner:
    """The runner of ``task``, imported on demand so that ``sciml --help`` stays fast."""
    if task in ("allen-cahn", "cahn-hilliard"):
        # Energy curves and EStableNet.
        from sciml import gradient_flow_run as gf

        return _Runner(
            gf.get_gradient_flow_preset,
            gf.run_gradient_flow,
            gf.summary_rows,
            "results.json, results.md, fields.png, energy.png, checkpoint/",
            False,
            "gradient-flow",
        )
    if task == "burgers-trajectory":
        # Learning dynamics: neural ODEs against an autoregressive FNO, judged past T.
        from sciml import neural_ode_run as node

        return _Runner(
            node.get_trajectory_preset,
            node.run_trajectory,
            node.summary_rows,
            "results.json, results.md, error.png, trajectory.png, checkpoint/",
            False,
            "trajectory",
        )
    from sciml import experiment
    from sciml.presets import get_preset

    return _Runner(
        get_preset,
        experiment.run_preset,
        experiment.summary_rows,
        "results.json, results.md, prediction.png, checkpoint/",
        True,
        "operator",
    )


def _error(message: str) -> int:
    print(f"sciml: error: {message}", file=sys.stderr)
    return 2


def _train(args) -> int:
    """``sciml train``: look up the preset, apply ``--epochs``, run into a fresh folder."""
    runner = _runner(args.task)
    try:
        preset = runner.get_preset(args.task, args.model, args.preset)
    except ValueError as error:
        return _error(str(error))
    if args.epochs is not None:
        if args.epochs < 1:
            return _error(f"--epochs expects a positive integer, got {args.epochs}")
        preset = dataclasses.replace(
            preset, train=dataclasses.replace(preset.train, epochs=args.epochs)
        )
    if args.resume and not runner.resumable:
        return _error(f"--resume is not supported for {runner.label} runs")
    if args.resume and args.out is None:
        return _error("--resume needs --out, the folder of the run to continue")
    out = args.out or _fresh_folder(Path("runs") / f"{args.task}-{args.model}-{args.preset}")
    try:
        options = {"resume": args.resume} if runner.resumable else {}
        record = runner.run(preset, out, cache=args.cache, progress=not args.no_progress, **options)
    except (ValueError, FileNotFoundError) as error:
        return _error(str(error))
    print(_table(runner.summary_rows(record)))
    print(f"wrote {out}/: {runner.writes}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from sciml.distributed import initialize

    if args.command == "bench":
        return _bench(args)
    if args.command == "invert":
        from sciml.inverse import run

        return run.main(
            args.task,
            args.forward,
            args.preset,
            args.out,
            args.surrogate,
            args.cache,
            not args.no_progress,
        )
    try:
        initialize(args.distributed)  # before any computation, as JAX requires
    except ValueError as error:
        return _error(str(error))
    return _train(args)


if __name__ == "__main__":
    raise SystemExit(main())
