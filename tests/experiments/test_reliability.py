"""One run per folder, resumes checked before any work, and every expected failure of
the command line as one line."""

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from sciml.cli import main
from sciml.data.cache import cache_path
from sciml.data.dataset import load_splits, save_splits
from sciml.experiments import get_experiment, train
from sciml.experiments.lock import LOCK_NAME, check_shared_folder, run_lock


def test_a_folder_in_use_is_refused_and_freed_when_its_run_ends(tmp_path, cache, tiny):
    experiment = get_experiment("darcy", "fno", "quick", tiny("darcy", "fno"))
    out = tmp_path / "run"
    with run_lock(out):
        with pytest.raises(ValueError, match=f"in use by process {os.getpid()}"):
            train(experiment, out, cache=cache, progress=False)
    assert train(experiment, out, cache=cache, progress=False).record["epochs"] == 2


def test_the_lock_of_a_killed_process_does_not_block(tmp_path):
    holder = textwrap.dedent(
        f"""
        import sys, time
        from sciml.experiments.lock import run_lock
        with run_lock({str(tmp_path)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        with (
            pytest.raises(ValueError, match=f"in use by process {process.pid}"),
            run_lock(tmp_path),
        ):
            pass
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    with run_lock(tmp_path):  # the dead holder's lock is gone with it
        assert (tmp_path / LOCK_NAME).read_text().startswith(f"process {os.getpid()}")


def test_a_resume_is_checked_against_the_run_before_any_data_are_made(tmp_path, cache, tiny):
    out = tmp_path / "run"
    train(get_experiment("darcy", "fno", "quick", tiny("darcy", "fno")), out, cache=cache)
    other_cache = tmp_path / "empty-cache"
    wider = get_experiment("darcy", "fno", "quick", [*tiny("darcy", "fno"), "model.width=8"])
    with pytest.raises(ValueError, match="model.width differ from the run's"):
        train(wider, out, cache=other_cache, resume=True)
    shorter = get_experiment("darcy", "fno", "quick", [*tiny("darcy", "fno"), "train.epochs=1"])
    with pytest.raises(ValueError, match="for 1 epochs: it has trained 2 already"):
        train(shorter, out, cache=other_cache, resume=True)
    burgers = get_experiment("burgers", "fno", "quick", tiny("burgers", "fno"))
    with pytest.raises(ValueError, match="task differ"):
        train(burgers, out, cache=other_cache, resume=True)
    assert not other_cache.exists()  # nothing was generated


def test_a_stale_record_without_a_checkpoint_is_not_overwritten(tmp_path, cache, tiny):
    (tmp_path / "results.json").write_text("{}")
    experiment = get_experiment("darcy", "fno", "quick", tiny("darcy", "fno"))
    with pytest.raises(ValueError, match="already holds a run"):
        train(experiment, tmp_path, cache=cache)
    assert (tmp_path / "results.json").read_text() == "{}"


def test_every_process_must_see_the_run_folder(tmp_path):
    seen = []

    def broadcast(value):
        seen.append(value)
        return 12345  # process 0's token

    def alone(ok):  # the answers of the other processes: all True
        return ok

    with pytest.raises(ValueError, match="needs --out and the cache on a file system"):
        check_shared_folder(
            tmp_path, timeout=0.3, broadcast=broadcast, all_agree=alone, primary=False
        )
    (tmp_path / ".sciml-run-token").write_text("12345")
    check_shared_folder(tmp_path, timeout=0.3, broadcast=broadcast, all_agree=alone, primary=False)
    assert seen == [0, 0]  # the other processes send nothing of their own
    # process 0 reads its own token, but fails with the others when one of them did not
    with pytest.raises(ValueError, match="not every process sees the run folder"):
        check_shared_folder(
            tmp_path, timeout=0.3, broadcast=lambda v: v, all_agree=lambda ok: False, primary=True
        )


WORKER = """
import sys
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
port, index, folder = sys.argv[1:]
jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=int(index))
from sciml.experiments.lock import check_shared_folder
try:
    check_shared_folder(folder, timeout=3)
    print("ok", flush=True)
except ValueError as error:
    print("refused:", error, flush=True)
