"""The estimators as scikit-learn users meet them: checks, integration, labels, bad input."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks
from skorch import NeuralNet

from sk_ctr import (
    CTRClassifier,
    CTRTransformer,
    DCNClassifier,
    DeepFMClassifier,
    FieldData,
    FMClassifier,
    LRClassifier,
    PNNClassifier,
    TwoTowerClassifier,
    WideDeepClassifier,
)
from sk_ctr.presets import FAST
from sk_ctr.presets import fast_estimator as small
from sk_ctr.utils.discovery import all_estimators

#: Every estimator of sk_ctr, discovered: a new one is tested here with no list to edit.
ESTIMATORS = [cls for _, cls in all_estimators()]
#: Estimators whose parameters name columns of the data (the towers' fields): the data sets of
#: scikit-learn's checks (columns 0, 1, ...) cannot have them.
NAMED_COLUMNS = {TwoTowerClassifier}


def checked(cls):
    """The fast configuration, with larger steps on smaller batches for the checks' harder data
    (3 epochs: each check fits several times; the epochs were half a check's CPU at 6)."""
    if issubclass(cls, CTRClassifier):
        return small(cls, max_epochs=3, batch_size=64, lr=5e-2)
    return small(cls)


def test_every_estimator_has_a_fast_configuration():
    assert {cls.__name__ for cls in ESTIMATORS} == set(FAST)
    assert NAMED_COLUMNS <= set(ESTIMATORS)


# ----------------------------------------------------------------------------------------
# scikit-learn's own estimator checks
# ----------------------------------------------------------------------------------------
# Expected failures are derived from what causes them, so each estimator gets exactly its own
# (and xfail_strict in pyproject.toml fails a check that starts passing): scikit-learn 1.6
# moved them from an estimator tag into the test (``expected_failed_checks``) and keeps its own
# table keyed by class in the test utilities; ours are keyed by the property that causes them.
SKORCH_INIT_ATTRIBUTES = (
    "skorch.NeuralNet.__init__ sets history_, initialized_ and virtual_params_, and keeps "
    "iterator_train__shuffle as a pass-through skorch parameter"
)
MINI_BATCH_SGD = (
    "trained by mini-batch SGD: a weight of 2 is not the same step sequence as a duplicated row"
)
MINI_BATCH_SGD_SECOND_STAGE = (
    "the second stage ({}) is trained by mini-batch SGD: a weight of 2 is not the same step "
    "sequence as a duplicated row"
)
FLOAT32_ROUNDING = (
    "float32 matrix products round differently for different batch shapes: on the check's data "
    "these outputs are ~4-7, where 1-2 ulp (~1e-6) already exceed the check's atol=1e-7"
)
#: The configurations whose decision_function differs between a full batch and a subset.
SUBSET_ROUNDING = [
    (PNNClassifier, {}),
    (DCNClassifier, {"cross": "mix", "structure": "stacked"}),
]


#: The warning of the behaviour-sequence models fitted on the checks' data, which has no history.
BEHAVIOR_NOT_SET = "ignore:[A-Za-z]+Classifier was fitted without behavior="


#: Of the network estimators, whose signature ends in ``**skorch_params``.
SKORCH_PARAMS_FAILED_CHECKS = {
    "check_do_not_raise_errors_in_init_or_set_params": (
        "the check passes every name of the signature as a keyword, skorch_params=-1 too, which "
        "raises a TypeError as any name that is not a skorch setting does; "
        "tests/estimators/test_parameters.py runs the check's values through the named parameters"
    ),
}


def expected_failed_checks(estimator):
    """The common checks ``estimator`` fails, with the reason of each."""
    failures = {}
    if isinstance(estimator, NeuralNet):
        failures["check_no_attributes_set_in_init"] = SKORCH_INIT_ATTRIBUTES
        failures["check_sample_weight_equivalence_on_dense_data"] = MINI_BATCH_SGD
    else:  # GBDT + LR / FFM: boosted trees, then a network on their leaves
        second_stage = type(estimator._final_stage.default()).__name__
        failures["check_sample_weight_equivalence_on_dense_data"] = (
            MINI_BATCH_SGD_SECOND_STAGE.format(second_stage)
        )
    if isinstance(estimator, CTRClassifier):
        failures.update(SKORCH_PARAMS_FAILED_CHECKS)
    params = estimator.get_params(deep=False)
    if any(
        type(estimator) is cls and all(params[k] == v for k, v in settings.items())
        for cls, settings in SUBSET_ROUNDING
    ):
        failures["check_methods_subset_invariance"] = FLOAT32_ROUNDING
    return failures


@parametrize_with_checks(
    [checked(cls) for cls in ESTIMATORS if cls not in NAMED_COLUMNS],
    expected_failed_checks=expected_failed_checks,
)
@pytest.mark.filterwarnings(BEHAVIOR_NOT_SET)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


#: The common checks that train the network and compare what it returns: those a variant of an
#: estimator's network can fail. The others (parameters, cloning, tags, input validation) do
#: not see the network and run once per estimator class above.
NETWORK_CHECKS = {
    "check_classifiers_train",
    "check_classifiers_classes",
    "check_decision_proba_consistency",
    "check_estimators_pickle",
    "check_fit2d_predict1d",
    "check_fit_idempotent",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_readonly_memmap_input",
}


def network_checks(estimators):
    """``parametrize_with_checks`` restricted to :data:`NETWORK_CHECKS`."""
    cases = []
    for estimator in estimators:
        for case in estimator_checks_generator(
            estimator, mark="xfail", expected_failed_checks=expected_failed_checks(estimator)
        ):
            check = getattr(case, "values", case)[1]  # a pytest.param when marked xfail
            if check.func.__name__ in NETWORK_CHECKS:
                cases.append(case)
    return pytest.mark.parametrize(
        "estimator, check",
        cases,
        ids=lambda v: v.func.__name__ if callable(v) else "".join(str(v).split()),
    )


@network_checks(
    [
        small(DeepFMClassifier, max_epochs=3, batch_size=64, lr=5e-2, deep=deep)
        for deep in ("inner", "outer", "both")
    ]
    + [  # DCN-V2's crosses, one in each structure
        small(DCNClassifier, max_epochs=3, batch_size=64, lr=5e-2, cross=cross, structure=structure)
        for cross, structure in (("matrix", "parallel"), ("mix", "stacked"))
    ]
)
def test_sklearn_compatible_variants(estimator, check):
    check(estimator)


class CTRTransformerArrays(CTRTransformer):
    """CTRTransformer whose output is the one array ``[ids, values]``: the checks that compare
    or subtract outputs as arrays see the encoding itself."""

    def transform(self, X):
        data = super().transform(X)
        return np.hstack([data["ids"], data["values"]])


PARTIAL_FIT_AFTER_FIT = (
    "the check calls partial_fit after fit, which CTRTransformer refuses on purpose: fit keeps "
    "no running counts to add a chunk to"
)
FIELDDATA_OUTPUT = (
    "transform returns a FieldData (a dict of id and value arrays with their schema), which the "
    "check compares or subtracts as one array; CTRTransformerArrays passes it"
)
TRANSFORMER_FAILURES = {
    CTRTransformerArrays: {"check_fit_score_takes_y": PARTIAL_FIT_AFTER_FIT},
    CTRTransformer: {
        "check_fit_score_takes_y": PARTIAL_FIT_AFTER_FIT,
        **dict.fromkeys(
            [
                "check_estimators_pickle",
                "check_fit_idempotent",
                "check_methods_sample_order_invariance",
                "check_methods_subset_invariance",
                "check_pipeline_consistency",
                "check_transformer_data_not_an_array",
                "check_transformer_general",
            ],
            FIELDDATA_OUTPUT,
        ),
    },
}


@parametrize_with_checks(
    [CTRTransformer(), CTRTransformerArrays()],
    expected_failed_checks=lambda transformer: TRANSFORMER_FAILURES[type(transformer)],
)
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------------------------
# Integration with scikit-learn tools, shared by every estimator of the zoo
# ----------------------------------------------------------------------------------------
# The fast configuration of every estimator on ``small_ctr_data`` (columns I1, I2, C1..C4),
# including the ones whose fixed column roles the generic checks above cannot use.
ZOO = [small(cls) for cls in ESTIMATORS] + [
    small(DeepFMClassifier, deep="inner"),
    small(WideDeepClassifier, wide="fm", cross_features=[("C1", "C2")]),
]


@pytest.mark.parametrize(
    "cls",
    [cls for cls in ESTIMATORS if not cls._accepts_sequences and cls not in NAMED_COLUMNS],
    ids=lambda cls: cls.__name__,
)
def test_a_history_column_is_refused_by_the_models_that_cannot_pool_it(cls, small_ctr_data):
    """A list-valued column is several ids per row: a model that takes one value per column
    must say so, naming the column (GBDT+LR / GBDT+FFM dropped it without a word)."""
    X, y = small_ctr_data
    X = X.assign(history=[["a", "b"][: i % 3] for i in range(len(X))])
    with pytest.raises(ValueError, match=r"takes one value per column, but \['history'\]"):
        small(cls).fit(X, y)


@pytest.mark.parametrize("estimator", ZOO, ids=repr)
@pytest.mark.filterwarnings(BEHAVIOR_NOT_SET)
def test_fit_predict_proba_on_raw_dataframe(estimator, small_ctr_data):
    X, y = small_ctr_data
    est = clone(estimator).fit(X, y)
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert list(est.classes_) == [0, 1]
    assert set(est.predict(X)) <= {0, 1}
    assert est.n_features_in_ == X.shape[1]
    assert list(est.feature_names_in_) == list(X.columns)
    assert roc_auc_score(y, proba[:, 1]) > 0.6  # it learned something on its training data
    # pickling round trip, and reproducibility of a clone with the same random_state
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict_proba(X), proba)
    np.testing.assert_allclose(clone(estimator).fit(X, y).predict_proba(X), proba, rtol=1e-6)


