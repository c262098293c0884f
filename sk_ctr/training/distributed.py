"""Data-parallel training: which plan a (device, devices, strategy) triple means, the sharded
batches of a distributed rank, and the worker processes ``fit`` spawns.

DeepFM journal section III-B-2: "we split a batch of data records into Num_GPU pieces and feed
each piece into different GPU cards simultaneously. Then, the gradient ... is collected and
averaged." Here each of W ranks takes its slice of every global batch of ``batch_size * W`` rows
(``batch_size`` is per device), DistributedDataParallel averages the gradients, and every rank
scores the *whole* validation set, so early-stopping decisions are identical on all ranks and
none waits forever in an all-reduce the others skipped.
"""

from __future__ import annotations

import json
import mmap
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections import deque
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from sk_ctr.preprocessing.batch import LOSS_SCALE
from sk_ctr.training.loader import SliceLoader, _take

STRATEGIES = ("auto", "ddp", "dp")
LR_SCALINGS = ("sqrt", "linear")


@dataclass(frozen=True)
class ParallelPlan:
    """How one ``fit`` trains.

    Attributes
    ----------
    kind : {"single", "dp", "spawn", "joined"}
        One process; ``nn.DataParallel`` over several GPUs of this process; DDP over worker
        processes that ``fit`` spawns; DDP inside a process group that already exists
        (``torchrun``).
    world_size : int
        Number of data-parallel replicas.
    device_ids : tuple of int
        GPU ids (empty on CPU).
    """

    kind: str
    world_size: int = 1
    device_ids: tuple = ()


def resolve_device(device):
    """``"auto"`` is CUDA when a GPU is available, else CPU; anything else is returned as is."""
    if str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def plan_parallelism(device, devices, strategy):
    """The :class:`ParallelPlan` of an estimator's ``device``, ``devices`` and ``strategy``.

    Raises
    ------
    ValueError
        For combinations that cannot run here, naming the parameter.
    """
    device = str(resolve_device(device))
    on_cuda = device.startswith("cuda")
    if dist.is_available() and dist.is_initialized():  # launched by torchrun: join its group
        if strategy == "dp":
            raise ValueError(
                "strategy='dp' cannot run inside a torch.distributed process group "
                "(torchrun); use strategy='auto' or 'ddp'."
            )
        return ParallelPlan("joined", dist.get_world_size())
    if devices is None:
        if strategy == "dp":
            raise ValueError("strategy='dp' needs devices= (a GPU count or a list of GPU ids).")
        return ParallelPlan("single")
    if isinstance(devices, Integral) and not isinstance(devices, bool):
        if devices < 1:
            raise ValueError(f"devices must be >= 1; got {devices!r}.")
        ids = tuple(range(devices)) if on_cuda else ()
        count = int(devices)
    else:
        ids = tuple(devices)
        if (
            not ids
            or not all(isinstance(i, Integral) and i >= 0 for i in ids)
            or len(set(ids)) != len(ids)
        ):
            raise ValueError(
                f"devices must be an int or a list of distinct GPU ids; got {devices!r}."
            )
        if not on_cuda:
            raise ValueError(
                f"devices={list(ids)} names GPU ids, but device={device!r}; use "
                "device='cuda', or devices=<int> processes on CPU."
            )
        count = len(ids)
    if on_cuda and max(ids) >= torch.cuda.device_count():  # GPU-only branch
        raise ValueError(
            f"devices={devices!r} asks for GPU {max(ids)}, but "
            f"{torch.cuda.device_count()} are visible."
        )
    if strategy == "dp":
        if not on_cuda:
            raise ValueError(
                "strategy='dp' (nn.DataParallel) needs device='cuda'; on CPU use "
                "strategy='ddp' with devices=<number of processes>."
            )
        return ParallelPlan("dp", count, ids)
    if count == 1:
        return ParallelPlan("single", 1, ids)
    return ParallelPlan("spawn", count, ids)


def check_sparse_gradients(plan, sparse_embeddings):
    """Refuse ``sparse_embeddings`` where DDP would all-reduce sparse gradients over NCCL.

    DDP all-reduces sparse gradients over gloo (tested on CPU); NCCL has no sparse
    all-reduce (pytorch/pytorch#22400), and the failure would come from inside the first
    backward pass. ``nn.DataParallel`` sums replica gradients itself, sparse ones included.
    """
    if not sparse_embeddings:
        return
    nccl = (plan.kind == "spawn" and bool(plan.device_ids)) or (
        plan.kind == "joined" and dist.get_backend() == "nccl"
    )
    if nccl:  # GPU-only branch
        raise ValueError(
            "sparse_embeddings=True gives the embedding tables sparse gradients, which DDP "
            "cannot all-reduce over NCCL (several GPUs). Use sparse_embeddings=False, or "
            "strategy='dp' on one machine."
        )


def lr_multiplier(scaling, world_size):
    """The journal's adjustment of the learning rate to a global batch ``world_size`` times
    larger: gradient variance falls by that factor, so lr can grow by its square root
    ("4GPU-A", Figure 6); ``"linear"`` is the linear scaling rule; None leaves lr alone."""
    if world_size <= 1 or scaling is None:
        return 1.0
    return float(np.sqrt(world_size)) if scaling == "sqrt" else float(world_size)


