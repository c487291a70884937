"""The benchmark suite: every task family, published cells, resuming, records, the report."""

import dataclasses
import json

import numpy as np
import pytest

from sciml.cli import main
from sciml.data.darcy import DarcyConfig, generate_darcy, generate_darcy_test
from sciml.experiments import bench, get_experiment
from sciml.experiments.bench import (
    PeerComparison,
    load_failures,
    load_record,
    report_markdown,
    run_suite,
    seconds_to_reach,
    suite_runs,
)
from sciml.experiments.run import train
from sciml.fields import interpolate_field
from sciml.tasks import get_task
from sciml.tasks.published import PUBLISHED, nearest_cell, published_cells


def test_published_cells_are_the_papers_tables():
    assert [c.value for c in published_cells("darcy", "fno") if "Li" in c.source] == [
        0.0108,
        0.0109,
        0.0109,
        0.0098,
    ]
    assert [c.resolution for c in published_cells("burgers", "fno") if "Li" in c.source] == [
        256,
        512,
        1024,
        2048,
        4096,
        8192,
    ]
    ns = [c for c in PUBLISHED if c.task == "navier-stokes"]
    assert len(ns) == 12 and {c.model for c in ns} == {"fno", "fno3d", "unet"}
    assert len([c for c in PUBLISHED if "Lu" in c.source]) == 6


def test_nearest_cell_prefers_the_fno_paper_then_the_grid_then_the_setting():
    assert nearest_cell("darcy", "fno", 43).value == 0.0108  # the FNO paper's 85, not Lu's 29
    assert nearest_cell("darcy", "fno", 211).resolution == 211
    assert nearest_cell("burgers", "deeponet", 256).value == 0.0215  # only Lu et al.
    assert nearest_cell("darcy", "mgno", 85) is None
    cell = nearest_cell("navier-stokes", "fno", 32, nu=1e-3, t_final=20, n_train=300)
    assert (cell.value, cell.t_final) == (0.0128, 50)
    cell = nearest_cell("navier-stokes", "fno3d", 64, nu=1e-4, t_final=30, n_train=10000)
    assert cell.value == 0.0820


def test_seconds_to_reach_sums_epochs_until_the_first_hit():
    history = {"test_l2": [0.5, 0.02, 0.01, 0.005], "epoch_time": [10.0, 2.0, 2.0, 2.0]}
    assert seconds_to_reach(history, 0.01) == 14.0
    assert seconds_to_reach(history, 0.02) == 12.0
    assert seconds_to_reach(history, 0.001) is None


def test_interpolation_is_exact_for_linear_fields_and_keeps_the_nodes():
    x = np.linspace(0, 1, 9)
    field = (2 * x[:, None] - 3 * x[None, :] + 1)[None]
    fine = np.linspace(0, 1, 17)
    expected = (2 * fine[:, None] - 3 * fine[None, :] + 1)[None]
    np.testing.assert_allclose(interpolate_field(field, (17, 17), periodic=False), expected)
    periodic = np.cos(2 * np.pi * np.arange(8) / 8)[None]
    finer = interpolate_field(periodic, (16,), periodic=True)
    np.testing.assert_allclose(finer[0, ::2], periodic[0], atol=1e-12)
    np.testing.assert_allclose(finer[0, 15], 0.5 * (periodic[0, 7] + periodic[0, 0]))
    with pytest.raises(ValueError, match="does not match"):
        interpolate_field(field, (17,), periodic=False)


def test_suite_runs_cover_every_family_and_reject_unknown_names():
    runs = suite_runs()
    assert ("navier-stokes", "fno3d") in runs and ("darcy", "fno") in runs
    assert ("allen-cahn", "estable") in runs and ("cahn-hilliard", "fno") in runs
    assert ("burgers-trajectory", "neural-ode") in runs and ("burgers-trajectory", "fno-ar") in runs
    assert len(runs) == 5 + 5 + 6 + 2 + 2 + 3
    assert suite_runs(["darcy"], ["fno", "mgno"]) == [("darcy", "fno"), ("darcy", "mgno")]
    assert all(model == "fno3d" for _, model in suite_runs(None, ["fno3d"]))
    with pytest.raises(ValueError, match="unknown task"):
        suite_runs(["darcie"])
    with pytest.raises(ValueError, match="unknown model"):
        suite_runs(None, ["fon"])


