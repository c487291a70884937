"""The training loop: one compiled call per epoch, test metrics, checkpoints, resume."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np
import optax
from jax.sharding import Mesh
from jaxtyping import Array, PyTree

from sciml.data.dataset import OperatorDataset
from sciml.data.lazy import LazyDataset
from sciml.data.stream import BatchStream
from sciml.distributed import (
    batch_devices,
    batch_mesh,
    check_divisible,
    is_primary,
    put_replicated,
    put_sharded,
    replicated,
)
from sciml.train.checkpoint import (
    CheckpointWriter,
    latest_epoch,
    latest_intact_epoch,
    load_checkpoint,
    load_train_record,
    set_aside,
)
from sciml.train.checks import (
    check_json,
    check_loss,
    check_model_output,
    check_optimizer,
    check_split,
    check_test_matches_train,
)
from sciml.train.config import TrainConfig
from sciml.train.epoch import compiled_epoch, compiled_evaluate, shuffle
from sciml.train.optimizers import make_optimizer
from sciml.train.trainable import trainable_filter

Split = OperatorDataset | LazyDataset | tuple[Any, Any]

#: Minibatches per compiled call when a lazy data set is streamed with the "scan" loop:
#: one dispatch per 8 steps (the in-memory scan makes one per epoch), and a bounded
#: number of samples read ahead (the stream keeps 2 chunks waiting).
STREAM_CHUNK = 8
History = dict[str, list[float]]
Callback = Callable[[int, History], None]
Loss = Callable[[Array, Array], Array]


class NonFiniteLossError(FloatingPointError):
    """Training produced a non-finite loss or parameters; the run stopped.

    Attributes:
        epoch: the failing epoch (counted from 1); it was not checkpointed.
        checkpoint: the folder of the last good checkpoint, or None.
    """

    def __init__(self, message: str, epoch: int, checkpoint: Path | None):
        super().__init__(message)
        self.epoch = epoch
        self.checkpoint = checkpoint


def fit(
    model: PyTree,
    data: Split,
    test: Split | None = None,
    *,
    config: TrainConfig | None = None,
    optimizer: optax.GradientTransformation | None = None,
    loss: str | Loss | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    metadata: dict[str, Any] | None = None,
    mesh: Mesh | None = None,
    stop: Callable[[int, History], bool] | None = None,
) -> tuple[PyTree, History]:
    """Train ``model`` on ``data`` by minibatch gradient steps; the FNO recipe by default.

    Epoch ``e`` (from 0) shuffles the training set by a permutation drawn from
    ``fold_in(key(config.seed), e)`` and runs every minibatch of ``config.batch_size``
    samples in one compiled ``lax.scan``; the ``N mod batch_size`` samples the shuffle
    leaves over sit out that epoch (one compiled shape; the next shuffle differs). Each
    step differentiates the batch loss of the per-sample loss ``ℓ`` over the batch
    ``B``,

        L = (1/|B|) Σ_{i ∈ B} ℓ(model(a_i), u_i)   (config.loss_reduction = "mean"),
        L = Σ_{i ∈ B} ℓ(model(a_i), u_i)           (config.loss_reduction = "sum"),

    and applies the optimiser's update. Then the test split is evaluated. Only the
    trainable leaves (:func:`trainable_filter`) are updated, so normaliser statistics
    stay as they are.

    The optimiser, by default, is Adam(W) with the schedule ``config`` names
    (:func:`make_optimizer`); an ``optimizer=`` of the caller's replaces both, and a
    ``loss=`` callable replaces ``ℓ``. Everything else (epochs, batches, seed,
    reduction, checkpoints) still comes from ``config``.

    Every minibatch is split over the devices of ``mesh`` (data parallelism; the
    parameters are replicated, XLA sums the gradients), and the training set is held
    split over them by samples. The code and the results are those of one device, but
    for the order of the sums over a batch: ``batch_size`` is the global batch.

    Args:
        model: an equinox module mapping one sample ``(C_in, *grid)`` to one sample
            ``(C_out, *grid)``.
        data: the training split: an :class:`~sciml.data.OperatorDataset`, or a pair
            ``(inputs, outputs)`` of arrays ``(N, C_in, *grid)`` and ``(N, C_out, *grid)``,
            held on the devices for the run; or a :class:`~sciml.data.lazy.LazyDataset`,
            streamed: every epoch draws the same batches as in memory, and a
            background thread reads each from its source and places it on the devices
            while the step before runs (:class:`~sciml.data.stream.BatchStream`), so
            only a few batches are resident. Its samples are checked finite as they
            are read.
        test: the same for the test split (its grid may differ from the training
            grid), or None; a lazy test split is evaluated batch by batch.
        config: the recipe: optimiser, schedule, loss, epochs, batch size, seed,
            checkpoint period; ``TrainConfig()`` (the FNO recipe) if None.
        optimizer: an ``optax.GradientTransformation`` used as given, in place of the
            optimiser and learning-rate schedule ``config`` names (those fields are
            then unused). Its state is checkpointed and restored like the built-in
            one's. To see its learning rate in the history, wrap it in
            ``optax.inject_hyperparams``.
        loss: the per-sample training loss ``ℓ``. None: ``config.loss``. ``"l2"`` or
            ``"h1"``: that built-in loss (:func:`relative_l2`, :func:`relative_h1`),
            overriding ``config.loss``, and stored as the run's ``config.loss``. A
            callable ``loss(prediction, target) -> scalar`` on ONE sample pair, both
            ``(C_out, *grid)``, traceable by JAX: it is ``jax.vmap``-ed over the batch
            and reduced by ``config.loss_reduction`` exactly as the built-ins are.
        checkpoint_dir: where to write checkpoints, every ``config.checkpoint_every``
            epochs and after the last one, keeping the newest 3. It must hold no
            checkpoints unless it is the ``resume`` folder; defaults to ``resume``.
        resume: a checkpoint folder of a run with the same config (``epochs`` aside),
            training set size, and kind of optimiser and loss (the config's or the
            caller's): training goes on after its newest checkpoint that reads back
            intact (newer damaged ones are named in a warning and renamed
            ``<epoch>.damaged``) and ends bit-for-bit where the uninterrupted run
            ends. The learning-rate schedule stays that run's, so more ``epochs`` go on
            at its final rate. A caller's ``optimizer`` must make a state of the
            stored structure (checked); that it is the same transformation, with the
            same hyperparameters, and that a loss callable is the same function,
            cannot be checked and are the caller's to keep.
        progress: show a progress bar over the epochs.
        callbacks: ``cb(epoch, history)`` after each epoch (counted from 1) and its
            checkpoint; an exception raised by one stops the run, that epoch's
            checkpoint written.
        metadata: a JSON-serialisable dict stored with every checkpoint (e.g. the
            model's configuration, to rebuild it for :func:`load_model`).
        mesh: a :class:`jax.sharding.Mesh` with an axis named ``"batch"`` that the
            batches are split over (other axes hold copies); by default
            :func:`sciml.distributed.batch_mesh`, all devices of all processes (one
            device: a trivial mesh). ``batch_size`` must be a multiple of the size of
            the ``"batch"`` axis. In a multi-process run every process passes the same
            arguments; each places on its devices only its share of the samples, and
            only process 0 shows a progress bar.
        stop: ``stop(epoch, history) -> bool`` after each epoch (counted from 1),
            before the callbacks: when it returns True, that epoch is checkpointed (if
            checkpoints are written) and ``fit`` returns early (early stopping, or one
            stage of a staged recipe). A resumed run continues from that checkpoint as
            from any other; its ``epochs`` are still the schedule's length.

    Returns:
        ``(model, history)``: the trained model, and per-epoch lists ``train_loss``
        (the mean over the epoch's samples of ``ℓ``, whatever the reduction),
        ``learning_rate`` (at the epoch's first step: the config's schedule; with an
        ``optimizer=``, the ``learning_rate`` hyperparameter that
        ``optax.inject_hyperparams`` keeps in its state, or NaN if the state holds
        none), ``epoch_time`` (seconds of training and testing; the first includes
        compilation) and, with a test split, ``test_l2`` and ``test_h1``, the mean
        relative L2 and H1 errors (whatever the training loss). Each checkpoint
        records whether the optimiser and the loss were the config's or the
        caller's (:attr:`~sciml.train.checkpoint.Checkpoint.optimizer`,
        :attr:`~sciml.train.checkpoint.Checkpoint.loss`).

    Raises:
        ValueError: for data that is neither an OperatorDataset nor an
            ``(inputs, outputs)`` pair, inconsistent or non-finite data, a model whose
            output does not match the outputs, an ``optimizer`` that is not an
            ``optax.GradientTransformation``, a ``loss`` that is neither a built-in
            loss's name nor a callable returning a scalar, a batch size not divisible
            by the mesh's batch devices or a mesh without a ``"batch"`` axis, non-JSON
            metadata, a checkpoint folder in use by another run, or a resume with
            another configuration, training set size, kind of optimiser or loss, or
            optimiser state structure; a ``DamagedCheckpointError`` if no
            checkpoint in ``resume`` reads back intact.
        FileNotFoundError: if ``resume`` holds no checkpoint.
        NonFiniteLossError: (a FloatingPointError) if an epoch ends with a non-finite
            loss or parameters; that epoch is not checkpointed, earlier ones are kept.

    Example:
        ```python
        schedule = optax.cosine_decay_schedule(1e-3, 1000)
        optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule))

        def loss(prediction, target):  # one sample (C, *grid) -> scalar
            return jnp.mean((prediction - target) ** 2)

        model, history = fit(model, dataset, optimizer=optimizer, loss=loss)
        ```

    References:
        Li et al., "Fourier Neural Operator for Parametric Partial Differential
        Equations", ICLR 2021 (relative L2 loss, Adam with step decay, batches of 20).
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise ValueError(
            f"fit expects config to be a TrainConfig or None, got {type(config).__name__}"
        )
    check_optimizer(optimizer)
    train = _split_of("train", data)
    if train[0].shape[0] < config.batch_size:
        raise ValueError(
            f"the train split has {train[0].shape[0]} samples, fewer than one batch "
            f"(batch_size={config.batch_size})"
        )
    check_model_output(model, *train)
    check_loss(loss, train[1])
    if isinstance(loss, str):
        # the name becomes the run's config.loss: checkpoints and resume compare it
        config, loss = dataclasses.replace(config, loss=loss), None
    test_split = None if test is None else _split_of("test", test)
    if test_split is not None:
        check_test_matches_train(train, test_split)
    if metadata is not None:
        check_json("fit metadata", metadata)
    if checkpoint_dir is None:
        checkpoint_dir = resume
    _check_checkpoint_dir(checkpoint_dir, resume)
    mesh = batch_mesh() if mesh is None else mesh
    check_divisible("batch_size", config.batch_size, mesh)

    parts = _UserParts(optimizer, loss)
    steps_per_epoch = train[0].shape[0] // config.batch_size
    streamed = isinstance(train, _Lazy)
    run = _Run.start(model, config, parts, steps_per_epoch, resume, mesh, streamed)
    writer = None if checkpoint_dir is None else CheckpointWriter(checkpoint_dir)
    bar = _progress_bar(run.epoch, config.epochs, progress and is_primary())
    try:
        run.train(train, test_split, writer, bar, callbacks, metadata, stop)
    finally:
        if writer is not None:
            writer.close()
        if bar is not None:
            bar.close()
    return run.model(), run.history


@dataclasses.dataclass(frozen=True)
class _UserParts:
    """The optimiser and loss the caller passed in place of the config's (None: the
    config's), and how a checkpoint records each."""

    optimizer: optax.GradientTransformation | None
    loss: Loss | None

    def sources(self) -> dict[str, str]:
        return {
            "optimizer": "config" if self.optimizer is None else "user",
            "loss": "config" if self.loss is None else "user",
        }


@dataclasses.dataclass
class _Run:
    """The state of a run between epochs, and the loop that advances it."""

    config: TrainConfig
    parts: _UserParts
    mesh: Mesh
    train_epoch: Callable
    evaluate: Callable
    params: PyTree
    frozen: PyTree
    static: PyTree
    opt_state: PyTree
    key: jax.Array
    history: History
    epoch: int  # epochs completed
    steps_per_epoch: int
    schedule_steps: int
    last_checkpoint: tuple[int, Path] | None

    @classmethod
    def start(cls, model, config, parts, steps_per_epoch, resume, mesh, streamed) -> _Run:
        """A fresh run of ``model``, or the run checkpointed in ``resume``, its state
        replicated over ``mesh``."""
        params, frozen, static = _split(model)
        if resume is None:
            key, history, epoch, opt_state = jax.random.key(config.seed), {}, 0, None
            schedule_steps, last_checkpoint = config.epochs * steps_per_epoch, None
        else:
            stored = _load_resumable(resume, model, params, config, parts, steps_per_epoch, mesh)
            params, frozen, _ = _split(stored.model)
            key, history, epoch = stored.key, stored.history, stored.epoch
            opt_state = stored.opt_state
            schedule_steps, last_checkpoint = stored.schedule_steps, (stored.epoch, stored.path)
        optimizer, train_epoch = compiled_epoch(
            static,
            _recipe(config),
            steps_per_epoch,
            schedule_steps,
            mesh,
            optimizer=parts.optimizer,
            loss=parts.loss,
            streamed=streamed,
        )
        # Fresh buffers, as the epoch function donates them and the caller keeps
        # ``model``; all replicated over the mesh, so that fresh and restored runs
        # share one compilation.
        params = put_replicated(params, mesh)
        if opt_state is None:
            opt_state = optimizer.init(params)
        return cls(
            config=config,
            parts=parts,
            mesh=mesh,
            train_epoch=train_epoch,
            evaluate=compiled_evaluate(static, config.domain_length),
            params=params,
            frozen=put_replicated(frozen, mesh),
            static=static,
            opt_state=put_replicated(opt_state, mesh),
            key=key,
            history=history,
            epoch=epoch,
            steps_per_epoch=steps_per_epoch,
            schedule_steps=schedule_steps,
            last_checkpoint=last_checkpoint,
        )

    def model(self) -> PyTree:
        return eqx.combine(self.params, self.frozen, self.static)

    def train(self, train, test, writer, bar, callbacks, metadata, stop=None) -> None:
        """Run the remaining epochs, checkpointing and calling back after each, until
        the last epoch or ``stop`` says so."""
        config, mesh = self.config, self.mesh
        n_train = train[0].shape[0]
        if not isinstance(train, _Lazy):
            train = tuple(put_sharded(_padded(x, batch_devices(mesh)), mesh) for x in train)
        if test is not None and not isinstance(test, _Lazy):
            batch = _round_up(config.eval_batch_size or config.batch_size, batch_devices(mesh))
            inputs, outputs = test
            test = tuple(put_sharded(x, mesh, axis=1) for x in _batched(inputs, outputs, batch))
        while self.epoch < config.epochs:
            record = self._train_epoch(train, n_train, test, writer)
            for name, value in record.items():
                self.history.setdefault(name, []).append(value)
            if bar is not None:
                bar.update()
                bar.set_postfix(_postfix(record))
            stopping = stop is not None and bool(stop(self.epoch, self._history()))
            if writer is not None and (
                stopping or self.epoch % config.checkpoint_every == 0 or self.epoch == config.epochs
            ):
                self._save(writer, metadata)
            for callback in callbacks:
                callback(self.epoch, self._history())
            if stopping:
                return

    def _history(self) -> History:
        """A copy of the history, for callers that keep it."""
        return {name: list(values) for name, values in self.history.items()}

    def _train_epoch(self, train, n_train, test, writer) -> dict[str, float]:
        """One epoch and the test metrics: the epoch's record for the history.

        ``train`` holds ``n_train`` samples, padded to split evenly over the devices;
        the padding is never drawn."""
        started = time.perf_counter()
        order = shuffle(self.key, np.int32(self.epoch), n_train)
        if isinstance(train, _Lazy):
            size = self.config.batch_size
            steps = np.asarray(order)[: self.steps_per_epoch * size].reshape(-1, size)
            chunk = STREAM_CHUNK if self.config.epoch_loop == "scan" else 1
            # chunks of steps, one compiled scan each; or single steps ("steps" loop)
            batches = [steps[i : i + chunk] for i in range(0, len(steps), chunk)]
            if chunk == 1:
                batches = [batch[0] for batch in batches]
            with BatchStream(train.source, batches, self.mesh) as stream:
                self.params, self.opt_state, metrics = self.train_epoch(
                    self.params, self.opt_state, self.frozen, stream
                )
        else:
            self.params, self.opt_state, metrics = self.train_epoch(
                self.params, self.opt_state, self.frozen, *train, put_replicated(order, self.mesh)
            )
        metrics = jax.device_get(metrics)  # the epoch's one wait for the device
        if not metrics["finite"]:
            if writer is not None:
                writer.wait()
            raise self._non_finite(float(metrics["loss"]), writer)
        self.epoch += 1
        record = {"train_loss": float(metrics["loss"])}
        if isinstance(test, _Lazy):
            record.update(self._evaluate_streamed(test.source))
        elif test is not None:
            l2, h1 = self.evaluate(self.params, self.frozen, *test)
            record.update(test_l2=float(l2), test_h1=float(h1))
        record["epoch_time"] = time.perf_counter() - started
        record["learning_rate"] = float(metrics["learning_rate"])
        return record

    def _evaluate_streamed(self, source: LazyDataset) -> dict[str, float]:
        """The mean test errors over a lazy test split, read batch by batch (the last
        padded with copies of its first sample, masked out)."""
        batch = _round_up(
            self.config.eval_batch_size or self.config.batch_size, batch_devices(self.mesh)
        )
        n = len(source)
        n_batches = -(-n // batch)
        index = np.concatenate([np.arange(n), np.zeros(n_batches * batch - n, dtype=int)])
        masks = (np.arange(n_batches * batch) < n).reshape(n_batches, batch)
        sums = np.zeros(2)
        with BatchStream(source, index.reshape(n_batches, batch), self.mesh, name="test") as stream:
            for mask, (inputs, outputs) in zip(masks, stream):
                errors = self.evaluate(
                    self.params, self.frozen, inputs[None], outputs[None], mask[None]
                )
                sums += np.asarray(jax.device_get(errors), dtype=float) * mask.sum()
        l2, h1 = sums / n
        return {"test_l2": float(l2), "test_h1": float(h1)}

    def _save(self, writer, metadata):
        path = writer.save(
            self.epoch,
            self.model(),
            self.opt_state,
            config=self.config,
            key=self.key,
            history=self.history,
            metadata=metadata,
            steps_per_epoch=self.steps_per_epoch,
            schedule_steps=self.schedule_steps,
            **self.parts.sources(),
        )
        self.last_checkpoint = (self.epoch, path)

    def _non_finite(self, mean_loss, writer) -> NonFiniteLossError:
        failed = self.epoch + 1
        path = None
        if writer is None:
            kept = "no checkpoints are written (checkpoint_dir=None)"
        elif self.last_checkpoint is None:
            kept = f"no checkpoint had been written yet in {writer.directory}"
        else:
            good: int | None
            good, path = self.last_checkpoint
            damaged = ""
            if path.parent == writer.directory:
                # written by this run or resumed from this folder: good once read back intact
                good, skipped = latest_intact_epoch(writer.directory)
                path = None if good is None else writer.directory / str(good)
                damaged = "".join(f"; {skip.reason}" for skip in skipped)
            if path is None:
                kept = f"no intact checkpoint is left in {writer.directory}{damaged}"
            else:
                kept = f"the last good checkpoint (epoch {good}) is kept at {path}{damaged}"
        message = (
            f"epoch {failed}: the training loss or the parameters are not finite (mean "
            f"loss {mean_loss}); training stopped and epoch {failed} was not "
            f"checkpointed; {kept}. A lower learning rate, or normalised data, usually helps."
        )
        return NonFiniteLossError(message, failed, path)


@dataclasses.dataclass(frozen=True)
class _Lazy:
    """A lazy split and its shapes, which the checks of ``fit`` take for arrays'."""

    source: LazyDataset

    def __getitem__(self, role: int) -> jax.ShapeDtypeStruct:
        shape = (self.source.input_shape, self.source.output_shape)[role]
        return jax.ShapeDtypeStruct((len(self.source), *shape), np.float32)

    def __iter__(self):
        return iter((self[0], self[1]))


def _split_of(name: str, split: Any) -> tuple[Any, Any] | _Lazy:
    """The checked arrays of an in-memory split, or a lazy split's shapes."""
    if isinstance(split, LazyDataset):
        if len(split) == 0:
            raise ValueError(f"the {name} split is a lazy data set with no samples")
        return _Lazy(split)
    return check_split(name, split)


def _recipe(config: TrainConfig) -> TrainConfig:
    """The fields of ``config`` the compiled epoch depends on; the others (epochs,
    seed, ...) cleared, so runs differing only in those share its compilation."""
    return dataclasses.replace(config, epochs=1, seed=0, checkpoint_every=1, eval_batch_size=None)


def _split(model):
    """(trainable arrays, other arrays, non-arrays) of ``model``."""
    params, rest = eqx.partition(model, trainable_filter(model))
    frozen, static = eqx.partition(rest, eqx.is_array)
    return params, frozen, static


def _round_up(n, multiple):
    return -(-n // multiple) * multiple


def _padded(samples, multiple):
    """``samples`` with zero samples appended up to a multiple of ``multiple``."""
    missing = _round_up(len(samples), multiple) - len(samples)
    if not missing:
        return samples
    return np.concatenate([samples, np.zeros((missing, *samples.shape[1:]), samples.dtype)])


def _batched(inputs, outputs, batch):
    """The test split in whole batches ``(B, batch, C, *grid)``, padded with copies of
    sample 0, and the mask ``(B, batch)`` of the real samples."""
    n = len(inputs)
    n_batches = -(-n // batch)
    index = np.concatenate([np.arange(n), np.zeros(n_batches * batch - n, dtype=int)])
    mask = (np.arange(n_batches * batch) < n).reshape(n_batches, batch)

    def reshape(x):
        return x[index].reshape(n_batches, batch, *x.shape[1:])

    return reshape(inputs), reshape(outputs), mask


def _check_checkpoint_dir(checkpoint_dir, resume):
    if checkpoint_dir is None:
        return
    same = resume is not None and Path(checkpoint_dir).absolute() == Path(resume).absolute()
    existing = latest_epoch(checkpoint_dir)
    if existing is not None and not same:
        raise ValueError(
            f"{checkpoint_dir} already holds checkpoints (latest: epoch {existing}); pass "
            "resume= that folder to continue that run, or choose another checkpoint_dir"
        )


def _load_resumable(resume, model, params, config, parts, steps_per_epoch, mesh):
    """The latest checkpoint in ``resume``, checked to continue this run, its arrays
    restored replicated over ``mesh`` (each process reading its own copies)."""
    record = load_train_record(resume)
    _check_resumed_parts(record, Path(resume).absolute() / str(record["epoch"]), parts)
    optimizer = parts.optimizer
    if optimizer is None:
        optimizer = make_optimizer(config, lambda step: 0.0)
    everywhere = replicated(mesh)
    opt_state_structure = jax.tree.map(
        lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=everywhere),
        jax.eval_shape(optimizer.init, params),
    )
    like_model = eqx.combine(put_replicated(eqx.filter(model, eqx.is_array), mesh), model)
    # the newest checkpoint that reads back intact, which may be older than record's
    checkpoint = load_checkpoint(resume, like_model, like_opt_state=opt_state_structure)
    _check_resume(checkpoint, config, steps_per_epoch)
    set_aside(checkpoint.skipped)  # so that the run writes those epochs again
    return checkpoint


_SOURCE_NAMES = {
    ("optimizer", "config"): "the optimiser its TrainConfig names (optimizer=None)",
    ("optimizer", "user"): "an optimizer= of the caller's",
    ("loss", "config"): "the TrainConfig's loss (loss=None or a loss name)",
    ("loss", "user"): "a loss callable of the caller's",
}


def _check_resumed_parts(record, path, parts):
    """The checkpoint was trained with the same kind of optimiser and loss (the
    config's or the caller's) as this call gives."""
    for part, given in parts.sources().items():
        stored = record[part]
        if stored != given:
            raise ValueError(
                f"cannot resume from {path}: it was trained with "
                f"{_SOURCE_NAMES.get((part, stored), repr(stored))}, this call gives "
                f"{_SOURCE_NAMES[(part, given)]}; resume with the {part} that wrote it"
            )


def _check_resume(checkpoint, config, steps_per_epoch):
    if checkpoint.config is None or checkpoint.steps_per_epoch is None:
        raise ValueError(f"{checkpoint.path} was not written by fit; it cannot be resumed")
    differences = [
        f"{name}: {getattr(checkpoint.config, name)!r} stored, {getattr(config, name)!r} given"
        for name in config.to_dict()
        if name != "epochs" and getattr(checkpoint.config, name) != getattr(config, name)
    ]
    if differences:
        raise ValueError(
            f"cannot resume from {checkpoint.path}: the TrainConfig differs from the stored "
            f"one (only epochs may change): {'; '.join(differences)}"
        )
    if checkpoint.steps_per_epoch != steps_per_epoch:
        raise ValueError(
            f"cannot resume from {checkpoint.path}: it was trained with "
            f"{checkpoint.steps_per_epoch} steps per epoch, this train split gives "
            f"{steps_per_epoch} (batch_size={config.batch_size}); resume with the same "
            "training data"
        )


def _progress_bar(start, total, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, desc="training", unit="epoch")


def _postfix(record):
    shown = {"train": record["train_loss"]}
    if "test_l2" in record:
        shown["test L2"] = record["test_l2"]
    return {name: f"{value:.4g}" for name, value in shown.items()}
