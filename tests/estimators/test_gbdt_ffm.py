"""GBDT + FFM: the trees' leaves as extra fields of an FFM (AutoFIS Table 1's baseline), the
two-stage base it shares with GBDT + LR, and its row in the benchmark."""

import io
import pickle
from functools import partial

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils._param_validation import InvalidParameterError

from sk_ctr import CTRTransformer, FFMClassifier, FieldData, FMClassifier, LRClassifier
from sk_ctr.benchmark import run_benchmark
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.estimators.gbdt import TREE_CONSTRAINTS, BaseLeafFieldsClassifier, FinalStage
from sk_ctr.estimators.gbdt_ffm import GBDTFFMClassifier
from sk_ctr.estimators.gbdt_lr import GBDTLRClassifier

TREES = [f"tree_{t}" for t in range(5)]


def small_ffm(**params):
    return FFMClassifier(
        **{"max_epochs": 3, "batch_size": 128, "lr": 1e-2, "n_threads": 1, **params}
    )


def small_gbdt_ffm(**params):
    return GBDTFFMClassifier(
        **{"n_estimators": 5, "ffm_model": small_ffm(), "random_state": 0, **params}
    )


def test_defaults_follow_autofis_table_9_trees_with_fewer_leaves():
    params = GBDTFFMClassifier().get_params()
    assert params["n_estimators"] == 20  # Table 9, Criteo: #tree=20
    assert params["max_leaf_nodes"] == 8 and params["max_depth"] is None
    assert params["keep_original"] is True  # the leaves are extra fields
    assert params["ffm_model"] is None and params["ffm_fraction"] is None


def test_leaves_are_extra_fields_of_the_ffm(small_ctr_data):
    X, y = small_ctr_data
    est = small_gbdt_ffm().fit(X, y)
    leaves = est.apply(X)
    assert list(leaves.columns) == TREES and (leaves.dtypes == np.int64).all()
    encoded = est.preprocessor_.transform(X)
    features = np.hstack([encoded["ids"], encoded["values"]])
    np.testing.assert_array_equal(leaves.to_numpy(), est.gbdt_.apply(features)[:, :, 0])
    for t in range(5):
        tree = est.gbdt_.estimators_[t, 0].tree_
        assert (tree.children_left[leaves[f"tree_{t}"]] == -1).all()  # every value is a leaf
        assert tree.n_leaves <= 8
    # The FFM sees the encoded original fields (the numeric ones bucketized into ids) first.
    original = [f.name for f in est.schema_]
    assert [f.name for f in est.ffm_.schema_] == original + TREES
    assert isinstance(est.ffm_, FFMClassifier) and est.final_estimator_ is est.ffm_
    ffm_input = leaves.copy()
    for j, name in enumerate(original):
        ffm_input.insert(j, name, encoded["ids"][:, j])
    np.testing.assert_allclose(est.predict_proba(X), est.ffm_.predict_proba(ffm_input))
    np.testing.assert_allclose(est.decision_function(X), est.ffm_.decision_function(ffm_input))


def test_keep_original_false_trains_the_ffm_on_the_leaves_alone(small_ctr_data):
    X, y = small_ctr_data
    est = small_gbdt_ffm(keep_original=False).fit(X, y)
    assert [f.name for f in est.ffm_.schema_] == TREES
    np.testing.assert_allclose(est.predict_proba(X), est.ffm_.predict_proba(est.apply(X)))


def test_ffm_fraction_holds_rows_out_of_the_boosting(small_ctr_data):
    X, y = small_ctr_data
    est = small_gbdt_ffm(ffm_fraction=0.25).fit(X, y)
    assert est.gbdt_.estimators_[0, 0].tree_.n_node_samples[0] == 750
    # the FFM's rows: those it trains on and those its early stopping holds out
    batches = est.ffm_.history_[-1, "batches"]
    assert sum(b.get("train_batch_size", 0) + b.get("valid_batch_size", 0) for b in batches) == 250


