"""Response-selection metrics of the paper (§6.3): MAP, MRR, R10@k, R2@1, P@1.

All functions are pure numpy and use TF-Ranking style shapes:

* ``scores``: float ``[batch, list_size]``, higher is better;
* ``labels``: ``[batch, list_size]`` with 0/1 entries and exactly one 1 per row
    (the ground truth), or, equivalently, an int ``[batch]`` vector holding the
    position of the ground truth in each row (the ``label`` of a data batch).

Each ``*`` metric function returns the per-example values ``[batch]``
(float64); :func:`compute_metrics` averages them over the examples and
:func:`per_example_metrics` returns them all (for the paired t-test of
:mod:`srs_tf.evaluation.significance`).

Ties are broken pessimistically and deterministically: a ground truth whose
score equals a negative's score ranks *below* that negative. Its rank is
therefore ``1 + #{negatives with score >= ground-truth score}``, so a model that
outputs one constant score for every candidate ranks the ground truth last
(R10@1 = 0, MRR = 1/list_size), wherever it sits in the list.

R2@1 follows the response-selection literature (Ubuntu / Douban corpora, where
the ground truth comes first and is compared with the next candidate): only the
ground truth and ONE negative are compared, namely the first negative in list
order (position 0, or position 1 when the ground truth is at position 0); R2@1
is 1 when the ground truth's score is strictly greater than that negative's
score (ties count as failures).

The StickerChat release code (``metrics.py:recall_2at1``) compares with a
different negative: its loop overwrites the negative score until it reaches the
ground truth, so it uses the negative *just before* the ground truth in list
order (position ``p - 1`` for a ground truth at ``p > 0``, position 1 for
``p = 0``). :func:`release_recall_2at1` reproduces it; it is not part of
:data:`METRIC_NAMES`. With candidates in random order both pick a uniformly
random negative, so they estimate the same quantity, but they differ example
by example (docs/EVALUATION.md).

With exactly one positive per list, AP = RR (so MAP = MRR) and P@1 = R10@1;
both are still reported because the paper reports both.

Scores must be finite: a NaN or infinite score raises ``ValueError`` rather
than silently ranking somewhere.
"""

from __future__ import annotations

import numpy as np

# Keys of compute_metrics, in the paper's table order.
METRIC_NAMES = ("MAP", "MRR", "R10@1", "R10@2", "R10@5", "R2@1", "P@1")


def as_one_hot(labels, list_size: int) -> np.ndarray:
    """Returns 0/1 labels ``[N, list_size]`` (int64) from positions or 0/1 rows.

    Args:
        labels: int positions ``[N]`` (each in ``0 .. list_size-1``) or 0/1 labels
            ``[N, list_size]``.
        list_size: number of candidates per example.

    Raises:
        ValueError: for a position outside the list or a wrong shape.
    """
    labels = np.asarray(labels)
    if labels.ndim == 1:
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            if not np.all(labels == np.round(labels)):
                raise ValueError("label positions must be integers")
        pos = labels.astype(np.int64)
        if pos.size and (pos.min() < 0 or pos.max() >= list_size):
            bad = int(np.flatnonzero((pos < 0) | (pos >= list_size))[0])
            raise ValueError(
                f"example {bad}: label position {int(pos[bad])} is outside 0..{list_size - 1}"
            )
        one_hot = np.zeros((pos.shape[0], list_size), np.int64)
        one_hot[np.arange(pos.shape[0]), pos] = 1
        return one_hot
    if labels.ndim == 2:
        if labels.shape[1] != list_size:
            raise ValueError(f"labels have {labels.shape[1]} columns, expected {list_size}")
        return labels.astype(np.int64)
    raise ValueError(f"labels must be [N] or [N, C], got shape {labels.shape}")


