"""Figures written by the command line: what a person would rather look at than read."""

from __future__ import annotations

import io
import os

import numpy as np

from sciml._io import write_atomic


def plot_prediction_2d(
    path: str | os.PathLike,
    a: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    *,
    title: str = "",
) -> None:
    """Four panels: input, truth, prediction and absolute error, each ``(H, W)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    error = np.abs(prediction - truth)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4), constrained_layout=True)
    vmin, vmax = float(truth.min()), float(truth.max())
    panels = [
        ("input a", a, {}),
        ("truth u", truth, {"vmin": vmin, "vmax": vmax}),
        ("prediction", prediction, {"vmin": vmin, "vmax": vmax}),
        ("|error|", error, {"cmap": "magma"}),
    ]
    for ax, (name, field, style) in zip(axes, panels):
        image = ax.imshow(field.T, origin="lower", extent=(0, 1, 0, 1), **style)
        ax.set_title(name)
        fig.colorbar(image, ax=ax, shrink=0.8)
    if title:
        fig.suptitle(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
