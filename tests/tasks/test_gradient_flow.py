"""The gradient-flow tasks: their configs, and the rollout past the training horizon."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.data.gradient_flow import GradientFlowConfig
from sciml.experiments import get_experiment
from sciml.experiments.run import build_for
from sciml.tasks.gradient_flow import apply_again

TINY = ["data.resolution=16", "data.n_frames=2", "data.n_extra_frames=2"]


def test_the_presets_name_their_equation_and_bad_configs_are_named():
    for task in ("allen-cahn", "cahn-hilliard"):
        assert get_experiment(task, "estable").data.equation == task
    assert get_experiment("cahn-hilliard", "fno").train.domain_length == 2 * math.pi
    with pytest.raises(ValueError, match="whole number of steps"):
        GradientFlowConfig(t_input=0.1, dt=0.03)


@pytest.mark.parametrize("model", ["fno", "estable"])
def test_applying_again_continues_from_the_last_frame(model):
    small = ["model.width=4", "model.n_layers=1", "model.modes=3"] if model == "fno" else []
    experiment = get_experiment("allen-cahn", model, "quick", TINY + small)
    arrays = (np.zeros((2, 1, 16, 16), np.float32), np.zeros((2, 2, 16, 16), np.float32))
    network, _, _ = build_for(experiment, arrays, key=jax.random.key(0))
    phi0 = jax.random.uniform(jax.random.key(1), (1, 16, 16), minval=-0.9, maxval=0.9)
    rolled = np.asarray(eqx.filter_jit(apply_again)(network, phi0, 2))
    first = np.asarray(eqx.filter_jit(network)(phi0))
    assert rolled.shape == (4, 16, 16)
    np.testing.assert_allclose(rolled[:2], first, rtol=1e-5, atol=1e-6)
    if model == "fno":  # no state between applications: the second starts from frame 2
        second = np.asarray(eqx.filter_jit(network)(jnp.asarray(first[-1:])))
        np.testing.assert_allclose(rolled[2:], second, rtol=1e-5, atol=1e-6)
