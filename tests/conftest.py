"""Test configuration.

float64 is switched on for the whole suite so that verification tests can measure
convergence orders; library code takes its dtype from its inputs (float32 unless the
caller passes float64), so float32 paths are still exercised by passing float32 data.
"""

import jax

jax.config.update("jax_enable_x64", True)