@pytest.mark.parametrize("estimator", ZOO, ids=repr)
@pytest.mark.filterwarnings(BEHAVIOR_NOT_SET)
def test_cross_validation_of_every_estimator(estimator, small_ctr_data):
    X, y = small_ctr_data
    scores = cross_val_score(estimator, X, y, scoring="roc_auc", cv=2)
    assert np.isfinite(scores).all()


def test_decision_function_is_the_logit_of_predict_proba(small_ctr_data):
    X, y = small_ctr_data
    est = small(DeepFMClassifier).fit(X, y)
    logits = est.decision_function(X)
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), est.predict_proba(X)[:, 1], rtol=1e-5)


def test_score_is_accuracy(small_ctr_data):
    X, y = small_ctr_data
    est = small(FMClassifier).fit(X, y)
    assert est.score(X, y) == pytest.approx(np.mean(est.predict(X) == y))


def test_clone_and_params_round_trip():
    est = DeepFMClassifier(embed_dim=6, hidden_units=(8, 4), l2=1e-4, lr=0.02, random_state=3)
    params = est.get_params()
    assert params["embed_dim"] == 6 and params["hidden_units"] == (8, 4) and params["lr"] == 0.02
    twin = clone(est)
    assert twin.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert twin.set_params(embed_dim=3).get_params()["embed_dim"] == 3
    assert repr(twin) == (  # scikit-learn's layout: changed parameters, 80 columns
        "DeepFMClassifier(embed_dim=3, hidden_units=(8, 4), l2=0.0001, lr=0.02,\n"
        "                 random_state=3)"
    )


