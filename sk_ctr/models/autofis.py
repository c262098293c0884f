"""AutoFIS networks: factorization models whose interactions pass through gates (AutoFIS eq. 10)."""

import torch

from sk_ctr.layers import MLP, FieldEmbedding, LinearTerm
from sk_ctr.layers.gating import GatedInteraction
from sk_ctr.models.base import CTRNetwork

#: The factorization models AutoFIS is applied to (AutoFIS section 3.1, Figure 1).
BASES = ("fm", "deepfm", "ipnn")


class AutoFISNet(CTRNetwork):
    """AutoFM, AutoDeepFM or AutoIPNN: a factorization model whose interaction layer is
    l = <w, x> + sum alpha_(i,j) BN(<e_i, e_j>) (AutoFIS eq. 10 in the search stage, eq. 15 in
    the re-train stage; triples as eq. 4).

    - ``base="fm"``: y = l (eq. 6).
    - ``base="deepfm"``: y = l + MLP(E) (eq. 7); the linear term holds the only bias.
    - ``base="ipnn"``: y = MLP([E, alpha * BN(p)]) (eq. 8), the gated products fed to the MLP.

    Two gated layers: ``gates`` holds interactions whose alpha trains with the other weights (the
    kept pairs while triples are searched, everything in the re-train stage); ``search_gates``
    holds the candidates whose alpha is the architecture parameter GRDA sparsifies.

    Parameters
    ----------
    fields : sequence of Field
    base : {"fm", "deepfm", "ipnn"}
    embed_dim, init_std, hidden_units, activation, dropout
        As :class:`~sk_ctr.models.DeepFMNet` (the MLP is unused with ``base="fm"``).
    mlp_batch_norm : bool, default=False
        Batch normalisation in the MLP's hidden layers (the paper's DeepFM setting on Criteo).
    interactions : sequence of tuple of str or int, default=()
        Field tuples of ``gates``.
    alpha : sequence of float, default=None
        Initial alpha of ``interactions``, in their order; ``None`` uses ``alpha_init``.
    search : sequence of tuple of str or int, default=()
        Field tuples of ``search_gates``.
    batch_norm : bool, default=True
        Batch normalisation of ``gates`` (eq. 12). The search gates always normalise: without
        it alpha and the embeddings trade scale and alpha stops measuring importance.
    learn_alpha : bool, default=True
        Whether ``gates`` learn their alpha (``False`` fixes it at ``alpha``: AutoFM-BN-alpha).
    alpha_init : float, default=0.6
        Initial alpha of every search candidate (0.6 as the authors' code).
    """

    def __init__(
        self,
        fields,
        base="fm",
        embed_dim=10,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.0,
        mlp_batch_norm=False,
        init_std=0.01,
        interactions=(),
        alpha=None,
        search=(),
        batch_norm=True,
        learn_alpha=True,
        alpha_init=0.6,
    ):
        super().__init__(fields)
        if base not in BASES:
            raise ValueError(f"Unknown base {base!r}; choose from {list(BASES)}")
        self.base = base
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.gates = GatedInteraction(
            self.field_positions(interactions),
            self.n_fields,
            batch_norm,
            alpha_init if alpha is None else alpha,
            learn_alpha,
        )
        self.search_gates = GatedInteraction(
            self.field_positions(search), self.n_fields, True, alpha_init, True
        )
        n_terms = self.gates.products.output_dim + self.search_gates.products.output_dim
        if base == "ipnn":
            self.mlp = MLP(
                self.n_fields * embed_dim + n_terms,
                hidden_units,
                activation,
                dropout,
                mlp_batch_norm,
            )
            return
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        if base == "deepfm":
            self.mlp = MLP(
                self.n_fields * embed_dim,
                hidden_units,
                activation,
                dropout,
                mlp_batch_norm,
                output_bias=False,
            )

    def forward(self, ids, values):
        embeddings = self.embedding(ids, values)
        gated = torch.cat((self.gates(embeddings), self.search_gates(embeddings)), dim=1)
        if self.base == "ipnn":
            return self.mlp(torch.cat((embeddings.flatten(start_dim=1), gated), dim=1))
        logits = self.linear(ids, values) + gated.sum(dim=1)
        if self.base == "deepfm":
            logits = logits + self.mlp(embeddings.flatten(start_dim=1))
        return logits
