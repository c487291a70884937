"""The dgno recipe from the command line: physics-only and mixed training write a run
that load_run reads back, and a wrong model or mode is refused."""

import json

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.cli import main
from sciml.experiments import get_experiment
from sciml.experiments.run import load_run, train

SMALL = [
    "model.latent=4",
    "model.width=8",
    "model.n_layers=1",
    "model.encoder_width=8",
    "model.encoder_depth=1",
    "recipe.centres=4",
    "recipe.radius=0.05",
]


def test_a_mixed_run_is_recorded_and_reads_back(tmp_path, cache, tiny):
    sets = [*tiny("darcy", "dgno"), *SMALL, "recipe.mode=mixed"]
    out = tmp_path / "run"
    args = ["train", "darcy", "--model", "dgno", "--preset", "quick", "--out", str(out)]
    assert main([*args, "--cache", str(cache), *sum((["--set", s] for s in sets), [])]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["config"]["recipe"]["mode"] == "mixed" and record["epochs"] == 2
    history = record["history"]
    assert set(history) >= {"loss_phase", "loss_constitutive", "loss_weak", "loss_solution"}
    assert all(np.isfinite(history["train_loss"]))
    model, _ = load_run(out)
    a = jnp.full((1, 9, 9), 4.0).at[0, :4].set(12.0)
    u = eqx.filter_jit(model)(a)
    assert u.shape == (1, 9, 9) and np.all(np.isfinite(np.asarray(u)))
    assert float(jnp.max(jnp.abs(u[0, 0]))) < 1e-6  # zero on the boundary


def test_the_recipe_refuses_another_model_and_an_unknown_mode(tmp_path, cache, tiny):
    fno = get_experiment("darcy", "fno", "quick", [*tiny("darcy", "fno"), "recipe.name=dgno"])
    with pytest.raises(ValueError, match="the dgno recipe trains a DGNO"):
        train(fno, tmp_path / "fno", cache=cache, progress=False)
    dgno = get_experiment(
        "darcy", "dgno", "quick", [*tiny("darcy", "dgno"), *SMALL, "recipe.mode=labels"]
    )
    with pytest.raises(ValueError, match="recipe.mode must be one of physics, mixed"):
        train(dgno, tmp_path / "dgno", cache=cache, progress=False)