def test_set_params_on_fitted_estimator_keeps_weights_until_next_fit(small_ctr_data):
    X, y = small_ctr_data
    est = small(FMClassifier).fit(X, y)
    before = est.predict_proba(X)
    est.set_params(embed_dim=2)
    np.testing.assert_array_equal(est.predict_proba(X), before)
    assert est.fit(X, y).module_.embedding.embed_dim == 2


def test_pipeline_with_pre_encoded_input(small_ctr_data):
    X, y = small_ctr_data
    pipe = make_pipeline(CTRTransformer(min_frequency=2), small(DeepFMClassifier)).fit(X, y)
    direct = small(DeepFMClassifier, preprocessor=CTRTransformer(min_frequency=2)).fit(X, y)
    # Same transformer, same seed: encoding inside or before the estimator is the same model.
    np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(X), rtol=1e-6)
    assert not hasattr(pipe[-1], "preprocessor_")


def test_fieldata_fitted_estimator_rejects_raw_frames(small_ctr_data):
    X, y = small_ctr_data
    encoded = CTRTransformer().fit_transform(X)
    est = small(LRClassifier).fit(encoded, y)
    with pytest.raises(ValueError, match="fitted on encoded FieldData"):
        est.predict_proba(X)


def test_grid_search(small_ctr_data):
    # n_jobs=2 (worker processes of seconds each): the test below, which also compares scores
    X, y = small_ctr_data
    search = GridSearchCV(
        small(DeepFMClassifier, max_epochs=2), {"embed_dim": [2, 4]}, scoring="roc_auc", cv=2
    ).fit(X, y)
    assert search.best_params_["embed_dim"] in (2, 4)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.slow
