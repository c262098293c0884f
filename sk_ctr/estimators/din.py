"""The Deep Interest Network estimator and the base model it is compared with (DIN paper)."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
import torch.distributed as dist
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, StrOptions

from sk_ctr.estimators.base import (
    EMBEDDING_CONSTRAINTS,
    MLP_CONSTRAINTS,
    CTRClassifier,
)
from sk_ctr.estimators.parameter_docs import INIT_STD, parameters, training_parameters
from sk_ctr.layers.attention import POOLING_MODES
from sk_ctr.models.din import BEHAVIOR_GROUPINGS, DINNet, EmbeddingMLPNet
from sk_ctr.preprocessing import CTRTransformer
from sk_ctr.preprocessing.batch import IDS, LENGTHS, SEQUENCES
from sk_ctr.training.distributed import ranks_using

__all__ = ["EmbeddingMLPClassifier", "DINClassifier"]

#: The parameters of DIN and its base model before ``init_std``.
_BEHAVIOR_PARAMS = """
    behavior : dict of str to str, default=None
        ``{history_column: candidate_column}``, e.g. ``{"hist_item_id": "item_id",
        "hist_cate_id": "cate_id"}``: each history column holds the items a user interacted
        with (lists, tuples, arrays or delimited strings, oldest first) and shares the
        vocabulary and the embedding rows of its candidate column. Passed to the
        :class:`~sk_ctr.CTRTransformer` fitted on raw input; ignored when ``X`` is already
        encoded ``FieldData`` (its schema says which histories share which candidate).
    max_sequence_length : int or None, default=50
        Items kept per history (the most recent); ``None``: the longest history seen in fit.
    sequence_delimiter : str, default="|"
        Separator of the items of string cells.
    sequence_pooling : {"sum", "mean"}, default="sum"
        Pooling of the sequences that attention does not pool: every sequence in
        ``EmbeddingMLPClassifier`` (section 4.1: "e.g. sum operation"), the multi-valued
        columns without a candidate in ``DINClassifier``. Masked by the true lengths; an empty
        sequence pools to the zero vector.
    embed_dim : int, default=16
        Size of the embeddings of every id.
    hidden_units : tuple of int, default=(200, 80)
        Widths of the MLP on the concatenated embeddings (Fig. 2: 200-80, then the output).
    activation : {"dice", "prelu", "relu", "tanh", "sigmoid"}, default="dice"
        Activation of the MLP and of the activation unit: Dice (eq. 5-8) or PReLU (eq. 4) in
        the paper, which reports Dice converging faster and to a better GAUC.
    dropout : float, default=0.0
        Probability of dropping a unit of the MLP's hidden layers.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear map of the MLP.
"""

#: The parameters of DIN and its base model after ``init_std``.
_ATTENTION_PARAMS = """
    attention_hidden_units : tuple of int, default=(36,)
        Hidden widths of DIN's activation unit (Fig. 2: 36). Unused by
        ``EmbeddingMLPClassifier``.
    attention_normalization : {None, "softmax"}, default=None
        None keeps the raw activation-unit outputs as the weights of eq. 3 (the paper: the
        weights need not sum to one, so the interest vector keeps the intensity of the
        interest); "softmax" normalises them over each row's real behaviours. Padding has
        weight 0 and an empty history pools to the zero vector either way. Unused by
        ``EmbeddingMLPClassifier``.
    behavior_grouping : {"concat", "separate"}, default="concat"
        "concat": the histories are aligned by position (item, category ... of the same past
        click) and concatenated into one goods vector per position, scored by one activation
        unit against the concatenated candidates (the paper's goods of good_id, shop_id,
        cate_id); every row's histories must then have the same length, else ``fit`` and
        ``predict`` raise. "separate": one activation unit and one set of weights per
        history. Unused by ``EmbeddingMLPClassifier``.
    adaptive_l2 : float, default=0.0
        lambda of DIN's adaptive regularisation (eq. 9-10): each mini-batch adds
        ``adaptive_l2 / 2 * sum_i ||w_i||^2 / n_i`` over the distinct embedding rows i it
        uses (each once), n_i being the id's training count (``preprocessor_.frequencies_``,
        or counted in the training data when ``X`` is encoded ``FieldData``). Rare ids are
        shrunk hard, frequent ones barely (the paper uses 0.01). ``l2``, the plain L2 on
        every row each sample uses (history items included), can be combined with it.
