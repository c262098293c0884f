"""Brute-force references of the layers, written from the papers' formulas with explicit loops
(never from the layers they check). Tests compare the layers with them in float64."""

import math

import torch


# ----------------------------------------------------------------------------------------
# Factorization machine and embeddings (DeepFM, FNN, Wide & Deep)
# ----------------------------------------------------------------------------------------
def pairwise_interactions(emb):
    """sum_{i<j} <e_i, e_j> by an explicit double loop over fields."""
    n_fields = emb.shape[1]
    total = torch.zeros(emb.shape[0], dtype=emb.dtype)
    for i in range(n_fields):
        for j in range(i + 1, n_fields):
            total = total + (emb[:, i] * emb[:, j]).sum(dim=-1)
    return total


def looked_up_rows_squared(table, ids, offsets):
    """Per-sample sum of squares of the table rows the ids select, by explicit loops."""
    return torch.stack(
        [
            sum(table[offset + ids[b, j]].pow(2).sum() for j, offset in enumerate(offsets))
            for b in range(len(ids))
        ]
    )


# ----------------------------------------------------------------------------------------
# Cross network (DCN)
# ----------------------------------------------------------------------------------------
def cross_network_by_definition(x0, weights, biases):
    """x_{l+1} = x_0 x_l^T w_l + b_l + x_l with the d x d outer product, sample by sample."""
    out = []
    for b in range(len(x0)):
        x = x0[b]
        for w, bias in zip(weights, biases, strict=True):
            x = torch.outer(x0[b], x) @ w + bias + x
        out.append(x)
    return torch.stack(out)


# ----------------------------------------------------------------------------------------
# Product layers (PNN)
# ----------------------------------------------------------------------------------------
def pairwise_inner_products(emb):
    """[<e_i, e_j> for i < j] by a double loop over fields, then over embedding dimensions."""
    batch_size, n_fields, embed_dim = emb.shape
    columns = []
    for i in range(n_fields):
        for j in range(i + 1, n_fields):
            column = torch.zeros(batch_size, dtype=emb.dtype)
            for d in range(embed_dim):
                column = column + emb[:, i, d] * emb[:, j, d]
            columns.append(column)
    return torch.stack(columns, dim=1) if columns else torch.zeros(batch_size, 0, dtype=emb.dtype)


def sum_pooled_outer_product(emb):
    """f = sum_i e_i by a loop over fields, then p[a * k + b] = f_a f_b by loops over k x k."""
    batch_size, n_fields, embed_dim = emb.shape
    pooled = torch.zeros(batch_size, embed_dim, dtype=emb.dtype)
    for i in range(n_fields):
        pooled = pooled + emb[:, i]
    return torch.stack(
        [pooled[:, a] * pooled[:, b] for a in range(embed_dim) for b in range(embed_dim)], dim=1
    )


def concatenated_fields(emb):
    """z = [e_1, ..., e_m] by a loop over fields."""
    return torch.cat([emb[:, i] for i in range(emb.shape[1])], dim=1)


def product_layer_reference(emb, product):
    parts = [concatenated_fields(emb)]
    if product in ("inner", "both"):
        parts.append(pairwise_inner_products(emb))
    if product in ("outer", "both"):
        parts.append(sum_pooled_outer_product(emb))
    return torch.cat(parts, dim=1)


# ----------------------------------------------------------------------------------------
# Field-aware, field-weighted and attentional FM (FFM, FwFM, AFM)
# ----------------------------------------------------------------------------------------
def pairs(n_fields):
    return [(i, j) for i in range(n_fields) for j in range(i + 1, n_fields)]


def ffm_reference(vectors):
    """sum_{i<j} <v_{i,F(j)}, v_{j,F(i)}>; vectors[b, i, f] is v_{i,f} of sample b."""
    batch_size, n_fields = vectors.shape[:2]
    out = torch.zeros(batch_size, dtype=vectors.dtype)
    for b in range(batch_size):
        for i, j in pairs(n_fields):
            k = vectors.shape[3]
            out[b] += sum(vectors[b, i, j, d] * vectors[b, j, i, d] for d in range(k))
    return out


def fwfm_reference(emb, pair_weight):
    """sum_{i<j} r_{ij} <e_i, e_j>, with r_{ij} = pair_weight[(i, j)]."""
    out = torch.zeros(emb.shape[0], dtype=emb.dtype)
    for i, j in pairs(emb.shape[1]):
        out = out + pair_weight[(i, j)] * (emb[:, i] * emb[:, j]).sum(dim=-1)
    return out


def afm_reference(emb, W, b, h, p):
    """Per sample: a'_ij = h . relu(W (e_i*e_j) + b), a = exp(a') / sum exp(a'),
    output p . sum_ij a_ij (e_i*e_j). Returns (outputs, attention weights)."""
    batch_size, n_fields, k = emb.shape
    emb = emb.tolist()
    outputs, all_weights = [], []
    for s in range(batch_size):
        products, scores = [], []
        for i, j in pairs(n_fields):
            product = [emb[s][i][d] * emb[s][j][d] for d in range(k)]
            hidden = [
                max(0.0, sum(W[u][d] * product[d] for d in range(k)) + b[u]) for u in range(len(h))
            ]
            products.append(product)
            scores.append(sum(h[u] * hidden[u] for u in range(len(h))))
        total = sum(math.exp(score) for score in scores)
        weights = [math.exp(score) / total for score in scores]
        pooled = [
            sum(a * product[d] for a, product in zip(weights, products, strict=True))
            for d in range(k)
        ]
        outputs.append(sum(p[d] * pooled[d] for d in range(k)))
        all_weights.append(weights)
    outputs = torch.tensor(outputs, dtype=torch.float64)
    return outputs, torch.tensor(all_weights, dtype=torch.float64)


# ----------------------------------------------------------------------------------------
# Compressed Interaction Network (xDeepFM)
# ----------------------------------------------------------------------------------------
def cin_by_definition(x0, weights, split_half, activation=lambda value: value):
    """p+ of xDeepFM by eq. 6-7, sample by sample, with loops over h, i, j and d.

    X^k[h][d] = activation(sum_i sum_j W^k[h][i][j] X^(k-1)[i][d] X^0[j][d]); with
    ``split_half`` layer k < T passes maps 0..H_k/2-1 on and pools maps H_k/2..H_k-1, the
    last layer pools all; p^k_h = sum_d X^k[h][d]; p+ = [p^1, ..., p^T].
    """
    weights = [w.tolist() for w in weights]
    outputs = []
    for sample in x0.tolist():
        n_fields, embed_dim = len(sample), len(sample[0])
        previous, pooled = sample, []
        for k, w in enumerate(weights):
            maps = []
            for h in range(len(w)):
                row = []
                for d in range(embed_dim):
                    total = 0.0
                    for i in range(len(previous)):
                        for j in range(n_fields):
                            total += w[h][i][j] * previous[i][d] * sample[j][d]
                    row.append(activation(total))
                maps.append(row)
            if split_half and k < len(weights) - 1:
                half = len(maps) // 2
                previous, direct = maps[:half], maps[half:]
            else:
                previous, direct = maps, maps
            pooled += [sum(row) for row in direct]
        outputs.append(pooled)
    return torch.tensor(outputs, dtype=torch.float64).reshape(len(outputs), -1)
