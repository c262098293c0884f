"""The processes of a data-parallel fit: ``python -m sk_ctr.training.ddp_worker '<json>'`` is
the launcher, which forks one process per rank.

:func:`sk_ctr.training.workers.spawn_fit` starts the launcher: a fresh interpreter (never the
caller's ``__main__``, so the caller's script is never re-run) that imports torch, skorch and the
estimator's module once, then forks the ranks, reaps them and tells the parent how each exited.
A fresh interpreter costs ~4-5 s of CPU (torch 1.9 s, scikit-learn and pandas 1.2 s,
``torch._dynamo`` 1.2-1.6 s): one per fit instead of one per rank. Nothing has run a parallel
region or touched a GPU before the fork, so the ranks start with fresh OpenMP and CUDA states.
The JSON names the descriptors the launcher inherits (the pickled payload, the encoded arrays,
rank 0's result file, the pipe of exit codes, and each rank's status, stdout and stderr pipes)
and the parent's pid.
"""

import contextlib
import ctypes
import datetime
import gc
import importlib
import json
import mmap
import os
import pickle
import signal
import sys
import threading
import time
import traceback

import torch
import torch._dynamo  # noqa: F401  (why: see train)
import torch.distributed as dist
from skorch.callbacks import Callback

from sk_ctr.training.strategies import rank_result, train_rank
from sk_ctr.training.workers import (
    DONE,
    ERROR,
    HEARTBEAT,
    START_ALLOWANCE,
    TRAINING,
    read_arrays,
)

#: Seconds between two signs of life sent to the parent (at most one per batch).
BEAT_INTERVAL = 0.5


def die_with_parent(parent_pid):
    """Make the kernel kill this process when its parent dies (Linux ``PR_SET_PDEATHSIG``),
    so a parent killed with ``kill -9`` leaves no worker training; elsewhere, a thread polls
    the parent's pid once a second.

    The kernel's signal needs no cooperation from a worker blocked in a collective operation,
    which a polling thread would need the interpreter for. The parent may have died before
    the call: then this process leaves at once.
    """
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        if ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL) == 0:
            if os.getppid() != parent_pid:
                os._exit(1)
            return

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


class Heartbeat(Callback):
    """Tells the parent this rank is alive, after a batch (training or validation), at most
    every :data:`BEAT_INTERVAL` seconds; the first time, that it has started training."""

    def __init__(self, status):
        self.status, self.last = status, None

    def on_batch_end(self, net, **kwargs):
        now = time.monotonic()
        if self.last is None or now - self.last >= BEAT_INTERVAL:
            self.status.write(HEARTBEAT if self.last is not None else TRAINING)
            self.last = now


class _PayloadUnpickler(pickle.Unpickler):
    """Resolves the references :class:`~sk_ctr.training.workers._WorkerPickler` left to
    the shared arrays."""

    def __init__(self, file, arrays):
        super().__init__(file)
        self.arrays = arrays

    def persistent_load(self, pid):
        return self.arrays[pid]


def train(rank, payload, status, result_fd):
    """Join the group, train this rank, and (rank 0) write the result."""
    estimator, context = payload["estimator"], payload["context"]
    plan = context.plan
    on_cuda = bool(plan.device_ids)
    if on_cuda:  # GPU-only branch: one GPU per rank, NCCL between them
        torch.cuda.set_device(plan.device_ids[rank])
        estimator.set_params(device=f"cuda:{plan.device_ids[rank]}")
        # A fresh process's CUDA generator has a fixed default seed; derive it from the
        # parent's (random_state-seeded) state instead, without drawing from that state.
        generator = torch.Generator().set_state(payload["rng_state"])
        torch.cuda.manual_seed(int(torch.randint(2**62, (1,), generator=generator)) + rank)
    # The ranks meet in rank 0's store, waiting for each other as long as a start may take
    # (one may still be importing torch); from then on they wait ddp_timeout in collective
    # operations. The module-level import of torch._dynamo (by the first optimizer step
    # otherwise: 1.3 s) happened before, so no rank's first batch waits for the other's.
    timeout = payload["timeout"]
    store = dist.TCPStore(
        "127.0.0.1",
        payload["port"],
        world_size=plan.world_size,
        is_master=rank == 0,
        timeout=datetime.timedelta(seconds=max(timeout, START_ALLOWANCE)),
        wait_for_workers=True,
    )
    dist.init_process_group(
        "nccl" if on_cuda else "gloo",
        store=store,
        rank=rank,
        world_size=plan.world_size,
        timeout=datetime.timedelta(seconds=timeout),
    )
    try:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // plan.world_size))
        torch.set_rng_state(payload["rng_state"])
        estimator.callbacks_.append(("ddp_heartbeat", Heartbeat(status)))
        train_rank(estimator, context, rank, plan.world_size)
        # Every rank has finished training before rank 0 writes the result, and none tears its
        # gloo threads down while another still talks to it.
        dist.barrier()
        status.write(DONE)
        if rank == 0:
            with open(result_fd, "wb", closefd=False) as file:
                torch.save(rank_result(estimator), file)
    finally:
        dist.destroy_process_group()


