"""The model-comparison benchmark runs end to end on tiny data and prints its table."""

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.base import ClassifierMixin
from sklearn.model_selection import train_test_split

import sk_ctr
from sk_ctr.benchmark import (
    default_models,
    format_table,
    main,
    run_benchmark,
    summarize,
)
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.estimators import CTRClassifier
from sk_ctr.presets import PAPER, Protocol
from sk_ctr.reference_models import PATIENCE


@pytest.fixture(scope="module")
def tiny_split():
    X, y = make_ctr_classification(n_samples=600, n_fields=4, cardinality=10, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    return X_train, y_train, X_test, y_test


def test_every_model_spelling_builds_an_estimator_with_the_journal_settings():
    protocol = Protocol(batch_size=256, max_epochs=20, random_state=3)
    estimators = {name: factory(protocol) for name, factory in PAPER.items()}
    assert estimators["deepfm"].get_params()["embed_dim"] == 10  # FM component: k = 10
    assert estimators["dnn"].get_params()["embed_dim"] == 11  # no FM component: k = 11
    assert estimators["ipnn"].get_params()["activation"] == "tanh"  # Table III
    assert estimators["deepfm-ip"].get_params()["deep"] == "inner"
    assert estimators["fm&dnn"].get_params()["wide"] == "fm"
    assert estimators["lr"].get_params()["lr"] == 1e-2
    assert estimators["dcn"].get_params()["lr"] == 1e-3
    for name, estimator in estimators.items():
        assert estimator.get_params()["random_state"] == 3, name


def test_run_benchmark_returns_one_row_per_fit(tiny_split):
    log = io.StringIO()
    runs = run_benchmark(tiny_split, ["lr", "fm", "deepfm"], repeat=2, max_epochs=1, log=log)
    assert list(runs["model"]) == ["lr", "fm", "deepfm"] * 2
    assert list(runs["random_state"]) == [0] * 3 + [1] * 3
    assert runs["error"].isna().all()
    assert runs["auc"].between(0, 1).all() and (runs["logloss"] > 0).all()
    assert (runs["epochs"] == 1).all() and (runs["best_epoch"] == 1).all()
    assert log.getvalue().count("\n") == 7
    assert "[6/6] deepfm (random_state=1): AUC" in log.getvalue()

    table = summarize(runs)
    assert list(table.index) == ["lr", "fm", "deepfm"]
    assert table.loc["lr", "auc_vs_lr_pct"] == 0
    expected = (table.loc["fm", "auc_mean"] / table.loc["lr", "auc_mean"] - 1) * 100
    assert table.loc["fm", "auc_vs_lr_pct"] == pytest.approx(expected)
    assert table.loc["deepfm", "epochs"] == "1/1"


def test_a_failing_model_is_reported_and_the_others_still_run(tiny_split, monkeypatch):
    def broken(protocol):
        raise RuntimeError("boom")

    monkeypatch.setitem(PAPER, "fm", broken)
    log = io.StringIO()
    runs = run_benchmark(tiny_split, ["fm", "lr"], max_epochs=1, log=log)
    assert runs.loc[0, "error"] == "RuntimeError: boom" and np.isnan(runs.loc[0, "auc"])
    assert pd.isna(runs.loc[1, "error"]) and runs.loc[1, "auc"] > 0
    assert "Traceback" in log.getvalue() and "FAILED: RuntimeError: boom" in log.getvalue()
    lines = format_table(summarize(runs)).splitlines()
    assert lines[1].split() == ["fm", "failed:", "RuntimeError:", "boom"]
    assert lines[2].split()[0] == "lr"


def test_command_line_on_a_csv_file_prints_the_table(tmp_path, capsys):
    X, y = make_ctr_classification(
        n_samples=500, n_fields=3, cardinality=8, n_numeric=1, random_state=1
    )
    path = tmp_path / "clicks.csv"
    X.assign(clicked=np.where(y == 1, "yes", "no")).to_csv(path, index=False)
    argv = f"--data {path} --label clicked --models LR,fm&dnn --max-epochs 1 --threads 1"
    runs = main(argv.split())
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == "model AUC logloss train s AUC vs LR % epochs best epoch".split()
    assert out[1].split()[0] == "lr" and out[1].split()[4] == "+0.00"
    assert out[2].split()[0] == "fm&dnn" and len(out) == 3
    assert isinstance(runs, pd.DataFrame) and len(runs) == 2


def test_command_line_reads_parquet_files_as_sk_ctr_fit_does(tmp_path, capsys):
    """The benchmark reads data files with the command line's reader: every Parquet suffix,
    integer columns with nulls kept as nullable integers."""
    X, y = make_ctr_classification(
        n_samples=400, n_fields=2, cardinality=6, n_numeric=1, random_state=2
    )
    X["C1"] = pd.array(X["C1"].str[3:].astype(int), dtype="Int64")
    X.loc[::7, "C1"] = pd.NA
    path = tmp_path / "clicks.parq"
    X.assign(clicked=y).to_parquet(path, index=False)
    main(f"--data {path} --label clicked --models lr --max-epochs 1 --threads 1".split())
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[0] == "lr" and len(out) == 2


def test_markdown_table_and_argument_errors(tiny_split, capsys):
    table = summarize(run_benchmark(tiny_split, ["lr", "pnn*"], max_epochs=1, log=None))
    lines = format_table(table, markdown=True).splitlines()
    assert lines[0] == "| model | AUC | logloss | train s | AUC vs LR % | epochs | best epoch |"
    assert lines[2].startswith("| lr | 0.") and lines[3].startswith("| pnn\\* | 0.")
    with pytest.raises(SystemExit):
        main(["--models", "lr,deepfm-xp"])
    assert "unknown model(s) ['deepfm-xp']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--data", "clicks.csv"])
    assert "--label is required" in capsys.readouterr().err


