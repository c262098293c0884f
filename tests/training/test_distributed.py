"""Data-parallel training (DDP over gloo on CPU), device selection, sparse embeddings."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from helpers import child_env
from sklearn.metrics import roc_auc_score

from sk_ctr import DeepFMClassifier, FMClassifier
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.training.distributed import (
    ParallelPlan,
    ShardedSliceLoader,
    _free_port,
    lr_multiplier,
    plan_parallelism,
)
from sk_ctr.training.loader import SliceLoader

NO_GPU = "needs a CUDA GPU; this machine has none (torch.cuda.is_available() is False)"
DDP = {
    "hidden_units": (16,),
    "dropout": 0.0,
    "embed_dim": 4,
    "optimizer": "sgd",
    "lr": 0.1,
    "random_state": 0,
    "n_threads": 1,
    "lr_scaling": None,
}


@pytest.fixture(scope="module")
def odd_data():
    # 2,011 rows: the last global batch of 128 has 91 rows, split 45 / 46 between two ranks
    return make_ctr_classification(
        n_samples=2011, n_fields=4, cardinality=20, n_numeric=2, random_state=0
    )


@pytest.fixture(scope="module")
def single_process_fit(odd_data):
    """One process with the global batch of 128 (what two ranks of 64 must equal); read only."""
    X, y = odd_data
    return DeepFMClassifier(batch_size=128, max_epochs=2, **DDP).fit(X, y)


def weights_gap(a, b):
    first, second = a.module_.state_dict(), b.module_.state_dict()
    return max((first[k] - second[k]).abs().max().item() for k in first if first[k].numel())


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_equals_one_process_with_the_global_batch(
    odd_data, single_process_fit
):
    X, y = odd_data
    single = single_process_fit
    ddp = DeepFMClassifier(batch_size=64, devices=2, max_epochs=2, **DDP).fit(X, y)
    assert weights_gap(single, ddp) < 1e-5  # measured 1.5e-8
    np.testing.assert_allclose(ddp.predict_proba(X), single.predict_proba(X), atol=1e-5)
    # the epoch's loss weighs batches by the rank's share (45 of the last 91 rows), so it
    # differs from one process's in the 5th digit
    np.testing.assert_allclose(
        ddp.history_[:, "train_loss"], single.history_[:, "train_loss"], rtol=1e-4
    )
    assert ddp.get_params()["batch_size"] == 64 and ddp.optimizer_.param_groups[0]["lr"] == 0.1
    # early stopping ("auto": on for 2,011 rows) scored the same validation rows on rank 0
    assert "valid_auc" in single.history_[-1]
    np.testing.assert_allclose(
        ddp.history_[:, "valid_auc"], single.history_[:, "valid_auc"], atol=1e-6
    )
    # the parent holds the same validation rows: the importances of the same model
    np.testing.assert_allclose(ddp.feature_importances_, single.feature_importances_, atol=1e-4)


def test_sharded_batches_partition_each_global_batch():
    X = {"ids": torch.arange(10).reshape(10, 1)}
    dataset = _dataset(X, torch.zeros(10))
    ranks = [
        list(ShardedSliceLoader(dataset, batch_size=2, rank=r, world_size=3)) for r in (0, 1, 2)
    ]
    whole = list(SliceLoader(dataset, batch_size=6))
    for step, (batch, _) in enumerate(whole):
        parts = torch.cat([ranks[r][step][0]["ids"] for r in range(3)])
        scales = [ranks[r][step][0]["_loss_scale"][0].item() for r in range(3)]
        lengths = [len(ranks[r][step][1]) for r in range(3)]
        torch.testing.assert_close(parts, batch["ids"])
        # each rank's mean loss weighted by n_rank * W / N: the mean over ranks is the global mean
        np.testing.assert_allclose(scales, [n * 3 / len(batch["ids"]) for n in lengths])


def test_ranks_draw_dropout_from_their_own_streams_after_the_shared_shuffle():
    n_rows = 40
    dataset = _dataset({"ids": torch.arange(n_rows).reshape(n_rows, 1)}, torch.zeros(n_rows))
    shards, draws = [], []
    for rank in (0, 1):
        torch.manual_seed(0)  # what share_random_state gives every rank before an epoch
        batches = iter(
            ShardedSliceLoader(dataset, batch_size=4, shuffle=True, rank=rank, world_size=2)
        )
        first, _ = next(batches)
        draws.append(torch.rand(8))  # the first batch's dropout mask
        shards.append([first["ids"]] + [X["ids"] for X, _ in batches])
    # the permutation is shared: the ranks' shards partition every global batch
    assert sorted(torch.cat(shards[0] + shards[1])[:, 0].tolist()) == list(range(n_rows))
    assert not torch.equal(draws[0], draws[1])
    torch.manual_seed(0)
    torch.randperm(n_rows)
    assert torch.equal(draws[0], torch.rand(8))  # rank 0 keeps one process's stream


def test_a_rank_without_rows_gets_one_row_with_weight_zero():
    dataset = _dataset({"ids": torch.arange(3).reshape(3, 1)}, torch.zeros(3))
    batches = list(ShardedSliceLoader(dataset, batch_size=1, rank=2, world_size=4))
    ((X, y),) = batches  # 3 rows over 4 ranks, split at 0, 1, 2, 2, 3: rank 2 gets none
    assert len(y) == 1 and X["_loss_scale"][0].item() == 0.0


def _dataset(X, y):
    from skorch.dataset import Dataset

    return Dataset(X, y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"devices": [0, 1]}, "names GPU ids, but device='cpu'"),
        ({"devices": 0}, "devices must be >= 1"),
        ({"devices": [0, 0], "device": "cuda"}, "distinct GPU ids"),
        ({"devices": 2, "strategy": "dp"}, "strategy='dp' \\(nn.DataParallel\\) needs"),
        ({"strategy": "dp"}, "needs devices="),
    ],
)
def test_impossible_parallel_settings_are_named(params, message):
    device = params.pop("device", "cpu")
    with pytest.raises(ValueError, match=message):
        plan_parallelism(device, params.get("devices"), params.get("strategy", "auto"))


def test_plans_on_this_machine():
    assert plan_parallelism("cpu", None, "auto") == ParallelPlan("single")
    assert plan_parallelism("cpu", 1, "ddp") == ParallelPlan("single")
    assert plan_parallelism("cpu", 3, "auto") == ParallelPlan("spawn", 3)
    assert plan_parallelism("auto", None, "auto").kind == "single"


def test_invalid_devices_are_named_at_fit(odd_data):
    X, y = odd_data
    with pytest.raises(ValueError, match="strategy='dp'"):
        FMClassifier(devices=2, strategy="dp").fit(X, y)
    with pytest.raises(ValueError, match="'lr_scaling' parameter"):
        FMClassifier(lr_scaling="cubic").fit(X, y)


def test_learning_rate_scaling_follows_the_journal():
    assert lr_multiplier("sqrt", 4) == 2.0  # "4GPU-A": 0.0001 x sqrt(4)
    assert lr_multiplier("linear", 4) == 4.0
    assert lr_multiplier(None, 4) == 1.0 and lr_multiplier("sqrt", 1) == 1.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)
def test_multi_gpu_fit_on_a_real_gpu(odd_data):  # pragma: no cover - GPU-only
    X, y = odd_data
    est = DeepFMClassifier(device="cuda", devices=min(2, torch.cuda.device_count()), **DDP)
    assert est.fit(X, y).predict_proba(X).shape == (len(y), 2)


def test_device_auto_resolves_per_call_and_survives_pickling(odd_data):
    X, y = odd_data
    est = FMClassifier(device="auto", max_epochs=1, n_threads=1, random_state=0).fit(X, y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert est.device == "auto" and next(est.module_.parameters()).device.type == expected
    restored = pickle.loads(pickle.dumps(est))
    assert restored.device == "auto"
    np.testing.assert_allclose(restored.predict_proba(X), est.predict_proba(X))


def test_sparse_embeddings_train_with_sparse_adam_to_the_same_auc():
    X, y = make_ctr_classification(n_samples=6000, n_fields=6, cardinality=50, random_state=1)
    common = {
        "embed_dim": 8,
        "max_epochs": 4,
        "lr": 1e-2,
        "batch_size": 128,
        "n_threads": 1,
        "random_state": 0,
    }
    dense = FMClassifier(**common).fit(X[:4000], y[:4000])
    sparse = FMClassifier(sparse_embeddings=True, **common).fit(X[:4000], y[:4000])
    assert sparse._optimizers == ["optimizer", "optimizer_sparse"]
    tables = sparse.optimizer_sparse_.param_groups[0]["params"]
    assert len(tables) == 2 and all(p.ndim == 2 for p in tables)  # embedding + order-1 table
    assert all(m.sparse for m in sparse.module_.modules() if isinstance(m, torch.nn.Embedding))
    aucs = [roc_auc_score(y[4000:], m.predict_proba(X[4000:])[:, 1]) for m in (dense, sparse)]
    assert aucs[1] > 0.7 and abs(aucs[0] - aucs[1]) < 0.02, aucs


@pytest.mark.slow
def test_sparse_embeddings_under_ddp_on_gloo_equal_one_process(odd_data):
    X, y = odd_data
    params = {**DDP, "sparse_embeddings": True, "max_epochs": 2}
    single = DeepFMClassifier(batch_size=128, **params).fit(X, y)
    ddp = DeepFMClassifier(batch_size=64, devices=2, **params).fit(X, y)
    assert ddp._optimizers == ["optimizer", "optimizer_sparse"]
    assert weights_gap(single, ddp) < 1e-5  # measured 5.7e-7: gloo all-reduces sparse gradients


def test_sparse_embeddings_are_refused_where_ddp_would_use_nccl():
    from sk_ctr.training.distributed import check_sparse_gradients

    with pytest.raises(ValueError, match="sparse_embeddings=True.*cannot all-reduce over NCCL"):
        check_sparse_gradients(ParallelPlan("spawn", 2, (0, 1)), sparse_embeddings=True)
    check_sparse_gradients(ParallelPlan("spawn", 2, (0, 1)), sparse_embeddings=False)
    check_sparse_gradients(ParallelPlan("spawn", 2), sparse_embeddings=True)  # gloo on CPU
    check_sparse_gradients(ParallelPlan("dp", 2, (0, 1)), sparse_embeddings=True)


@pytest.mark.slow
def test_joining_a_torchrun_process_group(odd_data, single_process_fit, tmp_path):
    """Two ranks launched by torchrun join its gloo group; both return the same model, equal to
    one process with the global batch."""
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, numpy as np, torch.distributed as dist
        from sk_ctr import DeepFMClassifier
        from sk_ctr.datasets import make_ctr_classification
        dist.init_process_group("gloo")
        X, y = make_ctr_classification(n_samples=2011, n_fields=4, cardinality=20, n_numeric=2,
                                       random_state=0)
        est = DeepFMClassifier(batch_size=64, max_epochs=2, **{DDP!r}).fit(X, y)
        rank = dist.get_rank()
        np.save(os.path.join({str(tmp_path)!r}, f"proba{{rank}}.npy"), est.predict_proba(X))
        dist.barrier()
        dist.destroy_process_group()
    """)
    )
    port = str(_free_port())  # torchrun's --master_port 0 waits forever for its rendezvous
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    done = subprocess.run(
        [*launcher, "--master_port", port, str(script)],
        env=child_env(),
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ranks = [np.load(tmp_path / f"proba{r}.npy") for r in (0, 1)]
    np.testing.assert_array_equal(ranks[0], ranks[1])
    X, _ = odd_data
    np.testing.assert_allclose(ranks[0], single_process_fit.predict_proba(X), atol=1e-5)


@pytest.mark.slow
def test_every_epoch_partitions_the_rows_across_ranks(tmp_path):
    from shard_probe import shard_rows

    torch.multiprocessing.spawn(
        shard_rows, args=(str(tmp_path), 2, _free_port()), nprocs=2, join=True
    )
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    for share in (True, False):
        partitions = [
            sorted(ranks[0][share][e] + ranks[1][share][e]) == list(range(100)) for e in range(3)
        ]
        # with the state shared every epoch is a partition; without it epochs 2-3 overlap
        assert partitions == ([True] * 3 if share else [True, False, False]), share
