"""Data-parallel fit: 4 simulated CPU devices follow the 1-device loss trajectory.

The 4-device runs happen in a subprocess, as XLA reads the simulated device count
(``--xla_force_host_platform_device_count``) once, at start-up; the 1-device runs are
this process's own (one CPU device), through the same ``fit``.
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.models import FNO
from sciml.train import TrainConfig, fit

# 30 samples: 3 steps of 8 per epoch, and a training set that does not split evenly
# over 4 devices (it is padded; the padding must never be drawn).
CONFIG = TrainConfig(epochs=4, batch_size=8, learning_rate=1e-2, schedule="cosine", seed=1)
N_TRAIN, N_TEST, GRID = 30, 6, 12


def problem(dtype):
    """((a, u) train, (a, u) test): a 5-point average plus 1, on periodic random fields."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((N_TRAIN + N_TEST, 1, GRID, GRID))
    u = 1 + (a + sum(np.roll(a, shift, axis) for shift in (1, -1) for axis in (2, 3))) / 5
    a, u = a.astype(dtype), u.astype(dtype)
    return (a[:N_TRAIN], u[:N_TRAIN]), (a[N_TRAIN:], u[N_TRAIN:])


def model(dtype):
    return FNO(
        1, 1, (3, 3), 6, 1, projection_channels=8, key=jax.random.key(0), dtype=jnp.dtype(dtype)
    )


