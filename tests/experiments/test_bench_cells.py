"""``sciml bench --cells``: the named cell sets, the time budget, resuming, the ratios."""

import dataclasses
import itertools
import json

import numpy as np
import pytest

from sciml.cli import main
from sciml.experiments import get_experiment
from sciml.experiments.bench import (
    estimate,
    load_record,
    parse_duration,
    report_markdown,
    run_cells,
)
from sciml.experiments.cells import CPU, GPU, Cell, cell_set
from sciml.experiments.run import train


def test_the_gpu_set_is_the_published_gpu_cells_at_their_settings():
    assert [cell.name for cell in GPU] == [
        "darcy-fno-paper-s85",
        "darcy-fno-paper-s141",
        "darcy-fno-paper-s211",
        "darcy-fno-paper-s421",
        "darcy-mgno-paper-s85",
        "navier-stokes-fno-paper-nu1e-3",
        "navier-stokes-fno3d-paper-nu1e-3",
        "navier-stokes-unet-paper-nu1e-3",
    ]
    grids = [get_experiment(c.task, c.model, c.preset, c.overrides).data.resolution for c in GPU]
    assert grids == [85, 141, 211, 421, 85, 64, 64, 64]
    published = [c.published_cell() for c in GPU]
    assert [None if p is None else p.value for p in published] == [
        0.0108,
        0.0109,
        0.0109,
        0.0098,
        None,
        0.0128,
        0.0086,
        0.0245,
    ]
    for cell, grid in zip(GPU, grids):
        p = cell.published_cell()
        assert p is None or p.resolution == grid
    assert all(c.preset is not None and c.epoch_s > 0 for c in GPU)
    assert cell_set("gpu") == GPU and cell_set("cpu") == CPU
    # every CPU cell runs (Lu et al.'s FNO from the lu2022 preset), once per data law for
    # Burgers, against a published cell
    names = [c.name for c in CPU]
    assert len(set(names)) == len(names) and all(c.preset is not None for c in CPU)
    assert all(c.published_cell() is not None for c in CPU)
    lu_fnos = {"burgers-fno-lu2022-s128", "burgers-fno-lu2022-s128-grf1", "darcy-fno-lu2022-s29"}
    assert lu_fnos < set(names)
    burgers = [c for c in CPU if c.task == "burgers"]
    assert sum("data.law=grf1" in c.overrides for c in burgers) == len(burgers) / 2
    with pytest.raises(ValueError, match="unknown cell set"):
        cell_set("tpu")


