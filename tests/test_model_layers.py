"""Numeric checks of every SRS layer against small numpy implementations.

Each reference below is written from the paper's equations (§5, eq. 1-16)
with plain loops/concatenations, independently of the Keras code, and is
compared on random inputs that include padded words and padded turns.
"""

import sys
import types

import keras
import numpy as np
import pytest

from srs_tf.model import (
    AttentiveModule,
    DeepInteraction,
    FusionNetwork,
    StickerEncoder,
    TurnMask,
    UtteranceEncoder,
    masked_max,
    masked_softmax,
    num_regions,
    region_grid_size,
)

ATOL = 2e-5


# ----------------------------------------------------------------- numpy refs
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(logits, mask):
    """Softmax over the last axis restricted to mask; all-masked rows -> 0."""
    out = np.zeros_like(logits, dtype=np.float64)
    flat_logits = logits.reshape(-1, logits.shape[-1])
    flat_mask = np.broadcast_to(mask, logits.shape).reshape(-1, logits.shape[-1])
    flat_out = out.reshape(-1, logits.shape[-1])
    for row, (values, keep) in enumerate(zip(flat_logits, flat_mask)):
        if keep.any():
            e = np.exp(values[keep] - values[keep].max())
            flat_out[row, keep] = e / e.sum()
    return flat_out.reshape(logits.shape)


def np_dense(x, layer, activation=None):
    y = x @ layer.kernel.numpy()
    if layer.use_bias:
        y = y + layer.bias.numpy()
    if activation == "relu":
        y = np.maximum(y, 0.0)
    return y


def np_layer_norm(x, layer):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + layer.epsilon) * layer.gamma.numpy() + layer.beta.numpy()


def np_attentive(x, mask, layer):
    """Eq. 3-6 for one sequence x [N, D] (mask [N]) with the layer's weights."""
    q = np_dense(x, layer.query_dense)
    k = np_dense(x, layer.key_dense)
    v = np_dense(x, layer.value_dense)
    out = np.zeros((x.shape[0], layer.hidden_dim))
    for j in range(x.shape[0]):
        if not mask[j]:
            continue  # padded query: output 0
        logits = np.array([q[j] @ k[n] for n in range(x.shape[0])])  # eq. 3 numerator
        alpha = np_softmax(logits, mask)
        beta = sum(alpha[n] * v[n] for n in range(x.shape[0]))  # eq. 4
        h_hat = x[j] + beta  # eq. 5 (dropout off)
        inner = np_dense(h_hat, layer.ffn_inner, "relu")
        out[j] = np_layer_norm(np_dense(inner, layer.ffn_outer), layer.layer_norm)  # eq. 6
    return out


def np_gru(xs, mask, gru):
    """Keras GRU (reset_after=True, gates ordered z, r, h); masked steps keep state.

    Returns the per-step outputs and the final state.
    """
    cell = gru.cell
    units = cell.units
    kernel, recurrent, bias = cell.kernel.numpy(), cell.recurrent_kernel.numpy(), cell.bias.numpy()
    h = np.zeros(units)
    outputs = []
    for x, real in zip(xs, mask):
        if real:
            x_proj = x @ kernel + bias[0]
            h_proj = h @ recurrent + bias[1]
            z = sigmoid(x_proj[:units] + h_proj[:units])
            r = sigmoid(x_proj[units : 2 * units] + h_proj[units : 2 * units])
            candidate = np.tanh(x_proj[2 * units :] + r * h_proj[2 * units :])
            h = z * h + (1.0 - z) * candidate
        outputs.append(h.copy())
    return np.stack(outputs), h


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


def np_fusion(q2, turn_mask, layer):
    """Eq. 12-16 for q2 [B, C, T, H], turn_mask [B, T]."""
    B, C = q2.shape[:2]
    scores = np.zeros((B, C))
    for b in range(B):
        for c in range(C):
            seq, mask = q2[b, c], turn_mask[b]
            g_hat = np_attentive(seq, mask, layer.fusion_transformer)  # eq. 13
            if layer.use_fusion_rnn:
                g, _ = np_gru(seq, mask, layer.fusion_rnn)  # eq. 12
                fused = np_dense(
                    np.concatenate([(g_hat - g) * (g_hat - g), g_hat * g], -1),
                    layer.submulti,
                    "relu",
                )  # eq. 14
            else:
                fused = g_hat
            _, final = np_gru(fused, mask, layer.prediction_rnn)  # eq. 15
            scores[b, c] = sigmoid(np_dense(final, layer.score_dense))[0]  # eq. 16
    return scores


def randomize_weights(layer, seed=0, scale=0.5):
    """Non-trivial weights (biases and LayerNorm params included)."""
    rng = np.random.default_rng(seed)
    for var in layer.weights:
        var.assign(rng.normal(0.0, scale, var.shape).astype(var.dtype))


