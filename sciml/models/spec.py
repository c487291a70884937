"""What a model builder is told of the data its model maps, and helpers for builders.

Every registered model (``sciml.register_model``) is built by ``build(spec, *, key,
**config)``; the built-in models' builders sit beside the models in this package.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sciml.spectral import each_axis

__all__ = [
    "ACTIVATIONS",
    "ModelSpec",
    "activation_function",
    "check_count",
    "domain_padding",
    "gelu",
    "gelu_tanh",
    "modes_per_axis",
]


def gelu(x):
    """The exact GELU, ``x Phi(x)`` with the normal CDF through ``erf`` (PyTorch's
    ``F.gelu``; the FNO and MgNO reference codes use it)."""
    return jax.nn.gelu(x, approximate=False)


def gelu_tanh(x):
    """GELU's tanh approximation (``jax.nn.gelu``'s default; within 4e-4 of
    :func:`gelu`)."""
    return jax.nn.gelu(x, approximate=True)


#: The activations a builder's ``activation`` names (module-level functions, so a model
#: built twice from one config compares and hashes equal).
ACTIVATIONS = {
    "gelu": gelu,
    "gelu_tanh": gelu_tanh,
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "tanh": jnp.tanh,
}


def activation_function(name: str):
    """The activation called ``name`` in :data:`ACTIVATIONS`.

    Raises:
        ValueError: an unknown name, listing the known ones.
    """
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What a model builder is told of the data it maps.

    Attributes:
        in_channels, out_channels: channels of one input and one output sample.
        grid: the grid of one sample, ``(H, W)`` or ``(n,)``.
        periodic: whether the domain is periodic (grids ``j / n``; circular padding).
        frames: ``(n_in, n_out)`` when the channels are consecutive time frames
            (a recurrent model steps through them), else ``None``.
        data: the task's data config (its physics: lengths, times, equations).
        targets: the training outputs as the model sees them, for parts fitted to data
            (a POD basis); ``None`` when a model is rebuilt from its record, where
            those parts are placeholders that the checkpoint fills.
    """

    in_channels: int
    out_channels: int
    grid: tuple[int, ...]
    periodic: bool
    frames: tuple[int, int] | None = None
    data: Any = None
    targets: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """The shapes, for the run record (the data config and targets are kept apart)."""
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "grid": list(self.grid),
            "periodic": self.periodic,
            "frames": None if self.frames is None else list(self.frames),
        }


def modes_per_axis(modes: int | Sequence[int], dims: int) -> tuple[int, ...]:
    """``modes`` for each of ``dims`` axes: one number for all, or one per axis."""
    return tuple(int(m) for m in each_axis(modes, dims))


def domain_padding(padding: str | None, spec: ModelSpec) -> str:
    """``padding`` if given, else circular on a periodic domain and zero (Dirichlet)
    padding elsewhere."""
    return padding or ("circular" if spec.periodic else "zeros")


def check_count(owner: str, name: str, value, *, minimum: int = 1) -> int:
    """``value`` as an int, or a ValueError naming ``owner``, ``name`` and ``value``
    unless it is an integer >= ``minimum`` (a bool or a float such as 2.5 is not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise ValueError(f"{owner} expects {name} to be {expected}, got {value!r}")
    return int(value)
