"""The worker processes a data-parallel ``fit`` spawns, one per rank: started without the
caller's ``__main__``, fed the estimator and the arrays through pipes and shared memory, watched
by the parent (signs of life, a start-up allowance, ``ddp_timeout``), stopped with it, and their
first failure reported with its cause."""

from __future__ import annotations

import json
import mmap
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections import deque
from contextlib import ExitStack, suppress

import numpy as np
import torch

from sk_ctr.training.distributed import _free_port

# ------------------------------------------------------------------ spawned worker processes
#: What a worker writes on its status pipe: a sign of life (a batch, or the start), "this rank
#: has trained its first batch" (its start is over), "every rank has finished training" (written
#: after the final barrier), and an error report (JSON to EOF).
HEARTBEAT, TRAINING, DONE, ERROR = b".", b">", b"+", b"!"
#: Seconds a worker may take to start, i.e. until it has trained its first batch: a fresh
#: interpreter importing torch, scikit-learn and pandas, loading the estimator, meeting the
#: other ranks and taking the first optimizer step needs ~4 s of CPU, many times that on a
#: busy machine. ``ddp_timeout`` bounds the waits once the ranks train, so a small one (for
#: quick batches) does not stop workers that are still starting.
START_ALLOWANCE = 300.0
#: Seconds a worker is given to leave after SIGTERM before it is killed.
_TERMINATE_GRACE = 5.0
#: Seconds the launcher is given beyond that to reap the ranks and leave.
_LAUNCHER_GRACE = 5.0
#: Seconds the other workers are given to exit once one has failed, before the cause is named.
_CAUSE_GRACE = 2.0


def spawn_fit(estimator, context, rng_state, timeout):
    """Train ``estimator`` (initialised, not yet trained) on ``context`` in
    ``context.plan.world_size`` worker processes and return rank 0's result (weights, optimizer
    states, history).

    The workers are forks of one ``python -m sk_ctr.training.ddp_worker``, the launcher: a
    fresh interpreter that never imports the caller's ``__main__`` (torch.multiprocessing's
    spawn re-runs it, so a script without an ``if __name__ == "__main__":`` guard trained twice
    per worker, and ``python -`` failed), and that imports torch and the estimator's module
    once for all ranks. Everything the ranks need travels in anonymous temporary files
    (unlinked when made, so nothing in ``$TMPDIR`` can be read by others or left behind by any
    exit, ``kill -9`` included) whose descriptors they inherit: the pickled estimator, and the
    encoded arrays, which every worker maps copy-on-write instead of holding a copy (a
    stream's workers read the files themselves).

    Parameters
    ----------
    estimator : CTRClassifier
    context : FitContext
        The data (in memory: ``X`` and ``y`` are written once and the datasets refer to them),
        the validation rows and the plan.
    rng_state : torch.Tensor
        The torch random state every rank starts from.
    timeout : float
        Seconds: gloo's (or NCCL's) wait for the other ranks in a collective operation, and
        the longest a worker that trains may go without a sign of life (a batch) before the
        fit is stopped with a ``TimeoutError``. Until its first batch, a worker (and the
        ranks' rendezvous) may take ``max(timeout, START_ALLOWANCE)``.

    Returns
    -------
    dict
        What rank 0's :func:`sk_ctr.training.strategies.rank_result` returned.

    Raises
    ------
    TypeError
        When the estimator refers to a class or function of the ``__main__`` module.
    TimeoutError, RuntimeError
        When a worker is silent for ``timeout`` seconds (``START_ALLOWANCE`` while it starts),
        or fails (its message included).
    """
    if os.name != "posix":
        raise NotImplementedError(
            "fit spawns data-parallel workers (devices=...) that inherit file descriptors, "
            "which needs a POSIX system (Linux, macOS). On Windows, launch the ranks with "
            "torchrun (docs/distributed.md) or train in one process (devices=None)."
        )
    with ExitStack() as stack:
        arrays_file = stack.enter_context(tempfile.TemporaryFile())
        arrays = {}
        if context.y is not None:  # rows in memory, not a stream
            arrays = {("X", key): value for key, value in context.X.items()}
            arrays["y"] = context.y
        layout = _write_arrays(arrays_file, arrays)
        payload_file = stack.enter_context(tempfile.TemporaryFile())
        plan = context.plan
        config = {
            "estimator": estimator,
            "context": context,
            "rng_state": rng_state,
            "port": _free_port(),
            "timeout": timeout,
        }
        pickle.dump(layout, payload_file)  # first: the worker needs it to load the rest
        _WorkerPickler(payload_file, arrays).dump(config)
        payload_file.flush()
        result_file = stack.enter_context(tempfile.TemporaryFile())
        workers = [_Worker(rank, stack) for rank in range(plan.world_size)]
        launcher = _Launcher(
            workers, payload_file, arrays_file, result_file, type(estimator).__module__
        )
        try:
            _supervise(workers, timeout)
        finally:
            launcher.stop()
        result_file.seek(0)
        return torch.load(result_file, weights_only=False)


