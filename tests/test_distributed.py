"""Joining a multi-host run: when jax.distributed.initialize is called, and with what.

A multi-host run cannot happen here; these tests check sciml's side of it (the flag,
the environment, the arguments handed to JAX) with JAX's initialize recorded instead
of called. The per-process split of the samples is tested in
tests/data/test_sharded_generation.py.
"""

import jax
import numpy as np
import pytest

from sciml.distributed import batch_devices, initialize, is_primary

VARIABLES = (
    "SCIML_DISTRIBUTED",
    "SCIML_COORDINATOR_ADDRESS",
    "SCIML_NUM_PROCESSES",
    "SCIML_PROCESS_ID",
)


@pytest.fixture
def calls(monkeypatch):
    """The keyword arguments of each jax.distributed.initialize call."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    recorded = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kwargs: recorded.append(kwargs))
    return recorded


def test_nothing_is_initialised_unless_asked(calls, monkeypatch):
    assert initialize() is False
    monkeypatch.setenv("SCIML_DISTRIBUTED", "0")
    assert initialize() is False
    assert calls == []


def test_the_flag_or_the_variable_lets_jax_detect_the_cluster(calls, monkeypatch):
    assert initialize(True) is True
    monkeypatch.setenv("SCIML_DISTRIBUTED", "yes")
    assert initialize() is True
    assert calls == [{}, {}]


def test_explicit_coordinates_are_handed_to_jax(calls, monkeypatch):
    monkeypatch.setenv("SCIML_DISTRIBUTED", "1")
    monkeypatch.setenv("SCIML_COORDINATOR_ADDRESS", "node0:1234")
    monkeypatch.setenv("SCIML_NUM_PROCESSES", "4")
    monkeypatch.setenv("SCIML_PROCESS_ID", "2")
    assert initialize() is True
    assert calls == [{"coordinator_address": "node0:1234", "num_processes": 4, "process_id": 2}]


def test_malformed_environments_are_refused(calls, monkeypatch):
    monkeypatch.setenv("SCIML_DISTRIBUTED", "maybe")
    with pytest.raises(ValueError, match="SCIML_DISTRIBUTED must be"):
        initialize()
    monkeypatch.setenv("SCIML_DISTRIBUTED", "1")
    monkeypatch.setenv("SCIML_COORDINATOR_ADDRESS", "node0:1234")
    with pytest.raises(ValueError, match="missing: SCIML_NUM_PROCESSES, SCIML_PROCESS_ID"):
        initialize()
    monkeypatch.setenv("SCIML_NUM_PROCESSES", "four")
    monkeypatch.setenv("SCIML_PROCESS_ID", "0")
    with pytest.raises(ValueError, match="SCIML_NUM_PROCESSES expects an integer, got 'four'"):
        initialize()
    assert calls == []


def test_one_process_is_the_primary_one():
    assert jax.process_count() == 1 and is_primary()


def test_a_mesh_without_a_batch_axis_is_refused():
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    with pytest.raises(ValueError, match="axis named 'batch'.*axes are \\('data',\\)"):
        batch_devices(mesh)


def test_the_command_line_flag_initialises_before_anything_else(calls, capsys):
    from sciml.cli import main

    # an unknown preset stops the command right after the flag has been acted on
    assert main(["train", "darcy", "--preset", "no-such-preset", "--distributed"]) == 2
    assert calls == [{}]
    assert main(["train", "darcy", "--preset", "no-such-preset"]) == 2
    assert calls == [{}]
    assert "no-such-preset" in capsys.readouterr().err
