"""PSAC baseline (srs_tf/baselines/psac.py): the positional self-attention and
the co-attention against numpy references written from the PSAC equations
(with the layers' own weights), the whole matcher against a numpy forward,
the checks every baseline passes, round trips and mixed precision."""

import math

import keras
import numpy as np
from baseline_helpers import (
    TINY_REGIONS,
    check_contract,
    check_keras_save_load,
    check_padding_invariance,
    check_permutation_equivariance,
    feature_batch,
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
from srs_tf.baselines import psac
from srs_tf.baselines.psac import (
    CandidateScore,
    CoAttention,
    ContextEmbedding,
    PositionalSelfAttention,
    StickerFrames,
)


# ----------------------------------------------------------------- references
def np_sinusoid(position, channels):
    """PE(pos, i) = sin(pos / 1e4^(i/(n-1))), PE(pos, n+i) = cos(...), n = channels // 2."""
    n = channels // 2
    out = np.zeros(channels)
    for i in range(n):
        angle = position / 1e4 ** (i / max(n - 1, 1))
        out[i], out[n + i] = math.sin(angle), math.cos(angle)
    return out


def np_positions(length, channels, kind):
    if kind == "sequence":
        return np.stack([np_sinusoid(p, channels) for p in range(length)])
    side = int(round(math.sqrt(length)))
    half = channels // 2
    return np.stack(
        [
            np.concatenate([np_sinusoid(p // side, half), np_sinusoid(p % side, channels - half)])
            for p in range(length)
        ]
    )


def np_psa(x, mask, layer):
    """One positional self-attention block on x [S, H] (real positions mask [S])."""
    length, hidden = x.shape
    heads, d = layer.num_heads, layer.head_dim
    x0 = x + np_positions(length, hidden, layer.positions)
    q, k, v = (
        x0 @ dense.kernel.numpy()
        for dense in (layer.query_dense, layer.key_dense, layer.value_dense)
    )
    out = np.zeros((length, hidden))
    for j in range(length):
        if not mask[j]:
            continue
        concat = []
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            logits = np.array([q[j, cols] @ k[n, cols] / math.sqrt(d) for n in range(length)])
            alpha = np_softmax(logits, mask)
            concat.append(sum(alpha[n] * v[n, cols] for n in range(length)))
        attended = np_dense(np.concatenate(concat), layer.output_dense)
        h1 = np_layer_norm(x0[j] + attended, layer.attention_norm)
        inner = np_dense(np_dense(h1, layer.ffn_inner, "relu"), layer.ffn_outer)
        out[j] = np_layer_norm(h1 + inner, layer.ffn_norm)
    return out


def np_co_attention(words, word_mask, frames, layer):
    """Trilinear co-attention for one example: words [N, H], frames [C, R, H]."""
    w1, w2, w3 = (
        layer.frame_weight.numpy(),
        layer.word_weight.numpy(),
        layer.product_weight.numpy(),
    )
    n_words, length = words.shape[0], layer.max_words
    turns = n_words // length
    candidates, regions, _ = frames.shape
    fused, tau_s, tau_u = (
        [],
        np.zeros((candidates, turns, regions)),
        np.zeros((candidates, turns, length)),
    )
    for c in range(candidates):
        v = frames[c]
        s = np.array(
            [
                [w1 @ v[k] + w2 @ words[j] + (w3 * v[k]) @ words[j] for j in range(n_words)]
                for k in range(regions)
            ]
        )
        s1 = np_softmax(s, word_mask[None, :])  # over words
        s2 = np_softmax(s.T, np.ones(regions, bool)).T  # over regions, per word
        a = s1 @ words
        b = s1 @ s2.T @ v
        fused.append(np.concatenate([v, a, v * a, v * b], axis=-1))
        mean_s1 = s1.mean(0)
        for t in range(turns):
            cols = slice(t * length, (t + 1) * length)
            real = word_mask[cols]
            if not real.any():
                continue
            tau_u[c, t] = mean_s1[cols] / mean_s1[cols].sum()
            tau_s[c, t] = s2[:, cols][:, real].mean(1)
    return np.stack(fused), tau_s, tau_u


def np_matcher(model, batch):
    """The whole matcher in numpy (inference), with the model's weights."""
    emb = model.get_layer("context_embedding")
    ctx_psa = model.get_layer("context_psa_0")
    frames_layer = model.get_layer("sticker_frames")
    st_psa = model.get_layer("sticker_psa_0")
    co = model.get_layer("co_attention")
    head = model.get_layer("candidate_score")
    ids, num_turns = batch["context_ids"], batch["num_turns"]
    B, T, L = ids.shape
    scores = []
    for b in range(B):
        real = (ids[b] != 0) & (np.arange(T) < num_turns[b])[:, None]
        x = emb.embedding.embeddings.numpy()[ids[b]] @ emb.projection.kernel.numpy()
        for gate, transform in zip(emb.highway_gates, emb.highway_transforms):
            g = sigmoid(np_dense(x, gate))
            x = g * np_dense(x, transform) + (1 - g) * x
        mask = real.reshape(-1)
        words = np_psa(x.reshape(T * L, -1) * mask[:, None], mask, ctx_psa)
        frames = batch["sticker_regions"][b] @ frames_layer.region_projection.kernel.numpy()
        frames = (
            frames
            + (batch["sticker_flat"][b] @ frames_layer.flat_projection.kernel.numpy())[:, None]
        )
        encoded = np.stack([np_psa(f, np.ones(len(f), bool), st_psa) for f in frames]) + frames
        fused, _, _ = np_co_attention(words, mask, encoded, co)
        pooled = (fused @ head.resize.kernel.numpy()).mean(1)
        hidden = np_dense(pooled, head.classifier_hidden, "relu")
        scores.append(sigmoid(np_dense(hidden, head.score_dense))[:, 0])
    return np.stack(scores)


def _words(seed=3, B=2, T=3, L=4, H=8):
    rng = np.random.default_rng(seed)
    mask = rng.random((B, T, L)) > 0.35
    mask[:, :, 0] = True
    mask[0, 1, :] = False  # a real turn with no word
    mask[1, 2] = False  # a padded turn
    words = rng.normal(size=(B, T * L, H)).astype(np.float32)
    mask = mask.reshape(B, T * L)
    return words * mask[..., None], mask


# ----------------------------------------------------------------- PSA
def test_positional_self_attention_matches_reference():
    words, mask = _words()
    layer = PositionalSelfAttention(hidden_dim=8, num_heads=3)  # head width 3, 9 total
    layer(words, padding_mask=mask)
    randomize_weights(layer, seed=4)
    out = layer(words, padding_mask=mask).numpy()
    for b in range(len(words)):
        np.testing.assert_allclose(out[b], np_psa(words[b], mask[b], layer), atol=ATOL)
    assert np.all(out[~mask] == 0)
    # Values at padded positions change nothing.
    noisy = np.where(mask[..., None], words, 7.0).astype(np.float32)
    np.testing.assert_allclose(layer(noisy, padding_mask=mask).numpy(), out, atol=1e-6)


def test_positional_self_attention_grid_positions_and_leading_axes():
    rng = np.random.default_rng(5)
    frames = rng.normal(size=(2, 3, TINY_REGIONS, 8)).astype(np.float32)  # [B, C, R, H]
    layer = PositionalSelfAttention(hidden_dim=8, positions="grid")
    layer(frames)
    randomize_weights(layer, seed=6)
    out = layer(frames).numpy()
    assert out.shape == frames.shape
    np.testing.assert_allclose(
        layer.position_encoding, np_positions(TINY_REGIONS, 8, "grid"), atol=1e-6
    )
    for b in range(2):
        for c in range(3):
            ref = np_psa(frames[b, c], np.ones(TINY_REGIONS, bool), layer)
            np.testing.assert_allclose(out[b, c], ref, atol=ATOL)


def test_paper_size_position_tables():
    seq = psac.position_table(15 * 30, 100, "sequence")
    np.testing.assert_allclose(seq, np_positions(450, 100, "sequence"), atol=1e-5)
    grid = psac.position_table(36, 100, "grid")
    np.testing.assert_allclose(grid, np_positions(36, 100, "grid"), atol=1e-6)
    assert len({tuple(row) for row in np.round(grid, 5)}) == 36  # every region distinct


# ----------------------------------------------------------------- co-attention
def test_co_attention_matches_reference():
    words, mask = _words(seed=7)
    frames = np.random.default_rng(8).normal(size=(2, 3, 5, 8)).astype(np.float32)
    layer = CoAttention(max_words=4)
    layer(words, mask, frames)
    randomize_weights(layer, seed=9)
    fused, tau_s, tau_u = [t.numpy() for t in layer(words, mask, frames)]
    assert (
        fused.shape == (2, 3, 5, 32) and tau_s.shape == (2, 3, 3, 5) and tau_u.shape == (2, 3, 3, 4)
    )
    assert tau_s.dtype == np.float32 and tau_u.dtype == np.float32
    for b in range(2):
        ref_fused, ref_s, ref_u = np_co_attention(words[b], mask[b], frames[b], layer)
        np.testing.assert_allclose(fused[b], ref_fused, atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(tau_s[b], ref_s, atol=ATOL)
        np.testing.assert_allclose(tau_u[b], ref_u, atol=ATOL)
    # Distributions per turn with words; 0 on padded words / turns.
    turn_mask = mask.reshape(2, 3, 4)
    has_words = np.broadcast_to(turn_mask.any(-1)[:, None], tau_s.shape[:3])
    np.testing.assert_allclose(tau_u.sum(-1)[has_words], 1.0, atol=1e-5)
    np.testing.assert_allclose(tau_s.sum(-1)[has_words], 1.0, atol=1e-5)
    assert np.all(tau_s[~has_words] == 0) and np.all(tau_u[~has_words] == 0)
    assert np.all(tau_u[np.broadcast_to(~turn_mask[:, None], tau_u.shape)] == 0)


def test_word_attention_survives_far_apart_turns():
    """A turn whose words all score far below another turn's still gets a distribution."""
    mask = np.ones((1, 6), bool)  # T=2 turns of L=3 words
    words = np.abs(np.random.default_rng(11).normal(size=(1, 6, 4))).astype(np.float32)
    words[0, :3] *= 60.0  # first turn dominates the softmax over all words
    frames = np.abs(np.random.default_rng(12).normal(size=(1, 2, 4, 4))).astype(np.float32)
    layer = CoAttention(max_words=3)
    layer(words, mask, frames)
    for weight in layer.weights:
        weight.assign(np.full(weight.shape, 3.0, np.float32))
    _, tau_s, tau_u = [t.numpy() for t in layer(words, mask, frames)]
    # S for region 0 of candidate 0: a softmax over all 6 words underflows on turn 2.
    scores = 3.0 * (frames[0, 0, 0].sum() + words[0].sum(-1) + words[0] @ frames[0, 0, 0])
    assert np.exp(scores[3:].max() - scores.max()) == 0.0
    assert np.isfinite(tau_u).all() and np.isfinite(tau_s).all()
    np.testing.assert_allclose(tau_u.sum(-1), 1.0, atol=1e-5)


# ----------------------------------------------------------------- whole matcher
def test_matcher_matches_numpy_forward():
    config = tiny_config("psac")
    model = psac.build_matcher(config)
    batch = feature_batch(config, seed=4)
    batch["sticker_regions"] *= 0.3
    model(batch)
    randomize_weights(model.get_layer("context_embedding"), seed=13, scale=0.3)
    np.testing.assert_allclose(
        np.asarray(model(batch)["scores"]), np_matcher(model, batch), atol=1e-4, rtol=1e-4
    )


def test_matcher_contract(tmp_path):
    keras.utils.set_random_seed(0)  # the weights must not depend on test order
    matcher = psac.build_matcher(tiny_config("psac"))
    batch = feature_batch(tiny_config("psac"))
    # The score layer starts at zero (every score 0.5): give it trained-like
    # weights so the checks can see scores differ. Scaled so that the logits
    # stay within a few units: at std 1 they reach 30-70 for some random
    # initialisations, where float32 sigmoid gives exactly 0 or 1 and the
    # padding checks would compare saturated scores.
    score = matcher.get_layer("candidate_score").score_dense
    assert np.all(np.asarray(matcher(batch)["scores"]) == 0.5)
    score.kernel.assign(0.05 * np.random.default_rng(3).normal(size=score.kernel.shape))
    scores = np.asarray(matcher(batch)["scores"], np.float64)
    assert np.all((scores > 1e-3) & (scores < 1 - 1e-3)) and np.ptp(scores) > 1e-3
    check_contract(matcher)
    check_padding_invariance(matcher)
    check_permutation_equivariance(matcher)
    check_keras_save_load(matcher, tmp_path)


def test_built_through_the_dispatcher():
    config = tiny_config("psac")
    model = srs_tf.model.build_matcher(config)
    assert model.name == "matcher"
    assert model.get_layer("co_attention").__class__ is CoAttention
    assert model.get_layer("region_normalization") and model.get_layer("flat_normalization")
    assert np.asarray(model(feature_batch(config))["scores"]).shape == (3, 4)


def test_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        config = tiny_config("psac")
        out = psac.build_matcher(config)(feature_batch(config))
        assert {str(v.dtype) for v in out.values()} == {"<dtype: 'float32'>"}
        assert all(np.isfinite(np.asarray(v)).all() for v in out.values())
    finally:
        keras.mixed_precision.set_global_policy("float32")


# ----------------------------------------------------------------- config
def test_layers_round_trip():
    words, mask = _words(seed=14)
    rng = np.random.default_rng(15)
    frames = rng.normal(size=(2, 3, TINY_REGIONS, 8)).astype(np.float32)
    ids = rng.integers(0, 20, size=(2, 3, 4)).astype(np.int32)
    turn_mask = np.array([[True, True, False], [True, True, True]])
    assert_round_trip(PositionalSelfAttention(8, num_heads=2, dropout=0.1), words, mask)
    assert_round_trip(PositionalSelfAttention(8, positions="grid"), frames)
    assert_round_trip(ContextEmbedding(20, 6, 8, dropout=0.1), ids, turn_mask)
    assert_round_trip(
        StickerFrames(8),
        rng.normal(size=(2, 3, TINY_REGIONS, 768)).astype(np.float32),
        rng.normal(size=(2, 3, 2048)).astype(np.float32),
    )
    assert_round_trip(CoAttention(4, dropout=0.1), words, mask, frames)
    assert_round_trip(CandidateScore(8), rng.normal(size=(2, 3, TINY_REGIONS, 32)))


def test_context_embedding_masks_padding():
    ids = np.array([[[3, 4, 0], [5, 6, 7]], [[2, 0, 0], [9, 9, 9]]], np.int32)
    turn_mask = np.array([[True, True], [True, False]])
    words, mask = ContextEmbedding(20, 4, 8)(ids, turn_mask)
    expected = np.array([[1, 1, 0, 1, 1, 1], [1, 0, 0, 0, 0, 0]], bool)
    np.testing.assert_array_equal(mask.numpy(), expected)
    assert np.all(words.numpy()[~expected] == 0)
