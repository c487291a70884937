"""Experiments as data: the shipped presets, TOML round trips, overrides and their errors,
the model registry."""

import math

import jax
import numpy as np
import pytest
import tomllib

from sciml.experiments import build_model, get_experiment, model_names, register_model
from sciml.experiments.bench import suite_runs
from sciml.experiments.config import (
    Experiment,
    parse_override,
    preset_table,
    presets,
    replace,
)
from sciml.experiments.registry import model_config, task_names
from sciml.models import MgNO, PODDeepONet, count_parameters
from sciml.tasks import ModelSpec, get_task


def test_every_suite_run_has_both_presets_and_they_round_trip_through_toml():
    for task, model in suite_runs():
        for preset in ("quick", "paper"):
            experiment = get_experiment(task, model, preset)
            assert (experiment.task, experiment.model, experiment.preset) == (task, model, preset)
            assert Experiment.from_dict(tomllib.loads(experiment.to_toml())) == experiment


def test_the_paper_presets_state_the_papers_sizes():
    darcy = get_experiment("darcy", "fno", "paper")
    assert darcy.data.resolution == 85 and darcy.data.n_train == 1000
    assert (darcy.train.epochs, darcy.train.batch_size, darcy.train.loss_reduction) == (
        500,
        20,
        "sum",
    )
    ns = get_experiment("navier-stokes", "fno", "paper")
    assert ns.frames == (10, 40) and ns.data.solve_resolution == 256
    assert (ns.data.resolution, ns.data.t_final, ns.data.n_train + ns.data.n_test) == (64, 50, 1200)
    assert get_experiment("darcy", "pod-deeponet", "paper").data.resolution == 29
    assert get_experiment("burgers", "deeponet", "paper").data.resolution == 128
    assert get_experiment("navier-stokes", "fno3d", "paper").train.batch_size == 10
    ch = get_experiment("cahn-hilliard", "estable", "paper").data
    assert (ch.resolution, ch.eps, ch.length) == (128, 0.1, 2 * math.pi)
    # the quick presets keep their recipes: the FNO in one scan, the others stepwise
    assert get_experiment("darcy", "fno", "quick").train.epoch_loop == "scan"
    for model in ("deeponet", "pod-deeponet", "mgno", "unet"):
        assert get_experiment("darcy", model, "quick").train.epoch_loop == "steps"
    assert get_experiment("darcy", "mgno", "quick").train.loss == "h1"
    assert get_experiment("burgers", "fno", "quick").normalise == "none"
    assert get_experiment("burgers", "unet", "quick").normalise == "gaussian"


def test_a_model_without_a_preset_entry_takes_the_tasks_data_and_its_own_defaults():
    experiment = get_experiment("darcy", "unet", "quick", ["model.channels=4"])
    table = preset_table("allen-cahn", "unet", "quick")
    assert table["model"] == {"name": "unet"}
    assert table["data"] == presets("allen-cahn")["quick"]["data"]
    unet = get_experiment("allen-cahn", "unet", "quick")
    assert unet.model_config == {"channels": 32, "levels": 4, "padding": None}
    assert experiment.model_config["channels"] == 4


