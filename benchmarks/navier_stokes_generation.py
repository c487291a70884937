"""Samples per second of the Navier–Stokes task generator, on whatever device JAX uses.

Modes:

``--mode rate`` (default): the compiled batch generator's samples/s (compile excluded) for
the quick preset (the full horizon) and for the paper config (nu = 1e-3, T = 50, solved
on 256^2). On a CPU the paper config is timed over ``--horizon`` frames and scaled to
T = 50 (the cost per frame is a fixed number of steps), which the table says.

``--mode generate``: generate a whole data set (the paper's 1000 + 200 samples by
default) with a progress log, and report the wall time and samples/s. Meant for a GPU:

    python benchmarks/navier_stokes_generation.py --mode generate --config paper \
        --batch-size 64 --log ns-paper-generation.log

``--mode resolution``: the cost and error of cheaper solver settings for the paper config
(nu = 1e-3, T = 50, stored at 64^2). For ``--samples`` samples (the generator's keys) it
solves the reference (256^2 at the default CFL step, the generator's data) and each
candidate (``--resolutions`` times ``--factors``: the default CFL step of that solver grid
times the factor), all from the same initial vorticity: the generator draws ``w0`` from
white noise on the solver grid, so a 128^2 draw is a different function; here ``w0`` is
drawn on 256^2 as the generator does and a coarser solve starts from its Fourier modes
``|k_x|, |k_y| < s/2`` (the coarse grid's modes without its Nyquist row and column):
the same function but for modes that decay like ``exp(-nu |k|^2 t)``, by more than
e^-40 at t = 1 for s >= 64. For each
setting it reports the relative L2 difference from the reference over all stored frames
(t = 1..T at 64^2; the largest over the samples and the mean), the time per sample of the
compiled program (compile excluded, on however many cores the process is given: run it
pinned to one) and that time times 1000 + 200, then picks the cheapest setting whose
largest difference is below ``--tolerance`` and that none of the first
``--stability-samples`` samples of its own generator (its own draws of ``w0``, to T) blows
up. The reference data are float32, whose
round-off at T = 50 is larger than 1e-4, so ``--float64`` solves the reference, the coarser
grids and the reference grid's largest step again in float64 and picks, second, the
cheapest setting that in float64 is within ``--tolerance`` of the float64 reference and in
float32 is no farther from it than the float32 reference is:

    taskset -c 1 python benchmarks/navier_stokes_generation.py --mode resolution \
        --resolutions 256 128 64 --factors 1 2 4 8 16 --float64 --stability-samples 200 \
        --log ns-resolution.jsonl

``--solve-resolution`` and ``--dt`` override the paper config's solver grid and step in
the other two modes, e.g. to time a setting chosen here on all cores.

Every mode prints a markdown table and appends a JSON record to ``--log`` if given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from sciml.data.batched import sample_keys, solve_in_batches
from sciml.data.navier_stokes import (
    NavierStokesConfig,
    _make_batch_solver,
    generate_navier_stokes,
    generation_rate,
    make_stepper_for,
)
from sciml.experiments import get_experiment
from sciml.fields import periodic_grf
from sciml.solvers.navier_stokes import rollout

QUICK = get_experiment("navier-stokes", "fno", "quick").data
"""Quick preset: 64^2 solve, 32^2 stored, nu = 1e-3, T = 20 (10 input + 10 target frames),
ETDRK4 at dt = 1/8 (160 steps). dt = 1/8 is above the advective CFL limit (C ~ 2.4 for
max|u| ~ 0.3) and is stable only because viscosity damps the high modes at this
resolution and nu; dt = 1/4 blew up on some of 1000 samples. Its error is ~7e-7 relative
(vs dt = 1/64, 16 samples, all 20 frames)."""

PAPER = NavierStokesConfig()


def log_record(path, record):
    if path:
        with open(path, "a") as file:
            file.write(json.dumps(record) + "\n")


def device_name() -> str:
    device = jax.devices()[0]
    return f"{device.platform}:{getattr(device, 'device_kind', '')}"


def paper_from_args(args) -> NavierStokesConfig:
    """The paper config with the solver grid and step of ``--solve-resolution`` / ``--dt``."""
    return dataclasses.replace(PAPER, solve_resolution=args.solve_resolution, dt=args.dt)


def rate_mode(args):
    rows = []
    quick = generation_rate(QUICK, batch_size=args.batch_size, repeats=args.repeats)
    rows.append(("quick", QUICK, quick, "full horizon"))
    paper_config = paper_from_args(args)
    paper = generation_rate(paper_config, batch_size=args.paper_batch_size, horizon=args.horizon)
    rows.append(
        ("paper nu=1e-3", paper_config, paper, f"estimated from {args.horizon} of 50 frames")
    )
    print(f"\n### Navier–Stokes generation rate on {device_name()} ({platform.processor()})\n")
    print(
        "| config | solve / store | T | scheme, dt | batch | compile (s) | samples/s | "
        "time for 1000 + 200 | note |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, config, result, note in rows:
        total = (config.n_train + config.n_test) / result["samples_per_s"]
        n_total = config.n_train + config.n_test
        print(
            f"| {label} | {config.solve_resolution} / {config.resolution} | "
            f"{config.t_final} | {config.scheme}, {result['dt']:.4g} | "
            f"{result['batch_size']} | {result['compile_s']:.1f} | "
            f"{result['samples_per_s']:.3g} | {total:.0f} s ({n_total} samples) | {note} |"
        )
        log_record(
            args.log,
            {
                "mode": "rate",
                "label": label,
                "config": config.to_dict(),
                "device": device_name(),
                **result,
            },
        )


def generate_mode(args):
    config = {"quick": QUICK, "paper": paper_from_args(args)}[args.config]
    if args.n_train is not None:
        config = dataclasses.replace(config, n_train=args.n_train)
    if args.n_test is not None:
        config = dataclasses.replace(config, n_test=args.n_test)
    n_total = config.n_train + config.n_test
    done = 0
    start = time.perf_counter()

    def progress(count):
        nonlocal done
        done += count
        line = f"{done}/{n_total} samples, {time.perf_counter() - start:.1f} s"
        print(line, flush=True)
        if args.log:
            with open(args.log, "a") as file:
                file.write(line + "\n")

    splits = generate_navier_stokes(config, batch_size=args.batch_size, progress=progress)
    elapsed = time.perf_counter() - start
    print("\n| config | device | samples | batch | wall (s, incl. compile) | samples/s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.config} | {device_name()} | {n_total} | {args.batch_size} | "
        f"{elapsed:.1f} | {n_total / elapsed:.3g} |"
    )
    print(
        f"train outputs {splits['train'].outputs.shape}, test outputs "
        f"{splits['test'].outputs.shape}"
    )
    log_record(
        args.log,
        {
            "mode": "generate",
            "config": config.to_dict(),
            "device": device_name(),
            "batch_size": args.batch_size,
            "wall_s": elapsed,
            "samples_per_s": n_total / elapsed,
        },
    )


def restrict_modes(w: jax.Array, s: int) -> jax.Array:
    """The ``(n, n)`` periodic field ``w`` restricted to the Fourier modes
    ``|k_x|, |k_y| < s / 2`` and evaluated on the ``(s, s)`` grid (``s`` even, ``<= n``).

    The coarse grid's Nyquist row and column are left at zero, so the result is the
    trigonometric polynomial of those modes at the points ``i / s``; ``s = n`` returns
    ``w`` unchanged.
    """
    n = w.shape[-1]
    if s == n:
        return w
    h = s // 2
    w_hat = jnp.fft.rfft2(w)
    coarse = jnp.zeros(w.shape[:-2] + (s, h + 1), w_hat.dtype)
    coarse = coarse.at[..., :h, :h].set(w_hat[..., :h, :h])
    coarse = coarse.at[..., h + 1 :, :h].set(w_hat[..., n - h + 1 :, :h])
    return jnp.fft.irfft2(coarse * (s / n) ** 2, s=(s, s)).astype(w.dtype)


def relative_l2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``||a - b|| / ||b||`` per sample (leading axis), over all other axes, in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    axes = tuple(range(1, a.ndim))
    return np.sqrt(((a - b) ** 2).sum(axes) / (b**2).sum(axes))


def solve_timed(config: NavierStokesConfig, w0: jax.Array, n_frames: int, repeats: int = 1):
    """Frames ``(N, n_frames, r, r)`` at the stored resolution from ``w0: (N, s, s)``
    (computed in the dtype of ``w0``), the compile seconds of the ``jit(vmap(rollout))``
    program (compiled ahead) and the seconds of its fastest of ``repeats`` runs."""
    stepper, steps = make_stepper_for(config)
    r = config.subsample

    def one(w):
        return rollout(stepper, w, num_frames=n_frames, steps_per_frame=steps)[:, ::r, ::r]

    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(one)).lower(w0).compile()
    compile_s = time.perf_counter() - start
    run_s = []
    for _ in range(repeats):
        start = time.perf_counter()
        frames = jax.block_until_ready(compiled(w0))
        run_s.append(time.perf_counter() - start)
    return np.asarray(frames), compile_s, min(run_s)


def setting_config(reference: NavierStokesConfig, s: int, factor: int) -> NavierStokesConfig:
    """``reference`` solved on ``s^2`` at ``factor`` times that grid's default CFL step."""
    base = dataclasses.replace(reference, solve_resolution=s, dt=None)
    return dataclasses.replace(base, dt=make_stepper_for(base)[0].dt * factor)


