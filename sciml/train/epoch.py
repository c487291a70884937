"""One epoch of training and the test metrics, each a single compiled call.

The builders are memoised on the model's static structure and the configuration, so
``fit`` calls that share them (a resumed run, a repeated experiment) compile once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh
from jaxtyping import Array, PyTree

from sciml.distributed import batch_mesh, batch_sharding
from sciml.train.config import TrainConfig
from sciml.train.losses import get_loss, relative_h1, relative_l2
from sciml.train.optimizers import make_optimizer, make_schedule


@functools.partial(jax.jit, static_argnums=2)
def shuffle(key: jax.Array, epoch: Array, n: int) -> Array:
    """The order of the ``n`` training samples in ``epoch``: ``permutation(fold_in(key,
    epoch), n)``, so the batches of any epoch can be drawn again on resuming.

    Compiled apart from the epoch (once per ``n``), as the random permutation is slow
    to compile.
    """
    return jax.random.permutation(jax.random.fold_in(key, epoch), n)


def make_train_epoch(
    static: PyTree,
    optimizer: optax.GradientTransformation,
    schedule: optax.Schedule | None,
    loss: Callable[[Array, Array], Array],
    batch_size: int,
    steps_per_epoch: int,
    reduction: str = "mean",
    mesh: Mesh | None = None,
    loop: str = "scan",
) -> Callable:
    """The compiled epoch ``(params, opt_state, frozen, inputs, outputs, order) ->
    (params, opt_state, metrics)``.

    The model is ``eqx.combine(params, frozen, static)``. The first
    ``steps_per_epoch * batch_size`` entries of ``order`` (a permutation of the ``N``
    samples) form the minibatches; the optimiser step runs on each, with the batch
    loss ``mean_i loss(model(a_i), u_i)`` (``reduction="sum"``: ``sum_i``): all in one
    ``lax.scan`` (``loop="scan"``), or as one compiled call per step from a Python loop
    (``loop="steps"``; see ``TrainConfig.epoch_loop``). With ``loop="stream"`` or
    ``"stream-scan"`` the epoch is ``(params, opt_state, frozen, batches)``,
    ``batches`` an iterable of placed ``(inputs, outputs)`` minibatches (a lazy data
    set streamed from disk): one compiled call per minibatch, or per chunk of
    minibatches ``(k, batch, C, *grid)`` scanned over. ``metrics`` holds the mean
    batch ``loss``, the ``learning_rate`` of the epoch's first step and ``finite``,
    False if a batch loss or a final parameter is not finite. ``params`` and
    ``opt_state`` are donated: their buffers are reused for the results.

    The learning rate is ``schedule(count)``, with ``count`` the step count of the
    state's ``ScaleByScheduleState``; with ``schedule=None`` it is read from the state
    after the first step instead (:func:`injected_learning_rate`), NaN if the state
    does not hold one.

    With a ``mesh``, each minibatch is split over its ``"batch"`` axis (data
    parallelism): the caller places ``params``, ``opt_state`` and ``frozen`` replicated
    and ``inputs``/``outputs`` split over the samples, and XLA's SPMD partitioner sums
    the per-device gradients. The arithmetic is that of one device but for the order of
    the sums over the batch.
    """

    reduce = jnp.sum if reduction == "sum" else jnp.mean
    split = (lambda x: x) if mesh is None else _constrain_to(batch_sharding(mesh))

    def batch_loss(params, frozen, inputs, outputs):
        model = eqx.combine(params, frozen, static)
        losses = jax.vmap(lambda a, u: loss(model(a), u))(inputs, outputs)
        return reduce(losses), jnp.mean(losses)

    def step_on(frozen, carry, inputs, outputs):
        params, opt_state = carry
        (_, mean), grads = jax.value_and_grad(batch_loss, has_aux=True)(
            params, frozen, split(inputs), split(outputs)
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        # the rate this step used, where only the state knows it (None: no output)
        rate = None if schedule is not None else injected_learning_rate(opt_state)
        return (optax.apply_updates(params, updates), opt_state), (mean, rate)

    def step(frozen, inputs, outputs, carry, batch):
        return step_on(frozen, carry, inputs[batch], outputs[batch])

    def summary(params, losses, first_step, rates):
        finite = jnp.all(jnp.isfinite(losses))
        for leaf in jax.tree.leaves(params):
            finite = finite & jnp.all(jnp.isfinite(leaf))
        learning_rate = rates[0] if schedule is None else schedule(first_step)
        return {"loss": jnp.mean(losses), "learning_rate": learning_rate, "finite": finite}

    def first_step_of(opt_state):
        if schedule is None:
            return None
        return optax.tree_utils.tree_get(opt_state, "ScaleByScheduleState").count

    def minibatches(order):
        return order[: steps_per_epoch * batch_size].reshape(steps_per_epoch, batch_size)

    def train_epoch(params, opt_state, frozen, inputs, outputs, order):
        first_step = first_step_of(opt_state)
        body = functools.partial(step, frozen, inputs, outputs)
        (params, opt_state), (losses, rates) = jax.lax.scan(
            body, (params, opt_state), minibatches(order)
        )
        return params, opt_state, summary(params, losses, first_step, rates)

    if loop == "scan":
        return jax.jit(train_epoch, donate_argnums=(0, 1))
    finish = jax.jit(summary)
    if loop in ("stream", "stream-scan"):
        return _streamed_epoch(step_on, finish, first_step_of, schedule is None, loop)
    if loop != "steps":
        raise ValueError(
            f"unknown epoch loop {loop!r}; expected 'scan', 'steps', 'stream' or 'stream-scan'"
        )

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def train_step(params, opt_state, frozen, inputs, outputs, batch):
        (params, opt_state), (loss_value, rate) = step(
            frozen, inputs, outputs, (params, opt_state), batch
        )
        return params, opt_state, loss_value, rate

    batches_of = jax.jit(minibatches)

    def train_epoch_by_steps(params, opt_state, frozen, inputs, outputs, order):
        # a copy: the step donates the optimiser state, this counter among it
        first_step = jax.tree.map(jnp.copy, first_step_of(opt_state))
        losses, rates = [], []
        for batch in batches_of(order):
            params, opt_state, loss_value, rate = train_step(
                params, opt_state, frozen, inputs, outputs, batch
            )
            losses.append(loss_value)
            rates.append(rate)
        stacked = None if schedule is not None else jnp.stack(rates)
        return params, opt_state, finish(params, jnp.stack(losses), first_step, stacked)

    return train_epoch_by_steps


def _streamed_epoch(step_on, finish, first_step_of, injected, loop) -> Callable:
    """The epoch ``(params, opt_state, frozen, batches) -> (params, opt_state,
    metrics)`` over ``batches``, an iterable of placed ``(inputs, outputs)`` (a
    :class:`~sciml.data.stream.BatchStream`), taking the data themselves rather than
    indices into a resident training set. ``loop="stream"``: each item is one
    minibatch ``(batch, C, *grid)``, one compiled call per step; ``"stream-scan"``:
    each item is a chunk of minibatches ``(k, batch, C, *grid)``, whose steps run in
    one compiled ``lax.scan`` (one compilation per chunk length)."""

    def one_step(params, opt_state, frozen, inputs, outputs):
        (params, opt_state), (loss_value, rate) = step_on(
            frozen, (params, opt_state), inputs, outputs
        )
        return params, opt_state, loss_value[None], None if rate is None else rate[None]

    def chunk_of_steps(params, opt_state, frozen, inputs, outputs):
        def body(carry, batch):
            return step_on(frozen, carry, *batch)

        (params, opt_state), (losses, rates) = jax.lax.scan(
            body, (params, opt_state), (inputs, outputs)
        )
        return params, opt_state, losses, rates

    step = one_step if loop == "stream" else chunk_of_steps
    train_step = jax.jit(step, donate_argnums=(0, 1))

    def train_epoch_streamed(params, opt_state, frozen, batches):
        first_step = jax.tree.map(jnp.copy, first_step_of(opt_state))
        losses, rates = [], []
        for inputs, outputs in batches:
            params, opt_state, loss_values, rate = train_step(
                params, opt_state, frozen, inputs, outputs
            )
            losses.append(loss_values)
            rates.append(rate)
        stacked = jnp.concatenate(rates) if injected else None
        return params, opt_state, finish(params, jnp.concatenate(losses), first_step, stacked)

    return train_epoch_streamed


def _constrain_to(sharding):
    return lambda x: jax.lax.with_sharding_constraint(x, sharding)


def injected_learning_rate(opt_state: PyTree) -> Array:
    """The ``learning_rate`` hyperparameter an optimiser state keeps, or NaN.

    ``optax.inject_hyperparams`` stores the hyperparameters in its state under
    ``hyperparams``, a schedule's value being the one the last update used; this reads
    the ``hyperparams["learning_rate"]`` scalar when the state holds exactly one (the
    tree structure decides, at trace time), and NaN otherwise: no optimiser state can
    say what rate a plain ``optax`` transformation applies.
    """
    found = [
        leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(opt_state)[0]
        if len(path) >= 2
        and _key_name(path[-2]) == "hyperparams"
        and _key_name(path[-1]) == "learning_rate"
        and jnp.ndim(leaf) == 0
    ]
    if len(found) != 1:
        return jnp.asarray(jnp.nan, jnp.float32)
    return jnp.asarray(found[0])


def _key_name(key) -> object:
    """The attribute or dictionary key one step of a tree path names."""
    return getattr(key, "name", getattr(key, "key", None))


def make_evaluate(static: PyTree, domain_length: float) -> Callable:
    """The compiled test metrics ``(params, frozen, inputs, outputs, mask) -> (l2, h1)``.

    ``inputs``/``outputs`` are the test split in batches, ``(B, batch, C, *grid)``,
    padded to whole batches; ``mask`` ``(B, batch)`` marks the real samples. Returns
    the mean over them of the relative L2 and H1 errors.
    """

    def evaluate(params, frozen, inputs, outputs, mask):
        model = eqx.combine(params, frozen, static)

        def errors(a, u):
            pred = model(a)
            return relative_l2(pred, u), relative_h1(pred, u, domain_length)

        l2, h1 = jax.lax.map(lambda batch: jax.vmap(errors)(*batch), (inputs, outputs))
        count = jnp.sum(mask)
        return jnp.sum(jnp.where(mask, l2, 0)) / count, jnp.sum(jnp.where(mask, h1, 0)) / count

    return jax.jit(evaluate)


def _memoise_by_value(builder):
    """``builder`` memoised on its arguments when they are hashable."""
    cached = functools.lru_cache(maxsize=16)(builder)

    @functools.wraps(builder)
    def get(*args):
        try:
            hash(args)
        except TypeError:  # a model with an unhashable static field
            return builder(*args)
        return cached(*args)

    return get


def compiled_epoch(
    static: PyTree,
    config: TrainConfig,
    steps_per_epoch: int,
    schedule_steps: int,
    mesh: Mesh | None = None,
    *,
    optimizer: optax.GradientTransformation | None = None,
    loss: Callable[[Array, Array], Array] | None = None,
    streamed: bool = False,
) -> tuple[optax.GradientTransformation, Callable]:
    """The optimiser and the epoch function of ``config`` for a model structure, its
    batches split over ``mesh`` (default: :func:`sciml.distributed.batch_mesh`); with
    ``streamed``, the epoch over placed batches: chunks of minibatches scanned over
    (``loop="stream-scan"`` of :func:`make_train_epoch`) where ``config.epoch_loop``
    is ``"scan"``, single minibatches (``"stream"``) where it is ``"steps"``.

    Only the optimiser, schedule, loss and batch fields of ``config`` matter; callers
    clear the others (epochs, seed, ...) to share the compilation between runs. A
    given ``optimizer`` replaces the optimiser and schedule ``config`` names, and a
    given ``loss`` (one sample pair to a scalar) replaces ``config.loss``; runs share
    a compilation when they pass the same objects.
    """
    mesh = batch_mesh() if mesh is None else mesh
    loop = config.epoch_loop
    if streamed:
        loop = "stream-scan" if config.epoch_loop == "scan" else "stream"
    return _compiled_epoch(
        static, config, steps_per_epoch, schedule_steps, mesh, optimizer, loss, loop
    )


@_memoise_by_value
def _compiled_epoch(static, config, steps_per_epoch, schedule_steps, mesh, optimizer, loss, loop):
    schedule: optax.Schedule | None = None
    if optimizer is None:
        schedule = make_schedule(config, steps_per_epoch, schedule_steps)
        optimizer = make_optimizer(config, schedule)
    if loss is None:
        loss = builtin_loss(config)
    epoch = make_train_epoch(
        static,
        optimizer,
        schedule,
        loss,
        config.batch_size,
        steps_per_epoch,
        config.loss_reduction,
        mesh,
        loop,
    )
    return optimizer, epoch


def builtin_loss(config: TrainConfig) -> Callable[[Array, Array], Array]:
    """The per-sample loss ``config.loss`` names (a registered loss: relative L2, H1,
    H^-1, or a user's)."""
    return get_loss(config.loss, config.domain_length)


compiled_evaluate = _memoise_by_value(make_evaluate)
