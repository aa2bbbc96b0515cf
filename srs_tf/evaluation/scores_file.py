"""Scores files: the release code's prediction-file layout (docs/EVALUATION.md#scores-file).

One line per candidate, ``score<TAB>label`` (label 1 for the ground truth,
else 0); the candidates of one example are on consecutive lines, ``list_size``
(10) lines per example, examples in order. Example with list size 3::

    0.91<TAB>1
    0.15<TAB>0
    0.40<TAB>0

The reader is lenient about the separator (any run of blanks or tabs) and
accepts labels written as ``1``/``0`` or ``1.0``/``0.0``; trailing empty lines
are ignored. It rejects, naming the file and the 1-based line number: a line
that is not two fields, a score that is not a finite number, a label other
than 0/1, an empty line inside the data, a line count that is not a multiple
of the list size, and an example whose lines hold no or several labels 1.

The writer writes every score with ``repr(float(score))``, which reads back
to the same float64, into a temporary file in the target directory and then
renames it over the target, so a reader never sees a half-written file.
"""

from __future__ import annotations

import math

import numpy as np

from srs_tf import atomic
from srs_tf.evaluation import metrics
from srs_tf.model_config import NUM_CANDIDATES

DEFAULT_LIST_SIZE = NUM_CANDIDATES


class ScoresFileError(ValueError):
    """A malformed scores file; the message names the file and line."""


def _parse_label(text: str):
    try:
        value = float(text)
    except ValueError:
        return None
    if value == 1.0:
        return 1
    if value == 0.0:
        return 0
    return None


def read_scores_file(
    path: str, list_size: int = DEFAULT_LIST_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Reads and validates a scores file.

    Args:
        path: the file.
        list_size: candidates per example (10).

    Returns:
        ``(scores, labels)``: float64 ``[N, list_size]`` and int64 0/1
        ``[N, list_size]`` with exactly one 1 per row.

    Raises:
        ScoresFileError: the file is malformed (message ``PATH:LINE: ...``).
        OSError: the file cannot be read.
    """
    if list_size < 2:
        raise ValueError(f"list_size must be >= 2, got {list_size}")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    scores = np.empty(len(lines), np.float64)
    labels = np.empty(len(lines), np.int64)
    for i, line in enumerate(lines):
        where = f"{path}:{i + 1}"
        fields = line.split()
        if not fields:
            raise ScoresFileError(f"{where}: empty line inside the data")
        if len(fields) != 2:
            raise ScoresFileError(f"{where}: expected 'score<TAB>label', got {line!r}")
        try:
            score = float(fields[0])
        except ValueError:
            raise ScoresFileError(f"{where}: score {fields[0]!r} is not a number") from None
        if not math.isfinite(score):
            raise ScoresFileError(f"{where}: score {fields[0]!r} is not finite")
        label = _parse_label(fields[1])
        if label is None:
            raise ScoresFileError(f"{where}: label {fields[1]!r} is not 0 or 1")
        scores[i] = score
        labels[i] = label
    if not lines:
        raise ScoresFileError(f"{path}: no candidate lines")
    if len(lines) % list_size:
        raise ScoresFileError(
            f"{path}:{len(lines)}: {len(lines)} candidate lines is not a "
            f"multiple of the list size {list_size} (the last example has "
            f"{len(lines) % list_size} lines)"
        )
    scores = scores.reshape(-1, list_size)
    labels = labels.reshape(-1, list_size)
    positives = labels.sum(axis=1)
    bad = np.flatnonzero(positives != 1)
    if bad.size:
        e = int(bad[0])
        first, last = e * list_size + 1, (e + 1) * list_size
        raise ScoresFileError(
            f"{path}:{first}-{last}: example {e} has {int(positives[e])} "
            "lines with label 1, expected exactly one"
        )
    return scores, labels


def write_scores_file(path: str, scores, labels) -> None:
    """Writes a scores file atomically (temporary file, then rename).

    Args:
        path: the target file; its directory must exist.
        scores: float ``[N, C]``.
        labels: 0/1 ``[N, C]`` (one 1 per row) or int positions ``[N]``.

    Raises:
        ValueError: invalid scores/labels (see ``metrics``); nothing written.
    """
    scores, labels = metrics.validate(scores, labels)
    text = "".join(
        f"{float(s)!r}\t{int(y)}\n" for s, y in zip(scores.reshape(-1), labels.reshape(-1))
    )
    atomic.write_text(path, text)
