"""The same FNO in sciml and in the PyTorch reference (``neuraloperator``), timed side by side.

Both networks are built from one sciml preset (``--task``, ``--preset``: grid, width,
modes, layers, projection, padding, batch, optimiser, loss) and measured on the same
machine by this one script, each framework in fresh sibling processes, so that the
peak memory of one is not the other's:

- training samples/s: sciml's own compiled epoch (``sciml.train.epoch``, the step
  ``fit`` runs) against a plain PyTorch loop, both minimising the per-sample relative
  L2 error (reduced over the batch as the preset says) with Adam and the preset's
  L2 weight decay (``torch.optim.Adam(weight_decay=...)``), on one fixed random data
  set of ``steps * batch`` samples;
- inference latency at batch 1 and at the training batch: ``jit(vmap(model))``
  against ``model.eval()`` under ``torch.inference_mode()``;
- peak memory: on the CPU the peak resident set of the process (and its rise over
  the resident set after imports, model and data); on a GPU the allocator peaks,
  ``peak_bytes_in_use`` of JAX's device and ``torch.cuda.max_memory_allocated``.

The frameworks alternate (sciml first in even rounds, the peer first in odd ones);
every timing is taken after a warm-up epoch (JAX's compilation, PyTorch's first
calls), and the best and median over all repeats of all rounds are recorded.

The neuraloperator ``FNO`` is configured to be our architecture: a linear lifting
(``lifting_channel_ratio=0``), no channel MLP in the Fourier blocks, a linear 1x1 skip,
the same activation (the tanh form of GELU, our default), a two-layer projection of
the same width, grid coordinates in ``[0, 1]`` appended, and the same retained modes
(``n_modes = (2 m, ..., 2 m, 2 (m - 1))``: all ``2 m`` central frequencies on the
leading axes, ``m`` on the last, real-FFT axis). Its domain padding pads both ends
by a fraction of the grid, ours pads ``p`` points at the far end; to run both on the
same Fourier grid its padding module is replaced by one that pads the far end.

    python benchmarks/peer_fno.py --task darcy --preset paper --out record.json
    python benchmarks/peer_fno.py --task darcy --preset quick --rounds 3
    python benchmarks/peer_fno.py --task burgers --preset paper --device gpu
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from cpuinfo import cpu_model

SCHEMA = "sciml.peer-fno/1"
FRAMEWORKS = ("sciml", "neuralop")
#: The issue's targets: training throughput of sciml over the peer, at least this.
THROUGHPUT_TARGET = {"cpu": 1.0, "gpu": 1.5}
MARKER = "PEER_FNO_RESULT "


# ---------------------------------------------------------------------------
# The configuration, shared by the parent and the workers (plain data).


def make_spec(args: argparse.Namespace) -> dict:
    """The architecture, data and optimiser both frameworks use, from the sciml preset."""
    from sciml.experiments import get_experiment

    experiment = get_experiment(args.task, "fno", args.preset)
    options = experiment.model_config
    modes = [int(m) for m in options["modes"]]
    d = len(modes)
    padding = options.get("padding", 0)
    padding = [int(padding)] * d if isinstance(padding, int) else [int(p) for p in padding]
    grid = [int(experiment.data.resolution)] * d
    train = experiment.train
    return {
        "task": args.task,
        "preset": args.preset,
        "grid": grid,
        "in_channels": 1,
        "out_channels": 1,
        "modes": modes,
        "width": int(options["width"]),
        "n_layers": int(options.get("n_layers", 4)),
        "projection_channels": int(options.get("projection_channels", 128)),
        "padding": padding,
        "positional_embedding": True,
        "activation": "gelu (tanh form)",
        "batch": int(args.batch or train.batch_size),
        "steps": int(args.steps),
        "repeats": int(args.repeats),
        "latency_repeats": int(args.latency_repeats),
        "loss": "relative L2 per sample",
        "loss_reduction": train.loss_reduction,
        "optimizer": {
            "name": "adam (L2 weight decay added to the gradient)",
            "learning_rate": train.learning_rate,
            "weight_decay": train.weight_decay,
            "betas": [0.9, 0.999],
            "eps": 1e-8,
            "sciml_schedule": train.schedule,
        },
        "train_config": train.to_dict(),
        "device": args.device,
        "matmul_precision": args.matmul_precision,
        "threads": int(args.cpus or os.cpu_count()),
    }


# ---------------------------------------------------------------------------
# Memory probes.


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of the resident set (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    kib = _proc_status_kib("VmHWM")
    if kib is None:  # no /proc: the lifetime peak
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return 1024 * kib


class CpuMemory:
    """Peak resident set of this process, and its rise over the resident set at start."""

    kind = "peak resident set (process)"

    def start(self) -> None:
        self.baseline = 1024 * (_proc_status_kib("VmRSS") or 0)
        self.can_reset = _reset_peak_rss()

    def peak(self) -> int:
        return _peak_rss_bytes()

    def restart(self) -> bool:
        """Start a new peak from the present use; False where that cannot be done."""
        return self.can_reset and _reset_peak_rss()


def measure_memory(memory, warmup, timed) -> dict:
    """Run ``warmup`` then ``timed`` under ``memory``: the peak over both, the peak of
    ``timed`` alone (the steady state, without compilation or first-call costs; None
    where the peak cannot be restarted), the use before and the peak's rise over it."""
    memory.start()
    warmup()
    first = memory.peak()
    steady = memory.peak() if memory.restart() else None
    timed()
    last = memory.peak()
    if steady is not None:
        steady = last
    peak = max(first, last)
    return {
        "kind": memory.kind,
        "peak_bytes": peak,
        "steady_peak_bytes": steady,
        "baseline_bytes": memory.baseline,
        "increment_bytes": peak - memory.baseline,
    }