def test_grid_search_is_the_same_with_one_or_two_workers(small_ctr_data):
    X, y = small_ctr_data
    scores = []
    for n_jobs in (1, 2):
        search = GridSearchCV(
            small(FMClassifier), {"lr": [1e-2, 3e-2]}, scoring="roc_auc", cv=2, n_jobs=n_jobs
        ).fit(X, y)
        scores.append(search.cv_results_["mean_test_score"])
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-5)


def test_cross_val_score_roc_auc(small_ctr_data):
    X, y = small_ctr_data
    scores = cross_val_score(small(FMClassifier), X, y, scoring="roc_auc", cv=3)
    assert scores.shape == (3,) and (scores > 0.5).all()


def test_random_state_makes_fits_reproducible_and_leaves_global_rng_alone(small_ctr_data):
    X, y = small_ctr_data
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = small(DeepFMClassifier, dropout=0.3).fit(X, y).predict_proba(X)
    assert torch.rand(1) == expected_next  # the fit forked torch's RNG instead of reseeding it
    second = small(DeepFMClassifier, dropout=0.3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    other = small(DeepFMClassifier, dropout=0.3, random_state=1).fit(X, y).predict_proba(X)
    assert not np.allclose(first, other)


def test_n_threads_is_restored(small_ctr_data):
    X, y = small_ctr_data
    before = torch.get_num_threads()  # 1 in the test session (conftest.py): ask for another
    small(LRClassifier, n_threads=before + 1).fit(X, y).predict_proba(X)
    assert torch.get_num_threads() == before


def test_pickle_round_trip(small_ctr_data):
    X, y = small_ctr_data
    est = small(DeepFMClassifier).fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    trimmed = pickle.loads(pickle.dumps(est))
    trimmed.trim_for_prediction()
    np.testing.assert_array_equal(trimmed.predict_proba(X), est.predict_proba(X))


def test_model_saved_with_cuda_device_loads_on_cpu(small_ctr_data):
    # Without a GPU the closest honest check: the pickle records device="cuda", and skorch's
    # unpickling maps the tensors to the CPU (map_location) and says so.
    X, y = small_ctr_data
    est = small(FMClassifier).fit(X, y)
    expected = est.predict_proba(X)
    est.device = "cuda"
    payload = pickle.dumps(est)
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the CPU fallback path is not taken")
    with pytest.warns(Warning, match=r"requested device \(cuda\) is not available"):
        # skorch warns twice: for the pickled module and for the data it would load
        with pytest.warns(Warning, match="Requested to load data to CUDA"):
            loaded = pickle.loads(payload)
    assert str(loaded.device) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


# ----------------------------------------------------------------------------------------
# Labels, weights, training controls
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels", [np.array(["no", "yes"]), np.array([False, True]), np.array([-1, 1])]
)
def test_any_two_labels(labels, small_ctr_data):
    X, y = small_ctr_data
    y_labels = labels[y]
    est = small(FMClassifier).fit(X, y_labels)
    assert list(est.classes_) == list(labels)
    assert set(est.predict(X)) <= set(labels)
    # The positive class is classes_[1]: the same model as on 0/1 labels.
    np.testing.assert_allclose(
        est.predict_proba(X), small(FMClassifier).fit(X, y).predict_proba(X), rtol=1e-6
    )