# ----------------------------------------------------------------- helpers
def test_masked_softmax_and_max_handle_fully_masked_rows():
    logits = np.array([[1.0, 2.0, 3.0], [5.0, -1.0, 0.5], [1.0, 1.0, 1.0]], np.float32)
    mask = np.array([[True, True, False], [False, False, False], [True, True, True]])
    out = masked_softmax(logits, mask).numpy()
    assert not np.isnan(out).any()
    np.testing.assert_allclose(out, np_softmax(logits, mask), atol=1e-6)
    np.testing.assert_array_equal(out[1], 0.0)
    mx = masked_max(logits, mask).numpy()
    np.testing.assert_allclose(mx, [2.0, 0.0, 1.0])


# ----------------------------------------------------------------- eq. 3-6
def test_attentive_module_matches_eq_3_to_6():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 5, 6)).astype(np.float32)  # input width 6 != hidden 4
    mask = rng.random((2, 3, 5)) > 0.3
    mask[0, 1] = False  # a fully padded sequence
    mask[1, 2] = True
    layer = AttentiveModule(hidden_dim=4, dropout=0.5)
    out = layer(x, padding_mask=mask).numpy()
    assert out.shape == (2, 3, 5, 4)
    randomize_weights(layer, seed=2)
    out = layer(x, padding_mask=mask, training=False).numpy()
    for a in range(2):
        for b in range(3):
            np.testing.assert_allclose(
                out[a, b], np_attentive(x[a, b], mask[a, b], layer), atol=ATOL, rtol=1e-4
            )
    np.testing.assert_array_equal(out[0, 1], 0.0)
    # Padded positions have no effect on the real ones.
    x2 = np.where(mask[..., None], x, rng.normal(size=x.shape).astype(np.float32) * 10)
    np.testing.assert_allclose(layer(x2, padding_mask=mask).numpy(), out, atol=1e-5)
    # Dropout of eq. 5 is active in training only.
    assert not np.allclose(layer(x, padding_mask=mask, training=True).numpy(), out)


# ----------------------------------------------------------------- eq. 2-6
def test_utterance_encoder_matches_reference_and_ignores_padding():
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 40, size=(2, 3, 6)).astype(np.int32)
    ids[0, 0, 4:] = 0
    ids[1, 1, 2:] = 0
    ids[1, 2] = 0  # padded turn
    turn_mask = np.array([[True, True, True], [True, True, False]])
    encoder = UtteranceEncoder(vocab_size=40, emb_dim=5, hidden_dim=4, dropout=0.1)
    encoder(ids, turn_mask)
    randomize_weights(encoder, seed=4)
    h, word_mask = encoder(ids, turn_mask)
    h, word_mask = h.numpy(), word_mask.numpy()
    np.testing.assert_array_equal(word_mask, (ids != 0) & turn_mask[..., None])
    table = encoder.embedding.embeddings.numpy()
    for b in range(2):
        for t in range(3):
            ref = np_attentive(table[ids[b, t]], word_mask[b, t], encoder.attentive)
            np.testing.assert_allclose(h[b, t], ref, atol=ATOL, rtol=1e-4)
    # The [PAD] embedding row has no effect.
    table[0] = 100.0
    encoder.embedding.embeddings.assign(table)
    np.testing.assert_allclose(encoder(ids, turn_mask)[0].numpy(), h, atol=1e-6)
    # A turn declared padded by turn_mask is all zero whatever its ids.
    ids2 = ids.copy()
    ids2[1, 2] = rng.integers(1, 40, size=6)
    h2, mask2 = encoder(ids2, turn_mask)
    np.testing.assert_allclose(h2.numpy(), h, atol=1e-6)
    assert not mask2.numpy()[1, 2].any()


# ----------------------------------------------------------------- eq. 7-11
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


# ----------------------------------------------------------------- eq. 12-16
def test_keras_gru_masked_final_state_is_state_at_last_real_turn():
    rng = np.random.default_rng(9)
    gru = keras.layers.GRU(3)
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    final = gru(x, mask=mask).numpy()
    np.testing.assert_allclose(final[0], gru(x[:1, :2]).numpy()[0], atol=1e-6)
    np.testing.assert_allclose(final[0], np_gru(x[0], mask[0], gru)[1], atol=1e-5)
    np.testing.assert_allclose(final[1], np_gru(x[1], mask[1], gru)[1], atol=1e-5)


@pytest.mark.parametrize("use_fusion_rnn", [True, False])
def test_fusion_network_matches_eq_12_to_16(use_fusion_rnn):
    rng = np.random.default_rng(10)
    B, C, T, H = 3, 2, 4, 4
    q2 = rng.normal(size=(B, C, T, H)).astype(np.float32)
    num_turns = np.array([1, 3, 4], np.int32)
    turn_mask = TurnMask(T)(num_turns).numpy()
    np.testing.assert_array_equal(turn_mask, np.arange(T)[None] < num_turns[:, None])
    layer = FusionNetwork(hidden_dim=H, dropout=0.2, use_fusion_rnn=use_fusion_rnn)
    layer(q2, turn_mask)
    randomize_weights(layer, seed=11)
    scores = layer(q2, turn_mask).numpy()
    assert scores.shape == (B, C) and scores.dtype == np.float32
    np.testing.assert_allclose(scores, np_fusion(q2, turn_mask, layer), atol=1e-5)
    # Padded turns have no effect, and a per-candidate mask [B, C, T] is accepted.
    q2b = np.where(turn_mask[:, None, :, None], q2, 9.0).astype(np.float32)
    np.testing.assert_allclose(layer(q2b, turn_mask).numpy(), scores, atol=1e-6)
    full_mask = np.broadcast_to(turn_mask[:, None], (B, C, T))
    np.testing.assert_allclose(layer(q2, full_mask).numpy(), scores, atol=1e-6)
    weights = {w.path.split("/")[1] for w in layer.weights}
    assert ("fusion_rnn" in weights) == use_fusion_rnn


