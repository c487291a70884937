"""The Burgers task: initial conditions as in the FNO paper, solutions from our solver."""

import dataclasses
import json

import numpy as np
import pytest

from sciml.data.burgers import BurgersConfig, generate_burgers
from sciml.solvers.burgers import cole_hopf_solution

SMALL = BurgersConfig(fine_resolution=256, subsample=4, n_train=5, n_test=3, dt=1 / 50)
FINE = dataclasses.replace(SMALL, subsample=1)


@pytest.fixture(scope="module")
def small_splits():
    return generate_burgers(SMALL, batch_size=4)


@pytest.fixture(scope="module")
def fine_splits():
    return generate_burgers(FINE, batch_size=4)


def test_shapes_dtypes_and_coordinates(small_splits):
    train, test = small_splits["train"], small_splits["test"]
    assert SMALL.resolution == 64 and SMALL.n_steps == 50
    assert train.inputs.shape == (5, 1, 64) and train.outputs.shape == (5, 1, 64)
    assert test.inputs.shape == (3, 1, 64) and test.outputs.shape == (3, 1, 64)
    assert train.inputs.dtype == np.float32 and train.outputs.dtype == np.float32
    np.testing.assert_array_equal(train.coords[0], np.arange(64) / 64)
    assert train.config == SMALL.to_dict() and train.config["kind"] == "BurgersConfig"
    assert json.loads(json.dumps(train.config)) == train.config
    # viscosity dissipates: every output is smoother and smaller than its input
    assert np.all(np.abs(train.outputs).max(axis=-1) < np.abs(train.inputs).max(axis=-1))


def test_samples_do_not_depend_on_generation_batch(small_splits):
    other = generate_burgers(SMALL, batch_size=3)
    for name in ("train", "test"):
        np.testing.assert_array_equal(other[name].inputs, small_splits[name].inputs)
        np.testing.assert_allclose(
            other[name].outputs, small_splits[name].outputs, rtol=0, atol=1e-6
        )


def test_subsampling_keeps_every_rth_point_of_the_fine_solve(small_splits, fine_splits):
    for name in ("train", "test"):
        np.testing.assert_array_equal(small_splits[name].inputs, fine_splits[name].inputs[..., ::4])
        np.testing.assert_allclose(
            small_splits[name].outputs, fine_splits[name].outputs[..., ::4], rtol=0, atol=1e-6
        )


def test_initial_law_and_conservation(fine_splits):
    u0 = fine_splits["train"].inputs[:, 0].astype(np.float64)
    u = fine_splits["train"].outputs[:, 0].astype(np.float64)
    # mean mode removed, and the mean is conserved by the solve
    np.testing.assert_allclose(u0.mean(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(u.mean(axis=-1), 0.0, atol=1e-6)
    # pointwise variance of N(0, 625 (-Laplacian + 25)^-2) without the mean mode
    k = np.arange(1, 4097)
    variance = 2 * np.sum(625.0 / (4 * np.pi**2 * k**2 + 25.0) ** 2)
    assert 0.1 * variance < u0.var() < 10 * variance


def test_outputs_match_the_exact_cole_hopf_solution(fine_splits):
    # Cole–Hopf in float64 from the stored (float32) u0: no time stepping at all. With
    # nu = 0.1 the solution decays ~60-fold by T = 1, so float32 round-off and the time
    # error of dt = 1/50 reach a few 1e-6 of ||u(T)||.
    for split in ("train", "test"):
        for u0, u in zip(fine_splits[split].inputs[:, 0], fine_splits[split].outputs[:, 0]):
            exact = np.asarray(cole_hopf_solution(u0.astype(np.float64), 1.0, nu=0.1))
            assert np.linalg.norm(u - exact) <= 5e-5 * np.linalg.norm(exact)


def test_other_seed_other_data(small_splits):
    other = generate_burgers(dataclasses.replace(SMALL, seed=1), batch_size=4)
    assert not np.array_equal(other["train"].inputs, small_splits["train"].inputs)


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="subsample to divide"):
        BurgersConfig(fine_resolution=8192, subsample=3)
    with pytest.raises(ValueError, match="n_train >= 1"):
        BurgersConfig(n_train=0)
    with pytest.raises(ValueError, match="whole number of steps"):
        BurgersConfig(dt=0.003)
    with pytest.raises(ValueError, match="nu > 0"):
        BurgersConfig(nu=0.0)
    with pytest.raises(ValueError, match="alpha > 1/2"):
        BurgersConfig(alpha=0.5)
    with pytest.raises(ValueError, match="fine_resolution >= 16"):
        BurgersConfig(fine_resolution=8, subsample=1)
    with pytest.raises(ValueError, match="batch_size"):
        generate_burgers(SMALL, batch_size=0)
