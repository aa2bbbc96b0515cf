"""AttentiveModule (eq. 3-6) and the masked softmax / max it is built on,
against the numpy reference of layer_refs."""

import numpy as np
from layer_refs import (
    ATOL,
    assert_round_trip,
    np_attentive,
    np_softmax,
    randomize_weights,
)

from srs_tf.model import AttentiveModule, masked_max, masked_softmax


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


# ----------------------------------------------------------------- config
def test_attentive_module_get_config_round_trips():
    rng = np.random.default_rng(13)
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)
    assert_round_trip(AttentiveModule(hidden_dim=3, dropout=0.1), x)
    # With a padding mask and non-default weights as well.
    layer = AttentiveModule(hidden_dim=3, dropout=0.1)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer(x, mask)
    randomize_weights(layer, seed=17)
    clone = assert_round_trip(layer, x, mask)
    assert clone.hidden_dim == 3 and clone.dropout == 0.1
