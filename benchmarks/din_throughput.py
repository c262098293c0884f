"""DIN training throughput: ``DINClassifier`` against DeepCTR-Torch's ``DIN`` at several padding
ratios of the behaviour histories.

What is measured
----------------
``make_behavior_dataset(--rows)`` encoded once by ``CTRTransformer`` (histories of item and
category, ``max_sequence_length=--length``, 50 by default). For every padding ratio r of
``--padding`` the histories are redrawn so that a share r of all history positions is padding:
lengths uniform around (1 - r) L (all L for r = 0), item and category ids uniform over the
vocabulary, 0 after the length. The candidates and the labels stay those of the dataset (the
labels no longer depend on the histories: this measures speed, not accuracy).

Both contenders train the same network for one epoch on the same ids: embeddings of 16 per
field (32 per goods vector of item and category), an activation unit of one hidden layer of 36
over [e, c, e - c, e * c], an MLP 200-80, the activation ``--activation`` (prelu or dice) in
both, unnormalised attention weights (the paper), Adam lr 1e-3, batches of ``--batch-size``
(256), no regularisation.

* **sk_ctr**: ``DINClassifier(max_epochs=1, early_stopping=False, calibration=None)
  .fit(field_data, y)``, timed whole.
* **deepctr**: DeepCTR-Torch's ``DIN`` with the same sizes (its output layer has its bias after
  a bias-free linear unit: one parameter fewer), ``model.fit(epochs=1)``, timed whole. It scores
  every position of the padded histories and masks afterwards; sk_ctr scores the real ones.
  With ``dice``, DeepCTR-Torch 0.3.0's ``DIN`` builds its MLP's Dice for 3-d inputs and fails
  on the first batch; the script gives that MLP ``Dice(width, dim=2)`` layers instead.

Each fit is timed in CPU seconds of the process (``time.process_time``; both train on one
thread), which the other jobs of a shared machine disturb less than wall time, and in wall
seconds. Rounds are interleaved after a warm-up, the order flipping every round, so drifting
load hits both alike; the medians are reported, and the ratio is the median of the per-round
ratios (each round runs both back to back). DeepCTR-Torch is optional (``pip install
--no-deps deepctr-torch``, plus ``requests`` which it imports); without it the script says so
and stops.

``benchmarks/throughput.py`` runs the same contest (``din_contest``) after DeepFM's and adds
its ratios to its targets.

How to run
----------
::

    python benchmarks/din_throughput.py                        # 20,000 rows, dice and prelu
    PYTHONPATH=. python benchmarks/din_throughput.py           # this checkout's sk_ctr, not
                                                               # an installed one
    python benchmarks/din_throughput.py --rows 2000 --rounds 1 # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time
import warnings

import numpy as np
import torch

from sk_ctr import CTRTransformer, DINClassifier
from sk_ctr.datasets import make_behavior_dataset
from sk_ctr.preprocessing import FieldData

EMBED_DIM = 16
HIDDEN_UNITS = (200, 80)
ATTENTION_UNITS = (36,)
LR = 1e-3
BEHAVIOR = {"hist_item_id": "item_id", "hist_cate_id": "cate_id"}


def encode(n_rows, length, seed):
    X, y = make_behavior_dataset(n_samples=n_rows, random_state=seed)
    columns = ["user_id", "item_id", "cate_id", "hist_item_id", "hist_cate_id"]
    data = CTRTransformer(behavior=BEHAVIOR, max_sequence_length=length).fit_transform(X[columns])
    return data, y


def with_padding(data, padding, seed):
    """``data`` with histories redrawn so that a share ``padding`` of the positions is padding."""
    rng = np.random.default_rng(seed)
    n_rows, n_sequences, length = data["sequences"].shape
    real = 1 - padding
    low, high = (
        (round((2 * real - 1) * length), length) if real >= 0.5 else (0, round(2 * real * length))
    )
    lengths = rng.integers(low, high + 1, n_rows)
    sequences = np.stack(
        [rng.integers(2, f.vocab_size, (n_rows, length)) for f in data.sequence_fields], axis=1
    )
    sequences *= np.arange(length) < lengths[:, None, None]
    arrays = {
        **data,
        "sequences": sequences,
        "lengths": np.repeat(lengths[:, None], n_sequences, axis=1),
    }
    return FieldData(arrays, data.schema)


def train_sk_ctr(data, y, activation, batch_size, seed):
    est = DINClassifier(
        embed_dim=EMBED_DIM,
        hidden_units=HIDDEN_UNITS,
        attention_hidden_units=ATTENTION_UNITS,
        activation=activation,
        lr=LR,
        batch_size=batch_size,
        max_epochs=1,
        early_stopping=False,
        calibration=None,
        random_state=seed,
    )
    with warnings.catch_warnings():  # encoded input: the schema pairs the histories
        warnings.filterwarnings("ignore", "DINClassifier was fitted without behavior=")
        cpu, wall = time.process_time(), time.perf_counter()
        est.fit(data, y)
        return time.process_time() - cpu, time.perf_counter() - wall


def deepctr_inputs(data):
    inputs = {f.name: data["ids"][:, j] for j, f in enumerate(data.categorical_fields)}
    for s, field in enumerate(data.sequence_fields):
        inputs[field.name] = data["sequences"][:, s]
    inputs["seq_length"] = data["lengths"][:, 0]
    return inputs


def train_deepctr(data, y, activation, batch_size, seed):
    from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat
    from deepctr_torch.models import DIN

    length = data["sequences"].shape[-1]
    columns = [
        SparseFeat(f.name, f.vocab_size, embedding_dim=EMBED_DIM) for f in data.categorical_fields
    ]
    columns += [
        VarLenSparseFeat(
            SparseFeat(f.name, f.vocab_size, embedding_dim=EMBED_DIM, embedding_name=f.shares),
            maxlen=length,
            length_name="seq_length",
        )
        for f in data.sequence_fields
    ]
    model = DIN(
        columns,
        ["item_id", "cate_id"],
        dnn_hidden_units=HIDDEN_UNITS,
        dnn_activation="prelu" if activation == "dice" else activation,
        att_hidden_size=ATTENTION_UNITS,
        att_activation=activation,
        att_weight_normalization=False,
        l2_reg_embedding=0.0,
        seed=seed,
        device="cpu",
    )
    if activation == "dice":  # its DNN builds Dice for 3-d inputs and fails on its 2-d ones
        from deepctr_torch.layers.activation import Dice

        model.dnn.activation_layers = torch.nn.ModuleList(Dice(h, dim=2) for h in HIDDEN_UNITS)
    model.compile(torch.optim.Adam(model.parameters(), lr=LR), "binary_crossentropy")
    inputs = deepctr_inputs(data)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its device and a summary
        cpu, wall = time.process_time(), time.perf_counter()
        model.fit(inputs, y.astype(np.float32), batch_size=batch_size, epochs=1, verbose=0)
        return time.process_time() - cpu, time.perf_counter() - wall


TRAIN = {"sk_ctr": train_sk_ctr, "deepctr": train_deepctr}
#: The contest's settings unless told otherwise (this script's options and ``throughput.py``).
ROWS = 20_000
LENGTH = 50
PADDINGS = (0.0, 0.5, 0.9)
ACTIVATIONS = ("dice", "prelu")
BATCH_SIZE = 256
ROUNDS = 3


def din_contest(
    rows=ROWS,
    length=LENGTH,
    paddings=PADDINGS,
    activations=ACTIVATIONS,
    batch_size=BATCH_SIZE,
    rounds=ROUNDS,
):
    """Both contenders at every activation and padding ratio, interleaved after a warm-up, on
    one torch thread (restored after); prints the table and returns the per-round CPU ratios
    sk_ctr / DeepCTR-Torch keyed ``("deepctr DIN", "training, <activation>, <padding>")``, or
    an empty dict when DeepCTR-Torch is not importable."""
    try:
        import deepctr_torch  # noqa: F401
    except ImportError as error:
        print(f"deepctr_torch is not importable ({error}): no DIN comparison.")
        return {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _contest(rows, length, paddings, activations, batch_size, rounds)
    finally:
        torch.set_num_threads(threads)


def _contest(rows, length, paddings, activations, batch_size, rounds):
    print(f"DIN: torch {torch.__version__}, 1 thread, load {os.getloadavg()}")
    encoded, y = encode(rows, length, seed=0)
    warm = with_padding(encoded[: batch_size * 4], 0.5, 0), y[: batch_size * 4]
    for activation in activations:
        for train in TRAIN.values():
            train(*warm, activation, batch_size, 0)
    table, ratios = [], {}
    for activation in activations:
        for padding in paddings:
            data = with_padding(encoded, padding, seed=1)
            share = 1 - data["lengths"][:, 0].sum() / (len(data) * length)
            times = {name: [] for name in TRAIN}
            for round_ in range(rounds):
                order = list(TRAIN) if round_ % 2 == 0 else list(TRAIN)[::-1]
                for name in order:
                    times[name].append(TRAIN[name](data, y, activation, batch_size, round_))
                    print(f"  round {round_} {name}: {times[name][-1][0]:.2f} CPU-s", flush=True)
            cpu = {name: rows / statistics.median(t[0] for t in v) for name, v in times.items()}
            wall = {name: rows / statistics.median(t[1] for t in v) for name, v in times.items()}
            # each round runs both back to back: the median of the per-round ratios moves less
            # with drifting load than the ratio of the medians
            pairs = zip(times["sk_ctr"], times["deepctr"], strict=True)
            per_round = [theirs[0] / ours[0] for ours, theirs in pairs]
            ratios["deepctr DIN", f"training, {activation}, {share:.0%} padding"] = per_round
            ratio = statistics.median(per_round)
            table.append((activation, share, cpu, wall, ratio, min(per_round), max(per_round)))
            print(
                f"{activation} padding {share:.2f}: "
                + ", ".join(f"{n} {cpu[n]:,.0f}/CPU-s {wall[n]:,.0f}/s" for n in TRAIN)
                + f"; ratio {ratio:.2f}x (per-round CPU, {min(per_round):.2f}-"
                f"{max(per_round):.2f}), {wall['sk_ctr'] / wall['deepctr']:.2f}x (wall)",
                flush=True,
            )
    print(
        f"\n{rows} rows, histories of {length}, batch {batch_size}, "
        f"{rounds} interleaved rounds: median samples per CPU second (per wall second), "
        "median of the per-round CPU ratios (range):"
    )
    print("| activation | padding | sk_ctr | DeepCTR-Torch | ratio |")
    print("|---|---|---|---|---|")
    for activation, share, cpu, wall, ratio, low, high in table:
        print(
            f"| {activation} | {share:.0%} | {cpu['sk_ctr']:,.0f} ({wall['sk_ctr']:,.0f}) | "
            f"{cpu['deepctr']:,.0f} ({wall['deepctr']:,.0f}) | "
            f"{ratio:.2f}x ({low:.2f}-{high:.2f}) |"
        )
    print(f"load at the end {os.getloadavg()}")
    return ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--length", type=int, default=LENGTH)
    parser.add_argument("--padding", type=float, nargs="+", default=list(PADDINGS))
    parser.add_argument("--activation", nargs="+", default=list(ACTIVATIONS))
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    din_contest(args.rows, args.length, args.padding, args.activation, args.batch_size, args.rounds)


if __name__ == "__main__":
    main()
