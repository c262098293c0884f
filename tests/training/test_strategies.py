"""The context of a training run and the one function that picks its loaders
(sk_ctr/training/strategies.py); the strategies themselves are run by test_distributed.py,
test_ddp_workers.py and test_streaming.py."""

import numpy as np
import pytest
from sklearn.preprocessing import LabelEncoder
from skorch.dataset import Dataset

from sk_ctr import CTRTransformer, FMClassifier
from sk_ctr.estimators.early_stopping import hold_out_validation
from sk_ctr.io.parquet import ParquetSource
from sk_ctr.training.distributed import ShardedSliceLoader
from sk_ctr.training.loader import SliceLoader
from sk_ctr.training.prefetch import PrefetchLoader
from sk_ctr.training.strategies import FitContext, choose_loader
from sk_ctr.training.streaming import StreamingDataset, StreamLoader


@pytest.fixture(scope="module")
def encoded(small_ctr_data):
    X, y = small_ctr_data
    transformer, labels = CTRTransformer().fit(X), LabelEncoder().fit(y)
    return transformer, labels, transformer.transform(X), labels.transform(y).astype(np.float32)


def test_choose_loader_picks_the_loader_of_each_kind_of_run(encoded, small_ctr_data, tmp_path):
    transformer, labels, X_encoded, y_encoded = encoded
    est = FMClassifier(batch_size=64)
    dataset = Dataset(X_encoded, y_encoded)
    loader = choose_loader(est, dataset, training=True)
    assert type(loader) is SliceLoader and loader.batch_size == 64 and loader.shuffle
    loader = choose_loader(est, dataset, training=False)
    assert type(loader) is SliceLoader and not loader.shuffle
    # a DDP rank: its share of every global batch of 64 * 2 rows; never for validation rows
    loader = choose_loader(est, dataset, training=True, shard=(1, 2))
    assert isinstance(loader, ShardedSliceLoader) and (loader.rank, loader.world_size) == (1, 2)
    assert len(loader) == -(-1000 // 128)
    assert type(choose_loader(est, dataset, training=False, shard=(1, 2))) is SliceLoader
    prefetching = FMClassifier(batch_size=64, prefetch=True)
    assert isinstance(choose_loader(prefetching, dataset, training=True), PrefetchLoader)
    # skorch's iterator_*__ parameters reach the loader, batch_size=-1 included
    whole = FMClassifier(batch_size=64, iterator_valid__batch_size=-1)
    assert len(list(choose_loader(whole, dataset, training=False))) == 1
    X, y = small_ctr_data
    X.assign(label=y).to_parquet(tmp_path / "rows.parquet")
    stream = StreamingDataset(
        ParquetSource(tmp_path / "rows.parquet", label="label"), transformer, labels
    )
    loader = choose_loader(est, stream, training=True, shard=(0, 2))
    assert isinstance(loader, StreamLoader) and loader.shuffle and loader.world_size == 2
    assert sum(len(batch_y) for _, batch_y in loader) == 500  # rank 0's half of every batch


def test_training_rows_are_the_rows_left_after_the_held_out_validation_rows(encoded):
    _, _, X_encoded, y_encoded = encoded
    dataset = Dataset(X_encoded, y_encoded)
    train, valid = hold_out_validation(dataset, y_encoded, "auto", 0.1, "roc_auc", 0)
    context = FitContext(X=X_encoded, y=y_encoded, train=train, valid=valid)
    X_train, y_train = context.training_rows()
    assert len(y_train) == 900 and len(X_train) == 900
    rows = np.asarray(train.indices)
    assert set(rows) == set(range(1000)) - set(valid.indices)
    np.testing.assert_array_equal(y_train, y_encoded[rows])
    for key in X_encoded:
        np.testing.assert_array_equal(X_train[key], X_encoded[key][rows])
    # explicit validation rows (X_val): the stage sees every row of X
    context = FitContext(X=X_encoded, y=y_encoded, train=dataset, valid=valid)
    X_all, y_all = context.training_rows()
    assert X_all is X_encoded and y_all is y_encoded
