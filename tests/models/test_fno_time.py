"""FNO in time: the recurrent FNO-2D against an explicit window-sliding loop, the
space-time FNO-3D against its network on repeated frames, and the published size."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.models import FNO, RecurrentFNO, SpaceTimeFNO, count_parameters, fno_param_count


def test_recurrent_fno_equals_an_explicit_sliding_window_loop():
    model = RecurrentFNO(3, 4, (3, 3), 6, 2, projection_channels=8, key=jax.random.key(0))
    frames = jax.random.normal(jax.random.key(1), (3, 8, 8), dtype=jnp.float32)
    predicted = np.asarray(eqx.filter_jit(model)(frames))
    assert predicted.shape == (4, 8, 8)

    window = frames
    expected = []
    for _ in range(4):
        new = model.step(window)
        expected.append(np.asarray(new[0]))
        window = jnp.concatenate([window[1:], new])
    np.testing.assert_allclose(predicted, np.stack(expected), rtol=1e-5, atol=1e-6)


def test_recurrent_fno_feeds_its_predictions_back():
    # frame k + 1 depends on the input only through the earlier predictions once the
    # window has slid past the input: with one input frame, the second prediction is the
    # step applied to the first prediction.
    model = RecurrentFNO(1, 2, (3, 3), 6, 2, projection_channels=8, key=jax.random.key(0))
    frames = jax.random.normal(jax.random.key(1), (1, 8, 8))
    first, second = model(frames)
    np.testing.assert_allclose(
        np.asarray(second), np.asarray(model.step(first[None])[0]), rtol=1e-10, atol=1e-12
    )


def test_recurrent_fno_batches_by_vmap_and_trains_every_parameter():
    model = RecurrentFNO(2, 3, (3, 3), 4, 2, projection_channels=8, key=jax.random.key(0))
    frames = jax.random.normal(jax.random.key(1), (5, 2, 8, 8))
    batched = np.asarray(eqx.filter_jit(lambda m, f: jax.vmap(m)(f))(model, frames))
    np.testing.assert_allclose(batched[3], np.asarray(model(frames[3])), rtol=1e-10, atol=1e-12)
    grads = eqx.filter_grad(lambda m: jnp.sum(jax.vmap(m)(frames) ** 2))(model)
    for leaf in jax.tree.leaves(eqx.filter(grads, eqx.is_inexact_array)):
        assert bool(jnp.any(leaf != 0))


def test_space_time_fno_is_its_network_on_repeated_frames():
    model = SpaceTimeFNO(2, 5, (3, 3, 2), 6, 2, projection_channels=8, key=jax.random.key(0))
    frames = jax.random.normal(jax.random.key(1), (2, 8, 8))
    predicted = np.asarray(eqx.filter_jit(model)(frames))
    assert predicted.shape == (5, 8, 8)
    repeated = jnp.stack([frames] * 5, axis=-1)  # (2, 8, 8, 5)
    direct = np.asarray(model.network(repeated))[0]  # (8, 8, 5)
    np.testing.assert_allclose(predicted, np.moveaxis(direct, -1, 0), rtol=1e-10, atol=1e-12)
    assert model.network.padding == (0, 0, 6)


def test_paper_fno3d_has_the_published_size_less_the_unused_batch_norms():
    # Li et al. report 6,558,537 parameters for the Navier-Stokes FNO-3D (10 frames and
    # 3 coordinates in, width 20, modes 8, 4 layers); their module also holds four
    # BatchNorm3d(20) layers it never applies, 4 x 2 x 20 = 160 parameters.
    model = SpaceTimeFNO(10, 40, (8, 8, 8), 20, key=jax.random.key(0))
    assert count_parameters(model) == 6_558_537 - 160
    assert count_parameters(model) == fno_param_count(10, 1, (8, 8, 8), 20)


def test_recurrent_fno_size_is_its_step_network():
    model = RecurrentFNO(10, 40, (12, 12), 20, key=jax.random.key(0))
    step = FNO(10, 1, (12, 12), 20, key=jax.random.key(0))
    assert count_parameters(model) == count_parameters(step)


@pytest.mark.parametrize(
    "model, shape, message",
    [
        ("recurrent", (2, 8, 8), r"in_channels=3"),
        ("recurrent", (4, 3, 8, 8), r"a batch goes through jax.vmap"),
        ("spacetime", (2, 8, 8), r"n_in=3, \*grid\) with 2 spatial axes, got shape \(2, 8, 8\)"),
        ("spacetime", (4, 3, 8, 8), r"a batch goes through jax.vmap"),
    ],
)
def test_bad_input_is_named(model, shape, message):
    if model == "recurrent":
        net = RecurrentFNO(3, 2, (3, 3), 4, 1, key=jax.random.key(0))
    else:
        net = SpaceTimeFNO(3, 6, (3, 3, 2), 4, 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match=message):
        net(jnp.zeros(shape))


def test_bad_frame_counts_are_refused():
    with pytest.raises(ValueError, match="RecurrentFNO expects n_in to be a positive integer"):
        RecurrentFNO(0, 2, (3, 3), 4, key=jax.random.key(0))
    with pytest.raises(ValueError, match="SpaceTimeFNO expects n_out to be a positive integer"):
        SpaceTimeFNO(2, 0, (3, 3, 2), 4, key=jax.random.key(0))


@pytest.mark.parametrize("value", [0, -3, 2.5, True])
@pytest.mark.parametrize("name", ["n_in", "n_out", "width", "n_layers", "projection_channels"])
@pytest.mark.parametrize("model", [RecurrentFNO, SpaceTimeFNO])
def test_sizes_must_be_positive_integers_and_are_named_by_the_model(model, name, value):
    sizes = dict(n_in=2, n_out=2, width=4, n_layers=1, projection_channels=4)
    sizes[name] = value
    modes = (3, 3) if model is RecurrentFNO else (3, 3, 2)
    expected = (
        f"{model.__name__} expects {name} to be a positive integer, got {re.escape(repr(value))}"
    )
    with pytest.raises(ValueError, match=expected):
        model(modes=modes, **sizes, key=jax.random.key(0))


@pytest.mark.parametrize("value", [-1, 2.5, True])
def test_time_padding_must_be_a_non_negative_integer(value):
    expected = f"SpaceTimeFNO expects time_padding to be a non-negative integer, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        SpaceTimeFNO(2, 2, (3, 3, 2), 4, time_padding=value, key=jax.random.key(0))
