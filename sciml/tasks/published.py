"""The published test errors the benchmark suite sets beside ours, read from
``published.toml`` (data, with its sources).

Each entry is one cell of a table in a paper: task, model, the setting that names
the cell (grid, viscosity and horizon, training-set size) and the mean relative L2
error on the test set. Nothing here is measured by us.

References:
    Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar, "Fourier
    Neural Operator for Parametric Partial Differential Equations", ICLR 2021.
    Lu, Meng, Cai, Mao, Goswami, Zhang, Karniadakis, "A comprehensive and fair
    comparison of two neural operators (with practical extensions) based on FAIR
    data", CMAME 393 (2022).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

FNO_PAPER = "Li et al., ICLR 2021"


@dataclasses.dataclass(frozen=True)
class Published:
    """One published cell.

    Attributes:
        task, model: the names ``sciml`` uses (``fno`` is FNO-2D for Navier–Stokes).
        setting: the cell's column in the paper, in words.
        resolution: grid points per side.
        value: the mean relative L2 error on the test set.
        source: paper and table.
        nu, t_final, n_train: for Navier–Stokes, the viscosity, horizon and training
            samples of the cell; ``None`` where the cell does not depend on them.
    """

    task: str
    model: str
    setting: str
    resolution: int
    value: float
    source: str
    nu: float | None = None
    t_final: float | None = None
    n_train: int | None = None


def _read() -> tuple[Published, ...]:
    from sciml._io import read_toml

    cells = read_toml(Path(__file__).with_name("published.toml"))["cells"]
    return tuple(Published(**cell) for cell in cells)


#: Every published cell, in the order of the papers' tables (``published.toml``).
PUBLISHED: tuple[Published, ...] = _read()


def published_cells(task: str, model: str) -> list[Published]:
    """Every published cell of ``task`` x ``model``, in the order of the papers' tables."""
    return [cell for cell in PUBLISHED if cell.task == task and cell.model == model]


def nearest_cell(
    task: str,
    model: str,
    resolution: int,
    *,
    nu: float | None = None,
    t_final: float | None = None,
    n_train: int | None = None,
) -> Published | None:
    """The published cell to set beside a run of ``task`` x ``model``.

    Among the cells of the same viscosity (Navier–Stokes), a cell of the FNO paper
    (whose data sets the suite generates) before one of Lu et al., then the grid
    closest to ``resolution`` (in ratio), then the training-set size and horizon
    closest to the run's. ``None`` if the paper has no such cell. A run at
    another grid or horizon is still compared with the nearest cell: the table shows
    the cell's setting beside the value, so the difference is visible.
    """
    cells = published_cells(task, model)
    if nu is not None:
        same_nu = [cell for cell in cells if cell.nu is not None and math.isclose(cell.nu, nu)]
        cells = same_nu or cells

    def distance(cell: Published) -> tuple[int, float, float, float]:
        return (
            0 if cell.source.startswith(FNO_PAPER) else 1,
            abs(math.log(cell.resolution / resolution)),
            0.0
            if n_train is None or cell.n_train is None
            else abs(math.log(cell.n_train / n_train)),
            0.0 if t_final is None or cell.t_final is None else abs(cell.t_final - t_final),
        )

    return min(cells, key=distance, default=None)
