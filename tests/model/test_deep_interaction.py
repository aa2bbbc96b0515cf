"""DeepInteraction (eq. 7-11) against a numpy reference that materialises the
concatenation [O_k; h_j; O_k*h_j] explicitly, its no_din variant, and the
dtypes of the layer chain under mixed precision."""

import keras
import numpy as np
from layer_refs import ATOL, assert_round_trip, np_dense, np_softmax, randomize_weights

from srs_tf.model import DeepInteraction, FusionNetwork, UtteranceEncoder


def np_deep_interaction(h, word_mask, regions, flat, layer):
    """Eq. 7-11 with an explicitly materialised concatenation [O_k; h_j; O_k*h_j]."""
    B, T, L, H = h.shape
    C, R = regions.shape[1], regions.shape[2]
    w = layer.relation_kernel.numpy()[:, 0]
    q2 = np.zeros((B, C, T, H))
    tau_s = np.zeros((B, C, T, R))
    tau_u = np.zeros((B, C, T, L))
    for b in range(B):
        for c in range(C):
            o = regions[b, c] @ layer.region_projection.kernel.numpy()  # [R, H]
            x = flat[b, c] @ layer.flat_projection.kernel.numpy()  # [H]
            for t in range(T):
                m = np.zeros((R, L))
                for k in range(R):
                    for j in range(L):
                        m[k, j] = w @ np.concatenate([o[k], h[b, t, j], o[k] * h[b, t, j]])
                real = word_mask[b, t]
                tu = np_softmax(m.max(axis=0), real)
                if real.any():
                    ts = np_softmax(m[:, real].max(axis=1), np.ones(R, bool))
                else:
                    ts = np.zeros(R)
                l_vec = (tu[:, None] * h[b, t]).sum(0)
                r_vec = (ts[:, None] * o).sum(0)
                q1 = np_dense(np.concatenate([x, r_vec, x * r_vec, x + r_vec]), layer.integrate)
                q2[b, c, t] = np_dense(np.concatenate([q1, l_vec]), layer.output_dense)
                tau_s[b, c, t], tau_u[b, c, t] = ts, tu
    return q2, tau_s, tau_u


def _interaction_inputs(seed=5, B=2, C=3, T=3, L=4, H=4, R=4):
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(B, T, L, H)).astype(np.float32)
    word_mask = rng.random((B, T, L)) > 0.3
    word_mask[:, :, 0] = True
    word_mask[1, 2] = False  # padded turn
    h = h * word_mask[..., None]
    regions = rng.normal(size=(B, C, R, 12)).astype(np.float32)
    flat = rng.normal(size=(B, C, 20)).astype(np.float32)
    return h, word_mask, regions, flat


# ----------------------------------------------------------------- eq. 7-11
def test_deep_interaction_matches_eq_7_to_11():
    h, word_mask, regions, flat = _interaction_inputs()
    layer = DeepInteraction(hidden_dim=4)
    layer(h, word_mask, regions, flat)
    randomize_weights(layer, seed=6)
    q2, tau_s, tau_u = [t.numpy() for t in layer(h, word_mask, regions, flat)]
    ref_q2, ref_s, ref_u = np_deep_interaction(h, word_mask, regions, flat, layer)
    np.testing.assert_allclose(q2, ref_q2, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(tau_s, ref_s, atol=ATOL)
    np.testing.assert_allclose(tau_u, ref_u, atol=ATOL)
    # tau masking: zero on padded words, normalised over real words / regions.
    assert tau_u.dtype == np.float32 and tau_s.dtype == np.float32
    np.testing.assert_array_equal(tau_u[1, :, 2], 0.0)  # the padded turn
    mask_bct = np.broadcast_to(word_mask[:, None], tau_u.shape)
    np.testing.assert_array_equal(tau_u[~mask_bct], 0.0)
    has_words = np.broadcast_to(word_mask.any(-1)[:, None], tau_s.shape[:3])
    np.testing.assert_allclose(tau_u.sum(-1)[has_words], 1.0, atol=1e-5)
    np.testing.assert_allclose(tau_s.sum(-1)[has_words], 1.0, atol=1e-5)
    np.testing.assert_array_equal(tau_s[~has_words], 0.0)
    # Values at padded words have no effect.
    h2 = np.where(word_mask[..., None], h, 50.0).astype(np.float32)
    q2b = layer(h2, word_mask, regions, flat)[0].numpy()
    np.testing.assert_allclose(q2b, q2, atol=1e-5)


def test_deep_interaction_no_din_variant():
    h, word_mask, regions, flat = _interaction_inputs(seed=7)
    layer = DeepInteraction(hidden_dim=4, use_interaction=False)
    layer(h, word_mask, regions, flat)
    randomize_weights(layer, seed=8)
    q2, tau_s, tau_u = [t.numpy() for t in layer(h, word_mask, regions, flat)]
    assert "relation_kernel" not in [w.name for w in layer.weights]
    B, C, T = q2.shape[:3]
    for b in range(B):
        x_all = flat[b] @ layer.flat_projection.kernel.numpy()
        for c in range(C):
            for t in range(T):
                real = word_mask[b, t]
                mean = h[b, t][real].mean(0) if real.any() else np.zeros(4)
                ref = np_dense(np.concatenate([x_all[c], mean]), layer.output_dense)
                np.testing.assert_allclose(q2[b, c, t], ref, atol=1e-4, rtol=1e-4)
    has_words = np.broadcast_to(word_mask.any(-1)[:, None], tau_u.shape[:3])
    np.testing.assert_allclose(tau_u.sum(-1)[has_words], 1.0, atol=1e-6)
    np.testing.assert_allclose(tau_s.sum(-1)[has_words], 1.0, atol=1e-6)
    np.testing.assert_array_equal(tau_s[1, :, 2], 0.0)


# ----------------------------------------------------------------- config
def test_deep_interaction_get_config_round_trips():
    h, word_mask, regions, flat = _interaction_inputs(seed=14)
    assert_round_trip(DeepInteraction(4), h, word_mask, regions, flat)
    clone = assert_round_trip(
        DeepInteraction(4, use_interaction=False), h, word_mask, regions, flat
    )
    assert not clone.use_interaction


# ----------------------------------------------------------------- dtypes
def test_layers_under_mixed_precision():
    """UtteranceEncoder -> DeepInteraction -> FusionNetwork in mixed_float16:
    float16 hidden states and Q2, float32 attention weights and scores."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        h, word_mask, regions, flat = _interaction_inputs(seed=15)
        ids = np.random.default_rng(16).integers(0, 20, size=(2, 3, 4)).astype(np.int32)
        encoder = UtteranceEncoder(20, 4, 4)
        h16, mask = encoder(ids)
        assert h16.dtype == "float16"
        q2, tau_s, tau_u = DeepInteraction(4)(h16, mask, regions, flat)
        assert q2.dtype == "float16" and tau_s.dtype == "float32" and tau_u.dtype == "float32"
        scores = FusionNetwork(4)(q2, np.array([[1, 1, 0], [1, 1, 1]], bool))
        assert scores.dtype == "float32"
        assert np.isfinite(scores.numpy()).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")
