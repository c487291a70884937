"""The optimiser and learning-rate schedule named by a :class:`TrainConfig`."""

from __future__ import annotations

import optax

from sciml.train.config import TrainConfig
from sciml.train.schedules import cosine, one_cycle, step_decay


def make_schedule(config: TrainConfig, steps_per_epoch: int, total_steps: int) -> optax.Schedule:
    """The learning-rate schedule of ``config``, as a function of the optimiser step.

    Args:
        config: names the schedule and holds its parameters.
        steps_per_epoch: optimiser steps in one epoch.
        total_steps: the length of the cosine and one-cycle schedules, normally
            ``config.epochs * steps_per_epoch`` of the run that started training.

    Returns:
        ``step -> learning rate``.
    """
    if config.schedule == "step":
        return step_decay(
            config.learning_rate, steps_per_epoch, config.step_every_epochs, config.step_factor
        )
    if config.schedule == "cosine":
        return cosine(config.learning_rate, total_steps, config.final_lr_fraction)
    return one_cycle(config.learning_rate, total_steps)


def make_optimizer(config: TrainConfig, schedule: optax.Schedule) -> optax.GradientTransformation:
    """Adam with L2 weight decay, or AdamW with decoupled weight decay.

    With gradient ``g``, weights ``w``, decay ``λ`` and Adam's normalised moment
    estimate ``adam(.)``:

    - ``"adam"``: ``w <- w - lr_t * adam(g + λ w)``, the L2 penalty of
      ``Adam(weight_decay=λ)`` used by the FNO reference;
    - ``"adamw"``: ``w <- w - lr_t * (adam(g) + λ w)``, decoupled weight decay.

    Both use ``β1 = 0.9``, ``β2 = 0.999``, ``ε = 1e-8``.

    Args:
        config: names the optimiser and holds the weight decay.
        schedule: ``step -> learning rate``.

    Returns:
        The optax transformation; its state has the same structure for both names.

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """
    if config.optimizer == "adam":
        return optax.chain(
            optax.add_decayed_weights(config.weight_decay),
            optax.scale_by_adam(),
            optax.scale_by_learning_rate(schedule),
        )
    return optax.chain(
        optax.scale_by_adam(),
        optax.add_decayed_weights(config.weight_decay),
        optax.scale_by_learning_rate(schedule),
    )
