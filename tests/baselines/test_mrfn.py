"""MRFN (FLS) baseline: numpy references of its layers and of the whole late
fusion, written from the release code's equations (srs_tf/baselines/mrfn.py
docstring) with plain loops, then the checks every baseline passes."""

import keras
import numpy as np
import pytest
from baseline_helpers import (
    TINY,
    check_contract,
    check_keras_save_load,
    check_padding_invariance,
    check_permutation_equivariance,
    feature_batch,
    scores_of,
    tiny_config,
)
from layer_refs import (
    ATOL,
    assert_round_trip,
    np_dense,
    np_layer_norm,
    np_softmax,
    randomize_weights,
    sigmoid,
)

import srs_tf.model
from srs_tf.baselines.mrfn import (
    REPRESENTATIONS,
    CrossAttentionRepresentation,
    LateFusion,
    LocalRepresentation,
    RepresentationAttention,
    RepresentationMatching,
    SelfAttentionRepresentation,
    SequentialRepresentation,
    WordMask,
    WordRepresentation,
    build_matcher,
    num_heads_for,
)


# ----------------------------------------------------------------- numpy references
def np_gru(xs, mask, gru):
    """Keras GRU (reset_after=True, gates z, r, h): (per-step states, final state).

    Masked steps keep the state.
    """
    cell = gru.cell
    units = cell.units
    kernel, recurrent, bias = cell.kernel.numpy(), cell.recurrent_kernel.numpy(), cell.bias.numpy()
    h = np.zeros(units)
    states = []
    for x, real in zip(xs, mask):
        if real:
            xp, hp = x @ kernel + bias[0], h @ recurrent + bias[1]
            z = sigmoid(xp[:units] + hp[:units])
            r = sigmoid(xp[units : 2 * units] + hp[units : 2 * units])
            h = z * h + (1.0 - z) * np.tanh(xp[2 * units :] + r * hp[2 * units :])
        states.append(h.copy())
    return np.stack(states), h


def np_matching(u, word_mask, r, layer):
    """One (utterance, response) pair: u [L, d], word_mask [L], r [R, d] -> v [H]."""
    a = layer.bilinear.numpy()
    t = np.zeros_like(r, dtype=np.float64)
    for j in range(r.shape[0]):
        logits = np.array([u[m] @ a @ r[j] for m in range(u.shape[0])])  # a_jl = (u_l A).r_j
        alpha = np_softmax(logits, word_mask)
        rbar = sum(alpha[m] * u[m] for m in range(u.shape[0]))
        t[j] = np_dense(np.concatenate([rbar * r[j], rbar - r[j]]), layer.feature_dense, "relu")
    return np_gru(t, np.ones(r.shape[0], bool), layer.gru)[1]


def np_attention(x, y, x_mask, y_mask, layer):
    """The release's multi-head attention: x [Nq, U] attends to y [Nk, D]."""
    heads, units = layer.num_heads, layer.units
    size = units // heads
    q = np.maximum(np_dense(x, layer.query_dense), 0.0)
    k = np.maximum(np_dense(y, layer.key_dense), 0.0)
    v = np.maximum(np_dense(y, layer.value_dense), 0.0)
    out = np.zeros((x.shape[0], units))
    for i in range(x.shape[0]):
        if not x_mask[i]:
            continue  # padded query: output 0
        parts = []
        for h in range(heads):
            cols = slice(h * size, (h + 1) * size)
            logits = np.array([q[i, cols] @ k[n, cols] for n in range(y.shape[0])]) / np.sqrt(size)
            weights = np_softmax(logits, y_mask)
            parts.append(sum(weights[n] * v[n, cols] for n in range(y.shape[0])))
        out[i] = np_layer_norm(x[i] + np.concatenate(parts), layer.layer_norm)
    return out


def np_local(x, mask, layer):
    """Convolutions of widths k ("same": (k-1)//2 zeros before), ReLU, concat, LayerNorm."""
    x = x * mask[:, None]
    n = x.shape[0]
    features = []
    for conv in layer.convolutions:
        kernel, bias = conv.kernel.numpy(), conv.bias.numpy()  # [k, D, F], [F]
        width = kernel.shape[0]
        before = (width - 1) // 2
        padded = np.concatenate([np.zeros((before, x.shape[1])), x, np.zeros((width, x.shape[1]))])
        out = np.stack(
            [sum(padded[p + o] @ kernel[o] for o in range(width)) + bias for p in range(n)]
        )
        features.append(np.maximum(out, 0.0))
    return np_layer_norm(np.concatenate(features, -1), layer.layer_norm) * mask[:, None]