# ---------------------------------------------------------------------------
# Timing helpers.


def _summary(values: list[float], best=max) -> dict:
    return {"best": best(values), "median": statistics.median(values), "all": values}


def _time_calls(call, sync, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sync(call())
        times.append(time.perf_counter() - start)
    return times


def _data(spec: dict):
    """Inputs and targets, ``(steps * batch, 1, *grid)`` float32, the same in both."""
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (spec["steps"] * spec["batch"], spec["in_channels"], *spec["grid"])
    inputs = rng.standard_normal(shape, dtype=np.float32)
    targets = rng.standard_normal(shape, dtype=np.float32)
    return inputs, targets


# ---------------------------------------------------------------------------
# The sciml worker.


def run_sciml(spec: dict) -> dict:
    import jax

    if spec["matmul_precision"] == "highest":
        jax.config.update("jax_default_matmul_precision", "highest")
    import dataclasses

    import equinox as eqx
    import jax.numpy as jnp

    from sciml.models.fno import FNO, count_parameters
    from sciml.train import TrainConfig
    from sciml.train.epoch import compiled_epoch
    from sciml.train.trainable import trainable_filter

    device = jax.devices()[0]
    memory = CpuMemory() if spec["device"] == "cpu" else JaxDeviceMemory(device)
    model = _sciml_fno(spec, FNO, jax.random.key(0))
    inputs, targets = (jnp.asarray(x) for x in _data(spec))
    steps, batch = spec["steps"], spec["batch"]
    config = dataclasses.replace(
        TrainConfig.from_dict(spec["train_config"]),
        batch_size=batch,
        epochs=1,
        seed=0,
        checkpoint_every=1,
        eval_batch_size=None,
    )
    params, rest = eqx.partition(model, trainable_filter(model))
    frozen, static = eqx.partition(rest, eqx.is_array)
    optimizer, train_epoch = compiled_epoch(static, config, steps, 100 * steps)
    opt_state = optimizer.init(params)
    order = jnp.arange(steps * batch)
    # Committed to the device, as ``fit`` places them: the epoch's outputs are
    # committed, and jit keys its cache on that, so uncommitted first arguments made
    # the first timed call (the second call) compile the epoch again -- the "slow
    # second call" of the earlier records, 3-4x the time of the others.
    params, opt_state, frozen, inputs, targets, order = jax.device_put(
        (params, opt_state, frozen, inputs, targets, order), device
    )
    jax.block_until_ready((params, opt_state, inputs, targets, order))

    state = {"params": params, "opt_state": opt_state}

    def epoch():
        state["params"], state["opt_state"], metrics = train_epoch(
            state["params"], state["opt_state"], frozen, inputs, targets, order
        )
        return metrics["loss"]

    times = {}

    def warmup():
        times["warmup"] = _time_calls(epoch, jax.block_until_ready, 1)

    def timed():
        times["epochs"] = _time_calls(epoch, jax.block_until_ready, spec["repeats"])

    train_memory = measure_memory(memory, warmup, timed)
    warmup_s, epoch_s = times["warmup"][0], times["epochs"]
    final_loss = float(epoch())

    forward = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))
    trained = eqx.combine(state["params"], frozen, static)
    latency = {}
    for size in (1, batch):
        x = inputs[:size]
        sync = jax.block_until_ready
        _time_calls(lambda x=x: forward(trained, x), sync, 2)
        seconds = _time_calls(lambda x=x: forward(trained, x), sync, spec["latency_repeats"])
        latency[str(size)] = _summary([1e3 * s for s in seconds], best=min)
    return {
        "params": count_parameters(model),
        "warmup_s": warmup_s,
        "train_samples_per_s": [steps * batch / s for s in epoch_s],
        "final_loss": final_loss,
        "latency_ms": latency,
        "memory": train_memory,
        "xla_buffers": _xla_buffers(train_epoch, state, frozen, inputs, targets, order),
        "device": f"{device.platform} ({device.device_kind})",
        "threads": len(os.sched_getaffinity(0)),  # XLA sizes its pool to these
        "epoch_loop": config.epoch_loop,
        # 1 unless a timed call recompiled the epoch (jit's cache entries)
        "epoch_compilations": getattr(train_epoch, "_cache_size", lambda: None)(),
    }


