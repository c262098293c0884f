"""Prediction from a raw frame in chunks encoded one ahead (sk_ctr.estimators.pipelined): the same
probabilities and errors as encoding the frame in one piece, and no thread left behind."""

import sys
import threading

import numpy as np
import pytest
import torch

import sk_ctr.estimators.pipelined as pipelined
from sk_ctr import DeepFMClassifier

BATCH = 16
#: Rows per chunk in these tests: 3 batches, so 200 rows make 5 chunks (the last one partial).
CHUNK = 3 * BATCH


@pytest.fixture(scope="module")
def fitted(small_ctr_data):
    X, y = small_ctr_data
    X, y = X.iloc[:300], y[:300]
    est = DeepFMClassifier(
        embed_dim=4, hidden_units=(8,), max_epochs=1, batch_size=BATCH, random_state=0
    )
    return est.fit(X, y), X


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(pipelined, "PIPELINE_CHUNK_ROWS", CHUNK)
    # A core to spare for the encoder, whatever machine runs the tests.
    monkeypatch.setattr(pipelined, "available_cores", lambda: torch.get_num_threads() + 1)


def requests(X):
    """200 rows spanning 5 chunks, with values unseen in fit and NaN in every column kind."""
    frame = X.iloc[:200].reset_index(drop=True).copy()
    categorical = [c for c in frame.columns if frame[c].dtype == object]
    numeric = [c for c in frame.columns if c not in categorical]
    frame.loc[5::7, categorical[0]] = "never seen in fit"
    frame.loc[3::11, categorical[1]] = np.nan
    frame.loc[150::9, numeric[0]] = np.nan
    return frame, categorical, numeric


def one_piece(est, X, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(pipelined, "PIPELINE_CHUNK_ROWS", 10**9)
        assert pipelined.chunk_rows(est, X) is None
        return est.predict_proba(X), est.decision_function(X)


def test_chunked_prediction_equals_one_piece(fitted, small_chunks, monkeypatch):
    est, X = fitted
    frame, _, _ = requests(X)
    expected_proba, expected_logits = one_piece(est, frame, monkeypatch)

    encoded_in = []
    encode = est._encode_for_prediction

    def spy(chunk):
        encoded_in.append((threading.current_thread() is threading.main_thread(), len(chunk)))
        return encode(chunk)

    monkeypatch.setattr(est, "_encode_for_prediction", spy, raising=False)
    assert pipelined.chunk_rows(est, frame) == CHUNK
    np.testing.assert_array_equal(est.predict_proba(frame), expected_proba)
    np.testing.assert_array_equal(est.decision_function(frame), expected_logits)
    # Five chunks per call (the last one partial), each encoded in the background thread.
    one_call = [(False, CHUNK)] * 4 + [(False, 200 - 4 * CHUNK)]
    assert encoded_in == one_call * 2


def test_chunk_rows_are_whole_batches(fitted, small_chunks, monkeypatch):
    est, X = fitted
    monkeypatch.setattr(pipelined, "PIPELINE_CHUNK_ROWS", 2 * BATCH + 5)
    assert pipelined.chunk_rows(est, X.iloc[:200]) == 2 * BATCH
    assert pipelined.chunk_rows(est, X.iloc[: 2 * BATCH]) is None  # one chunk: one piece
    monkeypatch.setattr(pipelined, "PIPELINE_CHUNK_ROWS", 5)  # under one batch: one batch
    assert pipelined.chunk_rows(est, X.iloc[:200]) == BATCH


@pytest.mark.parametrize(
    ("bad_value", "kind", "error", "message"),
    [
        (np.inf, "numeric", ValueError, "contains infinity"),
        (["a", "list"], "categorical", TypeError, "holds unhashable values"),
    ],
)
def test_bad_value_in_a_later_chunk_raises_the_named_error(
    fitted, small_chunks, bad_value, kind, error, message
):
    est, X = fitted
    frame, categorical, numeric = requests(X)
    column = (numeric if kind == "numeric" else categorical)[-1]
    frame[column] = frame[column].astype(object)
    frame.at[190, column] = bad_value  # in the fifth and last chunk
    before, interval = set(threading.enumerate()), sys.getswitchinterval()
    with pytest.raises(error, match=f"Column {column!r} {message}"):
        est.predict_proba(frame)
    assert set(threading.enumerate()) == before
    assert sys.getswitchinterval() == interval


def test_no_thread_or_switch_interval_outlives_the_call(fitted, small_chunks, monkeypatch):
    est, X = fitted
    frame, _, _ = requests(X)
    before, interval = set(threading.enumerate()), sys.getswitchinterval()
    during = []
    forward = pipelined.network_logits  # the network's pass over one chunk

    def spy(*args, **kwargs):
        during.append(sys.getswitchinterval())
        return forward(*args, **kwargs)

    monkeypatch.setattr(pipelined, "network_logits", spy)
    est.predict_proba(frame)
    assert set(threading.enumerate()) == before
    assert sys.getswitchinterval() == interval
    # Shortened while the chunks were encoded next to the network (see SWITCH_INTERVAL).
    assert during == [pytest.approx(min(pipelined.SWITCH_INTERVAL, interval))] * 5


@pytest.mark.parametrize("where", ["network", "encoding"])
def test_interrupt_propagates_and_joins_the_thread(fitted, small_chunks, monkeypatch, where):
    est, X = fitted
    frame, _, _ = requests(X)
    calls = []
    # the network's pass over one chunk, or the encoding of one
    owner, name = (
        (pipelined, "network_logits") if where == "network" else (est, "_encode_for_prediction")
    )
    original = getattr(owner, name)

    def interrupted_on_second_call(*args, **kwargs):
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupted_on_second_call, raising=False)
    before, interval = set(threading.enumerate()), sys.getswitchinterval()
    with pytest.raises(KeyboardInterrupt):
        est.predict_proba(frame)
    assert set(threading.enumerate()) == before
    assert sys.getswitchinterval() == interval
    assert len(calls) == 2  # stopped there: nothing after the interrupt was started


def test_encoded_and_small_inputs_take_one_piece(fitted, small_chunks):
    est, X = fitted
    frame, _, _ = requests(X)
    assert pipelined.chunk_rows(est, est.preprocessor_.transform(frame)) is None
    assert pipelined.chunk_rows(est, frame.to_numpy()) is None
    assert pipelined.chunk_rows(est, frame.iloc[:CHUNK]) is None
    unfitted = DeepFMClassifier(batch_size=BATCH)
    assert pipelined.chunk_rows(unfitted, frame) is None


def test_no_chunks_without_a_core_to_spare(fitted, small_chunks, monkeypatch):
    est, X = fitted
    frame = X.iloc[:200]
    assert pipelined.chunk_rows(est, frame) == CHUNK
    monkeypatch.setattr(pipelined, "available_cores", lambda: torch.get_num_threads())
    assert pipelined.chunk_rows(est, frame) is None  # torch's threads take every core
    monkeypatch.setattr(est, "n_threads", 1)
    monkeypatch.setattr(pipelined, "available_cores", lambda: 2)
    assert pipelined.chunk_rows(est, frame) == CHUNK  # the estimator's own thread count
    monkeypatch.setattr(est, "n_threads", 2)
    assert pipelined.chunk_rows(est, frame) is None


def test_off_by_default(fitted, monkeypatch):
    est, X = fitted
    monkeypatch.setattr(pipelined, "available_cores", lambda: torch.get_num_threads() + 1)
    assert pipelined.PIPELINE_CHUNK_ROWS is None
    assert pipelined.chunk_rows(est, X) is None
