"""AutoFIS's gated interactions: a learned gate on each explicit field-tuple interaction."""

import torch
from torch import nn
from torch.nn import functional as F

from sk_ctr.layers.field_products import FieldProducts


class GatedInteraction(nn.Module):
    """AutoFIS's interaction layer: alpha_(i,j) * BN(<e_i, e_j>) for each kept field tuple
    (eq. 10 with eq. 12; eq. 15 in the re-train stage; the same over triples for eq. 4).

    The batch normalisation has no affine parameters (scale 1, shift 0, eq. 12): it fixes the
    scale of every interaction so that alpha alone carries its importance, instead of
    alpha / eta and eta <e_i, e_j> trading scale (section 3.2, "Batch Normalization"). A closed
    gate is a tuple left out of ``interactions``; nothing is computed for it.

    Parameters
    ----------
    interactions : sequence of tuple of int
    n_fields : int
    batch_norm : bool, default=True
        Normalise each interaction over the mini-batch (running statistics in ``eval()``).
    alpha_init : float or sequence of float, default=0.6
        Initial alpha, one value for all or one per interaction in ``interactions`` order
        (after canonical sorting). 0.6 follows the authors' released code.
    learn_alpha : bool, default=True
        ``False`` keeps alpha fixed (AutoFM-BN-alpha of Table 6 re-trains without it).

    Attributes
    ----------
    alpha : torch.Tensor of shape (output_dim,)
        A parameter when learned, otherwise a buffer.

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size, output_dim): one gated term per interaction
    """

    def __init__(self, interactions, n_fields, batch_norm=True, alpha_init=0.6, learn_alpha=True):
        super().__init__()
        order = {
            fields: position
            for position, fields in enumerate(
                tuple(sorted(int(f) for f in t)) for t in interactions
            )
        }
        self.products = FieldProducts(interactions, n_fields)
        size = self.products.output_dim
        alpha = torch.as_tensor(alpha_init, dtype=torch.float32)
        if alpha.ndim:  # per-interaction values follow the caller's order: reorder them
            alpha = alpha[[order[fields] for fields in self.products.interactions]]
        alpha = alpha.expand(size).clone()
        if learn_alpha:
            self.alpha = nn.Parameter(alpha)
        else:
            self.register_buffer("alpha", alpha)
        self.norm = nn.BatchNorm1d(size, affine=False) if batch_norm and size else None

    @property
    def interactions(self):
        """The field tuples, in output-column order."""
        return self.products.interactions

    def forward(self, embeddings):
        products = self.products(embeddings)
        if self.norm is not None:
            # A one-row batch has no variance to normalise by: use the running statistics.
            use_batch = self.norm.training and len(products) > 1
            products = F.batch_norm(
                products,
                self.norm.running_mean,
                self.norm.running_var,
                training=use_batch,
                momentum=self.norm.momentum,
                eps=self.norm.eps,
            )
        return products * self.alpha
