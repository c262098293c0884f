"""Gradient-boosting reference rows of the benchmark: what a tabular data scientist fits first.

LightGBM and CatBoost are not dependencies of sk_ctr: they are imported when a reference model
is fitted, from the ``bench`` extra (``pip install 'sk-ctr[bench]'``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

__all__ = ["GradientBoostingReference"]

#: Boosting rounds without improvement of the validation log-loss before stopping (the
#: patience of sklearn's HistGradientBoostingClassifier is 10; CatBoost's smaller automatic
#: learning rate makes its curve flatter, so both get 20).
PATIENCE = 20
LIBRARIES = ("lightgbm", "catboost")


class GradientBoostingReference(ClassifierMixin, BaseEstimator):
    """LightGBM's ``LGBMClassifier()`` or CatBoost's ``CatBoostClassifier()`` at their defaults,
    with their own early stopping, on a raw DataFrame.

    Columns that are not numeric (strings, booleans, categories; a list per row is joined
    with ``"|"``) are categorical: LightGBM gets them as pandas ``category`` columns with the
    training categories (an unseen value is missing), CatBoost as ``cat_features`` (strings,
    missing as ``"nan"``). Numeric columns go in as they are. A stratified
    ``validation_fraction`` of the training rows is held out; boosting stops after
    ``PATIENCE`` rounds without a better validation log-loss and keeps the best round.

    Parameters
    ----------
    library : {"lightgbm", "catboost"}, default="lightgbm"
    validation_fraction : float, default=0.1
        Share of the training rows scored for early stopping.
    random_state : int or None, default=None
        Seeds the hold-out split and the booster.
    n_threads : int, default=1
        Threads of the booster.

    Attributes
    ----------
    booster_ : LGBMClassifier or CatBoostClassifier
    classes_ : ndarray of shape (2,)
    categorical_columns_ : list of str
    categories_ : dict of str to pandas.Index
        The training categories of each categorical column (LightGBM).
    n_iter_ : int
        Boosting rounds run.
    best_iteration_ : int
        The round kept (1-based), as the neural models' best epoch.
    """

    def __init__(self, library="lightgbm", *, validation_fraction=0.1, random_state=None,
                 n_threads=1):  # fmt: skip
        self.library = library
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, X, y):
        """Fit the booster on ``1 - validation_fraction`` of the rows, stopping on the rest.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_columns)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        if self.library not in LIBRARIES:
            raise ValueError(
                f"The 'library' parameter of GradientBoostingReference must be one of "
                f"{LIBRARIES}; got {self.library!r}."
            )
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"The 'validation_fraction' parameter of GradientBoostingReference must be in "
                f"(0, 1); got {self.validation_fraction!r}."
            )
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"GradientBoostingReference needs a DataFrame; got {type(X).__name__}.")
        self.classes_, y = np.unique(np.asarray(y), return_inverse=True)
        self.categorical_columns_ = [
            name for name in X.columns if not pd.api.types.is_numeric_dtype(X[name])
            or pd.api.types.is_bool_dtype(X[name])
        ]  # fmt: skip
        X_train, X_valid, y_train, y_valid = train_test_split(
            X, y, test_size=self.validation_fraction, random_state=self.random_state, stratify=y
        )
        if self.library == "lightgbm":
            self.categories_ = {
                name: pd.Index(_as_strings(X_train[name]).dropna().unique())
                for name in self.categorical_columns_
            }
            self.booster_ = self._fit_lightgbm(X_train, y_train, X_valid, y_valid)
        else:
            self.booster_ = self._fit_catboost(X_train, y_train, X_valid, y_valid)
        return self

    def _fit_lightgbm(self, X_train, y_train, X_valid, y_valid):
        lightgbm = _import("lightgbm")
        booster = lightgbm.LGBMClassifier(
            random_state=self.random_state, n_jobs=self.n_threads, verbose=-1
        )
        booster.fit(
            self._frame(X_train), y_train, eval_X=(self._frame(X_valid),), eval_y=(y_valid,),
            callbacks=[lightgbm.early_stopping(PATIENCE, verbose=False)],
        )  # fmt: skip
        self.n_iter_ = _rounds(booster.evals_result_)
        self.best_iteration_ = booster.best_iteration_ or self.n_iter_
        return booster

    def _fit_catboost(self, X_train, y_train, X_valid, y_valid):
        catboost = _import("catboost")
        booster = catboost.CatBoostClassifier(
            random_seed=self.random_state, thread_count=self.n_threads, verbose=False,
            allow_writing_files=False, cat_features=self.categorical_columns_,
        )  # fmt: skip
        booster.fit(
            self._frame(X_train), y_train, eval_set=(self._frame(X_valid), y_valid),
            early_stopping_rounds=PATIENCE, use_best_model=True,
        )  # fmt: skip
        self.n_iter_ = _rounds(booster.get_evals_result())
        self.best_iteration_ = booster.get_best_iteration() + 1
        return booster

    def _frame(self, X):
        """``X`` with its categorical columns as the booster takes them."""
        X = X.copy()
        for name in self.categorical_columns_:
            values = _as_strings(X[name])
            if self.library == "lightgbm":
                known = self.categories_[name]  # an unseen value is missing, as LightGBM's own
                X[name] = pd.Categorical(values.where(values.isin(known)), categories=known)
            else:
                X[name] = values.fillna("nan").astype(str)
        return X

    def predict_proba(self, X):
        """Probabilities of ``classes_``.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_columns)

        Returns
        -------
        ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self, "booster_")
        return self.booster_.predict_proba(self._frame(X))

    def predict(self, X):
        """The class of the larger probability.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _as_strings(column):
    """Cells as strings (a list or array per row joined with ``"|"``), missing kept missing."""
    return column.map(
        lambda cell: "|".join(map(str, cell)) if isinstance(cell, (list, tuple, np.ndarray))
        else (cell if pd.isna(cell) else str(cell)),
    )  # fmt: skip


def _rounds(evals_result):
    """Boosting rounds scored on the validation set: the length of its one metric's curve."""
    validation = next(name for name in evals_result if name != "learn")
    return len(next(iter(evals_result[validation].values())))


def _import(library):
    try:
        return __import__(library)
    except ImportError as error:  # optional: say how to get it
        raise ImportError(
            f"The {library} reference row needs {library}: pip install 'sk-ctr[bench]' "
            f"(or {library})."
        ) from error
