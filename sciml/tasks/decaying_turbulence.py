"""Decaying 2-D turbulence from McWilliams-type initial spectra: frames -> frames.

The vorticity frames after a warm-up (:mod:`sciml.data.decaying_turbulence`) are a
trajectory, split by a preset's ``frames = [n_in, n_out]`` like the Navier–Stokes task;
models are judged by the mean relative L2 error over the test split. The isotropic
turbulence example of Cao et al. (2025), the Spectral-Refiner, on our unit torus.

References:
    J. C. McWilliams, "The emergence of isolated coherent vortices in turbulent flow",
    J. Fluid Mech. 146 (1984) 21-43.
    S. Cao, F. Brarda, R. Li and Y. Xi, "Spectral-Refiner: Accurate Fine-Tuning of
    Spatiotemporal Fourier Neural Operator for Turbulent Flows", ICLR 2025.
"""

from __future__ import annotations

from sciml.data.decaying_turbulence import (
    DecayingTurbulenceConfig,
    generate_decaying_turbulence,
)
from sciml.tasks import Task, register_task
from sciml.tasks.operator import judge_operator, operator_rows


@register_task("decaying-turbulence")
def decaying_turbulence() -> Task:
    """Vorticity frames ``1..n_in`` after the warm-up -> the next ``n_out`` frames."""
    return Task(
        "decaying-turbulence",
        DecayingTurbulenceConfig,
        generate_decaying_turbulence,
        True,
        judge_operator,
        operator_rows,
        grid=lambda data: (data.resolution, data.resolution),
        # not in the default benchmark suite (yet): its quick preset is ours, no paper's
        figures=("prediction.png",),
    )
