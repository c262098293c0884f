"""Prediction speed of models re-trained on an AutoFIS selection vs all pairs (AutoFIS Table 1's
"time" column and Table 4).

Criteo-shaped input (39 fields, embed 10, MLP 400-400-400, batch 2000), the network's forward
pass only (eval mode, no autograd), on the same tensors for every model. Kept fractions are
random subsets of the pairs: the cost depends on how many pairs are kept, not on which.

    python benchmarks/autofis_inference.py [--rows 200000] [--threads 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sk_ctr.layers.gating import all_interactions
from sk_ctr.models import DeepFMNet, PNNNet
from sk_ctr.models.autofis import AutoFISNet
from sk_ctr.preprocessing import Field

N_FIELDS, VOCAB, EMBED, BATCH = 39, 10_000, 10, 2000
MLP = {"hidden_units": (400, 400, 400), "activation": "relu", "dropout": 0.5}


def fields():
    return [Field(f"f{i}", "categorical", VOCAB, i * VOCAB, "categorical")
            for i in range(N_FIELDS)]


def samples_per_second(net, ids, values, repeat):
    """Median rate over ``repeat`` passes of the whole input in batches of BATCH."""
    net.eval()
    rates = []
    with torch.no_grad():
        for _ in range(repeat):
            start = time.perf_counter()
            for begin in range(0, len(ids), BATCH):
                net(ids[begin:begin + BATCH], values[begin:begin + BATCH])
            rates.append(len(ids) / (time.perf_counter() - start))
    return float(np.median(rates))


def networks(seed=0):
    """(label, kept fraction, network) for every model compared."""
    schema, pairs = fields(), all_interactions(N_FIELDS)
    rng = np.random.default_rng(seed)
    yield "DeepFM (FM by the O(mk) identity)", 1.0, DeepFMNet(schema, embed_dim=EMBED, **MLP)
    yield "DeepFM (all pairs enumerated)", 1.0, DeepFMNet(
        schema, embed_dim=EMBED, interactions=pairs, **MLP)
    for fraction in (1.0, 0.5, 0.25, 0.1):
        kept = [pairs[i] for i in rng.choice(len(pairs), int(fraction * len(pairs)), False)]
        yield "AutoDeepFM re-trained", fraction, AutoFISNet(
            schema, base="deepfm", embed_dim=EMBED, interactions=kept, **MLP)
    yield "IPNN (all pairs)", 1.0, PNNNet(schema, embed_dim=EMBED, **MLP)
    for fraction in (0.5, 0.25, 0.1):
        kept = [pairs[i] for i in rng.choice(len(pairs), int(fraction * len(pairs)), False)]
        yield "AutoIPNN (IPNN on a selection)", fraction, PNNNet(
            schema, embed_dim=EMBED, interactions=kept, **MLP)


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
    print(f"{args.rows} rows, {N_FIELDS} fields ({len(all_interactions(N_FIELDS))} pairs), "
          f"batch {BATCH}, {args.threads} threads, median of {args.repeat}")
    print("| model | pairs kept | predict samples/s |\n|---|---:|---:|")
    for label, fraction, net in networks():
        rate = samples_per_second(net, ids, values, args.repeat)
        print(f"| {label} | {fraction:.0%} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
