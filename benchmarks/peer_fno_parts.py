"""Where a training step's time goes, in sciml's FNO and in neuraloperator's, part by part.

The companion of ``peer_fno.py``: the same preset and the same two networks, and in
each framework, in its own fresh process, the time of

- one Fourier layer's parts on the padded grid, forward and forward + backward: the
  truncated real FFT, the mixing of the retained modes with the complex weights, the
  zero-filled inverse FFT, the whole spectral convolution, the 1x1 skip, the GELU;
- the whole network: forward, forward + backward of the batch loss, the optimiser
  update alone, and the training step.

sciml's parts are ``jit(vmap(...))`` of its own functions; neuraloperator's are its
``SpectralConv``'s steps as its ``forward`` runs them (``rfftn``, ``fftshift``, the
centred slice, its contraction, the zero-filled ``irfftn``), eager. Each time is the
best of several calls after two warm-up calls.

    python benchmarks/peer_fno_parts.py --task darcy --preset paper
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from peer_fno import MARKER, build_neuralop_fno, make_spec  # the sibling script

PARTS = (
    "rfft (truncated)",
    "mode mixing",
    "irfft (zero-filled)",
    "spectral conv",
    "1x1 skip",
    "gelu",
)
WHOLE = ("network forward", "forward + backward", "optimiser update", "training step")


def _best_ms(call, sync, repeats: int) -> float:
    for _ in range(2):
        sync(call())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sync(call())
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def parts_sciml(spec: dict, repeats: int) -> dict:
    import dataclasses

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from sciml.models.fno import FNO, mode_mixing_subscripts, truncated_irfftn, truncated_rfftn
    from sciml.train import TrainConfig, relative_l2
    from sciml.train.optimizers import make_optimizer, make_schedule

    jax.config.update("jax_default_matmul_precision", "highest")
    sync = jax.block_until_ready
    model = FNO(
        1,
        1,
        tuple(spec["modes"]),
        spec["width"],
        spec["n_layers"],
        projection_channels=spec["projection_channels"],
        padding=tuple(spec["padding"]),
        key=jax.random.key(0),
    )
    layer = model.layers[0]
    conv = layer.spectral
    batch, width, modes = spec["batch"], spec["width"], tuple(spec["modes"])
    padded = tuple(n + p for n, p in zip(spec["grid"], spec["padding"]))
    rng = np.random.default_rng(0)
    v = jnp.asarray(rng.standard_normal((batch, width, *padded), dtype=np.float32))
    spectrum = jax.vmap(lambda x: truncated_rfftn(x, modes))(v)
    d = len(modes)
    corner_shape = [width]
    for m in modes[:-1]:
        corner_shape += [2, m]
    corner_shape.append(modes[-1])
    subscripts = mode_mixing_subscripts(d)

    def mix(weights, z):
        w = jax.lax.complex(weights[:, 0], weights[:, 1]).reshape(
            (2,) * (d - 1) + (width,) * 2 + modes
        )
        return jnp.einsum(subscripts, z.reshape(corner_shape), w).reshape(z.shape)

    # (function of (parameters, one sample), parameters, batch): the backward pass
    # differentiates the parameters too, as a training step does
    pieces = {
        "rfft (truncated)": (lambda p, x: truncated_rfftn(x, modes), None, v),
        "mode mixing": (mix, conv.weights, spectrum),
        "irfft (zero-filled)": (lambda p, z: truncated_irfftn(z, padded), None, spectrum),
        "spectral conv": (lambda p, x: p(x), conv, v),
        "1x1 skip": (lambda p, x: p(x), layer.skip, v),
        "gelu": (lambda p, x: model.activation(x), None, v),
    }
    result = {}
    for name, (function, parameters, x) in pieces.items():
        batched = jax.vmap(function, in_axes=(None, 0))
        forward = jax.jit(batched)
        cotangent = jnp.ones_like(forward(parameters, x))
        backward = jax.jit(lambda p, x, f=batched, g=cotangent: jax.vjp(f, p, x)[1](g))
        result[name] = {
            "forward_ms": _best_ms(lambda f=forward, p=parameters, x=x: f(p, x), sync, repeats),
            "forward_backward_ms": _best_ms(
                lambda b=backward, p=parameters, x=x: b(p, x), sync, repeats
            ),
        }

    a = jnp.asarray(rng.standard_normal((batch, 1, *spec["grid"]), dtype=np.float32))
    u = jnp.asarray(rng.standard_normal((batch, 1, *spec["grid"]), dtype=np.float32))
    config = dataclasses.replace(TrainConfig.from_dict(spec["train_config"]), batch_size=batch)
    optimiser = make_optimizer(config, make_schedule(config, 1, 100))
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt_state = optimiser.init(params)
    reduce = jnp.sum if spec["loss_reduction"] == "sum" else jnp.mean

    def loss(params):
        m = eqx.combine(params, static)
        return reduce(jax.vmap(lambda x, y: relative_l2(m(x), y))(a, u))

    grad = jax.jit(jax.value_and_grad(loss))
    grads = grad(params)[1]

    @jax.jit
    def update(grads, opt_state, params):
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    @jax.jit
    def step(params, opt_state):
        value, grads = jax.value_and_grad(loss)(params)
        return update(grads, opt_state, params), value

    forward = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))
    result["network forward"] = {"forward_ms": _best_ms(lambda: forward(model, a), sync, repeats)}
    result["forward + backward"] = {"ms": _best_ms(lambda: grad(params), sync, repeats)}
    result["optimiser update"] = {
        "ms": _best_ms(lambda: update(grads, opt_state, params), sync, repeats)
    }
    result["training step"] = {"ms": _best_ms(lambda: step(params, opt_state), sync, repeats)}
    return result


def parts_neuralop(spec: dict, repeats: int) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(len(os.sched_getaffinity(0)))  # taskset narrows both
    torch.manual_seed(0)
    model = build_neuralop_fno(spec)
    conv = model.fno_blocks.convs[0]
    skip = model.fno_blocks.fno_skips[0]
    activation = model.fno_blocks.non_linearity
    batch, width, modes = spec["batch"], spec["width"], tuple(spec["modes"])
    padded = tuple(n + p for n, p in zip(spec["grid"], spec["padding"]))
    d = len(modes)
    dims = tuple(range(-d, 0))
    rng = np.random.default_rng(0)
    v = torch.from_numpy(rng.standard_normal((batch, width, *padded), dtype=np.float32))
    weight = conv.weight.tensor  # (in, out, 2 m_1, ..., m_d), centred on leading axes
    kept = weight.shape[2:]
    centred = tuple(
        slice(n // 2 - k // 2, n // 2 - k // 2 + k) for n, k in zip(padded[:-1], kept[:-1])
    )
    window = (slice(None), slice(None), *centred, slice(0, kept[-1]))
    spectrum_shape = (batch, width, *padded[:-1], padded[-1] // 2 + 1)

    def rfft(x):  # as SpectralConv.forward: rfftn, shift the leading axes, slice
        z = torch.fft.rfftn(x, norm=conv.fft_norm, dim=dims)
        if d > 1:
            z = torch.fft.fftshift(z, dim=dims[:-1])
        return z[window]

    def mix(z):
        return conv._contract(z, weight, separable=False)

    def irfft(z):  # the zero-filled spectrum, shifted back, inverse rfftn
        full = torch.zeros(spectrum_shape, dtype=z.dtype)
        full[window] = z
        if d > 1:
            full = torch.fft.fftshift(full, dim=dims[:-1])
        return torch.fft.irfftn(full, s=padded, dim=dims, norm=conv.fft_norm)

    with torch.no_grad():
        spectrum = rfft(v)
    pieces = {
        "rfft (truncated)": (rfft, v),
        "mode mixing": (mix, spectrum),
        "irfft (zero-filled)": (irfft, spectrum),
        "spectral conv": (conv, v),
        "1x1 skip": (skip, v),
        "gelu": (activation, v),
    }
    result = {}
    for name, (function, x) in pieces.items():
        with torch.inference_mode():
            forward_ms = _best_ms(lambda f=function, x=x: f(x), lambda y: y, repeats)
        source = x.detach().clone().requires_grad_(True)

        def forward_backward(f=function, source=source):
            source.grad = None
            out = f(source)
            out.backward(torch.ones_like(out))
            return source.grad

        result[name] = {
            "forward_ms": forward_ms,
            "forward_backward_ms": _best_ms(forward_backward, lambda y: y, repeats),
        }

    a = torch.from_numpy(rng.standard_normal((batch, 1, *spec["grid"]), dtype=np.float32))
    u = torch.from_numpy(rng.standard_normal((batch, 1, *spec["grid"]), dtype=np.float32))
    optimiser_spec = spec["optimizer"]
    optimiser = torch.optim.Adam(
        model.parameters(),
        lr=optimiser_spec["learning_rate"],
        weight_decay=optimiser_spec["weight_decay"],
    )
    reduce = torch.sum if spec["loss_reduction"] == "sum" else torch.mean
    axes = tuple(range(1, a.ndim))

    def forward_backward():
        optimiser.zero_grad(set_to_none=True)
        pred = model(a)
        error = torch.linalg.vector_norm(pred - u, dim=axes) / torch.linalg.vector_norm(u, dim=axes)
        reduce(error).backward()

    def step():
        forward_backward()
        optimiser.step()

    with torch.inference_mode():
        result["network forward"] = {"forward_ms": _best_ms(lambda: model(a), lambda y: y, repeats)}
    result["forward + backward"] = {"ms": _best_ms(forward_backward, lambda y: y, repeats)}
    forward_backward()
    result["optimiser update"] = {"ms": _best_ms(optimiser.step, lambda y: y, repeats)}
    result["training step"] = {"ms": _best_ms(step, lambda y: y, repeats)}
    return result


def _cell(entry: dict, key: str) -> str:
    return f"{entry[key]:.1f}" if key in entry else "-"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("darcy", "burgers"), default="darcy")
    parser.add_argument("--preset", choices=("paper", "quick"), default="paper")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None, help="the JSON of both frameworks' parts")
    parser.add_argument("--worker", choices=("sciml", "neuralop"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(args.spec)
        run = parts_sciml if args.worker == "sciml" else parts_neuralop
        print(MARKER + json.dumps(run(spec, args.repeats)), flush=True)
        return

    spec = make_spec(
        argparse.Namespace(
            task=args.task,
            preset=args.preset,
            batch=None,
            steps=1,
            repeats=1,
            latency_repeats=1,
            device="cpu",
            matmul_precision="highest",
            cpus=len(os.sched_getaffinity(0)),
        )
    )
    results = {}
    for name in ("sciml", "neuralop"):
        env = dict(os.environ, JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")
        command = [sys.executable, __file__, "--worker", name, "--spec", json.dumps(spec)]
        command += ["--repeats", str(args.repeats)]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
        if not lines:
            raise RuntimeError(f"the {name} worker failed:\n{done.stderr[-4000:]}")
        results[name] = json.loads(lines[-1][len(MARKER) :])
        results[name]["load_average"] = list(os.getloadavg())
    padded = " x ".join(str(n + p) for n, p in zip(spec["grid"], spec["padding"]))
    print(
        f"{args.task} {args.preset}: batch {spec['batch']}, width {spec['width']}, "
        f"modes {tuple(spec['modes'])}, padded grid {padded}; ms, best of {args.repeats}"
    )
    print("| part | sciml fwd | neuralop fwd | sciml fwd+bwd | neuralop fwd+bwd |")
    print("|---|---|---|---|---|")
    s, t = results["sciml"], results["neuralop"]
    for part in PARTS:
        print(
            f"| {part} | {_cell(s[part], 'forward_ms')} | {_cell(t[part], 'forward_ms')} "
            f"| {_cell(s[part], 'forward_backward_ms')} "
            f"| {_cell(t[part], 'forward_backward_ms')} |"
        )
    print(
        f"| network forward | {_cell(s['network forward'], 'forward_ms')} "
        f"| {_cell(t['network forward'], 'forward_ms')} | | |"
    )
    for part in WHOLE[1:]:
        print(f"| {part} | | | {_cell(s[part], 'ms')} | {_cell(t[part], 'ms')} |")
    if args.out:
        from sciml._io import write_json

        write_json(args.out, {"config": spec, "parts": results})


if __name__ == "__main__":
    main()
