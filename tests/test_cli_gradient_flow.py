"""`sciml train allen-cahn|cahn-hilliard`: routing, clear errors, and tiny runs end to end
that write the record and both figures."""

import dataclasses
import json

import numpy as np
import pytest

from sciml import gradient_flow_run
from sciml.cli import main
from sciml.data.gradient_flow import GradientFlowConfig
from sciml.gradient_flow_run import get_gradient_flow_preset


def tiny(task, model):
    preset = get_gradient_flow_preset(task, model, "quick")
    data = dataclasses.replace(
        preset.data, resolution=16, n_train=8, n_test=4, n_frames=2, n_extra_frames=2
    )
    options = (
        {"blocks_per_frame": 1, "n_basis": 4}
        if model == "estable"
        else {"modes": (3, 3), "width": 4, "n_layers": 1, "projection_channels": 4}
    )
    train = dataclasses.replace(preset.train, epochs=2, batch_size=4)
    return dataclasses.replace(preset, data=data, model_options=options, train=train)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "allen-cahn", "--model", "resnet"], "unknown model 'resnet'; expected one of"),
        (["train", "cahn-hilliard", "--preset", "huge"], "unknown preset 'huge'; expected one"),
        (["train", "allen-cahn", "--epochs", "0"], "--epochs expects a positive integer, got 0"),
    ],
)
def test_bad_arguments_are_named(argv, expected, capsys):
    assert main(argv) == 2
    assert expected in capsys.readouterr().err


def test_other_tasks_keep_their_errors(capsys):
    assert main(["train", "heat"]) == 2
    assert "unknown task 'heat'" in capsys.readouterr().err


def test_presets_serialise_and_state_the_benchmark_sizes():
    for task in ("allen-cahn", "cahn-hilliard"):
        for model in ("estable", "fno"):
            preset = get_gradient_flow_preset(task, model, "quick")
            assert json.loads(json.dumps(preset.to_dict()))["task"] == task
    paper = get_gradient_flow_preset("cahn-hilliard", "estable", "paper").data
    assert (paper.resolution, paper.eps, paper.length) == (128, 0.1, 2 * np.pi)
    with pytest.raises(ValueError, match="whole number of steps"):
        GradientFlowConfig(t_input=0.1, dt=0.03)


@pytest.mark.parametrize("task, model", [("allen-cahn", "estable"), ("cahn-hilliard", "fno")])
def test_tiny_run_writes_record_and_figures(tmp_path, monkeypatch, task, model):
    monkeypatch.setattr(gradient_flow_run, "get_gradient_flow_preset", lambda *a: tiny(task, model))
    out = tmp_path / "run"
    argv = ["train", task, "--model", model, "--out", str(out), "--cache", str(tmp_path / "c")]
    assert main([*argv, "--no-progress"]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["task"] == task and record["model"] == model and record["epochs"] == 2
    assert 0 < record["test_relative_l2"] < 10 and record["parameters"] > 0
    assert len(record["relative_l2_per_frame"]) == 4 and record["resolution"] == [16, 16]
    assert len(record["energy_reference_mean"]) == 5
    if model == "estable":
        assert record["largest_block_energy_increase_relative"] <= 1e-5  # float32 round-off
    for figure in ("fields.png", "energy.png"):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
    # A folder that holds a run is not overwritten.
    assert main([*argv, "--no-progress"]) == 2
