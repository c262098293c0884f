"""CatBoost on a validation split with and without its combinations of categorical columns.

CatBoost's CPU default combines up to four categorical columns into target statistics
(``max_ctr_complexity=4``); with ``max_ctr_complexity=1`` it uses single columns only. The
difference is what separates CatBoost from the networks on Frappe (docs/defaults.md). Fitted on
the 80 % of the training part that benchmarks/defaults_selection.py fits on, scored on its 20 %
(the test part is never loaded), early stopping on 10 % of the fitting rows.

    SK_CTR_DATA=../shared/data GOMP_SPINCOUNT=1000 python benchmarks/catboost_ablation.py \\
        --data frappe
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from defaults_selection import validation_split  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="frappe")
    parser.add_argument("--split-seed", type=int, default=1)
    args = parser.parse_args(argv)
    import catboost

    X_fit, y_fit, X_val, y_val = validation_split(args.data, args.split_seed)
    X_fit, X_val = X_fit.astype(str), X_val.astype(str)
    X_tr, X_es, y_tr, y_es = train_test_split(
        X_fit, y_fit, test_size=0.1, random_state=0, stratify=y_fit
    )
    for complexity in (None, 1):
        settings = {} if complexity is None else {"max_ctr_complexity": complexity}
        model = catboost.CatBoostClassifier(
            random_seed=0, thread_count=1, verbose=False, early_stopping_rounds=50, **settings
        )
        model.fit(X_tr, y_tr, cat_features=list(X_tr.columns), eval_set=(X_es, y_es))
        proba = model.predict_proba(X_val)[:, 1]
        print(
            f"max_ctr_complexity={complexity or 'default'}: AUC {roc_auc_score(y_val, proba):.4f}"
            f"  log-loss {log_loss(y_val, proba):.4f}  trees {model.tree_count_}"
        )


if __name__ == "__main__":
    main()
