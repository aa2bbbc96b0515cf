"""How much of the sticker features the emoji explains: a check of the encoder.

In the ``frozen`` and ``upper`` modes the matcher (eq. 2-16) reads the bank's
encoded stickers after per-channel standardisation
(`StickerFeatureNormalization`). How fast it learns depends on how much of
that standardised ``O_flat`` varies with what a sticker depicts rather than
with its set's drawing style: docs/RESULTS.md ("What the matcher needs from
O_flat") measures test R10@1 0.47 in 2,000 steps when the emoji explains 80%
of the variance and 0.21 at 20%. The trainer logs this share for the encoded
bank, using the bank's emoji labels (the labels of the auxiliary task).

    >>> import numpy as np
    >>> x = np.array([[1.0], [3.0], [5.0], [7.0]])
    >>> round(label_variance_share(x, np.array([2, 2, 3, 3])), 3)
    0.8
"""

from __future__ import annotations

import numpy as np


def channel_moments(features, chunk: int = 1024):
    """Per-channel mean and std of ``[N, ..., D]`` features, read in chunks of
    ``chunk`` rows (the full release's bank does not fit in memory as float64)."""
    depth = int(features.shape[-1])
    total, total_sq, count = np.zeros(depth), np.zeros(depth), 0
    for start in range(0, int(features.shape[0]), chunk):
        block = np.asarray(features[start : start + chunk], dtype=np.float64).reshape(-1, depth)
        total += block.sum(0)
        total_sq += (block * block).sum(0)
        count += block.shape[0]
    mean = total / max(count, 1)
    return mean, np.sqrt(np.maximum(total_sq / max(count, 1) - mean * mean, 0.0))


def label_variance_share(features, labels, chunk: int = 1024, epsilon: float = 1e-3) -> float:
    """Share of the per-channel-standardised variance explained by the label means.

    With ``z`` the features standardised per channel over the rows,
    ``share = sum_k n_k |mean_k(z)|^2 / sum_i |z_i|^2`` (between-label sum
    of squares over total sum of squares, summed over channels; 1: every
    label's rows are identical, 0: the label means are all equal).

    Args:
      features: ``[N, D]`` array (float16 or a memory map is fine; read in
        chunks of ``chunk`` rows).
      labels: int ``[N]``, one label per row.
      epsilon: added to each channel's std, as the matcher's standardisation
        does (`StickerFeatureNormalization.set_statistics`).

    Raises:
      ValueError: features that are not 2-D, labels that do not match, or
        fewer than two rows.
    """
    labels = np.asarray(labels)
    n = int(features.shape[0])
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if n < 2:
        raise ValueError("label_variance_share needs at least two rows")
    if len(features.shape) != 2:
        raise ValueError(f"features must be [N, D], got shape {tuple(features.shape)}")
    depth = int(features.shape[1])
    mean, std = channel_moments(features, chunk)
    scale = 1.0 / (std + epsilon)
    classes, index = np.unique(labels, return_inverse=True)
    sums = np.zeros((classes.size, depth))
    squares = 0.0
    for start in range(0, n, chunk):
        z = (
            np.asarray(features[start : start + chunk], np.float64).reshape(-1, depth) - mean
        ) * scale
        np.add.at(sums, index[start : start + chunk], z)
        squares += float((z * z).sum())
    counts = np.bincount(index, minlength=classes.size).astype(np.float64)
    between = float(((sums * sums).sum(1) / counts).sum())
    return between / squares if squares > 0 else 0.0
