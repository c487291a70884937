"""The Darcy-flow task of the FNO paper, generated with our own solver.

Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar, "Fourier
Neural Operator for Parametric Partial Differential Equations", ICLR 2021, §5.2:
-div(a grad u) = 1 on the unit square with u = 0 on the boundary, where
a = 12 where a Neumann Gaussian random field (alpha = 2, tau = 3) is >= 0 and
a = 4 elsewhere. Solutions are computed on 421 x 421 points and every r-th point is
kept: r = 5 gives 85 x 85, r = 3 gives 141, r = 2 gives 211.

Two conventions turn the thresholded field into data (``DarcyConfig.convention``):
``"nodal"`` takes it as the coefficient at the solver's nodes; ``"fno-matlab"`` takes it,
as the paper's data-generation scripts (``demo.m`` and ``solve_gwf.m``) do, as values at
cell centres, splines it to the nodes, solves there and splines the solution back to the
centres (`sciml.solvers.darcy.solve_darcy_fno_matlab`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from sciml.data.batched import batch_rate, solve_in_batches, train_test_splits
from sciml.data.dataset import OperatorDataset, config_to_dict
from sciml.fields import neumann_grf
from sciml.solvers.darcy import solve_darcy, solve_darcy_fno_matlab

#: The values of ``DarcyConfig.convention``.
CONVENTIONS = ("nodal", "fno-matlab")


@dataclasses.dataclass(frozen=True)
class DarcyConfig:
    """Generation config of a Darcy data set; serialises to JSON.

    Attributes:
        fine_resolution: nodes per side of the grid the solver runs on (421 in the paper);
            under ``"fno-matlab"`` also the cells per side of the thresholded field.
        subsample: keep every ``subsample``-th node (cell centre under ``"fno-matlab"``);
            the stored grid has ``(fine_resolution - 1) // subsample + 1`` per side.
        n_train, n_test: split sizes (1000 / 100 in the paper).
        alpha, tau: the Gaussian random field's smoothness and length scale.
        a_high, a_low: coefficient where the field is >= 0, and elsewhere.
        source: the constant right-hand side f.
        rtol: the solver's relative residual tolerance.
        seed: the random seed; sample i always uses ``fold_in(key(seed), i)``, so a
            sample does not depend on the batch it was generated in.
        convention: how the thresholded field becomes a data pair, one of
            :data:`CONVENTIONS`. ``"nodal"`` (default): the field is the coefficient at
            the ``s x s`` nodes of the solver, and the stored pair is its nodal values
            and the nodal solution, both on ``linspace(0, 1, s)``. ``"fno-matlab"``: the
            pipeline of the paper's ``solve_gwf.m`` (see
            `sciml.solvers.darcy.solve_darcy_fno_matlab`): the field holds values at the
            ``s x s`` cell centres ``(i + 1/2) / s``, is splined (not-a-knot, extrapolating)
            to the nodes, solved there and the solution splined back to the centres; the
            stored pair is the thresholded field (as the published files store ``coeff``)
            and the cell-centred solution (their ``sol``), with the cell centres as
            coordinates. Subsampling keeps every ``subsample``-th centre after the
            pipeline, as ``[::5]`` of the published 421 data gives their 85 x 85.
            The two conventions' solutions differ by 2.5e-2 relative L2 on sample 0 (seed 0) at
            a direct 85 x 85 solve and by 5.2e-3 at the paper's 421 solve kept every 5th
            point (samples 1-5: 2.2e-2 to 2.6e-2 and 4.4e-3 to 5.2e-3; float64,
            ``benchmarks/darcy_conventions.py``). The spline makes some nodal
            coefficients <= 0 in most samples (91 of the first 100 at 85, 87 at 421;
            406 and 447 nodes in all, all but 6 and 2 of them on the boundary) and some
            face averages <= 0 in fewer (18 and 30 of 100). The original solves with
            them as they are, and so does this convention: nothing is clipped, and the
            solve raises if CG finds the operator not positive definite (it did not on
            the samples measured).
    """

    fine_resolution: int = 421
    subsample: int = 5
    n_train: int = 1000
    n_test: int = 100
    alpha: float = 2.0
    tau: float = 3.0
    a_high: float = 12.0
    a_low: float = 4.0
    source: float = 1.0
    rtol: float = 1e-6
    seed: int = 0
    convention: str = "nodal"

    def __post_init__(self):
        if self.convention not in CONVENTIONS:
            raise ValueError(
                f"DarcyConfig expects convention to be one of {', '.join(map(repr, CONVENTIONS))}; "
                f"got {self.convention!r}"
            )
        if self.convention == "fno-matlab" and self.fine_resolution < 4:
            raise ValueError(
                "DarcyConfig expects fine_resolution >= 4 with convention 'fno-matlab' (the "
                f"not-a-knot spline needs four points); got {self.fine_resolution}"
            )
        if self.fine_resolution < 3 or self.subsample < 1:
            raise ValueError(
                "DarcyConfig expects fine_resolution >= 3 and subsample >= 1, got "
                f"fine_resolution={self.fine_resolution}, subsample={self.subsample}"
            )
        if (self.fine_resolution - 1) % self.subsample:
            raise ValueError(
                f"DarcyConfig expects subsample to divide fine_resolution - 1 so that the "
                f"coarse grid keeps the boundary nodes; got fine_resolution="
                f"{self.fine_resolution}, subsample={self.subsample}"
            )
        if self.n_train < 1 or self.n_test < 1:
            raise ValueError(
                f"DarcyConfig expects n_train >= 1 and n_test >= 1, got {self.n_train}, "
                f"{self.n_test}"
            )
        if not (0 < self.a_low and 0 < self.a_high):
            raise ValueError(
                f"DarcyConfig expects positive coefficients, got a_low={self.a_low}, "
                f"a_high={self.a_high}"
            )

    @property
    def resolution(self) -> int:
        """Points per side of the stored grid."""
        return (self.fine_resolution - 1) // self.subsample + 1

    @property
    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """The stored grid's coordinates on each axis: the kept nodes, or cell centres."""
        if self.convention == "nodal":
            axis = np.linspace(0.0, 1.0, self.resolution)
        else:
            axis = (self.subsample * np.arange(self.resolution) + 0.5) / self.fine_resolution
        return axis, axis.copy()

    def to_dict(self) -> dict[str, Any]:
        """The JSON config; ``convention`` is left out when it is ``"nodal"``, so that a
        nodal config has the dict (and the cache entry and run folder) it had before the
        option existed, while any other convention changes the hash."""
        return config_to_dict(self, added={"convention": "nodal"})


