"""Bridges to other JAX libraries.

``sciml.interop.flax`` puts any sciml model inside a Flax NNX module; it needs
``flax`` (``pip install "sciml[flax]"``) and is not imported here, so that sciml itself
does not depend on Flax.
"""
