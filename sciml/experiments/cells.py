"""Named sets of published cells for ``sciml bench --cells NAME``, as data.

A set is a tuple of :class:`Cell`: a task, model and preset, the ``--set`` overrides
that put the run at the paper's setting (the Darcy grids: 421 solved, every 5th / 3rd /
2nd / 1st node kept), the published cell it is judged against, and a cost estimate
that lets ``--budget`` leave out a run that would not finish in time. A cell whose
paper setting no preset carries has ``preset=None`` and is reported, not run.

The estimates are rough and err on the long side; a run that has started is estimated
from its own checkpointed epoch times instead (:func:`sciml.experiments.bench.estimate`).

``gpu`` (one H100-class GPU). No GPU record exists in the repository, so:

- Navier–Stokes: the time per epoch the FNO paper gives for nu = 1e-3 on a V100 GPU
  (FNO-2D 127.8 s, FNO-3D 39.0 s, U-Net 48.7 s) halved (an H100 has about 3.5x a
  V100's FP32 throughput and memory bandwidth; 2 leaves a margin); data: the paper set
  takes about 75 h on the 2-core CPU (``benchmarks/results/burgers-navier-stokes-cpu-
  2core.md``), taken as 100x faster on the GPU, 45 min, counted only while not cached
  (the three models share it).
- Darcy FNO: 89 s per epoch on the 2-core CPU at 85 x 85 (11.2 training samples/s,
  ``benchmarks/results/darcy-quick-and-throughput-cpu-2core.md``) over an assumed GPU
  speed-up of 60, 1.5 s, scaled by the padded grid's points ((s + 9)^2 / 94^2) for
  141, 211 and 421; data: 1100 solves at 421 x 421 take 150 s on the CPU, and each grid
  is its own cache entry with its super-resolution test sets, 10 min allowed.
- Darcy MgNO: the quick run's 34.9 s per epoch on the CPU (16 channels, 43 x 43, batch
  10) times 4 for the grid and 2.25 for 24 channels, over 60: 5 s.

``cpu`` (the 2-core CPU): the seconds per epoch its own runs took
(``benchmarks/results/paper-cells-cpu-2core``), rounded up: Burgers DeepONet 0.1 and
POD-DeepONet 0.05, Lu et al.'s FNO at 128 points 0.7, Darcy DeepONet and POD-DeepONet
1.0 and Lu et al.'s FNO at 29 x 29 4.0, the FNO paper's Burgers FNO 1.3 at 256 points,
and for 512 and 1024 (not run yet) that times the points, 2.6 and 5.2 (one earlier run
at 1024 took 47 min, 5.6 s per epoch). Burgers data take about 40 s for 1100 solves on
8192 points; Darcy's 5 min is a bound.
"""

from __future__ import annotations

import dataclasses

from sciml.tasks.published import PUBLISHED, Published


@dataclasses.dataclass(frozen=True)
class Cell:
    """One run of a cell set, at a published cell's setting.

    Attributes:
        task: the registered task.
        model: the registered model.
        preset: the preset the run starts from; ``None`` if no preset carries the
            paper's setting (the cell is listed and reported, never run).
        label: the setting in the run's name, e.g. ``s85``.
        overrides: ``SECTION.KEY=VALUE`` changes that put the preset at the setting.
        published: the ``setting`` of the published cell of the same task and model in
            ``published.toml``; ``None`` for a run no paper's table holds.
        epoch_s: estimated seconds per training epoch on the set's machine.
        data_s: estimated seconds to generate its data and super-resolution test
            sets, counted while the data are not cached.
        note: what the reader of the report should know about the cell.
    """

    task: str
    model: str
    preset: str | None
    label: str
    overrides: tuple[str, ...] = ()
    published: str | None = None
    epoch_s: float = 0.0
    data_s: float = 0.0
    note: str = ""

    @property
    def name(self) -> str:
        """``TASK-MODEL-PRESET-LABEL``: the run's record and folder."""
        return f"{self.task}-{self.model}-{self.preset or 'none'}-{self.label}"

    def published_cell(self) -> Published | None:
        """The published cell the run is judged against.

        Raises:
            ValueError: if ``published.toml`` has no such cell.
        """
        if self.published is None:
            return None
        for cell in PUBLISHED:
            if (cell.task, cell.model, cell.setting) == (self.task, self.model, self.published):
                return cell
        raise ValueError(f"{self.name}: no published cell {self.published!r}")


