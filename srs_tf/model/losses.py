"""Losses of SRS (paper §5.6 eq. 17, and the emoji loss L_s of §5.2).

Pure functions on TF-Ranking style shapes: ``scores`` are ``[batch,
list_size]`` (one list of candidates per example). Both return a float32
scalar, whatever the input dtype (safe under ``mixed_float16``).
"""

from __future__ import annotations

import tensorflow as tf


def hinge_loss(scores, label, margin: float = 0.1):
    """Eq. 17: ``sum_neg max(0, y_neg - y_pos + margin)``, averaged over the batch.

    Args:
      scores: float ``[B, C]`` candidate scores (SRS: sigmoid outputs).
      label: int ``[B]``, position of the ground truth in each list.
      margin: the margin of eq. 17.

    Returns:
      float32 scalar.

    Example:
    >>> hinge_loss([[0.9, 0.2, 0.85]], [0], margin=0.1)   # 0 + 0.05
    0.05
    """
    scores = tf.cast(tf.convert_to_tensor(scores), tf.float32)
    label = tf.cast(tf.reshape(label, [-1]), tf.int32)
    positive = tf.gather(scores, label, axis=1, batch_dims=1)  # [B]
    is_negative = 1.0 - tf.one_hot(label, tf.shape(scores)[1], dtype=tf.float32)
    per_pair = tf.nn.relu(scores - positive[:, None] + tf.cast(margin, tf.float32))
    per_example = tf.reduce_sum(per_pair * is_negative, axis=1)
    return tf.reduce_mean(per_example)


def emoji_loss(emoji_logits, candidate_emoji):
    """Softmax cross-entropy of the emoji classifier (L_s), masked.

    Stickers whose emoji id is 0 or 1 (``[PAD]``/``[UNK]``: unknown) are
    left out; the loss is the mean over the known ones, and 0 when there is
    none.

    Args:
      emoji_logits: float ``[..., E]`` (e.g. ``[B, C, E]`` or ``[N, E]``).
      candidate_emoji: int ``[...]`` emoji ids (e.g. ``[B, C]`` or ``[N]``).

    Returns:
      float32 scalar.
    """
    logits = tf.cast(tf.convert_to_tensor(emoji_logits), tf.float32)
    labels = tf.cast(candidate_emoji, tf.int32)
    known = labels >= 2
    safe_labels = tf.where(known, labels, tf.zeros_like(labels))
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=safe_labels, logits=logits
    )
    weights = tf.cast(known, tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(cross_entropy * weights), tf.reduce_sum(weights))
