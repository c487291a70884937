"""The on-disk cache of generated data sets, named by a hash of their config."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sciml.data.dataset import OperatorDataset, cache_dir, config_hash, load_splits, save_splits

logger = logging.getLogger(__name__)


def cache_path(name: str, config: Mapping[str, Any], directory: str | os.PathLike | None = None):
    """``<directory>/<name>-<hash of config>.h5``; directory defaults to `cache_dir()`."""
    directory = Path(directory) if directory is not None else cache_dir()
    return directory / f"{name}-{config_hash(config)}.h5"


def load_or_generate(
    name: str,
    config: Mapping[str, Any],
    generate: Callable[[], Mapping[str, OperatorDataset]],
    directory: str | os.PathLike | None = None,
) -> tuple[dict[str, OperatorDataset], bool]:
    """Read the cached data set made by ``config``, or generate and cache it.

    A cache file that cannot be read, is incomplete, fails its checksums or was made
    by another config is never trusted: it is reported, generated afresh and
    replaced (atomically).

    Returns:
        ``(splits, from_cache)``.
    """
    path = cache_path(name, config, directory)
    if path.exists():
        try:
            return load_splits(path, config), True
        except ValueError as error:
            logger.warning("discarding cache entry %s (%s); regenerating", path, error)
    splits = dict(generate())
    save_splits(path, splits, config)
    return splits, False
