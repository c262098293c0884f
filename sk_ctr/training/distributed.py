"""Data-parallel training: which plan a (device, devices, strategy) triple means and the sharded
batches of a distributed rank (the worker processes ``fit`` spawns: :mod:`sk_ctr.training.workers`).

DeepFM journal section III-B-2: "we split a batch of data records into Num_GPU pieces and feed
each piece into different GPU cards simultaneously. Then, the gradient ... is collected and
averaged." Here each of W ranks takes its slice of every global batch of ``batch_size * W`` rows
(``batch_size`` is per device), DistributedDataParallel averages the gradients, and every rank
scores the *whole* validation set, so early-stopping decisions are identical on all ranks and
none waits forever in an all-reduce the others skipped.
"""

from __future__ import annotations

import socket
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
