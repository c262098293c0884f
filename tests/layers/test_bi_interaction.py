"""NFM's Bi-Interaction pooling against its definition (float64, random inputs)."""

import pytest
import torch
from references import bi_interaction_by_definition, pairwise_interactions

from sk_ctr.layers.interaction import BiInteractionPooling, FactorizationMachine


@pytest.mark.parametrize(
    "batch_size, n_fields, embed_dim", [(5, 7, 3), (1, 2, 1), (4, 3, 16), (3, 1, 4), (1, 1, 1)]
)
def test_bi_interaction_matches_elementwise_pairwise_definition(batch_size, n_fields, embed_dim):
    emb = torch.randn(batch_size, n_fields, embed_dim, dtype=torch.float64)
    pooled = BiInteractionPooling()(emb)
    assert pooled.shape == (batch_size, embed_dim)
    torch.testing.assert_close(pooled, bi_interaction_by_definition(emb))


def test_bi_interaction_keeps_the_embedding_dimensions_apart():
    # (1, 2) * (3, 4) element-wise: a vector, not the inner product 11 that an FM would sum to.
    emb = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]], dtype=torch.float64)
    torch.testing.assert_close(
        BiInteractionPooling()(emb), torch.tensor([[3.0, 8.0]], dtype=torch.float64)
    )


def test_bi_interaction_has_no_parameters_and_sums_to_the_fm():
    # NFM eq. 5: an FM is the Bi-Interaction vector projected on h = 1.
    emb = torch.randn(6, 5, 4, dtype=torch.float64)
    assert list(BiInteractionPooling().parameters()) == []
    torch.testing.assert_close(BiInteractionPooling()(emb).sum(dim=1), pairwise_interactions(emb))
    torch.testing.assert_close(FactorizationMachine()(emb), pairwise_interactions(emb))
