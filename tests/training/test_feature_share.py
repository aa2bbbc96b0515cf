"""`label_variance_share` (srs_tf.training.feature_share) against hand-computed cases."""

import numpy as np
import pytest

from srs_tf.training.feature_share import label_variance_share


def test_one_channel_by_hand():
    # centred values -3, -1, 1, 3; label means -2, 2: between 4 * 4 = 16, total 20.
    x = np.array([[1.0], [3.0], [5.0], [7.0]])
    assert label_variance_share(x, np.array([0, 0, 1, 1])) == pytest.approx(0.8, abs=1e-6)
    assert label_variance_share(x, np.array([0, 1, 0, 1])) == pytest.approx(0.2, abs=1e-6)
    assert label_variance_share(x, np.array([0, 1, 2, 3])) == pytest.approx(1.0, abs=1e-6)


def test_channels_are_standardised_first():
    # Channel 0: pure label (share 1); channel 1: label-free, 1000 times larger.
    # Unstandardised the share would be ~1e-6; standardised each channel
    # weighs the same: (1 + 0) / 2 (up to the epsilon 1e-3 on channel 0's std 0.5).
    x = np.array([[0.0, 1000.0], [0.0, -1000.0], [1.0, 1000.0], [1.0, -1000.0]])
    assert label_variance_share(x, np.array([0, 0, 1, 1])) == pytest.approx(0.5, abs=2e-3)


def test_chunks_and_dtype_do_not_change_the_result():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 500)
    x = rng.standard_normal((500, 16)) + 2.0 * rng.standard_normal((7, 16))[labels]
    whole = label_variance_share(x, labels, chunk=10_000)
    assert label_variance_share(x, labels, chunk=37) == pytest.approx(whole, abs=1e-9)
    assert label_variance_share(x.astype(np.float16), labels) == pytest.approx(whole, abs=2e-3)
    # The expected share: 4 / (4 + 1) up to sampling noise and the within-label spread.
    assert 0.7 < whole < 0.85


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="labels must have shape"):
        label_variance_share(np.zeros((3, 2)), np.zeros(2, int))
    with pytest.raises(ValueError, match=r"must be \[N, D\]"):
        label_variance_share(np.zeros((3, 2, 2)), np.zeros(3, int))
    with pytest.raises(ValueError, match="at least two rows"):
        label_variance_share(np.zeros((1, 2)), np.zeros(1, int))
