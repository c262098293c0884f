"""AutoFIS: automatic feature-interaction selection, a search stage and a re-train stage in one
``fit`` (Liu et al., KDD 2020)."""

from __future__ import annotations

import time
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.dataset import Dataset
from skorch.utils import to_device

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.models import INTERACTIONS_CONSTRAINTS
from sk_ctr.estimators.parameter_docs import (
    ACTIVATION,
    DROPOUT,
    EMBED_DIM,
    INIT_STD_FACTORIZATION,
    parameters,
    training_parameters,
)
from sk_ctr.layers.field_products import all_interactions
from sk_ctr.models.autofis import BASES, AutoFISNet
from sk_ctr.training.loader import SliceLoader
from sk_ctr.training.optim import GRDA

__all__ = ["AutoFISClassifier"]

#: Parameters of the GatedInteraction searched by GRDA (AutoFISNet.search_gates).
_SEARCH_PREFIX = "search_gates."
#: ``grda_c="auto"``: how many random-walk spreads beyond alpha_0 a gate's accumulator must end
#: to stay open (chosen on validation splits of the training parts, docs/autofis.md).
AUTO_NOISE_MULTIPLE = 2.0
#: ``search_epochs="auto"``: the fewest optimizer steps a search takes, and its epoch cap.
AUTO_SEARCH_STEPS, AUTO_MAX_SEARCH_EPOCHS = 150, 10


