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
# AutoInt's interacting layer
# ----------------------------------------------------------------------------------------
def interacting_layer_reference(emb, W_query, W_key, W_value, W_res=None):
    """AutoInt eq. 5-9 by explicit loops over samples, heads, fields m and keys k.

    W_query[h], W_key[h], W_value[h] are the (d', d) matrices of head h; W_res is (d' H, d) or
    None (no residual). alpha[b][h][m][k] = exp(<W_Q e_m, W_K e_k>) / sum_l exp(<W_Q e_m,
    W_K e_l>) (no scaling); out_m = ReLU(concat_h sum_k alpha W_V e_k + W_res e_m).
    Returns (outputs of shape (B, M, d' H), attention weights of shape (B, H, M, M)).
    """
    batch_size, n_fields, _ = emb.shape
    n_heads = len(W_query)
    outputs, weights = [], []
    for b in range(batch_size):
        sample_out, sample_weights = [], []
        for h in range(n_heads):
            head_weights, head_out = [], []
            for m in range(n_fields):
                query = W_query[h] @ emb[b, m]
                scores = [float(query @ (W_key[h] @ emb[b, k])) for k in range(n_fields)]
                total = sum(math.exp(score) for score in scores)
                alpha = [math.exp(score) / total for score in scores]
                head_weights.append(alpha)
                head_out.append(sum(alpha[k] * (W_value[h] @ emb[b, k]) for k in range(n_fields)))
            sample_weights.append(head_weights)
            sample_out.append(head_out)
        fields = []
        for m in range(n_fields):
            combined = torch.cat([sample_out[h][m] for h in range(n_heads)])
            if W_res is not None:
                combined = combined + W_res @ emb[b, m]
            fields.append(torch.clamp(combined, min=0.0))
        outputs.append(torch.stack(fields))
        weights.append(sample_weights)
    return torch.stack(outputs), torch.tensor(weights, dtype=emb.dtype)


# ----------------------------------------------------------------------------------------
# Bi-Interaction pooling (NFM)
# ----------------------------------------------------------------------------------------
def bi_interaction_by_definition(emb):
    """f_BI[b, d] = sum_{i<j} e_i[d] e_j[d] by explicit loops over samples, pairs and dims."""
    batch_size, n_fields, embed_dim = emb.shape
    out = torch.zeros(batch_size, embed_dim, dtype=emb.dtype)
    for b in range(batch_size):
        for i, j in pairs(n_fields):
            for d in range(embed_dim):
                out[b, d] += emb[b, i, d] * emb[b, j, d]
    return out


# ----------------------------------------------------------------------------------------
# SENET and Bilinear-Interaction layers (FiBiNET)
# ----------------------------------------------------------------------------------------
def senet_by_definition(emb, w1, w2):
    """Per sample: z_i = mean_t e_i[t], h = relu(W_1 z), a = relu(W_2 h), v_i = a_i e_i; w1 is
    (reduced, m) and w2 (m, reduced), as torch's Linear weights. Returns (v, a)."""
    batch_size, n_fields, embed_dim = emb.shape
    reduced = w1.shape[0]
    out = torch.zeros_like(emb)
    weights = torch.zeros(batch_size, n_fields, dtype=emb.dtype)
    for b in range(batch_size):
        z = [sum(emb[b, i, t] for t in range(embed_dim)) / embed_dim for i in range(n_fields)]
        hidden = [max(0.0, sum(w1[u, i] * z[i] for i in range(n_fields))) for u in range(reduced)]
        for i in range(n_fields):
            weights[b, i] = max(0.0, sum(w2[i, u] * hidden[u] for u in range(reduced)))
            for t in range(embed_dim):
                out[b, i, t] = weights[b, i] * emb[b, i, t]
    return out, weights


