"""The spatiotemporal FNO: shapes, a continuous-time output with an exact derivative,
the untruncated output layer, and errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.models.sfno import SFNO


def _model(n_in=4, n_out=4, dtype=jnp.float64):
    return SFNO(
        n_in,
        n_out,
        (3, 3, 2),
        4,
        2,
        time_padding=2,
        projection_channels=4,
        key=jax.random.key(0),
        dtype=dtype,
    )


@eqx.filter_jit
def _trajectory(model, frames, tau, output=None):
    return model.trajectory(frames, tau, output=output)


def _frames(n_in=4, s=8, dtype=jnp.float64):
    return jax.random.normal(jax.random.key(1), (n_in, s, s), dtype)


def test_the_frames_are_the_trajectory_at_whole_frame_intervals_and_batches_vmap():
    model, frames = _model(), _frames()
    prediction = eqx.filter_jit(model)(frames)
    assert prediction.shape == (4, 8, 8)
    w, _ = _trajectory(model, frames, jnp.arange(1.0, 5.0))
    np.testing.assert_allclose(w, prediction, atol=1e-12)
    batch = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))(model, jnp.stack([frames, 2 * frames]))
    np.testing.assert_allclose(batch[0], prediction, atol=1e-12)
    # another output length: the same latent window mapped onto 7 frame intervals, and
    # a latent trajectory longer than the input window (shapes only: no compilation)
    assert eqx.filter_eval_shape(_model(n_out=7), frames).shape == (7, 8, 8)
    finer = SFNO(4, 7, (3, 3, 2), 4, 2, latent_steps=7, key=jax.random.key(0))
    assert eqx.filter_eval_shape(finer, frames).shape == (7, 8, 8)
    assert finer.padded_times == 16


def test_the_time_derivative_is_exact_central_differences_converge_to_it_at_order_two():
    model, frames = _model(), _frames()
    tau = jnp.array([1.3])
    _, exact = _trajectory(model, frames, tau)
    steps = np.array([0.1, 0.05, 0.025])
    errors = []
    for h in steps:
        ahead, _ = _trajectory(model, frames, tau + h)
        behind, _ = _trajectory(model, frames, tau - h)
        errors.append(float(jnp.max(jnp.abs((ahead - behind) / (2 * h) - exact))))
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.1)
    assert errors[-1] < 1e-3 * float(jnp.max(jnp.abs(exact)))


def test_the_untruncated_output_layer_computes_the_same_function_on_every_mode():
    model, frames = _model(), _frames()
    full = model.output.expanded(model.padded_times, (8, 8))
    assert full.modes == (model.padded_times // 2, 4, 5)
    tau = jnp.linspace(0.0, 4.0, 9)
    np.testing.assert_allclose(
        _trajectory(model, frames, tau, full)[0],
        _trajectory(model, frames, tau)[0],
        atol=1e-12,
    )
    # every mode of the untruncated layer acts: a change of its highest mode shows
    bumped = eqx.tree_at(lambda layer: layer.bias, full, full.bias.at[1, 1, 0, -1, 0, -1].set(1.0))
    moved = _trajectory(model, frames, tau, bumped)[0] - _trajectory(model, frames, tau)[0]
    assert float(jnp.max(jnp.abs(moved))) > 0.1


def test_float32_and_bad_input():
    model = _model(dtype=jnp.float32)
    assert eqx.filter_eval_shape(model, _frames(dtype=jnp.float32)).dtype == jnp.float32
    with pytest.raises(ValueError, match="SFNO expects input frames of shape \\(n_in=4, s, s\\)"):
        model(_frames(n_in=3))
    with pytest.raises(ValueError, match="modes \\(m_x, m_y, m_t\\)"):
        SFNO(4, 4, (3, 3), 4, key=jax.random.key(0))
    with pytest.raises(ValueError, match="padded time axis"):
        small = SFNO(2, 4, (3, 3, 2), 4, 1, output_modes=(4, 3, 3), key=jax.random.key(0))
        eqx.filter_eval_shape(small, _frames(2, dtype=jnp.float32))
