"""MgNO: shapes on odd grids, the parameter formula, linearity of the V-cycle, periodic
shift equivariance, the prolongation against its definition, and construction errors."""

import itertools
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.models import MgNO, count_parameters, mgno_param_count
from sciml.models.conv import ConvTranspose
from sciml.models.mgno import PAPER_SMOOTHING, MgNOLayer, level_shapes

KEY = jax.random.key(0)

# One compiled program per model structure and input shape: far faster than running
# the many small convolutions op by op.
apply = eqx.filter_jit(lambda model, *args: model(*args))


def _random(shape, seed=1, dtype=jnp.float64):
    return jax.random.normal(jax.random.key(seed), shape, dtype)


@pytest.mark.parametrize(
    "grid, smoothing",
    [
        ((43, 43), ((1, 0),) * 5 + ((2, 0),)),  # 43 22 11 6 3 2
        ((85, 43), ((1, 1),) * 3),
        ((421,), ((1, 0),) * 7 + ((2, 1),)),
        ((64,), ((2, 1),) * 4),
    ],
)
def test_output_shape_on_odd_and_even_grids(grid, smoothing):
    model = MgNO(2, 3, grid, channels=3, n_layers=1, smoothing=smoothing, key=KEY)
    out = apply(model, _random((2, *grid), dtype=jnp.float32))
    assert out.shape == (3, *grid) and out.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(out)))


def test_one_model_runs_at_several_resolutions_and_batches_through_vmap():
    model = MgNO(1, 1, (43, 43), channels=4, n_layers=1, smoothing=((1, 0),) * 4, key=KEY)
    for grid in [(43, 43), (85, 85), (64, 48)]:
        assert apply(model, _random((1, *grid), dtype=jnp.float32)).shape == (1, *grid)
    batch = _random((3, 1, 43, 43), dtype=jnp.float32)
    out = jax.vmap(model)(batch)
    np.testing.assert_allclose(out[1], apply(model, batch[1]), rtol=1e-5, atol=1e-6)


def test_paper_darcy_configuration_parameter_count():
    # 4 layers, 24 channels, 1 input channel, [[1,0]] x 5 + [[2,0]], zero padding:
    # 572,661 parameters; the paper reports 0.57 M.
    model = MgNO(1, 1, (85, 85), channels=24, n_layers=4, smoothing=PAPER_SMOOTHING, key=KEY)
    assert count_parameters(model) == mgno_param_count(1, 1, 24, 4, PAPER_SMOOTHING) == 572_661


@pytest.mark.parametrize(
    "c_in, c_out, channels, layers, smoothing, dims, kernel",
    [
        (1, 1, 8, 2, ((1, 0), (1, 0), (2, 0)), 2, 4),
        (3, 2, 5, 3, ((2, 1), (1, 2)), 2, 3),
        (2, 1, 6, 1, ((1, 1),) * 4, 1, 4),
        (1, 4, 7, 2, ((3, 0),), 1, 2),
    ],
)
def test_parameter_count_matches_formula(c_in, c_out, channels, layers, smoothing, dims, kernel):
    grid = (32,) * dims
    model = MgNO(
        c_in,
        c_out,
        grid,
        channels=channels,
        n_layers=layers,
        smoothing=smoothing,
        prolongation_kernel=kernel,
        key=KEY,
    )
    expected = mgno_param_count(c_in, c_out, channels, layers, smoothing, dims, kernel)
    assert count_parameters(model) == expected


def test_v_cycle_is_linear_and_a_linear_layer_obeys_superposition():
    layer = MgNOLayer(
        3,
        4,
        2,
        ((1, 1), (2, 0), (1, 1)),
        padding="zeros",
        prolongation_kernel=4,
        activation=lambda x: x,
        key=KEY,
        dtype=jnp.float64,
    )
    x, y = _random((3, 21, 18), 1), _random((3, 21, 18), 2)
    alpha, beta = 0.7, -1.9
    cycle = layer.cycle
    np.testing.assert_allclose(
        apply(cycle, alpha * x + beta * y),
        alpha * apply(cycle, x) + beta * apply(cycle, y),
        rtol=1e-12,
        atol=1e-12,
    )
    # The layer adds the bias function B, so it is affine: L(x) - L(0) is linear.
    zero = apply(layer, jnp.zeros_like(x))
    combined = apply(layer, alpha * x + beta * y) - zero
    expected = alpha * (apply(layer, x) - zero) + beta * (apply(layer, y) - zero)
    np.testing.assert_allclose(combined, expected, rtol=1e-12, atol=1e-12)
    assert float(jnp.max(jnp.abs(zero))) > 1e-3  # the bias is there
    # ... and a GELU layer is not linear, so the check can fail.
    gelu = MgNOLayer(
        3,
        4,
        2,
        ((1, 1), (2, 0), (1, 1)),
        padding="zeros",
        prolongation_kernel=4,
        activation=jax.nn.gelu,
        key=KEY,
        dtype=jnp.float64,
    )
    gap = apply(gelu, alpha * x + beta * y) - apply(gelu, jnp.zeros_like(x))
    gap -= alpha * (apply(gelu, x) - apply(gelu, jnp.zeros_like(x))) + beta * (
        apply(gelu, y) - apply(gelu, jnp.zeros_like(x))
    )
    assert float(jnp.max(jnp.abs(gap))) > 1e-2