def _xla_buffers(train_epoch, state, *rest) -> dict | None:
    """XLA's own account of the compiled epoch's buffers (bytes), which the process
    peak holds besides the runtime and the compiler; compiled again, after the timings."""
    if not hasattr(train_epoch, "lower"):  # the step-by-step epoch is a Python loop
        return None
    compiled = train_epoch.lower(state["params"], state["opt_state"], *rest).compile()
    analysis = compiled.memory_analysis()
    if analysis is None:
        return None
    return {
        name: int(getattr(analysis, f"{name}_size_in_bytes"))
        for name in ("argument", "output", "alias", "temp", "generated_code")
    }


def _sciml_fno(spec: dict, fno_class, key):
    return fno_class(
        spec["in_channels"],
        spec["out_channels"],
        tuple(spec["modes"]),
        spec["width"],
        spec["n_layers"],
        projection_channels=spec["projection_channels"],
        padding=tuple(spec["padding"]),
        positional_embedding=spec["positional_embedding"],
        key=key,
    )


class JaxDeviceMemory:
    """The peak of JAX's device allocator; it has no reset, so no steady-state peak."""

    kind = "device allocator peak (jax peak_bytes_in_use)"

    def __init__(self, device):
        self.device = device

    def start(self) -> None:
        self.baseline = int(self.device.memory_stats()["bytes_in_use"])

    def peak(self) -> int:
        return int(self.device.memory_stats()["peak_bytes_in_use"])

    def restart(self) -> bool:
        return False


# ---------------------------------------------------------------------------
# The neuraloperator worker.


def build_neuralop_fno(spec: dict):
    """neuraloperator's ``FNO`` configured as sciml's (see the module docstring)."""
    import functools

    import torch.nn.functional as F
    from neuralop.models import FNO as NeuralopFNO

    modes = spec["modes"]
    width = spec["width"]
    # neuraloperator counts the modes kept per axis over both signs (and keeps
    # n // 2 + 1 of an n on the real-FFT axis): 2 m centred ones, -m .. m - 1, are
    # our [:m] and [-m:]; 2 (m - 1) on the last axis keeps its first m.
    n_modes = tuple(2 * m for m in modes[:-1]) + (2 * (modes[-1] - 1),)
    model = NeuralopFNO(
        n_modes,
        in_channels=spec["in_channels"],
        out_channels=spec["out_channels"],
        hidden_channels=width,
        n_layers=spec["n_layers"],
        lifting_channel_ratio=0,
        # int(ratio * width) must give our projection width; the half guards the rounding
        projection_channel_ratio=(spec["projection_channels"] + 0.5) / width,
        positional_embedding=_grid_embedding(spec) if spec["positional_embedding"] else None,
        non_linearity=functools.partial(F.gelu, approximate="tanh"),
        use_channel_mlp=False,
        fno_skip="linear",
        domain_padding=None,
    )
    if any(spec["padding"]):
        model.domain_padding = _end_padding(spec["padding"])
    if model.projection_channels != spec["projection_channels"]:
        raise ValueError(
            f"neuraloperator's projection has {model.projection_channels} channels, "
            f"expected {spec['projection_channels']}"
        )
    return model