def test_overrides_are_read_as_toml_values():
    assert parse_override("train.learning_rate=5e-4") == (["train", "learning_rate"], 5e-4)
    assert parse_override("model.modes=[12, 12]") == (["model", "modes"], [12, 12])
    assert parse_override("train.schedule=step") == (["train", "schedule"], "step")
    assert parse_override('notes="a b"') == (["notes"], "a b")
    assert parse_override("model.positional_embedding=false")[1] is False
    experiment = get_experiment(
        "darcy", "fno", "quick", ["model.width=64", "train.learning_rate=5e-4", "normalise=none"]
    )
    assert experiment.model_config["width"] == 64 and experiment.train.learning_rate == 5e-4
    assert experiment.normalise == "none"


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.widht=3"], "unknown key(s) model.widht for model 'fno'; valid keys: model.modes"),
        (["train.epoch=3"], "unknown key(s) train.epoch; valid keys: train.epochs"),
        (["data.resolution=3"], "unknown key(s) data.resolution; valid keys: data.fine_resolution"),
        (["colour=3"], "unknown key(s) colour; valid keys: notes, normalise, loss_space, frames"),
        (["optimiser.lr=3"], "expected one of notes, normalise, loss_space, frames or data.KEY"),
        (["train.epochs"], "--set expects SECTION.KEY=VALUE"),
        (["train.epochs=0"], "TrainConfig.epochs expects a positive integer, got 0"),
        (["normalise=minmax"], "normalise must be 'gaussian' or 'none'"),
    ],
)
def test_a_bad_override_names_what_was_expected(overrides, message):
    with pytest.raises(ValueError) as error:
        get_experiment("darcy", "fno", "quick", overrides)
    assert message in str(error.value)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="unknown task 'heat'; expected one of darcy, burgers"):
        get_experiment("heat", "fno")
    with pytest.raises(ValueError, match="unknown model 'resnet'; expected one of fno, fno-ar"):
        get_experiment("darcy", "resnet")
    with pytest.raises(ValueError, match="unknown preset 'huge'; expected one of quick, paper"):
        get_experiment("darcy", "fno", "huge")


def test_every_built_in_task_and_model_is_registered():
    assert task_names()[:6] == (
        "darcy",
        "burgers",
        "navier-stokes",
        "allen-cahn",
        "cahn-hilliard",
        "burgers-trajectory",
    )
    for name in ("fno", "fno-ar", "fno3d", "deeponet", "pod-deeponet", "mgno", "unet"):
        assert name in model_names()
    for name in ("estable", "neural-ode", "neural-ode-latent"):
        assert name in model_names()
    assert get_task("burgers").periodic and not get_task("darcy").periodic


def test_the_registry_refuses_a_builder_without_a_key_or_a_taken_name():
    with pytest.raises(ValueError, match=r"must be build\(spec, \*, key, \*\*config\)"):
        register_model("keyless")(lambda spec, width=3: None)

    def fno(spec, *, key):  # another function under a built-in name
        return None

    with pytest.raises(ValueError, match="a model named 'fno' is already registered"):
        register_model("fno")(fno)
    with pytest.raises(ValueError, match="model 'fno3d' needs|valid keys"):
        model_config("fno3d", {"depth": 3})


def test_the_paper_mgno_preset_builds_the_papers_model():
    experiment = get_experiment("darcy", "mgno", "paper")
    spec = ModelSpec(1, 1, (85, 85), periodic=False)
    model = build_model("mgno", spec, experiment.model_config, key=jax.random.key(0))
    assert isinstance(model, MgNO) and count_parameters(model) == 572_661


def test_pod_deeponet_takes_its_modes_from_the_targets_and_its_domain_from_the_task():
    experiment = get_experiment("burgers", "pod-deeponet", "quick")
    targets = np.random.default_rng(0).standard_normal((80, 1, 128))
    spec = ModelSpec(1, 1, (128,), periodic=True, targets=targets)
    model = build_model("pod-deeponet", spec, experiment.model_config, key=jax.random.key(0))
    assert isinstance(model, PODDeepONet) and model.periodic
    np.testing.assert_allclose(np.asarray(model.pod.mean)[0], targets[:, 0].mean(0), atol=1e-6)
    rebuilt = build_model(
        "pod-deeponet",
        ModelSpec(1, 1, (128,), True),
        experiment.model_config,
        key=jax.random.key(0),
    )
    assert (
        not np.any(np.asarray(rebuilt.pod.modes))
        and rebuilt.pod.modes.shape == model.pod.modes.shape
    )


def test_replace_changes_sections_and_checks_model_keys():
    experiment = get_experiment("darcy", "fno", "quick")
    smaller = replace(experiment, data={"n_train": 10}, model_config={"width": 8})
    assert smaller.data.n_train == 10 and smaller.model_config["width"] == 8
    assert smaller.model_config["modes"] == experiment.model_config["modes"]
    with pytest.raises(ValueError, match="valid keys"):
        replace(experiment, model_config={"depth": 2})