@pytest.mark.parametrize("dims", [1, 2])
def test_circular_padding_commutes_with_shifts_by_the_coarsest_spacing(dims):
    levels = 3
    grid = (32,) * dims if dims == 1 else (16, 24)
    smoothing = ((1, 1),) * levels
    model = MgNO(
        2, 1, grid, channels=3, n_layers=2, smoothing=smoothing, padding="circular",
        key=KEY, dtype=jnp.float64,
    )  # fmt: skip
    a = _random((2, *grid))
    axes = tuple(range(1, dims + 1))
    step = 2 ** (levels - 1)
    for multiple in (1, 3):
        shift = (multiple * step,) + (-step,) * (dims - 1)
        shifted = apply(model, jnp.roll(a, shift, axes))
        np.testing.assert_allclose(shifted, jnp.roll(apply(model, a), shift, axes), atol=1e-12)
    # A shift by one fine node is not a shift on the coarse grids: no equivariance.
    one = (1,) * dims
    gap = apply(model, jnp.roll(a, one, axes)) - jnp.roll(apply(model, a), one, axes)
    assert float(jnp.max(jnp.abs(gap))) > 1e-4
    # Zero padding (a Dirichlet wall) breaks the symmetry even for the coarse shift.
    walled = MgNO(
        2, 1, grid, channels=3, n_layers=2, smoothing=smoothing, padding="zeros",
        key=KEY, dtype=jnp.float64,
    )  # fmt: skip
    shift = (step,) * dims
    gap = apply(walled, jnp.roll(a, shift, axes)) - jnp.roll(apply(walled, a), shift, axes)
    assert float(jnp.max(jnp.abs(gap))) > 1e-4


