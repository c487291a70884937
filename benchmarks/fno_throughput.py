"""Training and inference throughput of the paper's Darcy FNO.

The model is the 2-D FNO of Li et al. (ICLR 2021) for Darcy flow: 1 -> 1 channels,
modes (12, 12), width 32, 4 Fourier layers, projection 128, two coordinate channels,
with and without the reference code's 9 points of domain padding. A training step is
``value_and_grad`` of the mean relative L2 error over a batch plus an Adam update, all
under one ``jit``; inference is ``jit(vmap(model))``. Timings exclude compilation and
take the best of several repeats (the median is printed too).

    python benchmarks/fno_throughput.py                 # 85 x 85 and 43 x 43, padding 0 and 9
    python benchmarks/fno_throughput.py --resolutions 85 --steps 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from sciml.models.fno import FNO, count_parameters
from sciml.train import relative_l2


def make_train_step(optimiser: optax.GradientTransformation):
    @eqx.filter_jit
    def train_step(model, opt_state, a, u):
        def loss_fn(model):
            return jnp.mean(jax.vmap(lambda x, y: relative_l2(model(x), y))(a, u))

        loss, grads = eqx.filter_value_and_grad(loss_fn)(model)
        updates, opt_state = optimiser.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    return train_step


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return times


def bench_training(resolution: int, padding: int, batch: int, steps: int, repeats: int) -> dict:
    key = jax.random.key(0)
    model_key, a_key, u_key = jax.random.split(key, 3)
    model = FNO(1, 1, (12, 12), 32, 4, projection_channels=128, padding=padding, key=model_key)
    a = jax.random.normal(a_key, (batch, 1, resolution, resolution), jnp.float32)
    u = jax.random.normal(u_key, (batch, 1, resolution, resolution), jnp.float32)
    optimiser = optax.adam(1e-3)
    opt_state = optimiser.init(eqx.filter(model, eqx.is_array))
    train_step = make_train_step(optimiser)

    start = time.perf_counter()
    state = train_step(model, opt_state, a, u)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - start

    def run_steps():
        model_, opt_state_, loss = state
        for _ in range(steps):
            model_, opt_state_, loss = train_step(model_, opt_state_, a, u)
        return loss

    times = timed(run_steps, repeats)
    return {
        "params": count_parameters(model),
        "compile_s": compile_s,
        "samples_per_s": batch * steps / min(times),
        "samples_per_s_median": batch * steps / statistics.median(times),
    }


def bench_inference(resolution: int, padding: int, batch: int, repeats: int) -> float:
    """Best latency in milliseconds of one jitted, vmapped forward pass."""
    model = FNO(1, 1, (12, 12), 32, 4, padding=padding, key=jax.random.key(0))
    a = jax.random.normal(jax.random.key(1), (batch, 1, resolution, resolution), jnp.float32)
    forward = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))
    jax.block_until_ready(forward(model, a))
    return 1e3 * min(timed(lambda: forward(model, a), repeats))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[85, 43])
    parser.add_argument("--paddings", type=int, nargs="+", default=[0, 9])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10, help="training steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}), jax {jax.__version__}, float32")
    header = (
        "| grid | padding | params | train samples/s (best / median) | compile s "
        f"| infer ms, batch 1 | infer ms, batch {args.batch} |"
    )
    print(header)
    print("|" + "---|" * 7)
    for resolution in args.resolutions:
        for padding in args.paddings:
            train = bench_training(resolution, padding, args.batch, args.steps, args.repeats)
            one = bench_inference(resolution, padding, 1, 5 * args.repeats)
            many = bench_inference(resolution, padding, args.batch, 5 * args.repeats)
            print(
                f"| {resolution}x{resolution} | {padding} | {train['params']:,} "
                f"| {train['samples_per_s']:.1f} / {train['samples_per_s_median']:.1f} "
                f"| {train['compile_s']:.1f} | {one:.2f} | {many:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
