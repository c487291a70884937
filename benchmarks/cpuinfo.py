"""The processor's name, for the benchmark records (shared by the scripts here, which
run as ``python benchmarks/NAME.py`` and so import this module as a sibling)."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The ``model name`` of ``/proc/cpuinfo``, else ``platform.processor()``, else
    ``"unknown"``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
