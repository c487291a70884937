"""The ``file`` task: train any registered model on a published data file or folder.

``sciml train --data PATH --model MODEL`` (the same as ``sciml train file --set
data.path=PATH``) reads The Well (a file, a split folder or a data set's root folder
with ``data/train`` and ``data/test``), a PDEBench file, or an FNO ``.mat`` file, and
trains on it with the task's ``quick`` preset. The format is found from the contents,
never from the name.

The splits: a Well root folder gives its own ``train`` and ``test`` (``valid`` if it has
no ``test``) folders; a single file gives its first ``n_train`` samples for training
and its last ``n_test`` for testing (the FNO scripts' split). With ``n_test = 0`` the
test split is the last 10 % of the samples, as PDEBench's own loaders hold out; with
``n_train = 0`` training takes every sample before it.

The training split is streamed from disk (:mod:`sciml.data.stream`) when it is larger
than ``stream_above_gib`` (``stream = "auto"``), or always (``"stream"``) or never
(``"memory"``); the test split is read into memory to be judged. Normalisers and a POD
basis are fitted to the first ``fit_samples`` training samples when the split is
streamed, to all of them otherwise. No data are cached: the file is the data.

References:
    Ohana et al., "The Well: a Large-Scale Collection of Diverse Physics Simulations
    for Machine Learning", NeurIPS 2024 Datasets and Benchmarks.
    Takamoto et al., "PDEBench: An Extensive Benchmark for Scientific Machine
    Learning", NeurIPS 2022 Datasets and Benchmarks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciml.data.dataset import OperatorDataset, config_to_dict
from sciml.data.lazy import LazyDataset, Subset
from sciml.tasks import Task, register_task
from sciml.tasks.operator import judge_operator, operator_rows

FORMATS = ("auto", "well", "pdebench", "fno")
STREAM = ("auto", "stream", "memory")


@dataclasses.dataclass(frozen=True)
class FileConfig:
    """Which file, which samples, and how they are read.

    Attributes:
        path: the file or folder.
        format: ``"auto"`` (found from the contents), ``"well"``, ``"pdebench"`` or
            ``"fno"``.
        n_train: training samples (0: every sample before the test split).
        n_test: test samples (0: a Well data set's whole test split, else the last
            10 % of a file's samples).
        n_steps_input: input frames of a trajectory (The Well, PDEBench).
        n_steps_output: output frames after them (The Well).
        target: PDEBench's outputs: ``"final"``, the last frame, or ``"trajectory"``,
            every frame after the inputs.
        stride: saved time steps between frames (The Well).
        fields: the fields to read (The Well; empty: all).
        normalize: apply the data set's own ``stats.yaml`` (The Well).
        stream: ``"auto"``, ``"stream"`` or ``"memory"``, for the training split.
        stream_above_gib: the size (GiB, float32) above which ``"auto"`` streams.
        fit_samples: samples the normalisers and a POD basis are fitted to when the
            training split is streamed.
    """

    path: str = ""
    format: str = "auto"
    n_train: int = 0
    n_test: int = 0
    n_steps_input: int = 1
    n_steps_output: int = 1
    target: str = "final"
    stride: int = 1
    fields: tuple[str, ...] = ()
    normalize: bool = False
    stream: str = "auto"
    stream_above_gib: float = 1.0
    fit_samples: int = 512

    def __post_init__(self):
        if not self.path:
            raise ValueError(
                "the file task needs data.path, the data file or folder (sciml train --data PATH)"
            )
        for name, value, valid in (
            ("format", self.format, FORMATS),
            ("stream", self.stream, STREAM),
            ("target", self.target, ("final", "trajectory")),
        ):
            if value not in valid:
                raise ValueError(f"data.{name} must be one of {', '.join(valid)}, got {value!r}")
        for name in ("n_train", "n_test"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                raise ValueError(
                    f"data.{name} must be an integer >= 0, got {getattr(self, name)!r}"
                )
        for name in ("n_steps_input", "n_steps_output", "stride", "fit_samples"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(
                    f"data.{name} must be an integer >= 1, got {getattr(self, name)!r}"
                )

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)


def detect_format(path: str | Path) -> str:
    """``"well"``, ``"pdebench"`` or ``"fno"`` from what ``path`` holds.

    Raises:
        FileNotFoundError: if nothing is at ``path``.
        ValueError: if it is none of those.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no data file or folder at {path}")
    if path.is_dir():
        if any(path.glob("*.hdf5")) or any(path.glob("*.h5")) or (path / "data").is_dir():
            return "well"
        raise ValueError(
            f"{path} is a folder but neither a Well data set (data/train, data/test) nor a "
            "Well split folder of .hdf5 files"
        )
    if not h5py.is_hdf5(path):
        return "fno"  # a MATLAB v5 file; its reader says so if it is not one
    with h5py.File(path, "r") as file:
        if "t0_fields" in file:
            return "well"
        if "a" in file or "coeff" in file or "u" in file:
            return "fno"  # MATLAB v7.3
        return "pdebench"


def _test_count(config: FileConfig, total: int) -> int:
    return config.n_test or max(1, total // 10)


def _split_single(config: FileConfig, source) -> dict[str, Any]:
    """First ``n_train`` and last ``n_test`` samples of one file's data set."""
    total = len(source)
    n_test = _test_count(config, total)
    n_train = config.n_train or total - n_test
    if n_train < 1 or n_train + n_test > total:
        raise ValueError(
            f"{config.path} holds {total} samples; n_train={n_train} and n_test={n_test} "
            "do not fit without overlapping"
        )
    return {
        "train": source.take(slice(0, n_train)),
        "test": source.take(slice(total - n_test, total)),
    }


def _well(config: FileConfig) -> dict[str, Any]:
    from sciml.data.well import WellDataset

    def open_well(path, split=None) -> WellDataset:
        return WellDataset(
            path,
            split=split,
            fields=list(config.fields) or None,
            n_steps_input=config.n_steps_input,
            n_steps_output=config.n_steps_output,
            stride=config.stride,
            normalize=config.normalize,
        )

    root = Path(config.path)
    if root.is_dir() and (root / "data").is_dir():
        test_split = "test" if (root / "data" / "test").is_dir() else "valid"
        train: LazyDataset = open_well(root, "train")
        test: LazyDataset = open_well(root, test_split)
        if config.n_train:
            train = train.take(slice(0, min(config.n_train, len(train))))
        if config.n_test:
            test = test.take(slice(0, min(config.n_test, len(test))))
        return {"train": train, "test": test, "periodic": all(train_periodic(train))}
    source = open_well(root)
    return {**_split_single(config, source), "periodic": all(source.periodic)}


def train_periodic(dataset) -> tuple[bool, ...]:
    """The per-axis periodicity a (possibly subset) Well data set records."""
    while not hasattr(dataset, "periodic") and hasattr(dataset, "source"):
        dataset = dataset.source
    return tuple(getattr(dataset, "periodic", (False,)))


def _pdebench(config: FileConfig) -> dict[str, Any]:
    from sciml.data.lazy import ArraySamples
    from sciml.data.pdebench import PDEBenchTrajectories, read_pdebench_darcy

    with h5py.File(config.path, "r") as file:
        darcy = "nu" in file and "tensor" in file
    if darcy:
        data = read_pdebench_darcy(config.path)
        source: LazyDataset = ArraySamples(data.inputs, data.outputs, data.coords, data.config)
    else:
        source = PDEBenchTrajectories(
            config.path, n_steps_input=config.n_steps_input, target=config.target
        )
    # PDEBench's files do not say which boundaries are periodic: padded models are safe
    return {**_split_single(config, source), "periodic": False}


def _fno(config: FileConfig) -> dict[str, Any]:
    from sciml.data.lazy import ArraySamples
    from sciml.data.readers import read_fno_burgers, read_fno_darcy, read_fno_navier_stokes

    errors = []
    for reader, periodic in (
        (read_fno_darcy, False),
        (read_fno_burgers, True),
        (read_fno_navier_stokes, True),
    ):
        try:
            data = reader(config.path)
        except (ValueError, KeyError) as error:
            errors.append(f"{reader.__name__}: {error}")
            continue
        source = ArraySamples(data.inputs, data.outputs, data.coords, data.config)
        return {**_split_single(config, source), "periodic": periodic}
    raise ValueError(f"{config.path} is not an FNO data file: {'; '.join(errors)}")


_OPEN = {"well": _well, "pdebench": _pdebench, "fno": _fno}


def open_splits(config: FileConfig) -> dict[str, Any]:
    """``{"train", "test", "periodic"}``: the lazy splits of the file and whether its
    domain is periodic on every axis."""
    kind = detect_format(config.path) if config.format == "auto" else config.format
    return _OPEN[kind](config)


def generate_file(config: FileConfig, *, progress=None) -> dict[str, Any]:
    """The splits: the training split streamed or read into memory as ``config.stream``
    says, the test split read into memory; both carry ``periodic`` in their config."""
    opened = open_splits(config)
    train, test = opened["train"], opened["test"]
    stream = config.stream == "stream" or (
        config.stream == "auto" and train.nbytes > config.stream_above_gib * 2**30
    )
    extra = {"periodic": opened["periodic"], "streamed": stream}
    test = test.load()
    test = OperatorDataset(test.inputs, test.outputs, test.coords, {**test.config, **extra})
    if stream:
        train = Subset(train, np.arange(len(train)), extra)
    else:
        train = train.load()
        train = OperatorDataset(
            train.inputs, train.outputs, train.coords, {**train.config, **extra}
        )
    if progress is not None:
        progress(len(train) + len(test))
    return {"train": train, "test": test}


def file_arrays(experiment, split):
    """A streamed split as itself (``fit`` streams it), an in-memory one as arrays."""
    if isinstance(split, LazyDataset):
        return split
    return split.arrays()


@register_task("file")
def file_task() -> Task:
    return Task(
        "file",
        FileConfig,
        generate_file,
        False,
        judge_operator,
        operator_rows,
        arrays=file_arrays,
        cached=False,
        figures=("prediction.png",),
    )
