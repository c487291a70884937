"""Neural ODE adjoints: gradient checks against finite differences, and their cost.

1. Gradient checks (float64). For each adjoint (``recursive-checkpoint``,
   ``backsolve``):

   * a small MLP neural ODE (2 -> 16 -> 2, tanh; Tsit5, fixed step 1/64, three saved
     times): the full gradient with respect to every parameter and ``y0`` against
     central differences (step 1e-5), as ``max |g - g_fd| / max |g_fd|``;
   * the quick presets' neural operators of ``burgers-trajectory`` (state-space and
     latent; 64 points, 10 frames) on one Burgers-like input: directional derivatives
     of the relative L2 loss along 4 random unit directions in parameter space against
     central differences (step 1e-6), as the largest relative difference.

2. Disagreement of the two adjoints: the MLP's gradient by backsolve against the
   checkpointed (exact discrete) gradient at steps 1/4, 1/16, 1/64.

3. Cost (float32, the quick preset's ``neural-ode`` model and data size): forward
   (``jit(vmap(model))``) and backward (``value_and_grad`` of the mean relative L2 loss,
   which includes its forward) per sample, for both adjoints, over a batch. Timings
   exclude compilation; best and median of several repeats.

    python benchmarks/neural_ode_adjoints.py --out benchmarks/results/neural-ode-cpu-2core
    python benchmarks/neural_ode_adjoints.py --parts cost --repeats 15
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402

from sciml._io import write_json  # noqa: E402
from sciml.experiments import build_model, get_experiment  # noqa: E402
from sciml.experiments.config import replace  # noqa: E402
from sciml.experiments.record import environment  # noqa: E402
from sciml.models import count_parameters  # noqa: E402
from sciml.models.neural_ode import ADJOINTS, NeuralODE, make_adjoint  # noqa: E402
from sciml.tasks import ModelSpec  # noqa: E402
from sciml.train import relative_l2  # noqa: E402


class MLPField(eqx.Module):
    mlp: eqx.nn.MLP

    def __call__(self, t, y):
        return self.mlp(y)


def mlp_gradient_error(adjoint: str) -> float:
    field = MLPField(
        eqx.nn.MLP(2, 2, 16, 1, activation=jnp.tanh, key=jax.random.key(0), dtype=jnp.float64)
    )
    y0 = jnp.array([0.7, -0.4])
    flat, unravel = ravel_pytree((eqx.filter(field, eqx.is_inexact_array), y0))
    static = eqx.filter(field, eqx.is_inexact_array, inverse=True)
    ts = jnp.array([0.0, 0.4, 1.0])
    weights = jnp.array([[0.0, 0.0], [1.0, -2.0], [0.5, 3.0]])

    def loss(vector):
        params, start = unravel(vector)
        model = NeuralODE(
            eqx.combine(params, static),
            solver=diffrax.Tsit5(),
            stepsize_controller=diffrax.ConstantStepSize(),
            dt0=1 / 64,
            adjoint=make_adjoint(adjoint),
        )
        return jnp.sum(weights * jnp.sin(model(start, ts)))

    gradient = np.asarray(jax.jit(jax.grad(loss))(flat))
    eps = 1e-5
    steps = eps * jnp.eye(flat.size)
    losses = jax.jit(jax.vmap(loss))
    central = np.asarray((losses(flat + steps) - losses(flat - steps)) / (2 * eps))
    return float(np.max(np.abs(gradient - central)) / np.max(np.abs(central)))


def adjoint_disagreement(dt0: float) -> float:
    """max |g_backsolve - g_checkpoint| / max |g_checkpoint| of the MLP loss's parameter
    gradient at a fixed Tsit5 step ``dt0``: how far the continuous adjoint, solved
    backwards, is from the exact gradient of the discrete solve."""
    field = MLPField(
        eqx.nn.MLP(2, 2, 16, 1, activation=jnp.tanh, key=jax.random.key(0), dtype=jnp.float64)
    )
    y0, ts = jnp.array([0.7, -0.4]), jnp.array([0.0, 0.4, 1.0])

    def gradient(adjoint):
        def loss(field):
            model = NeuralODE(
                field,
                solver=diffrax.Tsit5(),
                stepsize_controller=diffrax.ConstantStepSize(),
                dt0=dt0,
                adjoint=make_adjoint(adjoint),
            )
            return jnp.sum(jnp.sin(model(y0, ts)))

        grads = eqx.filter_jit(eqx.filter_grad(loss))(field)
        return ravel_pytree(eqx.filter(grads, eqx.is_inexact_array))[0]

    exact, backsolve = gradient("recursive-checkpoint"), gradient("backsolve")
    return float(jnp.max(jnp.abs(backsolve - exact)) / jnp.max(jnp.abs(exact)))


def _burgers_like_sample(n: int, dtype) -> tuple[jax.Array, jax.Array]:
    x = np.arange(n) / n
    u0 = 0.6 * np.sin(2 * np.pi * x) + 0.2 * np.cos(4 * np.pi * x + 0.3)
    # A target trajectory of decaying, shifting copies: any smooth target does here.
    frames = np.stack(
        [np.exp(-0.5 * t) * np.roll(u0, k) for k, t in enumerate(np.arange(1, 11) * 0.1)]
    )
    return jnp.asarray(u0[None], dtype), jnp.asarray(frames, dtype)


def quick_model(model_name: str, adjoint: str):
    """``(model, data)``: the quick ``burgers-trajectory`` preset's model with ``adjoint``,
    built for one input frame -> ``n_frames`` frames, and the preset's data config."""
    experiment = get_experiment("burgers-trajectory", model_name, "quick")
    experiment = replace(experiment, model_config={"adjoint": adjoint})
    data = experiment.data
    spec = ModelSpec(1, data.n_frames, (data.resolution,), True, data=data)
    return build_model(model_name, spec, experiment.model_config, key=jax.random.key(0)), data


