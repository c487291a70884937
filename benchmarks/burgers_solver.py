"""Burgers solver against exponax: step cost at equal dt, error at T = 1, time to solution.

Both solve the same problem: ``u_t + (u^2/2)_x = nu u_xx`` on ``[0, 1)`` periodic,
``nu = 0.1``, from a batch of FNO-paper initial conditions
(``N(0, 625 (-Laplacian + 25 I)^-2)``, ``sciml.data.burgers``), in float32, one
process, ``jit(vmap(...))``, compilation excluded, ``block_until_ready``, median of
repeats.

- sciml: ``BurgersETDRK4`` (ETDRK4, Kassam–Trefethen coefficients, 32 points on the
  half circle), state kept in Fourier space through the ``lax.scan``.
- exponax: ``exponax.stepper.Burgers(1, 1.0, n, dt, diffusivity=nu,
  convection_scale=1.0, conservative=True, order=4 or 2)``. Its 1-D Burgers is
  ``u_t + b (1/2)(u^2)_x = nu u_xx`` with ``b = convection_scale`` (the 1/2 is always
  applied), so ``b = 1`` is our equation. ``conservative=True`` evaluates
  ``(u^2)_x`` as we do (the default ``u u_x`` is equal for band-limited ``u``). Its
  dealiasing keeps ``|k| <= (2/3)(n/2) - 1`` (ours ``3|k| < n``: one more mode); its
  ETDRK coefficients use 16 points on a unit circle (its defaults). It is stepped
  through its own ``exponax.repeat`` (physical-space state: one rfft/irfft pair per
  step more than ours) and, for the per-step ratio at equal work, also through
  ``step_fourier`` in the same scan as ours.

Errors are relative L2 at T = 1 against the exact solution, the Cole–Hopf transform
evaluated in float64 NumPy (``phi_0 = exp(-W / 2 nu)``, heat flow in Fourier space,
``u = -2 nu phi_x / phi``), max over the accuracy batch. The largest dt of the list
that meets a target gives the time to solution (per-step time x steps).

    python benchmarks/burgers_solver.py                        # 1024 and 8192, batch 32
    python benchmarks/burgers_solver.py --resolutions 1024 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import exponax
import jax
import jax.numpy as jnp
import numpy as np

from sciml.data.batched import sample_keys
from sciml.data.burgers import BurgersConfig, burgers_initial_condition
from sciml.solvers.burgers import BurgersETDRK4

NU = 0.1
T_FINAL = 1.0


def initial_conditions(n: int, batch: int, seed: int = 0) -> jax.Array:
    """``(batch, n)`` float32 FNO-paper initial conditions on ``n`` points."""
    config = BurgersConfig(fine_resolution=n, subsample=1, seed=seed)
    return jax.vmap(lambda key: burgers_initial_condition(key, config))(sample_keys(seed, 0, batch))


def cole_hopf_numpy(u0: np.ndarray, t: float, nu: float) -> np.ndarray:
    """Exact ``u(t)`` of periodic Burgers on ``[0, 1)`` for mean-zero ``u0: (batch, n)``."""
    u0 = np.asarray(u0, np.float64)
    n = u0.shape[-1]
    kappa = 2 * np.pi * np.fft.rfftfreq(n, 1.0 / n)
    regular = (kappa != 0) & (np.arange(n // 2 + 1) != n / 2)
    u_hat = np.fft.rfft(u0 - u0.mean(axis=-1, keepdims=True), axis=-1)
    potential = np.fft.irfft(
        np.where(regular, u_hat / (1j * np.where(regular, kappa, 1.0)), 0), n=n, axis=-1
    )
    exponent = -potential / (2 * nu)
    phi0 = np.exp(exponent - exponent.max(axis=-1, keepdims=True))
    phi_hat = np.fft.rfft(phi0, axis=-1) * np.exp(-nu * kappa**2 * t)
    phi = np.fft.irfft(phi_hat, n=n, axis=-1)
    phi_x = np.fft.irfft(np.where(regular, 1j * kappa * phi_hat, 0), n=n, axis=-1)
    return -2 * nu * phi_x / phi


def relative_error(u: jax.Array, exact: np.ndarray) -> float:
    u = np.asarray(u, np.float64)
    return float(np.max(np.linalg.norm(u - exact, axis=-1) / np.linalg.norm(exact, axis=-1)))


def solvers(n: int, dt: float, n_steps: int, *, fourier_scan: bool = True) -> dict:
    """``name -> jit(vmap(u0 -> u(n_steps dt)))`` over ``(batch, n)`` float32 states."""
    ours = BurgersETDRK4(n, nu=NU, dt=dt)

    def exponax_stepper(order):
        return exponax.stepper.Burgers(
            1, 1.0, n, dt, diffusivity=NU, convection_scale=1.0, conservative=True, order=order
        )

    ex4, ex2 = exponax_stepper(4), exponax_stepper(2)

    def exponax_fourier(u0):  # exponax's step in the same Fourier-space scan as ours
        v, _ = jax.lax.scan(
            lambda v, _: (ex4.step_fourier(v), None), jnp.fft.rfft(u0)[None], length=n_steps
        )
        return jnp.fft.irfft(v[0], n=n)

    repeat4 = exponax.repeat(ex4, n_steps)
    repeat2 = exponax.repeat(ex2, n_steps)
    out = {
        "sciml ETDRK4": jax.jit(jax.vmap(lambda u0: ours.rollout(u0, n_steps))),
        "exponax ETDRK4": jax.jit(jax.vmap(lambda u0: repeat4(u0[None])[0])),
        "exponax ETDRK4 (Fourier scan)": jax.jit(jax.vmap(exponax_fourier)),
        "exponax ETDRK2 (default)": jax.jit(jax.vmap(lambda u0: repeat2(u0[None])[0])),
    }
    if not fourier_scan:  # same scheme as "exponax ETDRK4"
        del out["exponax ETDRK4 (Fourier scan)"]
    return out


def interleaved_times(fns: dict, u0, repeats: int) -> dict:
    """Median and min seconds per call of each function, repeats taken round-robin so
    that a change in the machine's load hits every solver alike."""
    for fn in fns.values():
        jax.block_until_ready(fn(u0))  # compile and warm up
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(u0))
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def benchmark(n: int, args) -> dict:
    u0 = initial_conditions(n, args.batch)
    # per-step time at a common dt, from a short rollout
    dt = T_FINAL / args.timing_steps_per_unit
    timings = interleaved_times(solvers(n, dt, args.timing_steps), u0, args.repeats)
    step_s = {name: median / args.timing_steps for name, (median, _) in timings.items()}
    step_min_s = {name: best / args.timing_steps for name, (_, best) in timings.items()}
    # error at T = 1 for each dt of the list, on a smaller batch
    u0_small = u0[: args.accuracy_batch]
    exact = cole_hopf_numpy(np.asarray(u0_small), T_FINAL, NU)
    errors = {}
    for steps in args.steps:
        for name, fn in solvers(n, T_FINAL / steps, steps, fourier_scan=False).items():
            errors.setdefault(name, {})[steps] = relative_error(fn(u0_small), exact)
    return {
        "n": n,
        "batch": args.batch,
        "step_s": step_s,
        "step_min_s": step_min_s,
        "errors": errors,
    }


