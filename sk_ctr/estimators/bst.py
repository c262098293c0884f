"""The Behavior Sequence Transformer estimator (Chen et al., DLP-KDD 2019)."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval

from sk_ctr.estimators.din import _BEHAVIOR_PARAMS, _BehaviorClassifier, check_aligned_histories
from sk_ctr.estimators.parameter_docs import INIT_STD, parameters, training_parameters
from sk_ctr.models.bst import BSTNet
from sk_ctr.preprocessing.batch import LENGTHS
from sk_ctr.preprocessing.time_gaps import TimeGapBuckets

__all__ = ["BSTClassifier"]

#: DIN's shared parameters up to ``embed_dim`` (BST's MLP defaults differ).
_SEQUENCE_PARAMS = _BEHAVIOR_PARAMS.split("    hidden_units :")[0]

_BST_PARAMS = """
    hidden_units : tuple of int, default=(1024, 512, 256)
        Widths of the MLP on the pooled encoder output and the other fields (section 2.4).
    activation : {"leaky_relu", "relu", "prelu", "dice", "tanh", "sigmoid"}, \
default="leaky_relu"
        Activation of the MLP (the paper: LeakyReLU).
    dropout : float, default=0.0
        Probability of dropping a unit of the MLP's hidden layers.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear map of the MLP.
"""

_OWN_PARAMS = """
    n_transformer_layers : int, default=1
        Transformer blocks b (Table 3: one block gave the best AUC).
    n_heads : int, default=8
        Heads h of the self-attention (Table 2: 8); each projects to the full width of a
        goods vector (eq. 2).
    feedforward_dim : int, default=None
        Width of the point-wise feed-forward layer of eq. 5 (the paper does not give it);
        ``None``: 4 times the goods vector's width, the Transformer's ratio.
    transformer_dropout : float, default=0.2
        Dropout of eq. 4-5 (Table 2: 0.2).
    position_column : dict of str to str, default=None
        ``{history_column: gap_column}``: the gap column holds, aligned item by item with
        the history (oldest first, same length per row), the time t(candidate) - t(behaviour)
        of each behaviour in any unit (lists, arrays or delimited strings of non-negative
        numbers), the paper's position feature pos(v_i) = t(v_t) - t(v_i) (section 2.2).
        The gaps are bucketized by floor(log2(1 + gap)) (:class:`~sk_ctr.preprocessing.\
time_gaps.TimeGapBuckets`, fitted before the transformer as part of ``preprocessor_``) and
        each bucket embedded. With ``behavior_grouping="concat"`` one gap column serves the
        group. ``None``: positions by order, a learned vector per recency rank. With
        ``FieldData`` input, name gap columns encoded as multi-valued columns (their ids are
        used as they are).
