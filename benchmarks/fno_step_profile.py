"""Where the FNO's forward + backward pass spends its time in XLA, by kind of operation.

The loss gradient of a preset's FNO (``value_and_grad`` of the batch relative L2,
the part of a training step that dominates it) is traced with ``jax.profiler``; the
XLA operations' times are summed by kind: layout copies and transposes, FFTs,
matrix products, and the fusions named by XLA (elementwise work such as the GELU,
``multiply_tanh``). On the CPU the per-operation events need
``XLA_FLAGS=--xla_cpu_enable_xprof_traceme=true``, which this script sets. The ten
largest transposes are listed with the operation that made them.

    python benchmarks/fno_step_profile.py --task darcy --preset quick
    taskset -c 0 python benchmarks/fno_step_profile.py --preset paper   # one core
    python benchmarks/fno_step_profile.py --preset paper --set model.activation=gelu_tanh
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true"
).strip()

import argparse  # noqa: E402
import collections  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from sciml.experiments import build_model, get_experiment  # noqa: E402
from sciml.tasks import ModelSpec, get_task  # noqa: E402
from sciml.train import relative_l2  # noqa: E402

HOST_EVENTS = ("ThunkExecutor", "block_until_ready", "PjitFunction")


def kind_of(name: str) -> str:
    """The kind of an XLA operation from its name, e.g. ``copy_bitcast_fusion.12``."""
    base = re.sub(r"[._]\d+$", "", name)
    if "copy" in base or "transpose" in base:
        return "layout copies / transposes"
    if base.startswith("fft"):
        return "FFTs"
    if "dot" in base or "ynn" in base or "xnn" in base or "onednn" in base:
        return "matrix products"
    return base


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("darcy", "burgers"), default="darcy")
    parser.add_argument("--preset", choices=("paper", "quick"), default="quick")
    parser.add_argument("--calls", type=int, default=3, help="traced calls, averaged")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override the preset, e.g. --set model.activation=gelu_tanh",
    )
    args = parser.parse_args(argv)

    experiment = get_experiment(args.task, "fno", args.preset, args.set)
    options = experiment.model_config
    grid = [experiment.data.resolution] * len(options["modes"])
    batch = experiment.train.batch_size
    spec = ModelSpec(1, 1, tuple(grid), get_task(args.task).periodic)
    model = build_model("fno", spec, options, key=jax.random.key(0))
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.standard_normal((batch, 1, *grid), dtype=np.float32))
    u = jnp.asarray(rng.standard_normal((batch, 1, *grid), dtype=np.float32))
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def loss(params):
        m = eqx.combine(params, static)
        return jnp.mean(jax.vmap(lambda x, y: relative_l2(m(x), y))(a, u))

    gradient = jax.jit(jax.value_and_grad(loss))
    for _ in range(2):
        jax.block_until_ready(gradient(params))
    with tempfile.TemporaryDirectory() as directory:
        with jax.profiler.trace(directory, create_perfetto_trace=True):
            for _ in range(args.calls):
                jax.block_until_ready(gradient(params))
        trace_file = next(Path(directory).rglob("*.trace.json.gz"))
        events = json.load(gzip.open(trace_file))
    events = events["traceEvents"] if isinstance(events, dict) else events

    per_op = collections.Counter()
    for event in events:
        name = event.get("name", "")
        if event.get("ph") == "X" and not name.startswith("$") and not name.startswith(HOST_EVENTS):
            per_op[name] += event.get("dur", 0) / 1e3 / args.calls
    per_kind = collections.Counter()
    for name, ms in per_op.items():
        per_kind[kind_of(name)] += ms
    total = sum(per_kind.values())
    grid_text = " x ".join(str(n) for n in grid)
    print(
        f"{args.task} {args.preset}: batch {batch}, grid {grid_text}, {options}; "
        f"forward + backward {total:.1f} ms of XLA operations on "
        f"{len(os.sched_getaffinity(0))} core(s)"
    )
    print("| kind | ms | share |")
    print("|---|---|---|")
    for kind, ms in per_kind.most_common(10):
        print(f"| {kind} | {ms:.1f} | {100 * ms / total:.0f} % |")

    text = gradient.lower(params).compile().as_text()
    print("\nlargest layout copies (ms, fusion, the operation that made them):")
    copies = [(ms, n) for n, ms in per_op.items() if kind_of(n).startswith("layout")]
    for ms, name in sorted(copies, reverse=True)[:10]:
        line = next((li for li in text.splitlines() if li.strip().startswith(f"%{name} =")), "")
        shape = re.search(r"= (\S+) fusion", line)
        made_by = re.findall(r'op_name="([^"]+)"', _body(text, line))
        print(f"{ms:6.1f}  {name}  {shape.group(1) if shape else ''}  {made_by[:1]}")


def _body(text: str, line: str) -> str:
    """The fused computation that ``line`` calls, or ``''``."""
    called = re.search(r"calls=(%[\w.\-]+)", line)
    if not called:
        return ""
    start = text.find(called.group(1) + " (")
    return text[start : text.find("}\n", start)] if start >= 0 else ""


if __name__ == "__main__":
    main()