def test_gbdt_lr_shares_the_base_and_names_its_stage_lr(small_ctr_data):
    X, y = small_ctr_data
    linear = LRClassifier(max_epochs=2, batch_size=128, n_threads=1)
    est = GBDTLRClassifier(n_estimators=3, linear_model=linear, random_state=0).fit(X, y)
    assert est.final_estimator_ is est.lr_ and not hasattr(est, "ffm_")
    assert not hasattr(GBDTFFMClassifier(), "final_estimator_")  # unfitted


class GBDTFMClassifier(BaseLeafFieldsClassifier):
    """A third configuration, declared as GBDT + LR and GBDT + FFM are: its stage and params."""

    _final_stage = FinalStage(
        model="fm_model",
        fraction="fm_fraction",
        attribute="fm_",
        default=partial(FMClassifier, max_epochs=2, n_threads=1),
    )
    _parameter_constraints = {**TREE_CONSTRAINTS, **_final_stage.constraints()}

    def __init__(
        self,
        *,
        n_estimators=3,
        learning_rate=0.1,
        max_depth=3,
        max_leaf_nodes=None,
        min_samples_leaf=1,
        subsample=1.0,
        fm_model=None,
        fm_fraction=None,
        keep_original=False,
        preprocessor=None,
        random_state=None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.subsample = subsample
        self.fm_model = fm_model
        self.fm_fraction = fm_fraction
        self.keep_original = keep_original
        self.preprocessor = preprocessor
        self.random_state = random_state


def test_a_configuration_is_its_final_stage_and_parameters(small_ctr_data):
    X, y = small_ctr_data
    est = GBDTFMClassifier(fm_fraction=0.25, random_state=0).fit(X, y)
    assert isinstance(est.fm_, FMClassifier) and est.final_estimator_ is est.fm_
    assert est.fm_.max_epochs == 2  # the stage's default model
    assert est.gbdt_.estimators_[0, 0].tree_.n_node_samples[0] == 750  # its fraction param
    np.testing.assert_allclose(est.predict_proba(X), est.fm_.predict_proba(est.apply(X)))
    with pytest.raises(InvalidParameterError, match="'fm_fraction' parameter"):
        GBDTFMClassifier(fm_fraction=1.5).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'fm_model' parameter"):
        GBDTFMClassifier(fm_model="fm").fit(X, y)


def test_gbdt_ffm_labels_weights_and_reproducibility(small_ctr_data):
    X, y = small_ctr_data
    labels = np.where(y == 1, "click", "skip")
    weights = np.where(y == 1, 2.0, 1.0)
    est = small_gbdt_ffm().fit(X, labels, sample_weight=weights)
    assert list(est.classes_) == ["click", "skip"]
    assert set(est.predict(X)) <= {"click", "skip"}
    again = small_gbdt_ffm().fit(X, labels, sample_weight=weights)
    np.testing.assert_array_equal(est.predict_proba(X), again.predict_proba(X))
    other_seed = small_gbdt_ffm(random_state=1).fit(X, labels, sample_weight=weights)
    assert not np.allclose(est.predict_proba(X), other_seed.predict_proba(X))


def test_gbdt_ffm_on_encoded_input(small_ctr_data):
    X, y = small_ctr_data
    encoded = CTRTransformer().fit_transform(X)
    est = small_gbdt_ffm().fit(encoded, y)
    assert isinstance(encoded, FieldData) and not hasattr(est, "preprocessor_")
    assert est.predict_proba(encoded).shape == (len(X), 2)
    with pytest.raises(ValueError, match="fitted on encoded FieldData"):
        est.predict_proba(X)


def test_gbdt_ffm_learns_more_than_lr_and_than_gbdt_lr_on_the_same_trees():
    # Few categories per field (trees split ordinal ids) and order-2 structure (an FM logit):
    # the trees find conjunctions, and the FFM also lets leaves and raw fields interact.
    X, y = make_ctr_classification(n_samples=8000, n_fields=4, cardinality=10, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    common = {
        "max_epochs": 10,
        "early_stopping": True,
        "random_state": 0,
        "lr": 1e-2,
        "batch_size": 256,
        "n_threads": 1,
    }

    def held_out_auc(est):
        return roc_auc_score(y_test, est.fit(X_train, y_train).predict_proba(X_test)[:, 1])

    lr = held_out_auc(LRClassifier(**common))
    trees = {"n_estimators": 20, "max_depth": None, "max_leaf_nodes": 8, "random_state": 0}
    gbdt_lr = held_out_auc(GBDTLRClassifier(linear_model=LRClassifier(**common), **trees))
    gbdt_ffm = held_out_auc(GBDTFFMClassifier(ffm_model=FFMClassifier(**common), **trees))
    assert 0.6 < lr < 0.7  # measured 0.649
    assert gbdt_ffm > lr + 0.1  # measured 0.776
    assert gbdt_ffm > gbdt_lr + 0.01  # measured 0.750


def test_gbdt_ffm_clone_pickle_and_grid_search(small_ctr_data):
    est = small_gbdt_ffm(max_leaf_nodes=4, ffm_fraction=0.2)
    twin = clone(est)
    assert twin.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    params = twin.get_params()
    assert params["max_leaf_nodes"] == 4 and params["ffm_model__embed_dim"] == 4
    assert twin.set_params(ffm_model__embed_dim=2).ffm_model.embed_dim == 2
    assert est.ffm_model.embed_dim == 4  # clone copied the nested estimator
    X, y = small_ctr_data
    fitted = est.fit(X, y)
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    search = GridSearchCV(small_gbdt_ffm(), {"n_estimators": [2, 4]}, scoring="roc_auc", cv=2).fit(
        X, y
    )
    assert search.best_estimator_.apply(X).shape == (len(X), search.best_params_["n_estimators"])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_estimators": 0}, "n_estimators"),
        ({"max_leaf_nodes": 1}, "max_leaf_nodes"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"ffm_fraction": 1.0}, "ffm_fraction"),
        ({"ffm_model": "ffm"}, "ffm_model"),
        ({"keep_original": "yes"}, "keep_original"),
        ({"preprocessor": "onehot"}, "preprocessor"),
    ],
)
def test_invalid_parameters_are_named_at_fit(params, name, small_ctr_data):
    X, y = small_ctr_data
    est = GBDTFFMClassifier(**params)  # constructing never raises, as in scikit-learn
    with pytest.raises(InvalidParameterError, match=name):
        est.fit(X, y)