def _finer(task, model, preset):
    return [
        c.resolution
        for c, _ in get_task(task).super_resolution(get_experiment(task, model, preset))
    ]


def test_super_resolution_grids_follow_the_paper():
    assert get_experiment("darcy", "fno", "paper").data.resolution == 85
    assert _finer("darcy", "fno", "paper") == [141, 211, 421]
    assert _finer("darcy", "fno", "quick") == [85]
    assert _finer("navier-stokes", "fno", "paper") == [256]
    assert _finer("burgers", "fno", "paper") == [] == _finer("allen-cahn", "fno", "quick")


def test_test_split_alone_is_the_test_split_of_the_whole_set():
    config = DarcyConfig(fine_resolution=17, subsample=2, n_train=3, n_test=2)
    whole = generate_darcy(config)["test"]
    alone = generate_darcy_test(config)
    np.testing.assert_array_equal(whole.inputs, alone.inputs)
    np.testing.assert_allclose(whole.outputs, alone.outputs, rtol=1e-6, atol=1e-7)


def _tiny_experiments(tiny):
    def get(task, model, preset, overrides=()):
        return get_experiment(task, model, preset, [*tiny(task, model), *overrides])

    return get


def test_suite_writes_records_and_report_and_resumes(tmp_path, monkeypatch, capsys, tiny):
    monkeypatch.setattr(bench, "get_experiment", _tiny_experiments(tiny))
    out, cache = tmp_path / "suite", tmp_path / "cache"
    calls = []

    def counting_train(experiment, run_dir, **kwargs):
        calls.append((experiment.model, kwargs["resume"]))
        if experiment.model == "deeponet" and len(calls) == 2:
            raise KeyboardInterrupt  # the suite is interrupted during its second run
        if experiment.model == "deeponet" and len(calls) == 3:
            raise RuntimeError("the run broke")  # a failure is reported, not fatal
        return train(experiment, run_dir, **kwargs)

    def suite():
        return run_suite(
            out,
            tasks=["darcy"],
            models=["fno", "deeponet"],
            cache=cache,
            progress=False,
            train=counting_train,
        )

    with pytest.raises(KeyboardInterrupt):
        suite()
    record = load_record(out, "darcy-fno-quick")
    assert record["task"] == "darcy" and record["resolution"] == [9, 9]
    assert record["published"]["value"] == 0.0108
    assert set(record["latency"]) == {"1"}  # only 4 test samples: no batch of 20
    assert record["latency"]["1"]["ms_per_sample"] > 0
    assert list(record["super_resolution"]) == ["17"]
    assert 0 < record["super_resolution"]["17"] < 10
    assert np.isfinite(record["test_relative_h1"])
    assert load_record(out, "darcy-deeponet-quick") is None

    # resumed: the finished run is not redone; the interrupted one runs, and fails
    records = suite()
    assert [r["model"] for r in records] == ["fno"]
    assert load_failures(out) == {"darcy-deeponet-quick": "RuntimeError: the run broke"}
    assert "`darcy-deeponet-quick`: RuntimeError: the run broke" in (out / "results.md").read_text()

    # run again: the failed run is retried and its failure forgotten
    records = suite()
    assert calls == [("fno", False)] + [("deeponet", False)] * 3
    assert load_failures(out) == {}
    assert [r["model"] for r in records] == ["fno", "deeponet"]
    assert records[0]["test_relative_l2"] == record["test_relative_l2"]
    report = (out / "results.md").read_text()
    assert "| fno | quick | 9 x 9 |" in report and "| deeponet | quick | 9 x 9 |" in report
    assert "0.0108 (s = 85; Li et al.)" in report
    assert "| darcy | fno | s = 421 | 0.0098 | not run | - |" in report
    assert (out / "darcy.png").read_bytes()[:4] == b"\x89PNG"

    # the command resumes the same folder without training again
    assert main(["bench", "darcy", "--models", "fno", "--out", str(out), "--no-progress"]) == 0
    assert "test L2" in capsys.readouterr().out
    assert len(calls) == 4


