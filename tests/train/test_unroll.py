"""Adaptive train-and-unroll: the stall rule, the stages, and a resume that replays them."""

import equinox as eqx
import jax
import numpy as np
import pytest

from sciml.models.scno import SCNO, depth_of
from sciml.train import TrainConfig
from sciml.train.unroll import UnrollRule, fit_unrolling

CONFIG = TrainConfig(epochs=7, batch_size=8, learning_rate=1e-2, schedule="cosine", seed=3)
# a tolerance of 0.4: an epoch that does not cut the loss by 40 % is a stall
RULE = UnrollRule(start=1, step=1, final=3, patience=1, tolerance=0.4, min_epochs=2)


class Interrupt(Exception):
    pass


def test_the_rule_stalls_on_too_little_progress_and_replays_its_decisions():
    rule = UnrollRule(start=2, step=2, final=6, patience=2, tolerance=0.1, min_epochs=3)
    assert not rule.stalled([1.0, 0.5])  # fewer than min_epochs
    assert not rule.stalled([1.0, 0.5, 0.2])  # best of the last 2 is 0.2 < 0.9 * 1.0
    assert rule.stalled([1.0, 0.95, 0.92])  # 0.92 > 0.9 * 1.0
    losses = [1.0, 0.5, 0.2, 0.19, 0.19, 0.5, 0.18, 0.18, 0.18, 0.1, 0.1, 0.1]
    depths, depth, since = rule.replay(losses)
    # depth 2 stalls at epoch 5 (0.19 > 0.9 * 0.2); depth 4 not at epoch 8 (0.18 against
    # 0.5 before) but at epoch 9 (0.18 > 0.9 * 0.18); depth 6 is final
    assert depths == [2] * 5 + [4] * 4 + [6] * 3
    assert (depth, since) == (6, 9)
    # in a run of 12 epochs the same; in one of 11 the stall at epoch 9 leaves 2 epochs,
    # fewer than min_epochs = 3 to train depth 6: no unroll
    assert rule.replay(losses, 12)[0] == depths
    assert rule.replay(losses[:11], 11)[0] == [2] * 5 + [4] * 6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(start=3, final=2), "final >= start"),
        (dict(tolerance=1.0), r"tolerance in \[0, 1\)"),
        (dict(patience=2, min_epochs=2), "min_epochs >= patience \\+ 1 = 3"),
        (dict(step=0), "step to be a positive integer"),
    ],
)
def test_a_bad_rule_is_refused_with_what_was_expected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UnrollRule(**kwargs)


@pytest.fixture(scope="module")
def scno():
    return SCNO(2, 1, (8, 8), backbone="fno", modes=(2, 2), channels=4, depth=5,
                projection_channels=4, key=jax.random.key(0))  # fmt: skip


@pytest.fixture(scope="module")
def full(problem, scno, tmp_path_factory):
    folder = tmp_path_factory.mktemp("unroll")
    return fit_unrolling(scno, *problem, rule=RULE, config=CONFIG, checkpoint_dir=folder,
                         progress=False)  # fmt: skip


def test_training_unrolls_at_every_stall_and_ends_at_the_depth_reached(full):
    depths, _, _ = RULE.replay(full.history["train_loss"], CONFIG.epochs)
    assert full.depths == depths and len(depths) == CONFIG.epochs
    assert depths[0] == RULE.start and full.unroll_epochs  # it did unroll
    assert all(b - a in (0, RULE.step) for a, b in zip(depths, depths[1:]))
    assert depth_of(full.model) == depths[-1]


def test_an_interrupted_run_resumes_at_its_depth_and_ends_bit_for_bit(
    problem, scno, full, tmp_path
):
    first_unroll = full.unroll_epochs[0]

    def interrupt(epoch, history):
        if epoch == first_unroll + 1:  # one epoch into the second stage
            raise Interrupt

    config = CONFIG.__class__(**{**CONFIG.to_dict(), "checkpoint_every": 1})
    full_config = fit_unrolling(scno, *problem, rule=RULE, config=config,
                                checkpoint_dir=tmp_path / "a", progress=False)  # fmt: skip
    with pytest.raises(Interrupt):
        fit_unrolling(scno, *problem, rule=RULE, config=config, checkpoint_dir=tmp_path / "b",
                      progress=False, callbacks=[interrupt])  # fmt: skip
    resumed = fit_unrolling(scno, *problem, rule=RULE, config=config, resume=tmp_path / "b",
                            progress=False)  # fmt: skip
    assert resumed.depths == full_config.depths
    assert resumed.history["train_loss"] == full_config.history["train_loss"]
    for x, y in zip(jax.tree.leaves(eqx.filter(resumed.model, eqx.is_array)),
                    jax.tree.leaves(eqx.filter(full_config.model, eqx.is_array))):  # fmt: skip
        np.testing.assert_array_equal(x, y)


def test_without_a_folder_the_stages_hand_over_through_a_temporary_one(problem, scno):
    config = TrainConfig(epochs=4, batch_size=8, learning_rate=1e-2, seed=3)
    rule = UnrollRule(start=1, step=2, final=3, patience=1, tolerance=0.99, min_epochs=2)
    unrolled = fit_unrolling(scno, *problem, rule=rule, config=config, progress=False)
    assert unrolled.depths == [1, 1, 3, 3]  # a 99 % cut is never made: a stall at epoch 2