def _grid_embedding(spec: dict):
    """neuraloperator's grid channels, equal to sciml's ``linspace(0, 1, n)`` on this grid.

    Its coordinates on ``[a, b]`` are ``a + (b - a) k / n``, ``k < n`` (the right end
    left out, as on a periodic grid); with ``b = n / (n - 1)`` they are ``k / (n - 1)``.
    """
    from neuralop.layers.embeddings import GridEmbeddingND

    boundaries = [[0.0, n / (n - 1)] for n in spec["grid"]]
    return GridEmbeddingND(spec["in_channels"], len(spec["grid"]), boundaries)


def copy_weights(sciml_model, torch_model) -> None:
    """Give ``torch_model`` (from :func:`build_neuralop_fno`) the weights of ``sciml_model``.

    Lifting, skips and projection are 1x1 convolutions holding our ``(out, in)``
    matrices; our skip's bias becomes the spectral convolution's (the two add). The
    spectral weights ``(corners, 2, in, out, *modes)`` become one complex array
    ``(in, out, 2 m_1, ..., m_d)`` in neuraloperator's centred order: on each leading
    axis the negative block ``[-m:]`` first, then ``[:m]``. The FFT scalings differ
    (``norm="forward"`` there, ``"backward"`` here) but the transform pair is the same.
    """
    import numpy as np
    import torch

    def put(parameter, value):
        with torch.no_grad():
            parameter.copy_(torch.from_numpy(np.array(value)).reshape(parameter.shape))

    put(torch_model.lifting.fcs[0].weight, sciml_model.lifting.weight)
    put(torch_model.lifting.fcs[0].bias, sciml_model.lifting.bias)
    for index, layer in enumerate(sciml_model.layers):
        blocks = torch_model.fno_blocks
        put(blocks.fno_skips[index].conv.weight, layer.skip.weight)
        put(blocks.convs[index].bias, layer.skip.bias)
        weights = np.asarray(layer.spectral.complex_weights())  # (2,)*(d-1) + (i, o, *m)
        corners = weights.ndim - 2 - len(layer.spectral.modes)
        # (i, o, bit_1, m_1, ..., bit_{d-1}, m_{d-1}, m_d), each bit 1 ([-m:]) first
        order = [corners, corners + 1]
        for axis in range(corners):
            order += [axis, corners + 2 + axis]
        order.append(weights.ndim - 1)
        weights = np.flip(weights.transpose(order), axis=[2 + 2 * a for a in range(corners)])
        spectral = blocks.convs[index].weight.tensor
        with torch.no_grad():
            spectral.copy_(torch.from_numpy(np.ascontiguousarray(weights)).reshape(spectral.shape))
    put(torch_model.projection.fcs[0].weight, sciml_model.projection_hidden.weight)
    put(torch_model.projection.fcs[0].bias, sciml_model.projection_hidden.bias)
    put(torch_model.projection.fcs[1].weight, sciml_model.projection_out.weight)
    put(torch_model.projection.fcs[1].bias, sciml_model.projection_out.bias)


