r"""Decaying 2-D turbulence from McWilliams-type initial spectra, with our own solver.

The unforced vorticity equation on the unit torus (:mod:`sciml.solvers.navier_stokes`,
``f = 0``) from a random initial vorticity whose streamfunction has the ensemble
spectrum of McWilliams (1984),

    <|psi_hat(n)|^2>  proportional to  |n|^-1 (1 + (|n| / n_0)^4)^-1,

(integer wavenumbers ``n``, peak ``n_0``), random phases, mean zero, scaled to the
kinetic energy ``(1/2) <|u|^2> = energy``. The flow is first run for ``t_warmup`` (the
vortices emerge and the spectrum relaxes, as in the Spectral-Refiner's isotropic
turbulence set, Cao et al. 2025, §5), then ``n_frames`` frames are kept every
``frame_interval``. Solved on ``solve_resolution`` points per side by ETDRK4 with a CFL
step from ``speed_bound`` (the flow decays, so the initial speed bounds it), stored on
the strided subgrid of ``resolution``.

Sample ``i`` uses the key ``fold_in(key(seed), i)`` whatever the batch it is made in.

References:
    J. C. McWilliams, "The emergence of isolated coherent vortices in turbulent flow",
    J. Fluid Mech. 146 (1984) 21-43.
    S. Cao, F. Brarda, R. Li and Y. Xi, "Spectral-Refiner: Accurate Fine-Tuning of
    Spatiotemporal Fourier Neural Operator for Turbulent Flows", ICLR 2025,
    arXiv:2405.17211.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from sciml.data._checks import check_integers, check_positive, check_strided_grid
from sciml.data.batched import solve_in_batches, train_test_splits
from sciml.data.dataset import OperatorDataset, config_to_dict
from sciml.solvers.navier_stokes import DEFAULT_CFL, make_stepper, rollout
from sciml.spectral import squared_wavenumbers

__all__ = ["DecayingTurbulenceConfig", "generate_decaying_turbulence", "mcwilliams_vorticity"]


def mcwilliams_vorticity(
    key: jax.Array, s: int, *, peak_wavenumber: float = 4.0, energy: float = 0.5, dtype=None
) -> Float[Array, "s s"]:
    """A random vorticity field ``(s, s)`` with McWilliams' (1984) initial spectrum.

    ``psi_hat(n) = A z_n sqrt(|n|^-1 (1 + (|n| / n_0)^4)^-1)`` with ``z_n`` standard
    complex Gaussians (random phases), ``psi_hat(0) = 0``; ``w = -Laplacian psi``; the
    constant ``A`` makes the kinetic energy ``(1/2) mean(|u|^2) = (1/2) sum_n |k|^2
    |psi_hat_n|^2`` equal ``energy`` exactly (Parseval). The Nyquist modes are left out:
    a grid field cannot carry their first derivatives.
    """
    dtype = jnp.result_type(float) if dtype is None else dtype
    k2 = squared_wavenumbers((s, s), dtype=dtype)  # |2 pi n|^2, rfft2 layout
    n = jnp.sqrt(k2) / (2 * jnp.pi)
    safe = jnp.where(n == 0, 1.0, n)
    shape = jnp.where(n == 0, 0.0, 1.0 / (safe * (1 + (safe / peak_wavenumber) ** 4)))
    real, imaginary = jax.random.normal(key, (2, *k2.shape), dtype)
    psi_hat = jax.lax.complex(real, imaginary) * jnp.sqrt(shape)
    # no Nyquist modes: a grid field cannot carry their first derivatives (velocity)
    psi_hat = psi_hat.at[s // 2].set(0).at[:, -1].set(0)
    psi = jnp.fft.irfft2(psi_hat, s=(s, s))  # a real field: the transform is made Hermitian
    psi_hat = jnp.fft.fft2(psi, norm="forward")
    k2_full = squared_wavenumbers((s, s), real=False, dtype=dtype)
    kinetic = 0.5 * jnp.sum(k2_full * jnp.abs(psi_hat) ** 2)
    w_hat = k2_full * psi_hat * jnp.sqrt(energy / kinetic)
    return jnp.fft.ifft2(w_hat, norm="forward").real.astype(dtype)


@dataclasses.dataclass(frozen=True)
class DecayingTurbulenceConfig:
    """Generation config of a decaying-turbulence data set; serialises to JSON.

    Attributes:
        solve_resolution: grid points per side of the solver grid.
        resolution: grid points per side of the stored fields (divides
            ``solve_resolution``).
        nu: viscosity.
        peak_wavenumber: ``n_0``, the integer wavenumber where the initial spectrum peaks.
        energy: initial kinetic energy ``(1/2) <|u|^2>``.
        t_warmup: time run before the first stored frame (a whole number of frames).
        frame_interval: time between stored frames.
        n_frames: frames stored after the warm-up (the input ``w(t_warmup)`` is the
            stored ``inputs``, the frames are at ``t_warmup + k frame_interval``,
            ``k = 1 .. n_frames``).
        cfl: CFL number of the ETDRK4 step.
        speed_bound: bound on ``max |u|`` for the CFL step.
        n_train, n_test: split sizes.
        seed: the random seed.
    """

    solve_resolution: int = 64
    resolution: int = 32
    nu: float = 2e-3
    peak_wavenumber: float = 4.0
    energy: float = 0.5
    t_warmup: float = 0.25
    frame_interval: float = 0.025
    n_frames: int = 20
    cfl: float = DEFAULT_CFL
    speed_bound: float = 5.0
    n_train: int = 300
    n_test: int = 50
    seed: int = 0

    def __post_init__(self):
        name = "DecayingTurbulenceConfig"
        check_integers(self, ("solve_resolution", "resolution", "n_frames", "n_train", "n_test"))
        check_strided_grid(name, self.solve_resolution, self.resolution)
        check_positive(
            self, ("nu", "peak_wavenumber", "energy", "frame_interval", "cfl", "speed_bound")
        )
        warmup = self.t_warmup / self.frame_interval
        if not (self.t_warmup >= 0 and math.isclose(warmup, round(warmup), abs_tol=1e-9)):
            raise ValueError(
                f"{name} expects t_warmup >= 0, a whole number of frame intervals; got "
                f"t_warmup={self.t_warmup}, frame_interval={self.frame_interval}"
            )

    @property
    def subsample(self) -> int:
        return self.solve_resolution // self.resolution

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)


def _batch_solver(config: DecayingTurbulenceConfig):
    s, r = config.solve_resolution, config.subsample
    stepper, steps = make_stepper(
        s,
        nu=config.nu,
        record_every=config.frame_interval,
        speed=config.speed_bound,
        cfl=config.cfl,
        max_dt=config.frame_interval,
    )
    warmup = round(config.t_warmup / config.frame_interval)

    def one(key):
        w0 = mcwilliams_vorticity(
            key,
            s,
            peak_wavenumber=config.peak_wavenumber,
            energy=config.energy,
            dtype=jnp.float32,
        )
        frames = rollout(stepper, w0, num_frames=warmup + config.n_frames, steps_per_frame=steps)
        start = w0 if warmup == 0 else frames[warmup - 1]
        return start[::r, ::r], frames[warmup:, ::r, ::r]

    return jax.jit(jax.vmap(one))


def generate_decaying_turbulence(
    config: DecayingTurbulenceConfig, *, batch_size: int = 16, progress=None
) -> dict[str, OperatorDataset]:
    """The train and test splits: inputs ``w(t_warmup)`` ``(N, 1, s, s)``, outputs the
    next ``n_frames`` frames ``(N, n_frames, s, s)``, float32."""
    inputs, outputs = solve_in_batches(
        _batch_solver(config),
        seed=config.seed,
        n_total=config.n_train + config.n_test,
        batch_size=batch_size,
        progress=progress,
    )
    if not np.all(np.isfinite(outputs)):
        raise ValueError(
            "generate_decaying_turbulence produced non-finite vorticity: lower cfl or raise "
            "speed_bound"
        )
    x = np.arange(config.resolution) / config.resolution
    return train_test_splits(inputs[:, None], outputs, config.n_train, (x, x), config.to_dict())
