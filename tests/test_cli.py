"""The `sciml` command: clear errors for bad names, and one tiny run end to end."""

import dataclasses
import json

import numpy as np
import pytest

from sciml.cli import main
from sciml.data.burgers import BurgersConfig
from sciml.data.darcy import DarcyConfig
from sciml.data.navier_stokes import NavierStokesConfig
from sciml.experiment import run_preset
from sciml.presets import ModelConfig, get_preset


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "heat"], "unknown task 'heat'; expected one of darcy, burgers, navier-stokes"),
        (["train", "darcy", "--model", "resnet"], "unknown model 'resnet'; expected one of"),
        (["train", "darcy", "--preset", "huge"], "unknown preset 'huge'; expected one of quick"),
    ],
)
def test_unknown_names_are_named_with_the_alternatives(argv, expected, capsys):
    assert main(argv) == 2
    assert expected in capsys.readouterr().err


def test_bad_epochs_is_rejected(capsys):
    assert main(["train", "darcy", "--epochs", "0"]) == 2
    assert "--epochs expects a positive integer, got 0" in capsys.readouterr().err


def test_presets_serialise_to_json():
    for name in ("quick", "paper"):
        preset = get_preset("darcy", "fno", name)
        assert json.loads(json.dumps(preset.to_dict()))["preset"] == name
    paper = get_preset("darcy", "fno", "paper")
    assert paper.data.resolution == 85 and paper.data.n_train == 1000
    assert paper.train.epochs == 500 and paper.train.batch_size == 20


def test_tiny_run_writes_record_checkpoint_and_figure(tmp_path):
    preset = dataclasses.replace(
        get_preset("darcy", "fno", "quick"),
        data=DarcyConfig(fine_resolution=17, subsample=2, n_train=8, n_test=4),
        model_config=ModelConfig("fno", {"modes": (3, 3), "width": 6, "n_layers": 2}),
    )
    preset = dataclasses.replace(
        preset, train=dataclasses.replace(preset.train, epochs=2, batch_size=4)
    )
    record = run_preset(preset, tmp_path / "run", cache=tmp_path / "cache", progress=False)
    written = json.loads((tmp_path / "run" / "results.json").read_text())
    assert written["test_relative_l2"] == pytest.approx(record["test_relative_l2"])
    assert 0 < written["test_relative_l2"] < 10 and np.isfinite(written["test_relative_l2"])
    assert written["epochs"] == 2 and written["resolution"] == [9, 9]
    assert written["parameters"] > 0 and written["data_from_cache"] is False
    assert (tmp_path / "run" / "prediction.png").read_bytes()[:4] == b"\x89PNG"
    assert any((tmp_path / "run" / "checkpoint").iterdir())
    assert "| test relative L2 |" in (tmp_path / "run" / "results.md").read_text()
    # a second run reads the data from the cache
    again = run_preset(preset, tmp_path / "run2", cache=tmp_path / "cache", progress=False)
    assert again["data_from_cache"] is True
    # a folder holding a run is not overwritten; it can be resumed for more epochs
    with pytest.raises(ValueError, match="already holds a run"):
        run_preset(preset, tmp_path / "run", cache=tmp_path / "cache", progress=False)
    longer = dataclasses.replace(preset, train=dataclasses.replace(preset.train, epochs=3))
    resumed = run_preset(
        longer, tmp_path / "run", cache=tmp_path / "cache", progress=False, resume=True
    )
    assert resumed["epochs"] == 3
    assert resumed["history"]["train_loss"][:2] == written["history"]["train_loss"]


def test_resume_without_a_run_is_refused(tmp_path, capsys):
    out = tmp_path / "nothing"
    assert main(["train", "darcy", "--out", str(out), "--resume"]) == 2
    assert "holds no checkpoint" in capsys.readouterr().err


def _tiny(preset, data, model_config, frames=None):
    preset = dataclasses.replace(preset, data=data, model_config=model_config)
    if frames is not None:
        preset = dataclasses.replace(preset, frames=frames)
    return dataclasses.replace(
        preset, train=dataclasses.replace(preset.train, epochs=1, batch_size=4)
    )


def test_tiny_burgers_run_trains_on_the_raw_fields_and_plots_curves(tmp_path):
    preset = _tiny(
        get_preset("burgers", "fno", "quick"),
        BurgersConfig(fine_resolution=64, subsample=2, n_train=8, n_test=4, dt=0.05),
        ModelConfig("fno", {"modes": (4,), "width": 6, "n_layers": 1}),
    )
    record = run_preset(preset, tmp_path / "run", cache=tmp_path / "cache", progress=False)
    assert record["resolution"] == [32] and record["normalise"] == "none"
    assert np.isfinite(record["test_relative_l2"])
    assert (tmp_path / "run" / "prediction.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("model", ["fno", "fno3d"])
def test_tiny_navier_stokes_run_maps_frames_to_frames(tmp_path, model):
    options = (
        {"modes": (3, 3), "width": 4, "n_layers": 1}
        if model == "fno"
        else {"modes": (3, 3, 2), "width": 4, "n_layers": 1, "time_padding": 2}
    )
    preset = _tiny(
        get_preset("navier-stokes", model, "quick"),
        NavierStokesConfig(solve_resolution=16, resolution=8, t_final=5, n_train=6, n_test=2),
        ModelConfig(model, options),
        frames=(2, 3),
    )
    record = run_preset(preset, tmp_path / "run", cache=tmp_path / "cache", progress=False)
    assert record["frames"] == [2, 3] and record["resolution"] == [8, 8]
    assert np.isfinite(record["test_relative_l2"])
    table = (tmp_path / "run" / "results.md").read_text()
    assert "| frames in -> out | 2 -> 3 |" in table


def test_frames_longer_than_the_trajectories_are_refused(tmp_path):
    preset = _tiny(
        get_preset("navier-stokes", "fno", "quick"),
        NavierStokesConfig(solve_resolution=16, resolution=8, t_final=3, n_train=4, n_test=2),
        ModelConfig("fno", {"modes": (3, 3), "width": 4, "n_layers": 1}),
        frames=(2, 3),
    )
    with pytest.raises(
        ValueError, match="needs trajectories of at least 5 frames; the data have 3"
    ):
        run_preset(preset, tmp_path / "run", cache=tmp_path / "cache", progress=False)


def test_every_task_and_model_pair_has_both_presets():
    for task, model in [
        ("darcy", "fno"),
        ("burgers", "fno"),
        ("navier-stokes", "fno"),
        ("navier-stokes", "fno3d"),
    ]:
        for name in ("quick", "paper"):
            preset = get_preset(task, model, name)
            assert json.loads(json.dumps(preset.to_dict()))["task"] == task
    paper = get_preset("navier-stokes", "fno", "paper")
    assert paper.frames == (10, 40) and paper.data.solve_resolution == 256
    assert paper.data.resolution == 64 and paper.data.t_final == 50
    assert paper.data.n_train + paper.data.n_test == 1200
    with pytest.raises(ValueError, match="no preset for task 'darcy' with model 'fno3d'"):
        get_preset("darcy", "fno3d", "quick")