def check_same_function(spec: dict) -> dict:
    """Both networks with sciml's weights on one random batch: the largest difference
    of the outputs relative to their largest magnitude.

    neuraloperator's Fourier block without a channel MLP applies its activation twice
    between layers (``act(act(K v + W v))``: once after the sum, once where the channel
    MLP would end); for this check only, the second application is made the identity,
    so that the comparison tests everything else. The timed network keeps it.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch

    from sciml.models.fno import FNO

    sciml_model = _sciml_fno(spec, FNO, jax.random.key(0))
    torch_model = build_neuralop_fno(spec)
    copy_weights(sciml_model, torch_model)
    activation = torch_model.fno_blocks.non_linearity
    calls = []

    def once_per_layer(x):
        calls.append(None)
        return activation(x) if len(calls) % 2 else x

    torch_model.fno_blocks.non_linearity = once_per_layer
    x = np.random.default_rng(1).standard_normal((2, 1, *spec["grid"]), dtype=np.float32)
    expected = np.asarray(jax.vmap(sciml_model)(jnp.asarray(x)))
    with torch.no_grad():
        got = torch_model(torch.from_numpy(x)).numpy()
    return {
        "max_relative_difference": float(np.abs(got - expected).max() / np.abs(expected).max()),
        "activations_in_neuralop_block": "two between layers (act(act(.))); one in sciml",
    }


def _end_padding(padding):
    """A module with neuraloperator's ``pad``/``unpad`` that pads ``p`` zeros at the far
    end of every spatial axis, as sciml's FNO does (``DomainPadding`` pads both ends)."""
    import torch
    import torch.nn.functional as F

    class EndPadding(torch.nn.Module):
        def __init__(self, padding):
            super().__init__()
            self.padding = [int(p) for p in padding]

        def pad(self, x):
            # F.pad takes (start, end) pairs from the last axis backwards
            return F.pad(x, [n for p in reversed(self.padding) for n in (0, p)])

        def unpad(self, x):
            grid = [n - p for n, p in zip(x.shape[2:], self.padding)]
            return x[(Ellipsis, *(slice(0, n) for n in grid))]

    return EndPadding(padding)


