"""DIEN training throughput: ``DIENClassifier`` against DeepCTR-Torch's ``DIEN``.

What is measured
----------------
``make_behavior_dataset(--rows)`` encoded once by ``CTRTransformer`` (histories of item and
category, ``max_sequence_length=--length``, 50 by default, right-padded). Both contenders train
DIEN with the AUGRU evolving layer and the auxiliary loss (weight 1) on the same ids for one
epoch: embeddings of 16 per field (32 per goods vector of item and category), MLP 200-80 relu,
Adam lr 1e-3, batches of ``--batch-size`` (256), no regularisation.

* **sk_ctr**: ``DIENClassifier(activation="relu", max_epochs=1, early_stopping=False,
  calibration=None).fit(field_data, y)``; the epoch's ``dur`` from the skorch history and the
  wall time of the whole ``fit``. Its negatives are drawn inside the loss.
* **deepctr**: DeepCTR-Torch's ``DIEN(gru_type="AUGRU", use_negsampling=True, alpha=1)`` with
  the same embedding size, MLP and optimiser; its negative histories are input columns, drawn
  beforehand (uniformly from the real ids, as sk_ctr draws them) and not timed. One
  ``model.fit(epochs=1)``, timed whole (its own data path is part of what is compared).

The two are the same model family, not the same arithmetic: DeepCTR-Torch's attention is an
MLP (64-16) over [h_t, e_a, h_t - e_a, h_t * e_a] and its auxiliary scorer an MLP (100-50)
(the authors' code), where sk_ctr follows the paper (eq. 7 bilinear attention, eq. 6 inner
product).

Rounds are interleaved after a warm-up on a slice of the rows, the order flipping every round,
so drifting load hits both alike. DeepCTR-Torch is optional (``pip install --no-deps
deepctr-torch``, plus ``requests`` which it imports); without it the script says so and stops.

How to run
----------
::

    python benchmarks/dien_throughput.py                 # 5,000 rows, histories of 50
    python benchmarks/dien_throughput.py --rows 1000 --rounds 1   # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch

from sk_ctr import DIENClassifier

sys.path.insert(0, os.path.dirname(__file__))
# the same data, sizes and DeepCTR-Torch inputs as DIN's benchmark
from din_throughput import EMBED_DIM, HIDDEN_UNITS, LR, encode  # noqa: E402
from din_throughput import deepctr_inputs as din_inputs  # noqa: E402


def train_sk_ctr(data, y, batch_size, seed):
    est = DIENClassifier(
        embed_dim=EMBED_DIM,
        hidden_units=HIDDEN_UNITS,
        activation="relu",
        lr=LR,
        batch_size=batch_size,
        max_epochs=1,
        early_stopping=False,
        calibration=None,
        random_state=seed,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():  # encoded input: the schema pairs the histories
        warnings.filterwarnings("ignore", "DIENClassifier was fitted without behavior=")
        est.fit(data, y)
    return est.history[-1, "dur"], time.perf_counter() - start


def deepctr_inputs(data, seed):
    """DeepCTR-Torch's ``{feature: column}`` input: the ids, the histories, their length and
    negative histories drawn uniformly from the real ids (2..vocab_size - 1)."""
    rng = np.random.default_rng(seed)
    inputs = din_inputs(data)
    real = np.arange(data["sequences"].shape[-1]) < inputs["seq_length"][:, None]
    for s, field in enumerate(data.sequence_fields):
        negatives = rng.integers(2, field.vocab_size, data["sequences"][:, s].shape)
        inputs[f"neg_{field.name}"] = negatives * real
    return inputs


def train_deepctr(data, y, batch_size, seed):
    from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat
    from deepctr_torch.models import DIEN

    length = data["sequences"].shape[-1]
    columns = [
        SparseFeat(f.name, f.vocab_size, embedding_dim=EMBED_DIM) for f in data.categorical_fields
    ]
    for prefix in ("", "neg_"):
        columns += [
            VarLenSparseFeat(
                SparseFeat(
                    prefix + f.name, f.vocab_size, embedding_dim=EMBED_DIM, embedding_name=f.shares
                ),
                maxlen=length,
                length_name="seq_length",
            )
            for f in data.sequence_fields
        ]
    model = DIEN(
        columns,
        ["item_id", "cate_id"],
        gru_type="AUGRU",
        use_negsampling=True,
        alpha=1.0,
        dnn_hidden_units=HIDDEN_UNITS,
        dnn_activation="relu",
        l2_reg_embedding=0.0,
        seed=seed,
        device="cpu",
    )
    model.compile(torch.optim.Adam(model.parameters(), lr=LR), "binary_crossentropy")
    inputs = deepctr_inputs(data, seed)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its device and a summary
        start = time.perf_counter()
        model.fit(inputs, y.astype(np.float32), batch_size=batch_size, epochs=1, verbose=0)
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    try:
        import deepctr_torch  # noqa: F401
    except ImportError as error:
        print(f"deepctr_torch is not importable ({error}): nothing to compare.")
        return
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), load {os.getloadavg()}")
    data, y = encode(args.rows, args.length, seed=0)
    warm = data[: args.batch_size * 2], y[: args.batch_size * 2]
    train_sk_ctr(*warm, args.batch_size, 0)
    train_deepctr(*warm, args.batch_size, 0)
    times = {"sk_ctr epoch": [], "sk_ctr fit": [], "deepctr fit": []}
    for round_ in range(args.rounds):
        order = ("sk_ctr", "deepctr") if round_ % 2 == 0 else ("deepctr", "sk_ctr")
        for name in order:
            if name == "sk_ctr":
                epoch, fit = train_sk_ctr(data, y, args.batch_size, round_)
                times["sk_ctr epoch"].append(epoch)
                times["sk_ctr fit"].append(fit)
            else:
                times["deepctr fit"].append(train_deepctr(data, y, args.batch_size, round_))
        print(f"round {round_}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()))
    rates = {k: args.rows / statistics.median(v) for k, v in times.items()}
    print(f"\n{args.rows} rows, histories of {args.length}, batch {args.batch_size}:")
    for name, rate in rates.items():
        print(f"  {name}: {rate:,.0f} samples/s (median of {args.rounds})")
    print(
        f"  sk_ctr / deepctr: {rates['sk_ctr epoch'] / rates['deepctr fit']:.2f}x (epoch), "
        f"{rates['sk_ctr fit'] / rates['deepctr fit']:.2f}x (whole fit)"
    )
    print(f"load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
