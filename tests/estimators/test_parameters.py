"""The estimators' parameters as users meet them: signatures, get_params, clone, repr, and the
skorch settings beside them."""

import inspect
import pydoc

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

import sk_ctr.estimators
from sk_ctr import CTRTransformer, DeepFMClassifier, FMClassifier, LRClassifier
from sk_ctr.estimators.base import CTRClassifier
from sk_ctr.models import LogisticRegressionNet
from sk_ctr.training.prefetch import PrefetchLoader

NETWORK_ESTIMATORS = [
    getattr(sk_ctr.estimators, name)
    for name in sk_ctr.estimators.__all__
    if issubclass(getattr(sk_ctr.estimators, name), CTRClassifier)
]
TRAINING_PARAMETERS = [
    p.name for p in inspect.signature(CTRClassifier).parameters.values() if p.kind is p.KEYWORD_ONLY
]


class CustomNetwork(LogisticRegressionNet):
    """A custom network class, given as skorch's ``module``."""


def small_deepfm(**params):
    return DeepFMClassifier(
        embed_dim=4, hidden_units=(8,), max_epochs=1, batch_size=128, random_state=0, **params
    )


@pytest.mark.parametrize("cls", NETWORK_ESTIMATORS, ids=lambda cls: cls.__name__)
def test_signature_lists_every_parameter_and_get_params_only_them(cls):
    signature = inspect.signature(cls).parameters
    assert set(TRAINING_PARAMETERS) <= set(signature)
    *named, skorch_params = signature.values()
    assert all(p.kind is p.KEYWORD_ONLY for p in named)
    assert skorch_params.kind is skorch_params.VAR_KEYWORD
    # what a user can set, and nothing of skorch's bookkeeping (criterion, train_split,
    # iterator_train, predict_nonlinearity, callbacks__print_log__sink ...)
    assert list(cls().get_params()) == sorted(p.name for p in named)
    own = [p.name for p in named if p.name not in TRAINING_PARAMETERS]
    assert all(getattr(cls(), name) == p.default for name, p in signature.items() if name in own)


@pytest.mark.parametrize("cls", NETWORK_ESTIMATORS, ids=lambda cls: cls.__name__)
def test_construction_and_set_params_never_validate(cls):
    """scikit-learn's check_do_not_raise_errors_in_init_or_set_params over the named
    parameters (the check itself also passes ``skorch_params=``, see test_estimators.py)."""
    names = [p.name for p in inspect.signature(cls).parameters.values() if p.kind is p.KEYWORD_ONLY]
    for value in [-1, 3.0, "helloworld", np.array([1.0, 4.0]), [1], {}, []]:
        est = cls(**dict.fromkeys(names, value))
        est.set_params(**dict.fromkeys(names, value))
        assert all(getattr(est, name) is value for name in names)


def test_help_shows_every_parameter():
    text = pydoc.render_doc(DeepFMClassifier, renderer=pydoc.plaintext)
    assert (
        "DeepFMClassifier(*, deep='dnn', interactions=None, embed_dim=10, "
        "hidden_units=(400, 400, 400)"
    ) in text
    assert "lr=0.003, batch_size='auto', max_epochs=50" in text
    assert "warm_start=False, callbacks=None, **skorch_params)" in text
    # a subclass's own default of a training parameter, in that parameter's place
    assert "optimizer='adam', lr=0.01, batch_size='auto'" in pydoc.render_doc(
        LRClassifier, renderer=pydoc.plaintext
    )


def test_skorch_settings_that_are_set_are_parameters_and_survive_clone():
    est = DeepFMClassifier(
        embed_dim=4,
        optimizer__weight_decay=1e-3,
        iterator_train=PrefetchLoader,
        iterator_train__depth=3,
    )
    params = est.get_params(deep=False)
    assert params["optimizer__weight_decay"] == 1e-3 and params["iterator_train__depth"] == 3
    assert params["iterator_train"] is PrefetchLoader
    assert "iterator_valid" not in params and "criterion" not in params  # sk_ctr's defaults
    assert clone(est).get_params(deep=False) == params
    assert repr(est) == (
        "DeepFMClassifier(embed_dim=4,\n"
        "                 iterator_train=<class 'sk_ctr.training.prefetch.PrefetchLoader'>,\n"
        "                 iterator_train__depth=3, optimizer__weight_decay=0.001)"
    )
    est.set_params(optimizer__weight_decay=1e-2)
    assert clone(est).get_params()["optimizer__weight_decay"] == 1e-2
    assert clone(LRClassifier().set_params(module=CustomNetwork)).module is (CustomNetwork)


def test_callbacks_are_a_parameter():
    callback = Callback()
    est = LRClassifier(callbacks=[("mine", callback)])
    assert est.get_params()["callbacks"] == [("mine", callback)]
    ((name, copied),) = clone(est).callbacks
    assert name == "mine" and isinstance(copied, Callback) and copied is not callback


def test_grid_search_over_an_optimizer_argument(small_ctr_data):
    X, y = small_ctr_data
    search = GridSearchCV(
        small_deepfm(), {"optimizer__weight_decay": [0.0, 1e-3]}, cv=2, scoring="roc_auc"
    ).fit(X, y)
    assert [p["optimizer__weight_decay"] for p in search.cv_results_["params"]] == [0.0, 1e-3]
    best = search.best_params_["optimizer__weight_decay"]
    assert search.best_estimator_.optimizer_.param_groups[0]["weight_decay"] == best


def test_unknown_keyword_raises_at_construction():
    with pytest.raises(TypeError, match=r"\['hiden_units'\].*help\(DeepFMClassifier\)"):
        DeepFMClassifier(hiden_units=(8,))


@pytest.mark.parametrize("how", ["init", "set_params"])
def test_module_arguments_raise_naming_the_parameter(small_ctr_data, how):
    # module__embed_dim=4 used to build a 4-dimensional network while embed_dim said 8
    X, y = small_ctr_data
    if how == "init":
        est = small_deepfm(module__embed_dim=4)
    else:
        est = small_deepfm().set_params(module__embed_dim=4)
    with pytest.raises(ValueError, match=r"set embed_dim= instead of module__embed_dim="):
        est.fit(X, y)
    assert not hasattr(est, "module_")
    with pytest.raises(ValueError, match="has no parameter 'depth'"):
        FMClassifier(module__depth=2).fit(X, y)


def test_repr_is_sklearns_inside_pipelines_and_searches():
    est = DeepFMClassifier(embed_dim=4)
    assert repr(est) == "DeepFMClassifier(embed_dim=4)"
    assert repr(make_pipeline(est)) == (
        "Pipeline(steps=[('deepfmclassifier', DeepFMClassifier(embed_dim=4))])"
    )
    assert repr(GridSearchCV(est, {"lr": [0.01]})) == (
        "GridSearchCV(estimator=DeepFMClassifier(embed_dim=4), param_grid={'lr': [0.01]})"
    )
    # too long for one line: sklearn's pretty-printer lays the parameters out, no tuples
    long = DeepFMClassifier(
        embed_dim=4,
        hidden_units=(64, 32),
        dropout=0.1,
        max_epochs=3,
        preprocessor=CTRTransformer(min_frequency=3),
        random_state=0,
    )
    assert repr(make_pipeline(long)) == (
        "Pipeline(steps=[('deepfmclassifier',\n"
        "                 DeepFMClassifier(dropout=0.1, embed_dim=4,\n"
        "                                  hidden_units=(64, 32), max_epochs=3,\n"
        "                                  preprocessor=CTRTransformer(min_frequency=3),\n"
        "                                  random_state=0))])"
    )
