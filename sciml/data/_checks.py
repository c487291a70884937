"""Checks shared by the generation configs: every config names itself and the field
that is wrong, in the same words."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def check_integers(config: Any, fields: Iterable[str], minimum: int = 1) -> None:
    """Each field must be an ``int`` (not a bool) of at least ``minimum``."""
    for field in fields:
        value = getattr(config, field)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(
                f"{type(config).__name__} expects an integer {field} >= {minimum}, got {value!r}"
            )


def check_positive(config: Any, fields: Iterable[str]) -> None:
    """Each field must be a finite real number > 0."""
    for field in fields:
        value = getattr(config, field)
        if not (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
        ):
            raise ValueError(f"{type(config).__name__} expects a finite {field} > 0, got {value!r}")


def check_whole_steps(config: Any, name: str, span: float, dt: float) -> None:
    """``span / dt`` must be a whole number: the solver lands on ``span`` exactly."""
    ratio = span / dt
    if abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio):
        raise ValueError(
            f"{type(config).__name__} expects {name} to be a whole number of steps dt, got "
            f"{name} = {span}, dt = {dt} (ratio {ratio})"
        )


def check_strided_grid(name: str, solve_resolution: int, resolution: int) -> None:
    """A periodic solve on an even ``solve_resolution >= 4`` grid whose stored grid, of
    ``resolution`` points, is a strided subgrid."""
    if solve_resolution < 4 or solve_resolution % 2:
        raise ValueError(f"{name} expects an even solve_resolution >= 4; got {solve_resolution}")
    if solve_resolution % resolution:
        raise ValueError(
            f"{name} expects resolution to divide solve_resolution (the stored grid is "
            f"a strided subgrid); got solve_resolution={solve_resolution}, "
            f"resolution={resolution}"
        )
