"""Checks of what ``fit`` is given: loud, early errors that say what was expected."""

from __future__ import annotations

import json
from typing import Any

import equinox as eqx
import jax
import numpy as np
import optax

from sciml.data.dataset import OperatorDataset
from sciml.train.losses import loss_names


def check_split(name: str, split: Any) -> tuple[np.ndarray, np.ndarray]:
    """An :class:`OperatorDataset`'s or an ``(inputs, outputs)`` pair's arrays
    ``(N, C, *grid)``, of equal ``N`` and all finite."""
    if isinstance(split, OperatorDataset):
        split = split.arrays()
    if not (isinstance(split, (tuple, list)) and len(split) == 2):
        raise ValueError(
            f"the {name} split must be an OperatorDataset or a pair (inputs, outputs) of "
            f"arrays, got {_kind(split)}"
        )
    inputs, outputs = (np.asarray(x) for x in split)
    for role, array in (("inputs", inputs), ("outputs", outputs)):
        if array.ndim < 2 or not np.issubdtype(array.dtype, np.inexact):
            raise ValueError(
                f"{name} {role} must be a floating array (N, C, *grid), "
                f"got {array.dtype} of shape {array.shape}"
            )
        _check_finite(f"{name} {role}", array)
    if len(inputs) != len(outputs):
        raise ValueError(
            f"{name} inputs and outputs must have the same number of samples, got "
            f"{len(inputs)} inputs {inputs.shape} and {len(outputs)} outputs {outputs.shape}"
        )
    return inputs, outputs


def _check_finite(name, array):
    bad = ~np.isfinite(array)
    if bad.any():
        first = np.unravel_index(np.argmax(bad), array.shape)
        samples = int(bad.reshape(len(array), -1).any(axis=1).sum())
        raise ValueError(
            f"{name} contain {int(bad.sum())} non-finite value(s) in {samples} sample(s); "
            f"the first is {array[first]} at sample {first[0]}, index "
            f"{tuple(int(i) for i in first[1:])}"
        )


def check_test_matches_train(train, test) -> None:
    """The test split has the train split's channels and number of spatial axes."""
    for role, a, b in zip(("inputs", "outputs"), train, test):
        if a.shape[1] != b.shape[1] or a.ndim != b.ndim:
            raise ValueError(
                f"test {role} {b.shape} do not match the train {role} {a.shape}: expected "
                f"{a.shape[1]} channel(s) and {a.ndim - 2} spatial axes"
            )


def check_model_output(model, inputs: Any, outputs: Any) -> None:
    """The model maps one train input to one train output's shape (traced, not run)."""
    sample = jax.ShapeDtypeStruct(inputs.shape[1:], inputs.dtype)
    try:
        out = eqx.filter_eval_shape(model, sample)
    except Exception as error:
        raise ValueError(
            f"the model cannot be applied to one train input of shape {inputs.shape[1:]}: {error}"
        ) from error
    if getattr(out, "shape", None) != outputs.shape[1:]:
        raise ValueError(
            f"the model maps one input {inputs.shape[1:]} to {getattr(out, 'shape', out)}, "
            f"but the train outputs are {outputs.shape[1:]} per sample"
        )


def check_json(name: str, value: Any) -> None:
    """``value`` can be written as JSON."""
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be JSON-serialisable: {error}") from None


def check_optimizer(optimizer: Any) -> None:
    """``optimizer`` is None or an ``optax.GradientTransformation``."""
    if optimizer is None or isinstance(optimizer, optax.GradientTransformation):
        return
    hint = ""
    if callable(optimizer):
        hint = " (an optimiser factory such as optax.adam must be called: optax.adam(1e-3))"
    raise ValueError(
        "fit expects optimizer to be an optax.GradientTransformation, or None for the one "
        f"the TrainConfig names, got {_kind(optimizer)}{hint}"
    )


def check_loss(loss: Any, outputs: Any) -> None:
    """``loss`` is None, a built-in loss's name, or a callable mapping one predicted and
    one true output sample (shaped like ``outputs[0]``) to a real scalar (traced, not run).

    ``outputs`` is anything with the ``shape`` and ``dtype`` of the outputs (an array,
    or the shapes of a lazy split)."""
    expected = (
        f"one of {', '.join(repr(name) for name in loss_names())}, a callable "
        "loss(prediction, target) -> scalar on one sample (C, *grid), or None for the "
        "TrainConfig's loss"
    )
    if loss is None:
        return
    if isinstance(loss, str):
        if loss not in loss_names():
            raise ValueError(f"unknown loss {loss!r}; fit expects loss to be {expected}")
        return
    if not callable(loss):
        raise ValueError(f"fit expects loss to be {expected}, got {_kind(loss)}")
    sample = jax.ShapeDtypeStruct(outputs.shape[1:], outputs.dtype)
    try:
        value = jax.eval_shape(loss, sample, sample)
    except Exception as error:
        raise ValueError(
            f"the loss cannot be applied to one prediction and one target of shape "
            f"{outputs.shape[1:]}: {error}"
        ) from error
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape != () or not np.issubdtype(dtype, np.floating):
        raise ValueError(
            f"the loss must return a real scalar for one sample pair of shape "
            f"{outputs.shape[1:]}, got {_kind(value) if shape is None else f'{dtype}{shape}'}"
        )


def _kind(value: Any) -> str:
    """What ``value`` is, for an error message."""
    name = getattr(value, "__qualname__", None)
    if callable(value) and name is not None:
        return f"the {type(value).__name__} {name}"
    return type(value).__name__
