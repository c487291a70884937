"""Test metrics of trained operators, computed once here for every task.

The per-sample relative L2 error ``||prediction - truth||_2 / ||truth||_2`` is the metric
of the FNO and DeepONet benchmarks (Li et al., ICLR 2021; Lu et al., CMAME 2022).
"""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np

from sciml.train.losses import relative_l2


@eqx.filter_jit
def _errors(model, inputs, outputs):
    return jax.vmap(lambda a, u: relative_l2(model(a), u))(inputs, outputs)


def evaluate(model, inputs: np.ndarray, outputs: np.ndarray, batch_size: int = 50) -> np.ndarray:
    """Relative L2 error of ``model`` on every sample: ``(N,)``, in batches of ``batch_size``.

    Args:
        model: maps one input ``(C_in, *grid)`` to one output ``(C_out, *grid)``.
        inputs: ``(N, C_in, *grid)``.
        outputs: ``(N, C_out, *grid)``.
    """
    errors = []
    for start in range(0, len(inputs), batch_size):
        stop = start + batch_size
        errors.append(np.asarray(_errors(model, inputs[start:stop], outputs[start:stop])))
    return np.concatenate(errors)


def relative_l2_per_frame(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Relative L2 error of every frame of every sample: ``(N, F, *grid) -> (N, F)``."""
    axes = tuple(range(2, truth.ndim))
    return np.sqrt(np.sum((prediction - truth) ** 2, axis=axes) / np.sum(truth**2, axis=axes))