def from_process_group(exc):
    """Whether ``exc`` comes from the process group's communication (a collective operation
    that timed out, or lost another rank): torch's ``DistError``, or the plain RuntimeError
    gloo and NCCL raise, whose message names them ("[.../third_party/gloo/...] Timed out
    waiting 3000ms for recv operation", measured with torch 2.13)."""
    message = str(exc).lower()
    return isinstance(exc, dist.DistError) or "gloo" in message or "nccl" in message


def run_rank(config):
    """The main of one rank: load the payload, train, report; never returns.

    ``config``: the launcher's pid (``parent``), the shared descriptors (``payload``,
    ``arrays``), this rank's (``rank``, ``status``, ``stdout``, ``stderr``, and for rank 0
    ``result``) and the descriptors it must not hold (``close``: the other ranks' pipes, the
    pipe of exit codes), so that each pipe ends when the process writing to it ends.
    """
    die_with_parent(config["parent"])
    for fd in config["close"]:
        os.close(fd)
    os.dup2(config["stdout"], 1)
    os.dup2(config["stderr"], 2)
    status = open(config["status"], "wb", buffering=0)
    status.write(HEARTBEAT)
    try:
        # The payload file holds two pickles: where the arrays are, then the rest, whose
        # references to the arrays need them. A private map: the descriptor's file position
        # is shared with the other ranks.
        size = os.fstat(config["payload"]).st_size
        view = mmap.mmap(config["payload"], size, access=mmap.ACCESS_READ)
        arrays = read_arrays(config["arrays"], pickle.load(view))
        payload = _PayloadUnpickler(view, arrays).load()
        train(config["rank"], payload, status, config.get("result"))
    except BaseException as exc:  # reported to the parent, which stops the other ranks
        report = {
            "error": f"{type(exc).__name__}: {exc}",
            "distributed": from_process_group(exc),
            "at": time.time(),  # the parent names the rank that failed first
        }
        traceback.print_exc()
        status.write(ERROR + json.dumps(report).encode())
        sys.stderr.flush()
        os._exit(1)
    # The work is done and saved. Leave without the interpreter's teardown, whose static
    # destructors (gloo's threads) took 1.3 s and sometimes aborted the process ("terminate
    # called without an active exception") after a complete fit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def rank_configs(config):
    """The configuration :func:`run_rank` takes, for each rank the launcher's ``config``
    lists."""
    own = ("status", "stdout", "stderr")
    everyone = [entry[name] for entry in config["ranks"] for name in own] + [config["exits"]]
    configs = []
    for entry in config["ranks"]:
        mine = {entry[name] for name in own}
        rank = {"parent": os.getpid(), "payload": config["payload"], "arrays": config["arrays"]}
        rank.update(entry, close=[fd for fd in everyone if fd not in mine])
        if entry["rank"] == 0:
            rank["result"] = config["result"]
        configs.append(rank)
    return configs


def start_rank(config):
    """Start the process of one rank; return its pid.

    On Linux, a fork of the launcher: its imports are done, and nothing that a fork would
    leave half-made (a thread, an OpenMP pool, a CUDA context) exists yet. Elsewhere (macOS's
    system libraries are not safe to use after a fork) a fresh interpreter, which imports
    everything again.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if not sys.platform.startswith("linux"):
        arguments = [sys.executable, "-m", "sk_ctr.training.ddp_worker", json.dumps(config)]
        return os.posix_spawn(sys.executable, arguments, os.environ)
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            run_rank(config)
        finally:
            os._exit(1)  # run_rank never returns; this is for an error before its report
    return pid


def launch(config):
    """Start every rank, reap them, and write ``"<rank> <exit code>"`` lines (the code as
    ``subprocess`` gives it: negative for a signal) to the parent as each ends.

    SIGTERM (the parent stops the fit) is passed on to the ranks still running, and those
    still running ``grace`` seconds later are killed; the launcher leaves once every rank has
    been reaped, so no rank outlives it on that path, and its own death (``kill -9``) kills
    them (each set ``PR_SET_PDEATHSIG`` on it).
    """
    die_with_parent(config["parent"])
    for entry in config["ranks"]:
        os.write(entry["status"], HEARTBEAT)  # the start has begun
    # Imported here, once, instead of in every rank as it loads the payload; frozen, so that
    # the ranks' garbage collections do not write to (and so copy) the pages they share.
    importlib.import_module(config["preload"])
    gc.freeze()
    running, stopping = {}, []

    def stop(signum, frame):
        stopping.append(signum)
        for pid in list(running):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL if signum == signal.SIGALRM else signal.SIGTERM)
        if signum == signal.SIGTERM:
            signal.alarm(max(1, round(config["grace"])))

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGALRM, stop)
    for rank in rank_configs(config):
        if stopping:  # the parent stopped the fit while ranks were starting
            break
        running[start_rank(rank)] = rank["rank"]
    for entry in config["ranks"]:  # each pipe now ends with the rank that writes to it
        for name in ("status", "stdout", "stderr"):
            os.close(entry[name])
    with open(config["exits"], "wb", buffering=0) as exits:
        while running:
            pid, status = os.waitpid(-1, 0)
            if pid in running:
                rank = running.pop(pid)
                exits.write(f"{rank} {os.waitstatus_to_exitcode(status)}\n".encode())
    os._exit(0)


def main(config):
    if "ranks" in config:
        launch(config)
    else:  # a rank started as a fresh interpreter (start_rank, off Linux)
        run_rank(config)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
