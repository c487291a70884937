"""A model defined outside sciml joins every operator task through the command line,
`sciml train` and `sciml bench` alike, with no edit in sciml; plugins are also found
through the `sciml.plugins` entry-point group."""

import json
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from sciml.cli import main
from sciml.experiments import model_names

# A user's convolutional network, written the way DESIGN.md's contract shows: a builder
# whose keyword arguments are the model's config, told the data's shapes by the spec.
PLUGIN = """
import equinox as eqx
import jax
import sciml


class SmallCNN(eqx.Module):
    lift: eqx.nn.Conv
    mix: eqx.nn.Conv
    project: eqx.nn.Conv

    def __init__(self, spec, width, *, key):
        d, pad = len(spec.grid), "CIRCULAR" if spec.periodic else "ZEROS"
        keys = jax.random.split(key, 3)
        conv = dict(num_spatial_dims=d, kernel_size=3, padding="SAME", padding_mode=pad)
        conv["dtype"] = jax.numpy.float32  # the data are float32 (the suite turns x64 on)
        self.lift = eqx.nn.Conv(
            in_channels=spec.in_channels, out_channels=width, key=keys[0], **conv
        )
        self.mix = eqx.nn.Conv(in_channels=width, out_channels=width, key=keys[1], **conv)
        self.project = eqx.nn.Conv(
            in_channels=width, out_channels=spec.out_channels, key=keys[2], **conv
        )

    def __call__(self, a):
        return self.project(jax.nn.gelu(self.mix(jax.nn.gelu(self.lift(a)))))


@sciml.register_model("{name}")
def build(spec, *, key, width: int = 8):
    return SmallCNN(spec, width, key=key)
"""

TASKS = ("darcy", "burgers", "navier-stokes")


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / "my_models.py").write_text(textwrap.dedent(PLUGIN.format(name="my-cnn")))
    monkeypatch.syspath_prepend(str(folder))
    return ["--plugin", "my_models"]


def _sets(overrides):
    return [argument for override in overrides for argument in ("--set", override)]


@pytest.mark.parametrize("task", TASKS)
def test_a_user_model_trains_on_every_operator_task(tmp_path, cache, tiny, plugin, task):
    out = tmp_path / "run"
    sets = _sets([*tiny(task, "my-cnn"), "model.width=4"])
    argv = ["train", task, "--model", "my-cnn", *plugin, *sets, "--out", str(out)]
    assert main([*argv, "--cache", str(cache), "--no-progress"]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["model"] == "my-cnn" and record["config"]["model"] == {
        "name": "my-cnn",
        "width": 4,
    }
    assert np.isfinite(record["test_relative_l2"]) and record["epochs"] == 2
    frames = record["config"]["frames"]
    channels = (frames or [1, 1]) if task != "navier-stokes" else [2, 3]
    assert [record["spec"]["in_channels"], record["spec"]["out_channels"]] == channels
    assert record["spec"]["periodic"] == (task != "darcy")
    assert (out / "prediction.png").read_bytes()[:4] == b"\x89PNG"
    # its unknown config keys are named like a built-in model's
    assert main(["show", task, "--model", "my-cnn", *plugin, "--set", "model.depth=2"]) == 2


def test_a_user_model_joins_the_benchmark_suite(tmp_path, cache, tiny, plugin, capsys):
    out = tmp_path / "suite"
    for task in ("darcy", "navier-stokes"):
        sets = _sets([*tiny(task, "my-cnn"), "model.width=4"])
        argv = ["bench", task, "--models", "my-cnn", *plugin, *sets, "--out", str(out)]
        assert main([*argv, "--cache", str(cache), "--no-progress"]) == 0
    records = sorted((out / "records").glob("*.json"))
    assert [path.stem for path in records] == ["darcy-my-cnn-quick", "navier-stokes-my-cnn-quick"]
    darcy = json.loads(records[0].read_text())
    assert darcy["published"] is None and darcy["latency"]["1"]["ms_per_sample"] > 0
    # a convolutional network takes the finer grid: zero-shot super-resolution is measured
    assert list(darcy["super_resolution"]) == ["17"]
    report = (out / "results.md").read_text()
    assert "| my-cnn | quick | 9 x 9 |" in report and "| my-cnn | quick | 8 x 8 |" in report


def test_plugins_are_found_through_the_entry_point_group(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    (site / "entry_models.py").parent.mkdir()
    (site / "entry_models.py").write_text(textwrap.dedent(PLUGIN.format(name="entry-cnn")))
    info = site / "entry_models-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: entry-models\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[sciml.plugins]\nentry = entry_models\n")
    monkeypatch.syspath_prepend(str(site))
    assert "entry-cnn" not in model_names()
    assert main(["show", "darcy", "--model", "entry-cnn", "--set", "model.width=5"]) == 0
    assert 'name = "entry-cnn"\nwidth = 5' in capsys.readouterr().out


def test_the_readme_example_model_runs(tmp_path, monkeypatch, cache, tiny):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("# mymodels.py")
    example = readme[start : readme.index("```", start)]
    # under its own name: the plugin tests above registered their own "my-cnn"
    (tmp_path / "mymodels.py").write_text(example.replace('"my-cnn"', '"readme-cnn"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    sets = _sets([*tiny("burgers", "readme-cnn"), "model.width=4"])
    out = tmp_path / "run"
    argv = ["train", "burgers", "--model", "readme-cnn", "--plugin", "mymodels", *sets]
    with jax.enable_x64(False):  # as a user runs it: the example's layers are float32
        assert main([*argv, "--out", str(out), "--cache", str(cache), "--no-progress"]) == 0
    assert json.loads((out / "results.json").read_text())["parameters"] > 0
