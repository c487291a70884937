"""An experiment as data: task x model x training, resolved from presets shipped as TOML.

An experiment is written as one TOML document::

    task = "darcy"
    preset = "quick"
    normalise = "gaussian"     # or "none"
    loss_space = "output"      # or "normalised": the loss on the normalised fields
    frames = [10, 10]          # trajectories only: frames in -> frames out
    notes = "..."

    [data]                     # the task's data config (DarcyConfig, ...)
    [model]                    # name = "fno" and the builder's keyword arguments
    [train]                    # TrainConfig
    [recipe]                   # how to train: name = "fit" (the default, one call of fit)
                               # or a staged recipe, and its keyword arguments

A preset is a table of ``sciml/experiments/configs/TASK.toml`` (or of a user task's
``presets``): the task's data, training and options for that preset, and under
``models.NAME`` what differs for one model (its ``model`` table, and any ``train``,
``data``, ``notes`` it changes). A model without an entry runs with the task's data and
training and its builder's defaults, so a user's model joins every task as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from sciml._io import parse_toml_value, read_toml, toml_text
from sciml.experiments.registry import get_task, model_config, recipe_config
from sciml.train import TrainConfig

CONFIGS = Path(__file__).parent / "configs"
_TOP_LEVEL = ("task", "preset", "notes", "normalise", "loss_space", "frames")
LOSS_SPACES = ("output", "normalised")
_SECTIONS = ("data", "model", "train", "recipe")
FramePair = tuple[int, int]  # checked to be a pair by Experiment.__post_init__


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One run's whole configuration: what data, what model, how to train.

    Attributes:
        task, model, preset: the names ``sciml train TASK --model MODEL --preset NAME``
            takes.
        data: the task's data config (a frozen dataclass).
        model_config: the model builder's keyword arguments, every one given.
        train: the training recipe.
        normalise: ``"gaussian"`` trains on per-point standardised inputs and outputs,
            ``"none"`` on the raw fields.
        loss_space: where the training loss compares the prediction with the target:
            ``"output"`` (default) in the data's units, the model's decoded output, as
            the FNO reference code; ``"normalised"`` in the output normaliser's units,
            ``loss(encode(prediction), encode(target))``, as Lu et al.'s (2022) scripts
            do (needs ``normalise = "gaussian"``). The test metrics are in the data's
            units either way.
        frames: ``(n_in, n_out)`` to map the first ``n_in`` frames of trajectory data to
            the next ``n_out``; ``None`` maps the stored input to the stored output.
        notes: what the preset changes from the paper, in words.
        recipe: the training recipe's name (``"fit"``: one call of :func:`fit`; see
            :func:`~sciml.experiments.registry.register_recipe`).
        recipe_config: the recipe's keyword arguments, every one given.
    """

    task: str
    model: str
    preset: str
    data: Any
    model_config: dict[str, Any]
    train: TrainConfig
    normalise: str = "gaussian"
    loss_space: str = "output"
    frames: tuple[int, int] | None = None
    notes: str = ""
    recipe: str = "fit"
    recipe_config: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.normalise not in ("gaussian", "none"):
            raise ValueError(f"normalise must be 'gaussian' or 'none', got {self.normalise!r}")
        if self.loss_space not in LOSS_SPACES:
            raise ValueError(
                f"loss_space must be 'output' or 'normalised', got {self.loss_space!r}"
            )
        if self.loss_space == "normalised" and self.normalise != "gaussian":
            raise ValueError(
                'loss_space = "normalised" needs normalise = "gaussian" (there is no '
                f"normaliser to take the loss in), got normalise = {self.normalise!r}"
            )
        if self.frames is not None and (
            len(self.frames) != 2 or min(int(n) for n in self.frames) < 1
        ):
            raise ValueError(
                f"frames must be [input frames, output frames], both >= 1, got {self.frames!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The experiment as the TOML document's dict (``frames`` left out when unset,
        ``recipe`` when it is the plain ``fit``, ``loss_space`` when it is ``"output"``,
        so that such runs keep their hashes)."""
        data = {k: v for k, v in self.data.to_dict().items() if k != "kind"}
        recipe = {"name": self.recipe, **self.recipe_config}
        return {
            "task": self.task,
            "preset": self.preset,
            "notes": self.notes,
            "normalise": self.normalise,
            **({} if self.loss_space == "output" else {"loss_space": self.loss_space}),
            "frames": None if self.frames is None else list(self.frames),
            "data": data,
            "model": {"name": self.model, **self.model_config},
            "train": self.train.to_dict(),
            **({} if recipe == {"name": "fit"} else {"recipe": recipe}),
        }

    def to_toml(self) -> str:
        return toml_text(_plain(self.to_dict()))

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> Experiment:
        """The experiment of a TOML document's dict; every key is checked.

        Raises:
            ValueError: for an unknown task, model or key (naming the valid ones), or a
                bad value.
        """
        _check_keys("", table, (*_TOP_LEVEL, *_SECTIONS))
        for name in ("task", "model"):
            if name not in table:
                raise ValueError(f"an experiment needs {name!r}; the config has none")
        task = get_task(table["task"])
        model = dict(table["model"])
        name = model.pop("name", None)
        if not isinstance(name, str):
            raise ValueError('an experiment\'s [model] table needs name = "MODEL"')
        frames = table.get("frames")
        recipe = dict(table.get("recipe", {}))
        recipe_name = recipe.pop("name", "fit")
        if not isinstance(recipe_name, str):
            raise ValueError(f"[recipe] name must be a string, got {recipe_name!r}")
        return cls(
            task=task.name,
            model=name,
            preset=str(table.get("preset", "custom")),
            data=typed_config(task.data_config, table.get("data", {}), "data"),
            model_config=model_config(name, model),
            train=typed_config(TrainConfig, table.get("train", {}), "train"),
            normalise=table.get("normalise", "gaussian"),
            loss_space=table.get("loss_space", "output"),
            frames=None if frames is None else cast(FramePair, tuple(int(n) for n in frames)),
            notes=str(table.get("notes", "")),
            recipe=recipe_name,
            recipe_config=recipe_config(recipe_name, recipe),
        )


def typed_config(cls: type, values: Mapping[str, Any], section: str):
    """``cls(**values)`` for a frozen dataclass config; unknown keys name the valid ones."""
    values = {k: v for k, v in values.items() if not (k == "kind" and v == cls.__name__)}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _check_keys(section, values, tuple(fields))

    def is_tuple(field: dataclasses.Field) -> bool:
        return isinstance(field.default, tuple) or str(field.type).startswith("tuple")

    converted = {
        k: tuple(v) if isinstance(v, list) and is_tuple(fields[k]) else v for k, v in values.items()
    }
    return cls(**converted)


def _check_keys(section: str, values: Mapping[str, Any], valid: Sequence[str]) -> None:
    unknown = sorted(set(values) - set(valid))
    if unknown:
        prefix = f"{section}." if section else ""
        raise ValueError(
            f"unknown key(s) {', '.join(prefix + k for k in unknown)}; valid keys: "
            f"{', '.join(prefix + k for k in valid)}"
        )


def presets(task: str) -> dict[str, Any]:
    """The preset tables of ``task``: the shipped TOML file, then the task's own."""
    path = CONFIGS / f"{task}.toml"
    tables = read_toml(path) if path.is_file() else {}
    return {**tables, **get_task(task).presets}


