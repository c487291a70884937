"""The published test errors the benchmark suite sets beside ours.

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

FNO_PAPER = "Li et al., ICLR 2021"
DEEPONET_PAPER = "Lu et al., CMAME 2022"


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


def _darcy() -> list[Published]:
    table = {85: 0.0108, 141: 0.0109, 211: 0.0109, 421: 0.0098}
    return [
        Published("darcy", "fno", f"s = {s}", s, v, f"{FNO_PAPER}, Darcy table")
        for s, v in table.items()
    ]


def _burgers() -> list[Published]:
    table = {256: 0.0149, 512: 0.0158, 1024: 0.0160, 2048: 0.0146, 4096: 0.0142, 8192: 0.0139}
    return [
        Published("burgers", "fno", f"s = {s}", s, v, f"{FNO_PAPER}, Burgers table")
        for s, v in table.items()
    ]


def _navier_stokes() -> list[Published]:
    columns = ((1e-3, 50, 1000), (1e-4, 30, 1000), (1e-5, 20, 1000))
    rows = {
        "fno3d": (0.0086, 0.1918, 0.1893),
        "fno": (0.0128, 0.1559, 0.1556),
        "unet": (0.0245, 0.2051, 0.1982),
    }
    cells = [
        Published(
            "navier-stokes",
            model,
            f"nu = {nu:g}, T = {t}, N = {n}",
            64,
            value,
            f"{FNO_PAPER}, Navier-Stokes table",
            nu=nu,
            t_final=t,
            n_train=n,
        )
        for model, values in rows.items()
        for (nu, t, n), value in zip(columns, values)
    ]
    large = {"fno3d": 0.0820, "fno": 0.0834, "unet": 0.1190}
    cells += [
        Published(
            "navier-stokes",
            model,
            "nu = 1e-4, T = 30, N = 10000",
            64,
            value,
            f"{FNO_PAPER}, Navier-Stokes table",
            nu=1e-4,
            t_final=30,
            n_train=10000,
        )
        for model, value in large.items()
    ]
    return cells


def _deeponet() -> list[Published]:
    source = f"{DEEPONET_PAPER}, Table (Burgers at 128 points; Darcy piecewise constant 29 x 29)"
    rows = {
        ("burgers", 128): {"deeponet": 0.0215, "pod-deeponet": 0.0194, "fno": 0.0193},
        ("darcy", 29): {"deeponet": 0.0298, "pod-deeponet": 0.0232, "fno": 0.0241},
    }
    return [
        Published(task, model, f"s = {s} ({DEEPONET_PAPER} data)", s, value, source)
        for (task, s), values in rows.items()
        for model, value in values.items()
    ]


PUBLISHED: tuple[Published, ...] = tuple(_darcy() + _burgers() + _navier_stokes() + _deeponet())


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
    import math

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