class AutoFISClassifier(CTRClassifier):
    __doc__ = f"""AutoFIS: learn which feature interactions a factorization model needs, drop the
    others, and re-train the model on the rest.

    **Search stage.** Every pairwise interaction of the base model gets a gate, an architecture
    parameter alpha, on its batch-normalised value: l = <w, x> + sum alpha_(i,j) BN(<e_i, e_j>)
    (AutoFIS eq. 10, 12). alpha is trained by GRDA (eq. 13), which sets unhelpful gates to
    exactly zero, jointly with the other weights trained by ``optimizer`` on the same batches
    (one-level optimisation, eq. 14; one forward/backward per batch).
    **Re-train stage.** A fresh model keeps only the interactions with alpha != 0 (closed
    gates are not computed at all) and keeps alpha as an attention weight trained with the
    other weights (eq. 15), for ``max_epochs`` epochs; early stopping applies here.

    With ``order=3`` a second search follows over all field triples, with the selected pairs
    kept in the model (AutoFIS section 4.2.3), and the model is re-trained on the selected pairs
    and triples. The selection transfers to other models: pass ``selected_interactions_`` as
    the ``interactions`` of :class:`~sk_ctr.FMClassifier`, :class:`~sk_ctr.DeepFMClassifier`,
    :class:`~sk_ctr.PNNClassifier` (AutoIPNN, section 4.4), or (pairs only) FFM, FwFM, AFM and
    Wide & Deep with an FM wide part.

    Parameters
    ----------
    base : {{"fm", "deepfm", "ipnn"}}, default="deepfm"
        The factorization model: AutoFM, AutoDeepFM (y = l + MLP(E), eq. 7) or AutoIPNN
        (y = MLP([E, gated products]), eq. 8).
    order : {{2, 3}}, default=2
        Highest interaction order searched.
    grda_c : float or "auto", default="auto"
        GRDA's sparsity strength c (Table 9: 0.0005 for AutoDeepFM; 0.005 for AutoFM on Avazu).
        Larger closes more gates; the threshold grows with the number of steps T of the search,
        so a good c depends on the data size. ``"auto"`` runs the search as plain dual
        averaging (c = 0: no gate is pruned while the embeddings are still learning which
        interactions matter) and applies one threshold at its end: a gate stays open only if
        its accumulator a_T = alpha_0 - gamma sum_t grad_t moved away from zero by more than
        ``AUTO_NOISE_MULTIPLE`` times the spread gamma (sum_t grad_t^2)^(1/2) a zero-mean
        gradient would give it: alpha = S(a_T, g) with g = |alpha_0| + 2 gamma (sum_t
        grad_t^2)^(1/2), GRDA's soft threshold. The multiple was chosen on validation splits
        of the training parts (docs/autofis.md).
    grda_mu : float, default=0.8
        GRDA's threshold growth exponent mu, in (0.5, 1) (Table 9: 0.8).
    grda_lr : float, default=1.0
        GRDA's step size gamma. The threshold after t steps is c gamma^(1/2) (t gamma)^mu:
        with gamma = 1e-3 it stays below 1e-3 for a million steps and GRDA barely prunes, so
        alpha gets its own, larger step size.
    search_epochs : int or "auto", default="auto"
        Epochs of each search stage. ``"auto"``: enough epochs for ``AUTO_SEARCH_STEPS`` (150)
        optimizer steps, at most ``AUTO_MAX_SEARCH_EPOCHS`` (10) and at least one. A shorter
        search ends while the embeddings are still learning which interactions matter, and its
        selection is a coin toss (measured in docs/autofis.md).
    search_only : bool, default=False
        Stop after the search: the estimator predicts with the searched model (gates closed by
        GRDA contribute nothing) and ``history_`` stays empty.
    bilevel : bool, default=False
        DARTS-style search for comparison (Table 8): the training rows are halved, the weights
        step on batches of one half and alpha on batches of the other, alternately.
    batch_norm : bool, default=True
        Batch-normalise the kept interactions in the re-train stage (``False`` is AutoFM-BN of
        Table 6). The search always normalises.
    keep_alpha : bool, default=True
        Keep alpha as a learned attention weight in the re-train stage, starting from its
        searched value (``False`` fixes it at 1: with ``batch_norm=False`` that is
        AutoFM-BN-alpha of Table 6, a plain model on the selected interactions).
    alpha_init : float, default=0.6
        Initial alpha of every searched interaction (the authors' code uses 0.6).
    interactions : list of tuple of str, default=None
        Candidate pairs (and triples with ``order=3``) to search among; ``None`` searches them
        all.
{parameters(EMBED_DIM, INIT_STD_FACTORIZATION)}
    hidden_units : tuple of int, default=(400, 400, 400)
        Hidden layers of the MLP (unused with ``base="fm"``).
{parameters(ACTIVATION, DROPOUT)}
    mlp_batch_norm : bool, default=False
        Batch normalisation in the MLP (the paper's DeepFM on Criteo uses it).
{parameters(*training_parameters())}

    Attributes
    ----------
    interaction_importances_ : pandas.Series
        |alpha| of every searched interaction after the search, indexed by tuples of field
        names (pairs, then triples), in search order; 0 for a closed gate.
    interaction_alphas_ : pandas.Series
        The signed alpha behind ``interaction_importances_``.
    selected_interactions_ : list of tuple of str
        The interactions whose gate stayed open (alpha != 0), re-trained and transferable.
    search_history_ : list of dict
        Per search epoch: ``stage`` (the order searched), ``epoch``, ``train_loss``,
        ``n_open`` (open gates) and ``dur`` (seconds).
    search_time_ : float
        Seconds spent in the search stage(s).
    module_, history_, classes_, preprocessor_ ...
        As :class:`~sk_ctr.estimators.base.CTRClassifier`; ``module_`` is an
        :class:`~sk_ctr.models.autofis.AutoFISNet`.

    Examples
    --------
    >>> from sk_ctr import AutoFISClassifier
    >>> from sk_ctr.datasets import make_interaction_dataset
    >>> X, y = make_interaction_dataset(n_samples=20000, random_state=0)  # planted: see below
    >>> est = AutoFISClassifier(base="fm", grda_c=0.05, search_epochs=3, max_epochs=3,
    ...                         lr=1e-2, batch_size=256, random_state=0).fit(X, y)
    >>> len(est.interaction_importances_)  # the 15 pairs of 6 fields were searched
    15
    >>> sorted(est.selected_interactions_)  # GRDA closed all gates but the planted pairs'
    [('x0', 'x1'), ('x2', 'x5'), ('x3', 'x4')]
    >>> est.predict_proba(X).shape  # the re-trained model
    (20000, 2)
    """

    _network = AutoFISNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **{name: MLP_CONSTRAINTS[name] for name in ("hidden_units", "activation", "dropout")},
        **INTERACTIONS_CONSTRAINTS,
        "base": [StrOptions(set(BASES))],
        "order": [Interval(Integral, 2, 3, closed="both")],
        "grda_c": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "grda_mu": [Interval(Real, 0, 1, closed="neither")],
        "grda_lr": [Interval(Real, 0, None, closed="neither")],
        "search_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "search_only": ["boolean"],
        "bilevel": ["boolean"],
        "batch_norm": ["boolean"],
        "keep_alpha": ["boolean"],
        "alpha_init": [Interval(Real, None, None, closed="neither")],
        "mlp_batch_norm": ["boolean"],
    }

    def __init__(
        self,
        *,
        base="deepfm",
        order=2,
        grda_c="auto",
        grda_mu=0.8,
        grda_lr=1.0,
        search_epochs="auto",
        search_only=False,
        bilevel=False,
        batch_norm=True,
        keep_alpha=True,
        alpha_init=0.6,
        interactions=None,
        embed_dim=10,
        init_std=0.01,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.5,
        mlp_batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.base = base
        self.order = order
        self.grda_c = grda_c
        self.grda_mu = grda_mu
        self.grda_lr = grda_lr
        self.search_epochs = search_epochs
        self.search_only = search_only
        self.bilevel = bilevel
        self.batch_norm = batch_norm
        self.keep_alpha = keep_alpha
        self.alpha_init = alpha_init
        self.interactions = interactions
        self.embed_dim = embed_dim
        self.init_std = init_std
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.mlp_batch_norm = mlp_batch_norm

    # ------------------------------------------------------------ stages
    def _pretrain(self, X_search, y_search):
        """Run the search stage(s) on the training rows, then build the re-train model on the
        selection."""
        kept, kept_alpha, alphas = [], [], []
        self.search_history_ = []
        start = time.perf_counter()
        for order in range(2, self.order + 1):
            self._start_stage(
                f"AutoFIS: search stage over order-{order} interactions",
                interactions=kept,
                alpha=kept_alpha,
                search=self._candidates(order),
            )
            self._search(X_search, y_search, order)
            if self.grda_c == "auto":
                self._close_noise_gates()
            # Kept tuples carry their alpha on; pairs kept at order 2 were trained further by
            # the dense optimizer while triples were searched.
            gates, search_gates = self.module_.gates, self.module_.search_gates
            names = self._names(search_gates.interactions)
            alpha = search_gates.alpha.detach().cpu().numpy().astype(np.float64)
            alphas.append(pd.Series(alpha, index=pd.Index(names, tupleize_cols=False)))
            kept = self._names(gates.interactions) + [
                name for name, value in zip(names, alpha, strict=True) if value != 0
            ]
            kept_alpha = gates.alpha.detach().cpu().tolist() + alpha[alpha != 0].tolist()
        self.search_time_ = time.perf_counter() - start
        self.interaction_alphas_ = pd.concat(alphas)
        self.interaction_importances_ = self.interaction_alphas_.abs()
        self.selected_interactions_ = kept
        if self.search_only:
            return
        self._start_stage(
            f"AutoFIS: re-train stage on {len(kept)} of "
            f"{len(self.interaction_alphas_)} interactions",
            interactions=kept,
            alpha=kept_alpha if self.keep_alpha else [1.0] * len(kept),
            search=[],
            batch_norm=self.batch_norm,
            learn_alpha=self.keep_alpha,
        )

    def _start_stage(self, reason, **stage):
        """A new network for a stage, built from the stage's arguments of AutoFISNet
        (``interactions``, ``alpha``, ``search`` ...: data of this call, never kept on the
        estimator), placed as skorch places a network, and its optimizers."""
        if self.verbose:
            print(reason)
        network = to_device(self._build_network(**stage), self.device)
        self.module_ = self.torch_compile(network, name="module")
        self._initialize_optimizer()

    def _candidates(self, order):
        if self.interactions is None:
            n_fields = sum(f.kind in ("categorical", "numeric") for f in self.schema_)
            return all_interactions(n_fields, order)
        return [tuple(t) for t in self.interactions if len(t) == order]

    def _names(self, interactions):
        names = self.module_.field_names
        return [tuple(names[i] for i in fields) for fields in interactions]

    def _search(self, X, y, order):
        """Train alpha (GRDA) and the weights (``optimizer``) together for ``search_epochs``."""
        if self.bilevel:
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            rows = np.random.default_rng(seed).permutation(len(y))
            half = len(rows) // 2
            weight_rows, alpha_rows = rows[:half], rows[half:]
            weight_loader = self._loader(X[weight_rows], y[weight_rows])
            alpha_loader = self._loader(X[alpha_rows], y[alpha_rows])
        else:
            loader = self._loader(X, y)
        n_epochs = self._search_epochs(len(y) // 2 if self.bilevel else len(y))
        for epoch in range(1, n_epochs + 1):
            start, losses = time.perf_counter(), []
            if self.bilevel:
                for weight_batch, alpha_batch in zip(weight_loader, alpha_loader, strict=False):
                    losses.append(self._bilevel_step(weight_batch, alpha_batch))
            else:
                for batch in loader:
                    step = self.train_step(batch)
                    losses.append(step["loss"].detach())
            loss = float(torch.stack(losses).mean()) if losses else float("nan")
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"The training loss became {loss} in epoch {epoch} of the AutoFIS search "
                    f"over order-{order} interactions; lower lr / grda_lr or raise l2."
                )
            alpha = self.module_.search_gates.alpha
            self.search_history_.append(
                {
                    "stage": order,
                    "epoch": epoch,
                    "train_loss": loss,
                    "n_open": int((alpha != 0).sum()),
                    "dur": time.perf_counter() - start,
                }
            )

    def _search_epochs(self, n_rows):
        """``search_epochs``, or for ``"auto"`` the epochs that make ``AUTO_SEARCH_STEPS``."""
        if self.search_epochs != "auto":
            return self.search_epochs
        steps_per_epoch = -(-n_rows // self.batch_size)
        return int(np.clip(-(-AUTO_SEARCH_STEPS // steps_per_epoch), 1, AUTO_MAX_SEARCH_EPOCHS))

    def _bilevel_step(self, weight_batch, alpha_batch):
        """Weights step on one batch, alpha on another (first-order DARTS)."""
        self._zero_grad_optimizer()
        loss = self.train_step_single(weight_batch)["loss"]
        for name in self._optimizers:  # optimizer_, and optimizer_sparse_ for sparse tables
            if name != "optimizer_alpha":
                getattr(self, name + "_").step()
        self._zero_grad_optimizer()
        self.train_step_single(alpha_batch)
        self.optimizer_alpha_.step()
        return loss.detach()

    def _loader(self, X, y):
        return SliceLoader(Dataset(X, y), batch_size=self.batch_size, shuffle=True)

    def _trains_network(self):
        """The re-train stage follows the search, unless ``search_only`` (then skorch's
        train-begin and train-end notifications never come, so early stopping never sees an
        empty history)."""
        return not self.search_only

    # ------------------------------------------------------ skorch hooks
    def _network_params(self):
        """The AutoFISNet of the first search stage, the network ``initialize`` builds (the
        stages' own come from :meth:`_start_stage`). The estimator's ``interactions`` (the
        candidates) and ``batch_norm`` (of the re-train stage) are not the network's arguments
        of those names."""
        return {
            "interactions": [],
            "alpha": [],
            "search": self._candidates(2),
            "batch_norm": True,
            "learn_alpha": True,
        }

    def _own_optimizers(self, named_parameters):
        """GRDA for the alpha under search, when there is one (``optimizer_alpha_``); the
        re-train stage trains alpha with the weights."""
        searched = {
            name: param for name, param in named_parameters if name.startswith(_SEARCH_PREFIX)
        }
        if not any(param.numel() for param in searched.values()):
            return {}
        c = 0.0 if self.grda_c == "auto" else self.grda_c  # "auto": threshold at the end
        grda = GRDA(list(searched.values()), lr=self.grda_lr, c=c, mu=self.grda_mu)
        return {"optimizer_alpha": (set(searched), grda)}

    def _close_noise_gates(self):
        """``grda_c="auto"``: GRDA's soft threshold alpha = sign(a) max(|a| - g, 0), applied
        once at the end of the search with g = |alpha_0| + ``AUTO_NOISE_MULTIPLE`` random-walk
        spreads (with c = 0 during the search, alpha is the accumulator a). The kept gates
        start the re-train stage at their shrunk alpha, as a GRDA search would leave them."""
        alpha = self.module_.search_gates.alpha
        if not alpha.numel():
            return
        spread = self.optimizer_alpha_.random_walk_scale(alpha)
        threshold = abs(self.alpha_init) + AUTO_NOISE_MULTIPLE * spread
        with torch.no_grad():
            alpha.copy_(alpha.sign() * (alpha.abs() - threshold).clamp(min=0))
        self.search_history_[-1]["n_open"] = int((alpha != 0).sum())

    def _validate_params(self):
        super()._validate_params()
        if (
            self.interactions is not None
            and self.order == 2
            and any(len(t) == 3 for t in self.interactions)
        ):
            raise ValueError(
                "The 'interactions' parameter of AutoFISClassifier holds triples but order=2; "
                "use order=3 to search triples."
            )