def torch_parameter_count(model) -> int:
    """Real scalars in the parameters (a complex one counts 2), as sciml counts."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def run_neuralop(spec: dict) -> dict:
    import torch

    on_gpu = spec["device"] == "gpu"
    device = torch.device("cuda" if on_gpu else "cpu")
    if not on_gpu:
        torch.set_num_threads(spec["threads"])
    tf32 = spec["matmul_precision"] != "highest"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(0)

    def sync(value):
        if on_gpu:
            torch.cuda.synchronize()
        return value

    model = build_neuralop_fno(spec).to(device)
    inputs, targets = (torch.from_numpy(x).to(device) for x in _data(spec))
    steps, batch = spec["steps"], spec["batch"]
    optimiser_spec = spec["optimizer"]
    optimiser = torch.optim.Adam(
        model.parameters(),
        lr=optimiser_spec["learning_rate"],
        betas=tuple(optimiser_spec["betas"]),
        eps=optimiser_spec["eps"],
        weight_decay=optimiser_spec["weight_decay"],
    )
    reduce = torch.sum if spec["loss_reduction"] == "sum" else torch.mean
    order = torch.arange(steps * batch, device=device).reshape(steps, batch)

    def relative_l2(pred, target):
        axes = tuple(range(1, pred.ndim))
        return torch.linalg.vector_norm(pred - target, dim=axes) / torch.linalg.vector_norm(
            target, dim=axes
        )

    def epoch():
        model.train()
        losses = []
        for index in order:
            a, u = inputs[index], targets[index]
            optimiser.zero_grad(set_to_none=True)
            per_sample = relative_l2(model(a), u)
            reduce(per_sample).backward()
            optimiser.step()
            losses.append(per_sample.detach().mean())
        return torch.stack(losses).mean()

    memory = CpuMemory() if not on_gpu else TorchDeviceMemory()
    sync(None)
    times = {}

    def warmup():
        times["warmup"] = _time_calls(epoch, sync, 1)

    def timed():
        times["epochs"] = _time_calls(epoch, sync, spec["repeats"])

    train_memory = measure_memory(memory, warmup, timed)
    warmup_s, epoch_s = times["warmup"][0], times["epochs"]
    final_loss = float(epoch())

    model.eval()
    latency = {}
    with torch.inference_mode():
        for size in (1, batch):
            x = inputs[:size]
            _time_calls(lambda x=x: model(x), sync, 2)
            seconds = _time_calls(lambda x=x: model(x), sync, spec["latency_repeats"])
            latency[str(size)] = _summary([1e3 * s for s in seconds], best=min)
    name = torch.cuda.get_device_name(device) if on_gpu else platform.processor() or "cpu"
    return {
        "params": torch_parameter_count(model),
        "warmup_s": warmup_s,
        "train_samples_per_s": [steps * batch / s for s in epoch_s],
        "final_loss": final_loss,
        "latency_ms": latency,
        "memory": train_memory,
        "device": f"{device.type} ({name})",
        "threads": torch.get_num_threads(),
        "epoch_loop": "python loop over steps (eager)",
    }


class TorchDeviceMemory:
    kind = "device allocator peak (torch.cuda.max_memory_allocated)"

    def start(self) -> None:
        import torch

        self.baseline = int(torch.cuda.memory_allocated())
        torch.cuda.reset_peak_memory_stats()

    def peak(self) -> int:
        import torch

        return int(torch.cuda.max_memory_allocated())

    def restart(self) -> bool:
        import torch

        torch.cuda.reset_peak_memory_stats()
        return True


def worker(framework: str, spec: dict) -> None:
    if spec["device"] == "cpu" and spec["threads"] < os.cpu_count():
        # before either framework starts its thread pool, which sizes itself to these
        os.sched_setaffinity(0, range(spec["threads"]))
    load = os.getloadavg()
    if framework == "check":
        print(MARKER + json.dumps(check_same_function(spec)), flush=True)
        return
    result = run_sciml(spec) if framework == "sciml" else run_neuralop(spec)
    result["load_average"] = {"before": list(load), "after": list(os.getloadavg())}
    print(MARKER + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------
# The parent: launch, alternate, aggregate, record.


def _worker_env(framework: str, device: str) -> dict:
    env = dict(os.environ)
    if framework in ("sciml", "check"):
        env["JAX_PLATFORMS"] = "cpu" if device == "cpu" else "cuda"
        # allocate as needed, so that the peak is what the computation used
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    elif device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def launch(framework: str, spec: dict, log) -> dict:
    command = [sys.executable, __file__, "--worker", framework, "--spec", json.dumps(spec)]
    done = subprocess.run(
        command, capture_output=True, text=True, env=_worker_env(framework, spec["device"])
    )
    log.write(f"--- {framework} (exit {done.returncode})\n{done.stdout}{done.stderr}\n")
    log.flush()
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    raise RuntimeError(
        f"the {framework} worker failed (exit {done.returncode}):\n{done.stderr[-4000:]}"
    )


def aggregate(runs: list[dict]) -> dict:
    """One framework's rounds: throughput, latency and memory over all of them."""
    samples = [s for run in runs for s in run["train_samples_per_s"]]
    latency = {}
    for size in runs[0]["latency_ms"]:
        values = [v for run in runs for v in run["latency_ms"][size]["all"]]
        latency[size] = _summary(values, best=min)
    peaks = [run["memory"]["peak_bytes"] for run in runs]
    increments = [run["memory"]["increment_bytes"] for run in runs]
    steady = [run["memory"]["steady_peak_bytes"] for run in runs]
    return {
        "params": runs[0]["params"],
        "device": runs[0]["device"],
        "threads": runs[0]["threads"],
        "epoch_loop": runs[0]["epoch_loop"],
        "train_samples_per_s": _summary(samples),
        "warmup_s": [run["warmup_s"] for run in runs],
        "final_loss": [run["final_loss"] for run in runs],
        "xla_buffers": runs[0].get("xla_buffers"),
        "epoch_compilations": [run.get("epoch_compilations") for run in runs],
        "latency_ms": latency,
        "memory": {
            "kind": runs[0]["memory"]["kind"],
            "peak_bytes": max(peaks),
            "increment_bytes": max(increments),
            "steady_peak_bytes": None if None in steady else max(steady),
            "rounds": [run["memory"] for run in runs],
        },
        "load_average": [run["load_average"] for run in runs],
    }


DIFFERENCES = [
    "neuraloperator applies the activation twice between Fourier layers when there is "
    "no channel MLP: one more GELU per layer boundary (3 for 4 layers) in its forward "
    "and backward passes",
    "sciml's training epoch is one compiled call (the preset's epoch loop); PyTorch "
    "runs eagerly, one optimiser step after another from Python",
    "sciml's step also evaluates the preset's learning-rate schedule; PyTorch's "
    "learning rate is constant (a schedule there steps once per epoch)",
    "grid coordinates: made equal on this grid by neuraloperator's grid boundaries",
    "padding: neuraloperator's DomainPadding (both ends, a fraction) replaced by a "
    "module padding the far end by the same points as sciml",
]