def test_gradient_flows_and_trajectories_join_the_suite(tmp_path, monkeypatch, tiny, cache):
    monkeypatch.setattr(bench, "get_experiment", _tiny_experiments(tiny))
    out = tmp_path / "suite"
    records = run_suite(
        out,
        tasks=["allen-cahn", "burgers-trajectory"],
        models=["estable", "fno-ar"],
        cache=cache,
        progress=False,
    )
    assert [(r["task"], r["model"]) for r in records] == [
        ("allen-cahn", "estable"),
        ("burgers-trajectory", "fno-ar"),
    ]
    for record in records:
        assert np.isfinite(record["test_relative_l2"]) and record["latency"]["1"]["ms_per_call"] > 0
        assert record["published"] is None and record["super_resolution"] == {}
    assert "largest_block_energy_increase_relative" in records[0]
    assert "relative_l2_frames_T_to_2T" in records[1]
    report = (out / "results.md").read_text()
    assert "## allen-cahn" in report and "## burgers-trajectory" in report
    # each family's own measures sit beside the common columns
    assert "| model | persistence baseline L2 | relative L2 past the horizon |" in report
    assert "| relative L2, frames T to t = 0.4 |" in report
    assert (out / "allen-cahn.png").read_bytes()[:4] == b"\x89PNG"


def test_unreadable_record_is_named_not_overwritten(tmp_path):
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "darcy-fno-quick.json").write_text("{not json")
    with pytest.raises(ValueError, match="remove it to redo the run"):
        load_record(tmp_path, "darcy-fno-quick")
    (tmp_path / "records" / "darcy-fno-quick.json").write_text(json.dumps({"task": "darcy"}))
    with pytest.raises(ValueError, match="not a suite record"):
        load_record(tmp_path, "darcy-fno-quick")
    old = {"task": "darcy", "test_relative_l2": 0.01}  # a record of an earlier version
    (tmp_path / "records" / "darcy-fno-quick.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match="before runs recorded their experiment"):
        load_record(tmp_path, "darcy-fno-quick")


def test_report_sets_the_peer_ratios_beside_the_runs():
    peer = PeerComparison(
        case="darcy paper 85 x 85, batch 20",
        device="cpu",
        parameters=(1000, 1000),
        train_samples_per_s=(20.0, 10.0),
        peak_mib=(1024.0, 2048.0),
        throughput_ratio=2.0,
        latency_ratio_1=1.5,
        latency_ratio_batch=1.2,
        memory_ratio=0.5,
    )
    assert PeerComparison.from_dict(json.loads(json.dumps(peer.to_dict()))) == peer
    record = {
        "task": "darcy",
        "model": "fno",
        "preset": "quick",
        "resolution": [43, 43],
        "parameters": 10,
        "test_relative_l2": 0.0132,
        "epochs": 20,
        "wall_seconds": 150.0,
        "time_per_epoch_s": 7.0,
        "train_samples_per_s": 140.0,
        "config": {"data": {}},
        "device": "cpu:cpu",
        "cpu_count": 2,
        "git_revision": "abc",
        "published": dataclasses.asdict(nearest_cell("darcy", "fno", 43)),
    }
    text = report_markdown([record], [peer])
    assert (
        "| darcy paper 85 x 85, batch 20 | cpu | 1,000 / 1,000 | 20.0 / 10.0 | 2.00 | 1.50 "
        "| 1.20 | 1024 / 2048 | 0.50 |" in text
    )
    assert "| fno | quick | 43 x 43 | 10 | 0.0132 | 0.0108" in text
