"""The ``dgno`` recipe: DGNO trained on coefficients alone (or with solutions too).

``sciml train darcy --model dgno --preset quick`` builds a :class:`~sciml.models.dgno.DGNO`
and trains it by this recipe: each step draws new ball centres (Latin hypercube, as the
authors do) and minimises the DGNO loss (:func:`~sciml.models.dgno.dgno_loss`) of a
minibatch with the experiment's optimiser and schedule. ``mode = "physics"`` never
reads the training solutions (the test split's are used to judge the model, as for
every Darcy model); ``mode = "mixed"`` adds their relative L2 misfit. Checkpoints are
written into the run folder like :func:`~sciml.train.fit`'s, so ``load_run`` and a
resumed run read them.

References:
    Y. Zang, P.-S. Koutsourelakis, "DGNO: A Novel Physics-aware Neural Operator for
    Solving Forward and Inverse PDE Problems based on Deep, Generative Probabilistic
    Modeling", arXiv:2502.06250 (2025).
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sciml.experiments.recipes import Stage, Trained
from sciml.experiments.registry import register_recipe
from sciml.models.dgno import DGNO, LossWeights, ball_rule, dgno_loss
from sciml.solvers.weak_form import sample_centres
from sciml.train.checkpoint import latest_epoch, load_checkpoint, save_checkpoint
from sciml.train.epoch import shuffle
from sciml.train.losses import relative_l2
from sciml.train.optimizers import make_optimizer, make_schedule

MODES = ("physics", "mixed")


@register_recipe("dgno")
def dgno_recipe(
    stage: Stage,
    *,
    mode: str = "physics",
    centres: int = 64,
    radius: float = 0.01,
    phase: float = 1.0,
    constitutive: float = 10.0,
    weak: float = 1.0,
    solution: float = 1.0,
) -> Trained:
    """Train a DGNO by its loss: ``mode`` ``"physics"`` (no solutions) or ``"mixed"``;
    ``centres`` balls of radius ``radius`` per step; the terms' weights
    (:class:`~sciml.models.dgno.LossWeights`; ``solution`` only in the mixed mode)."""
    model = stage.model
    if not isinstance(model, DGNO):
        raise ValueError(
            "the dgno recipe trains a DGNO (--model dgno) with normalise = 'none'; got "
            f"{type(model).__name__}"
        )
    if mode not in MODES:
        raise ValueError(f"recipe.mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not (isinstance(centres, int) and centres >= 1):
        raise ValueError(f"recipe.centres must be a positive integer, got {centres!r}")
    weights = LossWeights(phase, constitutive, weak, solution if mode == "mixed" else 0.0)
    config = stage.experiment.train
    a_train, u_train = (np.asarray(x, np.float32) for x in stage.train)
    a_test, u_test = (np.asarray(x, np.float32) for x in stage.test)
    n, batch = len(a_train), config.batch_size
    steps = n // batch
    if steps < 1:
        raise ValueError(f"the train split has {n} samples, fewer than one batch ({batch})")
    schedule = make_schedule(config, steps, config.epochs * steps)
    optimizer = make_optimizer(config, schedule)
    rule = ball_rule()
    params, static = eqx.partition(model, eqx.is_array)
    opt_state = optimizer.init(params)
    key = jax.random.key(config.seed)
    history: dict[str, list[float]] = {}
    start = 0
    checkpoints = stage.checkpoint
    if latest_epoch(checkpoints) is not None:
        if not stage.resume:
            raise ValueError(f"{checkpoints} already holds a run; resume it or choose another")
        stored = load_checkpoint(checkpoints, model, like_opt_state=opt_state)
        params = eqx.filter(stored.model, eqx.is_array)
        opt_state, history, start = stored.opt_state, stored.history, stored.epoch

    def loss_of(params, a, u, step_key):
        model = eqx.combine(params, static)
        where = sample_centres(step_key, centres, radius)
        return dgno_loss(model, a, u if weights.solution else None, where, radius, rule, weights)

    @eqx.filter_jit
    def epoch(params, opt_state, a_all, u_all, order, epoch_key):
        def step(carry, inputs):
            params, opt_state = carry
            index, step_key = inputs
            (value, parts), grads = jax.value_and_grad(loss_of, has_aux=True)(
                params, a_all[index], u_all[index], step_key
            )
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = eqx.apply_updates(params, updates)
            return (params, opt_state), (value, parts)

        batches = order[: steps * batch].reshape(steps, batch)
        keys = jax.random.split(epoch_key, steps)
        (params, opt_state), (values, parts) = jax.lax.scan(
            step, (params, opt_state), (batches, keys)
        )
        return params, opt_state, jnp.mean(values), jax.tree.map(jnp.mean, parts)

    @eqx.filter_jit
    def test_error(params, a, u):
        model = eqx.combine(params, static)
        return jnp.mean(jax.vmap(lambda x, y: relative_l2(model(x), y))(a, u))

    a_dev, u_dev = jnp.asarray(a_train), jnp.asarray(u_train)
    a_test_dev, u_test_dev = jnp.asarray(a_test), jnp.asarray(u_test)
    metadata = stage.experiment.to_dict()
    for e in range(start, config.epochs):
        started = time.perf_counter()
        order = shuffle(key, np.int32(e), n)
        epoch_key = jax.random.fold_in(jax.random.fold_in(key, 1), e)
        params, opt_state, value, parts = epoch(params, opt_state, a_dev, u_dev, order, epoch_key)
        record = {"train_loss": float(value)}
        record.update({f"loss_{name}": float(v) for name, v in parts.items()})
        if not np.isfinite(record["train_loss"]):
            raise FloatingPointError(
                f"epoch {e + 1}: the DGNO loss is not finite ({record}); a lower learning "
                "rate usually helps"
            )
        record["test_l2"] = float(test_error(params, a_test_dev, u_test_dev))
        record["epoch_time"] = time.perf_counter() - started
        record["learning_rate"] = float(schedule(e * steps))
        for name, v in record.items():
            history.setdefault(name, []).append(v)
        done = e + 1
        if done % config.checkpoint_every == 0 or done == config.epochs:
            save_checkpoint(
                checkpoints,
                done,
                eqx.combine(params, static),
                opt_state,
                config=config,
                key=key,
                history=history,
                metadata=metadata,
                steps_per_epoch=steps,
                schedule_steps=config.epochs * steps,
                loss="user",
            )
        if stage.progress:
            print(
                f"epoch {done}/{config.epochs}: loss {record['train_loss']:.4g} "
                f"(phase {record['loss_phase']:.3g}, constitutive "
                f"{record['loss_constitutive']:.3g}, weak {record['loss_weak']:.3g}), "
                f"test L2 {record['test_l2']:.4f}, {record['epoch_time']:.1f} s",
                flush=True,
            )
    trained = eqx.combine(params, static)
    return Trained(trained, history, {"dgno": {"mode": mode, "centres": centres, "radius": radius}})
