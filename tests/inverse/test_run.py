"""The ``sciml invert`` command: the errors it gives before any computation."""

import pytest

from sciml.cli import main


@pytest.mark.parametrize(
    "argv, message",
    [
        (["invert", "heat"], "unknown inverse task 'heat'"),
        (["invert", "darcy", "--forward", "oracle"], "unknown forward model 'oracle'"),
        (["invert", "darcy", "--preset", "paper"], "unknown inverse preset 'paper'"),
        (["invert", "burgers", "--forward", "surrogate"], "solver only"),
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