def np_late_fusion(vectors, turn_mask, layer):
    """vectors: list of K [B, C, T, H]; turn_mask [B, T] -> scores [B, C]."""
    B, C = vectors[0].shape[:2]
    scores = np.zeros((B, C))
    for b in range(B):
        for c in range(C):
            finals = [np_gru(v[b, c], turn_mask[b], g)[1] for v, g in zip(vectors, layer.turn_grus)]
            scores[b, c] = sigmoid(np_dense(np.concatenate(finals), layer.score_dense))[0]
    return scores


def np_mrfn(batch, matcher):
    """The whole matcher (FLS over five representation types), one pair at a time."""
    get = matcher.get_layer
    ids, num_turns = batch["context_ids"], batch["num_turns"]
    B, T, L = ids.shape
    C = batch["sticker_regions"].shape[1]
    turn_mask = np.arange(T)[None] < num_turns[:, None]
    word_mask = (ids != 0) & turn_mask[..., None]
    words_layer = get("word_representation")
    norm = get("region_normalization")
    regions = (batch["sticker_regions"] - norm.mean.numpy()) * norm.inv_std.numpy()
    words = words_layer.embedding.embeddings.numpy()[ids]  # [B, T, L, E]
    response = regions @ words_layer.region_projection.kernel.numpy()  # [B, C, R, E]
    seq = get("sequential_representation").gru
    local = get("local_representation")
    self_att = get("self_attention_representation").attention
    cross_att = get("cross_attention_representation").attention
    all_regions = np.ones(response.shape[2], bool)
    vectors = {name: np.zeros((B, C, T, seq.cell.units)) for name in REPRESENTATIONS}
    for b in range(B):
        for c in range(C):
            r = response[b, c]
            r_reps = {
                "word": r,
                "sequential": np_gru(r, all_regions, seq)[0],
                "local": np_local(r, all_regions, local),
                "self_attention": np_attention(r, r, all_regions, all_regions, self_att),
            }
            for t in range(T):
                u, m = words[b, t], word_mask[b, t]
                u_reps = {
                    "word": u,
                    "sequential": np_gru(u, m, seq)[0] * m[:, None],
                    "local": np_local(u, m, local),
                    "self_attention": np_attention(u, u, m, m, self_att),
                    "cross_attention": np_attention(u, r, m, all_regions, cross_att),
                }
                r_reps["cross_attention"] = np_attention(r, u, all_regions, m, cross_att)
                for name in REPRESENTATIONS:
                    vectors[name][b, c, t] = np_matching(
                        u_reps[name], m, r_reps[name], get(f"{name}_matching")
                    )
    fusion = get("late_fusion")
    return np_late_fusion([vectors[name] for name in REPRESENTATIONS], turn_mask, fusion)


