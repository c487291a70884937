"""Which leaves of a model the optimiser updates."""

from __future__ import annotations

import equinox as eqx
import jax
from jaxtyping import PyTree

from sciml.data.normalise import GaussianNormaliser
from sciml.models.deeponet import PODBasis

# Modules whose arrays are data computed from the training set, not parameters.
_FROZEN = (GaussianNormaliser, PODBasis)


def trainable_filter(model: PyTree) -> PyTree[bool]:
    """A pytree of bools, the shape of ``model``: True for the leaves to train.

    A leaf is trainable when it is an inexact (floating or complex) array and does
    not sit inside a :class:`~sciml.data.normalise.GaussianNormaliser` or a
    :class:`~sciml.models.PODBasis`, whose arrays are statistics of the training data,
    not parameters. Use it with ``eqx.partition``::

        params, frozen = eqx.partition(model, trainable_filter(model))

    Args:
        model: any pytree, typically an equinox module.

    Returns:
        A pytree of the same structure with a bool at every leaf.
    """

    def mark(node):
        if isinstance(node, _FROZEN):
            return jax.tree.map(lambda _: False, node)
        return eqx.is_inexact_array(node)

    return jax.tree.map(mark, model, is_leaf=lambda node: isinstance(node, _FROZEN))
