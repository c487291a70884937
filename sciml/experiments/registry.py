"""The model registry, the built-in models' builders, and plugins.

A model is registered by a builder ``build(spec, *, key, **config)``: ``spec`` is the
:class:`~sciml.tasks.ModelSpec` of the task's data, and the builder's keyword arguments
(with their defaults) are the model's config, the ``[model]`` table of an experiment
that ``--set model.KEY=VALUE`` reaches. The built-in models register themselves below
exactly as a user's do::

    @sciml.register_model("my-cnn")
    def build(spec, *, key, width: int = 16):
        return MyCNN(spec.in_channels, spec.out_channels, width, key=key)

Plugins are modules that register models or tasks when imported: ``--plugin MODULE``
on the command line, or the ``sciml.plugins`` entry-point group of an installed package.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import diffrax
import jax
import numpy as np

from sciml.models import (
    FNO,
    DeepONet,
    EStableNet,
    MgNO,
    NeuralFlowOperator,
    NeuralODEOperator,
    OperatorVectorField,
    PODBasis,
    PODDeepONet,
    RecurrentFNO,
    SpaceTimeFNO,
    UNet,
    fourier_vector_field,
)
from sciml.models.mgno import PAPER_SMOOTHING
from sciml.models.neural_ode import make_adjoint, make_solver
from sciml.spectral import each_axis
from sciml.tasks import ModelSpec, _check_free, get_task, register_task, task_names

__all__ = [
    "build_model",
    "get_task",
    "load_plugins",
    "model_config",
    "model_names",
    "register_model",
    "register_task",
    "task_names",
]

Builder = Callable[..., Any]
_MODELS: dict[str, Builder] = {}


def register_model(name: str) -> Callable[[Builder], Builder]:
    """Register ``build(spec, *, key, **config)`` under ``name``; a decorator.

    Raises:
        ValueError: if ``name`` is taken by another builder, or the builder does not
            take ``spec`` and a keyword-only ``key``.
    """

    def decorator(builder: Builder) -> Builder:
        parameters = inspect.signature(builder).parameters
        if "key" not in parameters or parameters["key"].kind != inspect.Parameter.KEYWORD_ONLY:
            raise ValueError(
                f"the builder of model {name!r} must be build(spec, *, key, **config); "
                f"{builder.__qualname__} takes {list(parameters)}"
            )
        _check_free(_MODELS, "model", name, builder)
        _MODELS[name] = builder
        return builder

    return decorator


def model_names() -> tuple[str, ...]:
    """The registered model names, built-in ones first."""
    return tuple(_MODELS)


def _builder(name: str) -> Builder:
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(_MODELS)}")
    return _MODELS[name]


def model_config(name: str, values: Mapping[str, Any] = {}) -> dict[str, Any]:
    """The full config of model ``name``: its builder's defaults updated by ``values``.

    Raises:
        ValueError: for an unknown model, or a key the builder does not take (the
            error lists the valid keys).
    """
    parameters = inspect.signature(_builder(name)).parameters
    keys = {
        p.name: p.default
        for p in parameters.values()
        if p.kind == inspect.Parameter.KEYWORD_ONLY and p.name != "key"
    }
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise ValueError(
            f"unknown key(s) model.{', model.'.join(unknown)} for model {name!r}; valid keys: "
            f"{', '.join(f'model.{k}' for k in keys) or '(none)'}"
        )
    config = {k: v for k, v in keys.items() if v is not inspect.Parameter.empty}
    config.update(values)
    config = {k: _lists(v) for k, v in config.items()}  # one form, as TOML reads it back
    missing = sorted(set(keys) - set(config))
    if missing:
        raise ValueError(f"model {name!r} needs model.{', model.'.join(missing)}")
    return config


def build_model(name: str, spec: ModelSpec, config: Mapping[str, Any], *, key: jax.Array):
    """The model ``name`` built for ``spec`` with ``config`` (see :func:`model_config`)."""
    return _builder(name)(spec, key=key, **_tuples(model_config(name, config)))


def _lists(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


def _tuples(value: Any) -> Any:
    """TOML arrays as tuples, the form the models' static fields take."""
    if isinstance(value, Mapping):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    return value


def load_plugins(modules: Iterable[str] = (), *, entry_points: bool = True) -> list[str]:
    """Import plugin modules (they register their models and tasks as they load).

    Args:
        modules: module names, as ``--plugin`` gives them.
        entry_points: also load the ``sciml.plugins`` entry-point group.

    Returns:
        The names of the modules loaded.

    Raises:
        ValueError: a module that cannot be imported, with the reason.
    """
    loaded = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ValueError(f"cannot import plugin module {module!r}: {error}") from None
        loaded.append(module)
    if entry_points:
        for entry in importlib.metadata.entry_points(group="sciml.plugins"):
            entry.load()
            loaded.append(entry.value)
    return loaded


