"""Navier–Stokes solver: refinement study, step throughput and equal-accuracy peer comparison.

Three studies, one per process (the accuracy studies run in float64, the throughput one
in float32 with 64-bit types off, so that no peer silently promotes to float64):

``--study refinement`` (float64). The FNO set-up (nu = 1e-3, forcing 0.1 (sin + cos)
2 pi (x + y), initial vorticity from the GRF alpha = 2.5, tau = 7) on ``s x s`` points up
to ``T``. The fast scheme (ETDRK4) at several steps, including the default CFL step, is
compared with the released generator's scheme at dt = 1e-4 and with a fine-step ETDRK4
reference (dt = 1/512). Both schemes share the spatial discretisation, so every number is
a temporal error. Relative L2 at T, worst over the samples.

``--study throughput`` (float32). Time per step (compile excluded, ``block_until_ready``,
median of repeats, ``jit(vmap)`` over a batch, ``lax.scan`` over steps in Fourier space)
of our two schemes, exponax's ``NavierStokesVorticity`` (ETDRK, orders 2 and 4, 2/3
dealiasing, domain_extent 1, diffusivity nu, drag 0) and jax-cfd's spectral
``NavierStokes2D`` (smooth=True, its 2/3 filter) with ``crank_nicolson_rk4``. Unforced:
exponax's vorticity stepper has no arbitrary forcing (only the Kolmogorov variant, with
drag), and jax-cfd takes forcing as a velocity field; the forcing is one addition per
stage for us. Note exponax's stream function is ``Laplacian^-1 w`` (ours is
``-Laplacian^-1 w``): its solution of ``w0`` is ``-(ours of -w0)``, which is how we feed it.

``--study accuracy`` (float64). An energetic unforced flow (the GRF scaled to max|u| ~ 1)
to ``T = 1``; every scheme at halving steps against a common reference (our ETDRK4 at a
fine step) and against its own fine-step solution (its temporal error alone; the peers'
dealiasing differs from ours by a small spatial term). Time-to-solution = (T / largest dt
meeting the target) x measured time per step at that resolution (float64, same process).

    python benchmarks/navier_stokes_solver.py --study refinement --resolution 128 --t-final 3
    python benchmarks/navier_stokes_solver.py --study throughput --resolutions 128 256 --batch 4
    python benchmarks/navier_stokes_solver.py --study accuracy --resolution 128 --target 1e-4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=["refinement", "throughput", "accuracy"], required=True)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--nu", type=float, default=1e-3)
    parser.add_argument("--t-final", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed throughput run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target", type=float, default=1e-4)
    return parser.parse_args(argv)


ARGS = parse_args(sys.argv[1:])
if ARGS.study in ("refinement", "accuracy"):
    jax.config.update("jax_enable_x64", True)

from sciml.data.navier_stokes import SPEED_BOUND  # noqa: E402
from sciml.fields import periodic_grf  # noqa: E402
from sciml.solvers.navier_stokes import (  # noqa: E402
    ETDRK4,
    CrankNicolsonEuler,
    cfl_time_step,
    fno_forcing,
    make_stepper,
    rollout,
    velocity_from_vorticity,
)


def relative_l2(a, b) -> float:
    """Worst relative L2 error over the leading (sample) axis."""
    a, b = np.asarray(a).reshape(len(a), -1), np.asarray(b).reshape(len(b), -1)
    return float(np.max(np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)))


def fno_initial_vorticity(count, s, dtype):
    return periodic_grf(jax.random.key(0), count, (s, s), alpha=2.5, tau=7.0, dtype=dtype)


def timed(fn, *args, repeats):
    jax.block_until_ready(fn(*args))  # compile + warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ------------------------------------------------------------------------ refinement


def refinement_study(args):
    s, t_final, nu = args.resolution, args.t_final, args.nu
    w0 = fno_initial_vorticity(args.samples, s, jnp.float64)
    forcing = fno_forcing(s, jnp.float64)

    def final_state(scheme, dt):
        stepper, steps = make_stepper(s, nu=nu, scheme=scheme, forcing=forcing, dt=dt)
        run = jax.jit(
            jax.vmap(lambda w: rollout(stepper, w, num_frames=t_final, steps_per_frame=steps))
        )
        start = time.perf_counter()
        frames = jax.block_until_ready(run(w0))
        return frames[:, -1], stepper.dt, steps, time.perf_counter() - start

    reference, _, _, _ = final_state("fast", 1 / 512)
    half, _, _, _ = final_state("fast", 1 / 256)
    paper, _, _, paper_s = final_state("paper", 1e-4)
    speeds = []
    print(
        f"\n### Refinement study: s = {s}, nu = {nu}, T = {t_final}, {args.samples} FNO samples\n"
    )
    print(
        "reference ETDRK4 dt = 1/512; its change from dt = 1/256: "
        f"{relative_l2(half, reference):.1e}"
    )
    print(
        f"paper scheme (dt = 1e-4) vs reference: **{relative_l2(paper, reference):.2e}** "
        f"({paper_s:.1f} s incl. compile)\n"
    )
    print(
        "| scheme | dt | RHS evals / unit time | rel. L2 vs paper dt=1e-4 "
        "| rel. L2 vs fine ETDRK4 |"
    )
    print("|---|---|---|---|---|")
    cfl_dt = cfl_time_step(SPEED_BOUND, s)
    rows = [("paper (CN / Euler)", 1e-4, "paper")]
    rows += [(f"ETDRK4 dt = 1/{n}", 1 / n, "fast") for n in (2, 4, 8, 16, 32)]
    rows.append((f"ETDRK4 CFL default (C = 0.5, |u| <= {SPEED_BOUND})", cfl_dt, "fast"))
    for label, dt, scheme in rows:
        final = paper if scheme == "paper" else final_state(scheme, dt)[0]
        evals = round(1 / dt) * (1 if scheme == "paper" else 4)
        print(
            f"| {label} | {dt:.3g} | {evals} | {relative_l2(final, paper):.2e} | "
            f"{relative_l2(final, reference):.2e} |"
        )
    for w in np.asarray(reference):
        u, v = velocity_from_vorticity(w)
        speeds.append(float(jnp.max(jnp.sqrt(u**2 + v**2))))
    print(f"\nmax |u| at T over the samples: {max(speeds):.3f}")


# ------------------------------------------------------------------------ peers


def peer_steppers(s, nu, dt):
    """name -> (step on one rfft2 spectrum (s, s//2+1), sign): sign = -1 means the peer
    solves the mirror convention and is fed ``-w0`` (its output negated)."""
    import exponax
    import jax_cfd.base as cfd
    import jax_cfd.spectral as cfd_spectral

    ours_fast = ETDRK4(s, nu=nu, dt=dt)
    ours_paper = CrankNicolsonEuler(s, nu=nu, dt=dt)
    steppers = {
        "sciml paper (CN/Euler, 1st order)": (ours_paper.step, 1),
        "sciml fast (ETDRK4)": (ours_fast.step, 1),
    }
    for order in (4, 2):
        stepper = exponax.stepper.NavierStokesVorticity(
            2, 1.0, s, dt, diffusivity=nu, drag=0.0, order=order
        )
        steppers[f"exponax ETDRK{order}"] = (
            lambda w_hat, stepper=stepper: stepper.step_fourier(w_hat[None])[0],
            -1,
        )
    grid = cfd.grids.Grid((s, s), domain=((0.0, 1.0), (0.0, 1.0)))
    equation = cfd_spectral.equations.NavierStokes2D(nu, grid, smooth=True)
    steppers["jax-cfd CN-RK4"] = (cfd_spectral.time_stepping.crank_nicolson_rk4(equation, dt), 1)
    return steppers


def make_run(step, sign, s, steps):
    def one(w0):
        w_hat = jnp.fft.rfft2(sign * w0)
        w_hat, _ = jax.lax.scan(lambda c, _: (step(c), None), w_hat, None, length=steps)
        return sign * jnp.fft.irfft2(w_hat, s=(s, s)).astype(w0.dtype)

    return jax.jit(jax.vmap(one))


def throughput_study(args):
    print(
        f"\n### Step throughput (float32, batch {args.batch}, unforced, nu = {args.nu}, "
        f"median of {args.repeats} runs of {args.steps} steps)\n"
    )
    print(
        "| s | scheme | ms / step (batch) | us / step / sample | RHS evals / step | "
        "time / step vs sciml fast |"
    )
    print("|---|---|---|---|---|---|")
    for s in args.resolutions:
        w0 = fno_initial_vorticity(args.batch, s, jnp.float32)
        results = {}
        for name, (step, sign) in peer_steppers(s, args.nu, 1e-3).items():
            run = make_run(step, sign, s, args.steps)
            results[name] = timed(run, w0, repeats=args.repeats) / args.steps
        fast = results["sciml fast (ETDRK4)"]
        evals = {"sciml paper (CN/Euler, 1st order)": 1, "jax-cfd CN-RK4": 5}
        for name, per_step in results.items():
            print(
                f"| {s} | {name} | {per_step * 1e3:.2f} | {per_step / args.batch * 1e6:.0f} | "
                f"{evals.get(name, 4 if 'ETDRK4' in name or 'fast' in name else 2)} | "
                f"{per_step / fast:.2f} |"
            )


def accuracy_study(args):
    s, nu, t_final = args.resolution, args.nu, 1.0
    targets = (1e-3, args.target, 1e-6)
    w0 = fno_initial_vorticity(1, s, jnp.float64)
    u, v = velocity_from_vorticity(w0[0])
    w0 = w0 / float(jnp.max(jnp.sqrt(u**2 + v**2)))  # max|u| = 1
    fine_steps = 1024
    common = make_run(ETDRK4(s, nu=nu, dt=t_final / fine_steps).step, 1, s, fine_steps)(w0)
    print(
        f"\n### Equal accuracy: s = {s}, nu = {nu}, unforced, max|u0| = 1, T = {t_final} "
        f"(float64, one sample)\n"
    )
    print(
        "common reference: sciml ETDRK4 at dt = 1/1024. The paper scheme shares our spatial "
        "discretisation, so the common reference is its own fine-step limit too; the peers' "
        "own references are their solutions at dt = 1/2048.\n"
    )
    print("| scheme | dt | rel. L2 vs common ref | rel. L2 vs own fine dt (temporal) | ms / step |")
    print("|---|---|---|---|---|")
    summary = {}
    for name in peer_steppers(s, nu, 0.1):
        is_paper = "paper" in name
        step_counts = [2**k for k in (range(6, 17) if is_paper else range(2, 10))]
        if is_paper:
            own = common
        else:
            step, sign = peer_steppers(s, nu, t_final / 2048)[name]
            own = make_run(step, sign, s, 2048)(w0)
        rows, per_steps = [], []
        for steps in step_counts:
            step, sign = peer_steppers(s, nu, t_final / steps)[name]
            run = make_run(step, sign, s, steps)
            per_steps.append(timed(run, w0, repeats=3) / steps)
            final = run(w0)
            error, own_error = relative_l2(final, common), relative_l2(final, own)
            rows.append((steps, own_error))
            print(
                f"| {name} | 1/{steps} | {error:.2e} | {own_error:.2e} | "
                f"{per_steps[-1] * 1e3:.2f} |"
            )
        summary[name] = (rows, statistics.median(per_steps))
    print(
        "\nTime to solution = steps x median time per step, at the largest tested dt whose "
        "temporal error (vs own fine dt) meets the target:\n"
    )
    print(
        "| scheme | ms / step | "
        + " | ".join(f"target {x:g}: dt, time (ratio)" for x in targets)
        + " |"
    )
    print("|---|---|" + "---|" * len(targets))
    fast_rows, fast_per_step = summary["sciml fast (ETDRK4)"]

    def time_to(rows, per_step, target):
        for steps, error in rows:
            if np.isfinite(error) and error <= target:
                return steps, steps * per_step
        return None

    for name, (rows, per_step) in summary.items():
        cells = []
        for target in targets:
            mine, fast = time_to(rows, per_step, target), time_to(fast_rows, fast_per_step, target)
            if mine is None:
                cells.append("not reached")
            else:
                ratio = f"{mine[1] / fast[1]:.1f}x" if fast else "-"
                cells.append(f"1/{mine[0]}, {mine[1]:.3f} s ({ratio})")
        print(f"| {name} | {per_step * 1e3:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    {"refinement": refinement_study, "throughput": throughput_study, "accuracy": accuracy_study}[
        ARGS.study
    ](ARGS)
