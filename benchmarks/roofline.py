"""A roofline of three compiled steps on this machine: FNO and MgNO training, Navier–Stokes ETDRK4.

For each step, XLA's own cost analysis (``jit(...).lower(...).compile().cost_analysis()``:
FLOPs and bytes accessed) is set against this machine's measured peaks, and the
step's measured time against the bound ``max(FLOPs / peak FLOP rate, bytes / peak
bandwidth)``; the achieved fraction is ``bound / measured``. The peaks are measured in
the same run:

- bandwidth: a STREAM triad ``a = b + s c`` on float32 arrays of 64 MiB each (far
  beyond the 32 MiB L3), compiled with ``jax.jit`` writing into a donated ``a``,
  bytes counted as 3 arrays per element (the STREAM convention, no write-allocate;
  the 4-array figure, with the read of ``a`` that a write-allocate cache makes, is
  recorded too), best of repeats. The same triad into a fresh output (XLA allocates
  it each call, so every page is faulted in again) and NumPy's (one thread, two passes)
  are recorded for comparison; a triad on 2 MiB arrays gives the cache-resident rate.
- FLOP rate: a float32 2048 x 2048 matrix product (``2 n^3`` FLOPs) through ``jax.jit``,
  best of repeats; a complex64 FFT rate (``5 N log2 N``) is recorded beside it.

Both use the threads XLA uses by default (all cores of the process).

The steps, each compiled once and timed as the median of repeats after warm-up:

- ``fno``: the training step of the Darcy FNO presets ``quick`` (43 x 43, width 24,
  batch 20) and ``paper`` (85 x 85, width 32, batch 20): the model the runner builds
  (``sciml.experiments.run.build_for``: the network, normalised), its trainable leaves
  (``sciml.train.trainable_filter``), the preset's loss, optimiser and schedule
  (``sciml.train``), and the step of ``sciml.train.epoch``: ``value_and_grad`` of the
  batch loss and the optimiser update, jitted alone (params and state donated). The
  time per step of the trainer's own compiled epoch (``compiled_epoch``, the preset's
  loop) is measured beside it as a check.
- ``mgno``: the same for the Darcy MgNO ``quick`` preset (batch 10, H1 loss).
- ``ns``: one step of the Navier–Stokes ETDRK4 (``make_stepper(scheme="fast")``, the
  FNO forcing) on a batch of vorticity spectra, ``vmap(stepper.step)``, at 64^2 and
  256^2. Costed as one jitted step; timed both as that call and per step of a
  ``lax.scan`` of k steps (how rollouts run it); the latter is the step time.

XLA counts FFT FLOPs with its own formula (checked here on lone FFTs); the FLOPs of
the roofline replace it by the usual estimate, ``2.5 N log2 N`` per real transform of
N points and ``5 N log2 N`` per complex one. For every step (``--breakdown always``,
the default; ``slow``: only those more than 2x from their bound) the per-operation
profile (``jax.profiler``; the CPU's per-operation events need
``XLA_FLAGS=--xla_cpu_enable_xprof_traceme=true``, which this script sets) splits its
time by kind (FFTs, matrix products, convolutions, layout copies, elementwise), with
the FLOPs and bytes of each kind from the compiled HLO's shapes and the share run on
XLA's intra-op pool threads; the matrix products and FFTs are timed alone at the
step's shapes (and the largest after one elementwise product), and the page faults of
one step are counted. The reasons are printed with the table and kept in the record.

``--variant-env KEY=VALUE`` times the same steps again in a child process with that
environment variable set, such as ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (which
glibc reads only at start); a second child with a variable nothing reads is the
control for the drift between processes.

The machine is shared: before each measurement the CPU time other processes used
over one second is sampled (``/proc/stat`` less this process), and the measurement
waits while it exceeds ``--max-other-load`` cores; it is recorded with the load average.

    python benchmarks/roofline.py --out roofline.json
    python benchmarks/roofline.py --steps fno --fno-presets quick
    python benchmarks/roofline.py --steps ns --ns-sizes 128:8
    python benchmarks/roofline.py --variant-env ROOFLINE_CONTROL=1 \
        --variant-env GLIBC_TUNABLES=glibc.malloc.hugetlb=1 --out roofline.json
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true"
).strip()

import argparse  # noqa: E402
import collections  # noqa: E402
import dataclasses  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from cpuinfo import cpu_model  # noqa: E402

SCHEMA = "sciml.roofline/1"
MiB = 2**20

# ---------------------------------------------------------------------------
# The machine and its load.


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                wanted = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "hypervisor")
                return [f for f in flags if f in wanted]
    except OSError:
        pass
    return []


def cache_sizes() -> dict[str, str]:
    sizes = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            sizes[f"L{level}"] = size
    return sizes


def memory_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return 1024 * int(line.split()[1])
    except OSError:
        pass
    return None


def machine() -> dict:
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "cores_of_process": len(os.sched_getaffinity(0)),
        "caches_per_core_or_shared": cache_sizes(),
        "memory_bytes": memory_total(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": getattr(jax.lib, "__version__", None) or _version("jaxlib"),
        "numpy": np.__version__,
        "devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "transparent_hugepages": _read("/sys/kernel/mm/transparent_hugepage/enabled"),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
    }


def source_state() -> dict:
    """The commit measured, and the files under ``sciml/`` changed from it, if any."""
    import subprocess

    root = Path(__file__).resolve().parent.parent

    def git(*args):
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
            return done.stdout.strip() if done.returncode == 0 else None
        except OSError:
            return None

    changed = git("status", "--porcelain", "--", "sciml")
    return {
        "commit": git("rev-parse", "HEAD"),
        "sciml_changed_files": [line[3:] for line in changed.splitlines()] if changed else [],
    }


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        import importlib.metadata

        return importlib.metadata.version(package)
    except Exception:
        return None


def _cpu_ticks() -> tuple[int, int]:
    """(busy, steal) jiffies of all CPUs, from the first line of /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


def _own_ticks() -> int:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, all threads