"""


@pytest.mark.parametrize("shared", [True, False])
def test_two_real_processes_agree_on_their_run_folder(tmp_path, shared):
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        port = probe.getsockname()[1]
    folders = [tmp_path / "shared"] * 2 if shared else [tmp_path / "a", tmp_path / "b"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(port), str(i), str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i, folder in enumerate(folders)
    ]
    # the last line: the collectives library prints its own lines before it
    outputs = [
        process.communicate(timeout=120)[0].strip().splitlines()[-1] for process in processes
    ]
    if shared:
        assert outputs == ["ok", "ok"]
    else:  # both fail within the timeout instead of waiting for each other forever
        assert all(output.startswith("refused: not every process sees") for output in outputs)


def _sets(overrides):
    return [argument for override in overrides for argument in ("--set", override)]


@pytest.mark.parametrize("where", ["a file", "below a file"])
def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, where, tiny, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    out = blocker if where == "a file" else blocker / "run"
    argv = ["train", "darcy", "--out", str(out), "--no-progress", *_sets(tiny("darcy", "fno"))]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("sciml: error: ") and error.count("\n") == 1
    assert ("FileExistsError" in error) or ("NotADirectoryError" in error)


def test_a_diverged_training_is_one_line(tmp_path, cache, tiny, capsys):
    sets = _sets([*tiny("darcy", "fno"), "train.learning_rate=1e30"])
    argv = ["train", "darcy", "--out", str(tmp_path / "run"), "--cache", str(cache), *sets]
    assert main([*argv, "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("sciml: error: ") and error.count("\n") == 1
    assert "not finite" in error


def test_a_full_disk_is_one_line(tmp_path, cache, tiny, capfd):
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("needs a small tmpfs to fill (mount, as root)")
    try:
        sets = _sets([*tiny("darcy", "fno"), "model.width=32"])
        argv = ["train", "darcy", "--out", str(disk / "run"), "--cache", str(cache), *sets]
        assert main([*argv, "--no-progress"]) == 2
        error = capfd.readouterr().err
        assert error.startswith("sciml: error: ") and error.count("\n") == 1, error[-2000:]
        assert "No space left on device" in error
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_resume_with_no_intact_checkpoint_fails_before_any_data_are_made(tmp_path, cache, tiny):
    experiment = get_experiment("darcy", "fno", "quick", tiny("darcy", "fno"))
    out = tmp_path / "run"
    train(experiment, out, cache=cache, progress=False)
    for step in (out / "checkpoint").iterdir():
        if step.is_dir() and step.name.isdigit():
            shutil.rmtree(step / "model")
    other_cache = tmp_path / "empty-cache"
    with pytest.raises(ValueError, match="no checkpoint in .* reads back intact"):
        train(experiment, out, cache=other_cache, progress=False, resume=True)
    assert not other_cache.exists()


def test_a_cache_entry_without_its_test_split_is_made_again(tmp_path, tiny, caplog):
    experiment = get_experiment("darcy", "fno", "quick", tiny("darcy", "fno"))
    first = train(experiment, tmp_path / "first", cache=tmp_path, progress=False).record
    path = cache_path("darcy", experiment.data.to_dict(), tmp_path)
    splits = load_splits(path, experiment.data.to_dict())
    save_splits(path, {"train": splits["train"]}, experiment.data.to_dict())
    with caplog.at_level(logging.WARNING):
        again = train(experiment, tmp_path / "again", cache=tmp_path, progress=False).record
    assert not again["data_from_cache"] and "discarding cache entry" in caplog.text
    assert "lacking ['test']" in caplog.text  # the reason is named
    assert again["test_relative_l2"] == first["test_relative_l2"]


def test_a_cache_entry_on_another_grid_is_made_again(tmp_path, tiny, caplog):
    experiment = get_experiment("darcy", "fno", "quick", tiny("darcy", "fno"))
    coarse = get_experiment("darcy", "fno", "quick", [*tiny("darcy", "fno"), "data.subsample=4"])
    train(coarse, tmp_path / "coarse", cache=tmp_path, progress=False)
    # the 5 x 5 data, checksummed, under the name of the 9 x 9 config: the checksums hold
    coarse_path = cache_path("darcy", coarse.data.to_dict(), tmp_path)
    splits = load_splits(coarse_path, coarse.data.to_dict())
    save_splits(
        cache_path("darcy", experiment.data.to_dict(), tmp_path), splits, experiment.data.to_dict()
    )
    with caplog.at_level(logging.WARNING):
        record = train(experiment, tmp_path / "run", cache=tmp_path, progress=False).record
    assert not record["data_from_cache"] and record["resolution"] == [9, 9]
    assert "lies on the grid (5, 5), but the config's grid is (9, 9)" in caplog.text
