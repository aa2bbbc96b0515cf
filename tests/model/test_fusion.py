"""TurnMask and FusionNetwork (eq. 12-16) against numpy references: a Keras
GRU reference and the attentive module of layer_refs."""

import keras
import numpy as np
import pytest
from layer_refs import assert_round_trip, np_attentive, np_dense, randomize_weights, sigmoid

from srs_tf.model import FusionNetwork, TurnMask


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


# ----------------------------------------------------------------- turn mask
def test_turn_mask_is_true_for_the_first_num_turns_rows():
    num_turns = np.array([0, 1, 3, 4, 6], np.int32)
    out = TurnMask(4)(num_turns).numpy()
    assert out.dtype == bool and out.shape == (5, 4)
    expected = np.array([[t < n for t in range(4)] for n in num_turns])
    np.testing.assert_array_equal(out, expected)
    # num_turns given as [B, 1] or as floats gives the same mask.
    np.testing.assert_array_equal(TurnMask(4)(num_turns[:, None]).numpy(), expected)
    np.testing.assert_array_equal(TurnMask(4)(num_turns.astype(np.float32)).numpy(), expected)


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


# ----------------------------------------------------------------- config
def test_fusion_network_get_config_round_trips():
    rng = np.random.default_rng(13)
    q2 = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    assert_round_trip(FusionNetwork(4, dropout=0.1), q2, mask)
    clone = assert_round_trip(FusionNetwork(4, use_fusion_rnn=False), q2, mask)
    assert not clone.use_fusion_rnn


def test_turn_mask_get_config_round_trips():
    clone = assert_round_trip(TurnMask(4), np.array([1, 3], np.int32))
    assert clone.max_turns == 4
