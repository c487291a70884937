"""``loss_space = "normalised"``: the training loss in the output normaliser's units."""

import jax.numpy as jnp
import numpy as np
import pytest

from sciml.data.normalise import GaussianNormaliser, in_normalised_units
from sciml.experiments import get_experiment
from sciml.experiments.config import Experiment
from sciml.experiments.run import train
from sciml.train.losses import get_loss


def test_the_mse_in_normalised_units_is_the_squared_error_over_the_per_point_std():
    rng = np.random.default_rng(1)
    samples = rng.normal(2.0, rng.uniform(0.01, 3.0, size=(1, 6, 5)), size=(40, 1, 6, 5))
    normaliser = GaussianNormaliser.fit(samples)
    pred, target = samples[0] + rng.normal(size=(1, 6, 5)), samples[1]
    std = np.std(samples, axis=0) + float(normaliser.eps)
    expected = np.mean(((pred - target) / std) ** 2)
    loss = in_normalised_units(get_loss("mse"), normaliser)
    np.testing.assert_allclose(loss(jnp.asarray(pred), jnp.asarray(target)), expected, rtol=1e-5)


def test_loss_space_is_checked_and_left_out_of_the_dict_at_its_default():
    experiment = get_experiment("darcy", "fno", "quick")
    assert "loss_space" not in experiment.to_dict()  # earlier runs keep their config
    table = experiment.to_dict()
    with pytest.raises(ValueError, match="loss_space must be 'output' or 'normalised'"):
        Experiment.from_dict({**table, "loss_space": "encoded"})
    with pytest.raises(ValueError, match='needs normalise = "gaussian"'):
        Experiment.from_dict({**table, "loss_space": "normalised", "normalise": "none"})
    again = Experiment.from_dict({**table, "loss_space": "normalised"})
    assert again.to_dict()["loss_space"] == "normalised"


def test_a_run_trains_on_the_normalised_error(tmp_path, tiny, cache):
    # Darcy pressures are O(1e-2): the MSE of the decoded output is about 1e4 times
    # smaller than the same model's MSE in normalised units
    losses = {}
    for space in ("output", "normalised"):
        overrides = [
            *tiny("darcy", "fno"),
            "train.loss=mse",
            "train.epochs=1",
            f"loss_space={space}",
        ]
        experiment = get_experiment("darcy", "fno", "quick", overrides)
        trained = train(experiment, tmp_path / space, cache=cache)
        losses[space] = trained.record["history"]["train_loss"][0]
    assert losses["normalised"] > 100 * losses["output"]
