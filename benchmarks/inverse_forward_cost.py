"""Seconds per forward evaluation at the size of the FNO paper's Bayesian inverse problem.

Li et al. (ICLR 2021, §5.5) report 0.005 s for the FNO and 2.2 s for their solver per
evaluation of ``w0 -> w(., T)`` on 64 x 64 at ``nu = 1e-3``, ``T = 50``. This times our
two forward maps at that size (weights do not change the cost, so the FNO is untrained):
the ETDRK4 solver at its CFL step for the speed bound of the data (1.0), the paper's
Crank–Nicolson/Euler scheme at ``dt = 1e-4`` over a shorter horizon scaled to ``T = 50``
(its cost per unit time is constant), and the paper's FNO-2D (12 modes, width 20) mapping
``w0`` to ``w(., T)`` in one call. Also the gradient of a 7 x 7 misfit through each.

    python benchmarks/inverse_forward_cost.py [--out FILE.json]
"""

from __future__ import annotations

import argparse
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sciml.fields import periodic_grf
from sciml.inverse import NavierStokesSolver, observe, uniform_sensors
from sciml.models import FNO
from sciml.solvers.navier_stokes import fno_forcing, make_stepper, rollout


def _median_seconds(function, *args, repeats: int) -> float:
    jax.block_until_ready(function(*args))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(function(*args))
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    s, t_final = 64, 50
    w0 = periodic_grf(jax.random.key(0), 1, (s, s), alpha=2.5, tau=7.0)[0]
    sensors = jnp.asarray(uniform_sensors((s, s), 7, interior=False))

    solver = NavierStokesSolver(s, nu=1e-3, t_final=t_final, dt=0.5 / s)
    fno = FNO(1, 1, (12, 12), width=20, key=jax.random.key(1))
    forwards = {
        "solver_etdrk4_cfl": solver,
        "fno_paper_size": lambda w: fno(w[None])[0],
    }
    record = {"grid": s, "t_final": t_final, "load_before": os.getloadavg()}
    for name, forward in forwards.items():
        state = eqx.filter_jit(lambda w, f=forward: f(w))
        gradient = eqx.filter_jit(
            jax.grad(lambda w, f=forward: 0.5 * jnp.sum(observe(f(w), sensors) ** 2))
        )
        record[name] = {
            "forward_s": _median_seconds(state, w0, repeats=3),
            "gradient_s": _median_seconds(gradient, w0, repeats=3),
        }
    # The paper's scheme, dt = 1e-4, over T = 1 and scaled by 50 (a constant cost per step).
    stepper, steps = make_stepper(s, nu=1e-3, scheme="paper", forcing=fno_forcing(s))
    paper = eqx.filter_jit(lambda w: rollout(stepper, w, num_frames=1, steps_per_frame=steps))
    record["solver_paper_scheme_dt1e-4"] = {
        "forward_s": t_final * _median_seconds(paper, w0, repeats=2),
        "steps": t_final * steps,
        "measured_over_t": 1,
    }
    record["etdrk4_steps"] = t_final * solver.steps_per_unit_time
    record["load_after"] = os.getloadavg()
    record["device"] = str(jax.devices()[0])
    record["paper"] = {"fno_forward_s": 0.005, "solver_forward_s": 2.2}
    text = __import__("json").dumps(record, indent=2)
    print(text)
    if args.out:
        from sciml._io import write_json

        write_json(args.out, record)


if __name__ == "__main__":
    main()
