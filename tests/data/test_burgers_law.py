"""The two laws of the Burgers initial condition: the paper's text and the released GRF1.m."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tomllib

from sciml.data.burgers import (
    BurgersConfig,
    burgers_initial_condition,
    grf1_initial_condition,
)
from sciml.data.dataset import config_hash
from sciml.experiments.config import Experiment, get_experiment, typed_config
from sciml.fields import periodic_grf_spectrum

# The default config's dict before the law option existed, and its cache key.
BEFORE = {
    "kind": "BurgersConfig",
    "fine_resolution": 8192,
    "subsample": 8,
    "n_train": 1000,
    "n_test": 100,
    "nu": 0.1,
    "t_final": 1.0,
    "dt": 0.01,
    "alpha": 2.0,
    "tau": 5.0,
    "sigma": 25.0,
    "length": 1.0,
    "seed": 0,
}


def grf1_rfft_variance(n, gamma, tau, sigma):
    """E|rfft(u)[k]|^2 of GRF1(n/2, 0, gamma, tau, sigma, "periodic") on n points, from
    GRF1.m's definition: u = sum_k e_k (xi_k cos 2 pi k x + eta_k sin 2 pi k x) with
    e_k = sqrt(2) sigma ((2 pi k)^2 + tau^2)^(-gamma/2); each cos/sin pair puts
    (n/2)^2 (e_k^2 + e_k^2) on mode k, and the Nyquist cosine n^2 e^2."""
    k = np.arange(n // 2 + 1)
    e2 = 2 * sigma**2 * ((2 * np.pi * k) ** 2 + tau**2) ** (-gamma)
    variance = (n / 2) ** 2 * 2 * e2
    variance[0] = 0
    variance[-1] = n**2 * e2[-1]
    return variance


def test_grf1_samples_have_the_spectrum_grf1_defines():
    n, m = 64, 4000
    keys = jax.random.split(jax.random.key(3), m)
    samples = jax.vmap(lambda key: grf1_initial_condition(key, n))(keys)
    power = np.mean(np.abs(np.fft.rfft(np.asarray(samples, np.float64), axis=-1)) ** 2, 0)
    expected = grf1_rfft_variance(n, 2.5, 7.0, 49.0)
    assert power[0] < 1e-6 * expected[1]
    ratio = power[1:] / expected[1:]
    # each mode's mean of m exponentials (chi^2_1 at Nyquist): relative std 1.6% (2.2%)
    np.testing.assert_allclose(ratio, 1.0, rtol=0.1)
    assert abs(ratio[:-1].mean() - 1) < 0.01
    # the same law as periodic_grf's below Nyquist, twice its variance at Nyquist
    fft_spectrum = np.asarray(periodic_grf_spectrum((n,), alpha=2.5, tau=7.0, sigma=49.0))
    np.testing.assert_allclose(expected[1:-1], fft_spectrum[1 : n // 2], rtol=1e-5)
    np.testing.assert_allclose(expected[-1], 2 * fft_spectrum[n // 2], rtol=1e-5)
    # the pointwise variance of GRF1's law: sum over the n/2 cosine-sine pairs
    np.testing.assert_allclose(
        np.var(np.asarray(samples)), expected.sum() * 2 / n**2 - expected[-1] / n**2, rtol=0.03
    )


def test_the_grf1_law_draws_with_grf1_and_its_parameters():
    config = BurgersConfig(fine_resolution=32, subsample=1, law="grf1")
    assert config.law_parameters == (2.5, 7.0, 49.0)
    key = jax.random.key(5)
    np.testing.assert_array_equal(
        burgers_initial_condition(key, config), grf1_initial_condition(key, 32)
    )
    # set parameters override the law's
    assert BurgersConfig(law="grf1", sigma=25.0).law_parameters == (2.5, 7.0, 25.0)
    assert BurgersConfig(alpha=3.0).law_parameters == (3.0, 5.0, 25.0)
    u0 = burgers_initial_condition(key, config)
    assert u0.dtype == jnp.float32 and abs(float(u0.mean())) < 1e-6


def test_the_default_config_serialises_as_before_and_grf1_hashes_apart():
    assert BurgersConfig().to_dict() == BEFORE
    assert config_hash(BurgersConfig().to_dict()) == "88ac3083ec60a2f3"
    assert BurgersConfig(alpha=2.0, tau=5.0, sigma=25.0) == BurgersConfig()
    grf1 = BurgersConfig(law="grf1").to_dict()
    assert grf1 == {**BEFORE, "alpha": 2.5, "tau": 7.0, "sigma": 49.0, "law": "grf1"}
    assert typed_config(BurgersConfig, grf1, "data") == BurgersConfig(law="grf1")
    assert typed_config(BurgersConfig, BEFORE, "data") == BurgersConfig()
    with pytest.raises(ValueError, match="law to be one of 'paper', 'grf1'"):
        BurgersConfig(law="grf")


def test_the_paper_grf1_preset_is_the_paper_preset_with_the_grf1_law():
    for model in ("fno", "deeponet"):
        paper = get_experiment("burgers", model, "paper")
        other = get_experiment("burgers", model, "paper-grf1")
        assert paper.data.law == "paper" and other.data.law == "grf1"
        assert other.data == dataclasses.replace(
            paper.data, law="grf1", alpha=None, tau=None, sigma=None
        )
        assert other.train == paper.train and other.model_config == paper.model_config
        assert Experiment.from_dict(tomllib.loads(other.to_toml())) == other