# ------------------------------------------------------------------ the built-in models


def _modes(modes: int | Sequence[int], dims: int) -> tuple[int, ...]:
    return tuple(int(m) for m in each_axis(modes, dims))


@register_model("fno")
def fno(
    spec: ModelSpec,
    *,
    key: jax.Array,
    modes: int | Sequence[int] = 12,
    width: int = 32,
    n_layers: int = 4,
    projection_channels: int = 128,
    padding: int | Sequence[int] = 0,
    positional_embedding: bool = True,
):
    """The FNO (Li et al., ICLR 2021); on frames, the recurrent FNO-2D of its
    Navier–Stokes experiments (one frame at a time, fed back)."""
    model = RecurrentFNO if spec.frames is not None else FNO
    channels = spec.frames if spec.frames is not None else (spec.in_channels, spec.out_channels)
    return model(
        *channels,
        _modes(modes, len(spec.grid)),
        width,
        n_layers,
        projection_channels=projection_channels,
        padding=tuple(padding) if isinstance(padding, Sequence) else padding,
        positional_embedding=positional_embedding,
        key=key,
    )


@register_model("fno-ar")
def fno_autoregressive(
    spec: ModelSpec,
    *,
    key: jax.Array,
    modes: int | Sequence[int] = 16,
    width: int = 32,
    n_layers: int = 4,
    projection_channels: int = 64,
):
    """An autoregressive FNO: one step maps ``u(t)`` to ``u(t + Delta)``, applied to its
    own output for every output frame (the recurrent FNO with the channels as frames)."""
    stepped = dataclasses.replace(spec, frames=(spec.in_channels, spec.out_channels))
    options = dict(modes=modes, width=width, n_layers=n_layers)
    return fno(stepped, key=key, projection_channels=projection_channels, **options)


@register_model("fno3d")
def fno3d(
    spec: ModelSpec,
    *,
    key: jax.Array,
    modes: int | Sequence[int] = 8,
    width: int = 20,
    n_layers: int = 4,
    time_padding: int = 6,
    projection_channels: int = 128,
):
    """The space-time FNO-3D of the FNO paper's Navier–Stokes experiments (frames only)."""
    if spec.frames is None:
        raise ValueError("model 'fno3d' maps input frames to output frames; the task has no frames")
    return SpaceTimeFNO(
        *spec.frames,
        _modes(modes, len(spec.grid) + 1),
        width,
        n_layers,
        time_padding=time_padding,
        projection_channels=projection_channels,
        key=key,
    )


@register_model("deeponet")
def deeponet(
    spec: ModelSpec,
    *,
    key: jax.Array,
    n_basis: int = 128,
    branch: str = "mlp",
    branch_width: int = 128,
    branch_depth: int = 2,
    conv_channels: Sequence[int] = (16, 32, 64, 64),
    trunk_width: int = 128,
    trunk_depth: int = 3,
    fourier_features: int = 0,
):
    """DeepONet (Lu et al., Nat. Mach. Intell. 2021) on the task's grid."""
    return DeepONet(
        spec.in_channels,
        spec.out_channels,
        spec.grid,
        n_basis=n_basis,
        branch=branch,
        branch_width=branch_width,
        branch_depth=branch_depth,
        conv_channels=conv_channels,
        trunk_width=trunk_width,
        trunk_depth=trunk_depth,
        fourier_features=fourier_features,
        periodic=spec.periodic,
        key=key,
    )


@register_model("pod-deeponet")
def pod_deeponet(
    spec: ModelSpec,
    *,
    key: jax.Array,
    n_basis: int = 64,
    branch: str = "mlp",
    branch_width: int = 128,
    branch_depth: int = 2,
    conv_channels: Sequence[int] = (16, 32, 64, 64),
):
    """POD-DeepONet (Lu et al., CMAME 2022): the trunk is the POD basis of the training
    outputs, fitted here from ``spec.targets`` (an empty basis when rebuilt)."""
    if spec.targets is not None:
        pod = PODBasis.fit(np.asarray(spec.targets), n_basis)
    else:
        pod = PODBasis.empty(n_basis, spec.out_channels, spec.grid)
    return PODDeepONet(
        spec.in_channels,
        pod,
        branch=branch,
        branch_width=branch_width,
        branch_depth=branch_depth,
        conv_channels=conv_channels,
        periodic=spec.periodic,
        key=key,
    )


def _padding(padding: str | None, spec: ModelSpec) -> str:
    """Circular padding on a periodic domain, zero (Dirichlet) padding elsewhere."""
    return padding or ("circular" if spec.periodic else "zeros")


