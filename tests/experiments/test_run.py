"""The one runner: every task family and built-in model end to end on tiny data, resume,
reproduction from a run's own config.toml, models rebuilt from their run folders, and
the command line around it."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.cli import main
from sciml.experiments import get_experiment, load_run, train

RUNS = [
    ("darcy", "fno", ("prediction.png",)),
    ("darcy", "deeponet", ("prediction.png",)),
    ("darcy", "pod-deeponet", ("prediction.png",)),
    ("darcy", "mgno", ("prediction.png",)),
    ("burgers", "fno", ("prediction.png",)),
    ("burgers", "unet", ("prediction.png",)),
    ("navier-stokes", "fno", ("prediction.png",)),
    ("navier-stokes", "fno3d", ("prediction.png",)),
    ("allen-cahn", "estable", ("fields.png", "energy.png")),
    ("cahn-hilliard", "fno", ("fields.png", "energy.png")),
    ("burgers-trajectory", "neural-ode", ("error.png", "trajectory.png")),
    ("burgers-trajectory", "neural-ode-latent", ("error.png", "trajectory.png")),
    ("burgers-trajectory", "fno-ar", ("error.png", "trajectory.png")),
]


@pytest.mark.parametrize("task, model, figures", RUNS)
def test_every_family_trains_judges_records_resumes_and_reloads(
    tmp_path, cache, tiny, task, model, figures
):
    experiment = get_experiment(task, model, "quick", tiny(task, model))
    out = tmp_path / "run"
    trained = train(experiment, out, cache=cache, progress=False)
    record = json.loads((out / "results.json").read_text())
    assert record["task"] == task and record["model"] == model and record["epochs"] == 2
    assert np.isfinite(record["test_relative_l2"]) and record["parameters"] > 0
    assert record["spec"]["grid"] == record["resolution"]
    for name in figures:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "| task / model / preset |" in (out / "results.md").read_text()

    # the model is rebuilt from the folder alone: the same predictions, bit for bit
    model_again, _ = load_run(out)
    inputs = jnp.asarray(trained.test_inputs[:2])
    expected = eqx.filter_jit(jax.vmap(trained.model))(inputs)
    np.testing.assert_array_equal(eqx.filter_jit(jax.vmap(model_again))(inputs), expected)

    # a folder holding a run is not overwritten; it resumes for more epochs
    with pytest.raises(ValueError, match="already holds a run"):
        train(experiment, out, cache=cache, progress=False)
    longer = get_experiment(task, model, "quick", [*tiny(task, model), "train.epochs=3"])
    resumed = train(longer, out, cache=cache, progress=False, resume=True).record
    assert resumed["epochs"] == 3 and resumed["data_from_cache"] is True
    assert resumed["history"]["train_loss"][:2] == record["history"]["train_loss"]


def test_a_run_reproduces_from_its_own_config(tmp_path, cache, tiny, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    argv = ["train", "darcy", "--cache", str(cache), "--no-progress"]
    assert main([*argv, "--out", str(first), *_sets(tiny("darcy", "fno"))]) == 0
    config = str(first / "config.toml")
    assert main(["train", "--config", config, "--out", str(second), *argv[2:]]) == 0
    a, b = (json.loads((run / "results.json").read_text()) for run in (first, second))
    assert a["test_relative_l2"] == b["test_relative_l2"]
    assert a["history"]["train_loss"] == b["history"]["train_loss"]
    assert (second / "config.toml").read_text() == (first / "config.toml").read_text()
    assert "wrote" in capsys.readouterr().out


def test_show_prints_an_experiment_that_train_runs(tmp_path, cache, tiny, capsys):
    sets = _sets(tiny("burgers", "mgno"))
    assert main(["show", "burgers", "--model", "mgno", *sets, "--set", "model.width=3"]) == 2
    assert "model.channels" in capsys.readouterr().err  # the valid keys are named
    assert main(["show", "burgers", "--model", "mgno", *sets]) == 0
    text = capsys.readouterr().out
    assert 'name = "mgno"' in text and "[train]" in text
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    out = tmp_path / "run"
    argv = ["train", "--config", str(path), "--set", "train.epochs=1", "--out", str(out)]
    assert main([*argv, "--cache", str(cache), "--no-progress"]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["epochs"] == 1 and record["config"]["model"]["name"] == "mgno"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "heat"], "unknown task 'heat'; expected one of darcy, burgers, navier-stokes"),
        (["train", "darcy", "--model", "resnet"], "unknown model 'resnet'; expected one of fno"),
        (["train", "darcy", "--preset", "huge"], "unknown preset 'huge'; expected one of quick"),
        (["train", "allen-cahn", "--epochs", "0"], "--epochs expects a positive integer, got 0"),
        (["train"], "expected a TASK (e.g. sciml train darcy) or --config FILE.toml"),
        (["train", "darcy", "--config", "x.toml"], "give either TASK"),
        (["train", "--config", "missing.toml"], "expected a TOML file at missing.toml"),
        (["train", "darcy", "--resume"], "--resume needs --out"),
        (["show", "darcy", "--plugin", "no_such_module"], "cannot import plugin module"),
        (["bench", "darcie"], "unknown task(s) ['darcie']"),
        (["bench", "--models", "fon"], "unknown model(s) ['fon']"),
    ],
)
def test_bad_arguments_are_one_line_errors(argv, expected, capsys):
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert expected in error and error.startswith("sciml: error: ") and error.count("\n") == 1


def test_resume_without_a_run_is_refused(tmp_path, capsys):
    assert main(["train", "darcy", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "holds no checkpoint" in capsys.readouterr().err


def test_frames_longer_than_the_trajectories_are_refused(tmp_path, cache, tiny):
    overrides = [*tiny("navier-stokes", "fno"), "data.t_final=3"]
    with pytest.raises(
        ValueError, match="needs trajectories of at least 5 frames; the data have 3"
    ):
        train(get_experiment("navier-stokes", "fno", "quick", overrides), tmp_path, cache=cache)


def _sets(overrides):
    return [argument for override in overrides for argument in ("--set", override)]


def test_mixed_precision_and_factorised_weights_are_set_from_the_command_line(
    tmp_path, cache, tiny
):
    from sciml.models.factorized import TuckerWeights, factorized_param_count

    out = tmp_path / "run"
    sets = [*tiny("darcy", "fno"), "model.precision=bfloat16", "model.factorization=tucker"]
    argv = ["train", "darcy", "--cache", str(cache), "--no-progress", "--out", str(out)]
    assert main([*argv, *_sets([*sets, "model.rank=0.5"])]) == 0
    config = (out / "config.toml").read_text()
    assert 'precision = "bfloat16"' in config and 'factorization = "tucker"' in config
    model = load_run(out)[0].operator
    assert model.precision == "bfloat16"
    assert all(isinstance(layer.spectral.weights, TuckerWeights) for layer in model.layers)
    record = json.loads((out / "results.json").read_text())
    dense = sum(leaf.size for leaf in jax.tree.leaves(model.layers[0].spectral.weights))
    assert dense == factorized_param_count("tucker", 6, 6, (3, 3), 0.5)
    assert np.isfinite(record["test_relative_l2"])
