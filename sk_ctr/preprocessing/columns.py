"""The input as the transformer reads it: the frame checked against the fitted columns, the
columns' stored arrays, numeric values checked.

Only numpy and pandas are imported here (scikit-learn when an array, not a DataFrame, is
checked), so that the torch-free serving path (:mod:`sk_ctr.preprocessing.encoding`) shares these
checks with the transformer.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def _stored_columns(frame):
    """``{name: values}`` of the columns of ``frame`` as pandas stores them (numpy arrays or
    extension arrays such as ``Categorical`` and Arrow strings), without boxing each in a Series.

    Boxing costs about 12 us per column under pandas 3 (``frame[name]``), most of the time of a
    one-row request over 39 columns; the stored arrays cost well under 1 us each.
    ``DataFrame._get_column_array`` is private (pandas >= 1.3), hence the public fallback.
    """
    stored = getattr(frame, "_get_column_array", None)
    if stored is None:
        return {name: column.values for name, column in frame.items()}
    return {name: stored(position) for position, name in enumerate(frame.columns.tolist())}


def _numeric_values(name, column):
    """Float64 values of a Series or stored column, NaN where missing."""
    try:
        if isinstance(column, np.ndarray) and column.dtype.kind == "f":
            values = column.astype(np.float64)  # a copy, as the caller may write into it
        else:
            column = column if isinstance(column, pd.Series) else pd.Series(column, copy=False)
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"Column {name!r} was numeric during fit but now holds non-numeric values "
            f"(dtype {column.dtype})."
        ) from exc
    if np.isinf(values).any():
        raise ValueError(
            f"Column {name!r} contains infinity; replace it with a finite value or NaN "
            "(NaN is encoded as missing)."
        )
    return values


def _reject_nan(name, values):
    if np.isnan(values).any():
        raise ValueError(
            f"Column {name!r} contains NaN, which numeric='value' cannot encode; impute it or "
            "use numeric='bucketize', where NaN gets its own bucket."
        )


def check_frame(estimator, X, reset):
    """Check ``X`` and return it as a DataFrame whose columns are the fitted ones.

    As :func:`sklearn.utils.validation.validate_data` does, ``reset=True`` sets the
    estimator's ``n_features_in_`` and ``feature_names_in_``; ``reset=False`` checks ``X``
    against them. An array's columns are named ``x0, x1, ...`` (or, with a warning, the
    fitted names when it has as many columns).
    """
    if not isinstance(X, pd.DataFrame):
        from sklearn.utils.validation import check_array  # only arrays need it: see above

        array = check_array(
            X, dtype=None, ensure_all_finite=False, ensure_min_samples=1, input_name="X"
        )
        names = [f"x{i}" for i in range(array.shape[1])]
        fitted_names = getattr(estimator, "feature_names_in_", None)
        if not reset and fitted_names is not None and len(fitted_names) == array.shape[1]:
            # As scikit-learn does: columns are taken by position, with a warning.
            warnings.warn(
                f"X does not have valid feature names, but {type(estimator).__name__} was "
                "fitted with feature names; its columns are taken in the fitted order.",
                UserWarning,
                stacklevel=3,
            )
            names = list(fitted_names)
        X = pd.DataFrame(array, columns=names)
        if reset:
            estimator.n_features_in_ = X.shape[1]
            estimator.__dict__.pop("feature_names_in_", None)
        elif X.shape[1] != estimator.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
                f"{estimator.n_features_in_} features as input."
            )
        return X
    n_samples, n_columns = X.shape
    if n_samples == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
            "required: X is an empty DataFrame."
        )
    if n_columns == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    # The names as one list: iterating the columns' index, a ``str`` (Arrow) index under
    # pandas 3, costs 50 us for 39 columns, 40 % of the transform of a 1-row request when done
    # three times; ``tolist`` 13 us.
    names = X.columns.tolist()
    if not all(isinstance(c, str) for c in names):
        X = X.rename(columns=str)
        names = X.columns.tolist()
    if X.columns.has_duplicates:
        duplicated = sorted(set(X.columns[X.columns.duplicated()]))
        raise ValueError(f"X has duplicated column names: {duplicated}")
    if reset:
        estimator.n_features_in_ = n_columns
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
        return X
    expected = list(getattr(estimator, "feature_names_in_", [f"x{i}" for i in range(n_columns)]))
    given, fitted = set(names), set(expected)
    missing = [c for c in expected if c not in given]
    extra = [c for c in names if c not in fitted]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing column(s) seen during fit: {missing}")
        if extra:
            problems.append(f"column(s) not seen during fit: {extra}")
        raise ValueError(f"X does not match the fitted columns; {'; '.join(problems)}.")
    return X
