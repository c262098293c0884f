"""One rank of a data-parallel fit: ``python -m sk_ctr.training.ddp_worker '<json>'``.

:func:`sk_ctr.training.workers.spawn_fit` starts one such process per rank. The JSON names
the descriptors it inherits (the pickled payload, the encoded arrays, the status pipe and, for
rank 0, the result file), the rank and the parent's pid. This module is only ever run, never
imported, so it is the worker's ``__main__`` and the caller's script is never re-run.
"""

import ctypes
import datetime
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


def main(config):
    die_with_parent(config["parent"])
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


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
