"""The test session's thread policy and the shared fixtures: a seeded torch RNG, small
synthetic CTR data and the real samples beside the repository."""

import gc
import os
from pathlib import Path

# One OpenMP thread per process, and threads that sleep instead of spinning while they wait.
# On a machine busier than its cores (CI shares 2 cores; DDP tests start 2 more processes),
# torch's OpenMP threads otherwise spin against each other: the suite took 15-33 minutes at
# load 5-10 instead of ~2 (issue 15). OpenMP reads these once, when torch (or numpy's BLAS)
# loads, which is below: conftest.py is imported before any test module. Subprocesses and
# spawned DDP workers inherit them through the environment.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import pytest  # noqa: E402
import torch  # noqa: E402

from sk_ctr.datasets import get_data_home, make_ctr_classification  # noqa: E402

torch.set_num_threads(1)  # also when torch was imported before us (e.g. by a plugin)

# Real data samples live in ../shared/data beside the repo: their terms forbid redistribution,
# so they are never copied into it. CI has them; a user's checkout may not. The package reads
# them from its data home, pointed there for the tests unless SK_CTR_DATA names another folder.
os.environ.setdefault("SK_CTR_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
SHARED_DATA = get_data_home()


@pytest.fixture(autouse=True)
def seed():
    """Every test starts from the same torch RNG state, whichever tests ran before it.

    The CPU generator's own seed: ``torch.manual_seed`` also queues a seed for every
    accelerator torch has not initialised, formatting the caller's stack for each (10 ms
    under pytest's deep stacks; half a minute of CPU over the suite's tests)."""
    torch.random.default_generator.manual_seed(0)


def _one_line_failure(excinfo, style=None):
    return excinfo.exconly()


def pytest_collection_modifyitems(config, items):
    """Long tests first in each half of the run, and short reports of expected failures.

    pytest-xdist's ``worksteal`` gives each of the two test processes one contiguous half of
    the tests and moves tests from the end of a busy one's queue to an idle one. The ``slow``
    tests (fresh interpreters, DDP workers: 5-30 s each) open both halves, so no process is
    left with a long test while the other has nothing to do; the short tests fill the end.

    An expected failure's report is never shown, but pytest formats its traceback anyway,
    parsing every source file on it with ``ast``: 1.5 s of CPU for one of scikit-learn's
    common checks, two minutes for the suite's ~90 declared failures. Such a test reports
    the exception's line instead (in full with ``--runxfail``, which makes them fail).
    """
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    fast = [item for item in items if item.get_closest_marker("slow") is None]
    first_half = slow[0::2] + fast[: len(items) // 2 - len(slow[0::2])]
    items[:] = first_half + slow[1::2] + fast[len(first_half) - len(slow[0::2]) :]
    if config.option.runxfail:
        return
    for item in items:
        if item.get_closest_marker("xfail") is not None:
            item.repr_failure = _one_line_failure


def pytest_collection_finish(session):
    """Freeze what the collection made (the imported modules, the ~3,500 test items): it lives
    to the end of the session, and a full garbage collection no longer traverses it. The
    common checks of three estimators, three alternated runs each: 12.9-14.0 s of CPU
    without, 11.8-12.4 s with."""
    gc.freeze()


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