def test_autofis_rows_report_the_kept_share_of_pairs(tiny_split):
    runs = run_benchmark(tiny_split, ["fm", "autofm"], max_epochs=1, log=None)
    assert np.isnan(runs.loc[0, "kept_pct"]) and 0 <= runs.loc[1, "kept_pct"] <= 100
    lines = format_table(summarize(runs), markdown=True).splitlines()
    assert lines[0].endswith("| best epoch | kept % |")
    assert lines[2].endswith("| - |") and lines[3].startswith("| autofm | 0.")


# ----------------------------------------------------------------------------------------
# Reference rows (LightGBM, CatBoost) and --defaults
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("library", ["lightgbm", "catboost"])
def test_reference_rows_fit_with_their_own_early_stopping(tiny_split, library):
    pytest.importorskip(library)
    X_train, y_train, X_test, y_test = tiny_split
    X_train = X_train.assign(tags=[["a", "b"][: i % 3] for i in range(len(X_train))])
    X_test = X_test.assign(tags=[["b"]] * len(X_test))  # lists joined, "b" unseen as a cell
    runs = run_benchmark((X_train, y_train, X_test, y_test), [library], log=None)
    assert runs["error"].isna().all(), runs["error"].iloc[0]
    assert runs.loc[0, "auc"] > 0.6  # the label is a function of the columns
    assert 1 <= runs.loc[0, "best_epoch"] <= runs.loc[0, "epochs"]
    model = PAPER[library](Protocol(batch_size=256, random_state=2))
    model.fit(X_train, y_train)
    categorical = [c for c in X_train.columns if X_train[c].dtype == object]
    assert model.categorical_columns_ == categorical and "tags" in categorical
    # its own early stopping: stopped within PATIENCE rounds of the best one, or ran out
    assert model.n_iter_ - model.best_iteration_ <= PATIENCE
    assert model.predict_proba(X_test).shape == (len(X_test), 2)


def test_reference_row_names_the_missing_extra(tiny_split, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_lightgbm(name, *args, **kwargs):
        if name == "lightgbm":
            raise ImportError("No module named 'lightgbm'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_lightgbm)
    runs = run_benchmark(tiny_split, ["lightgbm", "lr"], max_epochs=1, log=None)
    assert "pip install 'sk-ctr[bench]'" in runs.loc[0, "error"]
    assert pd.isna(runs.loc[1, "error"])


def test_defaults_mode_picks_up_every_estimator_class():
    # every classifier of the public API (sk_ctr.__all__), whichever module defines it
    defined = {
        obj
        for obj in (getattr(sk_ctr, name) for name in sk_ctr.__all__)
        if isinstance(obj, type) and issubclass(obj, ClassifierMixin) and obj is not CTRClassifier
    }
    assert len(defined) >= 17
    models = default_models()
    assert {cls.__name__ for cls in defined} | {"lightgbm", "catboost"} == set(models)
    protocol = Protocol(batch_size=256, random_state=7)
    for cls in defined:
        estimator = models[cls.__name__](protocol)
        assert type(estimator) is cls
        assert estimator.get_params(deep=False) == {
            **cls().get_params(deep=False),
            "random_state": 7,
        }


def test_command_line_defaults_mode(tiny_split, capsys):
    X_train, y_train, X_test, y_test = tiny_split
    data = (X_train, y_train, X_test, y_test)
    runs = run_benchmark(data, ["LRClassifier", "FMClassifier"], defaults=True, log=None)
    assert list(runs["model"]) == ["LRClassifier", "FMClassifier"] and runs["error"].isna().all()
    assert summarize(runs).loc["LRClassifier", "auc_vs_lr_pct"] == 0
    with pytest.raises(ValueError, match="Unknown model"):
        run_benchmark(data, ["lr"], defaults=True, log=None)  # a protocol spelling
    with pytest.raises(SystemExit):
        main(["--defaults", "--models", "deepfm"])
    assert "choose among AFMClassifier" in capsys.readouterr().err


def test_movielens_and_taobao_samples_split_80_20_with_their_labels(shared_data_file, monkeypatch):
    import sk_ctr.benchmark

    ratings = shared_data_file("movielens1m_deepctr_sample", "movielens_sample.txt")
    shared_data_file("taobao_ad_dmr_sample", "alimama_sampled_train.txt")
    monkeypatch.setenv("SK_CTR_DATA", str(ratings.parents[1]))
    X, y, X_test, y_test = sk_ctr.benchmark.load_benchmark_data("movielens")
    assert (len(X), len(X_test)) == (160, 40)
    assert "rating" not in X.columns
    assert y.sum() + y_test.sum() == 113  # ratings 4 and 5 (README: 65 + 48)
    X, y, X_test, y_test = sk_ctr.benchmark.load_benchmark_data("taobao")
    assert (len(X), len(X_test)) == (400, 100)
    assert {"hist_cate_id", "hist_brand"} <= set(X.columns)
