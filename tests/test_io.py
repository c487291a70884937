"""Atomic writes: the mode follows the umask, the content is complete, no temporary
file is left behind, and the file and its folder reach the disk (fsync) around the
rename."""

import os
import stat

import pytest

import sciml._io as io
from sciml._io import current_umask, write_atomic


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_umask(mask):
        os.umask(mask)
        return mask

    yield set_umask
    os.umask(saved)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002, 0o077], ids=oct)
def test_mode_follows_the_umask(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    path = write_atomic(tmp_path / "results.md", b"| a |\n")
    assert mode(path) == 0o666 & ~mask
    # The same as a file created the ordinary way.
    (tmp_path / "plain.md").write_bytes(b"")
    assert mode(path) == mode(tmp_path / "plain.md")


def test_mode_follows_the_umask_without_proc(tmp_path, umask, monkeypatch):
    monkeypatch.setattr(io, "_PROC_STATUS", str(tmp_path / "no-such-status"))
    umask(0o027)
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027  # the fallback put the mask back
    assert mode(write_atomic(tmp_path / "figure.png", b"png")) == 0o640


def test_content_is_complete_and_no_temporary_file_is_left(tmp_path):
    data = os.urandom(3 << 20)
    path = write_atomic(tmp_path / "sub" / "data.bin", data)
    assert path.read_bytes() == data
    write_atomic(path, b"shorter")
    assert path.read_bytes() == b"shorter"
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = write_atomic(tmp_path / "record.json", b"{}\n")
    with pytest.raises(TypeError):
        write_atomic(path, "text, not bytes")
    assert path.read_bytes() == b"{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_a_failed_fsync_leaves_no_temporary_file(tmp_path, monkeypatch):
    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        write_atomic(tmp_path / "results.md", b"| a |\n")
    assert list(tmp_path.iterdir()) == []


def test_the_file_is_synced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    path = tmp_path / "results.md"
    calls = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        info = os.fstat(fd)
        kind = (
            "file" if stat.S_ISREG(info.st_mode) else "dir" if stat.S_ISDIR(info.st_mode) else "?"
        )
        calls.append((kind, info.st_ino, path.exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_atomic(path, b"| a |\n")
    assert calls == [
        ("file", path.stat().st_ino, False),  # the data, before the name points at it
        ("dir", tmp_path.stat().st_ino, True),  # the rename, after it
    ]
