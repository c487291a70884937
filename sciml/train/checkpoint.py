"""Checkpoints of a training run, written with orbax-checkpoint.

A checkpoint directory holds one folder per saved epoch, named by the number of
epochs completed::

    directory/
        3/
            model/       the model's array leaves (all of them: normaliser statistics too)
            opt_state/   the optimiser state's array leaves
            train/       JSON: epoch, TrainConfig, RNG key, history, schedule length,
                         whether the optimiser and loss were the TrainConfig's or
                         the caller's, and the path, shape and dtype of every
                         stored leaf
            metadata/    JSON: the caller's metadata (e.g. the model's configuration)
        4/ ...

Arrays are stored as flat lists of leaves and put back into the structure of a
``like`` model (or optimiser state) on loading, so any equinox module or optax state
round-trips exactly; the leaf descriptions catch a ``like`` of the wrong shape (and,
for the optimiser state, of another structure).

Nothing read back is trusted. Each leaf description carries a BLAKE2b-128 checksum
of the array's bytes (C order, little-endian), taken from the host copy at saving and
recomputed on the arrays read back; the ``train`` record carries one of itself (of its
canonical JSON) and one of the caller's metadata. A checkpoint whose file is missing
or unreadable, or whose array or record does not match its checksum, is refused with
a :class:`DamagedCheckpointError` naming it. Asked for "the latest", the loaders take
the newest checkpoint that reads back intact, and warn (:class:`DamagedCheckpointWarning`)
of each newer one skipped, with the reason; :attr:`Checkpoint.skipped` lists them.

A save is atomic: orbax writes each checkpoint into a temporary folder
(``<epoch>.orbax-checkpoint-tmp...``) and renames it once complete (on object stores,
where renaming is not atomic, it marks completion with a commit file instead), so a
crash mid-write leaves no folder that loading would take for a checkpoint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from jaxtyping import PyTree

from sciml.distributed import is_primary
from sciml.train.checks import check_json
from sciml.train.config import TrainConfig
from sciml.train.optimizers import make_optimizer
from sciml.train.trainable import trainable_filter

FORMAT_VERSION = 2
UNVERIFIED_FORMAT = 1
"""The format written before checkpoints carried checksums: read, with a warning."""
KEEP_CHECKPOINTS = 3
PART_SOURCES = ("config", "user")
"""Where a run's optimiser or loss came from: the TrainConfig, or the caller."""
SET_ASIDE_SUFFIX = ".damaged"
"""A damaged checkpoint set aside by :func:`set_aside` is renamed ``<epoch>.damaged``."""

_T = TypeVar("_T")


class DamagedCheckpointError(ValueError):
    """A checkpoint does not read back as it was written: a file of it is missing or
    unreadable, or an array or record does not match the checksum stored with it."""


class DamagedCheckpointWarning(UserWarning):
    """Loading "the latest" checkpoint skipped a damaged one for an older intact one."""


