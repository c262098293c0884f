"""The Deep Interest Evolution Network estimator (Zhou et al., AAAI 2019)."""

from collections.abc import Mapping
from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions
from skorch.utils import to_tensor

from sk_ctr.estimators.din import _ATTENTION_PARAMS, _BEHAVIOR_PARAMS, DINClassifier
from sk_ctr.estimators.parameter_docs import INIT_STD, parameters, training_parameters
from sk_ctr.layers.interest_evolution import EVOLUTION_MODES
from sk_ctr.models.dien import DIENNet
from sk_ctr.preprocessing.batch import LOSS_SCALE

__all__ = ["DIENClassifier"]


class DIENClassifier(DINClassifier):
    __doc__ = f"""Deep Interest Evolution Network: a GRU over the user's behaviours, then a
    GRU driven by attention to the candidate.

    DIEN (Zhou et al., AAAI 2019) replaces DIN's attention pooling of each behaviour history
    (:class:`DINClassifier`, same parameters) by two recurrent layers (section 4, Fig. 1):

    * the interest extractor, a GRU over the behaviour vectors e_t giving interest states h_t
      (eq. 1-4), trained also by the auxiliary loss of eq. 6: h_t should score the next real
      behaviour e_(t+1) above an item ê_(t+1) sampled uniformly from the history's vocabulary,
      L_aux = -mean_t [log sigma(<h_t, e_(t+1)>) + log(1 - sigma(<h_t, ê_(t+1)>))], added to
      the click loss with weight ``aux_loss_weight`` (alpha of L = L_target + alpha L_aux);
    * the interest evolving layer: attention a_t = exp(h_t W e_a) / sum_j exp(h_j W e_a) to the
      candidate e_a (eq. 7) drives a second GRU over h_t (AUGRU, eq. 9-10, by default), whose
      state after the last real behaviour is the user's interest in the candidate; it takes
      the place of the pooled history in the MLP input, next to the other fields and the
      candidate, as in DIN.

    Padding never contributes and an empty history gives the zero interest vector;
    :meth:`attention_weights` returns a_t (each row's weights sum to 1 over its real
    behaviours, 0 on an empty history). The network, embedding and training defaults are
    :class:`DINClassifier`'s (DIEN builds on DIN's base model); ``attention_hidden_units`` and
    ``attention_normalization`` are unused (DIEN's attention is the bilinear softmax of
    eq. 7). Evaluate with :func:`sk_ctr.metrics.gauc_score`.

    Parameters
    ----------
    evolution : {{"augru", "agru", "aigru"}}, default="augru"
        How the attention a_t drives the interest evolving GRU (section 4.3): "augru" scales
        the update gate by a_t (eq. 9-10, DIEN), "agru" replaces the update gate by a_t
        (eq. 8), "aigru" scales the GRU's input by a_t; the paper's ablation ranks them AUGRU >
        AGRU > AIGRU.
    aux_loss_weight : float, default=1.0
        alpha, the weight of the auxiliary loss (eq. 6) in the training loss; 0 trains the
        extractor GRU by the click loss alone (the paper's "DIEN without auxiliary loss").
        The paper leaves alpha open; 1 is what the authors' released code adds (and
        DeepCTR's default). Only training batches carry the term, never validation scores.\
{_BEHAVIOR_PARAMS}{parameters(INIT_STD)}{_ATTENTION_PARAMS}\
{parameters(*training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.dien import DIENClassifier
    >>> from sk_ctr.datasets import make_behavior_dataset
    >>> X, y = make_behavior_dataset(n_samples=2000, max_history=10, random_state=0)
    >>> behavior = {{"hist_item_id": "item_id", "hist_cate_id": "cate_id"}}
    >>> est = DIENClassifier(behavior=behavior, hidden_units=(32,), max_epochs=2,
    ...                      random_state=0).fit(X, y)
    >>> est.attention_weights(X.head(3)).shape == (3, est.preprocessor_.sequence_length_)
    True
    """

    _network = DIENNet
    _parameter_constraints = {
        **DINClassifier._parameter_constraints,
        "evolution": [StrOptions(set(EVOLUTION_MODES))],
        "aux_loss_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, *, evolution="augru", aux_loss_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.evolution = evolution
        self.aux_loss_weight = aux_loss_weight

    def infer(self, x, **fit_params):
        """Forward a batch; a training batch also gets the auxiliary loss from the network
        (``auxiliary=True``: the extractor's states computed once serve the logits and eq. 6;
        negatives drawn by torch's seeded generator). Through DDP's wrapper, so its gradient
        is synchronised with the rest."""
        if self.aux_loss_weight > 0 and self.module_.training:
            fit_params = {**fit_params, "auxiliary": True}
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """DIN's loss on the logits plus ``aux_loss_weight`` times the auxiliary loss of eq. 6
        when the forward returned it (training batches: ``(logits, auxiliary loss)``).

        The auxiliary loss is a mean over the batch's steps, like the click loss a mean over
        its samples, so a DDP rank weighs it by its share of the global batch
        (``loss_scale``) as it does the click loss.
        """
        if not isinstance(y_pred, tuple):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        logits, auxiliary = y_pred
        loss = super().get_loss(logits, y_true, X=X, training=training)
        # nn.DataParallel (strategy="dp", GPUs) gathers one auxiliary loss per replica, each
        # the mean over its part of the batch: their mean
        auxiliary = self.aux_loss_weight * auxiliary.mean()
        scale = X.get(LOSS_SCALE) if isinstance(X, Mapping) else None
        if scale is not None:
            auxiliary = auxiliary * to_tensor(scale, self.device)[0]
        return loss + auxiliary