def compare(frames: np.ndarray, ref_frames: np.ndarray) -> dict:
    """Relative L2 of ``frames`` against ``ref_frames``, both ``(N, T, r, r)``: over all
    frames (per sample, max, mean) and the worst single frame (max over samples)."""
    if not np.all(np.isfinite(frames)):
        return {"stable": False}
    errors = relative_l2(frames, ref_frames)
    worst = max(
        float(relative_l2(frames[:, k], ref_frames[:, k]).max()) for k in range(frames.shape[1])
    )
    return {
        "stable": True,
        "rel_l2_max": float(errors.max()),
        "rel_l2_mean": float(errors.mean()),
        "rel_l2_per_sample": errors.tolist(),
        "worst_frame_rel_l2_max": worst,
    }


def count_blow_ups(config: NavierStokesConfig, n: int, batch_size: int = 20) -> dict:
    """How many of the first ``n`` samples of ``config``'s generator (its own draws of
    ``w0`` on its solver grid, to T) end with non-finite values."""
    start = time.perf_counter()
    _, outputs = solve_in_batches(
        _make_batch_solver(config), seed=config.seed, n_total=n, batch_size=batch_size
    )
    non_finite = int((~np.isfinite(outputs.reshape(n, -1)).all(axis=1)).sum())
    return {"samples": n, "non_finite": non_finite, "seconds": time.perf_counter() - start}


