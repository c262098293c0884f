"""Early stopping in scikit-learn's terms, the automatic batch size, and fits that either
complete or leave the estimator as it was (issue 13 item 1, issue 14 items 3 and 5-8)."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.metrics import log_loss
from sklearn.utils.estimator_checks import check_classifiers_train
from skorch.callbacks import Callback

from sk_ctr import (
    AutoFISClassifier,
    DeepFMClassifier,
    FMClassifier,
    FNNClassifier,
    LRClassifier,
)
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.estimators.defaults import auto_batch_size


@pytest.fixture(scope="module")
def data():
    X, y = make_ctr_classification(
        n_samples=1200, n_fields=4, cardinality=20, n_numeric=1, random_state=0
    )
    return X.iloc[:1000], y[:1000], X.iloc[1000:], y[1000:]


class RaiseInEpoch(Callback):
    """Raise ``error`` at the end of the ``epoch``-th epoch of a fit."""

    def __init__(self, epoch, error):
        self.epoch, self.error = epoch, error

    def on_train_begin(self, net, **kwargs):
        self.epochs_ = 0

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1
        if self.epochs_ == self.epoch:
            raise self.error


# ------------------------------------------------------------------ early stopping
def test_default_holds_out_a_split_and_restores_the_best_epoch_on_validation_loss(data):
    X, y, X_val, y_val = data
    est = FMClassifier(lr=0.05, max_epochs=30, scoring="loss", calibration=None, random_state=0)
    est.fit(X, y, X_val=X_val, y_val=y_val)
    losses = est.history_[:, "valid_loss"]
    assert len(losses) < 30  # stopped: lr=0.05 over-fits 1,000 rows within a few epochs
    assert est.best_epoch_ == 1 + int(np.argmin(losses))
    assert len(losses) == est.best_epoch_ + est.n_iter_no_change
    # the restored weights are the best epoch's: their validation log-loss is the recorded one
    restored = log_loss(y_val, est.predict_proba(X_val)[:, 1])
    assert restored == pytest.approx(min(losses), rel=1e-5)


def test_auto_holds_out_validation_rows_only_when_each_class_has_enough(data):
    X, y, _, _ = data
    est = LRClassifier(max_epochs=2, random_state=0).fit(X, y)
    assert "valid_loss" in est.history_[-1]
    assert sum(b.get("train_batch_size", 0) for b in est.history_[-1, "batches"]) == 900
    rare = np.zeros(len(y), dtype=int)
    rare[:40] = 1  # 10 % of 40 positives is 4 < 5 rows: no validation score at all
    est = LRClassifier(max_epochs=2, random_state=0).fit(X, rare)
    assert "valid_loss" not in est.history_[-1]
    assert est.best_epoch_ == 2
    est = LRClassifier(max_epochs=2, early_stopping=False, random_state=0).fit(X, y)
    assert "valid_loss" not in est.history_[-1]


def test_auto_stops_early_from_five_held_out_rows_of_the_rarer_class(data):
    # 60 positives: 6 of them held out, enough to stop on (a blind 50 epochs over-fits tiny
    # data: docs/defaults.md)
    X, y, _, _ = data
    rare = np.zeros(len(y), dtype=int)
    rare[:60] = 1
    est = LRClassifier(max_epochs=2, random_state=0).fit(X, rare)
    assert "valid_loss" in est.history_[-1]
    assert sum(b.get("train_batch_size", 0) for b in est.history_[-1, "batches"]) == 900


@pytest.mark.parametrize(
    ("scoring", "key"),
    [("roc_auc", "valid_auc"), ("neg_log_loss", "valid_score"), ("accuracy", "valid_score")],
)
def test_scoring_names_the_monitored_history_key(data, scoring, key):
    X, y, X_val, y_val = data
    est = FMClassifier(
        lr=0.05, max_epochs=4, scoring=scoring, n_iter_no_change=10, random_state=0
    ).fit(X, y, X_val=X_val, y_val=y_val)
    scores = est.history_[:, key]
    assert est.best_epoch_ == 1 + int(np.argmax(scores))
    if scoring == "neg_log_loss":  # the scorer and skorch's valid_loss agree
        np.testing.assert_allclose(scores, -np.array(est.history_[:, "valid_loss"]), rtol=1e-4)


def test_a_scoring_callable_is_used_as_a_scorer(data):
    X, y, X_val, y_val = data
    calls = []

    def mean_positive(estimator, X, y):
        calls.append(len(y))
        return float(estimator.predict_proba(X)[:, 1].mean())

    est = LRClassifier(max_epochs=3, scoring=mean_positive, n_iter_no_change=5, random_state=0)
    est.fit(X, y, X_val=X_val, y_val=y_val)
    assert calls == [200, 200, 200]
    assert len(est.history_[:, "valid_score"]) == 3


def test_tol_is_the_smallest_improvement_that_counts(data):
    X, y, X_val, y_val = data
    est = LRClassifier(max_epochs=20, tol=10.0, n_iter_no_change=2, random_state=0)
    est.fit(X, y, X_val=X_val, y_val=y_val)
    assert est.best_epoch_ == 1 and len(est.history_) == 3


def test_validation_rows_without_early_stopping_are_refused(data):
    X, y, X_val, y_val = data
    with pytest.raises(ValueError, match="early_stopping=False"):
        LRClassifier(early_stopping=False).fit(X, y, X_val=X_val, y_val=y_val)
    with pytest.raises(ValueError, match="y_val"):
        LRClassifier().fit(X, y, X_val=X_val)


def test_a_pretraining_stage_trains_on_all_of_x_when_x_val_is_given(data):
    # FNN's FM and AutoFIS's search run before training, on the training rows: with X_val
    # that is all of X (they took the rows of a held-out split, and failed without one).
    X, y, X_val, y_val = data
    fnn = FNNClassifier(
        hidden_units=(8,),
        pretrain_epochs=1,
        max_epochs=1,
        batch_size=50,
        n_threads=1,
        random_state=0,
    ).fit(X, y, X_val=X_val, y_val=y_val)
    assert fnn.pretrained_fm_.history_[-1, "train_batch_count"] == 1000 // 50
    assert "valid_auc" in fnn.history_[-1]
    autofis = AutoFISClassifier(
        base="fm", search_epochs=1, search_only=True, batch_size=50, n_threads=1, random_state=0
    ).fit(X, y, X_val=X_val, y_val=y_val)
    alpha = autofis.module_.search_gates.alpha
    assert autofis.optimizer_alpha_.state[alpha]["step"] == 1000 // 50


def test_a_one_class_validation_set_is_named(data):
    X, y, X_val, y_val = data
    with pytest.raises(ValueError, match="only one class"):
        LRClassifier().fit(X, y, X_val=X_val[y_val == 0], y_val=y_val[y_val == 0])
    one_positive = np.zeros(len(y), dtype=int)
    one_positive[0] = 1  # cannot be stratified: the held-out rows would lack a class
    with pytest.raises(ValueError, match="stratified"):
        LRClassifier(early_stopping=True).fit(X, one_positive)


def test_verbose_log_says_why_it_stopped_and_which_epoch_it_kept(data, capsys):
    X, y, X_val, y_val = data
    FMClassifier(lr=0.05, max_epochs=30, scoring="loss", verbose=1, random_state=0).fit(
        X, y, X_val=X_val, y_val=y_val
    )
    out = capsys.readouterr()
    assert "Stopping since valid_loss has not improved" in out.out
    assert "Restoring best model from epoch" in out.out
    # captured output is not a terminal: plain text, no colour codes, no progress bar
    assert "\x1b[" not in out.out and "\r" not in out.err


# ------------------------------------------------------------------ batch size
def test_auto_batch_size_gives_every_data_size_several_steps(data):
    assert [auto_batch_size(n) for n in (1, 200, 6_400, 10**8)] == [32, 32, 128, 2048]
    X, y, _, _ = data
    est = LRClassifier(max_epochs=1, early_stopping=False, random_state=0).fit(X, y)
    assert est.batch_size == "auto" and est.batch_size_ == auto_batch_size(1000)
    assert len(est.history_[-1, "batches"]) == -(-1000 // est.batch_size_) >= 10
    assert LRClassifier(batch_size=100, max_epochs=1).fit(X, y).batch_size_ == 100


def test_a_one_row_last_batch_trains_with_batch_norm(data):
    X, y, _, _ = data
    est = DeepFMClassifier(
        hidden_units=(8,),
        batch_norm=True,
        batch_size=333,
        max_epochs=1,
        early_stopping=False,
        random_state=0,
    ).fit(X.iloc[:667], y[:667])
    sizes = [b["train_batch_size"] for b in est.history_[-1, "batches"]]
    assert sizes == [333, 334]


@pytest.mark.parametrize("estimator", [LRClassifier, FMClassifier, DeepFMClassifier])
def test_defaults_pass_check_classifiers_train(estimator):
    check_classifiers_train(estimator.__name__, estimator(random_state=0))


# ------------------------------------------------------------------ all or nothing
def _state(est):
    return {k: v.clone() for k, v in est.module_.state_dict().items()}


def test_a_failed_refit_leaves_the_previous_model(data):
    X, y, X_val, _ = data
    est = FMClassifier(max_epochs=2, random_state=0).fit(X, y)
    before, preprocessor = est.predict_proba(X_val), est.preprocessor_
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X.assign(extra="x"), y[:-1])
    with pytest.raises(ValueError, match="non-zero"):
        est.fit(X, y, sample_weight=np.zeros(len(y)))
    assert est.preprocessor_ is preprocessor and est.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(est.predict_proba(X_val), before)


def test_an_interrupt_propagates_and_leaves_the_estimator_as_it_was(data):
    X, y, X_val, _ = data
    interrupt = RaiseInEpoch(2, KeyboardInterrupt)
    est = LRClassifier(max_epochs=5, callbacks=[("interrupt", interrupt)])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict_proba(X_val)
    interrupt.epoch = None  # a complete fit
    est.fit(X, y)
    before, weights, epochs = est.predict_proba(X_val), _state(est), len(est.history_)
    interrupt.epoch = 2
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(X, y)  # continued training changes the network in place: restored
    for name, value in _state(est).items():
        torch.testing.assert_close(value, weights[name])
    np.testing.assert_array_equal(est.predict_proba(X_val), before)
    assert len(est.history_) == epochs


def test_a_diverging_adam_fit_stops_with_a_message_and_keeps_the_old_model(data):
    X, y, X_val, _ = data
    est = DeepFMClassifier(hidden_units=(32, 32), max_epochs=3, random_state=0).fit(X, y)
    before = est.predict_proba(X_val)
    with pytest.raises(FloatingPointError, match="diverged.*lower lr"):
        est.set_params(lr=1e3, early_stopping=False).fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X_val), before)
    with pytest.raises(FloatingPointError, match="diverged"):
        DeepFMClassifier(hidden_units=(32, 32), lr=1e3, max_epochs=3, random_state=0).fit(X, y)


def test_the_divergence_threshold_leaves_normal_training_alone():
    # a hard, noisy problem: the loss stays near log 2 but never near the threshold
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.integers(0, 50, 500).astype(str)})
    y = rng.integers(0, 2, 500)
    est = FMClassifier(max_epochs=3, early_stopping=False, random_state=0).fit(X, y)
    assert max(est.history_[:, "train_loss"]) < 1.0


def test_a_large_penalty_is_not_taken_for_divergence():
    """The check reads the log-loss, not the regularised objective: DIN's adaptive penalty
    (eq. 10, a sum over the distinct rows of a batch) exceeds 10 log 2 on 1,500 rows while the
    log-loss stays near log 2."""
    from sk_ctr import EmbeddingMLPClassifier
    from sk_ctr.datasets import make_behavior_dataset
    from sk_ctr.training.callbacks import DIVERGED_LOSS

    X, y = make_behavior_dataset(n_samples=1500, random_state=0)
    est = EmbeddingMLPClassifier(
        behavior={"hist_item_id": "item_id", "hist_cate_id": "cate_id"},
        max_sequence_length=20, embed_dim=16, init_std=0.1, batch_size=256, lr=5e-3,
        adaptive_l2=0.5, max_epochs=1, early_stopping=False, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert est.history_[-1, "train_loss"] > DIVERGED_LOSS
    assert max(est.history_[-1, "batches", :, "train_logloss"]) < 1.0


# ------------------------------------------------------------------ messages
def test_a_label_column_name_as_y(data):
    X, y, X_val, _ = data
    est = LRClassifier(max_epochs=1, random_state=0).fit(X.assign(clicked=y), y="clicked")
    assert list(est.feature_names_in_) == list(X.columns)
    expected = LRClassifier(max_epochs=1, random_state=0).fit(X, y).predict_proba(X_val)
    np.testing.assert_array_equal(est.predict_proba(X_val), expected)
    with pytest.raises(ValueError, match="y='clicks' names a label column.*C1"):
        LRClassifier().fit(X, y="clicks")


def test_skorch_train_split_and_eval_set_point_to_x_val(data):
    from skorch.helper import predefined_split

    X, y, X_val, y_val = data
    with pytest.raises(ValueError, match="X_val"):
        LRClassifier(train_split=predefined_split(None)).fit(X, y)
    with pytest.raises(TypeError, match=r"\['eval_set'\].*X_val="):
        LRClassifier().fit(X, y, eval_set=[(X_val, y_val)])


def test_a_tied_best_score_keeps_the_later_epoch(data):
    # a validation AUC of 1.0 after one epoch of barely trained probabilities: the epochs
    # that tie it are better trained, and the last of them is the one restored
    X, y, X_val, y_val = data
    est = LRClassifier(
        max_epochs=10,
        n_iter_no_change=3,
        scoring=lambda est, X, y: 1.0,
        calibration=None,
        random_state=0,
    ).fit(X, y, X_val=X_val, y_val=y_val)
    assert len(est.history_) == 4 and est.best_epoch_ == 4
    last = log_loss(y_val, est.predict_proba(X_val)[:, 1])
    assert last == pytest.approx(est.history_[-1, "valid_loss"], rel=1e-5)


def test_prediction_switches_a_network_left_in_training_mode_to_eval(data):
    X, y, X_val, _ = data
    est = DeepFMClassifier(hidden_units=(8,), dropout=0.5, max_epochs=1, random_state=0)
    est.fit(X, y)
    est.module_.train(True)  # as a user's experiment might leave it: dropout active
    first = est.predict_proba(X_val)
    assert not est.module_.training and not any(m.training for m in est.module_.modules())
    np.testing.assert_array_equal(first, est.predict_proba(X_val))
    est.partial_fit(X, y)  # training switches it on for its steps, validation off again
    assert not est.module_.training
