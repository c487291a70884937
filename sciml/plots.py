"""Figures written by the command line: what a person would rather look at than read."""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from sciml._io import write_atomic


def subplots(*args: Any, figsize=None, constrained_layout: bool = False, **kwargs: Any):
    """``(figure, axes)`` as ``pyplot.subplots`` makes them, but without pyplot.

    sciml writes its PNGs from library code that may run inside a notebook or a user's
    plotting session. Figures built from :class:`matplotlib.figure.Figure` never switch
    the backend (``matplotlib.use("Agg")`` would turn a notebook's inline figures off
    for the rest of the session) and never join pyplot's list of open figures (they
    would show up at the notebook's next ``plt.show()``); ``savefig`` renders them
    with Agg all the same.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained" if constrained_layout else None)
    return fig, fig.subplots(*args, **kwargs)


def png_bytes(fig, title: str = "") -> bytes:
    """``fig`` (with its title) rendered as PNG bytes."""
    if title:
        fig.suptitle(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def save_png(fig, path: str | os.PathLike, title: str = "") -> None:
    """Write ``fig`` (with its title) to ``path`` as PNG, atomically."""
    write_atomic(path, png_bytes(fig, title))


def plot_prediction_2d(
    path: str | os.PathLike,
    a: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    *,
    title: str = "",
) -> None:
    """Four panels: input, truth, prediction and absolute error, each ``(H, W)``."""
    error = np.abs(prediction - truth)
    fig, axes = subplots(1, 4, figsize=(16, 4), constrained_layout=True)
    vmin, vmax = float(truth.min()), float(truth.max())
    panels: list[tuple[str, np.ndarray, dict[str, Any]]] = [
        ("input a", a, {}),
        ("truth u", truth, {"vmin": vmin, "vmax": vmax}),
        ("prediction", prediction, {"vmin": vmin, "vmax": vmax}),
        ("|error|", error, {"cmap": "magma"}),
    ]
    for ax, (name, field, style) in zip(axes, panels):
        image = ax.imshow(field.T, origin="lower", extent=(0, 1, 0, 1), **style)
        ax.set_title(name)
        fig.colorbar(image, ax=ax, shrink=0.8)
    save_png(fig, path, title)


def plot_prediction_1d(
    path: str | os.PathLike,
    a: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    *,
    title: str = "",
) -> None:
    """Two panels: the input ``(n,)``, and the truth and prediction ``(n,)`` with their error."""
    x = np.arange(len(truth)) / len(truth)
    fig, (left, right) = subplots(1, 2, figsize=(12, 4), constrained_layout=True)
    left.plot(np.arange(len(a)) / len(a), a, color="0.3")
    left.set_title("input a")
    right.plot(x, truth, label="truth u", lw=2)
    right.plot(x, prediction, "--", label="prediction")
    right.plot(x, prediction - truth, color="crimson", lw=1, label="error")
    right.legend()
    right.set_title("output")
    for ax in (left, right):
        ax.set_xlabel("x")
    save_png(fig, path, title)
