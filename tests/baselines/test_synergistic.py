"""Synergistic baseline (Guo et al., CVPR 2019): both stages against a numpy
reference written from the paper's equations (module docstring of
srs_tf.baselines.synergistic), the top-K re-ranking's guarantees, and the
checks every baseline matcher passes."""

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
    tiny_config,
)
from layer_refs import ATOL, assert_round_trip, np_dense, np_softmax, sigmoid

import srs_tf.model
from srs_tf.baselines.synergistic import (
    TOP_K,
    CoarseScorer,
    DialogEncoder,
    SynergisticAttention,
    SynergyScorer,
    TopKRerank,
    build_matcher,
)
from srs_tf.model.fusion import TurnMask

STAGE_LAYERS = ("dialog_encoder", "coarse_scorer", "synergistic_attention", "synergy_scorer")


# ----------------------------------------------------------------- numpy reference
def np_gru(xs, mask, gru):
    """Keras GRU (reset_after, gates z, r, h) over xs [N, D]; masked steps carry the state."""
    kernel = gru.cell.kernel.numpy()
    recurrent = gru.cell.recurrent_kernel.numpy()
    bias = gru.cell.bias.numpy()
    units = recurrent.shape[0]
    state = np.zeros(units)
    outputs = []
    for x, real in zip(xs, mask):
        if real:
            xw = x @ kernel + bias[0]
            hu = state @ recurrent + bias[1]
            z = sigmoid(xw[:units] + hu[:units])
            r = sigmoid(xw[units : 2 * units] + hu[units : 2 * units])
            candidate = np.tanh(xw[2 * units :] + r * hu[2 * units :])
            state = z * state + (1.0 - z) * candidate
        outputs.append(state)
    return np.array(outputs), state


def np_dialog_encoder(ids, num_turns, layer):
    """Primary stage encoder: word GRU, attention pooling per turn, turn GRU."""
    B, T, L = ids.shape
    H = layer.hidden_dim
    table = layer.embedding.embeddings.numpy()
    h = np.zeros((B, T, L, H))
    word_mask = np.zeros((B, T, L), bool)
    context = np.zeros((B, H))
    for b in range(B):
        pooled = np.zeros((T, H))
        for t in range(T):
            word_mask[b, t] = (ids[b, t] != 0) & (t < num_turns[b])
            states, _ = np_gru(table[ids[b, t]], word_mask[b, t], layer.word_rnn)
            h[b, t] = states * word_mask[b, t][:, None]
            logits = np.array(
                [
                    np_dense(np.tanh(np_dense(h[b, t, j], layer.pool_hidden)), layer.pool_score)[0]
                    for j in range(L)
                ]
            )
            weights = np_softmax(logits, word_mask[b, t])
            pooled[t] = weights @ h[b, t]
        _, context[b] = np_gru(pooled, np.arange(T) < num_turns[b], layer.turn_rnn)
    return h, word_mask, context


def np_coarse(context, flat, layer):
    """s_i = tanh(W_q c + b_q) . (P O_flat_i) / sqrt(H)."""
    answers = flat @ layer.flat_projection.kernel.numpy()  # [B, C, H]
    query = np.tanh(np_dense(context, layer.query))  # [B, H]
    return np.einsum("bh,bch->bc", query, answers) / np.sqrt(layer.hidden_dim), answers


