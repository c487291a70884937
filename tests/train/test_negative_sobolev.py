"""The H^-s norm by Parseval against an elliptic solve, and the hminus1 loss in fit."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sparse
import scipy.sparse.linalg as splinalg

from sciml.train import TrainConfig, fit
from sciml.train.losses import get_loss, loss_names, negative_sobolev_norm, relative_hminus


def _field(n):
    x = np.arange(n) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    # smooth, periodic, not a single Fourier mode: exp of trigonometric functions
    return np.exp(np.sin(2 * np.pi * X) + 0.5 * np.cos(2 * np.pi * (X + 2 * Y))) - 1.0


def _elliptic_norm_squared(f, n):
    """<f, phi> with (I - Laplacian_h) phi = f, Laplacian_h the periodic five-point
    finite-difference Laplacian on [0, 1)^2: second order in h = 1 / n."""
    h = 1.0 / n
    one = sparse.diags([1.0, 1.0, -2.0, 1.0, 1.0], [-(n - 1), -1, 0, 1, n - 1], shape=(n, n)) / h**2
    identity = sparse.identity(n)
    laplacian = sparse.kron(one, identity) + sparse.kron(identity, one)
    phi = splinalg.spsolve((sparse.identity(n * n) - laplacian).tocsc(), f.ravel())
    return h**2 * float(f.ravel() @ phi)


def test_hminus1_norm_is_the_elliptic_norm_and_the_difference_converges_at_second_order():
    spectral = float(negative_sobolev_norm(jnp.asarray(_field(64))[None], s=1.0)) ** 2
    sizes = np.array([16, 32, 64])
    errors = np.array([abs(_elliptic_norm_squared(_field(n), n) - spectral) for n in sizes])
    slope = np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert errors[-1] < 1e-3 * spectral
    assert slope == pytest.approx(-2.0, abs=0.15)
    # the spectral value itself is exact already on the coarse grid (a smooth field)
    coarse = float(negative_sobolev_norm(jnp.asarray(_field(32))[None], s=1.0)) ** 2
    assert coarse == pytest.approx(spectral, rel=1e-10)


def test_orders_zero_and_two_of_a_known_mode():
    n, k = 32, (1, 2)
    x = np.arange(n) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    mode = jnp.asarray(np.sin(2 * np.pi * (k[0] * X + k[1] * Y)))[None]
    k2 = (2 * np.pi) ** 2 * (k[0] ** 2 + k[1] ** 2)
    assert float(negative_sobolev_norm(mode, s=0.0)) ** 2 == pytest.approx(0.5, rel=1e-12)
    assert float(negative_sobolev_norm(mode, s=2.0)) ** 2 == pytest.approx(0.5 / (1 + k2) ** 2)
    # a side L scales the wavenumbers by 1 / L and the volume by L^2
    expected = 4.0 * 0.5 / (1 + k2 / 4) ** 2
    assert float(negative_sobolev_norm(mode, s=2.0, length=2.0)) ** 2 == pytest.approx(expected)


def test_relative_hminus_and_bad_input():
    target = jnp.asarray(_field(16))[None]
    assert float(relative_hminus(target, target)) == 0.0
    assert float(relative_hminus(2 * target, target)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="order s >= 0"):
        negative_sobolev_norm(target, s=-1.0)
    with pytest.raises(ValueError, match="one sample \\(C, \\*grid\\)"):
        negative_sobolev_norm(jnp.ones(4))
    with pytest.raises(ValueError, match="unknown loss 'hminus7'; expected one of l2, h1"):
        get_loss("hminus7")


def test_hminus1_is_a_loss_fit_and_the_config_know_by_name():
    assert "hminus1" in loss_names()
    assert TrainConfig(loss="hminus1").loss == "hminus1"
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(8, 1, 8, 8)).astype(np.float32)
    outputs = 2 * inputs

    import equinox as eqx

    class Scale(eqx.Module):
        a: jnp.ndarray

        def __call__(self, x):
            return self.a * x

    config = TrainConfig(epochs=30, batch_size=4, learning_rate=0.1, weight_decay=0.0)
    model, history = fit(Scale(jnp.asarray(0.5)), (inputs, outputs), config=config, loss="hminus1")
    assert float(model.a) == pytest.approx(2.0, abs=0.05)
    assert history["train_loss"][-1] < 0.05 * history["train_loss"][0]
