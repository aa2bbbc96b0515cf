"""Hand-computed checks of the SRS losses (eq. 17 and L_s)."""

import numpy as np
import pytest
import tensorflow as tf

from srs_tf.model.losses import emoji_loss, hinge_loss


def test_hinge_loss_hand_computed():
    scores = np.array([[0.9, 0.2, 0.85, 0.95], [0.1, 0.5, 0.3, 0.2]], np.float32)
    label = np.array([0, 1], np.int32)
    # example 0: pos 0.9; negatives 0.2 -> 0, 0.85 -> 0.05, 0.95 -> 0.15  => 0.20
    # example 1: pos 0.5; negatives 0.1 -> 0, 0.3 -> 0, 0.2 -> 0          => 0.00
    loss = hinge_loss(scores, label, margin=0.1)
    assert loss.dtype == tf.float32
    np.testing.assert_allclose(loss.numpy(), 0.10, atol=1e-6)
    # margin 0.5: ex 0 -> 0 + 0.45 + 0.55 = 1.0; ex 1 -> 0.1 + 0.3 + 0.2 = 0.6
    np.testing.assert_allclose(hinge_loss(scores, label, margin=0.5).numpy(), 0.8, atol=1e-6)


def test_hinge_loss_zero_when_separated_and_positive_not_counted():
    scores = np.array([[0.1, 0.9, 0.2]], np.float32)
    assert hinge_loss(scores, [1], margin=0.1).numpy() == 0.0
    # The positive against itself would add `margin`; it must not be counted.
    equal = np.full((1, 3), 0.5, np.float32)
    np.testing.assert_allclose(hinge_loss(equal, [2], margin=0.1).numpy(), 0.2, atol=1e-6)


def test_hinge_loss_gradient_and_float16_scores():
    scores = tf.Variable([[0.4, 0.5, 0.45]])
    with tf.GradientTape() as tape:
        loss = hinge_loss(scores, tf.constant([0]), margin=0.1)
    grad = tape.gradient(loss, scores).numpy()
    np.testing.assert_allclose(grad, [[-2.0, 1.0, 1.0]])
    half = hinge_loss(tf.constant([[0.4, 0.5]], tf.float16), [0], margin=0.1)
    assert half.dtype == tf.float32
    np.testing.assert_allclose(half.numpy(), 0.2, atol=1e-3)


def _ce(logits, label):
    logits = np.asarray(logits, np.float64)
    return np.log(np.exp(logits).sum()) - logits[label]


def test_emoji_loss_masks_unknown_and_averages_known():
    logits = np.array(
        [
            [[1.0, 0.0, 2.0, 0.5], [0.0, 0.0, 0.0, 3.0]],
            [[0.3, 0.2, 0.1, 0.0], [2.0, 1.0, 0.0, 1.0]],
        ],
        np.float32,
    )
    emoji = np.array([[2, 3], [1, 0]], np.int32)  # [UNK] and [PAD] are unknown
    expected = (_ce(logits[0, 0], 2) + _ce(logits[0, 1], 3)) / 2
    loss = emoji_loss(logits, emoji)
    assert loss.dtype == tf.float32
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6)
    # Flat [N, E] / [N] inputs work too.
    np.testing.assert_allclose(
        emoji_loss(logits.reshape(4, 4), emoji.reshape(4)).numpy(), expected, rtol=1e-6
    )


@pytest.mark.parametrize("ids", [[[0, 1], [1, 0]], [[1, 1], [1, 1]]])
def test_emoji_loss_is_zero_without_known_stickers(ids):
    logits = tf.Variable(np.random.default_rng(0).normal(size=(2, 2, 5)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = emoji_loss(logits, np.array(ids, np.int32))
    assert loss.numpy() == 0.0
    grad = tape.gradient(loss, logits)
    assert grad is None or not np.isnan(grad.numpy()).any()