def bilinear_by_definition(emb, matrices, bilinear):
    """p_ij[d] = sum_c v_i[c] W[c, d] * v_j[d] for i < j in double-loop order, W the one matrix
    (field_all), the left field's (field_each) or the pair's (field_interaction)."""
    batch_size, n_fields, embed_dim = emb.shape
    columns = []
    for pair, (i, j) in enumerate(pairs(n_fields)):
        matrix = {"field_all": 0, "field_each": i, "field_interaction": pair}[bilinear]
        column = torch.zeros(batch_size, embed_dim, dtype=emb.dtype)
        for b in range(batch_size):
            for d in range(embed_dim):
                left = sum(emb[b, i, c] * matrices[matrix][c, d] for c in range(embed_dim))
                column[b, d] = left * emb[b, j, d]
        columns.append(column)
    if not columns:
        return torch.zeros(batch_size, 0, embed_dim, dtype=emb.dtype)
    return torch.stack(columns, dim=1)


# ----------------------------------------------------------------------------------------
# Embeddings and order-1 part, entry by entry (the networks' forward tests)
# ----------------------------------------------------------------------------------------
def field_embeddings_by_definition(embedding, ids, values):
    """e_i = table[offset_i + id_i] for a categorical field, x_i v_i for a numeric one, from the
    parameters of a FieldEmbedding (read, never called)."""
    table, offsets, numeric = embedding.table.weight, embedding.offsets, embedding.numeric
    rows = []
    for b in range(len(ids)):
        categorical = [table[offset + ids[b, j]] for j, offset in enumerate(offsets)]
        scaled = [values[b, j] * numeric[j] for j in range(values.shape[1])]
        rows.append(torch.stack(categorical + scaled))
    return torch.stack(rows)


def order_one_by_definition(linear_term, ids, values):
    """w_0 + sum_i w_i x_i from the parameters of a LinearTerm: the weight of each id, plus value
    times weight of each numeric field, plus the bias."""
    weights = field_embeddings_by_definition(linear_term.weights, ids, values)[:, :, 0]
    return torch.stack([linear_term.bias + sum(row) for row in weights])


# ----------------------------------------------------------------------------------------
# DCN-V2 cross networks: the full matrix and the mixture of low-rank experts (DCN-Mix)
# ----------------------------------------------------------------------------------------
def matrix_cross_by_definition(x0, weights, biases):
    """x_{l+1,i} = x_{0,i} (sum_j W_l[i, j] x_{l,j} + b_l[i]) + x_{l,i} (DCN-V2 eq. 1), by
    loops over samples, layers, i and j."""
    batch_size, dim = x0.shape
    out = []
    for b in range(batch_size):
        first = x0[b].tolist()
        x = list(first)
        for weight, bias in zip(weights.tolist(), biases.tolist(), strict=True):
            x = [
                first[i] * (sum(weight[i][j] * x[j] for j in range(dim)) + bias[i]) + x[i]
                for i in range(dim)
            ]
        out.append(x)
    return torch.tensor(out, dtype=torch.float64).reshape(batch_size, dim)


def mixture_cross_by_definition(x0, down, inner, up, gates, biases):
    """DCN-Mix (DCN-V2 eq. 3-4): x_{l+1} = sum_i G_i(x_l) E_i(x_l) + x_l with every expert
    E_i(x_l) = x_0 * (U_i tanh(C_i tanh(V_i^T x_l)) + b_l) computed on its own and
    G_i(x_l) = exp(a_i . x_l) / sum_k exp(a_k . x_l), by loops over samples, layers, experts,
    ranks and coordinates. ``down`` V, ``up`` U: (layers, experts, d, r); ``inner`` C:
    (layers, experts, r, r); ``gates`` a: (layers, experts, d); ``biases`` b: (layers, d)."""
    batch_size, dim = x0.shape
    down, inner, up = down.tolist(), inner.tolist(), up.tolist()
    gates, biases = gates.tolist(), biases.tolist()
    out = []
    for b in range(batch_size):
        first = x0[b].tolist()
        x = list(first)
        for layer, bias in enumerate(biases):
            n_experts, rank = len(gates[layer]), len(inner[layer][0])
            scores = [sum(gates[layer][e][j] * x[j] for j in range(dim)) for e in range(n_experts)]
            total = sum(math.exp(score) for score in scores)
            mixed = list(x)  # the residual x_l
            for e in range(n_experts):
                V, C, U = down[layer][e], inner[layer][e], up[layer][e]
                projected = [
                    math.tanh(sum(V[j][q] * x[j] for j in range(dim))) for q in range(rank)
                ]
                hidden = [
                    math.tanh(sum(C[s][q] * projected[q] for q in range(rank))) for s in range(rank)
                ]
                expert = [
                    first[j] * (sum(U[j][s] * hidden[s] for s in range(rank)) + bias[j])
                    for j in range(dim)
                ]
                gate = math.exp(scores[e]) / total
                mixed = [mixed[j] + gate * expert[j] for j in range(dim)]
            x = mixed
        out.append(x)
    return torch.tensor(out, dtype=torch.float64).reshape(batch_size, dim)