def _transpose_by_definition(layer: ConvTranspose, x: np.ndarray, fine) -> np.ndarray:
    """Place coarse node j on fine node 2 j, zeros between; output node i sums
    w[t] placed[i - k // 2 + t] (wrapping around if circular, else zero outside)."""
    w = np.asarray(layer.weight)
    k = w.shape[2:]
    placed_shape = tuple(2 * m for m in x.shape[1:])
    placed = np.zeros((x.shape[0], *placed_shape))
    placed[(slice(None), *(slice(None, None, 2),) * len(k))] = x
    out = np.zeros((w.shape[0], *fine))
    for node in itertools.product(*(range(n) for n in fine)):
        for tap in itertools.product(*(range(n) for n in k)):
            q = [i - kk // 2 + t for i, kk, t in zip(node, k, tap)]
            if layer.padding == "circular":
                q = [qq % p for qq, p in zip(q, placed_shape)]
            elif any(qq < 0 or qq >= p for qq, p in zip(q, placed_shape)):
                continue
            out[(slice(None), *node)] += (
                w[(slice(None), slice(None), *tap)] @ placed[(slice(None), *q)]
            )
    return out


@pytest.mark.parametrize("kernel", [2, 3, 4])
@pytest.mark.parametrize(
    "fine, padding",
    [
        ((9,), "zeros"),
        ((10,), "zeros"),
        ((8,), "circular"),
        ((7, 10), "zeros"),
        ((8, 6), "circular"),
    ],
)
def test_sub_pixel_prolongation_equals_the_transposed_convolution(kernel, fine, padding):
    layer = ConvTranspose(3, 2, kernel, len(fine), padding=padding, key=KEY, dtype=jnp.float64)
    coarse = tuple((n + 1) // 2 for n in fine)
    x = np.asarray(_random((3, *coarse)))
    np.testing.assert_allclose(
        apply(layer, jnp.asarray(x), fine), _transpose_by_definition(layer, x, fine), atol=1e-13
    )


def test_level_shapes_of_odd_grids():
    assert level_shapes((421, 85), 6, "zeros") == (
        (421, 85), (211, 43), (106, 22), (53, 11), (27, 6), (14, 3),
    )  # fmt: skip


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(grid=(43, 43), smoothing=((1, 0),) * 7), "too deep for grid \\(43, 43\\).*at most 6"),
        (dict(grid=(16,), smoothing=((1, 0),) * 5), "too deep for grid \\(16,\\)"),
        (dict(grid=(43, 43), padding="neumann"), "unknown padding 'neumann'; expected one of"),
        (
            dict(grid=(43, 43), padding="circular", smoothing=((1, 0),) * 3),
            "divisible by 2\\*\\*2 = 4",
        ),
        (dict(grid=(8, 8, 8)), "1-D or 2-D"),
        (dict(grid=(43, 43), smoothing=((0, 1), (1, 0))), "finest level needs at least one"),
        (dict(grid=(43, 43), smoothing=((1,), (1, 0))), "one \\(pre, post\\) pair"),
        (dict(grid=(43, 43), channels=0), "MgNO expects channels to be a positive integer, got 0"),
    ],
)
def test_bad_configurations_fail_at_construction(kwargs, message):
    kwargs = {"smoothing": ((1, 0),) * 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        MgNO(1, 1, key=KEY, **kwargs)


def test_wrong_input_is_named():
    model = MgNO(2, 1, (16, 16), channels=2, n_layers=1, smoothing=((1, 0),) * 3, key=KEY)
    with pytest.raises(ValueError, match="expects input of shape \\(in_channels=2"):
        apply(model, jnp.ones((3, 16, 16)))
    with pytest.raises(ValueError, match="a batch goes through jax.vmap"):
        apply(model, jnp.ones((4, 2, 16, 16)))
    with pytest.raises(ValueError, match="too deep for grid \\(3, 16\\)"):
        apply(model, jnp.ones((2, 3, 16)))


@pytest.mark.parametrize("value", [0, -3, 2.5, True])
@pytest.mark.parametrize("name", ["in_channels", "out_channels", "channels", "n_layers"])
def test_sizes_must_be_positive_integers(name, value):
    sizes = {"in_channels": 1, "out_channels": 1, "channels": 2, "n_layers": 1, name: value}
    expected = f"MgNO expects {name} to be a positive integer, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        MgNO(grid=(16,), smoothing=((1, 0),) * 2, **sizes, key=KEY)


@pytest.mark.parametrize("value", [1, -3, 2.5, True])
def test_prolongation_kernel_must_be_an_integer_of_at_least_2(value):
    expected = f"MgNO expects prolongation_kernel to be an integer >= 2, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        MgNO(1, 1, (16,), channels=2, prolongation_kernel=value, smoothing=((1, 0),) * 2, key=KEY)


@pytest.mark.parametrize(
    "task, model_name",
    [("darcy", "mgno"), ("darcy", "fno"), ("burgers", "fno"), ("navier-stokes", "fno3d")],
)
def test_paper_presets_use_the_reference_codes_exact_gelu(task, model_name):
    import math

    from sciml.experiments import build_model, get_experiment
    from sciml.models.spec import ModelSpec

    experiment = get_experiment(task, model_name, "paper")
    d = 1 if task == "burgers" else 2
    frames = (2, 3) if model_name == "fno3d" else None
    n = 43 if model_name == "mgno" else 16
    spec = ModelSpec(*(frames or (1, 1)), (n,) * d, task != "darcy", frames)
    model = build_model(model_name, spec, experiment.model_config, key=KEY)
    act = (
        model.layers[0].activation
        if model_name == "mgno"
        else (model.network if model_name == "fno3d" else model).activation
    )
    x = np.linspace(-3.0, 3.0, 13)
    exact = x * 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in x]))
    np.testing.assert_allclose(np.asarray(act(jnp.asarray(x))), exact, rtol=0, atol=1e-14)
    # the tanh form differs by up to ~5e-4: the check above would catch it
    assert np.max(np.abs(np.asarray(jax.nn.gelu(jnp.asarray(x))) - exact)) > 1e-5


def test_an_unknown_activation_is_named():
    from sciml.experiments import build_model
    from sciml.models.spec import ModelSpec

    spec = ModelSpec(1, 1, (16, 16), False)
    with pytest.raises(ValueError, match=r"activation must be one of \['gelu', 'gelu_tanh'"):
        build_model("mgno", spec, {"activation": "swish"}, key=KEY)
