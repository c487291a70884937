"""Use sciml models inside Flax NNX.

sciml models are equinox modules: immutable pytrees whose array leaves are the
parameters. Flax NNX keeps state in mutable :class:`flax.nnx.Variable` objects on
:class:`flax.nnx.Module` attributes instead. :class:`SciMLModule` holds one sciml model
in NNX form, one variable per array leaf, so that an FNO, DeepONet or MgNO can sit
inside a user's ``nnx.Module`` next to Flax layers and be trained by a Flax loop
(``nnx.Optimizer``, ``nnx.jit``, ``nnx.value_and_grad``), without the model being
written a second time in Flax.

- Leaves that sciml trains (:func:`sciml.train.trainable_filter`: inexact arrays
  outside normalisers and POD bases) become :class:`flax.nnx.Param`, so
  ``nnx.Optimizer(module, tx, wrt=nnx.Param)`` updates exactly what ``sciml.train.fit``
  would update.
- Other arrays (normaliser statistics, POD modes, integer arrays) become
  :class:`Buffer` variables, which such an optimiser leaves alone.
- Everything else (activation functions, sizes, flags) stays in the equinox
  structure, which the adapter keeps as static data.

Variables are named by their place in the equinox model, e.g.
``params["layers.0.spectral.weight_real"]``, so ``nnx.state(module)`` reads like the
model.

Round trip: :func:`to_nnx` (or ``SciMLModule(model)``) and :func:`to_equinox` are exact
inverses on the parameters, and :func:`to_equinox` of a module trained in Flax gives
back an ordinary sciml model, ready for ``sciml.train`` checkpoints or evaluation.

Example::

    from flax import nnx
    import optax
    from sciml.models import FNO
    from sciml.interop.flax import SciMLModule, to_equinox

    class Model(nnx.Module):
        def __init__(self, fno, rngs):
            self.operator = SciMLModule(fno)  # batched over the leading axis
            self.scale = nnx.Param(jnp.ones(()))

        def __call__(self, a):
            return self.scale * self.operator(a)

    model = Model(FNO(1, 1, (8,), width=16, key=jax.random.key(0)), nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    ...
    trained_fno = to_equinox(model.operator)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx
from jaxtyping import PyTree

from sciml.train.trainable import trainable_filter

__all__ = ["Buffer", "SciMLModule", "to_equinox", "to_nnx"]


class Buffer(nnx.Variable):
    """An array of a sciml model that is not a parameter (statistics, fixed bases)."""


class _Structure:
    """The non-array part of a sciml model: its treedef and its static leaves.

    Held by :class:`SciMLModule` as one opaque attribute, so that NNX keeps it in the
    graph definition as it is instead of looking inside it. Equality is identity: a
    module and its ``nnx.split``/``nnx.merge`` copies share the same object.
    """

    def __init__(self, treedef, names: tuple[str, ...], static: dict[int, Any]):
        self.treedef = treedef
        self.names = names
        self.static = static

    def __repr__(self) -> str:
        return f"_Structure({len(self.names)} arrays, {len(self.static)} static leaves)"


def _name(path) -> str:
    """A dotted name for a pytree path: ``layers.0.spectral.weight``."""
    parts = []
    for key in path:
        if isinstance(key, jax.tree_util.GetAttrKey):
            parts.append(key.name)
        elif isinstance(key, jax.tree_util.SequenceKey):
            parts.append(str(key.idx))
        elif isinstance(key, jax.tree_util.DictKey):
            parts.append(str(key.key))
        else:
            parts.append(str(key).strip(".[]'\""))
    return ".".join(parts) or "leaf"


def _is_array(leaf) -> bool:
    return isinstance(leaf, jax.Array | np.ndarray)


class SciMLModule(nnx.Module):
    """A sciml (equinox) model as a Flax NNX module.

    Args:
        model: any sciml model, or any equinox module or pytree of arrays whose call
            is ``model(*args)``.
        in_axes: how to batch the call. sciml models map one sample ``(C, *grid)``;
            Flax code passes batches, so by default the call is vmapped over the leading
            axis of every argument (``in_axes=0``). Give a tuple to batch some arguments
            only, e.g. ``(0, None)`` for a DeepONet evaluated at shared query points, or
            ``None`` to call the model on one sample as it is.

    Attributes:
        params: an ``nnx.Dict`` of :class:`flax.nnx.Param` (trained leaves) and
            :class:`Buffer` (other arrays), keyed by their dotted place in the model.
    """

    def __init__(self, model: PyTree, *, in_axes: int | Sequence[int | None] | None = 0):
        if isinstance(model, nnx.Module):
            raise TypeError(
                "SciMLModule expects a sciml (equinox) model, got an nnx.Module; "
                "use the Flax module directly"
            )
        trainable = jax.tree_util.tree_leaves(trainable_filter(model))
        flat, treedef = jax.tree_util.tree_flatten_with_path(model)
        if len(trainable) != len(flat):
            raise ValueError("could not match the model's leaves to its trainable mask")
        names: list[str] = []
        static: dict[int, Any] = {}
        variables: dict[str, nnx.Variable] = {}
        for i, ((path, leaf), train) in enumerate(zip(flat, trainable, strict=True)):
            if not _is_array(leaf):
                static[i] = leaf
                continue
            name = _name(path)
            if name in variables:
                raise ValueError(f"two leaves of the model share the name {name!r}")
            names.append(name)
            variables[name] = nnx.Param(leaf) if train else Buffer(leaf)
        self.params = nnx.Dict(variables)
        self.structure = nnx.static(_Structure(treedef, tuple(names), static))
        self.in_axes = in_axes

    def to_equinox(self) -> PyTree:
        """The sciml model with this module's current parameter values."""
        structure: _Structure = self.structure
        arrays = iter(self.params[name][...] for name in structure.names)
        leaves = [
            structure.static[i] if i in structure.static else next(arrays)
            for i in range(structure.treedef.num_leaves)
        ]
        return jax.tree_util.tree_unflatten(structure.treedef, leaves)

    def __call__(self, *args):
        model = self.to_equinox()
        if self.in_axes is None:
            return model(*args)
        return jax.vmap(model, in_axes=self.in_axes)(*args)


def to_nnx(model: PyTree, *, in_axes: int | Sequence[int | None] | None = 0) -> SciMLModule:
    """Wrap a sciml model for Flax NNX; the same as ``SciMLModule(model, in_axes=...)``."""
    return SciMLModule(model, in_axes=in_axes)


def to_equinox(module: SciMLModule) -> PyTree:
    """The sciml model held by ``module``, with its current (e.g. Flax-trained) values."""
    if not isinstance(module, SciMLModule):
        raise TypeError(f"to_equinox expects a SciMLModule, got {type(module).__name__}")
    return module.to_equinox()
