"""Several devices and hosts through JAX's own sharding: meshes, placement, processes.

Data parallelism in sciml is one code path whatever the device count: arrays whose
leading axis runs over samples are split over the ``"batch"`` axis of a
:class:`jax.sharding.Mesh`, parameters are replicated, and XLA's SPMD partitioner
inserts the reductions (the all-reduce of the gradients). On one device the mesh is
trivial and nothing changes.

Several hosts: every process runs the same program after :func:`initialize` (which
calls :func:`jax.distributed.initialize`); the default training mesh then spans the
devices of all processes, each process places only the samples its own devices hold,
and orbax writes each checkpoint once. :func:`process_range` gives a process its
share of a data set to generate or read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import PyTree

BATCH_AXIS = "batch"
ENABLE_VARIABLE = "SCIML_DISTRIBUTED"
_EXPLICIT_VARIABLES = {
    "coordinator_address": "SCIML_COORDINATOR_ADDRESS",
    "num_processes": "SCIML_NUM_PROCESSES",
    "process_id": "SCIML_PROCESS_ID",
}


def distributed_requested(flag: bool = False) -> bool:
    """True if ``flag`` is set or the environment variable ``SCIML_DISTRIBUTED`` is
    ``1``/``true``/``yes``/``on`` (case aside)."""
    value = os.environ.get(ENABLE_VARIABLE, "").strip().lower()
    if value not in ("", "0", "false", "no", "off", "1", "true", "yes", "on"):
        raise ValueError(
            f"{ENABLE_VARIABLE} must be 1/true/yes/on or 0/false/no/off, got {value!r}"
        )
    return flag or value in ("1", "true", "yes", "on")


def initialize(flag: bool = False) -> bool:
    """Join the processes of a multi-host run if asked to; returns whether it did.

    Asked to means ``flag`` (the command's ``--distributed``) or ``SCIML_DISTRIBUTED=1``.
    Then :func:`jax.distributed.initialize` is called, before any computation. Under
    SLURM, Open MPI or on Cloud TPU, JAX finds the coordinator, the process count and
    this process's id itself; elsewhere set ``SCIML_COORDINATOR_ADDRESS`` (host:port of
    process 0), ``SCIML_NUM_PROCESSES`` and ``SCIML_PROCESS_ID`` (JAX's own
    ``JAX_COORDINATOR_ADDRESS`` is honoured too).

    Raises:
        ValueError: for a malformed variable, or only some of the three explicit ones.
    """
    if not distributed_requested(flag):
        return False
    variables = _EXPLICIT_VARIABLES.items()
    given: dict[str, Any] = {name: os.environ[var] for name, var in variables if var in os.environ}
    if given and len(given) != len(_EXPLICIT_VARIABLES):
        missing = [var for name, var in _EXPLICIT_VARIABLES.items() if name not in given]
        raise ValueError(
            f"set all of {', '.join(_EXPLICIT_VARIABLES.values())} or none of them (then "
            f"JAX detects the cluster); missing: {', '.join(missing)}"
        )
    for name in ("num_processes", "process_id"):
        if name in given:
            try:
                given[name] = int(given[name])
            except ValueError:
                raise ValueError(
                    f"{_EXPLICIT_VARIABLES[name]} expects an integer, got {given[name]!r}"
                ) from None
    jax.distributed.initialize(**given)
    return True


def is_primary() -> bool:
    """True in the process that writes files meant once per run (process 0)."""
    return jax.process_index() == 0


def process_range(
    n: int, process_index: int | None = None, process_count: int | None = None
) -> range:
    """The samples ``0 .. n-1`` this process generates or reads: contiguous blocks, the
    first ``n mod process_count`` processes holding one sample more.

    Defaults to :func:`jax.process_index` of :func:`jax.process_count`.
    """
    index = jax.process_index() if process_index is None else process_index
    count = jax.process_count() if process_count is None else process_count
    if count < 1 or not 0 <= index < count or n < 0:
        raise ValueError(
            f"process_range expects n >= 0 and 0 <= process_index < process_count, got "
            f"n={n}, process_index={index}, process_count={count}"
        )
    size, extra = divmod(n, count)
    start = index * size + min(index, extra)
    return range(start, start + size + (index < extra))


def batch_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh ``("batch",)`` over ``devices`` (default: all, of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.array(devices), (BATCH_AXIS,))


def batch_devices(mesh: Mesh) -> int:
    """The number of devices the batch is split over: the size of the mesh's ``"batch"``
    axis (its other axes, if any, hold copies).

    Raises:
        ValueError: if the mesh has no ``"batch"`` axis.
    """
    if not isinstance(mesh, Mesh):
        raise ValueError(f"expected a jax.sharding.Mesh, got {type(mesh).__name__}")
    if BATCH_AXIS not in mesh.axis_names:
        raise ValueError(
            f"the mesh needs an axis named {BATCH_AXIS!r} to split the batch over; its axes "
            f"are {mesh.axis_names} (sciml.distributed.batch_mesh() makes one)"
        )
    return mesh.shape[BATCH_AXIS]


def check_divisible(what: str, size: int, mesh: Mesh) -> None:
    """``size`` samples split evenly over the batch axis of ``mesh``, or a ValueError."""
    devices = batch_devices(mesh)
    if size % devices:
        raise ValueError(
            f"{what} {size} is not divisible by the {devices} devices of the mesh's "
            f"{BATCH_AXIS!r} axis; choose a multiple of {devices} (the global batch does not "
            "change with the device count, so that results do not either)"
        )


def batch_sharding(mesh: Mesh, axis: int = 0) -> NamedSharding:
    """Axis ``axis`` split over the mesh's ``"batch"`` axis, the others whole."""
    return NamedSharding(mesh, PartitionSpec(*(None,) * axis, BATCH_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A copy on every device of ``mesh``."""
    return NamedSharding(mesh, PartitionSpec())


def put_replicated(tree: PyTree, mesh: Mesh) -> PyTree:
    """Fresh copies of the arrays of ``tree`` on every device of ``mesh``.

    Every process must pass the same values (e.g. a model built from the same key).
    """
    sharding = replicated(mesh)
    if jax.process_count() == 1:
        # Copied first: device_put(..., may_alias=False) still reuses the source buffer
        # for the copy on its own device, and callers donate the result.
        return jax.device_put(jax.tree.map(jnp.copy, tree), sharding)
    return jax.tree.map(lambda x: _from_host(np.asarray(x), sharding), tree)


def put_sharded(array, mesh: Mesh, axis: int = 0) -> jax.Array:
    """``array`` split along ``axis`` over the mesh's ``"batch"`` axis.

    Only the blocks that this process's devices hold are read from ``array``, which may
    be any array indexable by slices (NumPy, memory-mapped, h5py).
    """
    return _from_host(array, batch_sharding(mesh, axis))


def _from_host(array, sharding: NamedSharding) -> jax.Array:
    return jax.make_array_from_callback(
        tuple(array.shape), sharding, lambda index: np.asarray(array[index])
    )
