"""Shared fixtures: small synthetic CTR data and the real samples beside the repository."""

import os
from pathlib import Path

import pytest

from sk_ctr.datasets import get_data_home, make_ctr_classification

# Real data samples live in ../shared/data beside the repo: their terms forbid redistribution,
# so they are never copied into it. CI has them; a user's checkout may not. The package reads
# them from its data home, pointed there for the tests unless SK_CTR_DATA names another folder.
os.environ.setdefault("SK_CTR_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
SHARED_DATA = get_data_home()


@pytest.fixture
def shared_data_file():
    """Return the path of a file under ../shared/data, or skip the test saying why."""

    def locate(*parts):
        path = SHARED_DATA.joinpath(*parts)
        if not path.is_file():
            pytest.skip(f"the data home {SHARED_DATA} lacks the sample (looked for {path})")
        return path

    return locate


@pytest.fixture(scope="session")
def small_ctr_data():
    """1,000 rows of 4 categorical and 2 numeric raw columns with order-2 structure."""
    return make_ctr_classification(
        n_samples=1000, n_fields=4, cardinality=20, n_numeric=2, random_state=0
    )
