"""Test configuration.

float64 is switched on for the whole suite so that verification tests can measure
convergence orders; library code takes its dtype from its inputs (float32 unless the
caller passes float64), so float32 paths are still exercised by passing float32 data.
"""

import jax
import pytest

jax.config.update("jax_enable_x64", True)

# Tiny experiments: every task and built-in model at a size that trains in seconds.


TRAIN = ["train.epochs=2", "train.batch_size=4"]
DATA = {
    "darcy": ["data.fine_resolution=17", "data.subsample=2", "data.n_train=8", "data.n_test=4"],
    "burgers": [
        "data.fine_resolution=64",
        "data.subsample=2",
        "data.n_train=8",
        "data.n_test=4",
        "data.dt=0.05",
    ],
    "navier-stokes": [
        "data.solve_resolution=16",
        "data.resolution=8",
        "data.t_final=5",
        "data.n_train=6",
        "data.n_test=2",
        "frames=[2, 3]",
    ],
    "allen-cahn": [
        "data.resolution=16",
        "data.n_train=8",
        "data.n_test=4",
        "data.n_frames=2",
        "data.n_extra_frames=2",
    ],
    "burgers-trajectory": [
        "data.fine_resolution=64",
        "data.subsample=4",
        "data.n_train=8",
        "data.n_test=4",
        "data.n_frames=2",
        "data.n_extra_frames=2",
        "data.dt=0.01",
    ],
}
DATA["cahn-hilliard"] = DATA["allen-cahn"]
ODE = ["model.width=4", "model.modes=4", "model.projection_channels=4", "model.solver=heun"]
MODEL = {
    "fno": ["model.modes=3", "model.width=6", "model.n_layers=2", "model.projection_channels=8"],
    "fno3d": [
        "model.modes=[3, 3, 2]",
        "model.width=4",
        "model.n_layers=1",
        "model.time_padding=2",
        "model.projection_channels=8",
    ],
    "sfno": [
        "model.modes=[2, 2, 2]",
        "model.width=4",
        "model.n_layers=1",
        "model.time_padding=2",
        "model.projection_channels=4",
    ],
    "deeponet": ["model.n_basis=8", "model.branch_width=8", "model.trunk_width=8"],
    "pod-deeponet": ["model.branch=mlp", "model.n_basis=4", "model.branch_width=8"],
    "mgno": ["model.channels=3", "model.n_layers=1", "model.smoothing=[[1, 0], [1, 0], [1, 0]]"],
    "scno": [
        "model.channels=3",
        "model.depth=2",
        "model.smoothing=[[1, 0], [1, 0], [1, 0]]",
        "model.projection_channels=4",
    ],
    "unet": ["model.channels=3", "model.levels=2"],
    "estable": ["model.blocks_per_frame=1", "model.n_basis=4"],
    "neural-ode": ODE,
    "neural-ode-latent": ODE,
    "fno-ar": ["model.width=4", "model.modes=4", "model.n_layers=1", "model.projection_channels=4"],
}


def tiny_overrides(task: str, model: str) -> list[str]:
    """``--set`` overrides that shrink ``task`` x ``model`` to seconds."""
    extra = ["model.conv_channels=[4]"] if (task, model) == ("darcy", "deeponet") else []
    return DATA[task] + MODEL.get(model, []) + TRAIN + extra


@pytest.fixture
def tiny():
    return tiny_overrides


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """One data cache for the tests of this folder: the same tiny data are made once."""
    return tmp_path_factory.mktemp("cache")