# ----------------------------------------------------------------------------------------
# Interest extraction and evolution (DIEN)
# ----------------------------------------------------------------------------------------
def attentional_gru_by_definition(inputs, attention, lengths, gates, mode):
    """DIEN's interest evolving GRU (eq. 1-4 with eq. 8, 9-10 or the attentional input), one
    sample and one step at a time: the state after each row's last real step.

    ``gates`` maps "W_u", "U_u", "b_u", "W_r", ... to the matrices and biases of eq. 1-3
    ("u" absent for AGRU)."""
    batch_size, _, _ = inputs.shape
    hidden_dim = gates["W_r"].shape[0]
    finals = []
    for b in range(batch_size):
        h = torch.zeros(hidden_dim, dtype=inputs.dtype)
        for t in range(int(lengths[b])):
            a = attention[b, t]
            i = a * inputs[b, t] if mode == "aigru" else inputs[b, t]
            r = torch.sigmoid(gates["W_r"] @ i + gates["U_r"] @ h + gates["b_r"])
            h_tilde = torch.tanh(gates["W_h"] @ i + r * (gates["U_h"] @ h) + gates["b_h"])
            if mode == "agru":
                h = (1 - a) * h + a * h_tilde  # eq. 8
                continue
            u = torch.sigmoid(gates["W_u"] @ i + gates["U_u"] @ h + gates["b_u"])
            if mode == "augru":
                u = a * u  # eq. 9
            h = (1 - u) * h + u * h_tilde  # eq. 4 / 10
        finals.append(h)
    return torch.stack(finals)


def interest_attention_by_definition(states, candidate, W, lengths):
    """a_t = exp(h_t W e_a) / sum_j exp(h_j W e_a) over the real steps (eq. 7), 0 elsewhere."""
    batch_size, max_length, _ = states.shape
    weights = torch.zeros(batch_size, max_length, dtype=states.dtype)
    for b in range(batch_size):
        scores = [states[b, t] @ W @ candidate[b] for t in range(int(lengths[b]))]
        total = sum(math.exp(float(s)) for s in scores)
        for t, score in enumerate(scores):
            weights[b, t] = math.exp(float(score)) / total
    return weights


def auxiliary_loss_by_definition(states, behaviors, negatives, lengths):
    """-mean over (b, t) with t + 1 < length of log sigma(<h_t, e_{t+1}>) +
    log(1 - sigma(<h_t, ê_{t+1}>)) (DIEN eq. 6), by explicit loops."""
    terms = []
    for b in range(states.shape[0]):
        for t in range(int(lengths[b]) - 1):
            positive = float(states[b, t] @ behaviors[b, t + 1])
            negative = float(states[b, t] @ negatives[b, t + 1])
            sigma = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
            terms.append(math.log(sigma(positive)) + math.log(1 - sigma(negative)))
    return -sum(terms) / len(terms) if terms else 0.0


# ----------------------------------------------------------------------------------------
# A Transformer block over a behaviour sequence (BST)
# ----------------------------------------------------------------------------------------
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
