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

import importlib
import importlib.metadata
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax

from sciml.models.deeponet import build_deeponet, build_pod_deeponet
from sciml.models.dgno import build_dgno
from sciml.models.estable import build_estable
from sciml.models.fno import build_fno, build_fno3d, build_fno_ar
from sciml.models.mgno import build_mgno
from sciml.models.multionet import build_multionet
from sciml.models.neural_ode import build_neural_ode, build_neural_ode_latent
from sciml.models.scno import build_scno
from sciml.models.sfno import build_sfno
from sciml.models.spec import ModelSpec
from sciml.models.unet import build_unet
from sciml.tasks import check_name_free, get_task, register_task, task_names

__all__ = [
    "build_model",
    "get_recipe",
    "get_task",
    "load_plugins",
    "model_config",
    "model_names",
    "recipe_config",
    "recipe_names",
    "register_model",
    "register_recipe",
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
        check_name_free(_MODELS, "model", name, builder)
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
    return _keyword_config("model", name, _builder(name), values)


def _keyword_config(
    section: str, name: str, function: Callable[..., Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """``function``'s keyword-only arguments (but ``key``) with their defaults, updated
    by ``values``: the config of a builder or a recipe, every key given."""
    parameters = inspect.signature(function).parameters
    keys = {
        p.name: p.default
        for p in parameters.values()
        if p.kind == inspect.Parameter.KEYWORD_ONLY and p.name != "key"
    }
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise ValueError(
            f"unknown key(s) {section}.{f', {section}.'.join(unknown)} for {section} {name!r}; "
            f"valid keys: {', '.join(f'{section}.{k}' for k in keys) or '(none)'}"
        )
    config = {k: v for k, v in keys.items() if v is not inspect.Parameter.empty}
    config.update(values)
    config = {k: _lists(v) for k, v in config.items()}  # one form, as TOML reads it back
    missing = sorted(set(keys) - set(config))
    if missing:
        raise ValueError(f"{section} {name!r} needs {section}.{f', {section}.'.join(missing)}")
    return config


def build_model(name: str, spec: ModelSpec, config: Mapping[str, Any], *, key: jax.Array):
    """The model ``name`` built for ``spec`` with ``config`` (see :func:`model_config`)."""
    return _builder(name)(spec, key=key, **_tuples(model_config(name, config)))


Recipe = Callable[..., Any]
_RECIPES: dict[str, Recipe] = {}


def register_recipe(name: str) -> Callable[[Recipe], Recipe]:
    """Register a training recipe ``recipe(stage, **config) -> Trained`` under ``name``.

    A recipe is how a run trains its model: ``"fit"`` (one call of
    :func:`~sciml.train.fit`) by default; a staged one (train, then unroll deeper or
    refine) calls ``stage.fit`` as often as it needs. ``stage`` is a
    :class:`sciml.experiments.recipes.Stage`; the recipe's keyword-only arguments are
    its config, the ``[recipe]`` table of an experiment (``--set recipe.KEY=VALUE``).
    """

    def decorator(recipe: Recipe) -> Recipe:
        parameters = list(inspect.signature(recipe).parameters.values())
        if not parameters or parameters[0].kind == inspect.Parameter.KEYWORD_ONLY:
            raise ValueError(
                f"the recipe {name!r} must be recipe(stage, *, **config); "
                f"{recipe.__qualname__} takes {[p.name for p in parameters]}"
            )
        check_name_free(_RECIPES, "recipe", name, recipe)
        _RECIPES[name] = recipe
        return recipe

    return decorator


def recipe_names() -> tuple[str, ...]:
    """The registered training recipes, built-in ones first."""
    _load_recipes()
    return tuple(_RECIPES)


def get_recipe(name: str) -> Recipe:
    _load_recipes()
    if name not in _RECIPES:
        raise ValueError(f"unknown recipe {name!r}; expected one of {', '.join(_RECIPES)}")
    return _RECIPES[name]


def recipe_config(name: str, values: Mapping[str, Any] = {}) -> dict[str, Any]:
    """The full config of recipe ``name``: its defaults updated by ``values``."""
    return _keyword_config("recipe", name, get_recipe(name), values)


def _load_recipes() -> None:
    # the built-in recipes register themselves in sciml.experiments.recipes (and the
    # Spectral-Refiner's in sciml.experiments.refine), which import the runner's parts;
    # imported on first use
    importlib.import_module("sciml.experiments.recipes")
    importlib.import_module("sciml.experiments.refine")
    importlib.import_module("sciml.experiments.dgno")


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
# Each builder sits beside its model; registered here exactly as a user's are.

register_model("fno")(build_fno)
register_model("fno-ar")(build_fno_ar)
register_model("fno3d")(build_fno3d)
register_model("sfno")(build_sfno)
register_model("deeponet")(build_deeponet)
register_model("pod-deeponet")(build_pod_deeponet)
register_model("mgno")(build_mgno)
register_model("multionet")(build_multionet)
register_model("dgno")(build_dgno)
register_model("scno")(build_scno)
register_model("unet")(build_unet)
register_model("estable")(build_estable)
register_model("neural-ode")(build_neural_ode)
register_model("neural-ode-latent")(build_neural_ode_latent)

# The built-in tasks register themselves in sciml.tasks; importing them here makes every
# built-in part known once the registry is.
task_names()
importlib.import_module("sciml.tasks.decaying_turbulence")  # after them: the built-ins first