def test_sample_weight_is_used_by_the_loss(small_ctr_data):
    X, y = small_ctr_data
    unweighted = small(LRClassifier).fit(X, y).predict_proba(X)[:, 1]
    # Weighting the positives up must raise the predicted click rates.
    weights = np.where(y == 1, 5.0, 1.0)
    weighted = small(LRClassifier).fit(X, y, sample_weight=weights).predict_proba(X)[:, 1]
    assert weighted.mean() > unweighted.mean() + 0.05
    ones = small(LRClassifier).fit(X, y, sample_weight=np.ones(len(y))).predict_proba(X)[:, 1]
    np.testing.assert_allclose(ones, unweighted, rtol=1e-5)


def test_early_stopping_restores_the_best_epoch(small_ctr_data):
    X, y = small_ctr_data
    est = small(
        DeepFMClassifier,
        max_epochs=50,
        lr=0.05,
        early_stopping=True,
        n_iter_no_change=2,
        validation_fraction=0.2,
    ).fit(X, y)
    history = est.history
    auc = history[:, "valid_auc"]
    assert len(history) < 50  # stopped early
    assert np.argmax(auc) == len(auc) - 1 - 2  # patience of 2 epochs after the best one
    assert all(np.isfinite(history[:, "valid_loss"]))


def test_validation_is_only_held_out_with_early_stopping(small_ctr_data):
    X, y = small_ctr_data
    est = small(LRClassifier, early_stopping=False).fit(X, y)
    assert "valid_auc" not in est.history[-1]
    assert sum(b["train_batch_size"] for b in est.history[-1, "batches"]) == len(X)


def test_verbose_prints_the_epoch_table(small_ctr_data, capsys):
    X, y = small_ctr_data
    small(LRClassifier, verbose=1, early_stopping=True).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "valid_auc" in out and "valid_loss" in out
    small(LRClassifier, verbose=0, early_stopping=True).fit(X, y)
    assert capsys.readouterr().out == ""


def test_warm_start_continues_without_refitting_the_vocabulary(small_ctr_data):
    X, y = small_ctr_data
    est = small(FMClassifier, warm_start=True).fit(X, y)
    vocabulary = est.preprocessor_
    weights = est.module_.embedding.table.weight.detach().clone()
    est.fit(X.head(200), y[:200])
    assert est.preprocessor_ is vocabulary
    assert len(est.history) == 6
    assert not torch.equal(weights, est.module_.embedding.table.weight)


# ----------------------------------------------------------------------------------------
# Bad input: errors that name what is wrong
# ----------------------------------------------------------------------------------------
def test_missing_and_extra_columns_at_predict_are_named(small_ctr_data):
    X, y = small_ctr_data
    est = small(LRClassifier).fit(X, y)
    with pytest.raises(ValueError, match=r"missing column\(s\).*'C2'"):
        est.predict_proba(X.drop(columns="C2"))
    with pytest.raises(ValueError, match=r"not seen during fit.*'surprise'"):
        est.predict_proba(X.assign(surprise=1))


