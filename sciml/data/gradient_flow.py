"""Allen–Cahn and Cahn–Hilliard data sets: ``phi(t_0) -> (phi(t_0 + j Delta))_j``.

Each sample starts from random data ``phi_init = mean + amplitude * U(-1, 1)``, i.i.d. at
the grid points, evolves to ``t_0 = t_input`` (past the noise-smoothing transient) and
then records ``n_frames + n_extra_frames`` frames a time ``frame_interval`` apart. The
input is ``phi(t_0)``, ``(1, *grid)``; the output is the frames, ``(n_frames +
n_extra_frames, *grid)``: the first ``n_frames`` (up to ``t_1 = t_0 + n_frames *
frame_interval``) are what a model is trained on, the others are for judging a model
rolled out past its training horizon.

The solves use :class:`sciml.solvers.gradient_flow.SAV` of order 2 (Crank–Nicolson SAV,
Shen, Xu and Yang 2018) with stabilisation ``beta = 2`` and a fixed step, in float32,
batched with ``jit(vmap(...))`` (see :mod:`sciml.data.batched`).
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sciml.data._checks import check_integers, check_positive, check_whole_steps
from sciml.data.batched import solve_in_batches, train_test_splits
from sciml.data.dataset import OperatorDataset, config_to_dict
from sciml.solvers.gradient_flow import EQUATIONS, SAV, GradientFlow, rollout

__all__ = ["GradientFlowConfig", "generate_gradient_flow", "make_flow"]


@dataclasses.dataclass(frozen=True)
class GradientFlowConfig:
    """Generation config of a gradient-flow data set; serialises to JSON.

    Attributes:
        equation: ``"allen-cahn"`` or ``"cahn-hilliard"``.
        resolution: grid points per axis of the 2-D grid.
        length: side of the periodic square.
        eps: interface parameter.
        mobility: Cahn–Hilliard mobility ``M``.
        initial_mean, initial_amplitude: ``phi_init = mean + amplitude * U(-1, 1)``.
        t_input: the time ``t_0`` of the input.
        frame_interval: time between two frames.
        n_frames: frames a model is trained on.
        n_extra_frames: further frames, past the training horizon.
        dt: the solver's step; ``t_input`` and ``frame_interval`` must be whole numbers of
            steps.
        sav_stabilisation: ``beta`` of the SAV scheme.
        n_train, n_test: split sizes.
        seed: sample ``i`` uses ``fold_in(key(seed), i)``.
    """

    equation: str = "allen-cahn"
    resolution: int = 64
    length: float = 1.0
    eps: float = 0.02
    mobility: float = 1.0
    initial_mean: float = 0.0
    initial_amplitude: float = 0.9
    t_input: float = 5.0
    frame_interval: float = 2.5
    n_frames: int = 4
    n_extra_frames: int = 4
    dt: float = 0.02
    sav_stabilisation: float = 2.0
    n_train: int = 128
    n_test: int = 32
    seed: int = 0

    def __post_init__(self):
        if self.equation not in EQUATIONS:
            raise ValueError(
                f"GradientFlowConfig expects equation to be one of {', '.join(EQUATIONS)}, got "
                f"{self.equation!r}"
            )
        check_integers(self, ("resolution",), minimum=8)
        check_positive(self, ("length", "eps", "mobility", "t_input", "frame_interval", "dt"))
        check_integers(self, ("n_frames", "n_train", "n_test"))
        check_integers(self, ("n_extra_frames",), minimum=0)
        for name in ("t_input", "frame_interval"):
            check_whole_steps(self, name, getattr(self, name), self.dt)

    @property
    def t_final(self) -> float:
        """``t_1``, the training horizon."""
        return self.t_input + self.n_frames * self.frame_interval

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)


def make_flow(config: GradientFlowConfig, dtype=jnp.float32) -> GradientFlow:
    """The :class:`GradientFlow` of ``config``."""
    return GradientFlow(
        config.equation,
        (config.resolution, config.resolution),
        length=config.length,
        eps=config.eps,
        mobility=config.mobility,
        dtype=dtype,
    )


def _make_batch_solver(config: GradientFlowConfig):
    flow = make_flow(config)
    scheme = SAV(flow, config.dt, order=2, stabilisation=config.sav_stabilisation)
    steps_to_input = round(config.t_input / config.dt)
    steps_per_frame = round(config.frame_interval / config.dt)
    n_out = config.n_frames + config.n_extra_frames
    shape = (config.resolution, config.resolution)

    def one(key):
        noise = jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0)
        phi_init = config.initial_mean + config.initial_amplitude * noise
        start, _ = rollout(scheme, phi_init, steps_to_input, save_every=steps_to_input)
        phi0 = start[-1]
        frames, _ = rollout(scheme, phi0, n_out * steps_per_frame, save_every=steps_per_frame)
        return phi0[None], frames[1:]

    return jax.jit(jax.vmap(one))


def generate_gradient_flow(
    config: GradientFlowConfig, *, batch_size: int = 32, progress=None
) -> dict[str, OperatorDataset]:
    """Generate the train and test splits of ``config``.

    Returns:
        ``{"train", "test"}``: inputs ``phi(t_0)`` ``(N, 1, s, s)`` and outputs the frames
        ``(N, n_frames + n_extra_frames, s, s)`` in float32, coordinates ``(x, y)``.
    """
    inputs, outputs = solve_in_batches(
        _make_batch_solver(config),
        seed=config.seed,
        n_total=config.n_train + config.n_test,
        batch_size=batch_size,
        progress=progress,
    )
    if not (np.all(np.isfinite(inputs)) and np.all(np.isfinite(outputs))):
        raise ValueError(f"gradient-flow generation produced non-finite values for {config}")
    x = np.arange(config.resolution) * config.length / config.resolution
    return train_test_splits(inputs, outputs, config.n_train, (x, x), config.to_dict())