@register_model("mgno")
def mgno(
    spec: ModelSpec,
    *,
    key: jax.Array,
    channels: int = 24,
    n_layers: int = 4,
    smoothing: Sequence[Sequence[int]] = PAPER_SMOOTHING,
    padding: str | None = None,
):
    """MgNO (He, Liu, Xu, ICLR 2024); padding follows the domain unless given."""
    return MgNO(
        spec.in_channels,
        spec.out_channels,
        spec.grid,
        channels=channels,
        n_layers=n_layers,
        smoothing=smoothing,
        padding=_padding(padding, spec),
        key=key,
    )


@register_model("unet")
def unet(
    spec: ModelSpec,
    *,
    key: jax.Array,
    channels: int = 32,
    levels: int = 4,
    padding: str | None = None,
):
    """The U-Net baseline; padding follows the domain unless given."""
    return UNet(
        spec.in_channels,
        spec.out_channels,
        spec.grid,
        channels=channels,
        levels=levels,
        padding=_padding(padding, spec),
        key=key,
    )


def _gradient_flow_data(name: str, spec: ModelSpec):
    from sciml.data.gradient_flow import GradientFlowConfig

    if not isinstance(spec.data, GradientFlowConfig):
        raise ValueError(
            f"model {name!r} learns a gradient flow; use it on allen-cahn or cahn-hilliard"
        )
    return spec.data


@register_model("estable")
def estable(spec: ModelSpec, *, key: jax.Array, blocks_per_frame: int = 2, n_basis: int = 12):
    """EStableNet (Fan et al., arXiv 2309.10002) for the task's gradient flow: SAV blocks
    whose modified energy cannot increase, ``blocks_per_frame`` per frame interval."""
    data = _gradient_flow_data("estable", spec)
    return EStableNet(
        data.equation,
        data.n_frames,
        blocks_per_frame,
        length=data.length,
        ndim=len(spec.grid),
        eps=data.eps,
        step=data.frame_interval / blocks_per_frame,
        mobility=1.0 if data.equation == "allen-cahn" else data.mobility,
        max_wavenumber=np.pi * data.resolution / data.length,
        n_basis=n_basis,
        key=key,
    )


def _ode_options(spec, solver, adjoint, dt0, rtol, atol) -> dict[str, Any]:
    """The diffrax options of the neural ODEs: a fixed step (``dt0``, default one frame
    interval) or, with ``rtol``, a PID controller."""
    interval = getattr(spec.data, "frame_interval", None)
    if interval is None:
        raise ValueError("the neural ODE models learn trajectories; use them on burgers-trajectory")
    controller = (
        diffrax.ConstantStepSize() if rtol is None else diffrax.PIDController(rtol=rtol, atol=atol)
    )
    return {
        "times": tuple(interval * np.arange(1, spec.out_channels + 1)),
        "solver": make_solver(solver),
        "adjoint": make_adjoint(adjoint),
        "dt0": interval if dt0 is None else dt0,
        "stepsize_controller": controller,
    }


@register_model("neural-ode")
def neural_ode(
    spec: ModelSpec,
    *,
    key: jax.Array,
    width: int = 16,
    modes: int | Sequence[int] = 16,
    n_layers: int = 1,
    projection_channels: int = 32,
    solver: str = "tsit5",
    adjoint: str = "recursive-checkpoint",
    dt0: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
):
    """State-space neural ODE ``du/dt = G(u)``, ``G`` an FNO; states at the frame times."""
    options = _ode_options(spec, solver, adjoint, dt0, rtol, atol)
    field_key, _ = jax.random.split(key)
    operator = FNO(
        spec.in_channels,
        spec.in_channels,
        _modes(modes, len(spec.grid)),
        width,
        n_layers,
        projection_channels=projection_channels,
        key=field_key,
    )
    return NeuralODEOperator(OperatorVectorField(operator), **options)


@register_model("neural-ode-latent")
def neural_ode_latent(
    spec: ModelSpec,
    *,
    key: jax.Array,
    width: int = 16,
    modes: int | Sequence[int] = 16,
    projection_channels: int = 32,
    solver: str = "tsit5",
    adjoint: str = "recursive-checkpoint",
    dt0: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
):
    """The continuous-depth neural operator of Chen, He and Tai (2025): lift, the flow of
    one Fourier layer in physical time, project at the frame times."""
    options = _ode_options(spec, solver, adjoint, dt0, rtol, atol)
    field_key, key = jax.random.split(key)
    field = fourier_vector_field(width, _modes(modes, len(spec.grid)), key=field_key)
    return NeuralFlowOperator(
        spec.in_channels,
        1,
        field,
        projection_channels=projection_channels,
        key=key,
        **options,
    )


# The built-in tasks register themselves in sciml.tasks; importing them here makes every
# built-in part known once the registry is.
task_names()
