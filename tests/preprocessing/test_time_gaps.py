"""BST's time-gap positions as bucket ids: floor(log2(1 + gap)) per item of a list column."""

import numpy as np
import pandas as pd
import pytest

from sk_ctr.preprocessing.time_gaps import TimeGapBuckets, gap_buckets


def test_gap_buckets_are_log2_of_one_plus_the_gap():
    gaps = [0, 0.5, 1, 2.9, 3, 7, 1000, 86400]
    expected = [int(np.floor(np.log2(1 + g))) for g in gaps]
    assert gap_buckets(gaps).tolist() == expected == [0, 0, 1, 1, 2, 3, 9, 16]


def test_time_gap_buckets_keep_rows_and_other_columns():
    X = pd.DataFrame(
        {"gaps": [[0, 3, 100], [], None, "7|1", np.array([2.5])], "other": list("abcde")},
        index=[10, 11, 12, 13, 14],
    )
    out = TimeGapBuckets(["gaps"]).fit_transform(X)
    assert [list(cell) for cell in out["gaps"]] == [[0, 2, 6], [], [], [3, 1], [1]]
    pd.testing.assert_series_equal(out["other"], X["other"])
    assert list(out.index) == list(X.index) and X.loc[10, "gaps"] == [0, 3, 100]
    with pytest.raises(ValueError, match="'gaps'.*non-negative; found -1.0"):
        TimeGapBuckets(["gaps"]).fit_transform(X.assign(gaps=[[1, -1]] * 5))
    with pytest.raises(ValueError, match="'gaps'.*must be numbers"):
        TimeGapBuckets(["gaps"]).fit_transform(X.assign(gaps=[["soon"]] * 5))
    with pytest.raises(ValueError, match=r"gap columns \['when'\]"):
        TimeGapBuckets(["when"]).fit(X)
