"""Learning on the real Criteo sample in ../shared/data (skipped where it is absent)."""

from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sk_ctr import CTRTransformer, DeepFMClassifier, LRClassifier
from sk_ctr.datasets import load_criteo

# Configurations selected on a validation split of the training part only, by
# benchmarks/criteo_selection.py; the test part below is scored once.
TRAINING = {
    "max_epochs": 40,
    "early_stopping": True,
    "n_iter_no_change": 3,
    "batch_size": 256,
    "random_state": 0,
}


def test_deepfm_and_lr_learn_the_real_criteo_sample(shared_data_file):
    X, y = load_criteo(shared_data_file("criteo_kaggle_10k", "train_examples.txt"))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    lr = LRClassifier(lr=1e-2, l2=0.1, preprocessor=CTRTransformer(min_frequency=10), **TRAINING)
    deepfm = DeepFMClassifier(
        lr=1e-3,
        embed_dim=10,
        hidden_units=(64, 64),
        dropout=0.5,
        preprocessor=CTRTransformer(min_frequency=5),
        **TRAINING,
    )
    lr_auc = roc_auc_score(y_test, lr.fit(X_train, y_train).predict_proba(X_test)[:, 1])
    deepfm_auc = roc_auc_score(y_test, deepfm.fit(X_train, y_train).predict_proba(X_test)[:, 1])
    # A regularised scikit-learn LogisticRegression reaches 0.745 on this split.
    assert lr_auc > 0.73
    assert deepfm_auc > 0.73
    # On 8,000 training rows the journal's ordering (DeepFM > LR, measured on 45M rows) is within
    # seed noise: over 5 seeds the two differ by -0.003..+0.003 (see
    # benchmarks/criteo_selection.py). DeepFM must not fall behind by more than that noise.
    assert deepfm_auc > lr_auc - 0.005
