"""Training and inference throughput of the operator models at the papers' Darcy sizes.

Every model maps the Darcy coefficient to the solution, 1 -> 1 channel, on one grid
(85 x 85 by default, the FNO paper's Darcy resolution), built from the ``paper``
presets' model options: FNO (width 32, 12 modes, padding 9), MgNO (24 channels, 4
layers, [[1,0]] x 5 + [[2,0]], the MgNO paper's Darcy model), U-Net (32 channels, 4
levels), DeepONet (convolutional branch, 128 basis functions) and POD-DeepONet (64 POD
modes of random "training outputs"). The models are timed one after another in this
process on the same random batch, so their ratios are comparable; a training step is
``value_and_grad`` of the mean relative L2 plus an Adam update under one ``jit``, as
in ``fit``'s step-by-step epoch. Timings exclude compilation; the best and median of
several repeats are printed.

    python benchmarks/operator_throughput.py
    python benchmarks/operator_throughput.py --resolution 43 --models fno mgno --steps 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from fno_throughput import timed  # the sibling script (benchmarks/ is on the path)

from sciml.experiments import build_model, get_experiment
from sciml.models import count_parameters
from sciml.tasks import ModelSpec
from sciml.train import relative_l2, trainable_filter

MODELS = ("fno", "mgno", "unet", "deeponet", "pod-deeponet")


def build(name: str, resolution: int):
    """The ``paper`` Darcy preset's network for ``name`` on a ``resolution`` grid."""
    experiment = get_experiment("darcy", name, "paper")
    targets = np.random.default_rng(0).standard_normal((200, 1, resolution, resolution))
    spec = ModelSpec(1, 1, (resolution, resolution), False, data=experiment.data, targets=targets)
    return build_model(name, spec, experiment.model_config, key=jax.random.key(0))


def bench(name: str, resolution: int, batch: int, steps: int, repeats: int) -> dict:
    model = build(name, resolution)
    # the trainable arrays; the rest (a POD basis, say) is held fixed, as in fit
    params, static = eqx.partition(model, trainable_filter(model))
    optimiser = optax.adam(1e-3)
    opt_state = optimiser.init(params)
    a = jax.random.normal(jax.random.key(1), (batch, 1, resolution, resolution), jnp.float32)
    u = jax.random.normal(jax.random.key(2), (batch, 1, resolution, resolution), jnp.float32)

    @jax.jit
    def train_step(params, opt_state, a, u):
        def loss_fn(params):
            m = eqx.combine(params, static)
            return jnp.mean(jax.vmap(lambda x, y: relative_l2(m(x), y))(a, u))

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    start = time.perf_counter()
    state = jax.block_until_ready(train_step(params, opt_state, a, u))
    compile_s = time.perf_counter() - start

    def run_steps():
        p, s, loss = state
        for _ in range(steps):
            p, s, loss = train_step(p, s, a, u)
        return loss

    times = timed(run_steps, repeats)
    forward = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))
    latency = {}
    for size in (1, batch):
        jax.block_until_ready(forward(model, a[:size]))
        latency[size] = 1e3 * min(timed(lambda size=size: forward(model, a[:size]), 5 * repeats))
    return {
        "params": count_parameters(params),
        "compile_s": compile_s,
        "best": batch * steps / min(times),
        "median": batch * steps / statistics.median(times),
        "latency": latency,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=85)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--steps", type=int, default=5, help="training steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}), jax {jax.__version__}, float32")
    print(f"Darcy {args.resolution} x {args.resolution}, batch {args.batch}, paper-preset models")
    print(
        "| model | params | train samples/s (best / median) | compile s "
        f"| infer ms, batch 1 | infer ms, batch {args.batch} |"
    )
    print("|" + "---|" * 6)
    for name in args.models:
        result = bench(name, args.resolution, args.batch, args.steps, args.repeats)
        print(
            f"| {name} | {result['params']:,} | {result['best']:.1f} / {result['median']:.1f} "
            f"| {result['compile_s']:.1f} | {result['latency'][1]:.2f} "
            f"| {result['latency'][args.batch]:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