class _WorkerPickler(pickle.Pickler):
    """Pickles a worker's payload: the encoded arrays as references to the shared arrays file
    (the context's data and its validation split hold them), and a clear error for a class or
    function of ``__main__``, which a worker cannot import."""

    def __init__(self, file, arrays):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._shared = {id(value): key for key, value in arrays.items()}

    def persistent_id(self, obj):
        if isinstance(obj, np.ndarray):
            return self._shared.get(id(obj))
        return None

    def reducer_override(self, obj):
        if isinstance(obj, type | types.FunctionType) and obj.__module__ == "__main__":
            raise TypeError(
                f"{obj.__qualname__} is defined in the __main__ module (the script, notebook or "
                "`python -c` that runs fit), and the worker processes of a data-parallel fit "
                "(devices=...) do not run that module, so they cannot load it. Move it to a "
                "module they can import (a .py file beside the script), or train in one "
                "process (devices=None)."
            )
        return NotImplemented


def _write_arrays(file, arrays):
    """Write every array's bytes to ``file`` (aligned to 64 bytes); return where each is, as
    ``{key: (dtype, shape, offset)}``."""
    layout = {}
    for key, value in arrays.items():
        array = np.ascontiguousarray(value)
        if array.dtype.hasobject:
            raise TypeError(f"Encoded array {key!r} has dtype object; expected numbers.")
        offset = -(-file.seek(0, os.SEEK_END) // 64) * 64
        file.seek(offset)
        file.write(array.data.cast("B") if array.size else b"")
        layout[key] = (array.dtype.str, array.shape, offset)
    file.flush()
    return layout


def read_arrays(fd, layout):
    """The arrays :func:`_write_arrays` wrote to the file open as ``fd``, mapped copy-on-write
    (every worker shares the pages; a write copies only the page it touches)."""
    size = os.fstat(fd).st_size
    buffer = mmap.mmap(fd, size, access=mmap.ACCESS_COPY) if size else None
    arrays = {}
    for key, (dtype, shape, offset) in layout.items():
        count = int(np.prod(shape))
        if count == 0:
            arrays[key] = np.empty(shape, dtype)
        else:
            arrays[key] = np.frombuffer(buffer, dtype, count, offset).reshape(shape)
    return arrays


class _Worker:
    """One rank seen from the parent: its pipes (status, stdout, stderr; the write ends go to
    the launcher, which hands them to the rank), the time of its last sign of life, the last
    lines of its stderr (forwarded to ``sys.stderr``, its stdout to ``sys.stdout``, so a
    notebook shows them), the error it reported, and its exit code once the launcher has
    reaped it. ``stack`` closes the parent's ends when the fit is over."""

    def __init__(self, rank, stack):
        self.rank, self.last_seen, self.report = rank, time.monotonic(), None
        self.training = self.done = False
        self.returncode, self.exited = None, threading.Event()
        self.stderr_tail = deque(maxlen=20)
        self.launcher_tail = ()  # the launcher's, when the rank ended with it
        self.child_fds, self._threads = {}, []
        readers = {}
        for name in ("status", "stdout", "stderr"):
            read, write = os.pipe()
            readers[name] = stack.enter_context(open(read, "rb", buffering=0))
            self.child_fds[name] = write
            stack.callback(self._close_child_end, name)
        self._readers = readers

    def _close_child_end(self, name):
        fd = self.child_fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    def start_reading(self):
        """Close the parent's copies of the rank's write ends (so each pipe ends with the
        rank) and read the pipes in threads."""
        for name in list(self.child_fds):
            self._close_child_end(name)
        self._threads = [
            threading.Thread(target=self._read_status, args=(self._readers["status"],)),
            threading.Thread(target=_forward, args=(self._readers["stdout"], sys.stdout)),
            threading.Thread(
                target=_forward,
                args=(self._readers["stderr"], sys.stderr, self.stderr_tail),
            ),
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    def _read_status(self, pipe):
        report = None  # the bytes after ERROR, once it came
        while chunk := pipe.read(65536):
            self.last_seen = time.monotonic()
            if report is not None:
                report += chunk
                continue
            signs, error, rest = chunk.partition(ERROR)
            self.training = self.training or TRAINING in signs
            self.done = self.done or DONE in signs
            if error:
                report = rest
        if report is not None:
            try:
                self.report = json.loads(report.decode())
            except ValueError:  # cut short: the worker was killed while writing it
                self.report = {"error": report.decode(errors="replace"), "distributed": False}

    def exit(self, code, launcher_tail=()):
        """Record the rank's exit ``code`` (``launcher_tail``: the launcher's last output,
        when the rank ended with the launcher)."""
        if self.returncode is None:
            self.returncode, self.launcher_tail = code, launcher_tail
            self.exited.set()

    def poll(self):
        """The rank's exit code, None while it runs."""
        return self.returncode

    def join_output(self, timeout=5.0):
        """Wait for the reader threads to drain the exited worker's pipes."""
        for thread in self._threads:
            thread.join(timeout)

    def failure(self):
        """The exception that says why this exited worker failed."""
        self.join_output()
        code = self.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        if self.report is None:
            tail = "\n".join(self.stderr_tail or self.launcher_tail)
            return RuntimeError(
                f"The data-parallel worker of rank {self.rank} {how}."
                + (f" Its last output:\n{tail}" if tail else "")
            )
        message = f"The data-parallel worker of rank {self.rank} failed: {self.report['error']}"
        if self.report["distributed"]:  # a collective operation failed or timed out
            return TimeoutError(
                f"{message}\nA rank waits at most ddp_timeout seconds for the others in a "
                "collective operation; another rank may have stalled or died. Raise "
                "ddp_timeout if the ranks legitimately wait that long (e.g. slow first "
                "batches)."
            )
        return RuntimeError(message)


def _forward(pipe, stream, tail=None):
    """Copy the lines of ``pipe`` to ``stream``, keeping the last ones in ``tail``."""
    for line in iter(pipe.readline, b""):
        text = line.decode(errors="replace")
        if tail is not None:
            tail.append(text.rstrip())
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # the parent's stream closed: keep draining the pipe
            pass
    pipe.close()


class _Launcher:
    """The launcher process (``python -m sk_ctr.training.ddp_worker``), which forks the ranks
    and reports their exit codes on a pipe, read here into each :class:`_Worker`.

    The caller's ``sys.path`` goes to it, so that the ranks import what the caller could (the
    script's own folder, paths it added); it runs in a new session, so that a Ctrl-C in the
    terminal reaches the parent only, which then stops the workers (each would otherwise catch
    it in skorch's loop and carry on).
    """

    def __init__(self, workers, payload_file, arrays_file, result_file, preload):
        self.workers = workers
        self.tail = deque(maxlen=20)
        exits_read, exits_write = os.pipe()
        config = {
            "parent": os.getpid(),
            "payload": payload_file.fileno(),
            "arrays": arrays_file.fileno(),
            "result": result_file.fileno(),
            "exits": exits_write,
            "preload": preload,
            "grace": _TERMINATE_GRACE,
            "ranks": [{"rank": worker.rank, **worker.child_fds} for worker in workers],
        }
        passed = [config[name] for name in ("payload", "arrays", "result", "exits")]
        passed += [fd for worker in workers for fd in worker.child_fds.values()]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sk_ctr.training.ddp_worker", json.dumps(config)],
                pass_fds=passed,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except BaseException:
            os.close(exits_read)
            raise
        finally:
            os.close(exits_write)
        for worker in workers:
            worker.start_reading()
        self._threads = [
            threading.Thread(target=self._read_exits, args=(exits_read,), daemon=True),
            threading.Thread(target=_forward, args=(self.process.stdout, sys.stdout), daemon=True),
            threading.Thread(
                target=_forward, args=(self.process.stderr, sys.stderr, self.tail), daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()

    def _read_exits(self, fd):
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            for line in iter(pipe.readline, b""):
                rank, code = map(int, line.split())
                self.workers[rank].exit(code)
        # The launcher has ended: a rank it did not report ended with it (killed by its
        # PR_SET_PDEATHSIG), or never started.
        code = self.process.wait()
        self._threads[2].join(5.0)  # its last words, for the ranks' errors
        for worker in self.workers:
            worker.exit(code or 1, tuple(self.tail))

    def stop(self):
        """Stop the ranks still running and wait for the launcher: SIGTERM, which it passes
        on, killing the ranks that do not end within the grace period; SIGKILL to the
        launcher if it is still there after that (then the kernel kills the ranks)."""
        if any(worker.poll() is None for worker in self.workers):
            with suppress(ProcessLookupError):
                self.process.terminate()
        try:
            self.process.wait(_TERMINATE_GRACE + _LAUNCHER_GRACE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for thread in self._threads:
            thread.join(5.0)
        for worker in self.workers:
            worker.join_output()


def _supervise(workers, timeout):
    """Wait until every worker has exited successfully; raise when one fails or has shown no
    sign of life for ``timeout`` seconds (:data:`START_ALLOWANCE`, if longer, until it has
    trained its first batch)."""
    start_allowance = max(timeout, START_ALLOWANCE)
    while True:
        codes = [worker.poll() for worker in workers]
        failed = _failed(workers, codes)
        if failed:
            # The rank that raised may be reaped a moment after a rank its exit made fail
            # (gloo's "connection reset by peer", seen as the only failure under load): a
            # short wait lets every rank that fails be counted, so the cause is among them.
            deadline = time.monotonic() + _CAUSE_GRACE
            for worker in workers:
                worker.exited.wait(max(0.0, deadline - time.monotonic()))
            failed = _failed(workers, [worker.poll() for worker in workers])
            for worker in failed:
                worker.join_output()  # its error report, read to the pipe's end
            # The cause first: an error a rank raised, then a rank killed without a word (by
            # a signal, the OOM killer ...), then the failures of collective operations that
            # these cause on the other ranks; among equals the first to fail.
            failed.sort(key=_cause_first)
            raise failed[0].failure()
        if None not in codes:
            for worker in workers:
                worker.join_output()
            return
        now = time.monotonic()
        for worker, code in zip(workers, codes, strict=True):
            silence = now - worker.last_seen
            if code is None and worker.training and silence > timeout:
                raise TimeoutError(
                    f"The data-parallel worker of rank {worker.rank} showed no sign of life "
                    f"(no batch) for {silence:.0f} s, more than ddp_timeout={timeout!r} "
                    "seconds; the workers were stopped. Raise ddp_timeout if a step or a "
                    "validation pass legitimately takes that long."
                )
            if code is None and not worker.training and silence > start_allowance:
                raise TimeoutError(
                    f"The data-parallel worker of rank {worker.rank} has not trained a batch "
                    f"{silence:.0f} s after its last sign of life, more than the "
                    f"{start_allowance:.0f} s a worker may take to start; the workers were "
                    "stopped."
                )
        time.sleep(0.1)


def _failed(workers, codes):
    """The workers whose exit ``codes`` count as a failure of the fit.

    A rank other than 0 that dies after every rank has finished training (gloo's threads
    sometimes abort while a process exits: "terminate called without an active exception")
    leaves rank 0 to write a complete result: only a failure before that point, or any failure
    of rank 0, counts.
    """
    return [
        worker
        for worker, code in zip(workers, codes, strict=True)
        if code not in (None, 0) and (worker.rank == 0 or not worker.done)
    ]


def _cause_first(worker):
    """Sort key of failed workers: the likely cause of the failure first."""
    if worker.report is None:
        return (1, 0.0, worker.rank)
    return (2 if worker.report["distributed"] else 0, worker.report.get("at", 0.0), worker.rank)
