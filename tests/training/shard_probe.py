"""One rank of test_distributed.py's test_every_epoch_partitions_the_rows_across_ranks, in a
module of its own: torch.multiprocessing.spawn's processes import the module of the function
they run, and this one imports torch and sk_ctr's training loop only (1.6 s; the test module,
with the estimators, scikit-learn and skorch, ~4 s per process)."""

import os

import torch
import torch.distributed as dist

from sk_ctr.training.distributed import ShardedSliceLoader, share_random_state


class Rows:
    """What the slice loaders read of a skorch ``Dataset``: ``X``, ``y`` and its length."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.y)


def shard_rows(rank, folder, world_size, port):
    """One rank of test_every_epoch_partitions_the_rows_across_ranks: 3 epochs with the random
    state shared before each, then 3 without (one spawn for both: a worker's start is seconds)."""
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    dataset = Rows({"ids": torch.arange(100).reshape(100, 1)}, torch.zeros(100))
    loader = ShardedSliceLoader(
        dataset, batch_size=16, shuffle=True, rank=rank, world_size=world_size
    )
    epochs = {}
    for share in (True, False):
        torch.manual_seed(0)
        epochs[share] = []
        for _ in range(3):
            if share:
                share_random_state(rank, world_size)
            epochs[share].append(torch.cat([X["ids"][:, 0] for X, _ in loader]).tolist())
            torch.rand(7 * rank + 1)  # dropout draws as many numbers as the rank has rows
    torch.save(epochs, os.path.join(folder, f"rank{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()
