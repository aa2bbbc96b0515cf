"""SMN baseline (srs_tf.baselines.smn) against numpy references written from
the SMN paper (Wu et al., ACL 2017): the word- and segment-level matching
matrices (with a numpy GRU run over the real words only), the CNN matching
vector, the masked turn GRU and SMN_last's score; then the checks every
baseline passes (baseline_helpers), the layers' config round trips and the
dispatcher."""

import keras
import numpy as np
import pytest
from baseline_helpers import (
    TINY_REGIONS,
    check_contract,
    check_keras_save_load,
    check_padding_invariance,
    check_permutation_equivariance,
    feature_batch,
    tiny_config,
)
from layer_refs import ATOL, assert_round_trip, randomize_weights, sigmoid

import srs_tf.model
from srs_tf.baselines.smn import (
    SMNAccumulation,
    SMNMatchingMatrices,
    SMNMatchingVector,
    SMNRepresentation,
    build_matcher,
)


# ----------------------------------------------------------------- numpy refs
def np_gru(xs, gru):
    """Keras' GRU (reset_after=True, gates z, r, h) over xs [N, D] from a zero state."""
    cell = gru.cell
    kernel, recurrent = cell.kernel.numpy(), cell.recurrent_kernel.numpy()
    bias_in, bias_rec = cell.bias.numpy()
    units = cell.units
    h = np.zeros(units)
    states = []
    for x in xs:
        xw, hu = x @ kernel + bias_in, h @ recurrent + bias_rec
        z = sigmoid(xw[:units] + hu[:units])
        r = sigmoid(xw[units : 2 * units] + hu[units : 2 * units])
        candidate = np.tanh(xw[2 * units :] + r * hu[2 * units :])
        h = z * h + (1.0 - z) * candidate
        states.append(h)
    return np.array(states).reshape(len(xs), units)


def np_matrices(ids, turn_mask, regions, representation, matrices_layer):
    """[M1, M2] of every (b, c, t): M1 = E_u E_r^T, M2[i, k] = H_u[i]^T A H_r[k]."""
    emb = representation.embedding.embeddings.numpy()
    w_r = representation.region_projection.kernel.numpy()
    a = matrices_layer.bilinear.numpy()
    gru = representation.sentence_gru
    B, T, L = ids.shape
    C, R = regions.shape[1], regions.shape[2]
    out = np.zeros((B, C, T, L, R, 2))
    for b in range(B):
        for c in range(C):
            e_r = regions[b, c] @ w_r  # the regions as response "words"
            h_r = np_gru(e_r, gru)
            for t in range(T):
                if not turn_mask[b, t]:
                    continue  # padded turn: all zero, whatever its ids
                n = int((ids[b, t] != 0).sum())  # words are left aligned
                e_u = emb[ids[b, t, :n]]
                h_u = np_gru(e_u, gru)  # the real words only
                for i in range(n):
                    for k in range(R):
                        out[b, c, t, i, k, 0] = e_u[i] @ e_r[k]
                        out[b, c, t, i, k, 1] = h_u[i] @ a @ h_r[k]
    return out