def validate(scores, labels):
    """Validates and converts to ``(scores float64 [N, C], labels int64 [N, C])``.

    Raises:
        ValueError: wrong shapes, fewer than 2 candidates, a label other than
            0/1, a row without exactly one 1, or a non-finite score.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be [N, C], got shape {scores.shape}")
    n, c = scores.shape
    labels = as_one_hot(labels, c)
    if labels.shape[0] != n:
        raise ValueError(f"scores have {n} examples but labels have {labels.shape[0]}")
    if c < 2:
        raise ValueError(f"need at least 2 candidates per example, got {c}")
    if not np.all((labels == 0) | (labels == 1)):
        bad = int(np.flatnonzero(np.any((labels != 0) & (labels != 1), axis=1))[0])
        raise ValueError(f"example {bad}: labels must be 0 or 1")
    positives = labels.sum(axis=1)
    if np.any(positives != 1):
        bad = int(np.flatnonzero(positives != 1)[0])
        raise ValueError(
            f"example {bad}: {int(positives[bad])} labels are 1, expected exactly one ground truth"
        )
    if not np.all(np.isfinite(scores)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(scores), axis=1))[0])
        raise ValueError(f"example {bad}: scores must be finite, got {scores[bad]}")
    return scores, labels


def ground_truth_rank(scores, labels) -> np.ndarray:
    """1-based rank of the ground truth in each list, ties broken pessimistically.

    ``rank = 1 + #{negatives whose score >= the ground truth's score}``.

    Returns:
        int64 ``[N]`` in ``1 .. list_size``.
    """
    scores, labels = validate(scores, labels)
    positive_score = np.sum(scores * labels, axis=1, keepdims=True)
    beaten_by = (scores >= positive_score) & (labels == 0)
    return 1 + beaten_by.sum(axis=1).astype(np.int64)


def average_precision(scores, labels) -> np.ndarray:
    """Per-example average precision ``[N]``.

    With one relevant candidate, AP = precision at the ground truth's rank =
    ``1 / rank``.
    """
    return 1.0 / ground_truth_rank(scores, labels).astype(np.float64)


def reciprocal_rank(scores, labels) -> np.ndarray:
    """Per-example reciprocal rank ``1 / rank`` of the ground truth ``[N]``."""
    return 1.0 / ground_truth_rank(scores, labels).astype(np.float64)


def recall_at_k(scores, labels, k: int) -> np.ndarray:
    """Per-example R_n@k ``[N]``: 1.0 if the ground truth ranks in the top k.

    ``n`` is the list size (10 in the paper, hence R10@k); ``k >= list_size``
    gives 1 for every example.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return (ground_truth_rank(scores, labels) <= k).astype(np.float64)


def precision_at_1(scores, labels) -> np.ndarray:
    """Per-example P@1 ``[N]``: fraction of relevant candidates in the top 1.

    With exactly one relevant candidate this equals R10@1.
    """
    return (ground_truth_rank(scores, labels) == 1).astype(np.float64)


def r2_at_1(scores, labels) -> np.ndarray:
    """Per-example R2@1 ``[N]``: ground truth vs the first negative in list order.

    1.0 when the ground truth's score is strictly greater than the score of
    the first candidate (in list order) whose label is 0, else 0.0.
    """
    scores, labels = validate(scores, labels)
    rows = np.arange(scores.shape[0])
    positive_score = scores[rows, np.argmax(labels == 1, axis=1)]
    first_negative_score = scores[rows, np.argmax(labels == 0, axis=1)]
    return (positive_score > first_negative_score).astype(np.float64)


def release_recall_2at1(scores, labels) -> np.ndarray:
    """Per-example R2@1 ``[N]`` as the StickerChat release computes it.

    The release's ``metrics.py:recall_2at1`` walks the list in order, storing
    the score of every negative it meets, and stops as soon as it has seen the
    ground truth and at least one negative. The negative it compares with is
    therefore the one just before the ground truth (position ``p - 1``), or
    position 1 when the ground truth is at position 0. 1.0 when the ground
    truth's score is strictly greater, else 0.0 (ties fail, as in the release).

    Example (ground truth at position 3, negatives 0.9, 0.1, 0.2 before it:
    the release compares 0.5 with 0.2, :func:`r2_at_1` with 0.9):

    >>> s = [[0.9, 0.1, 0.2, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
    >>> release_recall_2at1(s, [3]).tolist(), r2_at_1(s, [3]).tolist()
    ([1.0], [0.0])
    """
    scores, labels = validate(scores, labels)
    rows = np.arange(scores.shape[0])
    position = np.argmax(labels == 1, axis=1)
    compared = np.where(position > 0, position - 1, 1)
    return (scores[rows, position] > scores[rows, compared]).astype(np.float64)


def per_example_metrics(scores, labels) -> dict[str, np.ndarray]:
    """All metrics per example: ``{name: float64 [N]}`` for ``METRIC_NAMES``."""
    scores, labels = validate(scores, labels)
    rank = ground_truth_rank(scores, labels).astype(np.float64)
    return {
        "MAP": 1.0 / rank,
        "MRR": 1.0 / rank,
        "R10@1": (rank <= 1).astype(np.float64),
        "R10@2": (rank <= 2).astype(np.float64),
        "R10@5": (rank <= 5).astype(np.float64),
        "R2@1": r2_at_1(scores, labels),
        "P@1": (rank == 1).astype(np.float64),
    }


def mean_metrics(per_example: dict[str, np.ndarray]) -> dict[str, float]:
    """Means over examples of a ``per_example_metrics`` dict (NaN if empty)."""
    return {
        name: float(np.mean(values)) if len(values) else float("nan")
        for name, values in per_example.items()
    }


def compute_metrics(scores, labels) -> dict[str, float]:
    """Mean MAP, MRR, R10@1, R10@2, R10@5, R2@1 and P@1 over the examples.

    Args:
        scores: float ``[N, C]``.
        labels: 0/1 ``[N, C]`` with one 1 per row, or int positions ``[N]``.

    Returns:
        ``{name: float}`` with keys exactly ``METRIC_NAMES``.
    """
    return mean_metrics(per_example_metrics(scores, labels))