"""

_DIN_PARAMS = """
    attention_hidden_units : tuple of int, default=(36,)
        Unused, on purpose: DIN's activation unit. The behaviour-sequence estimators
        (:class:`~sk_ctr.estimators.din.EmbeddingMLPClassifier`, ``DINClassifier``,
        ``DIENClassifier``, BST) share one constructor, so one parameter grid or pipeline
        ``set_params`` serves all of them, as ``EmbeddingMLPClassifier`` and
        ``DIENClassifier`` accept it without using it; its value is validated, never read.
    attention_normalization : {None, "softmax"}, default=None
        Unused, on purpose, as ``attention_hidden_units`` (DIN's weights).
    behavior_grouping : {"concat", "separate"}, default="concat"
        "concat": the histories are aligned by position (item, category ... of the same past
        click) and their vectors concatenated into one goods vector per position, the
        candidate columns' into the candidate's (the paper's item_id and category_id), and
        one encoder reads the sequence; every row's histories must then have the same length,
        else ``fit`` and ``predict`` raise. "separate": one encoder per history.
    adaptive_l2 : float, default=0.5
        lambda of DIN's adaptive regularisation (DIN eq. 9-10) on the embedding rows each
        mini-batch uses, scaled by the inverse of the ids' training counts; 0 turns it off
        (the paper's BST has no such term). Unlike DIN's default (0), on by default: the
        encoder's MLP (1024-512-256) learns rare item and user ids by heart within two
        epochs, before the self-attention has learnt which behaviours matter. Chosen on
        validation splits of the training part of ``make_behavior_dataset(50000)`` (3
        seeds, docs/benchmarks.md "BST"): GAUC 0.666 without it (seed 0, best epoch 2),
        0.745 with 0.5 (0.747 / 0.746 / 0.743), 0.744 with 1.0; the base model 0.664. On
        the test part, 0.765 against the base model's 0.673, ahead on each of 3 seeds
        (with every training parameter at its default too: 0.698 against 0.666).
        The climb is slow (0.003-0.01 GAUC per epoch over the first 5-6 epochs, under the
        noise of a 10 % hold-out), so early stopping needs its default patience
        (``n_iter_no_change=5``; 3 was enough): with 2, 2 of the 3 seeds stopped after 4-5
        epochs at 0.673-0.679.
"""


class BSTClassifier(_BehaviorClassifier):
    __doc__ = f"""Behavior Sequence Transformer: self-attention over the behaviours and the
    candidate.

    BST (Chen et al., "Behavior Sequence Transformer for E-commerce Recommendation in
    Alibaba", DLP-KDD 2019, Fig. 1): the user's behaviours (oldest first) and the candidate
    item, each embedded (the histories share the candidate columns' rows, as in DIN) plus a
    position embedding, form one sequence; a Transformer encoder (eq. 1-5: h-head scaled
    dot-product self-attention, then a point-wise feed-forward layer with LeakyReLU, each with
    dropout, a residual connection and post-layer normalisation) lets every behaviour and the
    candidate attend to the others; its output at the candidate and the mean of its outputs
    at the behaviours, concatenated with the other fields' embeddings, go through an MLP
    (1024-512-256, LeakyReLU). Padding is masked out of every attention and pooling, and an
    empty history leaves the candidate alone. See :class:`~sk_ctr.models.bst.BSTNet` for the
    pooling (the paper concatenates its fixed-length outputs) and the positions.

    Defaults are the paper's (Table 2-3: 8 heads, 1 block, dropout 0.2, the MLP) but for
    ``adaptive_l2=0.5`` (DIN's frequency-adaptive regularisation of the ids, without which
    the MLP over-fits the item ids: see the parameter); the embedding size (16) and the
    training settings are the house's (the paper trains with lr 0.01, batch 256). Evaluate
    with :func:`sk_ctr.metrics.gauc_score`.

    Parameters
    ----------{_OWN_PARAMS}{_SEQUENCE_PARAMS}{_BST_PARAMS}{parameters(INIT_STD)}{_DIN_PARAMS}\
{parameters(*training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.bst import BSTClassifier
    >>> from sk_ctr.datasets import make_behavior_dataset
    >>> X, y = make_behavior_dataset(n_samples=2000, random_state=0)
    >>> behavior = {{"hist_item_id": "item_id", "hist_cate_id": "cate_id"}}
    >>> est = BSTClassifier(behavior=behavior, max_sequence_length=10, embed_dim=8,
    ...                     hidden_units=(32,), n_heads=2, max_epochs=2,
    ...                     random_state=0).fit(X, y)
    >>> est.predict_proba(X).shape
    (2000, 2)
    >>> est.module_.behavior_groups
    [('hist_item_id', 'hist_cate_id')]
    """

    _network = BSTNet
    _parameter_constraints = {
        **_BehaviorClassifier._parameter_constraints,
        "n_transformer_layers": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "feedforward_dim": [Interval(Integral, 1, None, closed="left"), None],
        "transformer_dropout": [Interval(Real, 0, 1, closed="left")],
        "position_column": [dict, None],
    }

    def __init__(
        self,
        *,
        behavior=None,
        max_sequence_length=50,
        sequence_delimiter="|",
        sequence_pooling="sum",
        embed_dim=16,
        hidden_units=(1024, 512, 256),
        activation="leaky_relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
        attention_hidden_units=(36,),
        attention_normalization=None,
        behavior_grouping="concat",
        adaptive_l2=0.5,
        n_transformer_layers=1,
        n_heads=8,
        feedforward_dim=None,
        transformer_dropout=0.2,
        position_column=None,
        **kwargs,
    ):
        super().__init__(
            behavior=behavior,
            max_sequence_length=max_sequence_length,
            sequence_delimiter=sequence_delimiter,
            sequence_pooling=sequence_pooling,
            embed_dim=embed_dim,
            hidden_units=hidden_units,
            activation=activation,
            dropout=dropout,
            batch_norm=batch_norm,
            init_std=init_std,
            attention_hidden_units=attention_hidden_units,
            attention_normalization=attention_normalization,
            behavior_grouping=behavior_grouping,
            adaptive_l2=adaptive_l2,
            **kwargs,
        )
        self.n_transformer_layers = n_transformer_layers
        self.n_heads = n_heads
        self.feedforward_dim = feedforward_dim
        self.transformer_dropout = transformer_dropout
        self.position_column = position_column

    def _make_preprocessor(self):
        """With ``position_column``, the gaps are bucketized before the transformer, as one
        ``Pipeline`` that ``predict`` applies again to raw frames."""
        encoder = super()._make_preprocessor()
        if not self.position_column:
            return encoder
        gaps = TimeGapBuckets(list(self.position_column.values()), self.sequence_delimiter)
        return Pipeline([("time_gaps", gaps), ("encoder", encoder)])

    def _encode(self, X, fit, fitted_preprocessor=None):
        encoded = super()._encode(X, fit, fitted_preprocessor)
        if fit and not any(f.shares is not None for f in encoded.sequence_fields):
            warnings.warn(
                f"{type(self).__name__} was fitted without behavior=: no history is paired "
                "with a candidate column, so the encoder has no sequence to read; pass "
                "behavior={'<history column>': '<candidate column>'}.",
                UserWarning,
                stacklevel=4,
            )
        if self.behavior_grouping == "concat":
            check_aligned_histories(encoded)
        check_aligned_gaps(encoded, self.position_column or {})
        return encoded


def check_aligned_gaps(encoded, position_column):
    """Raise if a gap column and its history differ in length on some row: the gap of
    position t describes the t-th behaviour.

    Parameters
    ----------
    encoded : FieldData
    position_column : dict of str to str
    """
    names = [f.name for f in encoded.sequence_fields]
    for history, gap in position_column.items():
        if history not in names or gap not in names:
            continue  # the network names what is missing
        lengths = encoded[LENGTHS][:, [names.index(history), names.index(gap)]]
        differ = np.flatnonzero(lengths[:, 0] != lengths[:, 1])
        if differ.size:
            row = int(differ[0])
            raise ValueError(
                f"position_column pairs {history!r} with the gaps {gap!r}, but {differ.size} "
                f"row(s) give them different lengths, e.g. row {row}: "
                f"{lengths[row].tolist()}. Give one gap per behaviour."
            )
