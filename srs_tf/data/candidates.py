"""Candidate lists: the ground truth plus negatives from its own sticker set.

Paper §6.4: "9 negative samples are randomly sampled from the sticker set
containing the ground truth sticker". Two samplers share that rule:

* ``fixed_candidates`` (numpy, one example): the val/test lists, drawn once
  by ``bin/make_tfrecords`` and stored, so every run is scored on the same
  lists;
* ``sample_candidates`` (TensorFlow, a batch): fresh training lists at every
  step, inside the ``tf.data`` pipeline.

``negatives="first"`` is the release code's choice instead: the first other
stickers of the set, in bank (= ``emoji_mapping.txt``) order.

Bank rows of a set are contiguous: set ``s`` holds rows ``set_start[s] ..
set_start[s] + set_size[s] - 1``.
"""

from __future__ import annotations

import numpy as np

NEGATIVES = ("random", "first")


def check_negatives(negatives: str) -> None:
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives must be one of {', '.join(NEGATIVES)}, got {negatives!r}")


def fixed_candidates(
    gt_row: int,
    set_start: int,
    set_size: int,
    num_candidates: int,
    rng: np.random.Generator,
    negatives: str,
) -> tuple[np.ndarray, int]:
    """One example's candidate list, drawn with ``rng``.

    Returns ``(rows int64 [num_candidates], position)``: bank rows with the
    ground truth at ``position`` (uniform) and ``num_candidates - 1``
    distinct same-set negatives, never the ground truth.
    """
    check_negatives(negatives)
    others = np.concatenate(
        [np.arange(set_start, gt_row), np.arange(gt_row + 1, set_start + set_size)]
    )
    if negatives == "random":
        negs = rng.choice(others, size=num_candidates - 1, replace=False)
    else:
        negs = others[: num_candidates - 1]
    pos = int(rng.integers(num_candidates))
    cands = np.insert(negs, pos, gt_row).astype(np.int64)
    return cands, pos


def sample_candidates(gt, set_index, set_start, set_size, num_candidates, negatives, seed):
    """A batch of fresh candidate lists (TensorFlow, stateless).

    Args:
      gt: int32 ``[B]``, bank row of each example's ground truth.
      set_index: int32 ``[B]``, its set.
      set_start, set_size: int32 ``[S]``, the bank's set layout.
      num_candidates: C, ground truth included (2 .. smallest set size).
      negatives: ``"random"`` or ``"first"``.
      seed: int64 scalar; the same seed gives the same lists.

    Returns:
      ``(candidate_ids int32 [B, C], label int32 [B])``: bank rows, with the
      ground truth at ``label`` (uniform over the C positions) and C - 1
      distinct negatives from the ground truth's set.

    Example:
    >>> ids, label = sample_candidates(
    ...     gt=tf.constant([3]), set_index=tf.constant([0]),
    ...     set_start=tf.constant([0]), set_size=tf.constant([6]),
    ...     num_candidates=4, negatives="random", seed=tf.constant(7, tf.int64))
    >>> ids.shape, int(ids[0, int(label[0])])
    (TensorShape([1, 4]), 3)
    """
    import tensorflow as tf

    check_negatives(negatives)
    gt = tf.cast(gt, tf.int32)
    set_index = tf.cast(set_index, tf.int32)
    set_start = tf.cast(set_start, tf.int32)
    set_size = tf.cast(set_size, tf.int32)
    seed = tf.cast(seed, tf.int64)
    batch = tf.shape(gt)[0]
    start = tf.gather(set_start, set_index)
    size = tf.gather(set_size, set_index)
    offset = gt - start  # position of the ground truth inside its set
    if negatives == "random":
        # The k largest of uniform keys over the set's other positions are a
        # uniform sample without replacement; padding positions get -1.
        max_others = tf.reduce_max(set_size) - 1
        keys = tf.random.stateless_uniform(
            tf.stack([batch, max_others]), seed=tf.stack([seed, tf.constant(0, tf.int64)])
        )
        valid = tf.range(max_others)[None, :] < (size - 1)[:, None]
        keys = tf.where(valid, keys, -1.0)
        _, others = tf.math.top_k(keys, k=num_candidates - 1, sorted=False)
    else:
        others = tf.tile(tf.range(num_candidates - 1)[None, :], tf.stack([batch, 1]))
    others = others + tf.cast(others >= offset[:, None], tf.int32)  # skip the ground truth
    negative_rows = start[:, None] + others
    label = tf.random.stateless_uniform(
        [batch],
        seed=tf.stack([seed, tf.constant(1, tf.int64)]),
        minval=0,
        maxval=num_candidates,
        dtype=tf.int32,
    )
    slot = tf.range(num_candidates)[None, :]
    negative_slot = tf.clip_by_value(
        slot - tf.cast(slot > label[:, None], tf.int32), 0, num_candidates - 2
    )
    candidate_ids = tf.where(
        slot == label[:, None],
        gt[:, None],
        tf.gather(negative_rows, negative_slot, batch_dims=1),
    )
    return candidate_ids, label