RATIO_DEFINITIONS = {
    "train_throughput": "sciml samples/s / neuralop samples/s, best of all repeats; "
    ">1: sciml faster",
    "train_throughput_median": "the same with the medians",
    "inference_speedup": "per batch size: neuralop latency / sciml latency, best of all; "
    ">1: sciml faster",
    "memory": "sciml peak / neuralop peak; <1: sciml uses less",
    "memory_increment": "the same for the rise over the memory after setup (CPU: resident set)",
}


def ratios(sciml: dict, peer: dict) -> dict:
    def ratio(a, b):
        return None if a is None or b in (None, 0) else a / b

    throughput, peer_throughput = sciml["train_samples_per_s"], peer["train_samples_per_s"]
    return {
        "train_throughput": ratio(throughput["best"], peer_throughput["best"]),
        "train_throughput_median": ratio(throughput["median"], peer_throughput["median"]),
        "inference_speedup": {
            size: ratio(peer["latency_ms"][size]["best"], sciml["latency_ms"][size]["best"])
            for size in sciml["latency_ms"]
        },
        "memory": ratio(sciml["memory"]["peak_bytes"], peer["memory"]["peak_bytes"]),
        "memory_increment": ratio(
            sciml["memory"]["increment_bytes"], peer["memory"]["increment_bytes"]
        ),
    }


def comparison(record: dict) -> dict:
    """The record's row of the benchmark suite's peer table, in sciml's own format
    (:class:`sciml.experiments.bench.PeerComparison`), so that the suite reads nothing
    else of this script's record."""
    from sciml.experiments.bench import PeerComparison

    spec, ratio = record["config"], record["ratios"]
    ours, theirs = record["frameworks"]["sciml"], record["frameworks"]["neuralop"]
    batch = str(spec["batch"])
    grid = " x ".join(str(n) for n in spec["grid"])
    return PeerComparison(
        case=f"{spec['task']} {spec['preset']} {grid}, batch {batch}",
        device=record["machine"]["device"],
        parameters=(ours["params"], theirs["params"]),
        train_samples_per_s=tuple(r["train_samples_per_s"]["best"] for r in (ours, theirs)),
        peak_mib=tuple(r["memory"]["peak_bytes"] / 2**20 for r in (ours, theirs)),
        throughput_ratio=ratio["train_throughput"],
        latency_ratio_1=ratio["inference_speedup"].get("1"),
        latency_ratio_batch=ratio["inference_speedup"].get(batch),
        memory_ratio=ratio["memory"],
    ).to_dict()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> dict:
    memory_kib = None
    try:
        with open("/proc/meminfo") as meminfo:
            memory_kib = int(meminfo.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "system": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": None if memory_kib is None else round(memory_kib / 2**20, 1),
    }


def parameter_note(spec: dict, sciml_params: int, peer_params: int) -> str:
    if sciml_params == peer_params:
        return (
            f"equal ({sciml_params:,}): neuraloperator keeps the bias of each Fourier layer "
            "in its spectral convolution and none in the 1x1 skip, sciml the reverse; the "
            "same count, as the two biases add."
        )
    return (
        f"sciml {sciml_params:,}, neuraloperator {peer_params:,}: differ by "
        f"{sciml_params - peer_params:+,}"
    )


def _mib(n) -> str:
    return "-" if n is None else f"{n / 2**20:,.0f}"