def operator_gradient_error(model_name: str, adjoint: str, directions: int = 4) -> dict:
    model, data = quick_model(model_name, adjoint)
    model = jax.tree.map(lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, model)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)
    u0, target = _burgers_like_sample(data.resolution, jnp.float64)

    def loss(vector):
        return relative_l2(eqx.combine(unravel(vector), static)(u0), target)

    gradient = jax.jit(jax.grad(loss))(flat)
    keys = jax.random.split(jax.random.key(1), directions)
    eps = 1e-6
    losses = jax.jit(loss)
    errors = []
    for key in keys:
        direction = jax.random.normal(key, flat.shape, flat.dtype)
        direction = direction / jnp.linalg.norm(direction)
        fd = (losses(flat + eps * direction) - losses(flat - eps * direction)) / (2 * eps)
        ad = jnp.dot(gradient, direction)
        errors.append(float(abs(ad - fd) / abs(fd)))
    return {"parameters": int(flat.size), "max_relative_error": max(errors), "errors": errors}


def _timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return times


def cost(adjoint: str, batch: int, repeats: int) -> dict:
    model, data = quick_model("neural-ode", adjoint)
    n, frames = data.resolution, data.n_frames
    u0 = jax.random.normal(jax.random.key(2), (batch, 1, n), jnp.float32)
    target = jax.random.normal(jax.random.key(3), (batch, frames, n), jnp.float32)

    forward = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))

    @eqx.filter_jit
    def value_and_grad(m, x, y):
        def loss(m):
            return jnp.mean(jax.vmap(lambda a, u: relative_l2(m(a), u))(x, y))

        return eqx.filter_value_and_grad(loss)(m)

    started = time.perf_counter()
    jax.block_until_ready(forward(model, u0))
    forward_compile = time.perf_counter() - started
    started = time.perf_counter()
    jax.block_until_ready(value_and_grad(model, u0, target))
    backward_compile = time.perf_counter() - started
    f_times = _timed(lambda: forward(model, u0), repeats)
    b_times = _timed(lambda: value_and_grad(model, u0, target), repeats)
    return {
        "adjoint": adjoint,
        "batch": batch,
        "parameters": count_parameters(model),
        "forward_ms_per_sample_best": 1e3 * min(f_times) / batch,
        "forward_ms_per_sample_median": 1e3 * statistics.median(f_times) / batch,
        "forward_and_backward_ms_per_sample_best": 1e3 * min(b_times) / batch,
        "forward_and_backward_ms_per_sample_median": 1e3 * statistics.median(b_times) / batch,
        "forward_compile_s": forward_compile,
        "backward_compile_s": backward_compile,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for adjoints.json")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["checks", "disagreement", "cost"],
        choices=["checks", "disagreement", "cost"],
    )
    args = parser.parse_args(argv)
    record = {"load_average_start": os.getloadavg(), "gradient_checks": {}, "cost": []}
    if "disagreement" in args.parts:
        record["adjoint_disagreement"] = {}
        for dt0 in (1 / 4, 1 / 16, 1 / 64):
            difference = adjoint_disagreement(dt0)
            record["adjoint_disagreement"][str(dt0)] = difference
            print(f"backsolve against checkpointed gradient, dt0 = {dt0}: {difference:.2e}")
    for adjoint in ADJOINTS if "checks" in args.parts else ():
        error = mlp_gradient_error(adjoint)
        record["gradient_checks"][f"mlp/{adjoint}"] = {"max_relative_error": error}
        print(f"gradient check, MLP neural ODE, {adjoint}: {error:.2e}", flush=True)
        for model_name in ("neural-ode", "neural-ode-latent"):
            result = operator_gradient_error(model_name, adjoint)
            record["gradient_checks"][f"{model_name}/{adjoint}"] = result
            print(
                f"gradient check, {model_name} ({result['parameters']} parameters), {adjoint}: "
                f"{result['max_relative_error']:.2e} over 4 directions",
                flush=True,
            )
    for adjoint in ADJOINTS if "cost" in args.parts else ():
        result = cost(adjoint, args.batch, args.repeats)
        record["cost"].append(result)
        print(
            f"{adjoint}: forward {result['forward_ms_per_sample_best']:.2f} ms/sample "
            f"(median {result['forward_ms_per_sample_median']:.2f}), forward+backward "
            f"{result['forward_and_backward_ms_per_sample_best']:.2f} ms/sample "
            f"(median {result['forward_and_backward_ms_per_sample_median']:.2f}); compile "
            f"{result['forward_compile_s']:.1f} s / {result['backward_compile_s']:.1f} s",
            flush=True,
        )
    record["load_average_end"] = os.getloadavg()
    record.update(environment())
    if args.out is not None:
        write_json(args.out / f"adjoints-{'-'.join(args.parts)}.json", record)
    print(json.dumps({"load_average": [record["load_average_start"], record["load_average_end"]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