def fmt_error(row: dict) -> str:
    if not row["stable"]:
        return "unstable"
    return f"{row['rel_l2_max']:.2e} / {row['rel_l2_mean']:.2e}"


def resolution_mode(args):
    reference = dataclasses.replace(PAPER, t_final=args.t_final)
    s_ref, n_frames = reference.solve_resolution, reference.t_final
    n_total = reference.n_train + reference.n_test
    keys = sample_keys(reference.seed, args.first_sample, args.samples)
    # w0 exactly as the generator draws it on the reference grid (sciml.data.navier_stokes).
    draw = jax.jit(
        jax.vmap(
            lambda key: periodic_grf(
                key, 1, (s_ref, s_ref), alpha=reference.alpha, tau=reference.tau
            )[0]
        )
    )
    w0_ref = draw(keys)

    # The reference path is the generator's: the first frame of its batch solver.
    check_frames = np.asarray(_make_batch_solver(reference, t_final=1)(keys)[1])
    check = float(relative_l2(solve_timed(reference, w0_ref, 1)[0], check_frames).max())
    print(f"reference path vs the generator's batch solver at t = 1: rel L2 {check:.2e}")
    if check > 1e-6:
        raise RuntimeError(f"the reference path differs from the generator by {check:.3g}")

    settings = [(s_ref, 1)] + [
        (s, f) for s in args.resolutions for f in args.factors if (s, f) != (s_ref, 1)
    ]
    rows, ref_frames, frames32 = [], None, {}
    for s, factor in settings:
        config = setting_config(reference, s, factor)
        w0 = restrict_modes(w0_ref, s)
        frames, compile_s, run_s = solve_timed(config, w0, n_frames)
        if ref_frames is None:
            ref_frames = frames
        frames32[s, factor] = frames
        # The time per frame again: fastest of a few one-frame runs, less exposed to load.
        _, _, frame_s = solve_timed(config, w0, 1, repeats=args.timing_repeats)
        stepper, steps = make_stepper_for(config)
        stored = config.subsample
        w0_error = relative_l2(
            np.asarray(w0[:, ::stored, ::stored]),
            np.asarray(w0_ref[:, :: reference.subsample, :: reference.subsample]),
        )
        per_sample = frame_s * n_frames / args.samples
        row = {
            "solve_resolution": s,
            "dt_factor": factor,
            "dt": stepper.dt,
            "steps_per_unit_time": steps,
            **compare(frames, ref_frames),
            "w0_stored_rel_l2_max": float(w0_error.max()),
            "compile_s": compile_s,
            "full_run_s_per_sample": run_s / args.samples,
            "one_frame_min_s_per_sample": frame_s / args.samples,
            "s_per_sample": per_sample,
            "projected_s_1200_one_core": per_sample * n_total,
        }
        rows.append(row)
        print(
            f"solved {s}^2 at dt = 1/{steps} ({factor}x): rel L2 max/mean {fmt_error(row)}, "
            f"{per_sample:.2f} s per sample ({row['full_run_s_per_sample']:.2f} in the full "
            f"run; compile {compile_s:.1f} s)",
            flush=True,
        )

    tol, ref_time = args.tolerance, rows[0]["s_per_sample"]

    def cheapest(eligible):
        """The cheapest of ``eligible`` that no sample of ``--stability-samples`` blows up."""
        for row in sorted(eligible, key=lambda row: row["s_per_sample"]):
            if args.stability_samples == 0:
                return row
            if "stability" not in row:
                config = setting_config(reference, row["solve_resolution"], row["dt_factor"])
                row["stability"] = count_blow_ups(config, args.stability_samples)
                print(
                    f"stability of {row['solve_resolution']}^2 at {row['dt_factor']}x: "
                    f"{row['stability']['non_finite']} of {args.stability_samples} samples "
                    f"blow up ({row['stability']['seconds']:.0f} s)",
                    flush=True,
                )
            if row["stability"]["non_finite"] == 0:
                return row
        return None

    # The criterion: the difference from the float32 reference data.
    chosen = cheapest([r for r in rows[1:] if r["stable"] and r["rel_l2_max"] < tol])

    # Round-off: the reference, every coarser setting and the reference grid's largest
    # step again in float64, from the same (float32) initial data.
    chosen_float64 = None
    if args.float64:
        jax.config.update("jax_enable_x64", True)
        ref64 = None
        for row in rows:
            s, factor = row["solve_resolution"], row["dt_factor"]
            if s == s_ref and factor not in (1, max(args.factors)):
                continue
            config = setting_config(reference, s, factor)
            w0 = restrict_modes(jnp.asarray(w0_ref, jnp.float64), s)
            frames, _, run_s = solve_timed(config, w0, n_frames)
            if ref64 is None:
                ref64 = frames
            row["float64_vs_float64_reference"] = compare(frames, ref64)
            row["float32_vs_float64_reference"] = compare(frames32[s, factor], ref64)
            row["float64_full_run_s_per_sample"] = run_s / args.samples
            print(
                f"float64 {s}^2 at {factor}x: against the float64 reference "
                f"{fmt_error(row['float64_vs_float64_reference'])}, float32 against it "
                f"{fmt_error(row['float32_vs_float64_reference'])}",
                flush=True,
            )
        jax.config.update("jax_enable_x64", False)
        # A setting whose float64 solution is within tol of the float64 reference and
        # whose float32 data are no farther from it than the reference data are.
        ref_data = rows[0]["float32_vs_float64_reference"]["rel_l2_max"]
        chosen_float64 = cheapest(
            [
                r
                for r in rows
                if "float64_vs_float64_reference" in r
                and r["float64_vs_float64_reference"]["stable"]
                and r["float64_vs_float64_reference"]["rel_l2_max"] < tol
                and r["float32_vs_float64_reference"]["stable"]
                and r["float32_vs_float64_reference"]["rel_l2_max"] <= max(ref_data, tol)
            ]
        )

    def f64_cell(row, key):
        return fmt_error(row[key]) if key in row else "-"

    print(
        f"\n### Navier–Stokes paper config (nu = {reference.nu:g}, T = {n_frames}, stored "
        f"{reference.resolution}^2): solver grid and step against the {s_ref}^2 reference, "
        f"{args.samples} samples, {device_name()}\n"
    )
    print(
        "Relative L2 over all stored frames, max / mean over the samples. (a): against the "
        f"float32 {s_ref}^2 reference data; (b): the setting in float64 against the float64 "
        f"{s_ref}^2 reference (discretisation only); (c): the setting's float32 data against "
        f"the float64 {s_ref}^2 reference.\n"
    )
    print(
        "| solve | dt (x its CFL step) | (a) vs float32 reference | (b) float64 vs float64 "
        "reference | (c) float32 vs float64 reference | s per sample (1 core) | full run | "
        "vs reference | 1000 + 200 on 1 core |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        mark = "".join(
            label
            for label, pick in ((" **(a)**", chosen), (" **(b, c)**", chosen_float64))
            if row is pick
        )
        print(
            f"| {row['solve_resolution']}^2{mark} | 1/{row['steps_per_unit_time']} "
            f"({row['dt_factor']}x) | {fmt_error(row)} | "
            f"{f64_cell(row, 'float64_vs_float64_reference')} | "
            f"{f64_cell(row, 'float32_vs_float64_reference')} | "
            f"{row['s_per_sample']:.2f} | {row['full_run_s_per_sample']:.2f} | "
            f"{ref_time / row['s_per_sample']:.1f}x | "
            f"{row['projected_s_1200_one_core'] / 3600:.2f} h |"
        )
    print()
    for label, pick, criterion in (
        ("(a)", chosen, f"differs from the float32 reference data by less than {tol:g}"),
        (
            "(b, c)",
            chosen_float64,
            f"in float64 is within {tol:g} of the float64 reference, and in float32 no "
            "farther from it than the reference data",
        ),
    ):
        if pick is None:
            print(f"{label}: no cheaper setting {criterion}")
        else:
            print(
                f"{label}: the cheapest setting that {criterion}: {pick['solve_resolution']}^2 "
                f"at dt = 1/{pick['steps_per_unit_time']}, {pick['s_per_sample']:.2f} s per "
                f"sample, {pick['projected_s_1200_one_core'] / 3600:.2f} h for {n_total} "
                f"samples on one core (reference "
                f"{rows[0]['projected_s_1200_one_core'] / 3600:.2f} h)"
            )
    for row in rows:
        if "stability" in row:
            print(
                f"stability, {row['solve_resolution']}^2 at dt = "
                f"1/{row['steps_per_unit_time']}: {row['stability']['non_finite']} of "
                f"{row['stability']['samples']} samples of its generator blow up"
            )
    for s in dict.fromkeys(row["solve_resolution"] for row in rows):
        row = next(row for row in rows if row["solve_resolution"] == s)
        print(
            f"stored w0 at {reference.resolution}^2 from the {s}^2 restriction: "
            f"rel L2 {row['w0_stored_rel_l2_max']:.2e} (max over samples)"
        )

    def setting(row):
        if row is None:
            return None
        keys = ("solve_resolution", "dt_factor", "dt", "steps_per_unit_time", "s_per_sample")
        return {key: row[key] for key in keys} | {
            "projected_s_1200_one_core": row["projected_s_1200_one_core"]
        }

    log_record(
        args.log,
        {
            "mode": "resolution",
            "config": reference.to_dict(),
            "device": device_name(),
            "samples": args.samples,
            "first_sample": args.first_sample,
            "reference_vs_generator_t1": check,
            "initial_data": f"periodic_grf on {s_ref}^2 with the generator's keys; a coarser "
            "solve starts from its Fourier modes |k_x|, |k_y| < s/2",
            "error": "relative L2 over all stored frames t = 1..T at the stored resolution",
            "timing": "s_per_sample: fastest of timing_repeats one-frame runs times T over "
            "the samples, compile excluded",
            "timing_repeats": args.timing_repeats,
            "tolerance": args.tolerance,
            "stability_samples": args.stability_samples,
            "rows": rows,
            "chosen_vs_float32_reference": setting(chosen),
            "chosen_vs_float64_reference": setting(chosen_float64),
        },
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["rate", "generate", "resolution"], default="rate")
    parser.add_argument("--config", choices=["quick", "paper"], default="paper")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--paper-batch-size", type=int, default=4)
    parser.add_argument("--horizon", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--solve-resolution", type=int, default=PAPER.solve_resolution)
    parser.add_argument("--dt", type=float, default=None)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--first-sample", type=int, default=0)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--t-final", type=int, default=PAPER.t_final, help="resolution mode")
    parser.add_argument("--timing-repeats", type=int, default=3)
    parser.add_argument("--float64", action="store_true")
    parser.add_argument("--stability-samples", type=int, default=200)
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)
    {"rate": rate_mode, "generate": generate_mode, "resolution": resolution_mode}[args.mode](args)


if __name__ == "__main__":
    main()
