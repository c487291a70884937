"""Training recipes: the registry, the [recipe] table, and a user's staged recipe."""

import pytest

from sciml.cli import main
from sciml.experiments import get_experiment
from sciml.experiments.config import Experiment
from sciml.experiments.recipes import Trained
from sciml.experiments.registry import recipe_config, recipe_names, register_recipe


def test_fit_is_the_default_recipe_and_is_left_out_of_the_document():
    experiment = get_experiment("darcy", "fno", "quick")
    assert experiment.recipe == "fit" and experiment.recipe_config == {}
    assert "recipe" not in experiment.to_dict()  # plain runs keep their hashes
    assert "fit" in recipe_names()


def test_unknown_recipes_and_keys_name_the_valid_ones():
    with pytest.raises(ValueError, match="unknown recipe 'nope'; expected one of fit"):
        get_experiment("darcy", "fno", "quick", ["recipe.name=nope"])
    with pytest.raises(ValueError, match="unknown key.*recipe.bogus for recipe 'fit'"):
        recipe_config("fit", {"bogus": 1})
    with pytest.raises(ValueError, match="recipe\\(stage, \\*, \\*\\*config\\)"):
        register_recipe("bad")(lambda *, stage: None)


@register_recipe("test-two-halves")
def _two_halves(stage, *, first: int = 1):
    """Fit ``first`` epochs, stop, then resume for the rest: a staged recipe."""
    _, first_history = stage.fit(stage.model, stop=lambda epoch, history: epoch == first)
    model, history = stage.fit(stage.model)
    return Trained(model, history, {"first_stage_epochs": len(first_history["train_loss"])})


def test_a_user_recipe_runs_in_stages_and_round_trips_through_the_run_folder(tmp_path, cache, tiny):
    sets = [*tiny("darcy", "fno"), "recipe.name=test-two-halves", "recipe.first=1"]
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "darcy",
                "--model",
                "fno",
                "--out",
                str(out),
                "--cache",
                str(cache),
                *sum((["--set", s] for s in sets), []),
            ]
        )
        == 0
    )
    import json

    record = json.loads((out / "results.json").read_text())
    assert record["first_stage_epochs"] == 1
    assert record["epochs"] == record["config"]["train"]["epochs"] > 1
    assert record["config"]["recipe"] == {"name": "test-two-halves", "first": 1}
    again = Experiment.from_dict(record["config"])
    assert again.recipe == "test-two-halves" and again.recipe_config == {"first": 1}


def test_scno_trains_by_train_and_unroll_records_its_depths_and_reloads_at_the_depth_reached(
    tmp_path, cache, tiny
):
    import numpy as np

    from sciml.experiments import load_experiment, load_run
    from sciml.experiments.registry import get_task
    from sciml.experiments.run import load_data
    from sciml.models.scno import depth_of
    from sciml.train.metrics import evaluate

    out = tmp_path / "run"
    sets = [
        *tiny("darcy", "scno"),
        "train.epochs=4",
        "recipe.name=train-and-unroll",
        "recipe.start=1",
        "recipe.step=1",
        "recipe.final=2",
        "recipe.patience=1",
        "recipe.min_epochs=2",
        "recipe.tolerance=0.99",  # every epoch stalls: depth 2 from epoch 3 on
        "recipe.sweep=1.5",
    ]
    argv = ["train", "darcy", "--model", "scno", "--out", str(out), "--cache", str(cache)]
    assert main([*argv, *sum((["--set", s] for s in sets), [])]) == 0
    import json

    record = json.loads((out / "results.json").read_text())
    assert record["depth_per_epoch"] == [1, 1, 2, 2] and record["unroll_epochs"] == [2]
    assert record["depth_reached"] == 2 and record["trained_model_config"] == {"depth": 2}
    sweep = record["depth_sweep"]
    assert sweep["depth"] == [1, 2, 3] and len(sweep["test_relative_l2"]) == 3
    assert sweep["test_relative_l2"][1] == record["test_relative_l2"]  # the judged depth
    assert (out / "depth.png").stat().st_size > 0
    model, _ = load_run(out)
    assert depth_of(model) == 2
    experiment = load_experiment(out / "config.toml")
    splits, _ = load_data(experiment, cache)
    test = get_task("darcy").arrays(experiment, splits["test"])
    error = float(np.mean(evaluate(model, *test)))
    assert error == pytest.approx(record["test_relative_l2"], rel=1e-5)
