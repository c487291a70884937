"""DeepONet, POD-DeepONet, MgNO and U-Net through the presets and the run pipeline."""

import dataclasses
import json

import numpy as np
import pytest

from sciml.cli import main
from sciml.data.burgers import BurgersConfig
from sciml.data.darcy import DarcyConfig
from sciml.data.navier_stokes import NavierStokesConfig
from sciml.experiment import build_model, run_preset
from sciml.models import PODDeepONet, count_parameters
from sciml.presets import CONV_AND_BRANCH_MODELS, TASKS, ModelConfig, get_preset


def test_every_task_has_presets_for_the_new_models():
    for task in TASKS:
        for model in CONV_AND_BRANCH_MODELS:
            for name in ("quick", "paper"):
                preset = get_preset(task, model, name)
                record = json.loads(json.dumps(preset.to_dict()))
                assert record["model"] == model and record["model_config"]["name"] == model
                assert preset.train.epoch_loop == "steps"
    # the published numbers sit beside the paper presets
    assert get_preset("darcy", "deeponet", "paper").reference_l2 == 0.0298
    assert get_preset("darcy", "pod-deeponet", "paper").data.resolution == 29
    assert get_preset("burgers", "pod-deeponet", "paper").reference_l2 == 0.0194
    assert get_preset("burgers", "deeponet", "paper").data.resolution == 128
    assert get_preset("navier-stokes", "unet", "paper").reference_l2 == 0.0245


def test_the_paper_mgno_preset_builds_the_papers_model():
    preset = get_preset("darcy", "mgno", "paper")
    model = build_model(preset, (1, 85, 85), np.zeros((2, 1, 85, 85)), key=_key())
    assert count_parameters(model) == 572_661


def test_pod_deeponet_takes_its_modes_from_the_targets():
    preset = get_preset("burgers", "pod-deeponet", "quick")
    targets = np.random.default_rng(0).standard_normal((80, 1, 128))
    model = build_model(preset, (1, 128), targets, key=_key())
    assert isinstance(model, PODDeepONet) and model.periodic
    np.testing.assert_allclose(np.asarray(model.pod.mean)[0], targets[:, 0].mean(0), atol=1e-6)


def _key():
    import jax

    return jax.random.key(0)


def _tiny(task, model, data, options, frames=None):
    preset = get_preset(task, model, "quick")
    preset = dataclasses.replace(preset, data=data, model_config=ModelConfig(model, options))
    if frames is not None:
        preset = dataclasses.replace(preset, frames=frames)
    return dataclasses.replace(
        preset, train=dataclasses.replace(preset.train, epochs=2, batch_size=4)
    )


DARCY = DarcyConfig(fine_resolution=17, subsample=2, n_train=8, n_test=4)
BURGERS = BurgersConfig(fine_resolution=64, subsample=2, n_train=8, n_test=4, dt=0.05)


@pytest.mark.parametrize(
    "task, model, data, options",
    [
        ("darcy", "deeponet", DARCY, {"branch": "conv", "conv_channels": (4,), "n_basis": 8,
                                      "branch_width": 8, "trunk_width": 8}),
        ("darcy", "pod-deeponet", DARCY, {"branch": "mlp", "n_basis": 4, "branch_width": 8}),
        ("darcy", "mgno", DARCY, {"channels": 3, "n_layers": 1, "smoothing": ((1, 0),) * 3}),
        ("darcy", "unet", DARCY, {"channels": 3, "levels": 2}),
        ("burgers", "deeponet", BURGERS, {"n_basis": 4, "branch_width": 8, "trunk_width": 8}),
        ("burgers", "mgno", BURGERS, {"channels": 3, "n_layers": 1, "padding": "circular",
                                      "smoothing": ((1, 1),) * 3}),
        ("burgers", "unet", BURGERS, {"channels": 3, "levels": 2, "padding": "circular"}),
    ],
)  # fmt: skip
def test_tiny_runs_end_to_end(tmp_path, task, model, data, options):
    preset = _tiny(task, model, data, options)
    record = run_preset(preset, tmp_path / "run", cache=tmp_path / "cache", progress=False)
    assert record["model"] == model and record["epochs"] == 2
    assert np.isfinite(record["test_relative_l2"]) and record["parameters"] > 0
    assert record["history"]["train_loss"][1] < record["history"]["train_loss"][0] * 1.5
    assert (tmp_path / "run" / "prediction.png").read_bytes()[:4] == b"\x89PNG"


def test_navier_stokes_frames_go_through_a_unet_as_channels(tmp_path):
    preset = _tiny(
        "navier-stokes",
        "unet",
        NavierStokesConfig(solve_resolution=16, resolution=8, t_final=5, n_train=6, n_test=2),
        {"channels": 2, "levels": 2, "padding": "circular"},
        frames=(2, 3),
    )
    record = run_preset(preset, tmp_path / "run", cache=tmp_path / "cache", progress=False)
    assert record["frames"] == [2, 3] and np.isfinite(record["test_relative_l2"])


def test_unknown_model_names_list_the_new_ones(capsys):
    assert main(["train", "darcy", "--model", "resnet"]) == 2
    message = capsys.readouterr().err
    assert "expected one of fno, fno3d, deeponet, pod-deeponet, mgno, unet" in message
