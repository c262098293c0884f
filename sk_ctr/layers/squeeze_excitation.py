"""Field re-weighting by squeeze-and-excitation: one learned importance per field and sample."""

import torch
from torch import nn


class SENETLayer(nn.Module):
    """FiBiNET's SENET layer (Huang et al., RecSys 2019, section "SENET Layer"): re-weights each
    field embedding by an importance computed from all fields of the sample.

    * squeeze: each field embedding is mean-pooled to a scalar, z_i = 1/k sum_t e_i^(t);
    * excitation: two fully connected layers without bias around a bottleneck of
      ``max(1, int(m / reduction_ratio))`` units, A = sigma_2(W_2 sigma_1(W_1 z)), ReLU for
      both activations (as in DeepCTR and the authors' released code);
    * re-weight: v_i = a_i e_i.

    Parameters
    ----------
    n_fields : int
        Number of fields m.
    reduction_ratio : float, default=3
        Ratio r of the bottleneck: W_1 is (m / r) x m and W_2 is m x (m / r) (DeepCTR's
        default r = 3). At least one unit is kept.

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size, n_fields, embed_dim)
    """

    def __init__(self, n_fields, reduction_ratio=3):
        super().__init__()
        reduced = max(1, int(n_fields / reduction_ratio))
        self.squeezed_to_reduced = nn.Linear(n_fields, reduced, bias=False)
        self.reduced_to_weights = nn.Linear(reduced, n_fields, bias=False)

    def field_weights(self, embeddings):
        """The importances A = (a_1, ..., a_m) of each sample's fields (squeeze, excitation).

        Returns
        -------
        torch.Tensor of shape (batch_size, n_fields)
        """
        squeezed = embeddings.mean(dim=2)
        return torch.relu(self.reduced_to_weights(torch.relu(self.squeezed_to_reduced(squeezed))))

    def forward(self, embeddings):
        return embeddings * self.field_weights(embeddings).unsqueeze(-1)
