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

A save is atomic: orbax writes each checkpoint into a temporary folder
(``<epoch>.orbax-checkpoint-tmp...``) and renames it once complete (on object stores,
where renaming is not atomic, it marks completion with a commit file instead), so a
crash mid-write leaves no folder that loading would take for a checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from jaxtyping import PyTree

from sciml.train.checks import check_json
from sciml.train.config import TrainConfig
from sciml.train.optimizers import make_optimizer
from sciml.train.trainable import trainable_filter

FORMAT_VERSION = 1
KEEP_CHECKPOINTS = 3
PART_SOURCES = ("config", "user")
"""Where a run's optimiser or loss came from: the TrainConfig, or the caller."""


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
            "model_leaves": _describe(model_arrays),
            "opt_state_leaves": None if opt_state is None else _describe(opt_state),
        }
        items = {
            "train": ocp.args.JsonSave(train),
            "metadata": ocp.args.JsonSave(metadata or {}),
        }
        # Copies, so that buffers the caller donates to its next step stay untouched
        # while the files are written in the background.
        for name, tree in (("model", model_arrays), ("opt_state", opt_state)):
            leaves = jax.tree.leaves(tree)
            if leaves:
                items[name] = ocp.args.StandardSave(
                    {str(i): jnp.copy(leaf) for i, leaf in enumerate(leaves)}
                )
        self._manager.save(int(epoch), args=ocp.args.Composite(**items))
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
    """The epoch of the newest complete checkpoint in ``directory``, or None."""
    directory = Path(directory).absolute()
    if not directory.is_dir():
        return None
    manager = _reader(directory)
    try:
        return manager.latest_step()
    finally:
        manager.close()


def load_metadata(directory: str | os.PathLike, *, epoch: int | None = None) -> dict[str, Any]:
    """The caller's metadata stored with a checkpoint (the latest by default).

    Needs no model, so a command line can read the model's configuration from it and
    then build the ``like`` model for :func:`load_model`.
    """
    with _open(directory, epoch) as (manager, _, epoch):
        args = ocp.args.Composite(metadata=ocp.args.JsonRestore())
        return manager.restore(epoch, args=args).metadata


def load_train_record(directory: str | os.PathLike, *, epoch: int | None = None) -> dict[str, Any]:
    """The JSON record of the run stored with a checkpoint (the latest by default):
    ``epoch``, ``config``, ``history``, ``optimizer`` and ``loss`` (``"config"`` or
    ``"user"``), the leaf descriptions, ...; read without restoring any array.

    Raises:
        FileNotFoundError: if there is no checkpoint.
        ValueError: if the checkpoint is of another format.
    """
    with _open(directory, epoch) as (manager, directory, epoch):
        train = manager.restore(epoch, args=ocp.args.Composite(train=ocp.args.JsonRestore())).train
        _check_format(train, directory / str(epoch))
    # checkpoints written before the caller could pass its own parts used the config's
    return {"optimizer": "config", "loss": "config", **train}


