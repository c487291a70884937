"""One run per folder: an exclusive lock, and the check that every process of a
multi-host run sees the same folder."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jax

LOCK_NAME = ".sciml-lock"
TOKEN_NAME = ".sciml-run-token"


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive lock on the run folder ``folder`` for the duration.

    The lock is an ``flock`` on ``folder/.sciml-lock``: the operating system releases it
    when the holder exits in any way (a crash or ``SIGKILL`` included), so a lock left
    by a dead process never blocks a later run. The file names the holder.

    Raises:
        ValueError: another process holds the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text().strip() or "another process"
            raise ValueError(
                f"{folder} is in use by {holder}; one run per folder: wait for it, or choose "
                "another output folder"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"process {os.getpid()} on {socket.gethostname()}\n".encode())
        yield path
    finally:
        os.close(descriptor)  # releases the lock


def check_shared_folder(
    folder: str | os.PathLike,
    *,
    timeout: float = 60.0,
    broadcast: Callable[[int], int] | None = None,
    all_agree: Callable[[bool], bool] | None = None,
    primary: bool | None = None,
) -> None:
    """Fail early, on every process, unless every process of a multi-host run sees the
    same run folder.

    Process 0 writes a random token into ``folder``; every process learns it through a
    collective and waits (up to ``timeout`` seconds) to read the same token from its own
    ``folder``; then the processes tell each other whether they did. Without it,
    processes that write their checkpoints into different folders wait for each other
    at the first checkpoint, forever. One process: nothing to check.

    Args:
        folder: the run folder.
        timeout: seconds a process waits for the token to appear.
        broadcast: ``value -> process 0's value`` (default: JAX's multi-host broadcast).
        all_agree: ``this process's answer -> whether every process answered True``
            (default: a JAX all-gather).
        primary: whether this is process 0 (default: ``jax.process_index() == 0``).

    Raises:
        ValueError: on every process, if any did not read the token.
    """
    if broadcast is None or all_agree is None:
        if jax.process_count() == 1:
            return
        from jax.experimental import multihost_utils

        def broadcast(value: int) -> int:
            return int(multihost_utils.broadcast_one_to_all(value))

        def all_agree(ok: bool) -> bool:
            return bool(multihost_utils.process_allgather(jax.numpy.asarray(ok)).all())

    primary = jax.process_index() == 0 if primary is None else primary
    path = Path(folder) / TOKEN_NAME
    token = secrets.randbits(31) if primary else 0
    if primary:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(token))
    token = broadcast(token)
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() <= deadline:
        seen = path.read_text().strip() if path.is_file() else None
        if seen == str(token):
            break
        time.sleep(0.2)
    if not all_agree(seen == str(token)):
        raise ValueError(
            f"not every process sees the run folder {folder} that process 0 writes (this one "
            f"reads {seen!r} after up to {timeout:g} s); a multi-host run needs --out and the "
            "cache on a file system all hosts share"
        )