def np_matching_vector(matrix, layer):
    """Conv 3x3 valid + ReLU -> max-pool 3x3 stride 3 -> flatten -> tanh dense."""
    kernel, bias = layer.conv.kernel.numpy(), layer.conv.bias.numpy()
    size, pool = kernel.shape[0], layer.pool_size
    rows, cols = matrix.shape[0] - size + 1, matrix.shape[1] - size + 1
    conv = np.zeros((rows, cols, kernel.shape[-1]))
    for i in range(rows):
        for j in range(cols):
            patch = matrix[i : i + size, j : j + size]  # [3, 3, 2]
            conv[i, j] = np.maximum(np.tensordot(patch, kernel, axes=3) + bias, 0.0)
    pooled = np.array(
        [
            [
                conv[i * pool : (i + 1) * pool, j * pool : (j + 1) * pool].max(axis=(0, 1))
                for j in range((cols - pool) // pool + 1)
            ]
            for i in range((rows - pool) // pool + 1)
        ]
    )
    dense = layer.dense
    return np.tanh(pooled.reshape(-1) @ dense.kernel.numpy() + dense.bias.numpy())


def np_score(vectors, num_real, layer):
    """SMN_last: the turn GRU over the real turns, sigmoid of a dense of its last state."""
    state = (
        np_gru(vectors[:num_real], layer.turn_gru)[-1] if num_real else np.zeros(layer.hidden_dim)
    )
    dense = layer.score_dense
    return sigmoid(state @ dense.kernel.numpy()[:, 0] + dense.bias.numpy()[0])


def _word_inputs(seed=0, B=2, T=3, L=6, C=2, R=5, D=12, vocab=20):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab, size=(B, T, L)).astype(np.int32)
    lengths = np.array([[2, 6, 4], [1, 3, 5]])
    ids[np.arange(L)[None, None] >= lengths[..., None]] = 0
    turn_mask = np.array([[True, True, True], [True, True, False]])  # padded turn (1, 2)
    regions = rng.normal(size=(B, C, R, D)).astype(np.float32)
    return ids, turn_mask, regions


# ----------------------------------------------------------------- M1 / M2
def test_matching_matrices_match_numpy():
    ids, turn_mask, regions = _word_inputs()
    # Different widths (emb 4, hidden 5) so that a transposed weight would show.
    representation = SMNRepresentation(vocab_size=20, emb_dim=4, hidden_dim=5)
    matrices_layer = SMNMatchingMatrices(hidden_dim=5)
    encoded = representation(ids, turn_mask, regions)
    matrices_layer(*encoded)
    randomize_weights(representation, seed=1)
    randomize_weights(matrices_layer, seed=2)
    encoded = representation(ids, turn_mask, regions)
    matrices = np.asarray(matrices_layer(*encoded))
    assert matrices.shape == (2, 2, 3, 6, 5, 2)
    expected = np_matrices(ids, turn_mask, regions, representation, matrices_layer)
    np.testing.assert_allclose(matrices, expected, atol=ATOL, rtol=1e-5)
    # The sentence GRU's states at real words do not depend on the trailing padding.
    words_hidden, word_mask = np.asarray(encoded[1]), np.asarray(encoded[2])
    n = int(word_mask[0, 2].sum())
    np.testing.assert_allclose(
        words_hidden[0, 2, :n],
        np_gru(np.asarray(encoded[0])[0, 2, :n], representation.sentence_gru),
        atol=ATOL,
    )
    # A padded turn's garbage ids and padding words change nothing.
    garbage = ids.copy()
    garbage[1, 2] = np.arange(1, 7)
    again = np.asarray(matrices_layer(*representation(garbage, turn_mask, regions)))
    np.testing.assert_array_equal(again[1, :, 2], 0.0)
    np.testing.assert_allclose(again, matrices, atol=1e-6)


# ----------------------------------------------------------------- v_i and score
def test_matching_vector_and_score_match_numpy():
    rng = np.random.default_rng(3)
    matrices = rng.normal(size=(2, 3, 4, 6, 9, 2)).astype(np.float32)  # B, C, T, L, R, 2
    vector_layer = SMNMatchingVector()
    accumulation = SMNAccumulation()
    turn_mask = np.array([[True, True, False, False], [True, True, True, True]])
    accumulation(vector_layer(matrices), turn_mask)
    randomize_weights(vector_layer, seed=4)
    randomize_weights(accumulation, seed=5, scale=0.3)
    vectors = np.asarray(vector_layer(matrices))
    assert vectors.shape == (2, 3, 4, 50)
    for index in np.ndindex(2, 3, 4):
        np.testing.assert_allclose(
            vectors[index], np_matching_vector(matrices[index], vector_layer), atol=ATOL, rtol=1e-5
        )
    # Garbage in the vectors of padded turns: masked steps of the turn GRU.
    garbage = vectors.copy()
    garbage[0, :, 2:] = 7.0
    scores = np.asarray(accumulation(garbage, turn_mask))
    assert scores.shape == (2, 3) and scores.dtype == np.float32
    for b in range(2):
        for c in range(3):
            expected = np_score(vectors[b, c], int(turn_mask[b].sum()), accumulation)
            np.testing.assert_allclose(scores[b, c], expected, atol=ATOL)
    np.testing.assert_allclose(np.asarray(accumulation(vectors, turn_mask)), scores, atol=1e-6)


def test_matcher_matches_numpy_end_to_end():
    """The whole tiny matcher (normalisation included) against the three references."""
    config = tiny_config("smn")
    matcher = build_matcher(config)
    batch = feature_batch(config, batch=2, candidates=3, seed=4)
    randomize_weights(matcher, seed=6, scale=0.3)
    scores = np.asarray(matcher(batch)["scores"])
    representation = matcher.get_layer("smn_representation")
    region_norm = matcher.get_layer("region_normalization")
    regions = (batch["sticker_regions"] - region_norm.mean.numpy()) * region_norm.inv_std.numpy()
    turn_mask = np.arange(config.context_len)[None] < batch["num_turns"][:, None]
    matrices = np_matrices(
        batch["context_ids"],
        turn_mask,
        regions,
        representation,
        matcher.get_layer("smn_matching_matrices"),
    )
    vector_layer = matcher.get_layer("smn_matching_vector")
    accumulation = matcher.get_layer("smn_accumulation")
    for b, c in np.ndindex(2, 3):
        vectors = np.array([np_matching_vector(m, vector_layer) for m in matrices[b, c]])
        expected = np_score(vectors, int(batch["num_turns"][b]), accumulation)
        np.testing.assert_allclose(scores[b, c], expected, atol=1e-4, rtol=1e-4)


# ----------------------------------------------------------------- baseline checks
@pytest.fixture(scope="module")
def matcher():
    return build_matcher(tiny_config("smn"))


def test_contract(matcher):
    check_contract(matcher, tiny_config("smn"))


def test_padding_invariance(matcher):
    check_padding_invariance(matcher, tiny_config("smn"))


def test_permutation_equivariance(matcher):
    check_permutation_equivariance(matcher, tiny_config("smn"))


def test_keras_save_load(matcher, tmp_path):
    check_keras_save_load(matcher, tmp_path, tiny_config("smn"))


def test_layers_round_trip():
    ids, turn_mask, regions = _word_inputs(seed=8)
    representation = SMNRepresentation(vocab_size=20, emb_dim=4, hidden_dim=5)
    assert_round_trip(representation, ids, turn_mask, regions)
    encoded = representation(ids, turn_mask, regions)
    assert_round_trip(SMNMatchingMatrices(hidden_dim=5), *encoded)
    matrices = np.random.default_rng(9).normal(size=(2, 2, 3, 6, 5, 2)).astype(np.float32)
    assert_round_trip(SMNMatchingVector(), matrices)
    clone = assert_round_trip(
        SMNMatchingVector(filters=4, kernel_size=2, pool_size=2, matching_dim=6), matrices
    )
    assert (clone.filters, clone.kernel_size, clone.pool_size, clone.matching_dim) == (4, 2, 2, 6)
    vectors = np.random.default_rng(10).normal(size=(2, 2, 3, 50)).astype(np.float32)
    assert_round_trip(SMNAccumulation(), vectors, turn_mask)


def test_dispatcher_builds_smn():
    config = tiny_config("smn")
    matcher = srs_tf.model.build_matcher(config)
    assert matcher.name == "matcher"
    names = {layer.name for layer in matcher.layers}
    assert {"smn_matching_matrices", "region_normalization"} <= names
    assert "flat_normalization" not in names  # O_flat is not used by SMN
    out = matcher(feature_batch(config, batch=2, candidates=3))
    assert out["scores"].shape == (2, 3)
    assert out["sticker_attention"].shape == (2, 3, config.context_len, TINY_REGIONS)


def test_too_small_matrix_is_refused():
    with pytest.raises(ValueError, match="too small"):
        build_matcher(tiny_config("smn", max_words=4))


def test_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        config = tiny_config("smn")
        out = build_matcher(config)(feature_batch(config, batch=2, candidates=3))
        assert out["scores"].dtype == "float32"
        assert np.isfinite(np.asarray(out["scores"])).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")
