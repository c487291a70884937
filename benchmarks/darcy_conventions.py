"""How far apart the two Darcy data conventions are, on one sample, at 85 and at 421 -> 85.

``DarcyConfig.convention``: ``"nodal"`` takes the thresholded Gaussian random field as
the coefficient at the solver's nodes; ``"fno-matlab"`` follows the data-generation
scripts of Li et al. (ICLR 2021), ``demo.m`` and ``solve_gwf.m``: the field holds
cell-centred values, is splined (not-a-knot) to the nodes, solved there, and the
solution is splined back to the centres. Both solve the same thresholded field of the
same key, here in float64 with CG to ``rtol = 1e-10``, and the stored arrays are compared
index by index, as the published files are used: relative L2 ``||u_nodal - u_fno|| /
||u_fno||``. Two settings: a direct 85 x 85 solve, and the paper's 421 x 421 solve kept
every 5th point.

It also counts, over the first ``--samples`` fields at each resolution, the nodal
coefficients the spline makes <= 0 (the original solves with them as they are), and the
face averages <= 0 among the faces the 5-point scheme uses.

    python benchmarks/darcy_conventions.py
    python benchmarks/darcy_conventions.py --sample 3 --samples 200
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from sciml.data.darcy import DarcyConfig, darcy_coefficient  # noqa: E402
from sciml.solvers.darcy import solve_darcy, solve_darcy_fno_matlab  # noqa: E402
from sciml.splines import spline_to_nodes  # noqa: E402

RTOL = 1e-10


def field(config: DarcyConfig, index: int) -> jax.Array:
    """Sample ``index`` of ``config``'s thresholded field, in float64."""
    key = jax.random.fold_in(jax.random.key(config.seed), index)
    return darcy_coefficient(key, config).astype(jnp.float64)


def difference(config: DarcyConfig, index: int) -> tuple[float, float]:
    """Relative L2 of nodal against fno-matlab on the stored grid, and the seconds taken."""
    a = field(config, index)
    start = time.perf_counter()
    nodal = np.asarray(solve_darcy(a, config.source, rtol=RTOL))
    matlab = np.asarray(solve_darcy_fno_matlab(a, config.source, rtol=RTOL))
    seconds = time.perf_counter() - start
    r = config.subsample
    nodal, matlab = nodal[::r, ::r], matlab[::r, ::r]
    return float(np.linalg.norm(nodal - matlab) / np.linalg.norm(matlab)), seconds


def non_positive(config: DarcyConfig, samples: int) -> dict[str, int]:
    """Nodal coefficients and used face averages <= 0 over the first ``samples`` fields."""
    to_nodes = jax.jit(spline_to_nodes)
    counts = {"samples": samples, "nodes": 0, "interior nodes": 0, "faces": 0}
    counts.update({"samples with a node": 0, "samples with a face": 0})
    for index in range(samples):
        a = np.asarray(to_nodes(field(config, index)))
        faces = np.concatenate(
            [
                (0.5 * (a[1:, 1:-1] + a[:-1, 1:-1])).ravel(),
                (0.5 * (a[1:-1, 1:] + a[1:-1, :-1])).ravel(),
            ]
        )
        n_nodes, n_faces = int((a <= 0).sum()), int((faces <= 0).sum())
        counts["nodes"] += n_nodes
        counts["interior nodes"] += int((a[1:-1, 1:-1] <= 0).sum())
        counts["faces"] += n_faces
        counts["samples with a node"] += n_nodes > 0
        counts["samples with a face"] += n_faces > 0
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=0, help="the sample compared")
    parser.add_argument("--samples", type=int, default=100, help="fields counted")
    args = parser.parse_args()

    settings = {
        "direct 85 x 85": DarcyConfig(fine_resolution=85, subsample=1),
        "421 x 421, every 5th -> 85": DarcyConfig(fine_resolution=421, subsample=5),
    }
    print(f"sample {args.sample}, float64, CG rtol {RTOL:g}")
    for label, config in settings.items():
        value, seconds = difference(config, args.sample)
        print(f"  {label}: relative L2 nodal vs fno-matlab {value:.3e} ({seconds:.1f} s)")
    for config in settings.values():
        whole = dataclasses.replace(config, subsample=1)
        counts = non_positive(whole, args.samples)
        print(f"  <= 0 after the spline at {whole.fine_resolution}: {counts}")


if __name__ == "__main__":
    main()
