"""Asynchronous reading (DeepFM journal, section III-B-2): the same batches as the synchronous
loader, a bounded queue, no thread left behind, the producer's errors raised to the consumer."""

import threading
import time

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from skorch.dataset import Dataset

from sk_ctr import DeepFMClassifier
from sk_ctr.training.loader import SliceLoader
from sk_ctr.training.prefetch import THREAD_NAME, PrefetchLoader, prefetch


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


@pytest.fixture(autouse=True)
def no_thread_left():
    assert not prefetch_threads()
    yield
    assert not prefetch_threads(), "a prefetch thread outlived its loop"


def field_dataset(n_rows=103, validation=False):
    """A skorch Dataset of a FieldData-like mapping; with ``validation``, a nested Subset of
    it, as skorch's validation split builds."""
    rng = np.random.default_rng(0)
    X = {
        "ids": rng.integers(0, 50, size=(n_rows, 3)),
        "values": rng.normal(size=(n_rows, 2)).astype(np.float32),
    }
    dataset = Dataset(X, rng.integers(0, 2, size=n_rows).astype(np.float32))
    if validation:
        outer = torch.utils.data.Subset(dataset, rng.permutation(n_rows)[:80])
        dataset = torch.utils.data.Subset(outer, np.arange(5, 75))
    return dataset


def flatten(batch):
    X, y = batch
    return [X["ids"], X["values"], y]


def epochs_with_dropout_draws(loader_class, dataset, **kwargs):
    """Two shuffled epochs during which the consumer draws from torch's global generator
    after every batch, as dropout does in training."""
    torch.manual_seed(0)
    loader = loader_class(dataset, batch_size=16, shuffle=True, **kwargs)
    seen = []
    for _ in range(2):
        for batch in loader:
            seen.append(flatten(batch) + [torch.rand(3)])
    return seen, torch.rand(1)


@pytest.mark.parametrize("validation", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("device", [None, "cpu"])
def test_same_batches_in_the_same_order_as_slice_loader(validation, drop_last, device):
    dataset = field_dataset(validation=validation)
    expected, expected_next = epochs_with_dropout_draws(SliceLoader, dataset, drop_last=drop_last)
    got, got_next = epochs_with_dropout_draws(
        PrefetchLoader, dataset, drop_last=drop_last, device=device
    )
    assert len(got) == len(expected) == 2 * len(SliceLoader(dataset, 16, drop_last=drop_last))
    for got_batch, expected_batch in zip(got, expected, strict=True):
        for got_tensor, expected_tensor in zip(got_batch, expected_batch, strict=True):
            assert torch.equal(got_tensor, expected_tensor)
    # Neither the permutation nor the consumer's draws moved: the generator is where it was.
    assert torch.equal(got_next, expected_next)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="moving batches to a GPU needs CUDA")
def test_batches_arrive_on_the_cuda_device():  # GPU-only test
    dataset = field_dataset()
    for (X, y), (X_cpu, y_cpu) in zip(
        PrefetchLoader(dataset, batch_size=32, device="cuda"),
        SliceLoader(dataset, batch_size=32),
        strict=True,
    ):
        assert X["ids"].is_cuda and X["values"].is_cuda and y.is_cuda
        assert torch.equal(X["ids"].cpu(), X_cpu["ids"]) and torch.equal(y.cpu(), y_cpu)


def test_breaking_out_of_the_loop_stops_the_thread():
    for i, _ in enumerate(PrefetchLoader(field_dataset(), batch_size=8)):
        assert len(prefetch_threads()) == 1
        if i == 1:
            break
    assert not prefetch_threads()


def test_an_error_in_the_consumer_stops_the_thread():
    def train():
        for _ in PrefetchLoader(field_dataset(), batch_size=8):
            time.sleep(0.02)  # the producer fills the queue and blocks on it meanwhile
            raise FloatingPointError("loss is NaN")

    with pytest.raises(FloatingPointError):
        train()
    assert not prefetch_threads()


def test_an_error_in_the_producer_is_raised_in_the_consumer_after_the_batches_before_it():
    def source():
        yield from range(3)
        raise OSError("corrupt block in the data file")

    received = []
    with pytest.raises(OSError, match="corrupt block"):
        for batch in prefetch(source()):
            received.append(batch)
    assert received == [0, 1, 2]
    assert not prefetch_threads()


def test_the_producer_runs_at_most_depth_batches_ahead():
    produced = []

    def source():
        for i in range(20):
            produced.append(i)
            yield i

    batches = prefetch(source(), depth=2)
    assert next(batches) == 0
    # The first batch (read by the caller), two in the queue, one waiting to be put.
    deadline = time.monotonic() + 5
    while len(produced) < 4 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.1)
    assert len(produced) == 4
    assert list(batches) == list(range(1, 20))


def test_an_empty_source_starts_no_thread():
    assert list(prefetch([])) == []


@pytest.mark.parametrize("depth", [0, 1.5, True])
def test_depth_must_be_a_positive_int(depth):
    with pytest.raises(ValueError, match="depth"):
        prefetch([1, 2], depth=depth)
    with pytest.raises(ValueError, match="depth"):
        PrefetchLoader(field_dataset(), depth=depth)


def small_deepfm(**params):
    return DeepFMClassifier(
        embed_dim=4,
        hidden_units=(16, 16),
        dropout=0.3,
        batch_size=64,
        max_epochs=3,
        n_threads=1,
        random_state=0,
        **params,
    )


def test_deepfm_trains_to_the_same_weights_with_asynchronous_reading(small_ctr_data):
    # Early stopping exercises both slots: training batches, and the validation split (a
    # Subset) scored through iterator_valid after every epoch.
    X, y = small_ctr_data
    sync = small_deepfm(early_stopping=True).fit(X, y)
    asynchronous = small_deepfm(
        early_stopping=True,
        iterator_train=PrefetchLoader,
        iterator_valid=PrefetchLoader,
        iterator_train__device="cpu",
        iterator_train__depth=3,
    ).fit(X, y)
    assert asynchronous.history_[:, "train_loss"] == sync.history_[:, "train_loss"]
    np.testing.assert_array_equal(asynchronous.predict_proba(X), sync.predict_proba(X))


class FailOnBatch(Callback):
    """Raise in the middle of the first epoch, as StopOnNonFiniteLoss does on a NaN loss."""

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training and len(net.history[-1]["batches"]) == 3:
            raise FloatingPointError("The training loss became nan")


def test_a_fit_stopped_in_the_middle_of_an_epoch_leaves_no_thread(small_ctr_data):
    X, y = small_ctr_data
    est = small_deepfm(iterator_train=PrefetchLoader, callbacks=[("fail", FailOnBatch())])
    with pytest.raises(FloatingPointError):
        est.fit(X, y)
    assert not prefetch_threads()


def test_prefetch_parameter_reads_asynchronously_with_the_same_result():
    from sk_ctr import FMClassifier
    from sk_ctr.datasets import make_ctr_classification

    X, y = make_ctr_classification(n_samples=600, n_fields=3, cardinality=10, random_state=0)
    params = {"max_epochs": 2, "n_threads": 1, "random_state": 0, "batch_size": 64}
    sync = FMClassifier(**params).fit(X, y)
    est = FMClassifier(prefetch=True, **params).fit(X, y)
    dataset = est.get_dataset(est._encode(X, fit=False), y)
    assert isinstance(est.get_iterator(dataset, training=True), PrefetchLoader)
    np.testing.assert_array_equal(est.predict_proba(X), sync.predict_proba(X))
