"""UtteranceEncoder (eq. 2-6): embedding + attentive module per utterance,
against the numpy reference of layer_refs."""

import numpy as np
from layer_refs import ATOL, assert_round_trip, np_attentive, randomize_weights

from srs_tf.model import UtteranceEncoder


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


# ----------------------------------------------------------------- config
def test_utterance_encoder_get_config_round_trips():
    ids = np.random.default_rng(13).integers(0, 20, size=(2, 3, 4)).astype(np.int32)
    assert_round_trip(UtteranceEncoder(20, 5, 4, dropout=0.1), ids)
    # With a turn mask as well.
    turn_mask = np.array([[True, True, False], [True, True, True]])
    clone = assert_round_trip(UtteranceEncoder(20, 5, 4, dropout=0.1), ids, turn_mask)
    assert clone.get_config()["dropout"] == 0.1
