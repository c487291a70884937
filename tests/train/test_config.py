"""TrainConfig round-trips through JSON and names the valid choices; the optimisers'
weight decay is coupled (Adam) or decoupled (AdamW)."""

import json
import math
import re

import jax.numpy as jnp
import numpy as np
import pytest

from sciml.train import TrainConfig, make_optimizer


def test_config_round_trips_through_json():
    config = TrainConfig(epochs=7, batch_size=3, optimizer="adamw", schedule="onecycle", loss="h1")
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert TrainConfig.from_dict({"epochs": 3}) == TrainConfig(epochs=3)


@pytest.mark.parametrize(
    "field, value, valid",
    [
        ("optimizer", "sgd", "adam, adamw"),
        ("schedule", "linear", "step, cosine, onecycle"),
        ("loss", "mae", "l2, h1, hminus1, mse"),
    ],
)
def test_unknown_names_raise_listing_the_valid_ones(field, value, valid):
    with pytest.raises(ValueError, match=f"unknown {field} '{value}'.*expected one of {valid}"):
        TrainConfig(**{field: value})


def test_bad_values_and_unknown_fields_are_rejected():
    with pytest.raises(ValueError, match="batch_size expects a positive integer, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="learning_rate expects a finite number > 0, got -1.0"):
        TrainConfig(learning_rate=-1.0)
    with pytest.raises(ValueError, match="no field.*lr"):
        TrainConfig.from_dict({"lr": 1e-3})


def one_step_with_zero_gradient(optimizer_name, weights):
    config = TrainConfig(optimizer=optimizer_name, weight_decay=0.1)
    optimizer = make_optimizer(config, lambda step: 0.01)
    state = optimizer.init(weights)
    updates, _ = optimizer.update(jnp.zeros_like(weights), state, weights)
    return np.asarray(updates)


def test_adam_adds_weight_decay_to_the_gradient_and_adamw_decouples_it():
    weights = jnp.asarray([2.0, -0.5, 1e-2])
    # Adam: the L2 term is a gradient 0.1 w, which Adam's first step normalises to sign(w)
    np.testing.assert_allclose(
        one_step_with_zero_gradient("adam", weights), -0.01 * np.sign(weights), rtol=1e-5
    )
    # AdamW: Adam sees a zero gradient; the decay -lr * 0.1 * w is applied beside it
    np.testing.assert_allclose(
        one_step_with_zero_gradient("adamw", weights), -0.01 * 0.1 * weights, rtol=1e-12
    )


INF, NAN = math.inf, math.nan


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("learning_rate", INF, "a finite number > 0"),
        ("learning_rate", NAN, "a finite number > 0"),
        ("learning_rate", 0.0, "a finite number > 0"),
        ("learning_rate", True, "a finite number > 0"),
        ("learning_rate", "1e-3", "a finite number > 0"),
        ("weight_decay", INF, "a finite number >= 0"),
        ("weight_decay", NAN, "a finite number >= 0"),
        ("weight_decay", -1e-4, "a finite number >= 0"),
        ("step_factor", -1.0, "a number in (0, 1]"),
        ("step_factor", 0.0, "a number in (0, 1]"),
        ("step_factor", 1.5, "a number in (0, 1]"),
        ("step_factor", NAN, "a number in (0, 1]"),
        ("final_lr_fraction", -0.1, "a number in [0, 1]"),
        ("final_lr_fraction", 1.1, "a number in [0, 1]"),
        ("final_lr_fraction", INF, "a number in [0, 1]"),
        ("domain_length", INF, "a finite number > 0"),
        ("domain_length", 0.0, "a finite number > 0"),
        ("domain_length", NAN, "a finite number > 0"),
    ],
)
def test_float_fields_out_of_range_are_named(field, value, expected):
    message = f"TrainConfig.{field} expects {expected}, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig(**{field: value})


def test_float_fields_accept_their_boundaries():
    config = TrainConfig(weight_decay=0.0, step_factor=1.0, final_lr_fraction=1.0)
    assert (config.weight_decay, config.step_factor, config.final_lr_fraction) == (0, 1, 1)
    assert TrainConfig(final_lr_fraction=0.0, learning_rate=2).learning_rate == 2
