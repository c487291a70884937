"""The `sciml` command: clear errors for bad names, and one tiny run end to end."""

import dataclasses
import json

import numpy as np
import pytest

from sciml.cli import main
from sciml.data.darcy import DarcyConfig
from sciml.experiment import run_preset
from sciml.presets import ModelConfig, get_preset


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "heat"], "unknown task 'heat'; expected one of darcy"),
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