def np_synergistic_attention(h, word_mask, answers, regions, layer):
    """Answer-guided word attention, then question-answer-guided region attention, fused."""
    B, T, L, H = h.shape
    C, R = regions.shape[1], regions.shape[2]
    w_word = layer.word_score.kernel.numpy()[:, 0]
    w_region = layer.region_score.kernel.numpy()[:, 0]
    fused = np.zeros((B, C, T, H))
    region_att = np.zeros((B, C, T, R))
    word_att = np.zeros((B, C, T, L))
    for b in range(B):
        for c in range(C):
            a = answers[b, c]
            o = regions[b, c] @ layer.region_projection.kernel.numpy()  # [R, H]
            for t in range(T):
                logits = np.array(
                    [
                        w_word
                        @ np.tanh(
                            np_dense(h[b, t, j], layer.word_key) + np_dense(a, layer.answer_query)
                        )
                        for j in range(L)
                    ]
                )
                alpha = np_softmax(logits, word_mask[b, t])
                question = alpha @ h[b, t]
                if word_mask[b, t].any():
                    guide = np_dense(question * a, layer.question_query)
                    logits = np.array(
                        [
                            w_region @ np.tanh(np_dense(o[k], layer.region_key) + guide)
                            for k in range(R)
                        ]
                    )
                    beta = np_softmax(logits, np.ones(R, bool))
                else:
                    beta = np.zeros(R)
                image = beta @ o
                fused[b, c, t] = np.tanh(np_dense(np.concatenate([question, image, a]), layer.fuse))
                word_att[b, c, t], region_att[b, c, t] = alpha, beta
    return fused, region_att, word_att


def np_synergy_scores(fused, num_turns, layer):
    B, C, T, _ = fused.shape
    rerank = np.zeros((B, C))
    for b in range(B):
        for c in range(C):
            _, final = np_gru(fused[b, c], np.arange(T) < num_turns[b], layer.rnn)
            rerank[b, c] = np_dense(final, layer.score)[0]
    return rerank


def np_rerank(coarse, rerank, top_k):
    """The top-K by coarse score (sorted, not counted) get + softplus(r)."""
    selected = np.zeros(coarse.shape, bool)
    for b in range(coarse.shape[0]):
        selected[b, np.argsort(-coarse[b], kind="stable")[:top_k]] = True
    logits = coarse + np.where(selected, np.log1p(np.exp(rerank)), 0.0)
    return sigmoid(logits), selected


def np_matcher(batch, matcher, top_k):
    layers = {name: matcher.get_layer(name) for name in STAGE_LAYERS}
    h, word_mask, context = np_dialog_encoder(
        batch["context_ids"], batch["num_turns"], layers["dialog_encoder"]
    )
    coarse, answers = np_coarse(context, batch["sticker_flat"], layers["coarse_scorer"])
    fused, region_att, word_att = np_synergistic_attention(
        h, word_mask, answers, batch["sticker_regions"], layers["synergistic_attention"]
    )
    rerank = np_synergy_scores(fused, batch["num_turns"], layers["synergy_scorer"])
    scores, selected = np_rerank(coarse, rerank, top_k)
    return dict(
        coarse=coarse,
        rerank=rerank,
        scores=scores,
        selected=selected,
        sticker_attention=region_att,
        word_attention=word_att,
    )


def randomize_stage_weights(matcher, seed=0, scale=0.5):
    """Seeded non-trivial weights and biases; the wide input projections get
    Glorot-sized ones (their inputs have 768 / 2048 channels)."""
    rng = np.random.default_rng(seed)
    for name in STAGE_LAYERS:
        for var in matcher.get_layer(name).weights:
            std = np.sqrt(2.0 / sum(var.shape)) if "projection" in var.path else scale
            var.assign(rng.normal(0.0, std, var.shape).astype(var.dtype))


@pytest.fixture(scope="module")
def reranking_matcher():
    """Top 2 of 4 candidates re-ranked (TINY has 4 candidates), random weights."""
    matcher = build_matcher(tiny_config("synergistic"), top_k=2)
    matcher(feature_batch())
    randomize_stage_weights(matcher, seed=13)
    return matcher


