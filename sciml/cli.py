"""The ``sciml`` command.

``sciml train TASK --model MODEL --preset quick|paper [--set SECTION.KEY=VALUE ...]``
generates the task's data (or loads it from the cache), trains the model, judges it on
the test split, prints a summary and writes the run folder; ``sciml train --config
FILE.toml`` runs the experiment a file describes (a run folder's ``config.toml``
reproduces that run); ``sciml train --data PATH --model MODEL`` trains on a data file
or folder of The Well, PDEBench or the FNO paper. ``sciml show`` prints an experiment
as TOML, ``sciml bench`` runs the benchmark suite and ``sciml invert`` an inverse
problem. ``--plugin MODULE`` imports a module that registers models or tasks (as do
packages in the ``sciml.plugins`` entry-point group).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def _experiment_arguments(parser: argparse.ArgumentParser, config: bool) -> None:
    parser.add_argument("task", nargs="?" if config else None, help="the task, e.g. darcy")
    parser.add_argument("--model", default="fno", help="a registered model (default: fno)")
    parser.add_argument("--preset", default="quick", help="quick or paper (default: quick)")
    if config:
        parser.add_argument("--config", type=Path, help="an experiment's TOML file")
        parser.add_argument(
            "--data",
            type=Path,
            help="train on a data file or folder (The Well, PDEBench, FNO .mat): the "
            "task 'file' with data.path=DATA",
        )
    _common(parser)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change one field of the experiment, e.g. model.width=64 (repeatable)",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import a module that registers models or tasks (repeatable)",
    )


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache", type=Path, default=None, help="data cache folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sciml", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="generate data, train a model, judge it")
    _experiment_arguments(train, config=True)
    _run_arguments(train)
    train.add_argument("--out", type=Path, help="run folder (default: runs/TASK-MODEL-PRESET)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--epochs", type=int, help="the same as --set train.epochs=N")
    train.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-host run (jax.distributed.initialize); or SCIML_DISTRIBUTED=1",
    )
    show = commands.add_parser("show", help="print an experiment as TOML")
    _experiment_arguments(show, config=True)
    bench = commands.add_parser(
        "bench",
        help="the benchmark suite: every task x model, beside the published numbers",
        description="Generate, train and judge every task x model of a preset; write one "
        "JSON record per run, OUT/results.md (ours beside the papers) and a figure per task. "
        "Rerunning with the same --out resumes: finished runs are not redone.",
    )
    bench.add_argument("tasks", nargs="*", help="the tasks (default: every task's suite)")
    bench.add_argument("--models", nargs="+", default=None, help="only these models")
    bench.add_argument("--preset", default=None, help="quick or paper (default: quick)")
    bench.add_argument(
        "--cells",
        metavar="SET",
        help="run a named set of published cells, each at the paper's setting, instead: "
        "gpu (Darcy FNO at 85/141/211/421, MgNO, Navier-Stokes nu = 1e-3 FNO-2D/3D, "
        "U-Net) or cpu (Burgers FNO at 256/512/1024, the cells of Lu et al.)",
    )
    bench.add_argument(
        "--budget",
        metavar="DURATION",
        help="with --cells: start only runs estimated to finish within it (90m, 3h, "
        "1h30m, seconds), stop a run at its first checkpoint past it",
    )
    bench.add_argument(
        "--out", type=Path, help="suite folder (default: runs/bench-PRESET or runs/bench-SET)"
    )
    _common(bench)
    _run_arguments(bench)
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
    invert.add_argument(
        "--forward", default="solver", help="one of: solver, surrogate, dgno (darcy)"
    )
    invert.add_argument("--preset", default="quick", help="one of: quick")
    invert.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one field of the inverse problem, e.g. noise=0.05 (repeatable)",
    )
    invert.add_argument("--out", type=Path, help="output folder (default: runs/invert-TASK-...)")
    invert.add_argument(
        "--surrogate",
        type=Path,
        default=None,
        help="a 'sciml train' run folder whose model is the surrogate (default: train one "
        "on first use and cache it)",
    )
    _run_arguments(invert)


def fresh_folder(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3``, ... : the first that does not exist yet."""
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _experiment(args):
    """The experiment the arguments name: a TOML file, or a preset, with ``--set``."""
    from sciml.experiments.config import get_experiment, load_experiment

    overrides = list(args.set)
    if getattr(args, "epochs", None) is not None:
        if args.epochs < 1:
            raise ValueError(f"--epochs expects a positive integer, got {args.epochs}")
        overrides.append(f"train.epochs={args.epochs}")
    data = getattr(args, "data", None)
    if data is not None:
        if args.config is not None or args.task not in (None, "file"):
            raise ValueError("--data trains on a file (the task 'file'); give no TASK or --config")
        args.task = "file"
        overrides.insert(0, f"data.path={json.dumps(str(data.absolute()))}")
    if args.config is not None:
        if args.task is not None:
            raise ValueError("give either TASK (with --model, --preset) or --config, not both")
        return load_experiment(args.config, overrides)
    if args.task is None:
        raise ValueError("expected a TASK (e.g. sciml train darcy) or --config FILE.toml")
    return get_experiment(args.task, args.model, args.preset, overrides)


