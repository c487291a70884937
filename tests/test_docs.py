"""The API reference builds from the docstrings with ``mkdocs build --strict``, warning-free.

griffe (through mkdocstrings) warns about docstrings that do not match their signature,
e.g. a documented parameter the function does not take, or an ``Args:`` entry it cannot
parse; ``--strict`` turns every warning into a failed build, and the output is checked
for warnings as well. The build reads the sources statically, without importing them,
and takes about 10 s on a 2-core CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Generated page -> public objects that must be documented on it (their anchors).
PAGES = {
    "api/fields/index.html": [
        "sciml.fields.periodic_grf",
        "sciml.fields.neumann_grf",
        "sciml.spectral",
        "sciml.splines.spline_to_nodes",
    ],
    "api/solvers/index.html": [
        "sciml.solvers.darcy.solve_darcy",
        "sciml.solvers.darcy.solve_darcy_fno_matlab",
        "sciml.solvers.burgers.solve_burgers",
        "sciml.solvers.navier_stokes.solve_navier_stokes",
        "sciml.solvers.gradient_flow.SAV",
        "sciml.solvers.weak_form.darcy_weak_residual",
    ],
    "api/models/index.html": [
        "sciml.models.spec.ModelSpec",
        "sciml.models.fno.build_fno",
        "sciml.models.fno.FNO",
        "sciml.models.factorized.TuckerWeights",
        "sciml.models.factorized.CPWeights",
        "sciml.models.deeponet.DeepONet",
        "sciml.models.mgno.MgNO",
        "sciml.models.multionet.MultiONet",
        "sciml.models.dgno.DGNO",
        "sciml.models.scno.SCNO",
        "sciml.models.sfno.SFNO",
        "sciml.models.unet.UNet",
        "sciml.models.estable.EStableNet",
        "sciml.models.neural_ode.NeuralODE",
    ],
    "api/data/index.html": [
        "sciml.data.dataset.OperatorDataset",
        "sciml.data.normalise.GaussianNormaliser",
        "sciml.data.readers.read_fno_darcy",
        "sciml.data.pdebench.PDEBenchTrajectories",
        "sciml.data.well.WellDataset",
        "sciml.data.lazy.LazyDataset",
        "sciml.data.stream.BatchStream",
    ],
    "api/train/index.html": [
        "sciml.train.fit.fit",
        "sciml.train.config.TrainConfig",
        "sciml.train.losses.relative_l2",
        "sciml.train.metrics.evaluate",
        "sciml.train.unroll.fit_unrolling",
    ],
    "api/tasks/index.html": [
        "sciml.tasks.Task",
        "sciml.tasks.register_task",
        "sciml.tasks.operator.judge_operator",
        "sciml.tasks.gradient_flow.judge_gradient_flow",
        "sciml.tasks.trajectory.judge_trajectory",
        "sciml.tasks.published.nearest_cell",
        "sciml.tasks.files.FileConfig",
    ],
    "api/experiments/index.html": [
        "sciml.experiments",
        "sciml.experiments.registry.register_model",
        "sciml.experiments.registry.register_recipe",
        "sciml.experiments.recipes.Stage",
        "sciml.experiments.refine.RefinedSFNO",
        "sciml.experiments.dgno.dgno_recipe",
        "sciml.experiments.config.Experiment",
        "sciml.experiments.config.get_experiment",
        "sciml.experiments.run.train",
        "sciml.experiments.run.load_run",
        "sciml.experiments.record.environment",
        "sciml.cli",
    ],
    "api/bench/index.html": ["sciml.experiments.bench.run_suite"],
    "api/inverse/index.html": [
        "sciml.inverse.problem.Posterior",
        "sciml.inverse.problem.recover",
        "sciml.inverse.dgno.invert_dgno",
    ],
    "api/distributed/index.html": ["sciml.distributed.batch_mesh"],
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site_dir = tmp_path_factory.mktemp("docs") / "site"
    # Material prints a notice about its own end of life whose text names an
    # environment variable ending in "WARNING"; it says nothing about this site.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc, site_dir


def test_build_is_strict_and_warning_free(site):
    proc, _ = site
    output = proc.stdout + proc.stderr
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    if proc.returncode != 0 or warnings:
        print(output)
    assert proc.returncode == 0, "mkdocs build --strict failed; its output is printed above"
    assert not warnings, "\n".join(warnings)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_documents_its_objects(site, page):
    proc, site_dir = site
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = site_dir / page
    assert path.is_file(), f"{page} was not generated"
    html = path.read_text(encoding="utf-8")
    missing = [name for name in PAGES[page] if f'id="{name}"' not in html]
    assert not missing, f"{page} does not document {missing}"


def test_home_page_is_generated(site):
    proc, site_dir = site
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = (site_dir / "index.html").read_text(encoding="utf-8")
    assert "Quick start" in html and "api/models/" in html


def test_every_api_page_is_in_the_navigation():
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs" / "api").glob("*.md")}
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert pages, "docs/api holds no pages"
    assert not [page for page in sorted(pages) if page not in config], pages
