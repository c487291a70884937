"""sciml's PNG writers leave the caller's matplotlib alone: backend and open figures."""

from __future__ import annotations

import matplotlib
import numpy as np

from sciml.experiments.bench import task_figure
from sciml.plots import plot_prediction_1d, plot_prediction_2d


def test_png_writers_keep_the_backend_and_open_no_figures(tmp_path):
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands in for a notebook's inline backend
    try:
        rng = np.random.default_rng(0)
        field = rng.normal(size=(8, 8))
        plot_prediction_2d(tmp_path / "two.png", field, field, field + 0.1, title="2-D")
        line = rng.normal(size=16)
        plot_prediction_1d(tmp_path / "one.png", line, line, line + 0.1, title="1-D")
        record = {"model": "fno", "preset": "quick", "test_relative_l2": 0.01, "published": None}
        png = task_figure([record], "darcy")
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == []
        for written in (tmp_path / "two.png", tmp_path / "one.png"):
            assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        matplotlib.use(before)
