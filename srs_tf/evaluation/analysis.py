"""Analyses of the paper's RQ3 (context turns) and RQ5 (candidate similarity).

RQ3 — metrics by number of context turns: the examples are grouped by their
``num_turns`` (the number of real utterances fed to the model, 1..T after
truncation to the most recent T), and every metric of
:mod:`srs_tf.evaluation.metrics` is averaged within each group.

RQ5 — metrics by candidate similarity: for every example, the structural
similarity (SSIM) between the ground-truth sticker and each negative is
averaged over the negatives (:func:`ssim_per_example`); the examples are then
bucketed by that mean SSIM into ``(0,0.2] (0.2,0.4] (0.4,0.6] (0.6,0.8]
(0.8,1.0]`` (values <= 0 go to the first bucket) and the metrics averaged per
bucket.

SSIM is ``skimage.metrics.structural_similarity`` on grayscale images
(ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B``, float in [0, 255],
``data_range=255``) at ``size`` x ``size`` pixels (128, the stickers' stored
size; other sizes are resized first), with scikit-image's default 7 x 7
uniform window. Grayscale keeps it about three times cheaper than the
per-channel RGB SSIM and follows the original SSIM definition on luminance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from srs_tf.evaluation import metrics

# Upper edges of the RQ5 similarity buckets; bucket i is (edge[i-1], edge[i]].
SSIM_BUCKET_EDGES = (0.2, 0.4, 0.6, 0.8, 1.0)
SSIM_BUCKET_NAMES = ("(0.0,0.2]", "(0.2,0.4]", "(0.4,0.6]", "(0.6,0.8]", "(0.8,1.0]")


def ssim_bucket(values) -> np.ndarray:
    """Index (0..4) of each value's SSIM bucket, ``[N]`` int64.

    Bucket i holds ``(0.2 i, 0.2 (i + 1)]``; values <= 0 go to bucket 0 and
    values > 1 (impossible for SSIM) to bucket 4.

    Raises:
        ValueError: a NaN value.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if np.any(np.isnan(values)):
        raise ValueError("SSIM values must not be NaN")
    # searchsorted(side="left") counts the edges strictly below the value, so
    # a value equal to an edge stays in the bucket that edge closes.
    index = np.searchsorted(np.asarray(SSIM_BUCKET_EDGES[:-1]), values, side="left")
    return index.astype(np.int64)


