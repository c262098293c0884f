"""Helpers shared by the layer and network tests (imported as ``helpers``; pytest puts the
tests folder on the path)."""

import os
import selectors
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import skorch
import torch
from sklearn.model_selection import train_test_split

import sk_ctr
from sk_ctr.datasets import load_criteo
from sk_ctr.layers.attention import sequence_mask
from sk_ctr.preprocessing.fields import Field


def randomize_(module):
    """Draw every parameter from N(0, 1), in place.

    LinearTerm and biases start at zero; random parameters make every term visible in the
    comparisons with the brute-force references.
    """
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_()
    return module


def raw_frame(n_samples=40, seed=0):
    """A small raw frame: two string columns and two float columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "site": rng.choice(["a", "b", "c", "d"], n_samples),
            "device": rng.choice(["phone", "tablet", "pc"], n_samples),
            "price": rng.normal(size=n_samples),
            "age": rng.uniform(18, 80, n_samples),
        }
    )


def encoded_float64(frame, **transformer_params):
    """``(schema, ids, values)`` of ``frame`` encoded by a ``CTRTransformer`` fitted on it,
    the values in float64 as the networks' brute-force tests compute."""
    data = sk_ctr.CTRTransformer(**transformer_params).fit_transform(frame)
    ids = torch.as_tensor(data["ids"])
    return data.schema, ids, torch.as_tensor(data["values"], dtype=torch.float64)


#: The settings of the field models' tests on the real Criteo sample: small embeddings and MLP,
#: large batches and early stopping, so that a fit costs about a second of CPU on one thread.
CRITEO_SAMPLE_TRAINING = {
    "embed_dim": 8,
    "hidden_units": (32,),
    "batch_size": 512,
    "max_epochs": 20,
    "early_stopping": True,
    "n_iter_no_change": 2,
    "n_threads": 1,
}


def criteo_sample_split(path):
    """``X_train, X_test, y_train, y_test`` of the Criteo 10k sample at ``path``, its first 7
    numeric and 7 categorical columns (I1-I7, C1-C7: 14 of the 39, a cheaper fit),
    split 80/20 with ``random_state=0`` as in tests/test_real_data.py. Its LRClassifier reaches
    0.732 test AUC on these columns (0.726 with the model's random_state=1)."""
    X, y = load_criteo(path)
    columns = [f"I{i}" for i in range(1, 8)] + [f"C{i}" for i in range(1, 8)]
    return train_test_split(X[columns], y, test_size=0.2, random_state=0)


def fit_time_state(estimator):
    """The private attributes of ``estimator`` beyond skorch's own bookkeeping (those of an
    initialised skorch net): state a fit stashed for a hook to read later, which a pickle
    carries and an exception or a refit can leave stale. Parameters and fitted attributes
    (ending in ``_``) are not private."""
    net = skorch.NeuralNetBinaryClassifier(torch.nn.Linear(1, 1)).initialize()
    own = {name for name in vars(net) if name.startswith("_")}
    return {name for name in vars(estimator) if name.startswith("_") and name not in own}


def child_env(**variables):
    """The environment of a Python child process that imports this checkout's sk_ctr (not an
    installed one), with one torch thread."""
    repository = str(Path(sk_ctr.__file__).resolve().parents[1])
    path = os.pathsep.join([repository, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path, **variables}


def behavior_schema(max_length=None, gaps=False):
    """The schema of the behaviour-network tests (DIN, DIEN, BST): user (5 ids), item_id (7),
    cate_id (4), a numeric field, two histories sharing the candidates' rows and a
    multi-valued "tags" field (6) with a vocabulary of its own; with ``gaps``, "gaps" (5
    bucketized time gaps, BST's position column). ``max_length``: the padded length the
    sequence fields declare (BST's positions by order need it)."""
    sequences = [("hist_item_id", 7, "item_id"), ("hist_cate_id", 4, "cate_id"), ("tags", 6, None)]
    if gaps:
        sequences.append(("gaps", 5, None))
    return (
        Field("user", "categorical", 5, source="categorical"),
        Field("item_id", "categorical", 7, source="categorical"),
        Field("cate_id", "categorical", 4, source="categorical"),
        Field("price", "numeric", 1, source="numeric"),
        *(
            Field(name, "sequence", size, source="sequence", shares=shares, max_length=max_length)
            for name, size, shares in sequences
        ),
    )


def behavior_batch(lengths, max_length, vocabularies=(7, 4, 6), seed=0):
    """A float64 batch of :func:`behavior_schema`: random ids of the three categorical fields,
    a numeric value, and sequences of random real ids (1.. vocabulary - 1) with padding id 0
    after each row's length.

    Parameters
    ----------
    lengths : list of list of int
        Per row, the length of every sequence field.
    max_length : int
    vocabularies : tuple of int
        The vocabulary size of every sequence field.
    seed : int

    Returns
    -------
    dict of str to torch.Tensor
        ``ids``, ``values``, ``sequences``, ``lengths``: a network's inputs.
    """
    generator = torch.Generator().manual_seed(seed)
    batch_size = len(lengths)
    ids = torch.stack(
        [torch.randint(0, v, (batch_size,), generator=generator) for v in (5, 7, 4)], dim=1
    )
    values = torch.randn(batch_size, 1, generator=generator, dtype=torch.float64)
    lengths = torch.tensor(lengths)
    sequences = torch.stack(
        [torch.randint(1, v, (batch_size, max_length), generator=generator) for v in vocabularies],
        dim=1,
    )
    sequences = sequences * sequence_mask(lengths, max_length)  # padding id 0
    return {"ids": ids, "values": values, "sequences": sequences, "lengths": lengths}


def other_padding(batch, vocabularies=(7, 4, 6), seed=1):
    """The same :func:`behavior_batch` with random real ids (not 0) at every padding
    position: a network masking by the lengths gives the same output."""
    generator = torch.Generator().manual_seed(seed)
    shape = batch["sequences"][:, 0].shape
    noise = torch.stack([torch.randint(1, v, shape, generator=generator) for v in vocabularies], 1)
    mask = sequence_mask(batch["lengths"], batch["sequences"].shape[-1])
    return {**batch, "sequences": torch.where(mask, batch["sequences"], noise)}


def read_until(process, marker, timeout):
    """The subprocess's stdout lines up to the first one for which ``marker(line)`` is true."""
    lines, selector = [], selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=1):
            line = process.stdout.readline()
            if not line:  # the process closed its stdout: it ended, or is about to
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                raise AssertionError(
                    f"the process ended (exit code {process.returncode}) before a line "
                    f"matching the marker: {lines}"
                )
            lines.append(line)
            if marker(line):
                return lines
    process.kill()
    raise AssertionError(f"no line matching the marker within {timeout} s: {lines}")
