"""Column importances by permutation, with :func:`sklearn.inspection.permutation_importance`'s
semantics: the decrease of a score when one column's values are shuffled across rows, over
``n_repeats`` seeded shuffles."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import check_scoring
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.random import sample_without_replacement

from sk_ctr.preprocessing import FieldData
from sk_ctr.preprocessing.batch import ARRAYS_OF_KIND

__all__ = ["field_permutation_importance", "permutation_importance"]


def permutation_importance(
    estimator, X, y, *, scoring="roc_auc", n_repeats=5, random_state=None, max_rows=None,
    n_jobs=None,
):  # fmt: skip
    """Importance of every column of a raw DataFrame for a fitted sk_ctr estimator.

    :func:`sklearn.inspection.permutation_importance` itself, run on the raw frame through the
    estimator's ``predict_proba`` (which encodes it), with the results indexed by column name.
    A cell is moved whole, so a multi-valued column (``"a|b|c"`` or a list per row) or a
    behaviour history keeps its items together and only changes rows.

    Parameters
    ----------
    estimator : fitted CTRClassifier
    X : pandas.DataFrame of shape (n_samples, n_columns)
        Raw rows, as ``fit`` took them (usually a held-out part).
    y : array-like of shape (n_samples,)
    scoring : str or callable, default="roc_auc"
        A scikit-learn scorer name (``"roc_auc"``, ``"neg_log_loss"``) or a scorer callable.
        ``score`` is accuracy at 0.5, rarely what a CTR model is judged on.
    n_repeats : int, default=5
        Shuffles per column.
    random_state : int, RandomState or None, default=None
        Seeds the shuffles (the same ones for every column, as scikit-learn does).
    max_rows : int or None, default=None
        Score on this many rows drawn without replacement (all rows if ``None``).
    n_jobs : int or None, default=None
        Columns scored in parallel (joblib).

    Returns
    -------
    sklearn.utils.Bunch
        ``importances_mean`` and ``importances_std`` (pandas.Series indexed by column name)
        and ``importances`` (pandas.DataFrame, one row per column, one column per repeat).
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"permutation_importance needs X as a pandas DataFrame (columns are named by it); "
            f"got {type(X).__name__}. For encoded data use field_permutation_importance."
        )
    # imported here: sklearn.inspection imports sklearn.ensemble (0.15 s), which every fit
    # with validation rows would pay for field_permutation_importance (feature_importances_),
    # a spawned data-parallel worker included
    from sklearn.inspection import permutation_importance as sklearn_permutation_importance

    max_samples = 1.0 if max_rows is None else min(int(max_rows), len(X))
    result = sklearn_permutation_importance(
        estimator, X, y, scoring=scoring, n_repeats=n_repeats, n_jobs=n_jobs,
        random_state=random_state, max_samples=max_samples,
    )  # fmt: skip
    return _named(result, pd.Index(X.columns, name="column"))


def field_permutation_importance(
    estimator, X_encoded, y, *, scoring="roc_auc", n_repeats=5, random_state=None,
    max_rows=50_000,
):  # fmt: skip
    """Importance of every field of already encoded data: one forward pass per field and
    repeat.

    The field's arrays are shuffled jointly across rows: its column of ``ids`` or ``values``,
    or, for a sequence field, its padded ids together with its lengths; as in scikit-learn,
    each repeat shuffles the previous repeat's shuffled rows again. With as many rows as
    ``max_rows`` or fewer and one field per column, the result equals
    :func:`permutation_importance` on the raw frame (the same shuffles, in the same order).

    Parameters
    ----------
    estimator : fitted CTRClassifier
    X_encoded : FieldData
        Rows encoded by ``estimator.preprocessor_`` (e.g. the early-stopping validation split).
    y : array-like of shape (n_samples,)
        Labels as ``fit`` took them (values of ``estimator.classes_``), which scorers such as
        ``"neg_log_loss"`` match against ``classes_``.
    scoring : str or callable, default="roc_auc"
        A scikit-learn scorer name or callable; ``"roc_auc"`` needs both classes in ``y``.
    n_repeats : int, default=5
        Shuffles per field.
    random_state : int, RandomState or None, default=None
        Seeds the row sample and the shuffles, drawn as scikit-learn draws them.
    max_rows : int or None, default=50_000
        Score on this many rows drawn without replacement when there are more (the baseline
        score included); ``None`` uses all rows.

    Returns
    -------
    sklearn.utils.Bunch
        ``importances_mean`` and ``importances_std`` (pandas.Series indexed by field name, in
        schema order) and ``importances`` (pandas.DataFrame, one row per field, one column per
        repeat): baseline score minus the score with the field shuffled.
    """
    if not isinstance(X_encoded, FieldData):
        raise TypeError(
            f"field_permutation_importance needs X_encoded as a FieldData; got "
            f"{type(X_encoded).__name__}. For raw rows use permutation_importance."
        )
    if not (isinstance(n_repeats, (int, np.integer)) and n_repeats >= 1):
        raise ValueError(f"n_repeats must be a positive integer; got {n_repeats!r}.")
    if max_rows is not None and not (isinstance(max_rows, (int, np.integer)) and max_rows >= 1):
        raise ValueError(f"max_rows must be a positive integer or None; got {max_rows!r}.")
    y = np.asarray(y)
    if len(y) != len(X_encoded):
        raise ValueError(f"y has {len(y)} rows but X_encoded has {len(X_encoded)}.")
    scorer = check_scoring(estimator, scoring=scoring)
    # As sklearn: one seed, and a fresh RandomState from it for every field.
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max + 1)
    positions = _field_positions(X_encoded.schema)
    scores, baseline = [], None
    for field in X_encoded.schema:
        generator = check_random_state(seed)
        if max_rows is not None and max_rows < len(y):
            rows = sample_without_replacement(len(y), max_rows, random_state=generator)
            X_field, y_field = X_encoded[rows], y[rows]
        else:
            X_field, y_field = X_encoded, y
        if baseline is None:  # the same rows for every field: one baseline
            baseline = scorer(estimator, X_field, y_field)
        order = np.arange(len(y_field))
        position = positions[field.name]
        shuffled = {key: X_field[key].copy() for key in ARRAYS_OF_KIND[field.kind]}
        field_scores = []
        for _ in range(n_repeats):
            generator.shuffle(order)
            for array in shuffled.values():  # as sklearn: each repeat reshuffles the last one
                array[:, position] = array[order, position]
            permuted = FieldData({**X_field, **shuffled}, X_field.schema)
            field_scores.append(scorer(estimator, permuted, y_field))
        scores.append(field_scores)
    names = pd.Index([field.name for field in X_encoded.schema], name="field")
    importances = baseline - np.asarray(scores, dtype=np.float64).reshape(len(names), n_repeats)
    return _named(
        Bunch(
            importances_mean=importances.mean(axis=1),
            importances_std=importances.std(axis=1),
            importances=importances,
        ),
        names,
    )


def _field_positions(schema):
    """Each field's position along axis 1 of its kind's arrays (schema order within a kind)."""
    counts, positions = dict.fromkeys(ARRAYS_OF_KIND, 0), {}
    for field in schema:
        positions[field.name] = counts[field.kind]
        counts[field.kind] += 1
    return positions


def _named(result, names):
    """sklearn's Bunch of arrays as pandas objects indexed by ``names``."""
    repeats = pd.RangeIndex(result.importances.shape[1], name="repeat")
    return Bunch(
        importances_mean=pd.Series(result.importances_mean, index=names),
        importances_std=pd.Series(result.importances_std, index=names),
        importances=pd.DataFrame(result.importances, index=names, columns=repeats),
    )
