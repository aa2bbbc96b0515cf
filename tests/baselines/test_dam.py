"""DAM (Zhou et al., ACL 2018): the attentive module and the matching cube
against numpy references written from the paper's equations, the stacked
self-attention, the matcher checks every baseline passes, layer round trips
and the dispatcher."""

import keras
import numpy as np
from baseline_helpers import (
    check_contract,
    check_keras_save_load,
    check_padding_invariance,
    check_permutation_equivariance,
    feature_batch,
    tiny_config,
)
from layer_refs import ATOL, assert_round_trip, np_dense, np_layer_norm, np_softmax

from srs_tf.baselines.dam import (
    STACK_DEPTH,
    DamAggregation,
    DamAttentiveModule,
    DamMatchingCube,
    DamSelfAttentionStack,
    DamStickerResponse,
    DamWordEmbedding,
    build_matcher,
    pooled_size,
)


def randomize(layer, seed, scale=0.5):
    """Non-trivial weights (LayerNorm gains around 1 so the norms matter)."""
    rng = np.random.default_rng(seed)
    for var in layer.weights:
        values = rng.normal(0.0, scale, var.shape)
        if "gamma" in var.path:
            values = values + 1.0
        var.assign(values.astype(var.dtype))


def np_am(query, key, query_mask, key_mask, layer):
    """AM(Q, K, V=K) of paper §3.2 for one query sequence [Nq, d] and key sequence [Nk, d]."""
    d = query.shape[-1]
    out = np.zeros(query.shape)
    for j in range(query.shape[0]):
        if not query_mask[j]:
            continue  # padded query row: 0
        logits = np.array([query[j] @ key[n] for n in range(key.shape[0])]) / np.sqrt(d)
        alpha = np_softmax(logits, key_mask)  # all keys padded -> all 0
        v_att = np_layer_norm(query[j] + alpha @ key, layer.attention_norm)
        ffn = np_dense(np_dense(v_att, layer.ffn_inner, "relu"), layer.ffn_outer)
        out[j] = np_layer_norm(v_att + ffn, layer.ffn_norm)
    return out


def np_cube(u_levels, word_mask, r_levels, region_mask, layer):
    """Q[i, k, t, :] = [M_self^0..Ls ; M_cross^0..Ls][k, t] for one (example, candidate).

    u_levels [T, Ls+1, L, d], word_mask [T, L], r_levels [Ls+1, R, d], region_mask [R].
    """
    turns, levels, words, d = u_levels.shape
    regions = r_levels.shape[1]
    cube = np.zeros((turns, words, regions, 2 * levels))
    for i in range(turns):
        for level in range(levels):
            u, r = u_levels[i, level], r_levels[level]
            u_cross = np_am(u, r, word_mask[i], region_mask, layer.word_attends_sticker[level])
            r_cross = np_am(r, u, region_mask, word_mask[i], layer.sticker_attends_word[level])
            for k in range(words):
                for t in range(regions):
                    if not (word_mask[i, k] and region_mask[t]):
                        continue
                    cube[i, k, t, level] = u[k] @ r[t] / np.sqrt(d)
                    cube[i, k, t, levels + level] = u_cross[k] @ r_cross[t] / np.sqrt(d)
    return cube


def _masks(rng, batch, turns, words):
    word_mask = rng.random((batch, turns, words)) > 0.3
    word_mask[:, :, 0] = True
    word_mask[0, -1] = False  # a padded turn
    return word_mask


# ------------------------------------------------------------ attentive module
def test_attentive_module_matches_paper():
    rng = np.random.default_rng(0)
    d, nq, nk = 6, 5, 7
    query = rng.normal(size=(3, nq, d)).astype(np.float32)
    key = rng.normal(size=(3, nk, d)).astype(np.float32)
    query_mask = np.arange(nq)[None] < np.array([[5], [3], [2]])
    key_mask = np.arange(nk)[None] < np.array([[7], [4], [0]])  # last: no real key
    layer = DamAttentiveModule(width=d)
    layer(query, key, query_mask, key_mask)
    randomize(layer, seed=1)
    out = np.asarray(layer(query, key, query_mask, key_mask))
    for b in range(3):
        ref = np_am(query[b], key[b], query_mask[b], key_mask[b], layer)
        np.testing.assert_allclose(out[b], ref, atol=ATOL)
    assert np.all(out[~query_mask] == 0)
    # Values at padded keys do not matter.
    key2 = np.where(key_mask[..., None], key, 30.0).astype(np.float32)
    np.testing.assert_allclose(np.asarray(layer(query, key2, query_mask, key_mask)), out, atol=1e-6)
    # Broadcast leading axes: [2, 1, nq, d] queries against [1, 3, nk, d] keys.
    wide = np.asarray(layer(query[:2, None], key[None], key_mask=key_mask[None]))
    assert wide.shape == (2, 3, nq, d)
    ref = np_am(query[1], key[2], np.ones(nq, bool), key_mask[2], layer)
    np.testing.assert_allclose(wide[1, 2], ref, atol=ATOL)


def test_self_attention_stack_iterates_the_module():
    rng = np.random.default_rng(2)
    words = rng.normal(size=(2, 3, 5, 6)).astype(np.float32)
    mask = _masks(rng, 2, 3, 5)
    layer = DamSelfAttentionStack(width=6, stack_depth=2)
    layer(words, mask)
    randomize(layer, seed=3)
    out = np.asarray(layer(words, mask))
    assert out.shape == (2, 3, 3, 5, 6)
    for b in range(2):
        for i in range(3):
            hidden = words[b, i] * mask[b, i][:, None]
            np.testing.assert_allclose(out[b, i, 0], hidden, atol=1e-6)
            for level, module in enumerate(layer.levels):
                hidden = np_am(hidden, hidden, mask[b, i], mask[b, i], module)
                np.testing.assert_allclose(out[b, i, level + 1], hidden, atol=ATOL)


