"""The on-disk cache of generated data sets, named by a hash of their config."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from sciml.data.dataset import (
    OperatorDataset,
    cache_dir,
    config_hash,
    load_splits,
    save_splits,
)

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
    *,
    required_splits: Collection[str] = (),
    check: Callable[[Mapping[str, OperatorDataset]], None] | None = None,
) -> tuple[dict[str, OperatorDataset], bool]:
    """Read the cached data set made by ``config``, or generate and cache it.

    A cache entry is never trusted: one that cannot be read, is incomplete, is damaged
    anywhere (its manifest, a checksum, a link or external storage in place of its
    data), was made by another config, disagrees with its config's ``n_train`` /
    ``n_test``, holds non-finite values or lacks one of ``required_splits`` is logged
    as ``discarding cache entry <path> (<why>); regenerating``, generated afresh and
    replaced atomically.

    Args:
        name: the entry's name, before the config hash.
        config: the JSON generation config; its hash names the entry.
        generate: makes the splits when the cache cannot give them.
        directory: the cache folder (default `cache_dir()`).
        required_splits: split names the caller will use, e.g. ``("train", "test")``.
        check: the caller's own test of the splits (e.g. their grid), raising
            ``ValueError``; an entry that fails it is discarded like a damaged one.

    Returns:
        ``(splits, from_cache)``.

    Raises:
        ValueError: ``generate`` made splits that disagree with ``config`` or lack a
            required split (nothing is cached then).
    """
    path = cache_path(name, config, directory)
    if path.exists():
        try:
            splits = load_splits(path, config, required_splits=required_splits)
            if check is not None:
                check(splits)
            return splits, True
        except ValueError as error:
            logger.warning("discarding cache entry %s (%s); regenerating", path, error)
    splits = dict(generate())
    missing = sorted(set(required_splits) - set(splits))
    if missing:
        raise ValueError(f"the splits generated for {path} are {sorted(splits)}, lacking {missing}")
    if check is not None:
        check(splits)
    save_splits(path, splits, config)  # refuses splits that disagree with config
    return splits, False
