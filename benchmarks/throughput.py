"""DeepFM training and prediction throughput: ``DeepFMClassifier`` against a plain PyTorch loop.

What is measured
----------------
Synthetic Criteo-shaped rows (13 numeric columns bucketized by ``CTRTransformer`` + 26
long-tailed categorical columns = 39 fields) are encoded once. Both contenders then train the
same network class, ``sk_ctr.models.DeepFMNet`` (embed 10, MLP 400-400-400, dropout 0.5), with
Adam (lr 1e-3) and batches of 2000 rows, for one epoch over the same tensors:

* **estimator**: ``DeepFMClassifier(max_epochs=1).fit(field_data, y)``. The headline time is
  the epoch's ``dur`` from the skorch history (the training epoch only: batch slicing, forward,
  loss, backward, Adam step and skorch's per-batch bookkeeping). The wall time of the whole
  ``fit`` call (label encoding, parameter validation, network initialisation) is reported too.
* **plain**: ``randperm`` shuffle, index the tensors, forward, ``BCEWithLogitsLoss`` (mean),
  backward, Adam step. Nothing else.

* **deepctr**: DeepCTR-Torch's ``DeepFM`` (same embedding size, MLP, dropout, Adam lr 1e-3;
  its l2 defaults set to 0 like the estimator's), one ``model.fit(epochs=1)``, timed whole: its
  data path (one array of all fields, a ``TensorDataset`` read one row per ``__getitem__``) is
  what is being compared. Only when ``deepctr_torch`` is importable: it is no dependency of
  sk_ctr and is never installed for this benchmark; without it its rows say so and are skipped.

``--model xdeepfm`` compares ``XDeepFMClassifier`` and its network ``XDeepFMNet`` with
DeepCTR-Torch's ``xDeepFM`` instead: the same embedding and MLP plus the paper's CIN (200-200-200
feature maps, identity, split in half; DeepCTR-Torch's adds a bias per map). The CIN is ~39 times
the MLP's arithmetic, so the MLP's FLOP ceiling below says little for it; use fewer ``--rows``.

Prediction compares ``est.predict_proba(field_data)`` with a ``torch.no_grad()`` batched
forward + sigmoid of the *same* fitted module (so the two outputs must agree, which is checked),
and DeepCTR-Torch's ``model.predict`` of its fitted model when present.

**Prediction from raw frames** (``--raw-rows``, 120k by default; ``--raw-only`` runs nothing
else): a ``DeepFMClassifier`` fitted (one epoch, untimed) on a raw frame of the same shape
(``I1..I13`` float with NaN, ``C1..C26`` object strings) predicts that frame with
``est.predict_proba(frame)``, which encodes it with its fitted ``CTRTransformer`` first; against
DeepCTR-Torch's documented Criteo pipeline (``examples/run_classification_criteo.py``) on the
same frame, timed whole: ``fillna``, one ``LabelEncoder.transform`` per sparse column, a
``MinMaxScaler`` on the dense ones, the input dict, ``model.predict(inputs, batch_size)``. Its
encoders are fitted on the predicted rows, since ``LabelEncoder`` raises on an unseen value
(see ``deepctr_raw_pipeline``). Warm-up on ``--warmup-rows`` rows, ``--predict-rounds`` rounds
in rotating order; ``est chunked`` is the same estimator with
``sk_ctr.estimators.pipelined.PIPELINE_CHUNK_ROWS`` set to 16k for the call (chunks encoded one
ahead in a background thread when torch's threads leave a core free; off by default), so the
gain of the chunks is measured in the same rounds. Target: estimator /
DeepCTR-Torch >= 2.

**DIN training** (``--din-rows``, 20k by default, 0 skips it; not with ``--raw-only``):
``DINClassifier`` against DeepCTR-Torch's ``DIN`` at 0 %, 50 % and 90 % padding of the
histories with Dice and PReLU, one thread, ``--rounds`` interleaved rounds: the contest of
``benchmarks/din_throughput.py`` (see there), run after everything else. Target: estimator /
DeepCTR-Torch >= 2 at every padding ratio.

**FLOP ceiling.** The MLP (390-400-400-400-1) is most of a step's arithmetic: 2 FLOPs per
multiply-add, its products run once forward and twice backward (gradients of the input, which
the embeddings need, and of the weights). Its GEMMs are timed alone on random tensors at the
batch size and thread count of the run, which gives this CPU's GFLOP/s on exactly those shapes
and the samples/s that arithmetic alone would allow; a 2048 x 2048 product gives the GFLOP/s
the CPU reaches on large square matrices, for reference. The ceiling ignores the embedding
gathers, the FM component, activations, dropout and Adam, so no contender can reach it. Peak
RSS (``getrusage``) is printed after each stage: it is the process's maximum so far.

Rounds are interleaved after a warm-up on a slice of the rows, the order flipping every round
(estimator then plain, plain then estimator, ...), so drifting machine load and cache state hit
both alike; the tables give every round, the medians and the best times. Besides the whole
epoch, training is also rated from the *median time per batch* (time stamps after every
optimizer step: a skorch callback for the estimator, the loop itself for plain), which a burst
of load from another process barely moves. The transformer's fit is excluded from every
timing. Both contenders run with torch's default thread count (printed), which the estimator
leaves alone with ``n_threads=None``; ``--threads N`` sets it for all of them.

Target: estimator / plain >= 0.9 for training throughput.

How to run
----------
::

    python benchmarks/throughput.py                 # 500k rows, ~4 minutes on 2 idle cores
    python benchmarks/throughput.py --rows 20000    # smoke run
    python benchmarks/throughput.py --profile       # + cProfile of one estimator fit
    python benchmarks/throughput.py --threads 1     # torch.set_num_threads(1) for every part
    python benchmarks/throughput.py --raw-only      # prediction from raw frames only, ~1 minute
    python benchmarks/throughput.py --din-rows 0    # without the DIN comparison (~2 minutes)

Run it alone on the machine. With torch's 2 OpenMP threads on 2 cores, one other busy process
makes every step wait for a descheduled thread: throughput then drops 5-8x, for both
contenders, and the rounds scatter. The load average is printed at start and end to flag it.
Much of that drop is libgomp's spin-waiting (idle OpenMP threads spin while the process has no
more threads than CPUs, taking the cores the other process needs): on a shared machine,
set ``GOMP_SPINCOUNT=1000`` (or ``OMP_WAIT_POLICY=PASSIVE``). A 2-thread DeepFM epoch of 30k
rows under a load average of 3-4 took 250 ms per step and 1.9 CPU s with it, 780-1660 ms per
step and 6.7-10.6 CPU s without.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import resource
import statistics
import time
from dataclasses import dataclass
from itertools import pairwise
from unittest import mock

import numpy as np
import skorch
import torch
from din_throughput import ROWS as DIN_ROWS  # this directory's script: sys.path[0] when run
from din_throughput import din_contest
from skorch.callbacks import Callback

from sk_ctr import CTRTransformer, DeepFMClassifier, XDeepFMClassifier
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.estimators import pipelined
from sk_ctr.estimators.calibration import isotonic_probability
from sk_ctr.models import DeepFMNet
from sk_ctr.models.xdeepfm import XDeepFMNet

# The DeepFM journal's Criteo setting (Table III): embed 10, 400-400-400, dropout 0.5.
NETWORK = {"embed_dim": 10, "hidden_units": (400, 400, 400), "dropout": 0.5}
# xDeepFM's CIN on Criteo (section 4.1.3): 200 feature maps per layer, identity, split in half.
CIN_LAYERS = (200, 200, 200)
LR = 1e-3


@dataclass(frozen=True)
class Model:
    """A model both sides implement: the estimator, the network its plain loop trains, their
    parameters, and DeepCTR-Torch's class of the model with the arguments that give it the
    same shapes (besides the embedding size, MLP and dropout every model shares)."""

    estimator: type
    network: type
    params: dict
    deepctr: str
    deepctr_params: dict


#: ``--model`` choices.
MODELS = {
    "deepfm": Model(DeepFMClassifier, DeepFMNet, NETWORK, "DeepFM", {}),
    # DeepCTR-Torch's CIN adds a bias to every feature map (eq. 6 has none): H_k floats.
    "xdeepfm": Model(
        XDeepFMClassifier,
        XDeepFMNet,
        {**NETWORK, "cin_layer_sizes": CIN_LAYERS, "split_half": True},
        "xDeepFM",
        {"cin_layer_size": CIN_LAYERS, "cin_split_half": True, "cin_activation": "linear"},
    ),
}


def make_encoded(n_rows, seed):
    """Criteo-shaped raw frame (see :func:`make_raw`), encoded once by CTRTransformer (outside
    every timing)."""
    X, y = make_raw(n_rows, seed)
    data = CTRTransformer().fit_transform(X)
    return data, y


def make_raw(n_rows, seed):
    """Criteo-shaped raw frame: ``I1..I13`` float64, ``C1..C26`` object strings, and labels.

    Cardinalities are spread geometrically over 1k-10k per field and values follow a Zipf law
    (``make_ctr_classification``'s default exponent 1.1), so a few ids dominate each field and
    most ids are rare, as in real click logs. 20 % of the numeric values are NaN (Criteo's
    count features are often empty); they get their own bucket.
    """
    cardinality = np.geomspace(1_000, 10_000, 26).round().astype(int).tolist()
    X, y = make_ctr_classification(
        n_rows,
        n_fields=26,
        n_numeric=13,
        cardinality=cardinality,
        numeric_missing_rate=0.2,
        random_state=seed,
    )
    return X, y


# ------------------------------------------------------------------------------- training
class BatchClock(Callback):
    """Time stamps at the start of the epoch and at the end of every training batch.

    The median gap between stamps is a per-batch cost that intermittent load from other jobs
    barely moves, unlike an epoch's total; one ``perf_counter`` call per batch costs nothing
    next to a 2000-row DeepFM step.
    """

    def on_epoch_begin(self, net, **kwargs):
        self.stamps = [time.perf_counter()]

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.stamps.append(time.perf_counter())


def median_gap(stamps):
    return float(np.median(np.diff(stamps)))


def make_estimator(batch_size, seed, model=MODELS["deepfm"]):
    # n_threads=None: the estimator must not touch torch's thread count, so both contenders
    # run with the same (default) setting.
    return model.estimator(
        **model.params,
        optimizer="adam",
        lr=LR,
        batch_size=batch_size,
        max_epochs=1,
        n_threads=None,
        random_state=seed,
        callbacks=[("batch_clock", BatchClock())],
    )


def train_estimator(data, y, batch_size, seed, model=MODELS["deepfm"]):
    """One ``fit``: returns the timings (epoch seconds from the history, wall seconds of the
    whole fit, median seconds per batch), the train loss and the fitted estimator."""
    est = make_estimator(batch_size, seed, model)
    start = time.perf_counter()
    est.fit(data, y)
    wall = time.perf_counter() - start
    batch = median_gap(dict(est.callbacks_)["batch_clock"].stamps)
    return (est.history_[-1, "dur"], wall, batch), est.history_[-1, "train_loss"], est


def train_plain(data, y, batch_size, seed, model=MODELS["deepfm"]):
    """The same network trained by the shortest honest PyTorch loop.

    Returns ((epoch seconds, median seconds per batch), mean train loss). The module and
    optimizer are built outside the timed region, as skorch's ``initialize`` is outside its
    epoch ``dur``.
    """
    torch.manual_seed(seed)
    ids = torch.from_numpy(data["ids"])
    values = torch.from_numpy(data["values"])
    target = torch.from_numpy(y.astype(np.float32))
    module = model.network(data.schema, **model.params)
    optimizer = torch.optim.Adam(module.parameters(), lr=LR, fused=True)  # as the estimator's
    criterion = torch.nn.BCEWithLogitsLoss()
    n_rows = len(target)

    module.train()
    start = time.perf_counter()
    stamps = [start]
    order = torch.randperm(n_rows)
    total_loss = 0.0
    for first in range(0, n_rows, batch_size):
        rows = order[first : first + batch_size]
        loss = criterion(module(ids[rows], values[rows]), target[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        # skorch reads every batch loss back with .item(); so does any real loop that logs.
        total_loss += loss.item() * len(rows)
        stamps.append(time.perf_counter())
    seconds = time.perf_counter() - start
    return (seconds, median_gap(stamps)), total_loss / n_rows


# ----------------------------------------------------------------------------- prediction
def predict_estimator(est, data):
    start = time.perf_counter()
    proba = est.predict_proba(data)
    return time.perf_counter() - start, proba[:, 1]


def predict_plain(module, data, batch_size, temperature=1.0, isotonic_knots=None):
    """Batched no-grad forward + sigmoid of a module; contiguous slices, no shuffling. The
    estimator's calibration is applied as it does it, so that the two outputs can be compared
    (they differ by up to 0.35 without): the logits divided by ``temperature``, then mapped by
    the isotonic map of ``isotonic_knots`` when the estimator fitted one (its
    ``calibration="auto"`` does on enough validation rows)."""
    ids = torch.from_numpy(data["ids"])
    values = torch.from_numpy(data["values"])
    module.eval()
    start = time.perf_counter()
    with torch.no_grad():
        chunks = []
        for first in range(0, len(ids), batch_size):
            rows = slice(first, first + batch_size)
            chunks.append(module(ids[rows], values[rows]))
        logits = torch.cat(chunks)
    if isotonic_knots is None:
        proba = torch.sigmoid(logits / temperature).numpy()
    else:  # in float64, as the estimator maps them: the map's steep pieces magnify rounding
        proba = isotonic_probability(
            logits.numpy().astype(np.float64) / temperature, isotonic_knots
        )
    return time.perf_counter() - start, proba


# -------------------------------------------------------------------- DeepCTR-Torch (optional)
def load_deepctr(model=MODELS["deepfm"]):
    """DeepCTR-Torch's ``(model class, SparseFeat, DenseFeat)``, or ``None`` and why not.

    Optional by design: sk_ctr never depends on it, so its absence only skips its rows.
    """
    try:
        from deepctr_torch import models
        from deepctr_torch.inputs import DenseFeat, SparseFeat
    except ImportError as error:
        return None, f"deepctr_torch is not importable ({error})"
    return (getattr(models, model.deepctr), SparseFeat, DenseFeat), None


def deepctr_inputs(data):
    """The encoded tensors as DeepCTR-Torch's ``{feature name: column}`` input."""
    inputs = {f.name: data["ids"][:, j] for j, f in enumerate(data.categorical_fields)}
    inputs.update({f.name: data["values"][:, j] for j, f in enumerate(data.numeric_fields)})
    return inputs


def build_deepctr(network, columns, seed, model=MODELS["deepfm"]):
    """DeepCTR-Torch's ``model`` with the estimator's network settings, compiled with Adam."""
    # Its l2 defaults (1e-5, over the whole tables every step) are set to 0: the estimator's
    # l2 is 0 too, and the comparison is of data paths, not of regularisers.
    fitted = network(
        columns,
        columns,
        dnn_hidden_units=NETWORK["hidden_units"],
        dnn_dropout=NETWORK["dropout"],
        l2_reg_linear=0.0,
        l2_reg_embedding=0.0,
        init_std=0.01,
        seed=seed,
        device="cpu",
        **model.deepctr_params,
    )
    fitted.compile(torch.optim.Adam(fitted.parameters(), lr=LR), "binary_crossentropy")
    return fitted


def train_deepctr(deepctr, data, y, batch_size, seed, model=MODELS["deepfm"]):
    """One epoch of DeepCTR-Torch's model: returns ((fit seconds,), train loss, model)."""
    network, sparse_feat, dense_feat = deepctr
    columns = [
        sparse_feat(f.name, vocabulary_size=f.vocab_size, embedding_dim=NETWORK["embed_dim"])
        for f in data.categorical_fields
    ] + [dense_feat(f.name, 1) for f in data.numeric_fields]
    fitted = build_deepctr(network, columns, seed, model)
    inputs = deepctr_inputs(data)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its device and a summary
        start = time.perf_counter()
        history = fitted.fit(
            inputs, y.astype(np.float32), batch_size=batch_size, epochs=1, verbose=0
        )
        seconds = time.perf_counter() - start
    return (seconds,), history.history["loss"][-1], fitted


def predict_deepctr(model, data, batch_size):
    inputs = deepctr_inputs(data)
    start = time.perf_counter()
    proba = model.predict(inputs, batch_size=batch_size)
    return time.perf_counter() - start, proba.ravel()


# ---------------------------------------------------------------- prediction from raw frames
def raw_estimator(X, y, batch_size, seed):
    """A DeepFMClassifier fitted (one epoch, untimed) on the raw frame: its ``predict_proba``
    then encodes with its own fitted CTRTransformer."""
    est = make_estimator(batch_size, seed).set_params(callbacks=None)
    est.fit(X, y)
    return est


def predict_raw_estimator(est, X):
    start = time.perf_counter()
    proba = est.predict_proba(X)
    return time.perf_counter() - start, proba[:, 1]


def deepctr_raw_pipeline(deepctr, X, seed):
    """DeepCTR-Torch's documented Criteo pipeline (``examples/run_classification_criteo.py``),
    fitted on ``X``: ``(model, encoders, scaler, sparse, dense)``.

    Its encoders are fitted on the rows later predicted: ``LabelEncoder.transform`` raises on a
    value it has not seen, so a frame with new values cannot go through this pipeline at all
    (sk_ctr maps them to the "other" id). Its model has DeepCTR's documented inputs, 26
    embedded sparse fields and the 13 dense values fed to the MLP as they are, so its MLP
    input is 273 wide against the estimator's 390 (13 bucketized fields embedded): DeepCTR's
    network does about 7 % fewer multiply-adds per row. Its weights are left as initialised:
    they do not change the time of a prediction.
    """
    from sklearn.preprocessing import LabelEncoder, MinMaxScaler

    deep_fm, sparse_feat, dense_feat = deepctr
    dense = [c for c in X.columns if X[c].dtype.kind == "f"]
    sparse = [c for c in X.columns if c not in dense]
    filled = fill_deepctr(X, sparse, dense)
    encoders = {c: LabelEncoder().fit(filled[c]) for c in sparse}
    scaler = MinMaxScaler(feature_range=(0, 1)).fit(filled[dense])
    columns = [
        sparse_feat(
            c, vocabulary_size=len(encoders[c].classes_), embedding_dim=NETWORK["embed_dim"]
        )
        for c in sparse
    ] + [dense_feat(c, 1) for c in dense]
    with contextlib.redirect_stdout(io.StringIO()):
        model = build_deepctr(deep_fm, columns, seed)
    return model, encoders, scaler, sparse, dense


def fill_deepctr(X, sparse, dense):
    """The example's missing values: ``"-1"`` in sparse columns, 0 in dense ones."""
    filled = X.copy()
    filled[sparse] = filled[sparse].fillna("-1")
    filled[dense] = filled[dense].fillna(0)
    return filled


def predict_raw_deepctr(pipeline, X, batch_size):
    """The documented prediction path timed whole: fill, encode every sparse column with its
    LabelEncoder, scale the dense ones, build the input dict, ``model.predict``."""
    model, encoders, scaler, sparse, dense = pipeline
    start = time.perf_counter()
    filled = fill_deepctr(X, sparse, dense)
    inputs = {c: encoders[c].transform(filled[c]) for c in sparse}
    scaled = scaler.transform(filled[dense])
    inputs.update({c: scaled[:, j] for j, c in enumerate(dense)})
    proba = model.predict(inputs, batch_size=batch_size)
    return time.perf_counter() - start, proba.ravel()


def predict_raw_chunked(est, X):
    """``predict_proba`` with ``PIPELINE_CHUNK_ROWS`` set to 16k for the call: chunks encoded
    one ahead in a background thread, when torch's threads leave a core for it (else the
    same one-piece path as the default)."""
    with mock.patch.object(pipelined, "PIPELINE_CHUNK_ROWS", 16_384):
        return predict_raw_estimator(est, X)


def raw_prediction_contest(deepctr, n_rows, batch_size, seed, rounds, warmup_rows):
    """``est.predict_proba(raw frame)`` (chunks encoded one ahead, as it runs, and in one piece)
    against DeepCTR-Torch's documented pipeline on the same frame, interleaved after a warm-up;
    prints the table and returns the per-round ratios."""
    X, y = make_raw(n_rows, seed)
    est = raw_estimator(X, y, batch_size, seed)
    contenders = {
        "chunked": lambda frame: predict_raw_chunked(est, frame),
        "estimator": lambda frame: predict_raw_estimator(est, frame),
    }
    if deepctr:
        pipeline = deepctr_raw_pipeline(deepctr, X, seed)
        contenders["deepctr"] = lambda frame: predict_raw_deepctr(pipeline, frame, batch_size)
    warm = X.iloc[: min(warmup_rows, n_rows)]
    for contender in contenders.values():
        contender(warm)
    seconds = {name: [] for name in contenders}
    probabilities = {}
    for round_ in range(rounds):
        for name in in_turn(round_, tuple(contenders)):
            elapsed, probabilities[name] = contenders[name](X)
            seconds[name].append(elapsed)
    header = ["round", "est chunked", "est predict_proba(raw)", "chunked/default"]
    if deepctr:
        header += ["deepctr encode + predict", "chunked/deepctr", "est/deepctr"]
    rows = []
    per_round = [(str(i + 1), [s[i] for s in seconds.values()]) for i in range(rounds)]
    for label, times in [
        *per_round,
        ("median", [statistics.median(s) for s in seconds.values()]),
        ("best", [min(s) for s in seconds.values()]),
    ]:
        cells = [label, *(f"{rate(n_rows, t):,.0f}" for t in times[:2])]
        cells.append(f"{times[1] / times[0]:.3f}")
        if deepctr:
            cells += [f"{rate(n_rows, times[2]):,.0f}", f"{times[2] / times[0]:.3f}"]
            cells.append(f"{times[2] / times[1]:.3f}")
        rows.append(tuple(cells))
    print_table(
        f"Prediction from the raw frame ({n_rows:,} rows, 26 object + 13 float columns), "
        f"samples/s, {torch.get_num_threads()} torch threads, load average "
        f"{os.getloadavg()[0]:.2f} at the end",
        header,
        rows,
    )
    same = np.array_equal(probabilities["chunked"], probabilities["estimator"])
    print(f"chunked and one-piece probabilities identical: {same}")
    if not deepctr:
        return {}
    return {
        ("deepctr", "raw prediction"): [
            d / e for e, d in zip(seconds["estimator"], seconds["deepctr"], strict=True)
        ]
    }


# ------------------------------------------------------------------- FLOP ceiling of the MLP
def mlp_widths(data):
    """Widths of DeepFMNet's MLP: every field's embedding in, one logit out."""
    return [len(data.schema) * NETWORK["embed_dim"], *NETWORK["hidden_units"], 1]


def mlp_flops(widths):
    """FLOPs per sample of the MLP's matrix products, (training, prediction).

    2 FLOPs per multiply-add. Training runs each layer's product three times: forward, the
    gradient of its input (needed down to the first layer, whose input is the trained
    embeddings) and the gradient of its weights.
    """
    forward = 2 * sum(n_in * n_out for n_in, n_out in pairwise(widths))
    return 3 * forward, forward


def gemm_seconds(widths, batch_size, backward, repeats):
    """Best time of one step's MLP products (``backward``: the two gradient products too) on
    random tensors: matrix arithmetic and nothing else, through the calls autograd makes for
    ``nn.Linear`` (the layout of the operands changes MKL's speed by up to 1.7x)."""
    generator = torch.Generator().manual_seed(0)
    layers = [
        (
            torch.randn(batch_size, n_in, generator=generator),
            torch.randn(n_out, n_in, generator=generator),
            torch.randn(batch_size, n_out, generator=generator),
        )
        for n_in, n_out in pairwise(widths)
    ]

    def step():
        for x, w, dy in layers:
            torch.nn.functional.linear(x, w)
            if backward:
                torch.mm(dy, w)  # gradient of the input
                torch.mm(dy.t(), x)  # gradient of the weights

    return best_time(step, repeats)


def best_time(function, repeats):
    """Shortest of ``repeats`` timed calls after one untimed call: load from other processes
    only ever adds time."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def square_gflops(size=2048, repeats=10):
    """GFLOP/s of a large square float32 product: what the CPU's GEMM reaches at best."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / best_time(lambda: torch.mm(a, b), repeats) / 1e9


def flop_ceiling(data, batch_size, repeats=30):
    """The MLP's FLOPs per sample, the GFLOP/s measured on its own GEMMs, and the samples/s
    they allow, for training and prediction; plus the large square product's GFLOP/s."""
    widths = mlp_widths(data)
    train_flops, predict_flops = mlp_flops(widths)
    train_rate = train_flops * batch_size / gemm_seconds(widths, batch_size, True, repeats)
    predict_rate = predict_flops * batch_size / gemm_seconds(widths, batch_size, False, repeats)
    return {
        "widths": widths,
        "flops": (train_flops, predict_flops),
        "gflops": (train_rate / 1e9, predict_rate / 1e9),
        "samples": (train_rate / train_flops, predict_rate / predict_flops),
        "square_gflops": square_gflops(),
    }


def best_ceiling(first, second):
    """The two measurements' better rates, quantity by quantity (both are lower bounds)."""
    best = dict(first)
    for key in ("gflops", "samples"):
        best[key] = tuple(map(max, first[key], second[key]))
    best["square_gflops"] = max(first["square_gflops"], second["square_gflops"])
    return best


def peak_rss_mib():
    """The process's peak resident set so far (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------- report
def rate(n_rows, seconds):
    return n_rows / seconds


def print_table(title, header, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:>{w}}}" for w in widths)
    print(f"\n{title}")
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


def in_turn(round_, names=("estimator", "plain")):
    """The contenders in an order that rotates every round (two of them: flips), so none
    always inherits another's cache and allocator state."""
    shift = round_ % len(names)
    return tuple(names[shift:]) + tuple(names[:shift])


def summaries(timings):
    """Median and best (shortest: load from other processes only ever adds time) of every
    column of a list of timing tuples."""
    columns = list(zip(*timings, strict=True))
    return {
        "median": [statistics.median(c) for c in columns],
        "best": [min(c) for c in columns],
    }


def report_training(n_rows, batch_size, est_times, plain_times, losses, deepctr_times=None):
    """The training table; ``deepctr_times`` (fit seconds per round) adds DeepCTR-Torch's
    columns, and ``losses`` then has its loss third in every round."""

    def row(label, est_timing, plain_timing, deepctr_timing=None, loss=()):
        (epoch, wall, batch), (plain_epoch, plain_batch) = est_timing, plain_timing
        cells = [
            label,
            f"{rate(n_rows, epoch):,.0f}",
            f"{rate(n_rows, wall):,.0f}",
            f"{rate(n_rows, plain_epoch):,.0f}",
            f"{plain_epoch / epoch:.3f}",
            f"{rate(batch_size, batch):,.0f}",
            f"{rate(batch_size, plain_batch):,.0f}",
            f"{plain_batch / batch:.3f}",
        ]
        if deepctr_timing is not None:
            (deepctr_wall,) = deepctr_timing
            cells += [f"{rate(n_rows, deepctr_wall):,.0f}", f"{deepctr_wall / wall:.3f}"]
        return (*cells, *(f"{value:.4f}" for value in loss))

    header = [
        "round",
        "est epoch",
        "est fit wall",
        "plain epoch",
        "ratio",
        "est batch",
        "plain batch",
        "ratio",
    ]
    if deepctr_times is None:
        deepctr_times = [None] * len(est_times)
        summaries_deepctr = {"median": None, "best": None}
        losses = [loss[:2] for loss in losses]
        header += ["est loss", "plain loss"]
    else:
        summaries_deepctr = summaries(deepctr_times)
        header += ["deepctr fit", "est/deepctr", "est loss", "plain loss", "deepctr loss"]
    per_round = zip(est_times, plain_times, deepctr_times, losses, strict=True)
    rows = [row(i + 1, *timings) for i, timings in enumerate(per_round)]
    est_summary, plain_summary = summaries(est_times), summaries(plain_times)
    rows += [
        row(label, est_summary[label], plain_summary[label], summaries_deepctr[label])
        for label in est_summary
    ]
    # Blank loss cells in the summary rows keep the columns aligned.
    width = len(header)
    rows = [(*r, *[""] * (width - len(r))) for r in rows]
    print_table(
        "Training, one epoch, samples/s (ratio = estimator / plain, target >= 0.9).\n"
        "epoch: the whole epoch (skorch history 'dur' / the plain loop's clock); "
        "batch: from the median time per batch, robust to load spikes; deepctr fit: the wall "
        "time of DeepCTR-Torch's fit(epochs=1), est/deepctr against the estimator's fit wall.",
        header,
        rows,
    )
    # Without outside load the rounds agree within a few per cent; a larger spread means some
    # round shared the cores with another process and the medians are not trustworthy.
    spread = max(
        max(t[-1] for t in times) / min(t[-1] for t in times) for times in (est_times, plain_times)
    )
    if spread > 1.25:
        print(
            f"WARNING: per-batch times differ by {spread:.1f}x between rounds: the machine was "
            "busy with other work; rerun when it is idle (the 'best' row is least affected)."
        )
    epoch, wall, _ = est_summary["median"]
    print(
        "fit overhead outside the epoch (validation, label encoding, initialize): "
        f"{wall - epoch:.2f} s of {wall:.2f} s"
    )


def report_prediction(n_rows, est_seconds, plain_seconds, max_diff, deepctr_seconds=None):
    rows = []
    for label, summary in (("median", statistics.median), ("best", min)):
        est, plain = summary(est_seconds), summary(plain_seconds)
        cells = [
            label,
            f"{rate(n_rows, est):,.0f}",
            f"{rate(n_rows, plain):,.0f}",
            f"{plain / est:.3f}",
        ]
        if deepctr_seconds is not None:
            deepctr = summary(deepctr_seconds)
            cells += [f"{rate(n_rows, deepctr):,.0f}", f"{deepctr / est:.3f}"]
        rows.append((*cells, f"{max_diff:.1e}"))
    header = ["", "est predict_proba", "plain no_grad + sigmoid", "ratio"]
    if deepctr_seconds is not None:
        header += ["deepctr predict", "est/deepctr"]
    print_table(
        f"Prediction, {len(est_seconds)} rounds, samples/s (ratio = estimator / plain)",
        (*header, "max |diff|"),
        rows,
    )
    if max_diff > 1e-5:
        print("WARNING: the estimator's probabilities differ from the module's own output")


def report_summary(n_rows, train_seconds, predict_seconds, ceiling, skipped):
    """One table: every contender's median samples/s, its share of the MLP's FLOP ceiling and
    the estimator's rate over its rate.

    ``train_seconds`` maps a row name to (its seconds, the estimator's comparable seconds:
    epoch against an epoch, fit wall against a fit wall); ``predict_seconds`` maps the same
    names to (seconds, the estimator's) or ``None``.
    """
    train_ceiling, predict_ceiling = ceiling["samples"]
    rows = []
    for name, (train, est_train) in train_seconds.items():
        cells = [
            name,
            f"{rate(n_rows, train):,.0f}",
            f"{rate(n_rows, train) / train_ceiling:.1%}",
            f"{train / est_train:.3f}",
        ]
        if predict_seconds[name] is None:
            cells += ["", "", ""]
        else:
            predict, est_predict = predict_seconds[name]
            cells += [
                f"{rate(n_rows, predict):,.0f}",
                f"{rate(n_rows, predict) / predict_ceiling:.1%}",
                f"{predict / est_predict:.3f}",
            ]
        rows.append(tuple(cells))
    rows.append(
        (
            "MLP FLOP ceiling",
            f"{train_ceiling:,.0f}",
            "100%",
            "",
            f"{predict_ceiling:,.0f}",
            "100%",
            "",
        )
    )
    print_table(
        "Summary, medians, samples/s. of ceiling: share of the MLP's FLOP ceiling; est / x: the "
        "estimator's samples/s over x's, like for like (epoch / epoch, fit wall / fit wall)",
        ("", "train", "of ceiling", "est / x", "predict", "of ceiling", "est / x"),
        rows,
    )
    if skipped:
        print(f"deepctr: skipped, {skipped}")


#: The issue's targets: (contender, training or prediction, least estimator / contender).
TARGETS = (
    ("plain", "training", 0.9),
    ("plain", "prediction", 0.9),
    ("deepctr", "training", 2.0),
    ("deepctr", "raw prediction", 2.0),
)
#: DINClassifier's training against DeepCTR-Torch's DIN, at every activation and padding ratio
#: that ``din_throughput.din_contest`` measures.
DIN_TARGET = 2.0


def report_targets(round_ratios, targets=TARGETS):
    """One line per target of ``targets`` ((contender, stage, least ratio) each), judged on
    the median of the per-round ratios.

    ``round_ratios`` maps (contender, stage) to the estimator's speed over the contender's in
    every round. Each round runs the contenders back to back, so a ratio of one round is
    little moved by the load drifting between rounds, which moves the medians of the speeds.
    """
    print("\nTargets (median of the per-round ratios estimator / contender; range over rounds)")
    for name, stage, least in targets:
        ratios = round_ratios.get((name, stage))
        if not ratios:
            print(f"  {stage} estimator / {name} >= {least}: not measured")
            continue
        ratio = statistics.median(ratios)
        verdict = "met" if ratio >= least else "NOT met"
        print(
            f"  {stage} estimator / {name} >= {least}: {ratio:.2f} "
            f"({min(ratios):.2f}-{max(ratios):.2f}), {verdict}"
        )


def report_ceiling(ceiling, batch_size, when):
    (train_flops, predict_flops), (train_gflops, predict_gflops) = (
        ceiling["flops"],
        ceiling["gflops"],
    )
    train_samples, predict_samples = ceiling["samples"]
    widths = "-".join(map(str, ceiling["widths"]))
    print(
        f"\nFLOP ceiling of the MLP {widths} ({torch.get_num_threads()} torch threads, {when}): "
        f"{train_flops / 1e6:.2f} MFLOP per sample to train (forward + 2 backward products), "
        f"{predict_flops / 1e6:.2f} to predict.\n"
        f"GEMM GFLOP/s on its own shapes at batch {batch_size}: {train_gflops:.1f} (training "
        f"products), {predict_gflops:.1f} (forward); on 2048 x 2048: "
        f"{ceiling['square_gflops']:.1f}.\n"
        f"Samples/s that arithmetic alone allows: {train_samples:,.0f} to train, "
        f"{predict_samples:,.0f} to predict."
    )


def profile_fit(data, y, batch_size, seed, top, model=MODELS["deepfm"]):
    """cProfile one estimator fit and print the functions with the most own time: where the
    estimator spends what the plain loop does not."""
    profiler = cProfile.Profile()
    profiler.enable()
    train_estimator(data, y, batch_size, seed, model)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    print(f"\ncProfile of one {model.estimator.__name__}.fit, sorted by own time")
    print(out.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000, help="training rows (default 500k)")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--rounds", type=int, default=3, help="measured training rounds per contender"
    )
    parser.add_argument(
        "--warmup-rows",
        type=int,
        default=20_000,
        help="rows of the untimed warm-up epoch of each contender (oneDNN kernels, allocator)",
    )
    parser.add_argument("--predict-rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads for every part (default: torch's)"
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile one estimator fit")
    parser.add_argument(
        "--model", choices=sorted(MODELS), default="deepfm", help="the model compared"
    )
    parser.add_argument(
        "--raw-rows",
        type=int,
        default=120_000,
        help="rows of the prediction from raw frames (default 120k; 0 skips it)",
    )
    parser.add_argument(
        "--din-rows",
        type=int,
        default=DIN_ROWS,
        help="rows of the DIN training comparison (benchmarks/din_throughput.py with its "
        "defaults otherwise; 0 skips it)",
    )
    parser.add_argument(
        "--raw-only",
        action="store_true",
        help="only the prediction from raw frames (no training or encoded prediction)",
    )
    args = parser.parse_args(argv)
    n_rows, batch_size, seed = args.rows, args.batch_size, args.seed
    model = MODELS[args.model]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    deepctr, skipped = load_deepctr(model)

    spin = {k: os.environ[k] for k in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY") if k in os.environ}
    print(
        f"OpenMP spin settings {spin or 'default'}; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads, "
        f"{'default' if args.threads is None else '--threads'}), "
        f"skorch {skorch.__version__}, {n_rows:,} rows, batch {batch_size}; "
        f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"deepctr: {f'DeepCTR-Torch {model.deepctr}' if deepctr else f'skipped, {skipped}'}")
    # The prediction from raw frames is DeepFM's contest whatever --model says: the
    # estimator it fits is a DeepFMClassifier, and DeepCTR-Torch's documented pipeline a DeepFM.
    raw_deepctr = load_deepctr()[0] if deepctr else None
    if args.raw_only:
        round_ratios = raw_prediction_contest(
            raw_deepctr, args.raw_rows, batch_size, seed, args.predict_rounds, args.warmup_rows
        )
        report_targets(round_ratios)
        print(f"load average at end {os.getloadavg()[0]:.2f}")
        return
    start = time.perf_counter()
    data, y = make_encoded(n_rows, seed)
    vocab = sum(f.vocab_size for f in data.schema)
    print(
        f"data: ids {data['ids'].shape} {data['ids'].dtype}, {len(data.schema)} fields, "
        f"{vocab:,} embedding rows, positive rate {y.mean():.3f} "
        f"(generated + encoded in {time.perf_counter() - start:.1f} s, not timed); "
        f"peak RSS {peak_rss_mib():,.0f} MiB"
    )
    n_params = sum(p.numel() for p in model.network(data.schema, **model.params).parameters())
    print(f"{model.network.__name__} parameters: {n_params:,}")
    # Measured before training and again after prediction; the better of the two is kept, as
    # another process running during one of them only lowers it.
    ceiling = flop_ceiling(data, batch_size)
    report_ceiling(ceiling, batch_size, "measured before training")

    # Warm-up: the first epoch in a process pays one-off costs (kernel selection, allocator
    # growth, lazy imports) that would otherwise be charged to whichever contender runs first.
    warm = data[: min(args.warmup_rows, n_rows)]
    train = {
        "estimator": lambda d, t: train_estimator(d, t, batch_size, seed, model),
        "plain": lambda d, t: (*train_plain(d, t, batch_size, seed, model), None),
    }
    if deepctr:
        train["deepctr"] = lambda d, t: train_deepctr(deepctr, d, t, batch_size, seed, model)
    for contender in train.values():
        contender(warm, y[: len(warm)])

    times = {name: [] for name in train}
    losses, fitted = [], {}
    for round_ in range(args.rounds):
        loss = {}
        for name in in_turn(round_, tuple(train)):
            timing, loss[name], fitted[name] = train[name](data, y)
            times[name].append(timing)
            if round_ == 0:
                print(f"peak RSS after the first {name} epoch: {peak_rss_mib():,.0f} MiB")
        losses.append(tuple(loss[name] for name in train))
    report_training(
        n_rows, batch_size, times["estimator"], times["plain"], losses, times.get("deepctr")
    )

    # Prediction: estimator and plain read the last fitted estimator's module, so their
    # outputs must match; DeepCTR-Torch predicts with its own last fitted model.
    est = fitted["estimator"]
    predict = {
        "estimator": lambda d: predict_estimator(est, d),
        "plain": lambda d: predict_plain(
            est.module_, d, batch_size, est.temperature_, getattr(est, "isotonic_knots_", None)
        ),
    }
    if deepctr:
        predict["deepctr"] = lambda d: predict_deepctr(fitted["deepctr"], d, batch_size)
    for contender in predict.values():
        contender(warm)
    seconds = {name: [] for name in predict}
    for round_ in range(args.predict_rounds):
        result = {name: predict[name](data) for name in in_turn(round_, tuple(predict))}
        for name, (elapsed, _) in result.items():
            seconds[name].append(elapsed)
    max_diff = float(np.abs(result["estimator"][1] - result["plain"][1]).max())
    report_prediction(
        n_rows, seconds["estimator"], seconds["plain"], max_diff, seconds.get("deepctr")
    )

    ceiling = best_ceiling(ceiling, flop_ceiling(data, batch_size))
    report_ceiling(ceiling, batch_size, "best of before training and after prediction")
    epoch, wall, _ = summaries(times["estimator"])["median"]
    median_predict = {name: statistics.median(values) for name, values in seconds.items()}
    train_seconds = {
        "estimator epoch": (epoch, epoch),
        "estimator fit wall": (wall, wall),
        "plain": (summaries(times["plain"])["median"][0], epoch),
    }
    predict_seconds = {
        "estimator epoch": (median_predict["estimator"],) * 2,
        "estimator fit wall": None,
        "plain": (median_predict["plain"], median_predict["estimator"]),
    }
    if deepctr:
        train_seconds["deepctr"] = (summaries(times["deepctr"])["median"][0], wall)
        predict_seconds["deepctr"] = (median_predict["deepctr"], median_predict["estimator"])
    report_summary(n_rows, train_seconds, predict_seconds, ceiling, skipped)
    est_times, est_predict = times["estimator"], seconds["estimator"]
    round_ratios = {
        ("plain", "training"): [
            p[0] / e[0] for e, p in zip(est_times, times["plain"], strict=True)
        ],
        ("plain", "prediction"): [
            p / e for e, p in zip(est_predict, seconds["plain"], strict=True)
        ],
    }
    if deepctr:  # DeepCTR-Torch's fit wall against the estimator's fit wall
        round_ratios["deepctr", "training"] = [
            d[0] / e[1] for e, d in zip(est_times, times["deepctr"], strict=True)
        ]
    if args.raw_rows:
        round_ratios.update(
            raw_prediction_contest(
                raw_deepctr, args.raw_rows, batch_size, seed, args.predict_rounds, args.warmup_rows
            )
        )
    targets = TARGETS
    if args.din_rows:
        din_ratios = din_contest(args.din_rows, rounds=args.rounds)
        round_ratios.update(din_ratios)
        targets += tuple((name, stage, DIN_TARGET) for name, stage in din_ratios)
    report_targets(round_ratios, targets)

    print(f"peak RSS {peak_rss_mib():,.0f} MiB; load average at end {os.getloadavg()[0]:.2f}")
    if args.profile:
        profile_fit(data, y, batch_size, seed, top=25, model=model)


if __name__ == "__main__":
    main()