def load_model(
    directory: str | os.PathLike, like_model: PyTree, *, epoch: int | None = None
) -> PyTree:
    """``like_model`` with the arrays of a checkpoint (the latest by default).

    Args:
        directory: a checkpoint folder written by ``fit`` or :func:`save_checkpoint`.
        like_model: a model of the same structure, shapes and dtypes (e.g. freshly
            initialised); its non-array fields are kept.
        epoch: which checkpoint; the latest if None.

    Returns:
        The model.

    Raises:
        FileNotFoundError: if there is no checkpoint.
        ValueError: if the stored arrays do not fit ``like_model``.
    """
    with _open(directory, epoch) as (manager, directory, epoch):
        train = manager.restore(epoch, args=ocp.args.Composite(train=ocp.args.JsonRestore())).train
        _check_format(train, directory / str(epoch))
        return _restore_model(manager, epoch, train, like_model)


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
        epoch: which checkpoint; the latest if None.
        like_opt_state: the structure of the optimiser state (arrays or
            ``jax.ShapeDtypeStruct``); by default rebuilt from the stored TrainConfig
            for the trainable leaves of ``like_model``. The state of a run with its
            caller's own optimiser cannot be rebuilt so: without ``like_opt_state``
            (e.g. ``jax.eval_shape(optimizer.init, params)``) its ``opt_state`` is None.

    Returns:
        A :class:`Checkpoint`.

    Raises:
        FileNotFoundError: if there is no checkpoint.
        ValueError: if the stored arrays do not fit ``like_model``/``like_opt_state``
            (for the optimiser state: the same number, paths, shapes and dtypes).
    """
    with _open(directory, epoch) as (manager, directory, epoch):
        stored = manager.restore(
            epoch,
            args=ocp.args.Composite(train=ocp.args.JsonRestore(), metadata=ocp.args.JsonRestore()),
        )
        train = {"optimizer": "config", "loss": "config", **stored.train}
        _check_format(train, directory / str(epoch))
        config = None if train["config"] is None else TrainConfig.from_dict(train["config"])
        model = _restore_model(manager, epoch, train, like_model)
        if like_opt_state is None and config is not None and train["optimizer"] == "config":
            params = eqx.filter(like_model, trainable_filter(like_model))
            optimizer = make_optimizer(config, lambda step: 0.0)
            like_opt_state = jax.eval_shape(optimizer.init, params)
        opt_state = None
        if like_opt_state is not None and train["opt_state_leaves"] is not None:
            opt_state = _restore_leaves(
                manager, epoch, "opt_state", train["opt_state_leaves"], like_opt_state
            )
    key = train["key"]
    return Checkpoint(
        path=directory / str(epoch),
        epoch=epoch,
        model=model,
        opt_state=opt_state,
        config=config,
        key=(
            None
            if key is None
            else jax.random.wrap_key_data(jnp.asarray(np.asarray(key, np.uint32)))
        ),
        history={name: list(values) for name, values in train["history"].items()},
        metadata=stored.metadata,
        steps_per_epoch=train["steps_per_epoch"],
        schedule_steps=train["schedule_steps"],
        optimizer=train["optimizer"],
        loss=train["loss"],
    )


def _check_format(train, path):
    if train.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"{path} is a checkpoint of format {train.get('format')!r}; this version of "
            f"sciml reads format {FORMAT_VERSION}"
        )


def _restore_model(manager, epoch, train, like_model):
    arrays, rest = eqx.partition(like_model, eqx.is_array)
    arrays = _restore_leaves(manager, epoch, "model", train["model_leaves"], arrays)
    return eqx.combine(arrays, rest)


def _restore_leaves(manager, epoch, item, described, like):
    """The stored leaves of ``item``, in the structure of ``like``."""
    leaves, treedef = jax.tree.flatten(like)
    _check_leaves(item, described, _describe(like))
    if not leaves:
        return like
    default = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    abstract = {
        str(i): jax.ShapeDtypeStruct(
            leaf.shape, leaf.dtype, sharding=getattr(leaf, "sharding", None) or default
        )
        for i, leaf in enumerate(leaves)
    }
    restored = manager.restore(
        epoch, args=ocp.args.Composite(**{item: ocp.args.StandardRestore(abstract)})
    )[item]
    return jax.tree.unflatten(treedef, [restored[str(i)] for i in range(len(leaves))])


def _describe(tree) -> list[dict[str, Any]]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [
        {
            "path": jax.tree_util.keystr(path),
            "shape": list(np.shape(leaf)),
            "dtype": str(leaf.dtype),
        }
        for path, leaf in flat
    ]


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
def _open(directory, epoch) -> Iterator[tuple[ocp.CheckpointManager, Path, int]]:
    """A read-only manager of ``directory``, its path and the epoch to read."""
    directory = Path(directory).absolute()
    if not directory.is_dir():
        raise FileNotFoundError(f"no checkpoint directory at {directory}")
    manager = _reader(directory)
    try:
        steps = manager.all_steps()
        if not steps:
            raise FileNotFoundError(f"no complete checkpoint in {directory}")
        if epoch is None:
            epoch = max(steps)
        elif epoch not in steps:
            raise FileNotFoundError(
                f"no checkpoint of epoch {epoch} in {directory}; available: {sorted(steps)}"
            )
        yield manager, directory, epoch
    finally:
        manager.close()
