"""The "mse" loss: per-sample mean squared error, PyTorch's mse_loss(reduction="mean")."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.train import TrainConfig
from sciml.train.losses import get_loss, mean_squared_error


def test_batch_mean_of_mse_is_the_mean_over_every_entry():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(2, 5, 1, 7))
    loss = get_loss("mse")
    batch = jnp.mean(jax.vmap(loss)(jnp.asarray(pred), jnp.asarray(target)))
    np.testing.assert_allclose(batch, np.mean((pred - target) ** 2), rtol=1e-6)
    np.testing.assert_allclose(loss(pred[1], target[1]), np.sum((pred[1] - target[1]) ** 2) / 7)


def test_mse_is_a_config_loss_and_refuses_shapes_that_differ():
    assert TrainConfig(loss="mse").loss == "mse"
    with pytest.raises(ValueError, match="same shape"):
        mean_squared_error(jnp.zeros(3), jnp.zeros(4))