# ----------------------------------------------------------------- inputs
def _pair_inputs(seed=0, B=2, C=3, T=3, L=5, R=4, d=6):
    """Utterances with padded words and a padded turn (batch 1, turn 2)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(B, T, L, d)).astype(np.float32)
    word_mask = rng.random((B, T, L)) > 0.35
    word_mask[:, :, 0] = True
    word_mask[1, 2] = False
    r = rng.normal(size=(B, C, R, d)).astype(np.float32)
    return u, word_mask, r


# ----------------------------------------------------------------- matching function
def test_matching_function_matches_numpy_reference():
    u, word_mask, r = _pair_inputs(seed=1)
    layer = RepresentationMatching(width=6, hidden_dim=4, dropout=0.3)
    layer(u, word_mask, r)
    randomize_weights(layer, seed=2)
    out = layer(u, word_mask, r).numpy()
    B, C, T = r.shape[0], r.shape[1], u.shape[1]
    assert out.shape == (B, C, T, 4)
    for b in range(B):
        for c in range(C):
            for t in range(T):
                ref = np_matching(u[b, t], word_mask[b, t], r[b, c], layer)
                np.testing.assert_allclose(out[b, c, t], ref, atol=ATOL)
    # Padded words take no part: any values there give the same vectors.
    u_garbage = np.where(word_mask[..., None], u, 30.0).astype(np.float32)
    np.testing.assert_allclose(layer(u_garbage, word_mask, r).numpy(), out, atol=1e-6)
    # Pair-dependent inputs [B, C, T, ...] give the same result as broadcast ones.
    u5 = np.broadcast_to(u[:, None], (B, C) + u.shape[1:])
    r5 = np.broadcast_to(r[:, :, None], (B, C, T) + r.shape[2:])
    np.testing.assert_allclose(layer(u5, word_mask, r5).numpy(), out, atol=1e-6)


def test_late_fusion_matches_numpy_reference():
    rng = np.random.default_rng(3)
    B, C, T = 3, 2, 4
    vectors = [rng.normal(size=(B, C, T, 4)).astype(np.float32) for _ in range(3)]
    turn_mask = np.arange(T)[None] < np.array([1, 3, 4])[:, None]
    layer = LateFusion(hidden_dim=5, num_types=3)
    layer(vectors, turn_mask)
    randomize_weights(layer, seed=4)
    scores = layer(vectors, turn_mask).numpy()
    assert scores.dtype == np.float32 and scores.shape == (B, C)
    np.testing.assert_allclose(scores, np_late_fusion(vectors, turn_mask, layer), atol=ATOL)
    garbage = [np.where(turn_mask[:, None, :, None], v, 9.0).astype(np.float32) for v in vectors]
    np.testing.assert_allclose(layer(garbage, turn_mask).numpy(), scores, atol=1e-6)


# ----------------------------------------------------------------- representations
def test_attention_matches_numpy_reference_with_broadcast_and_masks():
    u, word_mask, r = _pair_inputs(seed=5, d=8)
    layer = RepresentationAttention(units=8, num_heads=2)
    layer(u, u)
    randomize_weights(layer, seed=6)
    # utterance -> sticker ([B, 1, T, L] queries, [B, C, 1, R] keys) and back.
    to_sticker = layer(u[:, None], r[:, :, None], query_mask=word_mask[:, None]).numpy()
    to_words = layer(r[:, :, None], u[:, None], key_mask=word_mask[:, None]).numpy()
    B, C, T = r.shape[0], r.shape[1], u.shape[1]
    assert to_sticker.shape == (B, C, T) + u.shape[2:]
    assert to_words.shape == (B, C, T) + r.shape[2:]
    regions = np.ones(r.shape[2], bool)
    for b in range(B):
        for c in range(C):
            for t in range(T):
                m = word_mask[b, t]
                ref = np_attention(u[b, t], r[b, c], m, regions, layer)
                np.testing.assert_allclose(to_sticker[b, c, t], ref, atol=ATOL)
                ref = np_attention(r[b, c], u[b, t], regions, m, layer)
                np.testing.assert_allclose(to_words[b, c, t], ref, atol=ATOL)


def test_local_and_sequential_representations_match_numpy():
    u, word_mask, r = _pair_inputs(seed=7)
    local = LocalRepresentation(filters=3, kernel_sizes=(1, 2, 3, 4))
    local(u, word_mask, r)
    randomize_weights(local, seed=8)
    lu, lr = (x.numpy() for x in local(u, word_mask, r))
    seq = SequentialRepresentation(hidden_dim=4)
    seq(u, word_mask, r)
    randomize_weights(seq, seed=9)
    su, sr = (x.numpy() for x in seq(u, word_mask, r))
    regions = np.ones(r.shape[2], bool)
    for b in range(u.shape[0]):
        for t in range(u.shape[1]):
            m = word_mask[b, t]
            np.testing.assert_allclose(lu[b, t], np_local(u[b, t], m, local), atol=ATOL)
            ref = np_gru(u[b, t], m, seq.gru)[0] * m[:, None]
            np.testing.assert_allclose(su[b, t], ref, atol=ATOL)
        for c in range(r.shape[1]):
            np.testing.assert_allclose(lr[b, c], np_local(r[b, c], regions, local), atol=ATOL)
            np.testing.assert_allclose(sr[b, c], np_gru(r[b, c], regions, seq.gru)[0], atol=ATOL)


# ----------------------------------------------------------------- the whole FLS
@pytest.fixture(scope="module")
def matcher():
    """The TINY matcher with non-trivial weights and region statistics (shared, not modified)."""
    model = build_matcher(tiny_config("mrfn"))
    for layer in model.layers:
        if layer.name not in ("region_normalization", "flat_normalization"):
            randomize_weights(layer, seed=12, scale=0.3)
    rng = np.random.default_rng(13)
    model.get_layer("region_normalization").set_statistics(
        rng.normal(size=768), rng.uniform(0.5, 2.0, size=768)
    )
    return model


def test_whole_matcher_matches_numpy_fls(matcher):
    batch = feature_batch(TINY, batch=2, candidates=2, seed=11)
    batch["num_turns"][1] = 2  # a padded turn in both examples
    batch["context_ids"][1, 2:] = 0
    scores = scores_of(matcher, batch)
    np.testing.assert_allclose(scores, np_mrfn(batch, matcher), atol=ATOL)
    # The embedding of the padding id is never read.
    table = matcher.get_layer("word_representation").embedding.embeddings
    saved = table.numpy()
    table.assign(np.concatenate([np.full((1, saved.shape[1]), 5.0), saved[1:]]))
    try:
        np.testing.assert_allclose(scores_of(matcher, batch), scores, atol=1e-6)
    finally:
        table.assign(saved)


def test_matcher_contract(matcher):
    check_contract(matcher)
    names = {layer.name for layer in matcher.layers}
    assert {f"{name}_matching" for name in REPRESENTATIONS} <= names
    assert {"region_normalization", "turn_mask"} <= names
    assert "flat_normalization" not in names  # O_flat is not used by MRFN


def test_matcher_padding_invariance(matcher):
    check_padding_invariance(matcher)


def test_matcher_permutation_equivariance(matcher):
    check_permutation_equivariance(matcher)


def test_matcher_keras_save_load(matcher, tmp_path):
    check_keras_save_load(matcher, tmp_path)


def test_dispatcher_builds_mrfn():
    model = srs_tf.model.build_matcher(tiny_config("mrfn"))
    assert model.name == "matcher"
    assert model.get_layer("late_fusion").num_types == len(REPRESENTATIONS)
    assert scores_of(model, feature_batch(TINY, batch=2, candidates=2)).shape == (2, 2)


def test_mixed_precision_scores_are_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_matcher(tiny_config("mrfn"))
        out = model(feature_batch(TINY, seed=4))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    scores = np.asarray(out["scores"])
    assert scores.dtype == np.float32 and np.all(np.isfinite(scores))
    assert np.asarray(out["word_attention"]).dtype == np.float32


def test_num_heads_for():
    assert num_heads_for(100) == 5 and num_heads_for(200) == 8 and num_heads_for(8) == 8
    assert num_heads_for(7) == 7 and num_heads_for(11) == 1


# ----------------------------------------------------------------- config round trips
def test_layers_get_config_round_trip():
    u, word_mask, r = _pair_inputs(seed=14, d=8)
    ids = np.where(word_mask, 3, 0).astype(np.int32)
    turn_mask = np.array([[True, True, True], [True, True, False]])
    regions = np.random.default_rng(15).normal(size=(2, 3, 4, 12)).astype(np.float32)
    assert_round_trip(WordMask(), ids, turn_mask)
    assert_round_trip(WordRepresentation(10, 8, dropout=0.1), ids, regions)
    assert_round_trip(SequentialRepresentation(4), u, word_mask, r)
    clone = assert_round_trip(LocalRepresentation(3, (1, 3)), u, word_mask, r)
    assert clone.kernel_sizes == [1, 3]
    assert_round_trip(RepresentationAttention(8, 4), u, r[:, :1])
    assert_round_trip(SelfAttentionRepresentation(8, 2), u, word_mask, r)
    assert_round_trip(CrossAttentionRepresentation(8, 2), u, word_mask, r)
    assert_round_trip(RepresentationMatching(8, 4, dropout=0.2), u, word_mask, r)
    vectors = [np.ones((2, 3, 3, 4), np.float32), np.zeros((2, 3, 3, 4), np.float32)]
    assert_round_trip(LateFusion(4, 2), vectors, turn_mask)