# ----------------------------------------------------------------- both stages
def test_both_stages_match_numpy_reference(reranking_matcher):
    matcher = reranking_matcher
    batch = feature_batch(batch=5, seed=4)
    batch["num_turns"][1] = 1  # more padded turns
    ref = np_matcher(batch, matcher, top_k=2)

    # Primary stage: coarse scores.
    turn_mask = TurnMask(TINY.context_len)(batch["num_turns"])
    h, word_mask, context = matcher.get_layer("dialog_encoder")(batch["context_ids"], turn_mask)
    coarse, answers = matcher.get_layer("coarse_scorer")(context, batch["sticker_flat"])
    np.testing.assert_allclose(coarse.numpy(), ref["coarse"], atol=ATOL)
    # Synergistic stage: re-rank logits of every candidate.
    fused, _, _ = matcher.get_layer("synergistic_attention")(
        h, word_mask, answers, batch["sticker_regions"]
    )
    rerank = matcher.get_layer("synergy_scorer")(fused, turn_mask)
    np.testing.assert_allclose(rerank.numpy(), ref["rerank"], atol=ATOL)

    out = {key: np.asarray(value) for key, value in matcher(batch).items()}
    np.testing.assert_allclose(out["scores"], ref["scores"], atol=ATOL)
    np.testing.assert_allclose(out["word_attention"], ref["word_attention"], atol=ATOL)
    np.testing.assert_allclose(out["sticker_attention"], ref["sticker_attention"], atol=ATOL)
    # Which candidates were re-scored: exactly the reference's top 2 (their
    # score moved off sigmoid(coarse)), and the final order is the reference's.
    moved = np.abs(out["scores"] - sigmoid(ref["coarse"])) > 1e-6
    np.testing.assert_array_equal(moved, ref["selected"])
    assert ref["selected"].sum(1).tolist() == [2] * 5
    np.testing.assert_array_equal(
        np.argsort(-out["scores"], axis=1), np.argsort(-ref["scores"], axis=1)
    )
    # Not vacuous: the synergistic stage reorders the top 2 somewhere.
    assert (np.argsort(-ref["scores"], 1) != np.argsort(-ref["coarse"], 1)).any()


def test_reranking_only_reorders_the_primary_top_k(reranking_matcher):
    """Model level: the final top 2 are the primary stage's top 2, and the
    other candidates keep the primary order and score."""
    batch = feature_batch(batch=6, seed=8)
    matcher = reranking_matcher
    turn_mask = TurnMask(TINY.context_len)(batch["num_turns"])
    _, _, context = matcher.get_layer("dialog_encoder")(batch["context_ids"], turn_mask)
    coarse = matcher.get_layer("coarse_scorer")(context, batch["sticker_flat"])[0].numpy()
    scores = np.asarray(matcher(batch)["scores"])
    for row_coarse, row_scores in zip(coarse, scores):
        order = np.argsort(-row_coarse)
        inside, outside = order[:2], order[2:]
        assert row_scores[inside].min() > row_scores[outside].max()
        np.testing.assert_allclose(row_scores[outside], sigmoid(row_coarse[outside]), atol=1e-6)


def test_top_k_rerank_layer_guarantees():
    rng = np.random.default_rng(3)
    coarse = rng.normal(size=(300, 10)).astype(np.float32)
    rerank = (10.0 * rng.normal(size=(300, 10))).astype(np.float32)  # strong re-ranking
    scores = TopKRerank(top_k=3)(coarse, rerank).numpy()
    expected, selected = np_rerank(coarse, rerank, 3)
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    for row in range(300):
        inside, outside = scores[row][selected[row]], scores[row][~selected[row]]
        assert inside.min() >= outside.max()  # never overtaken from outside
        outside_coarse = coarse[row][~selected[row]]
        np.testing.assert_array_equal(np.argsort(-outside), np.argsort(-outside_coarse))
    # The re-ranking does reorder inside the top 3.
    inside_order = [np.argsort(-scores[r][selected[r]]) for r in range(300)]
    coarse_order = [np.argsort(-coarse[r][selected[r]]) for r in range(300)]
    assert any((a != b).any() for a, b in zip(inside_order, coarse_order))
    # Fewer candidates than K: all of them are re-ranked.
    few = TopKRerank(top_k=5)(coarse[:, :2], rerank[:, :2]).numpy()
    np.testing.assert_allclose(few, sigmoid(coarse[:, :2] + np.log1p(np.exp(rerank[:, :2]))), 1e-5)