@dataclasses.dataclass(frozen=True)
class SkippedCheckpoint:
    """A checkpoint passed over as damaged: its folder, and why."""

    path: Path
    reason: str


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What :func:`load_checkpoint` reads back.

    Attributes:
        path: the checkpoint's folder, ``directory/<epoch>``.
        epoch: the number of epochs completed when it was written.
        model: the ``like`` model holding the stored arrays.
        opt_state: the optimiser state, or None where it cannot be rebuilt.
        config: the run's TrainConfig, or None if none was stored.
        key: the run's RNG key, or None if none was stored.
        history: the per-epoch history up to ``epoch``.
        metadata: the caller's JSON metadata.
        steps_per_epoch: optimiser steps per epoch of the run, or None.
        schedule_steps: the length of the run's learning-rate schedule, or None.
        optimizer: ``"config"`` if the run's optimiser was the one its TrainConfig
            names, ``"user"`` if the caller passed its own (``fit(optimizer=...)``).
        loss: ``"config"`` if the training loss was ``config.loss``, ``"user"`` if the
            caller passed a loss callable.
        skipped: the newer checkpoints passed over as damaged when "the latest" was
            asked for, newest first (empty when the newest was intact or an epoch was
            named).
    """

    path: Path
    epoch: int
    model: PyTree
    opt_state: PyTree | None
    config: TrainConfig | None
    key: jax.Array | None
    history: dict[str, list[float]]
    metadata: dict[str, Any]
    steps_per_epoch: int | None
    schedule_steps: int | None
    optimizer: str = "config"
    loss: str = "config"
    skipped: tuple[SkippedCheckpoint, ...] = ()


class CheckpointWriter:
    """Writes the checkpoints of one run into ``directory``, keeping the last few.

    Saves are asynchronous: :meth:`save` returns once the arrays are copied, and the
    files are written in the background; :meth:`close` (or :meth:`wait`) waits for
    them, so a checkpoint is on disk once ``close`` returns, even on an exception.
    """

    def __init__(self, directory: str | os.PathLike, max_to_keep: int = KEEP_CHECKPOINTS):
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep,
                create=True,
                cleanup_tmp_directories=True,
                enable_async_checkpointing=True,
            ),
        )

    def save(
        self,
        epoch: int,
        model: PyTree,
        opt_state: PyTree | None = None,
        *,
        config: TrainConfig | None = None,
        key: jax.Array | None = None,
        history: dict[str, list[float]] | None = None,
        metadata: dict[str, Any] | None = None,
        steps_per_epoch: int | None = None,
        schedule_steps: int | None = None,
        optimizer: str = "config",
        loss: str = "config",
    ) -> Path:
        """Start writing checkpoint ``epoch``; returns its final path."""
        check_json("checkpoint metadata", metadata)
        _check_sources(optimizer=optimizer, loss=loss)
        model_arrays = eqx.filter(model, eqx.is_array)
        metadata = json.loads(json.dumps(metadata or {}))  # as it will read back
        train = {
            "format": FORMAT_VERSION,
            "epoch": int(epoch),
            "config": None if config is None else config.to_dict(),
            "key": None if key is None else _key_data(key),
            "history": {
                name: [float(v) for v in values] for name, values in (history or {}).items()
            },
            "steps_per_epoch": steps_per_epoch,
            "schedule_steps": schedule_steps,
            "optimizer": optimizer,
            "loss": loss,
            "model_leaves": _describe(model_arrays, checksums=True),
            "opt_state_leaves": None if opt_state is None else _describe(opt_state, checksums=True),
            "metadata_checksum": _json_checksum(metadata),
        }
        train["checksum"] = _json_checksum(train)
        items = {
            "train": ocp.args.JsonSave(train),
            "metadata": ocp.args.JsonSave(metadata),
        }
        # Copies, so that buffers the caller donates to its next step stay untouched
        # while the files are written in the background.
        for name, tree in (("model", model_arrays), ("opt_state", opt_state)):
            leaves = jax.tree.leaves(tree)
            if leaves:
                items[name] = ocp.args.StandardSave(
                    {str(i): jnp.copy(leaf) for i, leaf in enumerate(leaves)}
                )
        if not self._manager.save(int(epoch), args=ocp.args.Composite(**items)):
            # orbax skips, without an error, a step not newer than its latest one
            raise ValueError(
                f"cannot write checkpoint {epoch} into {self.directory}: it already holds "
                f"checkpoint {self._manager.latest_step()}; checkpoints are written in "
                "increasing epochs"
            )
        return self.directory / str(int(epoch))

    def latest_epoch(self) -> int | None:
        """The last epoch saved (waiting for writes in flight), or None."""
        self.wait()
        return self._manager.latest_step()

    def wait(self) -> None:
        """Block until every started save is on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Wait for the saves in flight and release the directory."""
        self._manager.close()


def save_checkpoint(
    directory: str | os.PathLike,
    epoch: int,
    model: PyTree,
    opt_state: PyTree | None = None,
    *,
    config: TrainConfig | None = None,
    key: jax.Array | None = None,
    history: dict[str, list[float]] | None = None,
    metadata: dict[str, Any] | None = None,
    steps_per_epoch: int | None = None,
    schedule_steps: int | None = None,
    optimizer: str = "config",
    loss: str = "config",
    max_to_keep: int = KEEP_CHECKPOINTS,
) -> Path:
    """Write one checkpoint ``directory/<epoch>`` and wait until it is on disk.

    Args:
        directory: the run's checkpoint folder (created if missing).
        epoch: the number of epochs completed; names the checkpoint.
        model: the model; all its array leaves are stored.
        opt_state: the optimiser state, if any.
        config: the run's TrainConfig, stored as JSON.
        key: the run's RNG key.
        history: per-epoch lists of floats.
        metadata: any JSON-serialisable dict, e.g. what rebuilds the model.
        steps_per_epoch: optimiser steps per epoch.
        schedule_steps: the length of the learning-rate schedule.
        optimizer: ``"config"`` (the optimiser ``config`` names made ``opt_state``) or
            ``"user"`` (the caller's own optimiser did).
        loss: ``"config"`` (``config.loss``) or ``"user"`` (the caller's loss callable).
        max_to_keep: older checkpoints beyond this many are deleted.

    Returns:
        The checkpoint's folder.

    Raises:
        ValueError: if ``metadata`` is not JSON-serialisable, or ``optimizer`` or
            ``loss`` is neither ``"config"`` nor ``"user"``.
    """
    writer = CheckpointWriter(directory, max_to_keep)
    try:
        return writer.save(
            epoch,
            model,
            opt_state,
            config=config,
            key=key,
            history=history,
            metadata=metadata,
            steps_per_epoch=steps_per_epoch,
            schedule_steps=schedule_steps,
            optimizer=optimizer,
            loss=loss,
        )
    finally:
        writer.close()


def latest_epoch(directory: str | os.PathLike) -> int | None:
    """The epoch of the newest checkpoint in ``directory`` whose training record reads
    back intact, or None if it holds none.

    Only the records are read, not the arrays: a checkpoint whose arrays are damaged
    still counts (the run trained that far; the loaders, asked for the latest, fall
    back past it to the newest intact one), while a stray folder of that name, or one
    whose record is missing or damaged, does not. :func:`latest_intact_epoch` reads
    the arrays too.
    """
    directory = Path(directory).absolute()
    if not directory.is_dir():
        return None
    manager = _reader(directory)
    try:
        for step in sorted(manager.all_steps(), reverse=True):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # of the unchecked format: the loaders warn
                    _read_record(manager, directory / str(step), step)
            except DamagedCheckpointError:
                continue
            except ValueError:  # of another format: a checkpoint all the same
                pass
            return step
        return None
    finally:
        manager.close()


def latest_intact_epoch(
    directory: str | os.PathLike,
) -> tuple[int | None, tuple[SkippedCheckpoint, ...]]:
    """The epoch of the newest checkpoint in ``directory`` that reads back intact, and
    the newer ones skipped as damaged, newest first.

    Every record and array of a checkpoint is read back and checked against its
    checksum; no model is needed (the arrays are read as their descriptions say).
    The epoch is None if the directory holds no intact checkpoint.
    """
    directory = Path(directory).absolute()
    if not directory.is_dir():
        return None, ()
    manager = _reader(directory)
    skipped = []
    try:
        for step in sorted(manager.all_steps(), reverse=True):
            path = directory / str(step)
            try:
                _read_everything(manager, path, step)
            except DamagedCheckpointError as error:
                skipped.append(SkippedCheckpoint(path, str(error)))
            else:
                return step, tuple(skipped)
        return None, tuple(skipped)
    finally:
        manager.close()


def set_aside(skipped: tuple[SkippedCheckpoint, ...]) -> list[Path]:
    """Rename each damaged checkpoint ``<epoch>`` to ``<epoch>.damaged``, kept for a
    look but no longer a checkpoint, so that a run resumed from an older one can
    write those epochs again (the process writing files once per run renames, the
    others wait for it).

    Returns:
        The new folders.
    """
    moved = []
    for skip in skipped:
        target = skip.path.with_name(skip.path.name + SET_ASIDE_SUFFIX)
        number = 1
        while target.exists():
            number += 1
            target = skip.path.with_name(f"{skip.path.name}{SET_ASIDE_SUFFIX}-{number}")
        if is_primary():
            skip.path.rename(target)
        moved.append(target)
    if moved:
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices("sciml: damaged checkpoints set aside")
        warnings.warn(
            f"set the damaged checkpoints aside: {', '.join(map(str, moved))}",
            DamagedCheckpointWarning,
            stacklevel=2,
        )
    return moved


def load_metadata(directory: str | os.PathLike, *, epoch: int | None = None) -> dict[str, Any]:
    """The caller's metadata stored with a checkpoint (the latest by default).

    Needs no model, so a command line can read the model's configuration from it and
    then build the ``like`` model for :func:`load_model`. "The latest" is the newest
    checkpoint whose records (not its arrays) read back intact.

    Raises:
        FileNotFoundError: if there is no checkpoint.
        DamagedCheckpointError: if the checkpoint (or, for the latest, every one) is
            damaged.
    """

    def read(manager, path, step):
        return _read_metadata(manager, path, step, _read_record(manager, path, step))

    return _read_newest(directory, epoch, read)[0]


def load_train_record(directory: str | os.PathLike, *, epoch: int | None = None) -> dict[str, Any]:
    """The JSON record of the run stored with a checkpoint (the latest by default):
    ``epoch``, ``config``, ``history``, ``optimizer`` and ``loss`` (``"config"`` or
    ``"user"``), the leaf descriptions, ...; read without restoring any array, so "the
    latest" is the newest checkpoint whose record reads back intact.

    Raises:
        FileNotFoundError: if there is no checkpoint.
        DamagedCheckpointError: if the checkpoint's record (or, for the latest, every
            one) is damaged.
        ValueError: if the checkpoint is of another format.
    """
    return _read_newest(directory, epoch, _read_record)[0]


def load_model(
    directory: str | os.PathLike, like_model: PyTree, *, epoch: int | None = None
) -> PyTree:
    """``like_model`` with the arrays of a checkpoint (the latest by default).

    Args:
        directory: a checkpoint folder written by ``fit`` or :func:`save_checkpoint`.
        like_model: a model of the same structure, shapes and dtypes (e.g. freshly
            initialised); its non-array fields are kept.
        epoch: which checkpoint; if None, the newest one that reads back intact (a
            :class:`DamagedCheckpointWarning` names each newer one skipped).

    Returns:
        The model.

    Raises:
        FileNotFoundError: if there is no checkpoint.
        DamagedCheckpointError: if the checkpoint (or, for the latest, every one) is
            damaged: a file missing or unreadable, an array not matching its checksum.
        ValueError: if the stored arrays do not fit ``like_model``.
    """

    def read(manager, path, step):
        return _restore_model(manager, path, step, _read_record(manager, path, step), like_model)

    return _read_newest(directory, epoch, read)[0]


def load_checkpoint(
    directory: str | os.PathLike,
    like_model: PyTree,
    *,
    epoch: int | None = None,
    like_opt_state: PyTree | None = None,
) -> Checkpoint:
    """Everything a checkpoint holds (the latest by default), to inspect or resume.

    Args:
        directory: a checkpoint folder written by ``fit`` or :func:`save_checkpoint`.
        like_model: a model of the same structure, shapes and dtypes.
        epoch: which checkpoint; if None, the newest one that reads back intact (a
            :class:`DamagedCheckpointWarning` names each newer one skipped, and
            :attr:`Checkpoint.skipped` lists them).
        like_opt_state: the structure of the optimiser state (arrays or
            ``jax.ShapeDtypeStruct``); by default rebuilt from the stored TrainConfig
            for the trainable leaves of ``like_model``. The state of a run with its
            caller's own optimiser cannot be rebuilt so: without ``like_opt_state``
            (e.g. ``jax.eval_shape(optimizer.init, params)``) its ``opt_state`` is None.

    Returns:
        A :class:`Checkpoint`.

    Raises:
        FileNotFoundError: if there is no checkpoint.
        DamagedCheckpointError: if the checkpoint (or, for the latest, every one) is
            damaged: a file missing or unreadable, an array or record not matching its
            checksum.
        ValueError: if the stored arrays do not fit ``like_model``/``like_opt_state``
            (for the optimiser state: the same number, paths, shapes and dtypes).
    """

    def read(manager, path, step):
        train = _read_record(manager, path, step)
        metadata = _read_metadata(manager, path, step, train)
        config = None if train["config"] is None else TrainConfig.from_dict(train["config"])
        model = _restore_model(manager, path, step, train, like_model)
        structure = like_opt_state
        if structure is None and config is not None and train["optimizer"] == "config":
            params = eqx.filter(like_model, trainable_filter(like_model))
            optimizer = make_optimizer(config, lambda step: 0.0)
            structure = jax.eval_shape(optimizer.init, params)
        opt_state = None
        if structure is not None and train["opt_state_leaves"] is not None:
            opt_state = _restore_leaves(
                manager, path, step, "opt_state", train["opt_state_leaves"], structure
            )
        key = train["key"]
        return Checkpoint(
            path=path,
            epoch=step,
            model=model,
            opt_state=opt_state,
            config=config,
            key=(
                None
                if key is None
                else jax.random.wrap_key_data(jnp.asarray(np.asarray(key, np.uint32)))
            ),
            history={name: list(values) for name, values in train["history"].items()},
            metadata=metadata,
            steps_per_epoch=train["steps_per_epoch"],
            schedule_steps=train["schedule_steps"],
            optimizer=train["optimizer"],
            loss=train["loss"],
        )

    checkpoint, skipped = _read_newest(directory, epoch, read)
    return dataclasses.replace(checkpoint, skipped=skipped)


def _read_newest(
    directory: str | os.PathLike,
    epoch: int | None,
    read: Callable[[ocp.CheckpointManager, Path, int], _T],
) -> tuple[_T, tuple[SkippedCheckpoint, ...]]:
    """``read(manager, path, epoch)`` of checkpoint ``epoch`` in ``directory``; if
    ``epoch`` is None, of the newest checkpoint ``read`` finds intact, warning of the
    newer ones it finds damaged. Returns what ``read`` returned and those skipped."""
    with _open(directory) as (manager, directory, steps):
        if epoch is not None:
            if epoch not in steps:
                raise FileNotFoundError(
                    f"no checkpoint of epoch {epoch} in {directory}; available: {sorted(steps)}"
                )
            return read(manager, directory / str(epoch), epoch), ()
        skipped: list[SkippedCheckpoint] = []
        for step in sorted(steps, reverse=True):
            path = directory / str(step)
            try:
                result = read(manager, path, step)
            except DamagedCheckpointError as error:
                skipped.append(SkippedCheckpoint(path, str(error)))
                continue
            if skipped:
                warnings.warn(
                    f"loaded {path} instead of the damaged newer checkpoints: "
                    + "; ".join(skip.reason for skip in skipped),
                    DamagedCheckpointWarning,
                    stacklevel=3,
                )
            return result, tuple(skipped)
    raise DamagedCheckpointError(
        f"no checkpoint in {directory} reads back intact: "
        + "; ".join(skip.reason for skip in skipped)
    )


def _read_everything(manager, path, epoch):
    """Read back and verify every record and array of a checkpoint, as stored."""
    train = _read_record(manager, path, epoch)
    _read_metadata(manager, path, epoch, train)
    sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    for item in ("model", "opt_state"):
        described = train[f"{item}_leaves"] or []
        abstract = [
            jax.ShapeDtypeStruct(tuple(leaf["shape"]), jnp.dtype(leaf["dtype"]), sharding=sharding)
            for leaf in described
        ]
        if abstract:
            _read_leaves(manager, path, epoch, item, described, abstract)


def _read_record(manager, path, epoch) -> dict[str, Any]:
    """The ``train`` record of a checkpoint, checked against its checksum."""
    train = _restore(manager, path, epoch, "its training record", train=ocp.args.JsonRestore())
    train = train.train
    if not isinstance(train, dict):
        raise _damaged(path, f"its training record {path / 'train'} is not a JSON object")
    if "checksum" in train:
        if train["checksum"] != _json_checksum({k: v for k, v in train.items() if k != "checksum"}):
            raise _damaged(
                path, f"its training record {path / 'train'} does not match its checksum"
            )
    elif train.get("format") == UNVERIFIED_FORMAT:
        warnings.warn(
            f"{path} was written before checkpoints carried checksums: it is read unverified",
            stacklevel=4,
        )
    else:
        raise _damaged(path, f"its training record {path / 'train'} carries no checksum")
    if train.get("format") not in (FORMAT_VERSION, UNVERIFIED_FORMAT):
        raise ValueError(
            f"{path} is a checkpoint of format {train.get('format')!r}; this version of "
            f"sciml reads formats {UNVERIFIED_FORMAT} and {FORMAT_VERSION}"
        )
    # checkpoints written before the caller could pass its own parts used the config's
    return {"optimizer": "config", "loss": "config", **train}


def _read_metadata(manager, path, epoch, train) -> dict[str, Any]:
    """The caller's metadata of a checkpoint, checked against the record's checksum."""
    metadata = _restore(manager, path, epoch, "its metadata", metadata=ocp.args.JsonRestore())
    metadata = metadata.metadata
    if "metadata_checksum" in train and _json_checksum(metadata) != train["metadata_checksum"]:
        raise _damaged(path, f"its metadata {path / 'metadata'} does not match its checksum")
    return metadata


def _restore_model(manager, path, epoch, train, like_model):
    arrays, rest = eqx.partition(like_model, eqx.is_array)
    arrays = _restore_leaves(manager, path, epoch, "model", train["model_leaves"], arrays)
    return eqx.combine(arrays, rest)


def _restore_leaves(manager, path, epoch, item, described, like):
    """The stored leaves of ``item``, verified, in the structure of ``like``."""
    leaves, treedef = jax.tree.flatten(like)
    _check_leaves(item, described, _describe(like))
    if not leaves:
        return like
    default = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    abstract = [
        jax.ShapeDtypeStruct(
            leaf.shape, leaf.dtype, sharding=getattr(leaf, "sharding", None) or default
        )
        for leaf in leaves
    ]
    return jax.tree.unflatten(
        treedef, _read_leaves(manager, path, epoch, item, described, abstract)
    )


def _read_leaves(manager, path, epoch, item, described, abstract) -> list[jax.Array]:
    """The arrays of ``item`` read as ``abstract`` says, each checked against the
    checksum of its description."""
    restored = _restore(
        manager,
        path,
        epoch,
        f"its {item} arrays",
        **{item: ocp.args.StandardRestore({str(i): leaf for i, leaf in enumerate(abstract)})},
    )[item]
    try:
        leaves = [restored[str(i)] for i in range(len(abstract))]
    except (KeyError, TypeError) as error:
        raise _damaged(path, f"its {item} arrays in {path / item} are incomplete") from error
    for description, leaf in zip(described, leaves):
        if "checksum" not in description:  # a checkpoint of the unverified format
            continue
        if (
            list(leaf.shape) != description["shape"]
            or str(leaf.dtype) != description["dtype"]
            or _checksum(leaf) != description["checksum"]
        ):
            raise _damaged(
                path,
                f"its {item} array {description['path']}, read from {path / item}, does "
                "not match its checksum",
            )
    return leaves


def _restore(manager, path, epoch, what, **items):
    try:
        return manager.restore(epoch, args=ocp.args.Composite(**items))
    except Exception as error:  # whatever a missing or garbled file makes orbax raise
        message = str(error).strip().splitlines()
        detail = f"{type(error).__name__}: {message[0][:300] if message else ''}"
        raise _damaged(path, f"cannot read {what} ({detail})") from error


def _damaged(path, detail) -> DamagedCheckpointError:
    return DamagedCheckpointError(f"the checkpoint {path} is damaged: {detail}")


def _describe(tree, *, checksums: bool = False) -> list[dict[str, Any]]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    descriptions = []
    for path, leaf in flat:
        description = {
            "path": jax.tree_util.keystr(path),
            "shape": list(np.shape(leaf)),
            "dtype": str(leaf.dtype),
        }
        if checksums:
            description["checksum"] = _checksum(leaf)
        descriptions.append(description)
    return descriptions


def _checksum(array) -> str:
    """BLAKE2b-128 of the array's bytes, in C order and little-endian (the same on
    every host)."""
    host = np.ascontiguousarray(_host_copy(array)).reshape(-1)
    order = host.dtype.byteorder
    if order == ">" or (order == "=" and sys.byteorder == "big"):
        host = host.byteswap()
    return hashlib.blake2b(host.view(np.uint8).data, digest_size=16).hexdigest()


def _host_copy(array) -> np.ndarray:
    """The whole of ``array`` on this host (of a replicated array, the local copy)."""
    if isinstance(array, jax.Array) and not array.is_fully_addressable:
        if array.is_fully_replicated:
            return np.asarray(array.addressable_shards[0].data)
        return np.asarray(multihost_utils.process_allgather(array, tiled=True))
    return np.asarray(array)


def _json_checksum(value) -> str:
    """BLAKE2b-128 of the canonical JSON of ``value`` (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


_REBUILD_HINTS = {
    "model": "build the model with the configuration stored in the checkpoint's metadata",
    "opt_state": (
        "load it with the optimiser that wrote it (the same TrainConfig, or an optimizer= "
        "of the same structure)"
    ),
}


def _check_leaves(item, stored, expected):
    """The stored leaves of ``item`` match those of the structure to load them into:
    in number, shape and dtype, and for an optimiser state, whose leaves do not say
    which transformation they belong to, in their paths too."""
    hint = _REBUILD_HINTS[item]
    if len(stored) != len(expected):
        raise ValueError(
            f"the checkpoint's {item} has {len(stored)} arrays, the structure given to load "
            f"it into has {len(expected)}; {hint}"
        )
    for have, want in zip(stored, expected):
        if (
            have["shape"] != want["shape"]
            or have["dtype"] != want["dtype"]
            or (item == "opt_state" and have["path"] != want["path"])
        ):
            raise ValueError(
                f"the checkpoint's {item} array {have['path']} is {have['dtype']}"
                f"{tuple(have['shape'])}, the structure given to load it into expects "
                f"{want['dtype']}{tuple(want['shape'])} at {want['path']}; {hint}"
            )


def _check_sources(**sources: str) -> None:
    for part, source in sources.items():
        if source not in PART_SOURCES:
            raise ValueError(
                f"a checkpoint records its {part} as one of {', '.join(PART_SOURCES)}, "
                f"got {source!r}"
            )


def _key_data(key: jax.Array) -> list[int]:
    if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)
    return np.asarray(jax.random.key_data(key)).tolist()


def _reader(directory: Path) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(create=False))


@contextmanager
def _open(directory) -> Iterator[tuple[ocp.CheckpointManager, Path, list[int]]]:
    """A read-only manager of ``directory``, its path and its checkpoints' epochs."""
    directory = Path(directory).absolute()
    if not directory.is_dir():
        raise FileNotFoundError(f"no checkpoint directory at {directory}")
    manager = _reader(directory)
    try:
        steps = list(manager.all_steps())
        if not steps:
            raise FileNotFoundError(f"no complete checkpoint in {directory}")
        yield manager, directory, steps
    finally:
        manager.close()
