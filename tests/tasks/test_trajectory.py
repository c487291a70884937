"""The burgers-trajectory task: its data, and how a model is judged between and past its
training frames."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.data.cache import load_or_generate
from sciml.data.trajectories import BurgersTrajectoryConfig, generate_burgers_trajectories
from sciml.experiments import get_experiment
from sciml.experiments.run import build_for
from sciml.tasks.trajectory import frames_to_horizon, predict_snapshots


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="frame_interval / 2 to be a whole number"):
        BurgersTrajectoryConfig(frame_interval=0.1, dt=0.03)
    with pytest.raises(ValueError, match="subsample to divide"):
        BurgersTrajectoryConfig(fine_resolution=100, subsample=8)


def test_trajectories_lose_energy_and_reach_twice_the_horizon(tmp_path, tiny):
    experiment = get_experiment(
        "burgers-trajectory", "fno-ar", "quick", tiny("burgers-trajectory", "fno-ar")
    )
    data = experiment.data
    splits, from_cache = load_or_generate(
        "burgers-trajectory", data.to_dict(), lambda: generate_burgers_trajectories(data), tmp_path
    )
    assert not from_cache
    outputs = splits["train"].outputs
    assert outputs.shape == (8, 8, 16) and splits["test"].outputs.shape == (4, 8, 16)
    np.testing.assert_allclose(data.snapshot_times[-1], 2 * data.horizon)
    # Viscous Burgers: d/dt ||u||^2 = -2 nu ||u_x||^2 < 0 along every trajectory.
    norms = np.sqrt(np.sum(np.concatenate([splits["train"].inputs, outputs], axis=1) ** 2, axis=-1))
    assert np.all(np.diff(norms, axis=1) < 0)
    # the training targets are the whole frames Delta, ..., T: every other snapshot to T
    _, targets = frames_to_horizon(experiment, splits["train"])
    np.testing.assert_array_equal(targets, outputs[:, [1, 3]])


@pytest.mark.parametrize("model", ["neural-ode", "fno-ar"])
def test_snapshots_hold_the_model_frames_and_halfway_values(model, tiny):
    overrides = [*tiny("burgers-trajectory", model), "model.n_layers=1"]
    experiment = get_experiment("burgers-trajectory", model, "quick", overrides)
    arrays = (np.zeros((2, 1, 16), np.float32), np.zeros((2, 2, 16), np.float32))
    network, _, _ = build_for(experiment, arrays, key=jax.random.key(0))
    x = np.arange(16) / 16
    u0 = jnp.asarray(np.sin(2 * np.pi * x))[None].astype(jnp.float32)
    snapshots = np.asarray(eqx.filter_jit(predict_snapshots)(network, u0, experiment.data))
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