def _to_gray(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 [..., H, W, 3] -> float64 luma [..., size, size] in [0, 255]."""
    images = np.asarray(images)
    if images.shape[-1] != 3:
        raise ValueError(f"images must be [..., H, W, 3], got {images.shape}")
    gray = images.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    h, w = gray.shape[-2:]
    if (h, w) != (size, size):
        from skimage import transform  # pylint: disable=import-outside-toplevel

        lead = gray.shape[:-2]
        flat = gray.reshape((-1, h, w))
        flat = np.stack(
            [
                transform.resize(im, (size, size), order=1, anti_aliasing=True, preserve_range=True)
                for im in flat
            ]
        )
        gray = flat.reshape(lead + (size, size))
    return gray


def _example_ssim(gray: np.ndarray, label: int) -> float:
    """Mean SSIM of gray[label] vs every other row of gray [C, s, s]."""
    from skimage.metrics import structural_similarity  # pylint: disable=import-outside-toplevel

    negatives = np.delete(gray, label, axis=0)  # [C-1, s, s]
    truth = np.broadcast_to(gray[label], negatives.shape)
    # Channel-wise SSIM (channels = the negatives) averages the per-negative
    # SSIMs.
    return float(
        structural_similarity(
            np.moveaxis(truth, 0, -1),
            np.moveaxis(negatives, 0, -1),
            data_range=255.0,
            channel_axis=-1,
        )
    )


def _check_labels(label, n: int, c: int) -> np.ndarray:
    label = np.asarray(label).astype(np.int64).reshape(-1)
    if label.shape[0] != n:
        raise ValueError(f"{n} examples of candidates but {label.shape[0]} labels")
    if np.any((label < 0) | (label >= c)):
        raise ValueError(f"labels must be in 0..{c - 1}")
    return label


def ssim_per_example(candidate_images, label, size: int = 128) -> np.ndarray:
    """Mean SSIM between the ground truth and each negative, per example.

    Args:
        candidate_images: uint8 ``[N, C, H, W, 3]``.
        label: int ``[N]``, position of the ground truth in each list.
        size: side the grayscale images are compared at (>= 7).

    Returns:
        float64 ``[N]``: for example i, the mean over the C - 1 negatives j of
        ``SSIM(gray(gt_i), gray(neg_ij))``, in [-1, 1].
    """
    images = np.asarray(candidate_images)
    if images.ndim != 5:
        raise ValueError(f"candidate_images must be [N, C, H, W, 3], got {images.shape}")
    if size < 7:
        raise ValueError(f"size must be >= 7 (SSIM window), got {size}")
    n, c = images.shape[:2]
    label = _check_labels(label, n, c)
    return np.array(
        [_example_ssim(_to_gray(images[i], size), label[i]) for i in range(n)], np.float64
    ).reshape(n)


def ssim_per_example_from_bank(bank_images, candidate_ids, label, size: int = 128) -> np.ndarray:
    """:func:`ssim_per_example` with candidates given as sticker-bank rows.

    Avoids materialising ``[N, C, H, W, 3]``: each example's C images are
    gathered from the bank when needed.

    Args:
        bank_images: uint8 ``[K, H, W, 3]``, the sticker bank.
        candidate_ids: int ``[N, C]``, bank row of each candidate.
        label: int ``[N]``, position of the ground truth in each list.
        size: side the grayscale images are compared at (>= 7).
    """
    bank = np.asarray(bank_images)
    ids = np.asarray(candidate_ids).astype(np.int64)
    if bank.ndim != 4 or ids.ndim != 2:
        raise ValueError(
            f"need bank_images [K, H, W, 3] and candidate_ids [N, C], got "
            f"{bank.shape} and {ids.shape}"
        )
    if ids.size and (ids.min() < 0 or ids.max() >= bank.shape[0]):
        raise ValueError(f"candidate_ids must be in 0..{bank.shape[0] - 1}")
    if size < 7:
        raise ValueError(f"size must be >= 7 (SSIM window), got {size}")
    n, c = ids.shape
    label = _check_labels(label, n, c)
    return np.array(
        [_example_ssim(_to_gray(bank[ids[i]], size), label[i]) for i in range(n)], np.float64
    ).reshape(n)


def _group_metrics(
    per_example: dict[str, np.ndarray], groups: np.ndarray, keys: Sequence, names: Sequence[str]
) -> dict[str, dict]:
    out = {}
    for key, name in zip(keys, names):
        mask = groups == key
        entry = {"count": int(mask.sum())}
        for metric, values in per_example.items():
            entry[metric] = float(np.mean(values[mask])) if mask.any() else None
        out[name] = entry
    return out


def metrics_by_turns(
    scores, labels, num_turns, per_example: dict[str, np.ndarray] | None = None
) -> dict[str, dict]:
    """RQ3: metrics per number of context turns.

    Args:
        scores: float ``[N, C]``.
        labels: 0/1 ``[N, C]`` or positions ``[N]``.
        num_turns: int ``[N]``.
        per_example: precomputed ``metrics.per_example_metrics`` (optional).

    Returns:
        ``{str(turns): {"count": n, "MAP": ..., ...}}`` for every turn count
        present, in increasing order.
    """
    if per_example is None:
        per_example = metrics.per_example_metrics(scores, labels)
    turns = np.asarray(num_turns).astype(np.int64).reshape(-1)
    n = len(next(iter(per_example.values())))
    if turns.shape[0] != n:
        raise ValueError(f"{turns.shape[0]} num_turns for {n} examples")
    keys = sorted(set(turns.tolist()))
    return _group_metrics(per_example, turns, keys, [str(k) for k in keys])


def metrics_by_ssim(
    scores, labels, ssim, per_example: dict[str, np.ndarray] | None = None
) -> dict[str, dict]:
    """RQ5: metrics per SSIM bucket (all five buckets, empty ones included).

    Args:
        scores: float ``[N, C]``.
        labels: 0/1 ``[N, C]`` or positions ``[N]``.
        ssim: float ``[N]``, e.g. from :func:`ssim_per_example`.
        per_example: precomputed ``metrics.per_example_metrics`` (optional).

    Returns:
        ``{bucket name: {"count": n, "MAP": ... or None if empty, ...}}`` in
        ``SSIM_BUCKET_NAMES`` order.
    """
    if per_example is None:
        per_example = metrics.per_example_metrics(scores, labels)
    buckets = ssim_bucket(ssim)
    n = len(next(iter(per_example.values())))
    if buckets.shape[0] != n:
        raise ValueError(f"{buckets.shape[0]} SSIM values for {n} examples")
    return _group_metrics(per_example, buckets, range(len(SSIM_BUCKET_NAMES)), SSIM_BUCKET_NAMES)