# ----------------------------------------------------------------- eq. 1
def test_region_count_derives_from_image_size():
    assert region_grid_size(128) == 6 and num_regions(128) == 36
    for size in (75, 128, 299):
        backbone = keras.applications.InceptionV3(
            include_top=False, weights=None, input_shape=(size, size, 3)
        )
        assert backbone.get_layer("mixed7").output.shape[1] == region_grid_size(size)
    with pytest.raises(ValueError):
        region_grid_size(64)


@pytest.fixture(scope="module")
def small_images():
    rng = np.random.default_rng(12)
    return rng.integers(0, 256, size=(3, 75, 75, 3)).astype(np.uint8)


def test_sticker_encoder_shapes_and_bn_mode(small_images):
    random_init = StickerEncoder(image_size=75, emoji_vocab_size=7)
    assert not random_init.freeze_batch_norm
    regions, flat, logits = random_init(small_images, training=False)
    assert regions.shape == (3, 9, 768) and flat.shape == (3, 2048) and logits.shape == (3, 7)
    assert logits.dtype == "float32"
    # O_flat is the global average of the last block; logits = Dense(O_flat).
    features = random_init.features(small_images.astype(np.float32) / 127.5 - 1.0, training=False)
    np.testing.assert_allclose(flat.numpy(), features[1].numpy().mean(axis=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(regions.numpy(), features[0].numpy().reshape(3, 9, 768), atol=1e-5)
    np.testing.assert_allclose(
        logits.numpy(), np_dense(flat.numpy(), random_init.emoji_classifier), atol=1e-4, rtol=1e-4
    )
    # Random init: BN uses batch statistics in training.
    assert not np.allclose(
        random_init(small_images, training=True)[1].numpy(), flat.numpy(), atol=1e-4
    )
    # Pretrained start: BN always in inference mode.
    frozen = StickerEncoder(image_size=75, emoji_vocab_size=7, freeze_batch_norm=True)
    a = frozen(small_images, training=True)
    b = frozen(small_images, training=False)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-6)


def test_sticker_encoder_loads_weight_file_lazily(monkeypatch):
    calls = []

    def fake_loader(backbone, source):
        calls.append((backbone, source))
        return 42

    fake = types.ModuleType("srs_tf.model.inception_weights")
    fake.load_inception_weights = fake_loader
    monkeypatch.setitem(sys.modules, "srs_tf.model.inception_weights", fake)
    encoder = StickerEncoder(image_size=75, emoji_vocab_size=5, inception_weights="/x/ckpt.h5")
    assert encoder.loaded_tensors == 42 and encoder.freeze_batch_norm
    ((backbone, source),) = calls
    assert source == "/x/ckpt.h5" and backbone is encoder.backbone
    assert backbone.get_layer("mixed7") is not None
    config = encoder.get_config()
    assert config["inception_weights"] == "none" and config["freeze_batch_norm"]
    rebuilt = StickerEncoder.from_config(config)  # never re-reads the file
    assert len(calls) == 1 and rebuilt.freeze_batch_norm


# ----------------------------------------------------------------- configs
def _assert_round_trip(layer, *args):
    outputs = layer(*args)
    clone = layer.__class__.from_config(layer.get_config())
    clone(*args)
    clone.set_weights(layer.get_weights())
    for a, b in zip(keras.tree.flatten(outputs), keras.tree.flatten(clone(*args))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    assert clone.get_config() == layer.get_config()


def test_get_config_round_trips(small_images):
    rng = np.random.default_rng(13)
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)
    _assert_round_trip(AttentiveModule(hidden_dim=3, dropout=0.1), x)
    ids = rng.integers(0, 20, size=(2, 3, 4)).astype(np.int32)
    _assert_round_trip(UtteranceEncoder(20, 5, 4, dropout=0.1), ids)
    h, word_mask, regions, flat = _interaction_inputs(seed=14)
    _assert_round_trip(DeepInteraction(4), h, word_mask, regions, flat)
    _assert_round_trip(DeepInteraction(4, use_interaction=False), h, word_mask, regions, flat)
    q2 = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    _assert_round_trip(FusionNetwork(4, dropout=0.1), q2, mask)
    _assert_round_trip(FusionNetwork(4, use_fusion_rnn=False), q2, mask)
    _assert_round_trip(TurnMask(4), np.array([1, 3], np.int32))
    _assert_round_trip(StickerEncoder(75, 6), small_images[:1])


def test_layers_under_mixed_precision():
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