def test_top_k_ties_select_every_tied_candidate_and_stay_equivariant():
    """Documented behaviour at ties: a tie at the K-th place re-ranks every
    tied candidate (here 3 for K = 2), so permuting candidates still permutes
    the scores exactly."""
    coarse = np.array([[1.0, 0.0, 1.0, 1.0]], np.float32)
    rerank = np.array([[0.5, 3.0, -1.0, 2.0]], np.float32)
    layer = TopKRerank(top_k=2)
    scores = layer(coarse, rerank).numpy()
    softplus = np.log1p(np.exp(rerank))
    np.testing.assert_allclose(scores, sigmoid(coarse + [[1, 0, 1, 1]] * softplus), atol=1e-6)
    for perm in ([3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]):
        permuted = layer(coarse[:, perm], rerank[:, perm]).numpy()
        np.testing.assert_array_equal(permuted, scores[:, perm])


# ----------------------------------------------------------------- matcher checks
@pytest.fixture(scope="module")
def matcher():
    return build_matcher(tiny_config("synergistic"))


def test_matcher_contract(matcher, reranking_matcher):
    assert matcher.get_layer("top_k_rerank").top_k == TOP_K
    check_contract(matcher)
    check_contract(reranking_matcher)


def test_matcher_padding_invariance(matcher, reranking_matcher):
    check_padding_invariance(matcher)
    check_padding_invariance(reranking_matcher)


def test_matcher_permutation_equivariance(matcher, reranking_matcher):
    # Tie-free random features: the top-K selection is exactly equivariant.
    check_permutation_equivariance(matcher)
    check_permutation_equivariance(reranking_matcher)


def test_matcher_keras_save_load(reranking_matcher, tmp_path):
    check_keras_save_load(reranking_matcher, tmp_path)


def test_layers_round_trip():
    rng = np.random.default_rng(5)
    ids = np.array([[[4, 5, 0], [6, 0, 0]], [[7, 8, 9], [0, 0, 0]]], np.int32)  # B=2, T=2, L=3
    turn_mask = np.array([[True, True], [True, False]])
    assert_round_trip(DialogEncoder(20, 4, 4, dropout=0.1), ids, turn_mask)
    assert_round_trip(
        CoarseScorer(4), rng.normal(size=(2, 4)).astype("float32"), rng.normal(size=(2, 3, 2048))
    )
    h = rng.normal(size=(2, 2, 3, 4)).astype("float32") * (ids != 0)[..., None]
    assert_round_trip(
        SynergisticAttention(4),
        h,
        (ids != 0) & turn_mask[..., None],
        rng.normal(size=(2, 3, 4)).astype("float32"),
        rng.normal(size=(2, 3, 5, 768)).astype("float32"),
    )
    assert_round_trip(SynergyScorer(4), rng.normal(size=(2, 3, 2, 4)).astype("float32"), turn_mask)
    clone = assert_round_trip(TopKRerank(top_k=2), rng.normal(size=(2, 3)), rng.normal(size=(2, 3)))
    assert clone.top_k == 2


def test_built_through_the_dispatcher():
    matcher = srs_tf.model.build_matcher(tiny_config("synergistic"))
    assert matcher.name == "matcher"
    assert isinstance(matcher.get_layer("top_k_rerank"), TopKRerank)
    out = matcher(feature_batch(seed=6))
    assert np.asarray(out["scores"]).shape == (3, 4)


def test_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        matcher = build_matcher(tiny_config("synergistic"), top_k=2)
        out = matcher(feature_batch(seed=9))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert all(out[key].dtype == "float32" for key in out)
    scores = np.asarray(out["scores"])
    assert np.isfinite(scores).all() and ((scores > 0) & (scores < 1)).all()
