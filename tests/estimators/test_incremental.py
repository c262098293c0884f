"""Incremental training on new days of data: the fitted vocabulary is kept and new values go
to hashed buckets (``CTRTransformer(hash_buckets=...)``)."""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from sk_ctr import CTRTransformer, FMClassifier
from sk_ctr.preprocessing.fields import FIRST_VALUE_ID, OTHER_ID


def test_values_outside_the_vocabulary_take_stable_hash_buckets():
    train = pd.DataFrame({"site": ["a"] * 5 + ["b"] * 3 + ["rare1", "rare2"]})
    enc = CTRTransformer(min_frequency=2, hash_buckets=8).fit(train)
    assert enc.fields_[0].vocab_size == FIRST_VALUE_ID + 2 + 8  # a, b, then 8 buckets
    ids = enc.transform(pd.DataFrame({"site": ["a", "b", "new", "new", "other-new", None]}))
    first, second, new1, new2, new3, missing = ids["ids"][:, 0]
    assert (first, second, missing) == (2, 3, 0)
    assert new1 == new2 and 4 <= new1 < 12 and 4 <= new3 < 12  # a bucket, not "other"
    # the rare values of the training data were counted in their buckets
    frequencies = enc.frequencies_["site"]
    assert frequencies[OTHER_ID] == 0 and frequencies[4:].sum() == 2
    rare_ids = enc.transform(pd.DataFrame({"site": ["rare1", "rare2"]}))["ids"][:, 0]
    assert all(frequencies[i] >= 1 for i in rare_ids)
    # the same ids after pickling, and in a fresh process (hashes do not depend on PYTHONHASHSEED)
    assert (
        pickle.loads(pickle.dumps(enc)).transform(pd.DataFrame({"site": ["new"]}))["ids"] == new1
    ).all()
    code = (
        "import pandas as pd; from sk_ctr import CTRTransformer;"
        "enc = CTRTransformer(min_frequency=2, hash_buckets=8).fit(pd.DataFrame({'site': "
        "['a'] * 5 + ['b'] * 3 + ['rare1', 'rare2']}));"
        "print(enc.transform(pd.DataFrame({'site': ['new']}))['ids'][0, 0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    assert int(out.stdout) == new1


def test_sequences_share_the_buckets_of_their_candidate():
    train = pd.DataFrame({"item": ["a", "b", "a"], "hist": [["a"], ["a", "b"], []]})
    enc = CTRTransformer(behavior={"hist": "item"}, hash_buckets=4).fit(train)
    encoded = enc.transform(pd.DataFrame({"item": ["zz"], "hist": [["zz", "a"]]}))
    assert encoded["sequences"][0, 0, 0] == encoded["ids"][0, 0] >= FIRST_VALUE_ID + 2


def _day(items, n, rng):
    """Impressions of ``items``: even-numbered items are clicked 80 % of the time, odd 20 %."""
    item = rng.choice(items, size=n)
    rate = np.where(pd.Series(item).str[4:].astype(int) % 2 == 0, 0.8, 0.2)
    X = pd.DataFrame({"item": item, "slot": rng.choice(["top", "side"], size=n)})
    return X, (rng.random(n) < rate).astype(int)


@pytest.mark.parametrize("method", ["partial_fit", "warm_start"])
# without hash buckets every new item is "other", which the vocabulary warns about: on purpose
@pytest.mark.filterwarnings("ignore:No value of column 'item' was seen in fit")
def test_new_day_with_new_items_trains_without_refitting_the_vocabulary(method):
    rng = np.random.default_rng(0)
    day1 = _day([f"item{i}" for i in range(20)], 4000, rng)
    new_items = [f"item{i}" for i in range(100, 120)]  # never seen on day 1
    day2, test = _day(new_items, 4000, rng), _day(new_items, 2000, rng)
    aucs = {}
    for buckets in (0, 256):
        est = FMClassifier(
            preprocessor=CTRTransformer(hash_buckets=buckets),
            embed_dim=4,
            lr=5e-2,
            max_epochs=3,
            batch_size=256,
            n_threads=1,
            random_state=0,
        )
        est.fit(*day1)
        vocabulary = est.preprocessor_.vocabularies_["item"].copy()
        if method == "partial_fit":
            est.partial_fit(*day2)
        else:
            est.set_params(warm_start=True).fit(*day2)
        assert est.preprocessor_.vocabularies_["item"].equals(vocabulary)  # not refitted
        aucs[buckets] = roc_auc_score(test[1], est.predict_proba(test[0])[:, 1])
    assert aucs[0] < 0.6  # every new item is "other": nothing to learn from the item
    assert aucs[256] > 0.75, aucs  # the buckets keep the new items apart
