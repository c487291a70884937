"""Checks of what ``fit`` is given: loud, early errors that say what was expected."""

from __future__ import annotations

import json
from typing import Any

import equinox as eqx
import jax
import numpy as np


def check_split(name: str, split: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, outputs)`` as arrays ``(N, C, *grid)`` of equal ``N``, all finite."""
    if not (isinstance(split, (tuple, list)) and len(split) == 2):
        raise ValueError(
            f"the {name} split must be a pair (inputs, outputs), got {type(split).__name__}"
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


def check_model_output(model, inputs: np.ndarray, outputs: np.ndarray) -> None:
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
