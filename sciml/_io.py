"""Writing files so that nothing on disk is ever half-written; reading and writing TOML."""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


# Where Linux reports the process's umask without changing it (since Linux 4.7).
_PROC_STATUS = "/proc/self/status"


def current_umask() -> int:
    """The process's file-creation mask, read without changing it where possible.

    The only portable way to read the umask is to set it and set it back, which for a
    moment changes the mask of every thread: a file another thread creates meanwhile
    gets the wrong mode. So Linux's ``Umask:`` line of ``/proc/self/status``, which is
    read-only and current, comes first; the set-and-restore is the fallback where there
    is no such line (macOS, BSD, an old kernel), and it sets the strict mask ``0o077``
    for that moment, so that the race can only make such a file more private. The mask
    is read on every call rather than once at import, so that a program that sets its
    umask after importing sciml is obeyed.
    """
    try:
        with open(_PROC_STATUS, encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o077)
    os.umask(old)
    return old


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable by flushing the directory entry (POSIX)."""
    if os.name != "posix":  # pragma: no cover - Windows cannot open a directory
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that it holds either its old content or all of
    ``data``, even after a crash or a power loss.

    The data go to a temporary file beside ``path``, which is flushed to disk (fsync)
    and renamed into place; then the folder is flushed, so that the rename itself
    survives. Without the first fsync a power loss could leave ``path`` renamed but
    empty. The file gets the mode of any newly created file, ``0o666`` less the umask
    (:func:`current_umask`), not the ``0o600`` of a temporary file. After an error the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o666 & ~current_umask())
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """`write_atomic` of ``obj`` as indented JSON."""
    return write_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict; a clear error for a missing or malformed one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"expected a TOML file at {path}; there is none")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from None


def toml_text(table: dict[str, Any]) -> str:
    """``table`` written as TOML: scalars and arrays first, then its sub-tables.

    ``None`` has no TOML form: such keys are left out (reading the text back gives the
    field's default, which is ``None`` wherever sciml uses it).
    """
    lines: list[str] = []
    _write_table(lines, table, ())
    return "\n".join(lines).lstrip("\n") + "\n"


def _write_table(lines: list[str], table: dict[str, Any], prefix: tuple[str, ...]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and v is not None}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    if prefix and (scalars or not tables):
        lines += ["", f"[{'.'.join(_toml_key(k) for k in prefix)}]"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items()]
    for key, sub in tables.items():
        _write_table(lines, sub, (*prefix, key))


def _toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"cannot write {value!r} ({type(value).__name__}) as TOML")


def parse_toml_value(text: str) -> Any:
    """The TOML value written as ``text`` (``5e-4``, ``[12, 12]``, ``"step"``).

    Raises:
        ValueError: if ``text`` is not a TOML value.
    """
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{text!r} is not a TOML value: {error}") from None
