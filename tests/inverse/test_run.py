"""The ``sciml invert`` command: the errors it gives before any computation."""

import pytest

from sciml.cli import main
from sciml.inverse.run import BurgersInversion, inversion_config


@pytest.mark.parametrize(
    "argv, message",
    [
        (["invert", "heat"], "unknown inverse task 'heat'"),
        (["invert", "darcy", "--forward", "oracle"], "unknown forward model 'oracle'"),
        (["invert", "darcy", "--preset", "paper"], "unknown inverse preset 'paper'"),
        (["invert", "burgers", "--forward", "surrogate"], "solver only"),
        (
            ["invert", "darcy", "--set", "nois=0.1"],
            "unknown key(s) nois; valid keys: fine_resolution",
        ),
        (["invert", "darcy", "--set", "model.width=3"], "--set expects KEY=VALUE"),
        (
            ["invert", "darcy", "--forward", "solver", "--surrogate", "runs/x"],
            "--surrogate DIR is for --forward surrogate",
        ),
    ],
)
def test_bad_arguments_exit_with_a_clear_error(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err


def test_a_surrogate_folder_without_a_run_is_refused(tmp_path, capsys):
    argv = ["invert", "darcy", "--forward", "surrogate", "--surrogate", str(tmp_path)]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    assert "results.json" in capsys.readouterr().err


def test_the_inverse_problems_are_presets_with_overrides():
    burgers = inversion_config("burgers", "quick", ["noise=0.05", "nus=[0.1, 0.2]"])
    assert isinstance(burgers, BurgersInversion)
    assert (burgers.noise, burgers.nus, burgers.t_final) == (0.05, (0.1, 0.2), 0.25)
    assert inversion_config("darcy").resolution == 43
    assert inversion_config("navier-stokes").surrogate_epochs == 25
