"""A run's record: the environment it ran in, its JSON and markdown, its summary rows."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from sciml._io import write_atomic, write_json

Rows = list[tuple[str, str]]


def environment() -> dict[str, Any]:
    """Device, versions and git revision, for the record of a run."""
    versions: dict[str, str | None] = {}
    for package in ("sciml", "jax", "jaxlib", "equinox", "optax", "orbax-checkpoint"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        revision = None
    device = jax.devices()[0]
    return {
        "device": f"{device.platform}:{device.device_kind}",
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        "git_revision": revision,
    }


def jsonable(obj: Any) -> Any:
    """``obj`` with dataclasses, tuples and numpy scalars turned into JSON's types."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def markdown_table(rows: Rows) -> str:
    """``| name | value |`` lines of a two-column markdown table."""
    lines = ["| | |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in rows)]
    return "\n".join(lines) + "\n"


def text_table(rows: Rows) -> str:
    """The rows aligned in two columns, for the terminal."""
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def write_record(out: Path, record: dict[str, Any], rows: Callable[[dict], Rows]) -> None:
    """``out/results.json`` and ``out/results.md`` (the summary rows), atomically."""
    write_json(out / "results.json", jsonable(record))
    write_atomic(out / "results.md", markdown_table(rows(record)).encode())


def seconds(value: float, cached: bool = False) -> str:
    return f"{value:.1f}" + (" (from cache)" if cached else "")