def preset_table(task: str, model: str, preset: str) -> dict[str, Any]:
    """The experiment's TOML dict of ``task`` x ``model`` x ``preset``, before overrides."""
    tables = presets(task)
    if preset not in tables:
        raise ValueError(
            f"unknown preset {preset!r}; expected one of {', '.join(tables) or '(none)'} "
            f"(task {task!r})"
        )
    base = {k: v for k, v in tables[preset].items() if k != "models"}
    merged = merge(base, tables[preset].get("models", {}).get(model, {}))
    merged["model"] = {"name": model, **merged.get("model", {})}
    return {"task": task, "preset": preset, **merged}


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` laid over it, table by table."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.learning_rate=5e-4"`` -> ``(["train", "learning_rate"], 0.0005)``.

    The value is read as a TOML value (numbers, booleans, arrays, quoted strings); a
    value that is not one is taken as a bare string (``train.schedule=step``).
    """
    path, equals, value = text.partition("=")
    keys = path.strip().split(".")
    if not equals or not all(keys):
        raise ValueError(f"--set expects SECTION.KEY=VALUE (e.g. model.width=64), got {text!r}")
    try:
        parsed = parse_toml_value(value.strip())
    except ValueError:
        parsed = value.strip()
    return keys, parsed


def with_overrides(table: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``table`` with every ``SECTION.KEY=VALUE`` of ``overrides`` set in it."""
    table = merge({}, table)
    for text in overrides:
        keys, value = parse_override(text)
        if len(keys) == 1:
            _check_keys("", {keys[0]: value}, _TOP_LEVEL[2:])
        elif keys[0] not in _SECTIONS or len(keys) != 2:
            raise ValueError(
                f"--set {text!r}: expected one of {', '.join(_TOP_LEVEL[2:])} or "
                f"{', '.join(s + '.KEY' for s in _SECTIONS)}"
            )
        target = table
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return table


def get_experiment(
    task: str, model: str, preset: str = "quick", overrides: Sequence[str] = ()
) -> Experiment:
    """The experiment of a preset, with ``--set`` style overrides applied."""
    return Experiment.from_dict(with_overrides(preset_table(task, model, preset), overrides))


def load_experiment(path: str | Path, overrides: Sequence[str] = ()) -> Experiment:
    """The experiment written in a TOML file (``sciml show`` or a run's ``config.toml``)."""
    return Experiment.from_dict(with_overrides(read_toml(path), overrides))


def replace(experiment: Experiment, **changes: Any) -> Experiment:
    """``experiment`` with sections replaced: ``data=``, ``train=`` take a dict of the
    fields to change or a config; ``model_config=`` and ``recipe_config=`` a dict of
    keys to change."""
    updates: dict[str, Any] = {}
    for name, value in changes.items():
        current = getattr(experiment, name)
        if isinstance(value, Mapping) and name == "model_config":
            updates[name] = model_config(experiment.model, {**current, **value})
        elif isinstance(value, Mapping) and name == "recipe_config":
            updates[name] = recipe_config(experiment.recipe, {**current, **value})
        elif isinstance(value, Mapping):
            updates[name] = dataclasses.replace(current, **value)
        else:
            updates[name] = value
    return dataclasses.replace(experiment, **updates)


def _plain(value: Any) -> Any:
    """Tuples as lists, numpy scalars as Python numbers: what TOML and JSON write."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value
