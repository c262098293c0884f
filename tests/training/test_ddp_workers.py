"""The worker processes of a spawned data-parallel fit (``devices=2`` on CPU): started without
the caller's ``__main__``, stopped with their parent, by a timeout or on error, and leaving no
file behind. Each test spawns real processes (a fresh interpreter imports torch: seconds), so
the deadlines are generous and nothing depends on the machine's speed."""

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from ddp_probes import FailOnRank, KillOnRank, MarkTraining, SlowToLoad, StallAtEpoch
from helpers import child_env, read_until

from sk_ctr import FMClassifier
from sk_ctr.datasets import make_ctr_classification

TESTS = str(Path(__file__).resolve().parent)
LINUX_ONLY = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads worker states from /proc (Linux)"
)
#: Seconds any wait for a process may take before the test fails.
PATIENCE = 300

#: A script without an ``if __name__ == "__main__":`` guard; it counts its runs in a file, then
#: tries a callback of its own (refused), then fits twice: until interrupted (it then waits for
#: a line on stdin), and until killed.
UNGUARDED = """
import ctypes
import signal
import sys
from pathlib import Path
from skorch.callbacks import Callback
sys.path.insert(0, {tests!r})
from ddp_probes import MarkTraining
from sk_ctr import FMClassifier
from sk_ctr.datasets import make_ctr_classification

# Ctrl-C raises KeyboardInterrupt, as in a terminal: a process started in the background of a
# non-interactive shell (`nohup cmd &`, some CI runners) inherits SIGINT ignored, and Python
# leaves it so (then fit trained on, as it should, and the test waited in vain).
signal.signal(signal.SIGINT, signal.default_int_handler)
# Killed with the test process (PR_SET_PDEATHSIG, SIGKILL): a test run stopped mid-way (a CI
# timeout) would otherwise leave this script training on both cores with max_epochs=100000.
ctypes.CDLL(None).prctl(1, signal.SIGKILL)
with open({count!r}, "a") as file:
    file.write("run\\n")
X, y = make_ctr_classification(n_samples=600, n_fields=3, cardinality=10, random_state=0)
params = dict(devices=2, max_epochs=100000, early_stopping=False, batch_size=64, n_threads=1)

class Note(Callback):  # defined in __main__, which the workers never run
    pass

try:
    FMClassifier(callbacks=[Note()], **params).fit(X, y)
except TypeError as error:
    print("refused:", str(error).replace("\\n", " "), flush=True)
for fit in ("first", "second"):
    markers = Path({folder!r}, fit)
    markers.mkdir()
    try:
        FMClassifier(callbacks=[MarkTraining(str(markers))], **params).fit(X, y)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.stdin.readline()
"""


def leftovers(tmpdir):
    """What is in ``tmpdir`` besides torch's compile cache (``torchinductor_<user>``, made by
    the first optimizer step of any process and kept on purpose)."""
    return [p.name for p in tmpdir.iterdir() if not p.name.startswith("torchinductor_")]


def alive(pid):
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_for(condition, what, process=None):
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the fit ended before {what}: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"waited {PATIENCE} s for {what}")
        time.sleep(0.2)


def worker_pids(folder):
    return [int(p.name.split("-")[1]) for p in folder.glob("training-*")]