def unwrap(module):
    """The network inside a DDP / DataParallel wrapper (or the module itself)."""
    if isinstance(module, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        return module.module
    return module


class ShardedSliceLoader(SliceLoader):
    """The batches of one rank: its slice of each global batch of ``batch_size * world_size``
    rows, drawn from the same permutation on every rank (the same torch random state).

    Every batch carries ``"_loss_scale"`` = n_rank * world_size / n_global, so that DDP's
    average of the ranks' mean losses is the mean loss of the global batch even when the last
    batch does not split evenly; a rank left without rows gets one row with scale 0.

    Parameters
    ----------
    dataset, batch_size, shuffle, drop_last
        As :class:`SliceLoader`; ``batch_size`` is per rank.
    rank, world_size : int
    """

    def __init__(
        self,
        dataset,
        batch_size=128,
        shuffle=False,
        drop_last=False,
        rank=0,
        world_size=1,
        **ignored,
    ):
        super().__init__(dataset, batch_size * world_size, shuffle, drop_last, **ignored)
        self.rank, self.world_size = rank, world_size

    def __iter__(self):
        for X, y in own_stream_after_shuffle(super().__iter__(), self.rank):
            if isinstance(X, dict):
                X, y = rank_share(X, y, self.rank, self.world_size)
            yield X, y


def own_stream_after_shuffle(batches, rank):
    """Yield ``batches``; a rank other than 0 first moves torch's generator to a stream of its
    own, once the epoch's shared shuffle is drawn (with the first batch).

    Every rank starts an epoch from rank 0's random state (:func:`share_random_state`), so the
    global permutation, and with it the partition of the rows, is the same on every rank. What
    is drawn after it, the dropout masks, must not be: on a shared stream rank r's batch would
    get rank 0's masks, a correlation one process training on the global batch never has.
    Rank 0 keeps the shared stream, so its draws remain those of one process.
    """
    for index, batch in enumerate(batches):
        if index == 0 and rank > 0:
            torch.manual_seed(int(torch.randint(2**62, (1,))) + rank)
        yield batch


def rank_share(X, y, rank, world_size):
    """A rank's slice of a global batch, with the ``"_loss_scale"`` that makes DDP's average
    of the ranks' mean losses the global batch's mean loss (a rank left without rows gets one
    row with scale 0).

    Parameters
    ----------
    X : dict of str to torch.Tensor
    y : torch.Tensor
    rank, world_size : int

    Returns
    -------
    X : dict of str to torch.Tensor
    y : torch.Tensor
    """
    n_global = len(y)
    bounds = np.linspace(0, n_global, world_size + 1).round().astype(int)
    start, stop = bounds[rank], bounds[rank + 1]
    rows = slice(start, stop) if stop > start else slice(0, 1)
    scale = (stop - start) * world_size / n_global
    X, y = _take(X, rows), y[rows]
    return {**X, LOSS_SCALE: torch.full((len(y),), scale)}, y


def share_random_state(rank, world_size):
    """Give every rank rank 0's torch random state, before an epoch draws its shuffle.

    Ranks start from the same state, but dropout draws as many numbers as a rank has rows,
    and the last global batch may split unevenly: without this, the next epoch's permutation
    would differ between ranks and their shards would overlap. Rank 0 keeps its own state, so
    without dropout a fit follows one process's exactly. Once the shuffle is drawn, the other
    ranks move to streams of their own (:func:`own_stream_after_shuffle`), so their dropout
    masks are independent of rank 0's.
    """
    if world_size > 1 and dist.is_available() and dist.is_initialized():
        state = [torch.get_rng_state() if rank == 0 else None]
        dist.broadcast_object_list(state, src=0)
        torch.set_rng_state(state[0])


def ranks_using(rows, world_size):
    """How many ranks of the process group use each of this rank's ``rows``.

    A penalty on the distinct embedding rows of a mini-batch (DIN eq. 9-10) is a sum over the
    rows of the *global* batch, each once. A rank that weighs its rows' terms by
    ``world_size / ranks_using(rows)`` makes DDP's average of the ranks' gradients that sum's
    gradient: a row used by c ranks gets c shares of 1/c. Every rank must call it for every
    batch (it gathers the rows of all ranks), also with no rows.

    Parameters
    ----------
    rows : torch.Tensor of shape (n_rows,), int64
        The distinct rows this rank uses (sorted or not).
    world_size : int

    Returns
    -------
    torch.Tensor of shape (n_rows,), int64
    """
    counts = [torch.zeros(1, dtype=torch.int64, device=rows.device) for _ in range(world_size)]
    dist.all_gather(counts, torch.tensor([len(rows)], device=rows.device))
    longest = max(1, int(max(counts)))  # never an empty message
    padded = torch.full((longest,), -1, dtype=torch.int64, device=rows.device)
    padded[: len(rows)] = rows
    gathered = [torch.empty_like(padded) for _ in range(world_size)]
    dist.all_gather(gathered, padded)
    every = torch.cat(gathered)
    distinct, users = torch.unique(every[every >= 0], return_counts=True)
    return users[torch.searchsorted(distinct, rows)]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
#: Seconds the other workers are given to exit once one has failed, before the cause is named.
_CAUSE_GRACE = 2.0


def spawn_fit(estimator, context, rng_state, timeout):
    """Train ``estimator`` (initialised, not yet trained) on ``context`` in
    ``context.plan.world_size`` worker processes and return rank 0's result (weights, optimizer
    states, history).

    Each worker is ``python -m sk_ctr.training.ddp_worker``: a fresh interpreter that never
    imports the caller's ``__main__`` (torch.multiprocessing's spawn re-runs it, so a script
    without an ``if __name__ == "__main__":`` guard trained twice per worker, and ``python -``
    failed). Everything it needs travels in anonymous temporary files (unlinked when made,
    so nothing in ``$TMPDIR`` can be read by others or left behind by any exit, ``kill -9``
    included) whose descriptors it inherits: the pickled estimator, and the encoded arrays,
    which every worker maps copy-on-write instead of holding a copy (a stream's workers read
    the files themselves).

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
        workers = []
        try:
            for rank in range(plan.world_size):
                workers.append(
                    _Worker(rank, payload_file, arrays_file, result_file if rank == 0 else None)
                )
            _supervise(workers, timeout)
        finally:
            _stop(workers)
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
    """One worker process seen from the parent: its ``Popen``, the time of its last sign of
    life, the last lines of its stderr (forwarded to ``sys.stderr``, its stdout to
    ``sys.stdout``, so a notebook shows them) and the error it reported."""

    def __init__(self, rank, payload_file, arrays_file, result_file):
        self.rank, self.last_seen, self.report = rank, time.monotonic(), None
        self.training = self.done = False
        self.stderr_tail = deque(maxlen=20)
        status_read, status_write = os.pipe()
        fds = {
            "payload": payload_file.fileno(),
            "arrays": arrays_file.fileno(),
            "status": status_write,
            "parent": os.getpid(),
            "rank": rank,
        }
        if result_file is not None:
            fds["result"] = result_file.fileno()
        passed = [v for k, v in fds.items() if k not in ("parent", "rank")]
        # The caller's sys.path, so a worker imports what the caller could (the script's own
        # folder, paths it added); a new session, so a Ctrl-C in the terminal reaches the
        # parent only, which then stops the workers (each would otherwise catch it in skorch's
        # loop and carry on).
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sk_ctr.training.ddp_worker", json.dumps(fds)],
                pass_fds=passed,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except BaseException:
            os.close(status_read)
            raise
        finally:
            os.close(status_write)
        self._threads = [
            threading.Thread(target=self._read_status, args=(status_read,), daemon=True),
            threading.Thread(
                target=self._forward, args=(self.process.stdout, sys.stdout), daemon=True
            ),
            threading.Thread(
                target=self._forward, args=(self.process.stderr, sys.stderr, True), daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()

    def _read_status(self, fd):
        report = None  # the bytes after ERROR, once it came
        with os.fdopen(fd, "rb", buffering=0) as pipe:
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

    def _forward(self, pipe, stream, keep_tail=False):
        for line in iter(pipe.readline, b""):
            text = line.decode(errors="replace")
            if keep_tail:
                self.stderr_tail.append(text.rstrip())
            try:
                stream.write(text)
                stream.flush()
            except (OSError, ValueError):  # the parent's stream closed: keep draining the pipe
                pass
        pipe.close()

    def join_output(self, timeout=5.0):
        """Wait for the reader threads to drain the exited worker's pipes."""
        for thread in self._threads:
            thread.join(timeout)

    def failure(self):
        """The exception that says why this exited worker failed."""
        self.join_output()
        code = self.process.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        if self.report is None:
            tail = "\n".join(self.stderr_tail)
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


def _supervise(workers, timeout):
    """Wait until every worker has exited successfully; raise when one fails or has shown no
    sign of life for ``timeout`` seconds (:data:`START_ALLOWANCE`, if longer, until it has
    trained its first batch)."""
    start_allowance = max(timeout, START_ALLOWANCE)
    while True:
        codes = [worker.process.poll() for worker in workers]
        failed = _failed(workers, codes)
        if failed:
            # The rank that raised may be reaped a moment after a rank its exit made fail
            # (gloo's "connection reset by peer", seen as the only failure under load): a
            # short wait lets every rank that fails be counted, so the cause is among them.
            deadline = time.monotonic() + _CAUSE_GRACE
            for worker in workers:
                with suppress(subprocess.TimeoutExpired):
                    worker.process.wait(max(0.0, deadline - time.monotonic()))
            failed = _failed(workers, [worker.process.poll() for worker in workers])
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


def _stop(workers):
    """Terminate the workers still running (SIGTERM, then SIGKILL after a grace period), wait
    for every one, and close their pipes."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.terminate()
    deadline = time.monotonic() + _TERMINATE_GRACE
    for worker in workers:
        try:
            worker.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
        worker.join_output()
