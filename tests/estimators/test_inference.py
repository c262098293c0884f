"""Prediction's lean loop (sk_ctr.estimators.inference): the logits skorch's ``forward`` returns,
bit for bit, with the network under ``torch.inference_mode``; skorch's loop wherever it differs."""

import sys
import types

import numpy as np
import pytest
import torch
from scipy.special import expit

from sk_ctr import DeepFMClassifier
from sk_ctr.estimators.inference import network_logits

BATCH = 16


@pytest.fixture(scope="module")
def fitted(small_ctr_data):
    X, y = small_ctr_data
    X, y = X.iloc[:300], y[:300]
    est = DeepFMClassifier(
        embed_dim=4, hidden_units=(8,), dropout=0.5, max_epochs=1, batch_size=BATCH,
        random_state=0,
    )  # fmt: skip
    return est.fit(X, y), X


def skorch_logits(est, data):
    with est._runtime():
        return est.forward(data, training=False).numpy()


def requests(X, n_rows):
    """``n_rows`` rows with values unseen in fit and NaN in every column kind."""
    frame = X.iloc[:n_rows].reset_index(drop=True).copy()
    for name in frame.columns:
        if frame[name].dtype == object:
            frame.loc[1::3, name] = "never seen"
        frame.loc[::4, name] = np.nan
    return frame


class NetworkModes:
    """Records, for each forward of the network, whether it ran in inference mode and with
    the network in training mode."""

    def __init__(self, module):
        self.calls = []
        self.handle = module.register_forward_pre_hook(self.record)

    def record(self, module, args):
        self.calls.append((torch.is_inference_mode_enabled(), module.training))


# 1 row, a batch, batches whose last one has one row (joined to the one before), and more
@pytest.mark.parametrize("n_rows", [1, 2, BATCH, 2 * BATCH + 1, 5 * BATCH + 3])
def test_logits_are_skorch_forwards_bit_for_bit(fitted, n_rows):
    est, X = fitted
    frame = requests(X, n_rows)
    encoded = est.preprocessor_.transform(frame)
    expected = skorch_logits(est, encoded)
    with est._runtime():
        logits = network_logits(est, encoded)
    assert logits.shape == (n_rows,)
    np.testing.assert_array_equal(logits.numpy(), expected)
    # and through the public methods, from a raw frame and from FieldData
    scaled = expected.astype(np.float64) / est.temperature_
    np.testing.assert_array_equal(est.decision_function(frame), scaled)
    np.testing.assert_array_equal(est.predict_proba(encoded)[:, 1], expit(scaled))


def test_network_runs_in_inference_and_evaluation_mode(fitted):
    est, X = fitted
    frame = requests(X, 3 * BATCH)
    expected = est.predict_proba(frame)
    est.module_.train()  # as left by a user, or an interrupted fit: dropout on
    modes = NetworkModes(est.module_)
    try:
        np.testing.assert_array_equal(est.predict_proba(frame), expected)
    finally:
        modes.handle.remove()
    assert modes.calls == [(True, False)] * 3
    assert not est.module_.training
    assert all(not module.training for module in est.module_.modules())


def test_logits_need_no_gradient_and_are_plain_numbers(fitted):
    est, X = fitted
    decision = est.decision_function(requests(X, 5))
    assert decision.dtype == np.float64 and decision.shape == (5,)
    assert torch.is_grad_enabled()  # nothing left switched off


class CountedSteps(DeepFMClassifier):
    """A subclass customising skorch's evaluation step: prediction must run through it."""

    def evaluation_step(self, batch, training=False):
        self.evaluation_steps = getattr(self, "evaluation_steps", 0) + 1
        return super().evaluation_step(batch, training)


@pytest.mark.parametrize(
    "setting",
    ["subclass", "prefetch", "iterator_valid__batch_size", "dataset"],
)
def test_skorch_loop_runs_where_the_lean_loop_would_differ(fitted, small_ctr_data, setting):
    est, X = fitted
    frame = requests(X, 3 * BATCH + 5)
    encoded = est.preprocessor_.transform(frame)
    expected = skorch_logits(est, encoded)
    if setting == "subclass":
        X_train, y_train = small_ctr_data
        est = CountedSteps(**est.get_params()).fit(X_train.iloc[:300], y_train[:300])
        expected = skorch_logits(est, encoded)
        est.evaluation_steps = 0
        with est._runtime():
            logits = network_logits(est, encoded)
        assert est.evaluation_steps == 4
    else:
        data = encoded
        if setting == "prefetch":
            est.set_params(prefetch=True)
        elif setting == "iterator_valid__batch_size":
            vars(est)["iterator_valid__batch_size"] = 5  # as skorch stores such parameters
        else:
            data = est.get_dataset(encoded)
        modes = NetworkModes(est.module_)
        try:
            with est._runtime():
                logits = network_logits(est, data)
        finally:
            modes.handle.remove()
            est.set_params(prefetch=False)
            est.__dict__.pop("iterator_valid__batch_size", None)
        # skorch's loop: gradients off, not inference mode; its own batches
        n_batches = 11 if setting == "iterator_valid__batch_size" else 4
        assert modes.calls == [(False, False)] * n_batches
        if setting != "iterator_valid__batch_size":
            np.testing.assert_array_equal(logits.numpy(), expected)
        else:
            np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_the_lean_loop_does_not_depend_on_the_copy_of_sk_ctr_imported_last(fitted, monkeypatch):
    """benchmarks/checkout_comparison.py imports two checkouts in one process, one after the
    other: the first one's estimators must still take the lean loop, though
    ``sk_ctr.estimators.base`` then names the other copy's module."""
    est, X = fitted
    encoded = est.preprocessor_.transform(requests(X, 2 * BATCH))
    other_copy = types.ModuleType("sk_ctr.estimators.base")  # its own functions, as a copy has
    steps = ("forward", "forward_iter", "evaluation_step", "get_dataset", "get_iterator")
    other_copy.CTRClassifier = type("CTRClassifier", (), {step: lambda self: 0 for step in steps})
    monkeypatch.setitem(sys.modules, "sk_ctr.estimators.base", other_copy)
    modes = NetworkModes(est.module_)
    try:
        with est._runtime():
            network_logits(est, encoded)
    finally:
        modes.handle.remove()
    assert modes.calls == [(True, False)] * 2  # inference mode: the lean loop
