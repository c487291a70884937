"""Streaming training from a lazy data set: the same run as in memory, reading ahead
by a bounded number of batches, and loud about bad samples."""

import threading
import time

import equinox as eqx
import jax
import numpy as np
import pytest

from sciml.data.lazy import ArraySamples, LazyDataset
from sciml.data.stream import BatchStream
from sciml.models import FNO
from sciml.train import TrainConfig, fit

GRID = 8
COORDS = (np.arange(GRID) / GRID,) * 2
CONFIG = TrainConfig(epochs=3, batch_size=4, learning_rate=1e-2, seed=3)


def problem(n=22):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, 1, GRID, GRID)).astype(np.float32)
    u = (a + np.roll(a, 1, axis=2) + 1).astype(np.float32)
    return a, u


def model():
    return FNO(1, 1, (3, 3), 4, 1, projection_channels=8, key=jax.random.key(0))


class Recording(ArraySamples):
    """Records every read: the indices, and the time it started."""

    def __init__(self, *args, delay=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads: list[np.ndarray] = []
        self.delay = delay

    def _read(self, indices):
        self.reads.append(indices.copy())
        time.sleep(self.delay)
        return super()._read(indices)


def leaves(model):
    return jax.tree.leaves(eqx.filter(model, eqx.is_array))


@pytest.mark.parametrize("loop", ["scan", "steps"])
def test_a_streamed_run_is_the_in_memory_run(loop):
    """The same batches in the same order: the same losses and parameters (measured
    bit-for-bit on one CPU device), for either in-memory epoch loop."""
    a, u = problem()
    config = TrainConfig(**{**CONFIG.to_dict(), "epoch_loop": loop})
    in_memory, history = fit(
        model(), (a[:18], u[:18]), (a[18:], u[18:]), config=config, progress=False
    )
    source = Recording(a[:18], u[:18], COORDS)
    streamed, streamed_history = fit(
        model(), source, ArraySamples(a[18:], u[18:], COORDS), config=config, progress=False
    )
    assert history["train_loss"][-1] < 0.85 * history["train_loss"][0]  # it trained
    for name in ("train_loss", "test_l2", "test_h1"):
        np.testing.assert_allclose(streamed_history[name], history[name], rtol=1e-6)
    for x, y in zip(leaves(streamed), leaves(in_memory)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)
    # 4 batches of 4 per epoch (2 samples sit out), each sample at most once an epoch;
    # read batch by batch ("steps"), or as one chunk of the 4 batches ("scan")
    reads_per_epoch = 4 if loop == "steps" else 1
    assert len(source.reads) == 3 * reads_per_epoch
    for epoch in range(3):
        drawn = source.reads[reads_per_epoch * epoch : reads_per_epoch * (epoch + 1)]
        assert len(np.unique(np.concatenate(drawn))) == 16


def test_a_streamed_run_resumes_where_it_stopped(tmp_path):
    a, u = problem()
    source = ArraySamples(a, u, COORDS)
    _, whole = fit(model(), source, config=CONFIG, progress=False)

    class Stop(Exception):
        pass

    def stop_after_1(epoch, history):
        if epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        fit(
            model(),
            source,
            config=CONFIG,
            checkpoint_dir=tmp_path,
            callbacks=[stop_after_1],
            progress=False,
        )
    _, resumed = fit(model(), source, config=CONFIG, resume=tmp_path, progress=False)
    assert resumed["train_loss"] == whole["train_loss"]


def test_the_stream_reads_ahead_by_at_most_its_depth():
    a, u = problem(40)
    source = Recording(a, u, COORDS)
    batches = np.arange(40).reshape(10, 4)
    with BatchStream(source, batches, depth=2) as stream:
        iterator = iter(stream)
        inputs, outputs = next(iterator)
        np.testing.assert_array_equal(np.asarray(inputs), a[:4])
        np.testing.assert_array_equal(np.asarray(outputs), u[:4])
        time.sleep(0.3)
        # the one yielded, two waiting in the queue, one read and waiting to enter it
        assert len(source.reads) <= 1 + 2 + 1
    # leaving the block stops the thread; nothing is read after
    count = len(source.reads)
    time.sleep(0.1)
    assert len(source.reads) == count
    assert not any(t.name == "sciml-batches" for t in threading.enumerate())


def test_the_stream_overlaps_reading_with_the_consumer():
    """Reads of 50 ms and 50 ms of work per batch: about 10 x 50 ms, not 10 x 100."""
    a, u = problem(40)
    source = Recording(a, u, COORDS, delay=0.05)
    batches = np.arange(40).reshape(10, 4)
    started = time.perf_counter()
    with BatchStream(source, batches) as stream:
        for _ in stream:
            time.sleep(0.05)
    assert time.perf_counter() - started < 0.8


def test_the_batches_come_in_the_order_asked_for():
    a, u = problem(12)
    order = np.array([[7, 3, 3, 11], [0, 5, 2, 9]])
    with BatchStream(ArraySamples(a, u, COORDS), order) as stream:
        got = [np.asarray(inputs) for inputs, _ in stream]
    for batch, inputs in zip(order, got):
        np.testing.assert_array_equal(inputs, a[batch])


def test_a_non_finite_sample_is_refused_with_its_index():
    a, u = problem()
    u[13, 0, 2, 2] = np.nan
    with pytest.raises(ValueError, match=r"train outputs hold non-finite values.*\[13\]"):
        fit(model(), ArraySamples(a, u, COORDS), config=CONFIG, progress=False)


def test_an_error_in_the_reading_thread_reaches_the_caller():
    class Broken(ArraySamples):
        def _read(self, indices):
            if 5 in indices:
                raise OSError("damaged block")
            return super()._read(indices)

    a, u = problem(12)
    with pytest.raises(OSError, match="damaged block"):
        with BatchStream(Broken(a, u, COORDS), np.arange(12).reshape(3, 4)) as stream:
            for _ in stream:
                pass


def test_a_lazy_data_set_is_checked_like_an_in_memory_one():
    a, u = problem()

    class Wrong(LazyDataset):
        coords, config = COORDS, {}

        def __len__(self):
            return 3

        input_shape = property(lambda self: (1, GRID, GRID))
        output_shape = property(lambda self: (1, GRID, GRID))

        def _read(self, indices):
            return a[indices][..., :4], u[indices]

    with pytest.raises(ValueError, match="fewer than one batch"):
        fit(model(), Wrong(), config=CONFIG, progress=False)
    with pytest.raises(ValueError, match=r"read arrays of shapes \(2, 1, 8, 4\)"):
        Wrong().read([0, 2])
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\)"):
        Wrong().read([3])
    with pytest.raises(ValueError, match="model maps one input"):
        fit(model(), ArraySamples(a, u[:, :, :4], COORDS), config=CONFIG, progress=False)


def test_rows_of_an_hdf5_dataset_are_read_in_runs(tmp_path):
    import h5py

    from sciml.data.lazy import read_rows

    values = np.arange(40.0).reshape(10, 2, 2)
    with h5py.File(tmp_path / "rows.h5", "w") as file:
        file["x"] = values
        for indices in ([0, 1, 2, 5, 7, 8, 9], [4], [], list(range(10))):
            indices = np.asarray(indices, dtype=np.int64)
            np.testing.assert_array_equal(read_rows(file["x"], indices), values[indices])
