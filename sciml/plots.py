"""Figures written by the command line: what a person would rather look at than read."""

from __future__ import annotations

import io
import os

import numpy as np

from sciml._io import write_atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_png(fig, path, title: str) -> None:
    """Write ``fig`` (with its title) to ``path`` atomically, and close it."""
    if title:
        fig.suptitle(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    _pyplot().close(fig)
    write_atomic(path, buffer.getvalue())


def plot_prediction_2d(
    path: str | os.PathLike,
    a: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    *,
    title: str = "",
) -> None:
    """Four panels: input, truth, prediction and absolute error, each ``(H, W)``."""
    plt = _pyplot()
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
    _save_png(fig, path, title)


def plot_prediction_1d(
    path: str | os.PathLike,
    a: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    *,
    title: str = "",
) -> None:
    """Two panels: the input ``(n,)``, and the truth and prediction ``(n,)`` with their error."""
    plt = _pyplot()
    x = np.arange(len(truth)) / len(truth)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
    left.plot(np.arange(len(a)) / len(a), a, color="0.3")
    left.set_title("input a")
    right.plot(x, truth, label="truth u", lw=2)
    right.plot(x, prediction, "--", label="prediction")
    right.plot(x, prediction - truth, color="crimson", lw=1, label="error")
    right.legend()
    right.set_title("output")
    for ax in (left, right):
        ax.set_xlabel("x")
    _save_png(fig, path, title)
