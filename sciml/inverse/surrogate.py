"""Trained operators as forward maps: load a ``sciml train`` run, or train one and cache it.

A surrogate is the model of a run folder written by :func:`sciml.experiment.run_preset`
(``sciml train``): ``results.json`` holds the preset (task, model, its keywords, the
normalisation) and ``checkpoint/`` the weights. :func:`load_surrogate` rebuilds the
model's structure from the record and reads the weights into it.
:func:`cached_surrogate` trains a preset once into the cache folder
(``$SCIML_CACHE/inverse-surrogates/<task>-<model>-<preset>-<hash of the preset>``) and
loads it from there afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

from sciml.data.dataset import cache_dir, config_hash
from sciml.data.normalise import GaussianNormaliser, NormalisedOperator
from sciml.presets import ModelConfig, Preset
from sciml.train import TrainConfig, load_model

__all__ = ["cached_surrogate", "load_surrogate"]


def _preset_from_record(record: dict[str, Any]) -> Preset:
    """The parts of a run's preset that build its model (the data config stays a dict)."""
    try:
        return Preset(
            task=record["task"],
            model=record["model"],
            name=record["preset"],
            data=record["data"],
            model_config=ModelConfig(
                record["model_config"]["name"], dict(record["model_config"]["options"])
            ),
            train=TrainConfig.from_dict(record["train"]),
            normalise=record.get("normalise", "gaussian"),
            frames=tuple(record["frames"]) if record.get("frames") else None,
        )
    except KeyError as error:
        raise ValueError(
            f"a surrogate run record needs the preset's fields; {error.args[0]!r} is missing"
        ) from None


def load_surrogate(run: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """The trained model of a ``sciml train`` run folder, and the run's record.

    Args:
        run: a folder holding ``results.json`` and ``checkpoint/``.

    Returns:
        ``(model, record)``; the model maps one input ``(C_in, *grid)`` to one output
        ``(C_out, *grid)`` in physical units.

    Raises:
        FileNotFoundError: the folder has no ``results.json`` or no checkpoint.
        ValueError: the record does not describe a model this package builds.
    """
    from sciml.experiment import build_model

    run = Path(run)
    record_path = run / "results.json"
    if not record_path.is_file():
        raise FileNotFoundError(
            f"a surrogate must be a 'sciml train' run folder with results.json; {run} has none"
        )
    record = json.loads(record_path.read_text())
    preset = _preset_from_record(record)
    grid = tuple(int(n) for n in record["resolution"])
    if preset.frames is not None:
        in_channels, out_channels = preset.frames
    else:
        in_channels, out_channels = record.get("channels", (1, 1))
    targets = np.zeros((2, out_channels, *grid), np.float32)
    network = build_model(
        preset, (in_channels, *grid), targets, key=jax.random.key(0), from_data=False
    )
    if preset.normalise == "gaussian":
        like = NormalisedOperator(
            network,
            GaussianNormaliser.fit(np.zeros((2, in_channels, *grid), np.float32)),
            GaussianNormaliser.fit(targets),
        )
    else:
        like = network
    return load_model(run / "checkpoint", like), record


def cached_surrogate(
    preset: Preset,
    *,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    channels: tuple[int, int] = (1, 1),
) -> tuple[Any, dict[str, Any], Path, bool]:
    """Train ``preset`` once into the cache (data included) and load its model.

    Args:
        preset: what to train (any ``sciml train`` preset, or one made for an inverse
            problem).
        cache: the cache folder (default ``$SCIML_CACHE`` or ``~/.cache/sciml``); the
            data set is cached there too.
        progress: show progress bars while generating and training.
        channels: ``(C_in, C_out)`` of the model when the preset has no frames, written
            into the record so that :func:`load_surrogate` can rebuild it.

    Returns:
        ``(model, record, folder, from_cache)``.
    """
    from sciml._io import write_json
    from sciml.experiment import run_preset

    root = Path(cache) if cache is not None else cache_dir()
    name = f"{preset.task}-{preset.model}-{preset.name}-{config_hash(preset.to_dict())}"
    folder = root / "inverse-surrogates" / name
    record_path = folder / "results.json"
    if record_path.is_file() and "channels" in json.loads(record_path.read_text()):
        model, record = load_surrogate(folder)
        return model, record, folder, True
    if folder.exists():  # an interrupted run: train it again rather than trust it
        import shutil

        shutil.rmtree(folder)
    record = run_preset(preset, folder, cache=cache, progress=progress)
    # run_preset wrote results.json; add the channels so the model can be rebuilt.
    stored = json.loads((folder / "results.json").read_text())
    stored["channels"] = list(channels)
    write_json(folder / "results.json", stored)
    model, record = load_surrogate(folder)
    return model, record, folder, False
