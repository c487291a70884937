"""The Spectral-Refiner: only the output layer is refined, the estimator falls, and the
two-stage recipe runs from the command line and records both errors."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.cli import main
from sciml.experiments.refine import RefinedSFNO
from sciml.models.sfno import SFNO, TrajectorySpectralConv
from sciml.solvers.navier_stokes import fno_forcing


def _refined(steps=20):
    model = SFNO(
        3,
        3,
        (3, 3, 2),
        4,
        2,
        time_padding=2,
        projection_channels=4,
        key=jax.random.key(0),
        dtype=jnp.float64,
    )
    return RefinedSFNO(
        model, jnp.asarray(1e-3), fno_forcing(8, jnp.float64), steps, 1e-2, 1.0, 2, False, 1.0
    )


def test_the_refiner_updates_the_output_layer_only_and_lowers_the_estimator():
    refined = _refined()
    frames = jax.random.normal(jax.random.key(1), (3, 8, 8), jnp.float64)
    layer, history = eqx.filter_jit(RefinedSFNO.refine)(refined, frames)
    assert history.shape == (21,)
    assert float(history[-1]) < 0.5 * float(history[0])
    start = refined.model.output.expanded(refined.model.padded_times, (8, 8))
    assert layer.modes == start.modes
    assert float(jnp.max(jnp.abs(layer.bias - start.bias))) > 0  # the layer moved ...

    # ... and the prediction is the untouched model's with that layer: nothing else moved
    @eqx.filter_jit
    def check(refined, frames, layer):
        tau = jnp.arange(1.0, 4.0)
        expected = refined.model.trajectory(frames, tau, output=layer)[0]
        return refined(frames), expected, refined.estimator(frames, layer)

    prediction, expected, estimator = check(refined, frames, layer)
    np.testing.assert_allclose(prediction, expected, atol=1e-12)
    assert float(estimator) == pytest.approx(float(history[-1]))


def test_the_estimator_gradient_matches_finite_differences():
    refined = _refined()
    frames = jax.random.normal(jax.random.key(2), (3, 8, 8), jnp.float64)
    layer = refined.model.output.expanded(refined.model.padded_times, (8, 8))
    direction = jax.random.normal(jax.random.key(3), layer.bias.shape, jnp.float64)

    def estimator(bias):
        shifted = TrajectorySpectralConv(layer.modes, parameters=(layer.weights, bias))
        return refined.estimator(frames, shifted)

    exact = jnp.vdot(jax.grad(estimator)(layer.bias), direction)
    h = 1e-5
    central = (estimator(layer.bias + h * direction) - estimator(layer.bias - h * direction)) / (
        2 * h
    )
    assert float(central) == pytest.approx(float(exact), rel=1e-6)


def test_the_recipe_records_the_errors_before_and_after_refinement(tmp_path, cache, tiny):
    sets = [*tiny("navier-stokes", "sfno"), "recipe.steps=3", "recipe.solver_steps=[2]"]
    out = tmp_path / "run"
    args = ["train", "navier-stokes", "--model", "sfno", "--preset", "quick", "--out", str(out)]
    assert main([*args, "--cache", str(cache), *sum((["--set", s] for s in sets), [])]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["config"]["recipe"]["name"] == "refine"
    refinement = record["refinement"]
    assert refinement["test_relative_l2"] == pytest.approx(record["test_relative_l2"], rel=1e-4)
    assert record["test_relative_l2_before_refinement"] > 0
    assert len(refinement["solver"]) == 1
    assert (out / "refinement.png").exists()


def test_the_recipe_refuses_another_task_and_bad_keys(tmp_path, cache, tiny):
    from sciml.experiments import get_experiment
    from sciml.experiments.refine import _check_recipe

    with pytest.raises(ValueError, match="recipe.steps must be an integer >= 1"):
        _check_recipe(0, 1e-3, 1.0, 2, [2])
    sets = [*tiny("darcy", "fno"), "recipe.name=refine"]
    experiment = get_experiment("darcy", "fno", "quick", sets)
    from sciml.experiments.run import train

    with pytest.raises(
        ValueError, match="recipe .refine. refines a vorticity trajectory of navier-stokes"
    ):
        train(experiment, tmp_path / "run", cache=cache, progress=False)
