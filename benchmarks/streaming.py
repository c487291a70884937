"""Streaming training from HDF5 against in-memory training, and a data set larger than
the memory the process may use.

Part 1, throughput (``--part throughput``): the Darcy quick data (1000 training
samples on 43 x 43, made by our solver through the task's cache) are written to an
HDF5 file, one chunk per sample, and the quick FNO (width 24, modes 12, padding 5,
projection 64; batches of 20) is trained on them twice per round: from memory (the
arrays held on the device, one compiled
``lax.scan`` per epoch) and streamed (a :class:`~sciml.data.lazy.ArraySamples` over
the file's datasets: each chunk of 8 batches read from the file and placed by the
background thread of :class:`~sciml.data.stream.BatchStream` while the compiled scan
over the chunk before runs). Each run is a fresh process; the rounds alternate the
two; a run's throughput is the training samples per second of its epochs after the
first (which compiles). The ratio streamed / in-memory is taken by the median.

Part 2, larger than memory (``--part larger``): a file of ``--gib`` GiB of synthetic
pairs on 128 x 128 (a Gaussian random field ``a`` and ``u = (1 - Δ)^-1 a`` on the
torus, written in chunks) is trained on for one epoch by a small FNO in a process
whose address space is capped (``RLIMIT_AS``, what ``ulimit -v`` sets) below the
file's size. The record holds the streamed run's peak resident memory (``ru_maxrss``)
and throughput, and whether reading the file into memory under the same cap fails
(tried in a process of its own).

    python benchmarks/streaming.py --part throughput --rounds 3
    python benchmarks/streaming.py --part larger --gib 3.5 --limit-gib 2.5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from cpuinfo import cpu_model

HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------------ part 1


def write_darcy(path: Path) -> None:
    """The Darcy quick train split, as an HDF5 file of one chunk per sample."""
    import h5py

    from sciml.experiments.config import get_experiment
    from sciml.experiments.run import load_data

    splits, _ = load_data(get_experiment("darcy", "fno", "quick"))
    inputs, outputs = splits["train"].arrays()
    with h5py.File(path, "w") as file:
        for name, array in (("inputs", inputs), ("outputs", outputs)):
            file.create_dataset(name, data=array, chunks=(1, *array.shape[1:]))
        file.create_dataset("x", data=splits["train"].coords[0])


def run_one(path: Path, mode: str, epochs: int) -> dict:
    """One training run (in this process): ``mode`` is ``memory`` or ``stream``."""
    import h5py
    import jax

    from sciml.data.lazy import ArraySamples
    from sciml.models import FNO
    from sciml.train import TrainConfig, fit

    config = TrainConfig(epochs=epochs, batch_size=20, learning_rate=3e-3, schedule="onecycle")
    model = FNO(1, 1, (12, 12), 24, 4, projection_channels=64, padding=5, key=jax.random.key(0))
    with h5py.File(path, "r") as file:
        x = file["x"][()]
        source = ArraySamples(file["inputs"], file["outputs"], (x, x))
        data = source if mode == "stream" else (file["inputs"][()], file["outputs"][()])
        _, history = fit(model, data, config=config, progress=False)
    times = history["epoch_time"][1:]
    n = len(source) // config.batch_size * config.batch_size
    return {
        "mode": mode,
        "epoch_seconds": history["epoch_time"],
        "samples_per_s": n / statistics.median(times),
        "train_loss": history["train_loss"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def throughput(rounds: int, epochs: int, out: Path) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "darcy-quick-train.h5"
        write_darcy(path)
        size = path.stat().st_size
        runs = []
        for round_ in range(rounds):
            for mode in ("memory", "stream") if round_ % 2 == 0 else ("stream", "memory"):
                load = os.getloadavg()[0]
                result = subprocess.run(
                    [sys.executable, __file__, "--one", str(path), mode, str(epochs)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                run = json.loads(result.stdout.strip().splitlines()[-1])
                run.update(round=round_, load_before=load)
                runs.append(run)
                print(f"round {round_} {mode}: {run['samples_per_s']:.1f} samples/s", flush=True)
    medians = {
        mode: statistics.median(r["samples_per_s"] for r in runs if r["mode"] == mode)
        for mode in ("memory", "stream")
    }
    per_round = [
        next(r for r in runs if r["round"] == k and r["mode"] == "stream")["samples_per_s"]
        / next(r for r in runs if r["round"] == k and r["mode"] == "memory")["samples_per_s"]
        for k in range(rounds)
    ]
    return {
        "file_bytes": size,
        "runs": runs,
        "median_samples_per_s": medians,
        "ratio_stream_over_memory_by_median": medians["stream"] / medians["memory"],
        "ratio_per_round": per_round,
    }


# ------------------------------------------------------------------------ part 2


def write_synthetic(path: Path, gib: float, grid: int = 128, chunk: int = 256) -> int:
    """``a`` a Gaussian random field, ``u = (1 - Δ)^-1 a`` on the unit torus; returns N."""
    import h5py

    per_sample = 2 * 4 * grid * grid
    n = int(gib * 2**30 // per_sample) // chunk * chunk
    k = np.fft.fftfreq(grid, 1 / grid)
    k2 = (2 * np.pi) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2)
    colour = (1 + k2 / 400) ** -1.5
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as file:
        inputs = file.create_dataset("inputs", (n, 1, grid, grid), "f4", chunks=(1, 1, grid, grid))
        outputs = file.create_dataset(
            "outputs", (n, 1, grid, grid), "f4", chunks=(1, 1, grid, grid)
        )
        for start in range(0, n, chunk):
            noise = np.fft.fft2(rng.standard_normal((chunk, grid, grid)))
            a = np.fft.ifft2(noise * colour).real
            a /= a.std(axis=(1, 2), keepdims=True)
            u = np.fft.ifft2(np.fft.fft2(a) / (1 + k2 / 100)).real
            inputs[start : start + chunk, 0] = a
            outputs[start : start + chunk, 0] = u
        file.create_dataset("x", data=np.arange(grid) / grid)
    return n


def larger_one(path: Path, limit_bytes: int, mode: str) -> dict:
    """In a process capped at ``limit_bytes`` of address space: ``mode = "stream"``,
    one streamed epoch and the peak resident memory; ``"whole"``, the attempt to read
    the whole file into memory (a process of its own, so that the peak of one does
    not count in the other)."""
    import h5py

    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    import jax

    from sciml.data.lazy import ArraySamples
    from sciml.models import FNO
    from sciml.train import TrainConfig, fit

    with h5py.File(path, "r") as file:
        if mode == "whole":
            try:
                inputs = file["inputs"][()]
                outputs = file["outputs"][()]
                whole = f"read {(inputs.nbytes + outputs.nbytes) / 2**30:.2f} GiB (not capped)"
            except MemoryError as error:
                whole = f"MemoryError: {error}"
            return {"whole_file_in_memory": whole}
        x = file["x"][()]
        source = ArraySamples(file["inputs"], file["outputs"], (x, x))
        train, test = source.take(slice(0, len(source) - 64)), source.take(slice(-64, None))
        config = TrainConfig(epochs=1, batch_size=32, learning_rate=3e-3, schedule="cosine")
        model = FNO(1, 1, (8, 8), 8, 2, projection_channels=16, key=jax.random.key(0))
        started = time.perf_counter()
        _, history = fit(model, train, test.load(), config=config, progress=False)
        seconds = time.perf_counter() - started
    n = len(train) // 32 * 32
    return {
        "samples": len(source),
        "train_samples": len(train),
        "epoch_seconds": seconds,
        "samples_per_s": n / seconds,
        "train_loss": history["train_loss"],
        "test_l2_after_one_epoch": history["test_l2"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def larger(gib: float, limit_gib: float, folder: Path | None) -> dict:
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / "synthetic.h5"
        started = time.perf_counter()
        n = write_synthetic(path, gib)
        written = time.perf_counter() - started
        size = path.stat().st_size
        print(f"wrote {n} samples, {size / 2**30:.2f} GiB in {written:.0f} s", flush=True)
        limit = int(limit_gib * 2**30)
        run = {}
        for mode in ("stream", "whole"):
            result = subprocess.run(
                [sys.executable, __file__, "--larger-one", str(path), str(limit), mode],
                capture_output=True,
                text=True,
            )
            if result.returncode:
                raise RuntimeError(result.stderr[-4000:])
            run.update(json.loads(result.stdout.strip().splitlines()[-1]))
    return {"file_bytes": size, "address_space_limit_bytes": limit, "write_seconds": written, **run}


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        path, mode, epochs = sys.argv[2:5]
        print(json.dumps(run_one(Path(path), mode, int(epochs))))
        return
    if sys.argv[1:2] == ["--larger-one"]:
        print(json.dumps(larger_one(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("throughput", "larger"), required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--gib", type=float, default=3.5)
    parser.add_argument("--limit-gib", type=float, default=2.5)
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the large file")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "streaming-cpu-2core")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from sciml.experiments.record import environment

    args.out.mkdir(parents=True, exist_ok=True)
    if args.part == "throughput":
        record = throughput(args.rounds, args.epochs, args.out)
    else:
        record = larger(args.gib, args.limit_gib, args.tmp)
    record.update(
        part=args.part,
        command=" ".join(["python", "benchmarks/streaming.py", *sys.argv[1:]]),
        cpu=cpu_model(),
        **environment(),
    )
    target = args.out / f"{args.part}.json"
    target.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "runs"}, indent=1))


if __name__ == "__main__":
    main()