def _train(args) -> int:
    from sciml.distributed import initialize
    from sciml.experiments.record import text_table
    from sciml.experiments.registry import get_task
    from sciml.experiments.run import summary_rows, train

    initialize(args.distributed)  # before any computation, as JAX requires
    experiment = _experiment(args)
    if args.resume and args.out is None:
        raise ValueError("--resume needs --out, the folder of the run to continue")
    name = f"{experiment.task}-{experiment.model}-{experiment.preset}"
    out = args.out or fresh_folder(Path("runs") / name)
    trained = train(
        experiment, out, cache=args.cache, progress=not args.no_progress, resume=args.resume
    )
    print(text_table(summary_rows(trained.record)))
    figures = ", ".join(get_task(experiment.task).figures)
    print(f"wrote {out}/: config.toml, results.json, results.md, {figures}, checkpoint/")
    return 0


def _bench(args) -> int:
    from sciml.experiments.bench import load_failures, run_suite

    if args.cells is not None:
        return _bench_cells(args)
    if args.budget is not None:
        raise ValueError("--budget goes with --cells SET (the cells carry the estimates)")
    preset = args.preset or "quick"
    out = args.out or Path("runs") / f"bench-{preset}"
    records = run_suite(
        out,
        tasks=args.tasks,
        models=args.models,
        preset=preset,
        cache=args.cache,
        progress=not args.no_progress,
        overrides=args.set,
    )
    for record in records:
        print(
            f"{record['task']:>18} {record['model']:>17}  test L2 "
            f"{record['test_relative_l2']:.4f}  ({record['wall_seconds']:.0f} s)"
        )
    print(f"wrote {out}/: results.md, records/, runs/, one figure per task")
    failures = load_failures(out)
    for name, message in failures.items():
        print(f"sciml: run {name} failed: {message} (traceback in {out}/failures/{name}.txt)")
    return 1 if failures else 0


def _bench_cells(args) -> int:
    from sciml.experiments.bench import parse_duration, run_cells
    from sciml.experiments.cells import cell_set

    if args.tasks or args.models or args.preset:
        raise ValueError("--cells names the runs: give no TASK, --models or --preset with it")
    cells = cell_set(args.cells)
    budget = None if args.budget is None else parse_duration(args.budget)
    out = args.out or Path("runs") / f"bench-{args.cells}"
    outcomes = run_cells(
        out,
        cells,
        set_name=args.cells,
        budget_s=budget,
        cache=args.cache,
        progress=not args.no_progress,
        overrides=args.set,
    )
    width = max(len(o.cell.name) for o in outcomes)
    for outcome in outcomes:
        print(f"{outcome.status:>9}  {outcome.cell.name:<{width}}  {outcome.detail}")
    remaining = [o.cell.name for o in outcomes if o.status not in ("ran", "reused")]
    print(f"remaining: {', '.join(remaining)}" if remaining else "every cell of the set is done")
    print(f"wrote {out}/: results.md (the papers' tables: ours / published), cells.json, records/")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _invert(args) -> int:
    from sciml.inverse.run import results_table, run_inversion

    out = args.out or fresh_folder(
        Path("runs") / f"invert-{args.task}-{args.forward}-{args.preset}"
    )
    record = run_inversion(
        args.task,
        args.forward,
        args.preset,
        out,
        surrogate_dir=args.surrogate,
        cache=args.cache,
        progress=not args.no_progress,
        overrides=args.set,
    )
    print(results_table(record), end="")
    print(f"wrote {out}/: results.json, results.md, fields.png, history.png")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; every expected failure is one line ``sciml: error: ...``: exit 2
    for bad input and files that cannot be read or written, 1 for a diverged training."""
    args = _parser().parse_args(argv)
    # orbax logs a failed background write with its whole traceback before the error
    # reaches us; we report it, in one line
    logging.getLogger("absl").setLevel(logging.CRITICAL)
    try:
        if args.command != "invert":
            from sciml.experiments.registry import load_plugins

            load_plugins(args.plugin)
        if args.command == "show":
            print(_experiment(args).to_toml(), end="")
            return 0
        return {"train": _train, "bench": _bench, "invert": _invert}[args.command](args)
    except (ValueError, OSError) as error:  # bad input, and files that cannot be written
        return _failed(error, 2)
    except FloatingPointError as error:  # training diverged (NonFiniteLossError)
        return _failed(error, 1)


def _failed(error: BaseException, status: int) -> int:
    print(f"sciml: error: {_one_line(error)}", file=sys.stderr)
    # a failed checkpoint read or write leaves orbax's background coroutines unawaited;
    # Python would print each at exit, after the one line that says what went wrong
    sys.unraisablehook = lambda unraisable: None
    return status


def _one_line(error: BaseException) -> str:
    """The error's message on one line, with its kind where the message alone is bare."""
    message = " ".join(str(error).split())
    if isinstance(error, OSError) and not isinstance(error, FileNotFoundError):
        return f"{type(error).__name__}: {message}"
    return message


if __name__ == "__main__":
    raise SystemExit(main())
