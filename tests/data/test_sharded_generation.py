"""Generation split over devices and processes gives the samples of one device.

The 4-device generation runs in a subprocess, as XLA reads the simulated device count
(``--xla_force_host_platform_device_count``) once, at start-up.
"""

import dataclasses
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.data.batched import solve_in_batches
from sciml.data.darcy import DarcyConfig, generate_darcy
from sciml.distributed import process_range

SMALL = DarcyConfig(fine_resolution=33, subsample=4, n_train=7, n_test=3, rtol=1e-5)

SCRIPT = """
import json, sys
import jax, numpy as np
from sciml.data.batched import _split_keys, sample_keys
from sciml.data.darcy import DarcyConfig, _make_batch_solver, generate_darcy
from sciml.distributed import batch_mesh

assert jax.device_count() == 4, jax.devices()
config = DarcyConfig(**json.loads(sys.argv[2]))
splits = generate_darcy(config, batch_size=6)  # rounded up to 8: two samples per device
arrays = {}
for name in ("train", "test"):
    arrays[f"{name}-a"], arrays[f"{name}-u"] = splits[name].inputs, splits[name].outputs
np.savez(sys.argv[1], **arrays)
a, u = _make_batch_solver(config)(_split_keys(sample_keys(0, 0, 8), batch_mesh()))
print(json.dumps({
    "devices": len(u.sharding.device_set),
    "shard_shape": u.addressable_shards[0].data.shape,
}))
"""


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    """The subprocess's report and its 4-device Darcy splits (generated in batches of 8)."""
    arrays = tmp_path_factory.mktemp("sharded") / "darcy.npz"
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_ENABLE_X64": "1",
        "JAX_PLATFORMS": "cpu",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(arrays), json.dumps(dataclasses.asdict(SMALL))],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), dict(np.load(arrays))


def test_four_device_generation_matches_one_device_sample_for_sample(four_devices):
    report, arrays = four_devices
    assert jax.device_count() == 1
    # every batch is split over the 4 devices, 2 samples each
    assert report["devices"] == 4 and report["shard_shape"] == [2, 9, 9]
    reference = generate_darcy(SMALL, batch_size=4)
    for name in ("train", "test"):
        np.testing.assert_array_equal(arrays[f"{name}-a"], reference[name].inputs)
        # measured: bit for bit; the tolerance is that of generation in batches of other
        # sizes on one device (tests/data/test_darcy_task.py), whose vector code may differ
        np.testing.assert_allclose(arrays[f"{name}-u"], reference[name].outputs, rtol=1e-6, atol=0)


def _toy_batch(keys):
    """A stand-in generator: two normal draws per key, to check which samples come."""
    draw = jax.vmap(lambda key: jax.random.normal(key, (2, 3)))
    values = draw(keys)
    return values[:, 0], jnp.cumsum(values[:, 1], axis=-1)


def test_each_process_generates_its_own_block_of_the_same_samples():
    n_total, seed = 23, 5
    whole = solve_in_batches(jax.jit(_toy_batch), seed=seed, n_total=n_total, batch_size=4)
    ranges = [process_range(n_total, index, 3) for index in range(3)]
    assert [len(r) for r in ranges] == [8, 8, 7]
    assert [i for r in ranges for i in r] == list(range(n_total))
    for samples in ranges:
        inputs, outputs = solve_in_batches(
            jax.jit(_toy_batch), seed=seed, n_total=len(samples), batch_size=3, start=samples.start
        )
        np.testing.assert_array_equal(inputs, whole[0][samples.start : samples.stop])
        np.testing.assert_array_equal(outputs, whole[1][samples.start : samples.stop])


def test_bad_process_ranges_and_starts_are_refused():
    assert process_range(2, 3, 4) == range(2, 2)  # more processes than samples
    with pytest.raises(ValueError, match="process_index < process_count"):
        process_range(10, 4, 4)
    with pytest.raises(ValueError, match="start must be an integer >= 0"):
        solve_in_batches(jax.jit(_toy_batch), seed=0, n_total=3, batch_size=2, start=-1)
