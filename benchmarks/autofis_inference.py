"""Prediction speed of models re-trained on an AutoFIS selection vs all pairs (AutoFIS Table 1's
"time" column and Table 4).

Criteo-shaped input (39 fields, embed 10, MLP 400-400-400, batch 2000), the network's forward
pass only (eval mode, no autograd), on the same tensors for every model. Kept fractions are
random subsets of the pairs: the cost depends on how many pairs are kept, not on which.

Every network is built first and warmed up (a few batches each), then the networks take turns:
each round times one pass of every network over the whole input, the order rotating every
round, and the table gives the median rate over ``--repeat`` rounds. Timed one after the other
without warm-up, the first network paid for the allocator's and the thread pool's first use and
every network for the load of its own stretch of time: DeepFM, timed first, looked slowest
(122k vs 147-153k rows/s) where it is fastest (163k vs 149k).

    python benchmarks/autofis_inference.py [--rows 200000] [--threads 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sk_ctr.layers.field_products import all_interactions
from sk_ctr.models import DeepFMNet, PNNNet
from sk_ctr.models.autofis import AutoFISNet
from sk_ctr.preprocessing import Field

N_FIELDS, VOCAB, EMBED, BATCH = 39, 10_000, 10, 2000
MLP = {"hidden_units": (400, 400, 400), "activation": "relu", "dropout": 0.5}


def fields():
    return [Field(f"f{i}", "categorical", VOCAB, source="categorical") for i in range(N_FIELDS)]


def seconds_per_pass(net, ids, values):
    """Seconds of one pass of ``net`` over the whole input in batches of BATCH."""
    start = time.perf_counter()
    for begin in range(0, len(ids), BATCH):
        net(ids[begin : begin + BATCH], values[begin : begin + BATCH])
    return time.perf_counter() - start


def median_rates(nets, ids, values, repeat, warmup_batches=5):
    """Median samples/s of each network over ``repeat`` interleaved rounds, after a warm-up."""
    rates = [[] for _ in nets]
    with torch.no_grad():
        for net in nets:
            net.eval()
            seconds_per_pass(net, ids[: warmup_batches * BATCH], values[: warmup_batches * BATCH])
        for round_index in range(repeat):
            shift = round_index % len(nets)
            for index in [*range(shift, len(nets)), *range(shift)]:
                rates[index].append(len(ids) / seconds_per_pass(nets[index], ids, values))
    return [float(np.median(r)) for r in rates]


def networks(seed=0):
    """(label, kept fraction, network) for every model compared."""
    schema, pairs = fields(), all_interactions(N_FIELDS)
    rng = np.random.default_rng(seed)
    yield "DeepFM (FM by the O(mk) identity)", 1.0, DeepFMNet(schema, embed_dim=EMBED, **MLP)
    yield (
        "DeepFM (all pairs enumerated)",
        1.0,
        DeepFMNet(schema, embed_dim=EMBED, interactions=pairs, **MLP),
    )
    for fraction in (1.0, 0.5, 0.25, 0.1):
        kept = [pairs[i] for i in rng.choice(len(pairs), int(fraction * len(pairs)), False)]
        yield (
            "AutoDeepFM re-trained",
            fraction,
            AutoFISNet(schema, base="deepfm", embed_dim=EMBED, interactions=kept, **MLP),
        )
    yield "IPNN (all pairs)", 1.0, PNNNet(schema, embed_dim=EMBED, **MLP)
    for fraction in (0.5, 0.25, 0.1):
        kept = [pairs[i] for i in rng.choice(len(pairs), int(fraction * len(pairs)), False)]
        yield (
            "AutoIPNN (IPNN on a selection)",
            fraction,
            PNNNet(schema, embed_dim=EMBED, interactions=kept, **MLP),
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ids = torch.randint(0, VOCAB, (args.rows, N_FIELDS))
    values = torch.zeros(args.rows, 0)
    print(
        f"{args.rows} rows, {N_FIELDS} fields ({len(all_interactions(N_FIELDS))} pairs), "
        f"batch {BATCH}, {args.threads} threads, warmed up, median of {args.repeat} "
        "interleaved rounds",
        flush=True,
    )
    labels, fractions, nets = zip(*networks(), strict=True)
    rates = median_rates(nets, ids, values, args.repeat)
    print("| model | pairs kept | predict samples/s |\n|---|---:|---:|")
    for label, fraction, rate in zip(labels, fractions, rates, strict=True):
        print(f"| {label} | {fraction:.0%} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
