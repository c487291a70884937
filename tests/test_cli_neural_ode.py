"""`sciml train burgers-trajectory --model neural-ode|neural-ode-latent|fno-ar`: routing,
clear errors, the trajectory data, how each model is judged between and past its
training frames, and tiny runs end to end that write the record and both figures."""

import dataclasses
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml import neural_ode_run
from sciml.cli import main
from sciml.data.cache import load_or_generate
from sciml.data.trajectories import BurgersTrajectoryConfig, generate_burgers_trajectories
from sciml.neural_ode_run import build_model, get_trajectory_preset, predict_snapshots


def tiny(model):
    preset = get_trajectory_preset("burgers-trajectory", model, "quick")
    data = dataclasses.replace(
        preset.data,
        fine_resolution=64,
        subsample=4,
        n_train=8,
        n_test=4,
        n_frames=2,
        n_extra_frames=2,
        frame_interval=0.1,
        dt=0.01,
    )
    options = {**preset.model_options, "width": 4, "modes": (4,), "projection_channels": 4}
    if model == "fno-ar":
        options["n_layers"] = 1
    else:
        options["solver"] = "heun"  # the preset's Tsit5 compiles slower
    train = dataclasses.replace(preset.train, epochs=2, batch_size=4)
    return dataclasses.replace(preset, data=data, model_options=options, train=train)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["train", "burgers-trajectory", "--model", "resnet"],
            "unknown model 'resnet'; expected one of neural-ode, neural-ode-latent, fno-ar",
        ),
        (
            ["train", "burgers-trajectory", "--model", "neural-ode", "--preset", "huge"],
            "unknown preset 'huge'",
        ),
        (
            ["train", "burgers-trajectory", "--model", "fno-ar", "--epochs", "0"],
            "--epochs expects a positive",
        ),
    ],
)
def test_bad_arguments_are_named(argv, expected, capsys):
    assert main(argv) == 2
    assert expected in capsys.readouterr().err


def test_presets_serialise_and_bad_configs_are_named():
    for model in neural_ode_run.MODELS:
        preset = get_trajectory_preset("burgers-trajectory", model, "quick")
        assert json.loads(json.dumps(preset.to_dict()))["model"] == model
    with pytest.raises(ValueError, match="frame_interval / 2 to be a whole number"):
        BurgersTrajectoryConfig(frame_interval=0.1, dt=0.03)
    with pytest.raises(ValueError, match="subsample to divide"):
        BurgersTrajectoryConfig(fine_resolution=100, subsample=8)


def test_trajectories_lose_energy_and_reach_twice_the_horizon(cache):
    data = tiny("neural-ode").data
    splits, from_cache = load_or_generate(
        "burgers-trajectory", data.to_dict(), lambda: generate_burgers_trajectories(data), cache
    )
    assert not from_cache
    outputs = splits["train"].outputs
    assert outputs.shape == (8, 8, 16) and splits["test"].outputs.shape == (4, 8, 16)
    np.testing.assert_allclose(data.snapshot_times[-1], 2 * data.horizon)
    # Viscous Burgers: d/dt ||u||^2 = -2 nu ||u_x||^2 < 0 along every trajectory.
    norms = np.sqrt(np.sum(np.concatenate([splits["train"].inputs, outputs], axis=1) ** 2, axis=-1))
    assert np.all(np.diff(norms, axis=1) < 0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One data cache for the module: the tiny data set is generated once."""
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("model", ["neural-ode", "fno-ar"])
def test_snapshots_hold_the_model_frames_and_halfway_values(model):
    preset = tiny(model)
    network = build_model(preset, key=jax.random.key(0))
    x = np.arange(16) / 16
    u0 = jnp.asarray(np.sin(2 * np.pi * x))[None].astype(jnp.float32)
    snapshots = np.asarray(eqx.filter_jit(predict_snapshots)(network, u0, preset.data))
    frames = np.asarray(eqx.filter_jit(network)(u0))
    assert snapshots.shape == (8, 16)
    # The whole frames to T are what the model was trained to output.
    np.testing.assert_allclose(snapshots[1:4:2], frames, rtol=1e-5, atol=1e-6)
    if model == "fno-ar":
        # No state between steps: half-way values interpolate the neighbouring frames.
        np.testing.assert_allclose(snapshots[0], 0.5 * (u0[0] + snapshots[1]), atol=1e-6)
        np.testing.assert_allclose(snapshots[2], 0.5 * (snapshots[1] + snapshots[3]), atol=1e-6)
    else:
        assert np.max(np.abs(snapshots[2] - 0.5 * (snapshots[1] + snapshots[3]))) > 1e-6


def test_tiny_run_writes_record_and_figures(tmp_path, monkeypatch, cache):
    # The neural ODE only: the autoregressive FNO shares this path but for build_model
    # and predict_snapshots, tested above.
    model = "neural-ode"
    monkeypatch.setattr(neural_ode_run, "get_trajectory_preset", lambda *a: tiny(model))
    out = tmp_path / "run"
    argv = ["train", "burgers-trajectory", "--model", model, "--out", str(out)]
    argv += ["--cache", str(cache), "--no-progress"]
    assert main(argv) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["model"] == model and record["epochs"] == 2 and record["parameters"] > 0
    assert len(record["relative_l2_per_snapshot"]) == 8 and record["resolution"] == [16]
    for key in ("relative_l2_frames_to_T", "relative_l2_frames_T_to_2T", "relative_l2_at_end"):
        assert 0 < record[key] < 100
    for figure in ("error.png", "trajectory.png"):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
    # A folder that holds a run is not overwritten.
    assert main(argv) == 2
