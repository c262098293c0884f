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


def _layer_norm_reference(vector, norm):
    """LayerNorm of one vector (biased variance), with the module's eps, weight and bias."""
    n = len(vector)
    mean = sum(vector) / n
    var = sum((v - mean) ** 2 for v in vector) / n
    weight, bias = norm.weight.tolist(), norm.bias.tolist()
    return [
        (v - mean) / math.sqrt(var + norm.eps) * weight[i] + bias[i] for i, v in enumerate(vector)
    ]


def bst_block_reference(block, inputs, mask):
    """BST's Transformer block (eq. 1-5) with explicit loops over rows, heads and positions:
    head_i(t) = sum_j softmax_j(q_t . k_j / sqrt(d)) v_j over the real positions j, with
    q_t = x_t W^Q_i (and k, v likewise); MH(t) = [head_1(t), ..., head_h(t)] W^H;
    S'_t = LN(x_t + MH(t)); F_t = LN(S'_t + W2 LeakyReLU(W1 S'_t + b1) + b2).
    Eval mode (no dropout). Returns float64 (batch, T, d); padding positions computed too."""
    attention = block.attention
    n_heads, d, _ = attention.query.shape
    w_q, w_k, w_v = (w.tolist() for w in (attention.query, attention.key, attention.value))
    w_h = attention.output.weight.tolist()  # (d, h d)
    linear1, linear2 = block.feedforward[0], block.feedforward[2]
    slope = block.feedforward[1].negative_slope
    w1, b1 = linear1.weight.tolist(), linear1.bias.tolist()
    w2, b2 = linear2.weight.tolist(), linear2.bias.tolist()
    x = inputs.tolist()
    batch_size, length = len(x), len(x[0])
    out = []
    for b in range(batch_size):
        real = [j for j in range(length) if bool(mask[b, j])]

        def project(weight, t, b=b):
            return [sum(x[b][t][i] * weight[i][e] for i in range(d)) for e in range(d)]

        rows = []
        for t in range(length):
            heads = []
            for h in range(n_heads):
                q = project(w_q[h], t)
                keys = {j: project(w_k[h], j) for j in real}
                values = {j: project(w_v[h], j) for j in real}
                scores = {j: sum(q[e] * keys[j][e] for e in range(d)) / math.sqrt(d) for j in real}
                top = max(scores.values())
                total = sum(math.exp(s - top) for s in scores.values())
                heads += [
                    sum(math.exp(scores[j] - top) / total * values[j][e] for j in real)
                    for e in range(d)
                ]
            attended = [sum(w_h[o][i] * heads[i] for i in range(n_heads * d)) for o in range(d)]
            hidden = _layer_norm_reference(
                [x[b][t][o] + attended[o] for o in range(d)], block.attention_norm
            )
            inner = [sum(w1[u][o] * hidden[o] for o in range(d)) + b1[u] for u in range(len(b1))]
            inner = [z if z > 0 else slope * z for z in inner]
            ffn = [sum(w2[o][u] * inner[u] for u in range(len(b1))) + b2[o] for o in range(d)]
            rows.append(
                _layer_norm_reference(
                    [hidden[o] + ffn[o] for o in range(d)], block.feedforward_norm
                )
            )
        out.append(rows)
    return torch.tensor(out, dtype=torch.float64)