def parent_pid(pid):
    """The pid of process ``pid``'s parent."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


@pytest.mark.slow
@LINUX_ONLY
def test_workers_never_run_the_callers_main_and_stop_with_it(tmp_path):
    """From a script without a main guard (torch's spawn re-ran it in every worker): a
    callback defined in it is refused by name; the script runs once while its fits' workers
    train; Ctrl-C (SIGINT) mid-training makes fit raise KeyboardInterrupt with both workers
    gone while the caller lives on; then ``kill -9`` of the caller in the middle of its next
    fit: both workers are gone too. No file was ever visible in $TMPDIR. The workers of a fit
    are forks of one launcher process (one fresh interpreter per fit, not per rank), which is
    neither the caller nor left behind. The workers start as ``python -m
    sk_ctr.training.ddp_worker`` however the caller started (a script, ``python -c``, stdin:
    ``python -`` failed under torch's spawn), so one caller shows it."""
    tmpdir, count, script = tmp_path / "tmp", tmp_path / "runs.txt", tmp_path / "unguarded.py"
    tmpdir.mkdir()
    script.write_text(UNGUARDED.format(tests=TESTS, count=str(count), folder=str(tmp_path)))
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        env=child_env(TMPDIR=str(tmpdir)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        refused = read_until(parent, lambda line: line.startswith("refused:"), PATIENCE)[-1]
        assert "Note is defined in the __main__ module" in refused and "devices=None" in refused
        for fit, signal_number in (("first", signal.SIGINT), ("second", signal.SIGKILL)):
            markers = tmp_path / fit
            wait_for(lambda m=markers: len(worker_pids(m)) == 2, f"{fit} fit's workers", parent)
            workers = worker_pids(markers)
            launchers = {parent_pid(pid) for pid in workers}
            assert len(launchers) == 1 and parent.pid not in launchers | set(workers)
            processes = workers + list(launchers)
            assert all(map(alive, processes))
            assert count.read_text().count("run") == 1
            assert not leftovers(tmpdir)  # the estimator's files have no name anyone can open
            parent.send_signal(signal_number)
            if signal_number == signal.SIGINT:
                # fit raised once it had stopped and waited for the launcher and the workers
                read_until(parent, lambda line: line == "interrupted\n", PATIENCE)
                assert parent.poll() is None and not any(map(alive, processes))
                parent.stdin.write("\n")
                parent.stdin.flush()
            else:
                parent.wait(timeout=PATIENCE)
                wait_for(lambda p=processes: not any(map(alive, p)), "the workers to end")
            assert not leftovers(tmpdir)
    finally:
        parent.kill()
        _, stderr = parent.communicate()
    assert parent.returncode == -signal.SIGKILL, stderr


@pytest.fixture
def fit_in_tmpdir(tmp_path, monkeypatch):
    """Fit a small DDP FMClassifier in this process with ``tempfile`` writing to tmp_path;
    returns the folder the worker markers go to."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    X, y = make_ctr_classification(n_samples=600, n_fields=3, cardinality=10, random_state=0)

    def fit(**params):
        est = FMClassifier(devices=2, batch_size=64, n_threads=1, random_state=0, **params)
        return est.fit(X, y)

    fit.tmpdir = tmpdir
    return fit


@pytest.mark.slow
@LINUX_ONLY
def test_a_silent_worker_stops_the_fit_after_ddp_timeout(tmp_path, fit_in_tmpdir):
    """Every rank hangs in epoch 2 (no collective operation waits, so gloo cannot notice):
    after ddp_timeout seconds without a batch, fit stops the workers and says so. Their start
    took longer than ddp_timeout (each slept 4 s loading the estimator) and did not count: a
    start has its own allowance."""
    callbacks = [MarkTraining(str(tmp_path)), StallAtEpoch(2), SlowToLoad(4)]
    with pytest.raises(TimeoutError, match=r"rank \d showed no sign of life.*ddp_timeout=2"):
        fit_in_tmpdir(max_epochs=3, ddp_timeout=2, callbacks=callbacks)
    workers = worker_pids(tmp_path)
    assert len(workers) == 2 and not any(map(alive, workers))
    assert not leftovers(fit_in_tmpdir.tmpdir)


@pytest.mark.slow
@LINUX_ONLY
@pytest.mark.parametrize(
    "probe, message",
    [
        (FailOnRank(1), "rank 1 failed: ValueError: rank 1 cannot go on"),
        # the launcher reaps the ranks and passes their exit codes on to the parent
        (KillOnRank(1), "rank 1 was killed by signal 9"),
    ],
    ids=["raises", "killed"],
)
def test_a_failing_worker_is_reported_and_the_others_stopped(
    tmp_path, fit_in_tmpdir, probe, message
):
    callbacks = [MarkTraining(str(tmp_path)), probe]
    with pytest.raises(RuntimeError, match=message):
        fit_in_tmpdir(max_epochs=3, callbacks=callbacks)
    workers = worker_pids(tmp_path)
    assert len(workers) == 2 and not any(map(alive, workers))
    assert not leftovers(fit_in_tmpdir.tmpdir)


def test_the_error_raised_is_the_cause_not_its_consequences():
    """When several workers failed, fit names the one that raised (earliest first), then one
    killed without a report, and last a rank whose collective operation failed because of
    them (gloo's RuntimeError names gloo)."""
    from types import SimpleNamespace

    from sk_ctr.training.ddp_worker import from_process_group
    from sk_ctr.training.workers import _cause_first

    gloo = RuntimeError("[third_party/gloo/transport/tcp/pair.cc:537] Connection reset by peer")
    assert from_process_group(gloo) and not from_process_group(ValueError("bad batch"))

    def worker(rank, distributed=None, at=0.0):
        report = None if distributed is None else {"distributed": distributed, "at": at}
        return SimpleNamespace(rank=rank, report=report)

    failed = [worker(0, True, 1.0), worker(1), worker(2, False, 3.0), worker(3, False, 2.0)]
    assert [w.rank for w in sorted(failed, key=_cause_first)] == [3, 2, 1, 0]