def time_to_solution(result: dict, target: float) -> dict:
    out = {}
    for name, by_steps in result["errors"].items():
        ok = [steps for steps, error in sorted(by_steps.items()) if error <= target]
        if ok:
            steps = ok[0]
            out[name] = (steps, steps * result["step_s"][name])
        else:
            out[name] = (None, None)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[1024, 8192])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--accuracy-batch", type=int, default=8)
    parser.add_argument("--timing-steps", type=int, default=20)
    parser.add_argument("--timing-steps-per-unit", type=int, default=100, help="dt = 1 / this")
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50, 100, 200, 500])
    parser.add_argument("--targets", type=float, nargs="+", default=[1e-3, 1e-4, 1e-5])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=str, default=None)
    args = parser.parse_args(argv)

    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}), jax {jax.__version__}, float32")
    results = []
    for n in args.resolutions:
        result = benchmark(n, args)
        results.append(result)
        ours = result["step_s"]["sciml ETDRK4"]
        print(f"\n### n = {n}, batch {args.batch}, dt = 1/{args.timing_steps_per_unit}\n")
        best = result["step_min_s"]["sciml ETDRK4"]
        print("| solver | ms / step, median (min) | ratio to sciml, median (min) |")
        print("|---|---|---|")
        for name, seconds in result["step_s"].items():
            fastest = result["step_min_s"][name]
            print(
                f"| {name} | {1e3 * seconds:.2f} ({1e3 * fastest:.2f}) "
                f"| {seconds / ours:.2f} ({fastest / best:.2f}) |"
            )
        names = list(result["errors"])
        print(f"\nrelative L2 error at T = 1 vs exact (max over {args.accuracy_batch} samples)\n")
        print("| steps (dt = 1/steps) | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for steps in args.steps:
            row = " | ".join(f"{result['errors'][name][steps]:.2e}" for name in names)
            print(f"| {steps} | {row} |")
        print("\ntime to solution for a batch of", args.batch, "(fewest steps of the list)\n")
        print("| target | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for target in args.targets:
            tts = time_to_solution(result, target)
            cells = [
                "not reached"
                if tts[name][0] is None
                else f"{tts[name][0]} steps, {tts[name][1]:.3f} s"
                for name in names
            ]
            print(f"| {target:.0e} | " + " | ".join(cells) + " |", flush=True)
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"device": str(device), "results": results}, file, indent=1, default=str)


if __name__ == "__main__":
    main()