def load_sample(seconds: float = 1.0) -> dict:
    """The load average and, over ``seconds`` (this process idle), the cores busy with
    other processes and the hypervisor's steal."""
    ticks = os.sysconf("SC_CLK_TCK")
    busy0, steal0 = _cpu_ticks()
    own0 = _own_ticks()
    start = time.perf_counter()
    time.sleep(seconds)
    elapsed = time.perf_counter() - start
    busy1, steal1 = _cpu_ticks()
    own1 = _own_ticks()
    others = max(0.0, (busy1 - busy0 - (own1 - own0)) / ticks / elapsed)
    load = [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    return {
        "loadavg": load,
        "other_busy_cores": round(others, 2),
        "steal_cores": round((steal1 - steal0) / ticks / elapsed, 2),
    }


class Quiet:
    """Waits, before a measurement, while other processes keep more than ``max_other``
    cores busy (at most ``tries`` waits of ``wait_s``); returns the last sample."""

    def __init__(self, max_other: float, tries: int, wait_s: float):
        self.max_other, self.tries, self.wait_s = max_other, tries, wait_s

    def __call__(self, label: str) -> dict:
        sample = load_sample()
        waits = 0
        while sample["other_busy_cores"] > self.max_other and waits < self.tries:
            print(
                f"  [{label}: other processes busy {sample['other_busy_cores']} cores, "
                f"load {sample['loadavg'][0]}; waiting {self.wait_s:.0f} s]",
                file=sys.stderr,
            )
            time.sleep(self.wait_s)
            waits += 1
            sample = load_sample()
        sample["waits"] = waits
        sample["quiet"] = sample["other_busy_cores"] <= self.max_other
        return sample


# ---------------------------------------------------------------------------
# Timing and XLA's cost analysis.


def time_calls(call, repeats: int, warmup: int = 1, per_repeat: int = 1) -> list[float]:
    """Seconds per call of ``call()`` (blocked on), ``repeats`` times after ``warmup``;
    with ``per_repeat > 1`` each repeat dispatches that many calls and blocks on the
    last (the dispatch of one overlapping the run of the previous)."""
    for _ in range(warmup):
        jax.block_until_ready(call())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(per_repeat):
            out = call()
        jax.block_until_ready(out)
        times.append((time.perf_counter() - start) / per_repeat)
    return times


def cost_of(compiled) -> dict:
    """FLOPs, bytes accessed and transcendentals of a compiled computation: a dict in
    recent jax, a list of one dict per computation in older versions (summed)."""
    analysis = compiled.cost_analysis()
    if analysis is None:
        analysis = {}
    if isinstance(analysis, dict):
        analysis = [analysis]
    total = collections.Counter()
    for part in analysis:
        for key in ("flops", "bytes accessed", "transcendentals"):
            total[key] += float(part.get(key, 0.0) or 0.0)
    return {
        "flops": total["flops"],
        "bytes": total["bytes accessed"],
        "transcendentals": total["transcendentals"],
    }


def memory_of(compiled) -> dict:
    try:
        stats = compiled.memory_analysis()
    except Exception:
        return {}
    if stats is None:
        return {}
    return {
        name: int(getattr(stats, f"{name}_size_in_bytes", 0) or 0)
        for name in ("argument", "output", "alias", "temp")
    }


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


# ---------------------------------------------------------------------------
# The peaks.


def triad_bandwidth(mib: int, repeats: int) -> dict:
    """The STREAM triad ``a = b + s c`` on float32 arrays of ``mib`` MiB, GB/s."""
    n = mib * MiB // 4
    b = jnp.full((n,), 1.0, jnp.float32)
    c = jnp.full((n,), 2.0, jnp.float32)
    a = jnp.zeros((n,), jnp.float32)
    scalar = jnp.float32(3.0)
    # keep_unused: ``a`` is not read, but donated its buffer holds the result
    in_place = jax.jit(lambda a, b, c, s: b + s * c, donate_argnums=0, keep_unused=True)
    fresh = jax.jit(lambda b, c, s: b + s * c)
    state = {"a": in_place(a, b, c, scalar)}

    def donated():
        state["a"] = in_place(state["a"], b, c, scalar)
        return state["a"]

    three = 3 * n * 4
    t_in_place = time_calls(donated, repeats, warmup=2)
    faults0 = minor_faults()
    t_fresh = time_calls(lambda: fresh(b, c, scalar), repeats, warmup=2)
    fresh_faults = (minor_faults() - faults0) / (repeats + 2)
    result = {
        "array_mib": mib,
        "arrays": 3,
        "bytes_counted": three,
        "counting": "3 arrays x size (STREAM: read b, read c, write a; no write-allocate)",
        "jax_in_place_gbps": three / min(t_in_place) / 1e9,
        "jax_in_place_gbps_median": three / statistics.median(t_in_place) / 1e9,
        "jax_in_place_gbps_4_arrays": 4 * n * 4 / min(t_in_place) / 1e9,
        "jax_fresh_output_gbps": three / min(t_fresh) / 1e9,
        "jax_fresh_output_minor_faults_per_call": fresh_faults,
        "jax_fresh_output_extra_s": min(t_fresh) - min(t_in_place),
    }
    # what a page fault costs: the fresh triad's extra time over its faults (None where
    # the allocator kept the output's pages, below glibc's largest mmap threshold)
    result["page_fault_us_per_4k_page"] = (
        max(0.0, 1e6 * result["jax_fresh_output_extra_s"] / fresh_faults)
        if fresh_faults > 1000
        else None
    )
    if n * 4 >= 16 * MiB:  # NumPy, one thread: two passes, a = s c then a += b
        bn = np.full(n, 1.0, np.float32)
        cn = np.full(n, 2.0, np.float32)
        an = np.zeros(n, np.float32)

        def numpy_triad():
            np.multiply(cn, np.float32(3.0), out=an)
            np.add(an, bn, out=an)

        t_numpy = time_calls(numpy_triad, repeats, warmup=1)
        result["numpy_two_pass_gbps_3_arrays"] = three / min(t_numpy) / 1e9
        result["numpy_two_pass_gbps_moved"] = 5 * n * 4 / min(t_numpy) / 1e9
        result["numpy_note"] = (
            "one thread; two passes (a = s c; a += b) move 5 arrays, counted 3 "
            "(STREAM) and 5 (moved)"
        )
    return result


def gemm_rate(n: int, repeats: int) -> dict:
    """GFLOP/s of a float32 ``n x n`` matrix product, ``2 n^3`` FLOPs."""
    key1, key2 = jax.random.split(jax.random.key(1))
    x = jax.random.normal(key1, (n, n), jnp.float32)
    y = jax.random.normal(key2, (n, n), jnp.float32)
    product = jax.jit(jnp.matmul)
    times = time_calls(lambda: product(x, y), repeats, warmup=2)
    flops = 2.0 * n**3
    return {
        "n": n,
        "flops": flops,
        "gflops": flops / min(times) / 1e9,
        "gflops_median": flops / statistics.median(times) / 1e9,
        "xla_flops": cost_of(product.lower(x, y).compile())["flops"],
    }


def fft_rate(batch: int, n: int, repeats: int) -> dict:
    """GFLOP/s of a complex64 ``n x n`` 2-D FFT of a batch, ``5 N log2 N`` per transform."""
    key1, key2 = jax.random.split(jax.random.key(2))
    x = jax.lax.complex(
        jax.random.normal(key1, (batch, n, n)), jax.random.normal(key2, (batch, n, n))
    )
    transform = jax.jit(jnp.fft.fft2)
    times = time_calls(lambda: transform(x), repeats, warmup=2)
    flops = batch * 5.0 * n * n * math.log2(n * n)
    return {
        "shape": [batch, n, n],
        "flops_estimate": flops,
        "gflops": flops / min(times) / 1e9,
        "xla_flops": cost_of(transform.lower(x).compile())["flops"],
    }


# ---------------------------------------------------------------------------
# FFT FLOPs: XLA's count and the usual estimate.


def fft_estimate(fft_type: str, in_shape: tuple, out_shape: tuple, lengths: tuple) -> float:
    """``5 N log2 N`` per complex transform of ``N`` points, ``2.5 N log2 N`` per real one."""
    points = math.prod(lengths)
    real_side = in_shape if fft_type == "RFFT" else out_shape
    elements = math.prod(real_side if fft_type in ("RFFT", "IRFFT") else in_shape)
    transforms = elements / points
    per = (2.5 if fft_type in ("RFFT", "IRFFT") else 5.0) * points * math.log2(points)
    return transforms * per


_FFT_TYPES = {
    "FFT": jax.lax.FftType.FFT,
    "IFFT": jax.lax.FftType.IFFT,
    "RFFT": jax.lax.FftType.RFFT,
    "IRFFT": jax.lax.FftType.IRFFT,
}


@dataclasses.dataclass
class LoneOp:
    """One operation compiled alone: XLA's FLOPs and its time."""

    xla_flops: float
    seconds: float


_lone_cache: dict = {}


def lone_fft(fft_type: str, in_shape: tuple, in_dtype: str, lengths: tuple, repeats=5) -> LoneOp:
    key = ("fft", fft_type, in_shape, in_dtype, lengths)
    if key not in _lone_cache:
        dtype = {"f32": jnp.float32, "c64": jnp.complex64, "f64": jnp.float64}[in_dtype]
        x = jnp.ones(in_shape, dtype)
        op = jax.jit(lambda x: jax.lax.fft(x, _FFT_TYPES[fft_type], lengths))
        compiled = op.lower(x).compile()
        times = time_calls(lambda: compiled(x), repeats, warmup=1, per_repeat=5)
        _lone_cache[key] = LoneOp(cost_of(compiled)["flops"], min(times))
    return _lone_cache[key]


def lone_dot(lhs: tuple, rhs: tuple, dims, dtype: str, repeats=5) -> LoneOp:
    key = ("dot", lhs, rhs, dims, dtype)
    if key not in _lone_cache:
        jdtype = {"f32": jnp.float32, "c64": jnp.complex64, "bf16": jnp.bfloat16}[dtype]
        x, y = jnp.ones(lhs, jdtype), jnp.ones(rhs, jdtype)
        op = jax.jit(lambda x, y: jax.lax.dot_general(x, y, dims))
        compiled = op.lower(x, y).compile()
        times = time_calls(lambda: compiled(x, y), repeats, warmup=1, per_repeat=5)
        _lone_cache[key] = LoneOp(cost_of(compiled)["flops"], min(times))
    return _lone_cache[key]


def fft_after_product(fft_type: str, in_shape: tuple, in_dtype: str, lengths: tuple, repeats=5):
    """Milliseconds of ``x * c`` alone and of ``fft(x * c)`` (one fusion, then the FFT),
    and the page faults per call of the latter."""
    dtype = {"f32": jnp.float32, "c64": jnp.complex64}[in_dtype]
    x = jnp.ones(in_shape, dtype)
    c = jnp.full(in_shape[-1:], 2.0, dtype)
    product = jax.jit(lambda x, c: x * c).lower(x, c).compile()
    chained = jax.jit(lambda x, c: jax.lax.fft(x * c, _FFT_TYPES[fft_type], lengths))
    chained = chained.lower(x, c).compile()
    t_product = time_calls(lambda: product(x, c), repeats, warmup=1, per_repeat=5)
    t_chained, faults = _timed_with_faults(lambda: chained(x, c), repeats)
    return 1e3 * min(t_product), 1e3 * min(t_chained), faults


def _timed_with_faults(call, repeats: int) -> tuple[list[float], float]:
    """Seconds per call (5 calls a repeat) and the page faults per call."""
    jax.block_until_ready(call())
    faults0 = minor_faults()
    times = time_calls(call, repeats, warmup=0, per_repeat=5)
    return times, (minor_faults() - faults0) / (5 * repeats)


def dot_after_product(lhs: tuple, rhs: tuple, dims, dtype: str, repeats=5):
    """Milliseconds and page faults per call of a matrix product alone and of
    ``dot(x * c, y)`` (an elementwise product, then the matrix product)."""
    jdtype = {"f32": jnp.float32, "c64": jnp.complex64, "bf16": jnp.bfloat16}[dtype]
    x, y = jnp.ones(lhs, jdtype), jnp.ones(rhs, jdtype)
    c = jnp.full(lhs[-1:], 2.0, jdtype)
    alone = jax.jit(lambda x, y: jax.lax.dot_general(x, y, dims)).lower(x, y).compile()
    chained = jax.jit(lambda x, y, c: jax.lax.dot_general(x * c, y, dims))
    chained = chained.lower(x, y, c).compile()
    t_alone, faults_alone = _timed_with_faults(lambda: alone(x, y), repeats)
    t_chained, faults_chained = _timed_with_faults(lambda: chained(x, y, c), repeats)
    return {
        "alone_ms": 1e3 * min(t_alone),
        "alone_faults_per_call": faults_alone,
        "after_product_ms": 1e3 * min(t_chained),
        "after_product_faults_per_call": faults_chained,
    }


def check_fft_counting() -> dict:
    """What XLA's cost analysis reports for lone real 2-D and 1-D FFTs, against the
    usual estimate."""
    rows = []
    for fft_type, shape, lengths in (
        ("RFFT", (16, 64, 64), (64, 64)),
        ("RFFT", (16, 256, 256), (256, 256)),
        ("RFFT", (480, 48, 48), (48,)),
        ("FFT", (480, 12, 48), (48,)),
    ):
        dtype = "f32" if fft_type == "RFFT" else "c64"
        lone = lone_fft(fft_type, shape, dtype, lengths)
        out = list(shape)
        if fft_type == "RFFT":
            out[-1] = shape[-1] // 2 + 1
        estimate = fft_estimate(fft_type, shape, tuple(out), lengths)
        rows.append(
            {
                "type": fft_type,
                "input_shape": list(shape),
                "fft_length": list(lengths),
                "xla_flops": lone.xla_flops,
                "estimate_flops": estimate,
                "xla_over_estimate": lone.xla_flops / estimate,
                "gflops_estimate_rate": estimate / lone.seconds / 1e9,
            }
        )
    return {
        "counted": all(r["xla_flops"] > 0 for r in rows),
        "rows": rows,
        "note": (
            "XLA's cost analysis counts FFTs: 8 x (the product over the transformed axes "
            "of floor(log2 n)) x the elements of the input, whatever the transform; above "
            "the usual 2.5 N log2 N (real) or 5 N log2 N (complex), by more the more axes "
            "are transformed; the roofline FLOPs replace it by the estimate"
        ),
    }


# ---------------------------------------------------------------------------
# The compiled HLO: every top-level operation's kind, FLOPs (from shapes) and bytes.

_DTYPE_BYTES = {
    "pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2,
    "s32": 4, "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16,
}  # fmt: skip
_ARRAY = re.compile(r"\b([a-z]+\d*)\[([\d,]*)\]")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%([\w.\-]+)\s*=\s*(.+?)\s+([\w\-]+)\((.*)$")
_FREE = {"parameter", "constant", "bitcast", "get-tuple-element", "tuple", "after-all"}


def _arrays(shape_text: str) -> list[tuple[str, tuple[int, ...]]]:
    return [
        (dtype, tuple(int(d) for d in dims.split(",") if d))
        for dtype, dims in _ARRAY.findall(shape_text)
        if dtype in _DTYPE_BYTES
    ]


def _bytes(shape_text: str) -> int:
    return sum(_DTYPE_BYTES[d] * math.prod(s) for d, s in _arrays(shape_text))


@dataclasses.dataclass
class Instruction:
    name: str
    shape: str
    opcode: str
    operands: list[str]
    attributes: str


def parse_hlo(text: str) -> tuple[list[Instruction], dict[str, list[Instruction]]]:
    """The entry computation's instructions and every computation's, by name."""
    computations: dict[str, list[Instruction]] = {}
    entry: list[Instruction] = []
    current: list[Instruction] | None = None
    for line in text.splitlines():
        header = re.match(r"^(ENTRY\s+)?%([\w.\-]+)\s*\(.*\)\s*->.*\{\s*$", line)
        if header:
            current = []
            computations[header.group(2)] = current
            if header.group(1):
                entry = current
            continue
        if line.startswith("}"):
            current = None
            continue
        if current is None:
            continue
        match = _INSTRUCTION.match(line)
        if not match:
            continue
        name, shape, opcode, rest = match.groups()
        depth, end = 1, len(rest)
        for index, char in enumerate(rest):
            depth += char == "("
            depth -= char == ")"
            if depth == 0:
                end = index
                break
        operands = re.findall(r"%([\w.\-]+)", rest[:end])
        current.append(Instruction(name, shape, opcode, operands, rest[end + 1 :]))
    return entry, computations


def _dims(attributes: str, name: str) -> tuple[int, ...]:
    match = re.search(name + r"=\{([\d,]*)\}", attributes)
    return tuple(int(d) for d in match.group(1).split(",") if d) if match else ()


def _dot_flops(instruction: Instruction, shapes: dict[str, str]) -> tuple[float, dict] | None:
    out = _arrays(instruction.shape)
    lhs = _arrays(shapes.get(instruction.operands[0], ""))
    rhs = _arrays(shapes.get(instruction.operands[1], "")) if len(instruction.operands) > 1 else []
    if not out or not lhs or not rhs:
        return None
    contracting = _dims(instruction.attributes, "lhs_contracting_dims")
    k = math.prod(lhs[0][1][d] for d in contracting)
    factor = 8.0 if out[0][0].startswith("c") else 2.0
    dims = (
        (contracting, _dims(instruction.attributes, "rhs_contracting_dims")),
        (
            _dims(instruction.attributes, "lhs_batch_dims"),
            _dims(instruction.attributes, "rhs_batch_dims"),
        ),
    )
    info = {"lhs": lhs[0][1], "rhs": rhs[0][1], "out": out[0][1], "dims": dims, "dtype": lhs[0][0]}
    return factor * math.prod(out[0][1]) * k, info


def _conv_flops(instruction: Instruction, shapes: dict[str, str]) -> float:
    out = _arrays(instruction.shape)
    if len(instruction.operands) < 2:
        return 0.0
    kernel = _arrays(shapes.get(instruction.operands[1], ""))
    labels = re.search(r"dim_labels=\w+_(\w+)->", instruction.attributes)
    if not out or not kernel or not labels:
        return 0.0
    kernel_labels, kernel_shape = labels.group(1), kernel[0][1]
    per_output = kernel_shape[kernel_labels.index("i")] * math.prod(
        size for label, size in zip(kernel_labels, kernel_shape) if label.isdigit()
    )
    # a dilated input (a transposed convolution) puts zeros under all but 1 / prod of
    # the taps; padding is counted in full
    dilation = re.search(r"lhs_dilate=([\dx]+)", instruction.attributes)
    if dilation:
        per_output /= math.prod(int(d) for d in dilation.group(1).split("x"))
    return 2.0 * math.prod(out[0][1]) * per_output


KINDS = (
    "FFTs",
    "matrix products",
    "convolutions",
    "layout copies / transposes",
    "reductions",
    "elementwise",
    "other",
)


@dataclasses.dataclass
class Op:
    name: str
    kind: str
    bytes: int
    flops: float = 0.0  # the usual estimate for FFTs; from shapes for products
    xla_fft_flops: float = 0.0
    fft: tuple | None = None  # (type, in shape, in dtype, lengths)
    dots: list = dataclasses.field(default_factory=list)


def classify(text: str) -> dict[str, Op]:
    """Every top-level operation of the entry computation with its kind, bytes (its
    operands and result, from the shapes) and FLOPs (FFTs, products, convolutions)."""
    entry, computations = parse_hlo(text)
    shapes = {i.name: i.shape for body in computations.values() for i in body}
    ops = {}
    for instruction in entry:
        if instruction.opcode in _FREE:
            continue
        operand_bytes = sum(_bytes(shapes.get(o, "")) for o in instruction.operands)
        moved = _bytes(instruction.shape) + operand_bytes
        op = Op(instruction.name, "other", moved)
        called = re.search(r"calls=%([\w.\-]+)", instruction.attributes)
        body = computations.get(called.group(1), []) if called else [instruction]
        opcodes = {i.opcode for i in body}
        if instruction.opcode == "fft":
            operand = _arrays(shapes.get(instruction.operands[0], ""))
            fft_type = re.search(r"fft_type=(\w+)", instruction.attributes).group(1)
            lengths = _dims(instruction.attributes, "fft_length")
            out = _arrays(instruction.shape)[0][1]
            op.kind = "FFTs"
            op.fft = (fft_type, operand[0][1], operand[0][0], lengths)
            op.flops = fft_estimate(fft_type, operand[0][1], out, lengths)
        elif "dot" in opcodes:
            op.kind = "matrix products"
            for inner in body:
                if inner.opcode == "dot":
                    found = _dot_flops(inner, shapes)
                    if found:
                        op.flops += found[0]
                        op.dots.append(found[1])
        elif "convolution" in opcodes:
            op.kind = "convolutions"
            op.flops = sum(_conv_flops(i, shapes) for i in body if i.opcode == "convolution")
        elif instruction.opcode in ("copy", "transpose") or re.search(
            "copy|transpose", instruction.name
        ):
            op.kind = "layout copies / transposes"
        elif "reduce" in opcodes or "reduce-window" in opcodes:
            op.kind = "reductions"
        elif instruction.opcode == "fusion" or opcodes & {
            "add", "multiply", "subtract", "divide", "select", "exponential", "tanh",
        }:  # fmt: skip
            op.kind = "elementwise"
        ops[instruction.name] = op
    return ops


# ---------------------------------------------------------------------------
# The per-operation profile.

_NOT_OPS = ("$", "end: ", "ThreadpoolListener", "ThunkExecutor", "PjitFunction")


def profile_ops(call, calls: int) -> tuple[dict[str, float], float, dict[str, float]]:
    """Seconds per call of each XLA operation (by HLO name), the wall time per call of
    the traced calls, and of each operation's seconds those on XLA's intra-op pool
    threads (rather than the thread that runs the executable)."""
    jax.block_until_ready(call())
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        with jax.profiler.trace(directory):
            for _ in range(calls):
                jax.block_until_ready(call())
            wall = (time.perf_counter() - start) / calls
        trace = next(Path(directory).rglob("*.trace.json.gz"))
        events = json.load(gzip.open(trace))
    events = events["traceEvents"] if isinstance(events, dict) else events
    threads = {
        event.get("tid"): event.get("args", {}).get("name", "")
        for event in events
        if event.get("ph") == "M" and event.get("name") == "thread_name"
    }
    per_op, on_pool = collections.Counter(), collections.Counter()
    for event in events:
        name = event.get("name", "")
        if event.get("ph") == "X" and not name.startswith(_NOT_OPS):
            seconds = event.get("dur", 0) / 1e6 / calls
            per_op[name] += seconds
            if "Eigen" in threads.get(event.get("tid"), ""):
                on_pool[name] += seconds
    return dict(per_op), wall, dict(on_pool)


def breakdown(compiled, call, calls: int, fault_cost_us: float) -> dict:
    """The step's time by kind of operation, with the FLOPs and bytes of each kind; the
    FFTs and largest matrix products timed alone at the step's shapes; page faults."""
    ops = classify(compiled.as_text())
    per_op, traced_wall, on_pool = profile_ops(call, calls)
    kinds = {k: {"ms": 0.0, "pool_ms": 0.0, "flops": 0.0, "bytes": 0, "ops": 0} for k in KINDS}
    for name, op in ops.items():
        entry = kinds[op.kind]
        entry["ms"] += 1e3 * per_op.get(name, 0.0)
        entry["pool_ms"] += 1e3 * on_pool.get(name, 0.0)
        entry["flops"] += op.flops
        entry["bytes"] += op.bytes
        entry["ops"] += 1
    unmatched = sum(s for n, s in per_op.items() if n not in ops)
    op_total = sum(k["ms"] for k in kinds.values())
    for entry in kinds.values():
        entry["share"] = entry["ms"] / op_total if op_total else 0.0
        seconds = entry["ms"] / 1e3
        entry["gflops"] = entry["flops"] / seconds / 1e9 if seconds and entry["flops"] else None
        entry["gbps"] = entry["bytes"] / seconds / 1e9 if seconds else None

    # the FFTs alone at the step's shapes: XLA's count and the time
    fft_rows = collections.OrderedDict()
    xla_fft = 0.0
    for name, op in ops.items():
        if op.fft is None:
            continue
        fft_type, shape, dtype, lengths = op.fft
        lone = lone_fft(fft_type, shape, dtype, lengths)
        xla_fft += lone.xla_flops
        key = (fft_type, shape, lengths)
        row = fft_rows.setdefault(
            key,
            {
                "type": fft_type,
                "input_shape": list(shape),
                "fft_length": list(lengths),
                "count": 0,
                "estimate_flops_each": op.flops,
                "xla_flops_each": lone.xla_flops,
                "lone_ms": 1e3 * lone.seconds,
                "in_step_ms_total": 0.0,
            },
        )
        row["count"] += 1
        row["in_step_ms_total"] += 1e3 * per_op.get(name, 0.0)
    if fft_rows:  # the FFT taking the most time, after an elementwise product, alone
        row = max(fft_rows.values(), key=lambda r: r["in_step_ms_total"])
        fft_type, shape, lengths = row["type"], tuple(row["input_shape"]), tuple(row["fft_length"])
        dtype = "f32" if fft_type == "RFFT" else "c64"
        product_ms, chained_ms, faults = fft_after_product(fft_type, shape, dtype, lengths)
        row["after_product_ms"] = chained_ms
        row["after_product_faults_per_call"] = faults
        row["product_alone_ms"] = product_ms
    for row in fft_rows.values():
        row["lone_gflops"] = row["estimate_flops_each"] / row["lone_ms"] * 1e3 / 1e9
        in_step = row["in_step_ms_total"] / row["count"]
        row["in_step_gflops"] = (
            row["estimate_flops_each"] / in_step * 1e3 / 1e9 if in_step else None
        )

    # the matrix products, each shape timed alone (the most time-taking first)
    dot_rows = collections.OrderedDict()
    dot_ops = sorted(
        (op for op in ops.values() if op.dots), key=lambda op: -per_op.get(op.name, 0.0)
    )
    for op in dot_ops:
        info = op.dots[0]
        key = (info["lhs"], info["rhs"], info["dims"])
        if key not in dot_rows and len(dot_rows) >= 12:
            continue
        if key not in dot_rows:
            flops = _dot_flops_from(info)
            lone = lone_dot(info["lhs"], info["rhs"], info["dims"], info["dtype"])
            dot_rows[key] = {
                "lhs": list(info["lhs"]),
                "rhs": list(info["rhs"]),
                "out": list(info["out"]),
                "contracting": [list(d) for d in info["dims"][0]],
                "count": 0,
                "flops_each": flops,
                "lone_ms": 1e3 * lone.seconds,
                "lone_gflops": flops / lone.seconds / 1e9,
                "in_step_ms_total": 0.0,
                "in_step_flops_total": 0.0,
            }
        row = dot_rows[key]
        row["count"] += 1
        row["in_step_ms_total"] += 1e3 * per_op.get(op.name, 0.0)
        row["in_step_flops_total"] += op.flops
    for row in dot_rows.values():
        t = row["in_step_ms_total"] / 1e3
        row["in_step_gflops"] = row["in_step_flops_total"] / t / 1e9 if t else None
    if dot_rows:  # the product taking the most time, after an elementwise product, alone
        key, row = max(dot_rows.items(), key=lambda kv: kv[1]["in_step_ms_total"])
        dtype = next(op.dots[0]["dtype"] for op in dot_ops if op.dots)
        row["chained"] = dot_after_product(key[0], key[1], key[2], dtype)

    faults0 = minor_faults()
    jax.block_until_ready(call())
    faults = minor_faults() - faults0
    return {
        "traced_wall_ms": 1e3 * traced_wall,
        "op_ms_total": op_total,
        "bytes_from_shapes_total": sum(k["bytes"] for k in kinds.values()),
        "unmatched_event_ms": 1e3 * unmatched,
        "by_kind": {k: v for k, v in kinds.items() if v["ops"]},
        "xla_fft_flops": xla_fft,
        "ffts": list(fft_rows.values()),
        "ffts_lone_ms_total": sum(r["lone_ms"] * r["count"] for r in fft_rows.values()),
        "ffts_in_step_ms_total": sum(r["in_step_ms_total"] for r in fft_rows.values()),
        "products": list(dot_rows.values()),
        "products_lone_ms_total": sum(r["lone_ms"] * r["count"] for r in dot_rows.values()),
        "products_in_step_ms_total": sum(r["in_step_ms_total"] for r in dot_rows.values()),
        "minor_faults_per_call": faults,
        "fault_mib_per_call": faults * 4096 / MiB,
        "fault_ms_estimate": faults * fault_cost_us / 1e3 if fault_cost_us else None,
        "notes": (
            "kinds from the compiled HLO's top-level operations (a fusion by what it "
            "calls); ms from jax.profiler's per-operation events, per call; bytes = the "
            "operands and result of each operation, from their shapes; FLOPs = the usual "
            "estimate for FFTs, 2 M N K for products, 2 x outputs x taps for convolutions "
            "(taps over a dilated input's zeros left out, over padding counted: an upper "
            "estimate); elementwise FLOPs not counted"
        ),
    }


def _dot_flops_from(info: dict) -> float:
    (lhs_contracting, _), _ = info["dims"]
    k = math.prod(info["lhs"][d] for d in lhs_contracting)
    return (8.0 if info["dtype"].startswith("c") else 2.0) * math.prod(info["out"]) * k


def xla_fft_flops(compiled) -> tuple[float, float, int]:
    """XLA's FLOPs of a step's FFTs (each compiled alone) and the usual estimate."""
    xla, estimate, count = 0.0, 0.0, 0
    for op in classify(compiled.as_text()).values():
        if op.fft is not None:
            fft_type, shape, dtype, lengths = op.fft
            xla += lone_fft(fft_type, shape, dtype, lengths).xla_flops
            estimate += op.flops
            count += 1
    return xla, estimate, count


# ---------------------------------------------------------------------------
# The steps.


@dataclasses.dataclass
class Step:
    name: str
    detail: dict
    compiled: object
    call: object  # () -> result, one step on the same inputs
    measure: object  # (repeats) -> {"seconds": [...], ...} per step
    extra: dict = dataclasses.field(default_factory=dict)


def training_step(task: str, model_name: str, preset: str, trainer_steps: int) -> Step:
    """The training step of a preset as ``sciml.train.epoch`` runs it."""
    from sciml.experiments import get_experiment
    from sciml.experiments.run import build_for
    from sciml.train import make_optimizer, make_schedule, trainable_filter
    from sciml.train.epoch import builtin_loss, compiled_epoch

    experiment = get_experiment(task, model_name, preset)
    config = experiment.train
    batch = config.batch_size
    grid = experiment.data.resolution
    rng = np.random.default_rng(0)
    n = max(64, batch * trainer_steps)
    inputs = rng.standard_normal((n, 1, grid, grid), dtype=np.float32)
    targets = rng.standard_normal((n, 1, grid, grid), dtype=np.float32)
    model, network, _ = build_for(experiment, (inputs, targets), key=jax.random.key(0))

    def split(model):
        params, rest = eqx.partition(model, trainable_filter(model))
        frozen, static = eqx.partition(rest, eqx.is_array)
        return params, frozen, static

    params, frozen, static = split(model)
    steps_per_epoch = math.ceil(experiment.data.n_train / batch)
    schedule = make_schedule(config, steps_per_epoch, steps_per_epoch * config.epochs)
    optimizer = make_optimizer(config, schedule)
    loss = builtin_loss(config)
    reduce = jnp.sum if config.loss_reduction == "sum" else jnp.mean

    # the step of sciml.train.epoch.make_train_epoch (step_on), jitted alone
    def step(params, opt_state, frozen, a, u):
        def batch_loss(params):
            model = eqx.combine(params, frozen, static)
            losses = jax.vmap(lambda x, y: loss(model(x), y))(a, u)
            return reduce(losses), jnp.mean(losses)

        (_, mean), grads = jax.value_and_grad(batch_loss, has_aux=True)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, mean

    a, u = jnp.asarray(inputs[:batch]), jnp.asarray(targets[:batch])
    opt_state = optimizer.init(params)
    start = time.perf_counter()
    compiled = jax.jit(step, donate_argnums=(0, 1)).lower(params, opt_state, frozen, a, u).compile()
    compile_s = time.perf_counter() - start
    # the model's own leaves stay alive: the step donates (and so deletes) what it is given
    state = {"params": jax.tree.map(jnp.copy, params), "opt_state": opt_state}

    def call():
        state["params"], state["opt_state"], mean = compiled(
            state["params"], state["opt_state"], frozen, a, u
        )
        return mean

    def measure(repeats):
        seconds = time_calls(call, repeats, warmup=2)
        result = {"seconds": seconds}
        if trainer_steps:  # the trainer's own compiled epoch, per step
            trainer_config = dataclasses.replace(config, epochs=1)
            _, epoch = compiled_epoch(static, trainer_config, trainer_steps, trainer_steps)
            p, f, _ = split(model)
            p = jax.tree.map(jnp.copy, p)
            held = {"params": p, "opt_state": optimizer.init(p)}
            data = (jnp.asarray(inputs), jnp.asarray(targets))
            order = jnp.arange(n, dtype=jnp.int32)

            def epoch_call():
                held["params"], held["opt_state"], metrics = epoch(
                    held["params"], held["opt_state"], f, *data, order
                )
                return metrics["loss"]

            epoch_times = time_calls(epoch_call, max(2, repeats // 2), warmup=1)
            result["trainer_epoch"] = {
                "loop": config.epoch_loop,
                "steps": trainer_steps,
                "step_seconds": [t / trainer_steps for t in epoch_times],
            }
        return result

    n_params = sum(x.size for x in jax.tree.leaves(params))
    detail = {
        "task": task,
        "model": model_name,
        "preset": preset,
        "grid": [grid, grid],
        "batch": batch,
        "model_config": experiment.model_config,
        "loss": config.loss,
        "loss_reduction": config.loss_reduction,
        "optimizer": config.optimizer,
        "weight_decay": config.weight_decay,
        "schedule": config.schedule,
        "epoch_loop": config.epoch_loop,
        "normalise": experiment.normalise,
        "parameters": int(n_params),
        "compile_s": compile_s,
    }
    return Step(f"{model_name} {preset} train step", detail, compiled, call, measure)


def navier_stokes_step(resolution: int, batch: int, scan_steps: int) -> Step:
    """One ETDRK4 step (the fast scheme) of a batch of vorticity spectra."""
    from sciml.solvers import stepping
    from sciml.solvers.navier_stokes import fno_forcing, make_stepper

    stepper, _ = make_stepper(
        resolution, nu=1e-3, scheme="fast", forcing=fno_forcing(resolution), dt=1e-3
    )
    rng = np.random.default_rng(0)
    w = rng.standard_normal((batch, resolution, resolution), dtype=np.float32)
    w_hat = jnp.fft.rfft2(jnp.asarray(w))

    one = jax.jit(lambda stepper, w_hat: jax.vmap(stepper.step)(w_hat))
    start = time.perf_counter()
    compiled = one.lower(stepper, w_hat).compile()
    compile_s = time.perf_counter() - start

    @jax.jit
    def many(stepper, w_hat):
        final, _ = stepping.rollout(
            jax.vmap(stepper.step), w_hat, scan_steps, scan_steps, observe=lambda w: w[:1, :1, :1]
        )
        return final

    compiled_many = many.lower(stepper, w_hat).compile()

    def call():
        return compiled(stepper, w_hat)

    def measure(repeats):
        single = time_calls(call, repeats, warmup=2)
        scanned = time_calls(lambda: compiled_many(stepper, w_hat), repeats, warmup=1)
        return {
            "seconds": [t / scan_steps for t in scanned],
            "single_call_seconds": single,
            "timed_as": f"lax.scan of {scan_steps} steps, time / {scan_steps}",
        }

    detail = {
        "solver": "sciml.solvers.navier_stokes.ETDRK4 (make_stepper scheme='fast')",
        "grid": [resolution, resolution],
        "batch": batch,
        "state": f"complex64 ({batch}, {resolution}, {resolution // 2 + 1})",
        "transforms_per_step": "4 stages x (4 irfft2 + 1 rfft2)",
        "scan_steps": scan_steps,
        "compile_s": compile_s,
        "scan_cost": cost_of(compiled_many),
    }
    return Step(f"navier-stokes ETDRK4 step {resolution}^2", detail, compiled, call, measure)


# ---------------------------------------------------------------------------
# The roofline of one step.


def roofline(step: Step, peaks: dict, args, quiet: Quiet) -> dict:
    cost = cost_of(step.compiled)
    xla_fft, fft_estimate_flops, n_fft = xla_fft_flops(step.compiled)
    flops = cost["flops"] - xla_fft + fft_estimate_flops
    load = quiet(step.name)
    measured = step.measure(args.repeats)
    seconds = statistics.median(measured["seconds"])
    peak_flops = peaks["flops_per_s"]
    peak_bw = peaks["bytes_per_s"]
    t_flops, t_bytes = flops / peak_flops, cost["bytes"] / peak_bw
    bound = max(t_flops, t_bytes)
    record = {
        "step": step.name,
        "detail": step.detail,
        "xla_cost": cost,
        "fft": {
            "count": n_fft,
            "xla_flops": xla_fft,
            "estimate_flops": fft_estimate_flops,
        },
        "flops": flops,
        "flops_note": "XLA's FLOPs with its FFT count replaced by 2.5 N log2 N per real transform",
        "bytes": cost["bytes"],
        "intensity_flops_per_byte": flops / cost["bytes"] if cost["bytes"] else None,
        "bound_flops_ms": 1e3 * t_flops,
        "bound_bytes_ms": 1e3 * t_bytes,
        "bound_ms": 1e3 * bound,
        "bound_by": "compute" if t_flops >= t_bytes else "memory",
        "bound_xla_flops_ms": 1e3 * max(cost["flops"] / peak_flops, t_bytes),
        "measured_ms": 1e3 * seconds,
        "measured_ms_best": 1e3 * min(measured["seconds"]),
        "measured_ms_all": [1e3 * t for t in measured["seconds"]],
        "achieved_fraction": bound / seconds,
        "achieved_gflops": flops / seconds / 1e9,
        "achieved_gbps": cost["bytes"] / seconds / 1e9,
        "within_2x": bound / seconds >= 0.5,
        "memory": memory_of(step.compiled),
        "load": load,
    }
    for key in ("single_call_seconds", "timed_as"):
        if key in measured:
            record[key] = measured[key]
    faults0 = minor_faults()
    jax.block_until_ready(step.call())
    record["minor_faults_per_call"] = minor_faults() - faults0
    if "trainer_epoch" in measured:
        trainer = measured["trainer_epoch"]
        trainer["step_ms_median"] = 1e3 * statistics.median(trainer["step_seconds"])
        trainer["step_seconds"] = [round(t, 6) for t in trainer["step_seconds"]]
        record["trainer_epoch"] = trainer
    if args.breakdown == "always" or (args.breakdown == "slow" and not record["within_2x"]):
        record["breakdown"] = breakdown(
            step.compiled, step.call, args.profile_calls, peaks["page_fault_us"]
        )
        record["reasons"] = reasons(record, peaks)
    return record


def reasons(record: dict, peaks: dict) -> list[str]:
    """Why a step is where it is, in figures from its breakdown."""
    out = []
    b = record["breakdown"]
    measured = record["measured_ms"]
    kinds = b["by_kind"]
    gemm_peak = peaks["flops_per_s"] / 1e9
    bw_peak = peaks["bytes_per_s"] / 1e9
    fft = record["fft"]
    if fft["count"]:
        text = (
            f"XLA counts the {fft['count']} FFTs as {fft['xla_flops'] / 1e9:.3g} GFLOP, "
            f"the usual estimate is {fft['estimate_flops'] / 1e9:.3g} GFLOP"
        )
        if abs(record["bound_xla_flops_ms"] - record["bound_ms"]) > 0.01 * record["bound_ms"]:
            text += (
                f"; with XLA's count the bound would be {record['bound_xla_flops_ms']:.1f} ms "
                f"instead of {record['bound_ms']:.1f} ms"
            )
        else:
            text += " (the bound is the bytes' either way)"
        out.append(text)
    for kind, entry in sorted(kinds.items(), key=lambda kv: -kv[1]["ms"]):
        if entry["share"] < 0.05:
            continue
        parts = [f"{kind}: {entry['ms']:.1f} ms ({100 * entry['share']:.0f} % of op time)"]
        if entry["gflops"]:
            rate = entry["gflops"]
            parts.append(f"{rate:.1f} GFLOP/s ({rate / gemm_peak:.2f} of the GEMM peak)")
        if entry["gbps"]:
            rate = entry["gbps"]
            parts.append(f"{rate:.1f} GB/s of operands+results ({rate / bw_peak:.2f} of the triad)")
        out.append(", ".join(parts))
    if b["ffts"]:
        out.append(
            f"the step's FFTs take {b['ffts_in_step_ms_total']:.1f} ms in the step, "
            f"{b['ffts_lone_ms_total']:.1f} ms timed alone at the same shapes "
            f"({b['ffts_lone_ms_total'] / measured:.2f} of the step): the FFT library's own rate, "
            f"not the GEMM peak, is their floor"
        )
    if b["products"]:
        out.append(
            f"the matrix products take {b['products_in_step_ms_total']:.1f} ms in the step, "
            f"{b['products_lone_ms_total']:.1f} ms timed alone at the same shapes"
        )
    floor = b.get("ffts_lone_ms_total", 0.0) + b.get("products_lone_ms_total", 0.0)
    if floor:
        rest = sum(e["ms"] for k, e in kinds.items() if k not in ("FFTs", "matrix products"))
        bound = record["bound_ms"]
        text = (
            f"the FFTs and matrix products alone, at the same shapes, take {floor:.1f} ms: "
            f"{floor / bound:.2f} x the bound"
        )
        if floor < 2 * bound:
            text += (
                f"; within 2x would leave {2 * bound - floor:.1f} ms for the other operations, "
                f"which take {rest:.1f} ms in the step"
            )
        else:
            text += ", so at XLA's FFT rates this step cannot come within 2x of it"
        out.append(text)
    fft_kind = kinds.get("FFTs")
    if fft_kind and fft_kind["ms"]:
        out.append(
            f"{100 * fft_kind['pool_ms'] / fft_kind['ms']:.0f} % of the FFTs' time ran on XLA's "
            f"intra-op pool threads (an FFT that follows a fused operation starts there), "
            f"not on the thread that runs the executable, where a lone FFT runs"
        )
    for row in b["ffts"]:
        if "after_product_ms" in row:
            each = row["in_step_ms_total"] / row["count"]
            out.append(
                f"FFT {row['type']} {row['input_shape']} alone {row['lone_ms']:.2f} ms; after an "
                f"elementwise product (itself {row['product_alone_ms']:.2f} ms alone) "
                f"{row['after_product_ms']:.2f} ms with "
                f"{row['after_product_faults_per_call']:.0f} page faults; in the step "
                f"{each:.2f} ms each"
            )
    for row in b["products"]:
        if "chained" in row:
            chained = row["chained"]
            out.append(
                f"product {row['lhs']} x {row['rhs']} alone {chained['alone_ms']:.2f} ms "
                f"({chained['alone_faults_per_call']:.0f} page faults a call); after an "
                f"elementwise product {chained['after_product_ms']:.2f} ms "
                f"({chained['after_product_faults_per_call']:.0f} page faults); in the step "
                f"{row['in_step_ms_total'] / row['count']:.2f} ms each"
            )
    for row in b["ffts"][:4]:
        out.append(
            f"FFT {row['type']} {row['input_shape']} over {row['fft_length']} (x{row['count']}): "
            f"{row['lone_gflops']:.1f} GFLOP/s alone, "
            + (f"{row['in_step_gflops']:.1f} in the step" if row["in_step_gflops"] else "")
        )
    for row in b["products"][:3]:
        out.append(
            f"product {row['lhs']} x {row['rhs']} -> {row['out']} (x{row['count']}): "
            f"{row['lone_gflops']:.1f} GFLOP/s alone "
            f"({row['lone_gflops'] / gemm_peak:.2f} of the GEMM peak)"
            + (f", {row['in_step_gflops']:.1f} in the step" if row["in_step_gflops"] else "")
        )
    if b["minor_faults_per_call"] > 1000 and b["fault_ms_estimate"] is not None:
        temp_mib = record["memory"].get("temp", 0) / MiB
        out.append(
            f"{b['minor_faults_per_call']} page faults per step ({b['fault_mib_per_call']:.0f} "
            f"MiB faulted in again; XLA's temporaries are {temp_mib:.0f} MiB): about "
            f"{b['fault_ms_estimate']:.0f} ms at the {peaks['page_fault_us']:.2f} us per page "
            f"that the fresh-output triad shows"
        )
    traced = b["traced_wall_ms"]
    gap = traced - b["op_ms_total"]
    if b["op_ms_total"] and abs(gap) > 0.1 * traced:
        out.append(
            f"under the profiler the step took {traced:.1f} ms and its operations' events add "
            f"to {b['op_ms_total']:.1f} ms ({gap:+.1f} ms outside them"
            + (
                ": operations overlap on the threads)"
                if gap < 0
                else ": dispatch, allocation, waits)"
            )
        )
    return out


# ---------------------------------------------------------------------------
# Output.


def markdown(record: dict) -> str:
    peaks = record["peaks"]
    bandwidth, rate = peaks["bytes_per_s"], peaks["flops_per_s"]
    lines = [
        f"Peaks: triad {bandwidth / 1e9:.1f} GB/s (3 x {peaks['triad']['array_mib']} MiB "
        f"float32, 3 arrays counted), GEMM {rate / 1e9:.1f} GFLOP/s (float32 "
        f"{peaks['gemm']['n']}^2); ridge {rate / bandwidth:.1f} FLOP/byte",
        "",
        "| step | GFLOP | GB accessed | FLOP/byte | bound ms (by) | measured ms | achieved "
        "| GFLOP/s | GB/s | load 1 min / others |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in record["steps"]:
        lines.append(
            f"| {s['step']} | {s['flops'] / 1e9:.3g} | {s['bytes'] / 1e9:.3g} | "
            f"{s['intensity_flops_per_byte']:.2f} | {s['bound_ms']:.1f} ({s['bound_by']}) | "
            f"{s['measured_ms']:.1f} | {s['achieved_fraction']:.2f} | {s['achieved_gflops']:.1f} | "
            f"{s['achieved_gbps']:.1f} | {s['load']['loadavg'][0]:.2f} / "
            f"{s['load']['other_busy_cores']:.2f} |"
        )
    variants = record.get("variants", [])
    if variants:
        names = " | ".join(f"`{v['env']}`" for v in variants)
        lines += [
            "",
            "The same steps timed again in child processes (no profiling, the same peaks), "
            "one per environment (ms, and page faults per step):",
            "",
            f"| step | this process | {names} |",
            "|---|---|" + "---|" * len(variants),
        ]
        for s in record["steps"]:
            cells = [f"{s['measured_ms']:.1f} ({s.get('minor_faults_per_call', '')})"]
            for v in variants:
                match = next((x for x in v["steps"] if x["step"] == s["step"]), None)
                cells.append(
                    f"{match['measured_ms']:.1f} ({match.get('minor_faults_per_call', '')})"
                    if match
                    else ""
                )
            lines.append(f"| {s['step']} | " + " | ".join(cells) + " |")
    for s in record["steps"]:
        if "trainer_epoch" in s:
            t = s["trainer_epoch"]
            lines.append(
                f"\n{s['step']}: the trainer's compiled epoch ({t['loop']}, {t['steps']} steps) "
                f"{t['step_ms_median']:.1f} ms per step (the lone step {s['measured_ms']:.1f} ms)"
            )
        if s.get("reasons"):
            lines.append(f"\n{s['step']}: {s['achieved_fraction']:.2f} of its bound")
            lines.extend(f"- {r}" for r in s["reasons"])
    return "\n".join(lines)


def _sanitise(value):
    """Drop absolute paths of this machine from strings of the record."""
    if isinstance(value, dict):
        return {k: _sanitise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitise(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"(?<![\w.])/(?:[\w.+-]+/)+([\w.+-]+)", r"\1", value)
    return value


def measure_peaks(args, quiet: Quiet) -> dict:
    load = quiet("peaks")
    triad = triad_bandwidth(args.triad_mib, repeats=20)
    cached = triad_bandwidth(2, repeats=20)
    gemm = gemm_rate(args.gemm_n, repeats=5)
    fft = fft_rate(16, 256, repeats=5)
    print(
        f"triad {triad['jax_in_place_gbps']:.1f} GB/s, GEMM {gemm['gflops']:.1f} GFLOP/s, "
        f"FFT {fft['gflops']:.1f} GFLOP/s",
        file=sys.stderr,
    )
    return {
        "bytes_per_s": 1e9 * triad["jax_in_place_gbps"],
        "flops_per_s": 1e9 * gemm["gflops"],
        "page_fault_us": triad["page_fault_us_per_4k_page"],
        "triad": triad,
        "triad_cache_resident": {
            k: cached[k] for k in ("array_mib", "jax_in_place_gbps", "jax_in_place_gbps_median")
        },
        "gemm": gemm,
        "fft_complex64": fft,
        "load": load,
    }


def run_variant(assignment: str, args, peaks: dict) -> dict:
    """The same steps timed by this script in a child process with one more environment
    variable (read at the child's start, as glibc reads ``GLIBC_TUNABLES``), against the
    same peaks; no breakdown, no trainer check."""
    import subprocess

    key, _, value = assignment.partition("=")
    with tempfile.TemporaryDirectory() as directory:
        peaks_file, out = Path(directory) / "peaks.json", Path(directory) / "variant.json"
        peaks_file.write_text(json.dumps(peaks, default=_json_default))
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            *("--steps", args.steps, "--fno-presets", args.fno_presets),
            *("--mgno-presets", args.mgno_presets, "--ns-sizes", args.ns_sizes),
            *("--ns-scan-steps", str(args.ns_scan_steps), "--repeats", str(args.repeats)),
            *("--trainer-steps", "0", "--breakdown", "never"),
            *("--max-other-load", str(args.max_other_load), "--wait-tries", str(args.wait_tries)),
            *("--wait-s", str(args.wait_s), "--peaks-from", str(peaks_file), "--out", str(out)),
        ]
        print(f"variant {assignment}: a child process", file=sys.stderr)
        subprocess.run(
            command, env={**os.environ, key: value}, check=True, stdout=subprocess.DEVNULL
        )
        child = json.loads(out.read_text())
    keep = (
        "step", "bound_ms", "measured_ms", "measured_ms_best", "measured_ms_all",
        "achieved_fraction", "within_2x", "minor_faults_per_call", "memory", "load",
    )  # fmt: skip
    return {
        "env": assignment,
        "steps": [{k: s[k] for k in keep if k in s} for s in child["steps"]],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="fno,mgno,ns", help="comma-separated: fno, mgno, ns")
    parser.add_argument("--fno-presets", default="quick,paper")
    parser.add_argument("--mgno-presets", default="quick")
    parser.add_argument(
        "--ns-sizes", default="64:16,256:16", help="RESOLUTION:BATCH pairs, comma-separated"
    )
    parser.add_argument("--ns-scan-steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per step (median)")
    parser.add_argument("--trainer-steps", type=int, default=3, help="0: skip the trainer check")
    parser.add_argument("--triad-mib", type=int, default=64)
    parser.add_argument("--gemm-n", type=int, default=2048)
    parser.add_argument(
        "--breakdown",
        choices=("slow", "always", "never"),
        default="always",
        help="profile by kind of operation: every step, those over 2x from their bound, none",
    )
    parser.add_argument("--profile-calls", type=int, default=2)
    parser.add_argument("--max-other-load", type=float, default=0.5)
    parser.add_argument("--wait-tries", type=int, default=4)
    parser.add_argument("--wait-s", type=float, default=20.0)
    parser.add_argument(
        "--variant-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="also time the steps in a child process with this environment variable set "
        "(e.g. GLIBC_TUNABLES=glibc.malloc.hugetlb=1); repeatable",
    )
    parser.add_argument("--peaks-from", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help="JSON record")
    args = parser.parse_args(argv)
    steps_wanted = {s.strip() for s in args.steps.split(",") if s.strip()}
    unknown = steps_wanted - {"fno", "mgno", "ns"}
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}; choose from fno, mgno, ns")

    started = time.perf_counter()
    quiet = Quiet(args.max_other_load, args.wait_tries, args.wait_s)
    print(
        f"# Roofline on {cpu_model()}, {os.cpu_count()} cores, jax {jax.__version__}",
        file=sys.stderr,
    )

    if args.peaks_from:  # a variant's child: the parent's peaks
        peaks, fft_check = json.loads(args.peaks_from.read_text()), None
    else:
        peaks, fft_check = measure_peaks(args, quiet), check_fft_counting()

    builders = []
    if "fno" in steps_wanted:
        for preset in filter(None, args.fno_presets.split(",")):
            builders.append(lambda p=preset: training_step("darcy", "fno", p, args.trainer_steps))
    if "mgno" in steps_wanted:
        for preset in filter(None, args.mgno_presets.split(",")):
            builders.append(lambda p=preset: training_step("darcy", "mgno", p, args.trainer_steps))
    if "ns" in steps_wanted:
        for pair in filter(None, args.ns_sizes.split(",")):
            s, b = (int(x) for x in pair.split(":"))
            builders.append(lambda s=s, b=b: navier_stokes_step(s, b, args.ns_scan_steps))

    results = []
    for build in builders:
        step = build()
        print(f"{step.name}: compiled in {step.detail['compile_s']:.1f} s", file=sys.stderr)
        results.append(roofline(step, peaks, args, quiet))
        r = results[-1]
        print(
            f"  {r['measured_ms']:.1f} ms, bound {r['bound_ms']:.1f} ms ({r['bound_by']}), "
            f"{r['achieved_fraction']:.2f}",
            file=sys.stderr,
        )
        del step

    variants = [run_variant(env, args, peaks) for env in args.variant_env]
    record = {
        "schema": SCHEMA,
        "command": " ".join(
            ["python benchmarks/roofline.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "source": source_state(),
        "peaks": peaks,
        "fft_counting": fft_check,
        "steps": results,
        "variants": variants,
        "goal": "each step within 2x of its roofline bound (achieved fraction >= 0.5)",
        "run_s": time.perf_counter() - started,
    }
    record = _sanitise(record)
    print(markdown(record))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


if __name__ == "__main__":
    main()