def darcy_coefficient(key: PRNGKeyArray, config: DarcyConfig) -> Float[Array, "s s"]:
    """One thresholded field ``a: (s, s)`` on the fine grid: nodal values, or cell-centred
    ones under the ``"fno-matlab"`` convention."""
    field = neumann_grf(key, 1, config.fine_resolution, alpha=config.alpha, tau=config.tau)[0]
    return jnp.where(field >= 0, config.a_high, config.a_low).astype(jnp.float32)


def _make_batch_solver(config: DarcyConfig):
    r = config.subsample

    def one(key):
        a = darcy_coefficient(key, config)
        if config.convention == "fno-matlab":
            u = solve_darcy_fno_matlab(a, config.source, rtol=config.rtol)
        else:
            u = solve_darcy(a, config.source, rtol=config.rtol)
        return a[::r, ::r], u[::r, ::r]

    return jax.jit(jax.vmap(one))


def generate_darcy(
    config: DarcyConfig, *, batch_size: int = 32, progress=None
) -> dict[str, OperatorDataset]:
    """Generate the train and test splits of ``config``.

    Samples ``0 .. n_train-1`` form the train split and the next ``n_test`` the test
    split. Generation runs ``jit(vmap(solve))`` over batches of ``batch_size``
    samples (the last batch is padded, so one compiled program serves all).

    Returns:
        ``{"train": OperatorDataset, "test": OperatorDataset}`` with inputs ``a`` and
        outputs ``u``, each ``(N, 1, s, s)`` in float32.
    """
    a, u = solve_in_batches(
        _make_batch_solver(config),
        seed=config.seed,
        n_total=config.n_train + config.n_test,
        batch_size=batch_size,
        progress=progress,
    )
    return train_test_splits(
        a[:, None], u[:, None], config.n_train, config.coords, config.to_dict()
    )


def generate_darcy_test(
    config: DarcyConfig, *, batch_size: int = 32, progress=None
) -> OperatorDataset:
    """Only the test split of ``config``: samples ``n_train .. n_train+n_test-1``.

    The same coefficients as ``generate_darcy(config)["test"]``, without solving the
    training samples; with another ``subsample`` it gives the test split at another
    resolution, for zero-shot super-resolution (Li et al., ICLR 2021, section 5.4).
    """
    a, u = solve_in_batches(
        _make_batch_solver(config),
        seed=config.seed,
        n_total=config.n_test,
        batch_size=batch_size,
        progress=progress,
        start=config.n_train,
    )
    return OperatorDataset(a[:, None], u[:, None], config.coords, config.to_dict())


def generation_rate(config: DarcyConfig, *, batch_size: int = 32, repeats: int = 1) -> dict:
    """Samples per second of `generate_darcy`'s compiled batch solver (compile excluded)."""
    compile_s, rate = batch_rate(
        _make_batch_solver(config), seed=config.seed, batch_size=batch_size, repeats=repeats
    )
    return {
        "resolution": config.fine_resolution,
        "batch_size": batch_size,
        "compile_s": compile_s,
        "samples_per_s": rate,
    }