def _x(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def markdown_table(record: dict) -> str:
    spec, results, ratio = record["config"], record["frameworks"], record["ratios"]
    batch = str(spec["batch"])
    memory_kind = "peak RSS MiB" if spec["device"] == "cpu" else "peak device MiB"
    lines = [
        f"| framework | params | train samples/s, best (median) | latency ms, batch 1 "
        f"| latency ms, batch {batch} | {memory_kind} (rise over setup) |",
        "|---|---|---|---|---|---|",
    ]
    for name in FRAMEWORKS:
        r = results[name]
        t = r["train_samples_per_s"]
        lines.append(
            f"| {name} | {r['params']:,} | {t['best']:.1f} ({t['median']:.1f}) "
            f"| {r['latency_ms']['1']['best']:.2f} | {r['latency_ms'][batch]['best']:.2f} "
            f"| {_mib(r['memory']['peak_bytes'])} ({_mib(r['memory']['increment_bytes'])}) |"
        )
    lines.append(
        f"| sciml / neuralop | | {_x(ratio['train_throughput'])} "
        f"({_x(ratio['train_throughput_median'])}) "
        f"| {_x(ratio['inference_speedup']['1'])} faster "
        f"| {_x(ratio['inference_speedup'][batch])} faster "
        f"| {_x(ratio['memory'])} ({_x(ratio['memory_increment'])}) |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("darcy", "burgers"), default="darcy")
    parser.add_argument("--preset", choices=("paper", "quick"), default="paper")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--batch", type=int, default=None, help="default: the preset's")
    parser.add_argument("--steps", type=int, default=5, help="optimiser steps per timed epoch")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per round")
    parser.add_argument("--latency-repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    parser.add_argument(
        "--cpus",
        type=int,
        default=None,
        help="run both on the first CPUS cores only (affinity; PyTorch threads = CPUS); "
        "default: all cores",
    )
    parser.add_argument(
        "--matmul-precision",
        choices=("highest", "tf32"),
        default="highest",
        help="float32 products in full precision in both (highest), or TF32 allowed in "
        "both on a GPU that has it",
    )
    parser.add_argument("--out", type=Path, default=None, help="the JSON record")
    parser.add_argument("--log", type=Path, default=None, help="the workers' full output")
    parser.add_argument("--worker", choices=(*FRAMEWORKS, "check"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker(args.worker, json.loads(args.spec))
        return None

    spec = make_spec(args)
    runs = {name: [] for name in FRAMEWORKS}
    log = open(args.log, "w") if args.log else open(os.devnull, "w")  # noqa: SIM115
    started = time.time()
    with log:
        same_function = launch("check", {**spec, "device": "cpu"}, log)
        for round_index in range(args.rounds):
            order = FRAMEWORKS if round_index % 2 == 0 else FRAMEWORKS[::-1]
            for name in order:
                run = launch(name, spec, log)
                runs[name].append(run)
                best = max(run["train_samples_per_s"])
                print(
                    f"round {round_index + 1}/{args.rounds} {name}: {best:.1f} samples/s, "
                    f"load {run['load_average']['before'][0]:.2f}",
                    file=sys.stderr,
                    flush=True,
                )
    results = {name: aggregate(runs[name]) for name in FRAMEWORKS}
    record = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": time.time() - started,
        "command": ["python", "benchmarks/peer_fno.py", *(argv or sys.argv[1:])],
        "machine": {
            **machine(),
            "device": args.device,
            **{f"{name}_device": results[name]["device"] for name in FRAMEWORKS},
        },
        "versions": {
            "python": platform.python_version(),
            **{p: _version(p) for p in ("jax", "jaxlib", "equinox", "optax", "numpy", "torch")},
            "neuralop": _version("neuraloperator"),
        },
        "git_revision": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "config": spec,
        "frameworks": results,
        "ratios": ratios(results["sciml"], results["neuralop"]),
        "ratio_definitions": RATIO_DEFINITIONS,
        "targets": {"train_throughput_min": THROUGHPUT_TARGET[args.device], "memory_max": 1.0},
        "notes": {
            "parameters": parameter_note(
                spec, results["sciml"]["params"], results["neuralop"]["params"]
            ),
            "same_function": same_function,
            "differences": DIFFERENCES,
        },
    }
    ratio = record["ratios"]
    record["targets"]["met"] = {
        "train_throughput": ratio["train_throughput"] >= THROUGHPUT_TARGET[args.device],
        "memory": ratio["memory"] <= 1.0,
    }
    record["comparison"] = comparison(record)
    table = markdown_table(record)
    record["table"] = table
    grid = " x ".join(str(n) for n in spec["grid"])
    print(
        f"{spec['task']} {spec['preset']}: grid {grid}, width {spec['width']}, modes "
        f"{tuple(spec['modes'])}, {spec['n_layers']} layers, projection "
        f"{spec['projection_channels']}, padding {tuple(spec['padding'])}, batch "
        f"{spec['batch']}; device {args.device}"
    )
    print(f"parameters: {record['notes']['parameters']}")
    print(table)
    if args.out is not None:
        from sciml._io import write_json

        write_json(args.out, record)
    return record


if __name__ == "__main__":
    main()