def _darcy_fno(subsample: int, epoch_s: float) -> Cell:
    s = 420 // subsample + 1
    return Cell(
        "darcy",
        "fno",
        "paper",
        f"s{s}",
        (f"data.subsample={subsample}",),
        f"s = {s}",
        epoch_s=epoch_s,
        data_s=600.0,
        note=f"421 x 421 solved, every {subsample} node(s) kept",
    )


_NS = "nu = 0.001, T = 50, N = 1000"
_NS_DATA_S = 2700.0
_LU = "Lu et al., CMAME 2022 data"

#: The cells of the papers' tables meant for a GPU: the FNO paper's Darcy grids (and the
#: zero-shot evaluations every run makes at the finer grids), MgNO on the same data,
#: and Navier-Stokes nu = 1e-3 with FNO-2D, FNO-3D and U-Net.
GPU: tuple[Cell, ...] = (
    _darcy_fno(5, 1.5),
    _darcy_fno(3, 3.8),
    _darcy_fno(2, 8.2),
    _darcy_fno(1, 31.0),
    Cell(
        "darcy",
        "mgno",
        "paper",
        "s85",
        epoch_s=5.0,
        data_s=600.0,
        note="no published cell on these data (the MgNO paper's Darcy set is its own)",
    ),
    Cell("navier-stokes", "fno", "paper", "nu1e-3", (), _NS, 64.0, _NS_DATA_S),
    Cell("navier-stokes", "fno3d", "paper", "nu1e-3", (), _NS, 20.0, _NS_DATA_S),
    Cell("navier-stokes", "unet", "paper", "nu1e-3", (), _NS, 25.0, _NS_DATA_S),
)

#: The cells a CPU runs, cheapest first: the cells of Lu et al. (2022) (Burgers at 128
#: points, Darcy at 29 x 29; their FNO from the ``lu2022`` preset, their 200 test
#: samples), the FNO paper's Burgers grids 256, 512 and 1024, and each Burgers cell again
#: with the initial law of the authors' released generator (``data.law=grf1``).
_LU_SPLIT = ("data.n_test=200",)
_GRF1 = ("data.law=grf1",)


def _burgers_cpu(law: tuple[str, ...], suffix: str) -> tuple[Cell, ...]:
    lu = f"s = 128 ({_LU})"
    return (
        Cell("burgers", "deeponet", "paper", f"s128{suffix}", _LU_SPLIT + law, lu, 0.1, 60.0),
        Cell("burgers", "pod-deeponet", "paper", f"s128{suffix}", _LU_SPLIT + law, lu, 0.05, 60.0),
        Cell("burgers", "fno", "lu2022", f"s128{suffix}", law, lu, 0.7, 60.0),
    )


def _burgers_fno(subsample: int, law: tuple[str, ...], suffix: str, epoch_s: float) -> Cell:
    s = 8192 // subsample
    overrides = (f"data.subsample={subsample}",) + law
    return Cell("burgers", "fno", "paper", f"s{s}{suffix}", overrides, f"s = {s}", epoch_s, 60.0)


CPU: tuple[Cell, ...] = (
    *_burgers_cpu((), ""),
    Cell("darcy", "deeponet", "paper", "s29", _LU_SPLIT, f"s = 29 ({_LU})", 1.0, 300.0),
    Cell("darcy", "pod-deeponet", "paper", "s29", _LU_SPLIT, f"s = 29 ({_LU})", 1.0, 300.0),
    Cell("darcy", "fno", "lu2022", "s29", (), f"s = 29 ({_LU})", 4.0, 300.0),
    _burgers_fno(32, (), "", 1.3),
    *_burgers_cpu(_GRF1, "-grf1"),
    _burgers_fno(32, _GRF1, "-grf1", 1.3),
    _burgers_fno(16, (), "", 2.6),
    _burgers_fno(8, (), "", 5.2),
    _burgers_fno(16, _GRF1, "-grf1", 2.6),
    _burgers_fno(8, _GRF1, "-grf1", 5.2),
)

#: ``sciml bench --cells NAME``: the named sets.
CELL_SETS: dict[str, tuple[Cell, ...]] = {"gpu": GPU, "cpu": CPU}


def cell_set(name: str) -> tuple[Cell, ...]:
    """The cells of the set ``name``.

    Raises:
        ValueError: for an unknown set.
    """
    if name not in CELL_SETS:
        raise ValueError(f"unknown cell set {name!r}; expected one of: {', '.join(CELL_SETS)}")
    return CELL_SETS[name]
