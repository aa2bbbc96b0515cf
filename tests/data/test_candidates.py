"""srs_tf.data.candidates: the training sampler and the fixed val/test sampler."""

import numpy as np
import pytest
import tensorflow as tf

from srs_tf.data.candidates import fixed_candidates, sample_candidates

# Three sets laid out contiguously in the bank: rows 0-4, 5-12, 13-18.
SET_START = np.array([0, 5, 13], np.int32)
SET_SIZE = np.array([5, 8, 6], np.int32)


def _batch(n=300, seed=0):
    rng = np.random.default_rng(seed)
    set_index = rng.integers(0, 3, n).astype(np.int32)
    gt = (SET_START[set_index] + rng.integers(0, SET_SIZE[set_index])).astype(np.int32)
    return gt, set_index


def _sample(gt, set_index, negatives="random", seed=11, c=4):
    ids, label = sample_candidates(
        tf.constant(gt),
        tf.constant(set_index),
        tf.constant(SET_START),
        tf.constant(SET_SIZE),
        c,
        negatives,
        tf.constant(seed, tf.int64),
    )
    return ids.numpy(), label.numpy()


def test_sampled_lists_hold_the_gt_once_and_distinct_same_set_negatives():
    gt, set_index = _batch()
    ids, label = _sample(gt, set_index)
    assert ids.shape == (300, 4) and label.shape == (300,)
    for row, g, s, pos in zip(ids, gt, set_index, label, strict=True):
        assert row[pos] == g
        assert list(row).count(g) == 1
        assert len(set(row)) == 4
        assert np.all((row >= SET_START[s]) & (row < SET_START[s] + SET_SIZE[s]))


def test_sampling_is_a_function_of_the_seed():
    gt, set_index = _batch()
    a, la = _sample(gt, set_index, seed=5)
    b, lb = _sample(gt, set_index, seed=5)
    c, lc = _sample(gt, set_index, seed=6)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert (a != c).any() and (la != lc).any()


def test_sampling_is_uniform_over_positions_and_negatives():
    # one example repeated: gt = row 7 (set 1, 8 stickers); 2,000 draws
    gt = np.full(2000, 7, np.int32)
    set_index = np.ones(2000, np.int32)
    ids, label = _sample(gt, set_index)
    position_freq = np.bincount(label, minlength=4) / 2000
    np.testing.assert_allclose(position_freq, 0.25, atol=0.04)
    negatives = ids[ids != 7]
    counts = np.bincount(negatives, minlength=13)[5:13]
    assert counts[7 - 5] == 0  # never the gt as a negative
    others = np.delete(counts, 7 - 5)
    # each of the 7 others is drawn with probability 3/7 per list
    np.testing.assert_allclose(others / 2000, 3 / 7, atol=0.05)


def test_first_negatives_are_the_first_other_stickers_of_the_set():
    gt = np.array([0, 6, 18], np.int32)  # first of set 0, second of set 1, last of set 2
    set_index = np.array([0, 1, 2], np.int32)
    ids, label = _sample(gt, set_index, negatives="first")
    negatives = [sorted(np.delete(row, pos)) for row, pos in zip(ids, label, strict=True)]
    assert negatives == [[1, 2, 3], [5, 7, 8], [13, 14, 15]]


def test_fixed_candidates_follow_the_same_rule():
    rng = np.random.default_rng(3)
    positions = []
    for _ in range(400):
        cands, pos = fixed_candidates(7, 5, 8, 4, rng, "random")
        assert cands[pos] == 7 and list(cands).count(7) == 1 and len(set(cands)) == 4
        assert np.all((cands >= 5) & (cands < 13))
        positions.append(pos)
    np.testing.assert_allclose(np.bincount(positions, minlength=4) / 400, 0.25, atol=0.07)
    cands, pos = fixed_candidates(6, 5, 8, 4, np.random.default_rng(0), "first")
    assert sorted(np.delete(cands, pos)) == [5, 7, 8]
    a = fixed_candidates(7, 5, 8, 4, np.random.default_rng(9), "random")
    b = fixed_candidates(7, 5, 8, 4, np.random.default_rng(9), "random")
    np.testing.assert_array_equal(a[0], b[0])


def test_unknown_negatives_kind_is_refused():
    gt, set_index = _batch(4)
    with pytest.raises(ValueError, match="negatives must be one of random, first"):
        _sample(gt, set_index, negatives="hard")
    with pytest.raises(ValueError, match="negatives must be one of"):
        fixed_candidates(7, 5, 8, 4, np.random.default_rng(0), "hard")
