"""The Darcy task: coefficients as in the FNO paper, solutions from our solver, cached."""

import dataclasses

import jax
import numpy as np
import pytest
import tomllib

from sciml.data.cache import cache_path, load_or_generate
from sciml.data.darcy import DarcyConfig, darcy_coefficient, generate_darcy
from sciml.experiments import get_experiment
from sciml.experiments.config import Experiment, typed_config
from sciml.solvers.darcy import darcy_residual, solve_darcy_fno_matlab

SMALL = DarcyConfig(fine_resolution=33, subsample=4, n_train=5, n_test=3, rtol=1e-5)


@pytest.fixture(scope="module")
def small_splits():
    return generate_darcy(SMALL, batch_size=4)


def test_shapes_values_and_subsampling(small_splits):
    train, test = small_splits["train"], small_splits["test"]
    assert SMALL.resolution == 9
    assert train.inputs.shape == (5, 1, 9, 9) and test.outputs.shape == (3, 1, 9, 9)
    assert train.inputs.dtype == np.float32
    assert set(np.unique(train.inputs)) <= {4.0, 12.0}
    # both values occur: the threshold of a zero-mean field splits the square
    assert len(np.unique(train.inputs)) == 2
    np.testing.assert_array_equal(train.outputs[:, :, 0, :], 0.0)
    np.testing.assert_array_equal(train.outputs[:, :, :, -1], 0.0)
    assert np.all(train.outputs[:, :, 1:-1, 1:-1] > 0)  # f = 1 > 0: maximum principle
    np.testing.assert_allclose(train.coords[0], np.linspace(0, 1, 9))


def test_samples_do_not_depend_on_generation_batch(small_splits):
    other = generate_darcy(SMALL, batch_size=3)
    for name in ("train", "test"):
        np.testing.assert_array_equal(other[name].inputs, small_splits[name].inputs)
        np.testing.assert_allclose(other[name].outputs, small_splits[name].outputs, rtol=1e-6)


def test_outputs_solve_the_fine_problem():
    # with subsample 1 the stored pair must satisfy the discrete equation itself
    config = dataclasses.replace(SMALL, subsample=1, n_train=2, n_test=1)
    splits = generate_darcy(config, batch_size=3)
    a, u = splits["train"].inputs[:, 0], splits["train"].outputs[:, 0]
    for a_i, u_i in zip(a, u):
        residual = np.asarray(darcy_residual(a_i, 1.0, u_i))
        # relative to ||f|| = 31 on the interior; float32 round-off in A u is ~1e-5
        assert np.linalg.norm(residual) <= 1e-3 * np.sqrt((33 - 2) ** 2)


def test_other_seed_other_data(small_splits):
    other = generate_darcy(dataclasses.replace(SMALL, seed=1), batch_size=4)
    assert not np.array_equal(other["train"].inputs, small_splits["train"].inputs)


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="subsample to divide"):
        DarcyConfig(fine_resolution=421, subsample=8)
    with pytest.raises(ValueError, match="n_train >= 1"):
        DarcyConfig(n_train=0)


def test_cache_round_trip_with_the_real_generator(tmp_path, small_splits):
    config = SMALL.to_dict()
    first, cached = load_or_generate("darcy", config, lambda: small_splits, tmp_path)
    again, cached_again = load_or_generate(
        "darcy", config, lambda: pytest.fail("must come from the cache"), tmp_path
    )
    assert not cached and cached_again
    np.testing.assert_array_equal(again["test"].outputs, small_splits["test"].outputs)


# ------------------------------------------------------------- the fno-matlab convention


def test_an_unknown_convention_is_refused_naming_the_allowed_ones():
    with pytest.raises(ValueError, match="one of 'nodal', 'fno-matlab'; got 'matlab'"):
        DarcyConfig(convention="matlab")
    with pytest.raises(ValueError, match="fine_resolution >= 4 with convention 'fno-matlab'"):
        DarcyConfig(fine_resolution=3, subsample=1, convention="fno-matlab")


def test_fno_matlab_data_are_the_thresholded_field_and_the_centred_solution():
    config = DarcyConfig(
        fine_resolution=17, subsample=2, n_train=2, n_test=1, convention="fno-matlab"
    )
    splits = generate_darcy(config, batch_size=3)
    fine = dataclasses.replace(config, subsample=1)
    centres = (2 * np.arange(9) + 0.5) / 17
    for name, first in (("train", 0), ("test", 2)):
        split = splits[name]
        np.testing.assert_allclose(split.coords[0], centres)
        np.testing.assert_allclose(split.coords[1], centres)
        key = jax.random.fold_in(jax.random.key(config.seed), first)
        a = darcy_coefficient(key, fine)
        np.testing.assert_array_equal(split.inputs[0, 0], np.asarray(a)[::2, ::2])
        u = np.asarray(solve_darcy_fno_matlab(a, 1.0, rtol=config.rtol))[::2, ::2]
        np.testing.assert_allclose(split.outputs[0, 0], u, rtol=0, atol=1e-6 * np.abs(u).max())
        assert np.all(split.outputs[0, 0, 0, :] != 0)  # the outermost centres are inside
    assert set(np.unique(splits["train"].inputs)) <= {4.0, 12.0}


def test_the_cache_key_holds_the_convention_and_the_paper_preset_selects_fno_matlab():
    nodal = SMALL.to_dict()
    assert "convention" not in nodal  # as before the option: old nodal caches stay valid
    matlab = dataclasses.replace(SMALL, convention="fno-matlab").to_dict()
    assert matlab == {**nodal, "convention": "fno-matlab"}
    assert cache_path("darcy", nodal) != cache_path("darcy", matlab)
    assert typed_config(DarcyConfig, matlab, "data").convention == "fno-matlab"
    assert typed_config(DarcyConfig, nodal, "data") == SMALL

    for model in ("fno", "deeponet"):
        assert get_experiment("darcy", model, "paper").data.convention == "fno-matlab"
        assert get_experiment("darcy", model, "quick").data.convention == "nodal"
    paper = get_experiment("darcy", "fno", "paper")
    assert Experiment.from_dict(tomllib.loads(paper.to_toml())) == paper
