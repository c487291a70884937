"""Every worked notebook runs top to bottom at its smallest size, and is stored stripped."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

_RUNNER = Path(__file__).resolve().parent.parent / "benchmarks" / "notebook_times.py"
_spec = importlib.util.spec_from_file_location("notebook_times", _RUNNER)
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)

PATHS = runner.notebook_paths()


def test_the_six_notebooks_are_there():
    assert len(PATHS) == 6, [p.name for p in PATHS]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    runner.parameters_cell_index(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes_at_smoke_size(path, tmp_path):
    nb, _ = runner.execute_notebook(path, "smoke", workdir=tmp_path, timeout=600)
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors
    # The notebook shows its plots: at least one cell put an image on screen.
    images = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if "image/png" in out.get("data", {})
    ]
    assert images, f"{path.name} drew no figure"