def test_durations():
    assert parse_duration("90m") == 5400 == parse_duration("1h30m") == parse_duration("5400")
    assert parse_duration("3h") == 10800 and parse_duration("1.5s") == 1.5
    for bad in ("", "3 days", "0m", "h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_a_budget_too_small_starts_nothing(tmp_path, capsys, monkeypatch):
    import sciml.experiments.bench as bench

    def refuse(*args, **kwargs):
        raise AssertionError("no run may start")

    monkeypatch.setattr(bench, "_run_one", refuse)
    out = tmp_path / "gpu"
    args = ["bench", "--cells", "gpu", "--budget", "10s", "--out", str(out), "--no-progress"]
    args += ["--cache", str(tmp_path / "cache")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    # 500 epochs at 1.5 s and 600 s of data: 1350 s
    line = next(line.split() for line in printed.splitlines() if "darcy-fno-paper-s85" in line)
    assert line[:5] == ["skipped", "darcy-fno-paper-s85", "estimate", "22", "min"]
    assert "(the set's estimate: 500 epochs at 1.5 s + 600 s of data) > 10 s left" in printed
    assert printed.count("skipped") == len(GPU)
    assert "remaining: darcy-fno-paper-s85, darcy-fno-paper-s141" in printed
    assert not (out / "records").exists() and not (out / "runs").exists()
    report = (out / "results.md").read_text()
    assert "### The cell set `gpu`" in report
    row = "| `darcy-fno-paper-s421` | 0.0098 (s = 421) | not run | - |  | - | skipped: estimate"
    assert row in report


def _tiny_cell(tiny, label, *extra, epoch_s=0.0, preset="quick"):
    return Cell("darcy", "fno", preset, label, (*tiny("darcy", "fno"), *extra), epoch_s=epoch_s)


def test_runs_that_fit_run_once_and_a_rerun_reuses_them(tmp_path, tiny, cache):
    calls = []

    def counting_train(experiment, run_dir, **kwargs):
        calls.append(run_dir.name)
        return train(experiment, run_dir, **kwargs)

    lu = "s = 29 (Lu et al., CMAME 2022 data)"
    cells = (
        dataclasses.replace(_tiny_cell(tiny, "a", epoch_s=1.0), published=lu),
        _tiny_cell(tiny, "long", epoch_s=1e6),  # 2 epochs: 2e6 s, over the budget
        Cell("darcy", "fno", None, "s29", published="s = 29 (Lu et al., CMAME 2022 data)"),
    )

    def run():
        return run_cells(
            tmp_path,
            cells,
            set_name="tiny",
            budget_s=3600,
            cache=cache,
            progress=False,
            train=counting_train,
        )

    outcomes = run()
    assert [o.status for o in outcomes] == ["ran", "skipped", "no preset"]
    assert calls == ["darcy-fno-quick-a"]
    assert outcomes[1].estimate_s == pytest.approx(2e6)
    record = load_record(tmp_path, "darcy-fno-quick-a")
    assert record["resolution"] == [9, 9]
    # judged against its cell's published number, not the nearest cell of the FNO paper
    assert record["published"]["setting"] == lu
    again = run()
    assert [o.status for o in again] == ["reused", "skipped", "no preset"]
    assert calls == ["darcy-fno-quick-a"]  # nothing trained again
    # a record judged against another cell (as before the cells had their own) is
    # judged again on reuse, from its history, and rewritten; nothing is trained
    path = tmp_path / "records" / "darcy-fno-quick-a.json"
    wrong = dict(record, published={**record["published"], "setting": "s = 85", "value": 1.0})
    wrong["seconds_to_published"] = -1.0
    path.write_text(json.dumps(wrong))
    (rejudged, *_) = run()
    assert rejudged.status == "reused" and "judged against its own cell" in rejudged.detail
    fixed = load_record(tmp_path, "darcy-fno-quick-a")
    assert fixed["published"] == record["published"]
    assert fixed["seconds_to_published"] == record["seconds_to_published"]
    assert fixed["history"] == record["history"] and calls == ["darcy-fno-quick-a"]
    report = (tmp_path / "results.md").read_text()
    assert "| darcy | fno | s = 29 (Lu et al., CMAME 2022 data) | 0.0241 | no preset |" in report
    assert "| `darcy-fno-none-s29` | 0.0241 (s = 29 (Lu et al., CMAME 2022 data)) | no preset" in (
        report
    )
    # the same name at another setting: neither reused nor overwritten
    before = (tmp_path / "records" / "darcy-fno-quick-a.json").read_bytes()
    changed = _tiny_cell(tiny, "a", "train.learning_rate=0.5", epoch_s=1.0)
    (stale,) = run_cells(tmp_path, [changed], cache=cache, progress=False, train=counting_train)
    assert stale.status == "stale" and "train.learning_rate: " in stale.detail
    assert calls == ["darcy-fno-quick-a"]
    assert (tmp_path / "records" / "darcy-fno-quick-a.json").read_bytes() == before
    # other words in its notes are no other setting
    reworded = _tiny_cell(tiny, "a", 'notes="other words"', epoch_s=1.0)
    (reused,) = run_cells(tmp_path, [reworded], cache=cache, progress=False, train=counting_train)
    assert reused.status == "reused" and calls == ["darcy-fno-quick-a"]


def test_a_run_stops_at_a_checkpoint_when_the_budget_is_spent_and_resumes(tmp_path, tiny, cache):
    cell = _tiny_cell(tiny, "stop", "train.epochs=4", "train.checkpoint_every=2", epoch_s=0.1)
    ticks = itertools.chain([0.0, 0.0], itertools.repeat(1e9))  # spent from the first epoch

    outcomes = run_cells(
        tmp_path, [cell], budget_s=100, cache=cache, progress=False, clock=lambda: next(ticks)
    )
    assert outcomes[0].status == "stopped"
    assert "checkpoint of epoch 2 of 4" in outcomes[0].detail
    assert load_record(tmp_path, cell.name) is None
    experiment = get_experiment("darcy", "fno", "quick", cell.overrides)
    seconds, basis = estimate(cell, experiment, tmp_path / "runs" / cell.name)
    assert basis.startswith("its own history: 2 of 4 epochs left") and seconds > 0

    resumed = run_cells(tmp_path, [cell], budget_s=3600, cache=cache, progress=False)
    assert resumed[0].status == "ran"
    record = load_record(tmp_path, cell.name)
    assert record["resumed"] is True and record["epochs"] == 4


def _record(l2, grid=85, model="fno"):
    return {
        "task": "darcy",
        "model": model,
        "preset": "paper",
        "resolution": [grid, grid],
        "parameters": 10,
        "test_relative_l2": l2,
        "epochs": 500,
        "wall_seconds": 1.0,
        "time_per_epoch_s": 1.0,
        "train_samples_per_s": 1.0,
        "config": {"data": {}},
    }


def test_the_papers_tables_give_ours_over_published_and_flag_the_far_cells():
    records = [_record(0.0216), _record(0.0105, 141), _record(0.004, 211)]
    records[0]["history"] = {"epoch_time": [60.0] * 20}
    records[0]["seconds_to_published"] = None
    records[1]["history"] = {
        "epoch_time": [60.0] * 20,
        "test_l2": [0.05, 0.02, 0.0108] + [0.0105] * 17,
    }
    records[1]["seconds_to_published"] = None  # another cell's; the report reads the history
    records[2]["config"] = {"data": {"law": "grf1"}}
    cells = {
        "set": "gpu",
        "budget_s": 5400.0,
        "cells": [
            {
                "name": "darcy-fno-paper-s85",
                "task": "darcy",
                "model": "fno",
                "preset": "paper",
                "published": "s = 85",
                "status": "ran",
                "detail": "test L2 0.0216 in 20 min",
                "record": records[0],
            },
            {
                "name": "darcy-fno-paper-s141",
                "task": "darcy",
                "model": "fno",
                "preset": "paper",
                "published": "s = 141",
                "status": "reused",
                "detail": "",
                "record": records[1],
            },
        ],
    }
    text = report_markdown(records, cells=cells)
    assert "| ours | ours / published | flag | source |" in text
    assert "| darcy | fno | s = 85 | 0.0108 | 0.0216 (paper) | 2.00 | **worse > 10 %** |" in text
    assert "| darcy | fno | s = 141 | 0.0109 | 0.0105 (paper) | 0.96 |  |" in text
    assert "| s = 211 | 0.0109 | 0.0040 (paper, grf1 law) | 0.37 | **better > 2x** |" in text
    assert "| darcy | fno | s = 421 | 0.0098 | not run | - |  |" in text
    assert (
        "| `darcy-fno-paper-s85` | 0.0108 (s = 85) | 0.0216 | 2.00 | **worse > 10 %** "
        "| 20 min (never) | ran: test L2 0.0216 in 20 min |" in text
    )
    row = "| `darcy-fno-paper-s141` | 0.0109 (s = 141) | 0.0105 | 0.96 |  | 20 min (3 min) |"
    assert row in text
    assert "budget 1.5 h" in text


def test_the_lu2022_fnos_have_the_authors_scripts_parameter_counts():
    # count_params of Lu et al.'s fourier_1d.py / fourier_2d.py (a complex weight counts
    # twice): 549,569 for Burgers at 128 points, 2,368,001 for Darcy at 29 x 29
    import equinox as eqx
    import jax

    from sciml.experiments.registry import build_model
    from sciml.tasks import ModelSpec, get_task

    for task, grid, expected in [("burgers", (128,), 549_569), ("darcy", (29, 29), 2_368_001)]:
        experiment = get_experiment(task, "fno", "lu2022")
        assert (experiment.train.loss, experiment.train.epochs) == ("mse", 500)
        assert experiment.data.n_test == 200 and experiment.model_config["activation"] == "relu"
        spec = ModelSpec(1, 1, grid, get_task(task).periodic, experiment.frames, experiment.data)
        model = build_model("fno", spec, experiment.model_config, key=jax.random.PRNGKey(0))
        leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))
        assert sum(x.size * (2 if np.iscomplexobj(x) else 1) for x in leaves) == expected