"""

SEQUENCE_CONSTRAINTS = {
    "behavior": [dict, None],
    "max_sequence_length": [Interval(Integral, 1, None, closed="left"), None],
    "sequence_delimiter": [str],
    "sequence_pooling": [StrOptions(set(POOLING_MODES))],
    "attention_hidden_units": [list, tuple],
    "attention_normalization": [StrOptions({"softmax"}), None],
    "behavior_grouping": [StrOptions(set(BEHAVIOR_GROUPINGS))],
    "adaptive_l2": [Interval(Real, 0, None, closed="left")],
}


class _BehaviorClassifier(CTRClassifier):
    """What DIN and its base model share: the parameters, the preprocessing of sequence
    columns and the regularisation of the rows history items use."""

    _accepts_sequences = True
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        **SEQUENCE_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        behavior=None,
        max_sequence_length=50,
        sequence_delimiter="|",
        sequence_pooling="sum",
        embed_dim=16,
        hidden_units=(200, 80),
        activation="dice",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
        attention_hidden_units=(36,),
        attention_normalization=None,
        behavior_grouping="concat",
        adaptive_l2=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.behavior = behavior
        self.max_sequence_length = max_sequence_length
        self.sequence_delimiter = sequence_delimiter
        self.sequence_pooling = sequence_pooling
        self.embed_dim = embed_dim
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init_std = init_std
        self.attention_hidden_units = attention_hidden_units
        self.attention_normalization = attention_normalization
        self.behavior_grouping = behavior_grouping
        self.adaptive_l2 = adaptive_l2

    def _validate_params(self):
        super()._validate_params()
        units = self.attention_hidden_units
        if not all(isinstance(u, Integral) and u > 0 for u in units):
            raise ValueError(
                f"The 'attention_hidden_units' parameter of {type(self).__name__} must be a "
                f"sequence of positive ints. Got {units!r} instead."
            )

    def _make_preprocessor(self):
        """The ``preprocessor`` (a CTRTransformer) with this estimator's ``behavior``,
        ``max_sequence_length`` and ``sequence_delimiter``, which replace its own."""
        preprocessor = super()._make_preprocessor()
        if not isinstance(preprocessor, CTRTransformer):
            raise ValueError(
                f"The 'preprocessor' parameter of {type(self).__name__} must be a "
                f"CTRTransformer (it receives behavior, max_sequence_length and "
                f"sequence_delimiter); got {type(preprocessor).__name__}. Encode with your "
                "own pipeline and pass FieldData instead."
            )
        return preprocessor.set_params(
            behavior=self.behavior,
            max_sequence_length=self.max_sequence_length,
            sequence_delimiter=self.sequence_delimiter,
        )

    def _prepare_network(self, context):
        """With ``adaptive_l2``, the network stores the inverse id frequencies: the counts n_i
        of eq. 10, per local id of every field with a vocabulary, from the transformer, or
        counted in the encoded ``X`` the fit got (``context.X``)."""
        if self.adaptive_l2 > 0:
            preprocessor = getattr(self, "preprocessor_", None)
            if isinstance(preprocessor, Pipeline):  # steps before the CTRTransformer (BST's)
                preprocessor = preprocessor[-1]
            frequencies = (
                count_ids(context.X) if preprocessor is None else preprocessor.frequencies_
            )
            self.module_.set_frequencies(frequencies)

    def _batch_penalty(self, network, inputs, loss_scale):
        """In training, ``adaptive_l2`` times DIN's frequency-scaled penalty of the distinct
        rows the mini-batch uses (eq. 10), next to the ``l2`` of :class:`CTRClassifier` (on
        the rows each sample uses, history items included).

        That penalty is not a per-sample mean, so a DDP rank (its batch carries a
        ``loss_scale``) does not weigh it by its share of the global batch as it does the
        rest: it adds ``world_size / c_i`` times the term of each row i it uses, c_i being the
        number of ranks using the row, and DDP's average of the ranks' gradients is then
        exactly the penalty's gradient on the global batch.
        """
        if self.adaptive_l2 == 0:
            return 0.0
        if loss_scale is None:  # one process: the batch is the global batch
            return self.adaptive_l2 * network.adaptive_penalty(**inputs)
        world_size = dist.get_world_size()
        # a rank left without rows carries one row with weight 0 (rank_share): no rows of its own
        empty = float(loss_scale[0]) == 0.0

        def share(rows):
            users = ranks_using(rows[:0] if empty else rows, world_size)
            return torch.zeros_like(rows) if empty else world_size / users

        return self.adaptive_l2 * network.adaptive_penalty(**inputs, row_weights=share)


def count_ids(encoded):
    """Training count of every local id of each field with a vocabulary, from encoded data,
    as :attr:`CTRTransformer.frequencies_` has them: padding is not counted, and a history's
    items count for the candidate whose vocabulary it shares.

    Parameters
    ----------
    encoded : FieldData

    Returns
    -------
    dict of str to ndarray of shape (vocab_size,)
    """
    counts = {
        field.name: np.bincount(encoded[IDS][:, j], minlength=field.vocab_size)
        for j, field in enumerate(encoded.categorical_fields)
    }
    for s, field in enumerate(encoded.sequence_fields):
        items = encoded[SEQUENCES][:, s]
        real = np.arange(items.shape[1]) < encoded[LENGTHS][:, s, None]
        field_counts = np.bincount(items[real], minlength=field.vocab_size)
        name = field.name if field.shares is None else field.shares
        counts[name] = counts.get(name, 0) + field_counts
    return counts


class EmbeddingMLPClassifier(_BehaviorClassifier):
    __doc__ = f"""DIN's base model: embeddings, sum pooling of every history, and an MLP.

    Every id is embedded, each sequence column (behaviour history or multi-valued attribute)
    is pooled to one vector by a masked sum or mean, and the concatenation goes through an
    MLP (DIN section 4.1, Fig. 2 left, after Deep Crossing, Wide & Deep and YouTube's model).
    The pooling loses which past behaviour matters for the candidate, which is what
    :class:`DINClassifier` adds; both take the same parameters, so they can be compared in one
    grid (the attention parameters are unused here).

    Parameters
    ----------{_BEHAVIOR_PARAMS}{parameters(INIT_STD)}{_ATTENTION_PARAMS}\
{parameters(*training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.din import EmbeddingMLPClassifier
    >>> from sk_ctr.datasets import make_behavior_dataset
    >>> X, y = make_behavior_dataset(n_samples=2000, random_state=0)
    >>> behavior = {{"hist_item_id": "item_id", "hist_cate_id": "cate_id"}}
    >>> est = EmbeddingMLPClassifier(behavior=behavior, max_epochs=2, random_state=0).fit(X, y)
    >>> est.predict_proba(X).shape
    (2000, 2)
    """

    _network = EmbeddingMLPNet


class DINClassifier(_BehaviorClassifier):
    __doc__ = f"""Deep Interest Network: attention over the user's behaviours, per candidate.

    The base model (:class:`EmbeddingMLPClassifier`) with each behaviour history pooled by
    DIN's activation unit instead of a sum: V_u = sum_i g(V_i, V_a) V_i (eq. 3), where V_i
    embeds the i-th past behaviour, V_a the candidate and g is a small MLP of both, so the
    user's interest vector changes with the candidate and behaviours related to it dominate
    ("local activation", section 4.2). The weights are not normalised unless
    ``attention_normalization="softmax"``; padding never contributes. Dice (eq. 5-8) is the
    default activation and ``adaptive_l2`` is the paper's frequency-adaptive regularisation
    (eq. 10). Evaluate with :func:`sk_ctr.metrics.gauc_score`, the per-user AUC the paper
    reports (eq. 2).

    Parameters
    ----------{_BEHAVIOR_PARAMS}{parameters(INIT_STD)}{_ATTENTION_PARAMS}\
{parameters(*training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.din import DINClassifier
    >>> from sk_ctr.datasets import make_behavior_dataset
    >>> X, y = make_behavior_dataset(n_samples=2000, random_state=0)
    >>> behavior = {{"hist_item_id": "item_id", "hist_cate_id": "cate_id"}}
    >>> est = DINClassifier(behavior=behavior, max_epochs=2, random_state=0).fit(X, y)
    >>> est.attention_weights(X.head(3)).shape == (3, est.preprocessor_.sequence_length_)
    True
    """

    _network = DINNet

    def _encode(self, X, fit, fitted_preprocessor=None):
        encoded = super()._encode(X, fit, fitted_preprocessor)
        if fit and not self.behavior:
            warnings.warn(
                f"{type(self).__name__} was fitted without behavior=: no history is paired with "
                "a candidate column, so there is nothing for the attention (eq. 3) to compare; "
                "pass behavior={'<history column>': '<candidate column>'}.",
                UserWarning,
                stacklevel=4,
            )
        if self.behavior_grouping == "concat":
            check_aligned_histories(encoded)
        return encoded

    def attention_weights(self, X, behavior=None):
        """The weights w_i of eq. 3 that the candidate of each row gives to its past behaviours.

        Parameters
        ----------
        X : pandas.DataFrame or FieldData
        behavior : str, default=None
            The history column; ``None``: the first one. With
            ``behavior_grouping="concat"`` all histories share one set of weights.

        Returns
        -------
        ndarray of shape (n_samples, L)
            ``L`` is the padded history length; the weight of a padding position is 0. Raw
            activation-unit outputs (any sign, any sum) unless
            ``attention_normalization="softmax"``.
        """
        encoded = self._encode_for_prediction(X)  # raises NotFittedError before fit
        groups = self.module_.behavior_groups
        histories = [name for group in groups for name in group]
        if not histories:
            raise ValueError(
                "The model has no behaviour history to attend to; pass behavior= at fit."
            )
        behavior = histories[0] if behavior is None else behavior
        if behavior not in histories:
            raise ValueError(f"behavior={behavior!r} is not a history; choose from {histories}.")
        group = next(g for g, names in enumerate(groups) if behavior in names)
        return self._map_batches(
            encoded, lambda network, **inputs: network.attention_weights(**inputs)[:, group]
        )


def check_aligned_histories(encoded):
    """Raise if the behaviour histories of a row differ in length: with
    ``behavior_grouping="concat"`` position t of every history must describe the same event.

    Parameters
    ----------
    encoded : FieldData
    """
    histories = [s for s, f in enumerate(encoded.sequence_fields) if f.shares is not None]
    if len(histories) < 2:
        return
    lengths = encoded[LENGTHS][:, histories]
    differ = np.flatnonzero((lengths != lengths[:, :1]).any(axis=1))
    if differ.size:
        names = [encoded.sequence_fields[s].name for s in histories]
        row = int(differ[0])
        raise ValueError(
            f"The histories {names} are concatenated position by position "
            f"(behavior_grouping='concat'), but {differ.size} row(s) give them different "
            f"lengths, e.g. row {row}: {lengths[row].tolist()}. Align them (one item, category "
            "... per past event) or use behavior_grouping='separate'."
        )
