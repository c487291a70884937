"""Learning-rate schedules: functions of the optimiser step, built from epochs.

Each builder returns an ``optax.Schedule``, ``step -> learning rate``, where ``step``
counts optimiser updates (minibatches) from 0; with ``steps_per_epoch`` updates an
epoch, epoch ``e`` (from 0) covers steps ``e * steps_per_epoch`` to
``(e + 1) * steps_per_epoch - 1``.
"""

from __future__ import annotations

import numbers

import jax.numpy as jnp
import optax


def step_decay(
    lr: float, steps_per_epoch: int, every_epochs: int = 100, factor: float = 0.5
) -> optax.Schedule:
    """Piecewise constant in whole epochs: ``lr * factor ** floor(epoch / every_epochs)``.

    The FNO recipe (Adam at 1e-3, halved every 100 epochs), i.e. a step decay applied
    once per epoch, with ``epoch = floor(step / steps_per_epoch)``.

    Args:
        lr: the learning rate of the first ``every_epochs`` epochs.
        steps_per_epoch: optimiser steps in one epoch.
        every_epochs: epochs between two decays.
        factor: the multiplier applied at each decay.

    Returns:
        The schedule ``step -> learning rate``.

    References:
        Li et al., "Fourier Neural Operator for Parametric Partial Differential
        Equations", ICLR 2021.
    """
    _check_positive(steps_per_epoch=steps_per_epoch, every_epochs=every_epochs)

    def schedule(step):
        epoch = step // steps_per_epoch
        return lr * factor ** (epoch // every_epochs)

    return schedule


def cosine(lr: float, total_steps: int, final_fraction: float = 0.0) -> optax.Schedule:
    """Cosine annealing from ``lr`` to ``final_fraction * lr`` over ``total_steps``.

    ``lr_t = lr * (f + (1 - f) * (1 + cos(π min(t, T) / T)) / 2)``, constant at
    ``f * lr`` after ``T = total_steps``.

    Args:
        lr: the initial learning rate.
        total_steps: ``T``, the number of steps of the annealing.
        final_fraction: ``f``, the final learning rate as a fraction of ``lr``.

    Returns:
        The schedule ``step -> learning rate``.

    References:
        Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
        ICLR 2017.
    """
    _check_positive(total_steps=total_steps)

    def schedule(step):
        progress = jnp.minimum(step, total_steps) / total_steps
        return lr * (final_fraction + (1 - final_fraction) * 0.5 * (1 + jnp.cos(jnp.pi * progress)))

    return schedule


def one_cycle(
    lr: float,
    total_steps: int,
    warmup_fraction: float = 0.3,
    initial_divisor: float = 25.0,
    final_divisor: float = 1e4,
) -> optax.Schedule:
    """One cycle: cosine warm-up from ``lr / a`` to ``lr``, then cosine decay to ``lr / (a b)``.

    The warm-up takes the first ``warmup_fraction * total_steps`` steps; the rate is
    constant at ``lr / (a b)`` after ``total_steps``. Only the learning rate cycles
    (not Adam's first moment); the defaults are those of the common implementation.

    Args:
        lr: the peak learning rate.
        total_steps: the length of the cycle.
        warmup_fraction: the fraction of the cycle spent rising to the peak.
        initial_divisor: ``a``, the initial rate is ``lr / a``.
        final_divisor: ``b``, the final rate is ``lr / (a b)``.

    Returns:
        The schedule ``step -> learning rate``.

    References:
        Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using
        Large Learning Rates", 2019; Smith, "A disciplined approach to neural network
        hyper-parameters", 2018.
    """
    _check_positive(total_steps=total_steps)
    return optax.cosine_onecycle_schedule(
        transition_steps=total_steps,
        peak_value=lr,
        pct_start=warmup_fraction,
        div_factor=initial_divisor,
        final_div_factor=final_divisor,
    )


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not (isinstance(value, numbers.Integral) and value > 0):
            raise ValueError(f"expected {name} to be a positive integer, got {value!r}")