def test_unseen_categories_at_predict_are_not_an_error(small_ctr_data):
    X, y = small_ctr_data
    est = small(DeepFMClassifier).fit(X, y)
    novel = X.head(5).assign(C1="never-seen", C2=None)
    assert np.isfinite(est.predict_proba(novel)).all()


@pytest.mark.parametrize(
    "labels, message",
    [
        (lambda y: y + (np.arange(len(y)) % 3 == 0), "Only binary classification"),
        (lambda y: np.zeros_like(y), "only 1 class"),
        (lambda y: y + 0.5, "Unknown label type"),
        (lambda y: np.where(y == 1, np.nan, 0.0), "NaN"),
    ],
)
def test_bad_labels(labels, message, small_ctr_data):
    X, y = small_ctr_data
    with pytest.raises(ValueError, match=message):
        small(LRClassifier).fit(X, labels(y))


def test_empty_input_is_rejected(small_ctr_data):
    X, y = small_ctr_data
    with pytest.raises(ValueError, match="0 sample"):
        small(LRClassifier).fit(X.iloc[:0], y[:0])
    est = small(LRClassifier).fit(X, y)
    with pytest.raises(ValueError, match="0 sample"):
        est.predict_proba(X.iloc[:0])


def test_infinite_and_nan_numeric_values(small_ctr_data):
    X, y = small_ctr_data
    with_inf = X.assign(I1=X["I1"].where(X.index != 3, np.inf))
    with pytest.raises(ValueError, match="'I1' contains infinity"):
        small(LRClassifier).fit(with_inf, y)
    with_nan = X.assign(I1=X["I1"].where(X.index != 3, np.nan))
    small(LRClassifier).fit(with_nan, y)  # bucketized: NaN has its own id
    with pytest.raises(ValueError, match="'I1' contains NaN"):
        small(LRClassifier, preprocessor=CTRTransformer(numeric="value")).fit(with_nan, y)


def test_inconsistent_lengths(small_ctr_data):
    X, y = small_ctr_data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        small(LRClassifier).fit(X, y[:-1])


@pytest.mark.parametrize(
    "params, name",
    [
        ({"embed_dim": 0}, "embed_dim"),
        ({"hidden_units": (32, -1)}, "hidden_units"),
        ({"hidden_units": 32}, "hidden_units"),
        ({"dropout": 1.0}, "dropout"),
        ({"activation": "swish"}, "activation"),
        ({"lr": 0.0}, "lr"),
        ({"l2": -1.0}, "l2"),
        ({"batch_size": 0}, "batch_size"),
        ({"optimizer": "lbfgs-ish"}, "optimizer"),
        ({"validation_fraction": 1.5}, "validation_fraction"),
        ({"preprocessor": "onehot"}, "preprocessor"),
    ],
)
def test_invalid_hyper_parameters_are_named_at_fit(params, name, small_ctr_data):
    X, y = small_ctr_data
    est = DeepFMClassifier(**params)  # constructing never raises, as in scikit-learn
    with pytest.raises((InvalidParameterError, ValueError), match=name):
        est.fit(X, y)


def test_misspelled_parameter_is_rejected():
    # as by a plain signature: at construction, not after minutes of preprocessing
    with pytest.raises(TypeError, match="embed_dimm"):
        DeepFMClassifier(embed_dimm=4)


def test_skorch_prefixed_parameters_reach_the_optimizer(small_ctr_data):
    X, y = small_ctr_data
    est = small(DeepFMClassifier, optimizer__weight_decay=1e-5, max_epochs=1).fit(X, y)
    assert est.optimizer_.param_groups[0]["weight_decay"] == 1e-5
    with pytest.raises(TypeError, match="optimizer_weight_decay"):
        small(DeepFMClassifier, optimizer_weight_decay=1e-5)