SCRIPT = """
import dataclasses, json, sys, tempfile
import equinox as eqx
import jax, jax.numpy as jnp, numpy as np
sys.path.insert(0, sys.argv[2])
from test_sharding import CONFIG, GRID, N_TRAIN, model, problem
from sciml.distributed import batch_mesh, batch_sharding, put_replicated, put_sharded
from sciml.train import TrainConfig, fit
from sciml.train.epoch import compiled_epoch
from sciml.train.fit import _recipe, _split

assert jax.device_count() == 4, jax.devices()
out, arrays = {"devices": jax.device_count()}, {}
for dtype in ("float32", "float64"):
    train, test = problem(dtype)
    trained, history = fit(model(dtype), train, test, config=CONFIG, progress=False)
    out[dtype] = {name: history[name] for name in ("train_loss", "test_l2", "test_h1")}
    for i, leaf in enumerate(jax.tree.leaves(eqx.filter(trained, eqx.is_array))):
        arrays[f"{dtype}-{i}"] = np.asarray(leaf)
np.savez(sys.argv[1], **arrays)

# interrupted after epoch 2 and resumed from its checkpoint, on the 4 devices
class Stop(Exception):
    pass

def stop_after_2(epoch, history):
    if epoch == 2:
        raise Stop

train, test = problem("float64")
with tempfile.TemporaryDirectory() as folder:
    try:
        fit(model("float64"), train, test, config=CONFIG, checkpoint_dir=folder,
            callbacks=[stop_after_2], progress=False)
    except Stop:
        pass
    _, resumed = fit(model("float64"), train, test, config=CONFIG, resume=folder,
                     progress=False)
out["resumed"] = resumed["train_loss"]

# streamed from a lazy data set: each device's rows of a batch are read on their own
from sciml.data.lazy import ArraySamples

class Counting(ArraySamples):
    def _read(self, indices):
        getattr(self, "rows", []).append(len(indices))  # the train source counts
        return super()._read(indices)

train, test = problem("float32")
coords = (np.arange(GRID) / GRID,) * 2
source = Counting(*train, coords)
source.rows = []
_, streamed = fit(model("float32"), source, Counting(*test, coords), config=CONFIG,
                  progress=False)
out["streamed"] = {name: streamed[name] for name in ("train_loss", "test_l2", "test_h1")}
out["streamed_rows"] = sorted(set(source.rows))

# the compiled epoch is partitioned: each device takes a quarter of every batch and the
# gradients are summed across devices
mesh = batch_mesh()
params, frozen, static = _split(model("float64"))
optimizer, epoch = compiled_epoch(static, _recipe(CONFIG), 3, 12, mesh)
train, _ = problem("float64")
args = put_replicated((params, optimizer.init(params), frozen), mesh)
data = [put_sharded(np.concatenate([x, x[:2]]), mesh) for x in train]
order = put_replicated(jnp.arange(N_TRAIN), mesh)
hlo = epoch.lower(*args, *data, order).compile().as_text()
out["all_reduce"] = "all-reduce" in hlo
out["batch_shard_shape"] = put_sharded(train[0][:8], mesh).addressable_shards[0].data.shape

errors = {}
try:
    fit(model("float32"), problem("float32")[0], config=dataclasses.replace(CONFIG, batch_size=6),
        progress=False)
except ValueError as error:
    errors["batch"] = str(error)
try:
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    fit(model("float32"), problem("float32")[0], config=CONFIG, mesh=mesh, progress=False)
except ValueError as error:
    errors["axis"] = str(error)
out["errors"] = errors
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    """The subprocess's report, the final parameters of its runs, and this process's
    1-device runs ``{dtype: (model, history)}``, made while the subprocess works."""
    arrays = tmp_path_factory.mktemp("sharded") / "params.npz"
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_ENABLE_X64": "1",
        "JAX_PLATFORMS": "cpu",
    }
    here = os.path.dirname(os.path.abspath(__file__))
    with subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(arrays), here],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        one_device = {}
        for dtype in ("float64", "float32"):
            one_device[dtype] = fit(model(dtype), *problem(dtype), config=CONFIG, progress=False)
        stdout, stderr = child.communicate(timeout=600)
    assert child.returncode == 0, stderr[-4000:]
    report = json.loads(stdout.strip().splitlines()[-1])
    return report, dict(np.load(arrays)), one_device


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 2e-6)])
def test_four_devices_follow_the_one_device_trajectory(four_devices, dtype, rtol):
    """The same losses epoch by epoch and the same final parameters, but for the order
    of the sums over a batch (measured: 3e-16 relative in float64, 2e-7 in float32)."""
    report, arrays, one_device = four_devices
    assert jax.device_count() == 1 and report["devices"] == 4
    trained, history = one_device[dtype]
    # training went somewhere, far beyond the tolerance, so a wrong gradient would show
    assert history["train_loss"][-1] < 0.8 * history["train_loss"][0]
    for name in ("train_loss", "test_l2", "test_h1"):
        np.testing.assert_allclose(report[dtype][name], history[name], rtol=rtol, atol=0)
    import equinox as eqx

    leaves = jax.tree.leaves(eqx.filter(trained, eqx.is_array))
    start = jax.tree.leaves(eqx.filter(model(dtype), eqx.is_array))
    moved = max(np.max(np.abs(a - b)) / np.max(np.abs(b)) for a, b in zip(leaves, start))
    assert moved > 0.05
    for i, leaf in enumerate(leaves):
        scale = np.max(np.abs(leaf))
        np.testing.assert_allclose(arrays[f"{dtype}-{i}"], leaf, rtol=0, atol=10 * rtol * scale)


def test_a_streamed_run_follows_the_in_memory_one_and_reads_per_device(four_devices):
    """A lazy data set streamed over 4 devices gives the in-memory run's losses, and
    each read is one device's quarter of the epoch's chunk of 3 batches of 8: 2 rows of
    each batch."""
    report = four_devices[0]
    for name in ("train_loss", "test_l2", "test_h1"):
        np.testing.assert_allclose(report["streamed"][name], report["float32"][name], rtol=1e-6)
    assert report["streamed_rows"] == [3 * 2]


def test_the_epoch_is_split_over_the_devices(four_devices):
    report = four_devices[0]
    assert report["all_reduce"]
    assert report["batch_shard_shape"] == [2, 1, GRID, GRID]


def test_a_batch_not_divisible_by_the_devices_is_refused(four_devices):
    errors = four_devices[0]["errors"]
    assert "batch_size 6 is not divisible by the 4 devices" in errors["batch"]
    assert "axis named 'batch'" in errors["axis"]


def test_a_run_resumed_on_four_devices_ends_where_the_uninterrupted_one_does(four_devices):
    report = four_devices[0]
    assert len(report["resumed"]) == CONFIG.epochs
    assert report["resumed"] == report["float64"]["train_loss"]