def test_bad_input_raises_what_the_other_estimators_raise(small_ctr_data):
    X, y = small_ctr_data
    with pytest.raises(NotFittedError):
        small_gbdt_ffm().predict_proba(X)
    with pytest.raises(ValueError, match="Only binary classification"):
        small_gbdt_ffm().fit(X, np.arange(len(y)) % 3)
    with pytest.raises(ValueError, match="only 1 class"):
        small_gbdt_ffm().fit(X, np.zeros_like(y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        small_gbdt_ffm().fit(X, y[:-1])
    with pytest.raises(ValueError, match="0 sample"):
        small_gbdt_ffm().fit(X.iloc[:0], y[:0])
    est = small_gbdt_ffm().fit(X, y)
    with pytest.raises(ValueError, match=r"missing column\(s\).*'C2'"):
        est.predict_proba(X.drop(columns="C2"))
    with pytest.raises(ValueError, match="keep_original=True, but column"):
        small_gbdt_ffm().fit(X.rename(columns={"C1": "tree_0"}), y)
    novel = X.head(5).assign(C1="never-seen", C2=None)  # unseen values: the "other" id
    assert np.isfinite(est.predict_proba(novel)).all()


def test_benchmark_runs_gbdt_ffm_and_reports_its_ffm_epochs():
    X, y = make_ctr_classification(n_samples=600, n_fields=4, cardinality=10, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    runs = run_benchmark(
        (X_train, y_train, X_test, y_test), ["gbdt+ffm"], n_threads=1, log=io.StringIO()
    )
    assert runs["error"].isna().all() and runs.loc[0, "auc"] > 0.5
    assert runs.loc[0, "epochs"] == 10  # the default FFM stage: 10 epochs, no early stopping