def test_cuda_without_a_gpu_is_a_clear_error(small_ctr_data):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    X, y = small_ctr_data
    with pytest.raises(ValueError, match="no CUDA device"):
        small(FMClassifier, device="cuda").fit(X, y)


def test_diverging_loss_stops_with_a_message(small_ctr_data):
    X, y = small_ctr_data
    est = small(DeepFMClassifier, lr=1e12, optimizer="sgd", hidden_units=(64, 64), max_epochs=5)
    with pytest.raises(FloatingPointError, match=r"epoch 1.*lower lr"):
        est.fit(X, y)


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        DeepFMClassifier().predict_proba(pd.DataFrame({"a": ["x"]}))


def test_fielddata_schema_mismatch_is_rejected(small_ctr_data):
    X, y = small_ctr_data
    est = small(LRClassifier).fit(CTRTransformer().fit_transform(X), y)
    other = CTRTransformer(n_bins=2).fit_transform(X)
    assert isinstance(other, FieldData)
    with pytest.raises(ValueError, match="different schema"):
        est.predict_proba(other)


def _edited(data, key, row, column, value):
    arrays = {k: v.copy() for k, v in data.items()}
    arrays[key][row, column] = value
    return FieldData(arrays, data.schema)


def test_fielddata_ids_outside_a_field_vocabulary_are_named():
    from sk_ctr.datasets import make_ctr_classification

    X, y = make_ctr_classification(
        n_samples=300, n_fields=3, cardinality=10, n_numeric=1, random_state=0
    )
    data = CTRTransformer(numeric="value").fit_transform(X)
    est = small(DeepFMClassifier).fit(data, y)
    first, second = data.categorical_fields[:2]
    # one past the first field's vocabulary is the second field's first row of the shared
    # table: it would be read silently, not fail
    for value, shown in [(first.vocab_size, first.vocab_size), (-1, -1)]:
        bad = _edited(data, "ids", 5, 0, value)
        for call in (est.predict_proba, lambda d: small(DeepFMClassifier).fit(d, y)):
            with pytest.raises(
                ValueError,
                match=rf"Field '{first.name}' has id {shown}, outside "
                rf"its vocabulary of {first.vocab_size} ids",
            ):
                call(bad)
    with pytest.raises(ValueError, match=f"Field '{second.name}' has id 99999"):
        est.predict_proba(_edited(data, "ids", 0, 1, 99999))
    numeric = data.numeric_fields[0]
    with pytest.raises(ValueError, match=f"Numeric field '{numeric.name}' holds NaN"):
        est.predict_proba(_edited(data, "values", 2, 0, np.inf))
    assert data.check() is data  # the transformer's own output passes


def test_no_warnings_in_a_plain_fit_and_predict(small_ctr_data):
    X, y = small_ctr_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small(DeepFMClassifier).fit(X, y).predict_proba(X)


# ----------------------------------------------------------------------------------------
# Learning
# ----------------------------------------------------------------------------------------
def _test_auc(est, X_train, X_test, y_train, y_test):
    return roc_auc_score(y_test, est.fit(X_train, y_train).predict_proba(X_test)[:, 1])


def test_fm_and_deepfm_learn_order_two_structure_that_lr_cannot():
    from sk_ctr.datasets import make_ctr_classification

    X, y = make_ctr_classification(n_samples=20000, n_fields=8, cardinality=50, random_state=0)
    split = train_test_split(X, y, test_size=0.25, random_state=0)
    common = {"max_epochs": 30, "early_stopping": True, "random_state": 0, "lr": 1e-2}
    lr = _test_auc(LRClassifier(**common), *split)
    fm = _test_auc(FMClassifier(embed_dim=4, **common), *split)
    deepfm = _test_auc(
        DeepFMClassifier(embed_dim=4, hidden_units=(64, 64), dropout=0.0, l2=1e-3, **common),
        *split,
    )
    assert 0.6 < lr < 0.72
    assert fm > lr + 0.05
    assert deepfm > lr + 0.05
