"""The package type-checks: ``python -m mypy`` with the [tool.mypy] settings of pyproject.toml.

The cache goes to a fresh temporary folder, so this is a cold run, as in CI (15 to 30 s
on a 2-core CPU).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_reports_no_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mypy failed (exit {result.returncode}):\n{output}"
    assert "Success: no issues found" in output, output