# ------------------------------------------------------------ matching cube
def test_matching_cube_matches_paper():
    rng = np.random.default_rng(4)
    batch, cands, turns, words, regions, d, depth = 2, 3, 3, 4, 5, 6, 1
    word_mask = _masks(rng, batch, turns, words)
    region_mask = np.ones((batch, cands, regions), bool)
    region_mask[1, 2, 3:] = False  # the layer also honours padded response positions
    u_levels = rng.normal(size=(batch, turns, depth + 1, words, d)).astype(np.float32)
    r_levels = rng.normal(size=(batch, cands, depth + 1, regions, d)).astype(np.float32)
    layer = DamMatchingCube(width=d, stack_depth=depth)
    layer(u_levels, word_mask, r_levels, region_mask)
    randomize(layer, seed=5)
    cube = np.asarray(layer(u_levels, word_mask, r_levels, region_mask))
    assert cube.shape == (batch, cands, turns, words, regions, 2 * (depth + 1))
    for b in range(batch):
        for c in range(cands):
            ref = np_cube(u_levels[b], word_mask[b], r_levels[b, c], region_mask[b, c], layer)
            np.testing.assert_allclose(cube[b, c], ref, atol=ATOL)
    np.testing.assert_array_equal(cube[0, :, -1], 0.0)  # the padded turn
    # Garbage at padded words / in the padded turn / at padded regions cannot reach the cube.
    u_garbage = np.where(word_mask[:, :, None, :, None], u_levels, 40.0).astype(np.float32)
    r_garbage = np.where(region_mask[:, :, None, :, None], r_levels, -40.0).astype(np.float32)
    again = np.asarray(layer(u_garbage, word_mask, r_garbage, region_mask))
    np.testing.assert_allclose(again, cube, atol=1e-5)
    # Without a response mask every region is real.
    full = np.asarray(layer(u_levels, word_mask, r_levels))
    np.testing.assert_allclose(full[0], cube[0], atol=1e-6)


def test_aggregation_sizes_at_tiny_and_paper_shapes():
    assert (pooled_size(15), pooled_size(30), pooled_size(36)) == (2, 4, 4)
    assert (pooled_size(4), pooled_size(6), pooled_size(9)) == (1, 1, 1)
    paper = DamAggregation()
    paper.build((None, None, 15, 30, 36, 2 * (STACK_DEPTH + 1)))
    assert tuple(paper.score_dense.kernel.shape) == (2 * 4 * 4 * 16, 1)
    layer = DamAggregation(filters=(4, 3))
    cube = np.random.default_rng(6).normal(size=(2, 3, 4, 6, 9, 4)).astype(np.float32)
    scores = np.asarray(layer(cube))
    assert scores.shape == (2, 3) and scores.dtype == np.float32
    assert np.all((scores > 0) & (scores < 1))


# ------------------------------------------------------------ matcher
def test_matcher_passes_the_baseline_checks(tmp_path):
    config = tiny_config("dam")
    matcher = build_matcher(config, stack_depth=2)
    assert matcher.name == "matcher"
    names = {layer.name for layer in matcher.layers}
    assert {"region_normalization", "turn_mask"} <= names
    assert "flat_normalization" not in names  # O_flat is not used by DAM
    check_contract(matcher)
    check_padding_invariance(matcher)
    check_permutation_equivariance(matcher)
    check_keras_save_load(matcher, tmp_path)


def test_matcher_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        matcher = build_matcher(tiny_config("dam"), stack_depth=1)
        out = matcher(feature_batch())
        scores = np.asarray(out["scores"])
        assert scores.dtype == np.float32 and np.all(np.isfinite(scores))
        assert np.asarray(out["word_attention"]).dtype == np.float32
        check_padding_invariance(matcher, atol=1e-3)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_layers_round_trip():
    rng = np.random.default_rng(7)
    ids = feature_batch(batch=2)["context_ids"]
    turn_mask = np.array([[True, True, False, False], [True, True, True, True]])
    assert_round_trip(DamWordEmbedding(vocab_size=40, width=6), ids, turn_mask)
    regions = rng.normal(size=(2, 3, 9, 768)).astype(np.float32)
    assert_round_trip(DamStickerResponse(width=6), regions)
    x = rng.normal(size=(2, 4, 5, 6)).astype(np.float32)
    mask = _masks(rng, 2, 4, 5)
    assert_round_trip(DamAttentiveModule(width=6), x, x, mask, mask)
    clone = assert_round_trip(DamSelfAttentionStack(width=6, stack_depth=2), x, mask)
    assert clone.stack_depth == 2
    u = rng.normal(size=(2, 4, 2, 5, 6)).astype(np.float32)
    r = rng.normal(size=(2, 3, 2, 9, 6)).astype(np.float32)
    assert_round_trip(DamMatchingCube(width=6, stack_depth=1), u, mask, r)
    cube = rng.normal(size=(2, 3, 4, 5, 9, 4)).astype(np.float32)
    clone = assert_round_trip(DamAggregation(filters=(4, 3)), cube)
    assert clone.filters == (4, 3)


def test_dispatcher_builds_dam():
    from srs_tf.model import build_matcher as dispatch

    matcher = dispatch(tiny_config("dam"))
    cube = matcher.get_layer("matching_cube")
    assert cube.stack_depth == STACK_DEPTH == 5
    assert len(cube.word_attends_sticker) == len(cube.sticker_attends_word) == 6
    assert len(matcher.get_layer("self_attention_stack").levels) == 5
    scores = np.asarray(matcher(feature_batch())["scores"])
    assert scores.shape == (3, 4) and np.all((scores > 0) & (scores < 1))
