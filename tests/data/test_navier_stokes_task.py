"""The Navier–Stokes task: FNO-paper initial conditions and forcing, frames from our solver."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.data.navier_stokes import (
    PAPER_CASES,
    NavierStokesConfig,
    generate_navier_stokes,
    generation_rate,
    paper_config,
)
from sciml.fields import periodic_grf
from sciml.solvers.navier_stokes import fno_forcing, solve_navier_stokes

SMALL = NavierStokesConfig(solve_resolution=32, resolution=16, t_final=2, n_train=3, n_test=2)


@pytest.fixture(scope="module")
def small_splits():
    return generate_navier_stokes(SMALL, batch_size=4)


def test_shapes_dtypes_and_coordinates(small_splits):
    train, test = small_splits["train"], small_splits["test"]
    assert train.inputs.shape == (3, 1, 16, 16) and train.outputs.shape == (3, 2, 16, 16)
    assert test.inputs.shape == (2, 1, 16, 16) and test.outputs.shape == (2, 2, 16, 16)
    assert train.inputs.dtype == np.float32 and train.outputs.dtype == np.float32
    np.testing.assert_allclose(train.coords[0], np.arange(16) / 16)
    np.testing.assert_allclose(train.coords[1], np.arange(16) / 16)
    assert train.config == SMALL.to_dict() and json.loads(json.dumps(train.config))
    # O(1) initial vorticity (the FNO scaling); the frames moved away from it
    assert 0.05 < float(train.inputs.std()) < 1.0
    assert np.min(np.abs(train.outputs[:, 0] - train.inputs[:, 0]).max(axis=(1, 2))) > 1e-3


def test_samples_do_not_depend_on_generation_batch(small_splits):
    other = generate_navier_stokes(SMALL, batch_size=2)
    for name in ("train", "test"):
        np.testing.assert_array_equal(other[name].inputs, small_splits[name].inputs)
        np.testing.assert_allclose(other[name].outputs, small_splits[name].outputs, atol=1e-6)


def test_frames_match_an_independent_rollout(small_splits):
    """Sample 1 redrawn from its key, solved by `solve_navier_stokes` and subsampled."""
    key = jax.random.fold_in(jax.random.key(SMALL.seed), 1)
    w0 = periodic_grf(key, 1, (32, 32), alpha=2.5, tau=7.0)[0].astype(jnp.float64)
    frames = solve_navier_stokes(
        w0, nu=SMALL.nu, t_final=2, forcing=fno_forcing(32, jnp.float64), speed=1.0
    )
    np.testing.assert_allclose(small_splits["train"].inputs[1, 0], w0[::2, ::2], atol=1e-6)
    np.testing.assert_allclose(small_splits["train"].outputs[1], frames[:, ::2, ::2], atol=1e-5)
    # the paper scheme (dt = 1e-4, first order) agrees to its own accuracy
    paper = solve_navier_stokes(
        w0,
        nu=SMALL.nu,
        t_final=2,
        forcing=fno_forcing(32, jnp.float64),
        scheme="paper",
        dt=1e-3,
    )
    scale = np.max(np.abs(np.asarray(frames)))
    np.testing.assert_allclose(paper, frames, atol=1e-3 * scale)


def test_validation_errors():
    with pytest.raises(ValueError, match="divide solve_resolution"):
        NavierStokesConfig(solve_resolution=64, resolution=48)
    with pytest.raises(ValueError, match="even solve_resolution"):
        NavierStokesConfig(solve_resolution=33, resolution=11)
    with pytest.raises(ValueError, match="scheme"):
        NavierStokesConfig(scheme="rk4")
    with pytest.raises(ValueError, match="integer t_final >= 1"):
        NavierStokesConfig(t_final=2.5)
    with pytest.raises(ValueError, match="dt > 0"):
        NavierStokesConfig(dt=0.0)
    with pytest.raises(ValueError, match="nu >= 0"):
        NavierStokesConfig(nu=-1e-3)
    with pytest.raises(ValueError, match="n_test"):
        NavierStokesConfig(n_test=0)
    with pytest.raises(ValueError, match="nu in"):
        paper_config(2e-3)
    with pytest.raises(ValueError, match="batch_size"):
        generate_navier_stokes(SMALL, batch_size=0)


def test_paper_cases_and_defaults():
    assert PAPER_CASES == {1e-3: 50, 1e-4: 30, 1e-5: 20}
    config = paper_config(1e-4, n_train=10000)
    assert (config.nu, config.t_final, config.n_train, config.n_test) == (1e-4, 30, 10000, 200)
    default = NavierStokesConfig()
    assert (default.solve_resolution, default.resolution, default.subsample) == (256, 64, 4)
    assert (default.alpha, default.tau, default.nu, default.t_final) == (2.5, 7.0, 1e-3, 50)
    assert dataclasses.replace(default, scheme="paper").to_dict()["scheme"] == "paper"


def test_generation_rate_reports_the_step():
    rate = generation_rate(SMALL, batch_size=2, horizon=1)
    assert rate["samples_per_s"] > 0 and rate["horizon"] == 1
    assert rate["steps_per_unit_time"] * rate["dt"] == pytest.approx(1.0)
    assert rate["dt"] <= SMALL.cfl / (SMALL.solve_resolution * SMALL.speed_bound)
