"""Execute the notebooks in ``notebooks/`` at a chosen size and record their wall times.

Every notebook has one code cell tagged ``parameters`` that sets ``SIZE = "full"``.
Like papermill, the runner injects a cell right after it that overrides ``SIZE``
("smoke" is what the test suite runs, "full" is what the notebook is written for), then
executes every cell in a fresh kernel with nbclient, working in a scratch folder so
that nothing is written beside the notebooks.

    python benchmarks/notebook_times.py                # every notebook at full size
    python benchmarks/notebook_times.py --size smoke 01_quickstart_darcy
    python benchmarks/notebook_times.py --out benchmarks/results/notebooks-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SIZES = ("smoke", "full")


def notebook_paths() -> list[Path]:
    """The worked notebooks, in their numbered order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def parameters_cell_index(nb) -> int:
    """Index of the one code cell tagged ``parameters``; a clear error if there is none."""
    found = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    if len(found) != 1:
        raise ValueError(f"expected exactly one code cell tagged 'parameters', found {len(found)}")
    return found[0]


def execute_notebook(path: Path, size: str, workdir: Path | None = None, timeout: int = 1200):
    """Run ``path`` top to bottom with ``SIZE = size``; return (executed notebook, seconds)."""
    import nbformat
    from nbclient import NotebookClient

    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    nb = nbformat.read(path, as_version=4)
    i = parameters_cell_index(nb)
    injected = nbformat.v4.new_code_cell(f"SIZE = {size!r}  # injected by the runner")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(i + 1, injected)
    with tempfile.TemporaryDirectory() as scratch:
        cwd = Path(workdir) if workdir is not None else Path(scratch)
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(cwd)}},
        )
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    return nb, seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook stems (default: all)")
    parser.add_argument("--size", default="full", choices=SIZES)
    parser.add_argument("--out", type=Path, help="write the times as JSON here")
    args = parser.parse_args(argv)
    paths = notebook_paths()
    if args.names:
        unknown = set(args.names) - {p.stem for p in paths}
        if unknown:
            raise SystemExit(f"unknown notebooks {sorted(unknown)}; have {[p.stem for p in paths]}")
        paths = [p for p in paths if p.stem in args.names]
    times = {}
    for path in paths:
        _, seconds = execute_notebook(path, args.size)
        times[path.stem] = round(seconds, 1)
        print(f"{path.stem}: {seconds:.1f} s at size {args.size}", flush=True)
    if args.out:
        import subprocess

        import jax

        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=NOTEBOOKS.parent,
            capture_output=True,
            text=True,
        ).stdout.strip()
        record = {
            "size": args.size,
            "seconds": times,
            "git_revision": revision or None,
            "jax": jax.__version__,
            "python": platform.python_version(),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            "load_average": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        tmp = args.out.with_suffix(args.out.suffix + ".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
