"""Evaluation reports shared by both modes of ``bin/evaluate``.

``report`` turns scores (and optionally context-turn counts, per-example SSIM
and a second system's scores) into one JSON-ready dict; ``format_report``
renders it as text tables; ``summary`` is the dict printed as the last stdout
line. ``evaluate_files`` (file mode) and ``evaluate_model`` (model mode) are
the two entry points called by ``bin/evaluate``.

Report layout (keys absent when their input is absent)::

    {
      "MAP": ..., "MRR": ..., "R10@1": ..., "R10@2": ..., "R10@5": ...,
      "R2@1": ..., "P@1": ...,                    # means over the examples
      "num_examples": N, "list_size": C, "name": "...",
      "t_test": {"MAP": {"t": ..., "p": ...}, ...},   # with compare
      "compare": {"name": "...", "MAP": ..., ...},    # the other system
      "by_turns": {"1": {"count": n, "MAP": ..., ...}, ...},      # RQ3
      "by_ssim": {"(0.0,0.2]": {"count": n, "MAP": ..., ...}, ...}  # RQ5
    }

Non-finite floats (an infinite t of a zero-variance difference, a NaN p) are
written to JSON as ``null``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from srs_tf import atomic
from srs_tf.evaluation import analysis, metrics, scores_file, significance


def _as_pair(compare):
    if isinstance(compare, dict):
        return compare["scores"], compare["labels"], compare.get("name")
    scores, labels = compare[:2]
    return scores, labels, (compare[2] if len(compare) > 2 else None)


def report(
    scores, labels, num_turns=None, ssim=None, compare=None, name: str | None = None
) -> dict[str, Any]:
    """Metrics, optional paired t-tests and RQ3/RQ5 breakdowns of one system.

    Args:
        scores: float ``[N, C]``.
        labels: 0/1 ``[N, C]`` (one 1 per row) or int positions ``[N]``.
        num_turns: optional int ``[N]`` -> ``by_turns`` (RQ3).
        ssim: optional float ``[N]`` mean ground-truth/negative SSIM ->
            ``by_ssim`` (RQ5).
        compare: optional other system on the same examples, as
            ``(scores, labels[, name])`` or ``{"scores", "labels"[, "name"]}``
            -> ``compare`` metrics and ``t_test`` (this system minus the other).
        name: label of this system in the tables.

    Returns:
        The report dict described in the module docstring.

    Raises:
        ValueError: invalid inputs, or ``compare`` on different examples
            (other count, or ground truths at other positions).
    """
    scores, labels = metrics.validate(scores, labels)
    per_example = metrics.per_example_metrics(scores, labels)
    out: dict[str, Any] = dict(metrics.mean_metrics(per_example))
    out["num_examples"] = int(scores.shape[0])
    out["list_size"] = int(scores.shape[1])
    out["name"] = name or "system"
    if compare is not None:
        other_scores, other_labels, other_name = _as_pair(compare)
        other_scores, other_labels = metrics.validate(other_scores, other_labels)
        if other_scores.shape != scores.shape:
            raise ValueError(
                f"cannot compare: {scores.shape[0]} examples x "
                f"{scores.shape[1]} candidates vs {other_scores.shape[0]} x "
                f"{other_scores.shape[1]}"
            )
        differ = np.flatnonzero(np.any(other_labels != labels, axis=1))
        if differ.size:
            raise ValueError(
                "cannot compare: the two systems do not score the same "
                f"examples (ground truth at another position in example "
                f"{int(differ[0])})"
            )
        other_per_example = metrics.per_example_metrics(other_scores, other_labels)
        out["t_test"] = significance.compare_per_example(
            per_example, other_per_example, metrics.METRIC_NAMES
        )
        out["compare"] = {
            "name": other_name or "compare",
            **metrics.mean_metrics(other_per_example),
        }
    if num_turns is not None:
        out["by_turns"] = analysis.metrics_by_turns(
            scores, labels, num_turns, per_example=per_example
        )
    if ssim is not None:
        out["by_ssim"] = analysis.metrics_by_ssim(scores, labels, ssim, per_example=per_example)
    return out


def summary(rep: dict[str, Any]) -> dict[str, Any]:
    """The last-line JSON: the metric keys, plus ``t_test`` when compared."""
    out = {k: rep[k] for k in metrics.METRIC_NAMES}
    if "t_test" in rep:
        out["t_test"] = rep["t_test"]
    return out


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def to_json(obj, indent: int | None = None) -> str:
    """Strict JSON (non-finite floats as null, numpy scalars as Python)."""
    return json.dumps(_jsonable(obj), indent=indent, ensure_ascii=False, allow_nan=False)


def write_json(path: str, obj) -> None:
    """Writes ``to_json(obj, indent=2)`` atomically (temporary file, rename)."""
    atomic.write_text(path, to_json(obj, indent=2) + "\n")


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"


def _table(header, rows) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = []
    for r in [header] + rows:
        cells = [str(r[0]).ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def format_report(rep: dict[str, Any]) -> str:
    """Text tables of a report: metrics (with ▲/▼ and p-values), RQ3, RQ5."""
    names = list(metrics.METRIC_NAMES)
    blocks = []
    tests = rep.get("t_test")
    row = [f"{rep['name']} (N={rep['num_examples']})"]
    for m in names:
        mark = ""
        if tests:
            mark = significance.significance_mark(tests[m]["t"], tests[m]["p"])
            mark = mark or " "
        row.append(_fmt(rep[m]) + mark)
    rows = [row]
    if "compare" in rep:
        rows.append([rep["compare"]["name"]] + [_fmt(rep["compare"][m]) + " " for m in names])
        rows.append(
            ["paired t-test p"]
            + [
                (
                    f"{tests[m]['p']:.2g}"
                    if tests[m]["p"] is not None and not math.isnan(tests[m]["p"])
                    else "-"
                )
                + " "
                for m in names
            ]
        )
    blocks.append(_table(["system"] + names, rows))
    if tests:
        blocks.append(
            f"▲/▼: {rep['name']} significantly better/worse than "
            f"{rep['compare']['name']} (two-tailed paired t-test, "
            f"p < {significance.ALPHA})"
        )
    for key, title, first in (
        ("by_turns", "By number of context turns (RQ3)", "turns"),
        ("by_ssim", "By mean SSIM of ground truth vs negatives (RQ5)", "SSIM"),
    ):
        if key not in rep:
            continue
        rows = [
            [group, entry["count"]] + [_fmt(entry[m]) for m in names]
            for group, entry in rep[key].items()
        ]
        blocks.append(title + "\n" + _table([first, "count"] + names, rows))
    return "\n\n".join(blocks)


def evaluate_files(
    scores_path: str,
    compare_to: str | None = None,
    list_size: int = scores_file.DEFAULT_LIST_SIZE,
) -> dict[str, Any]:
    """File mode: the report of one scores file, optionally vs another.

    Raises:
        scores_file.ScoresFileError: a malformed file.
        ValueError: the two files do not hold the same examples.
    """
    scores, labels = scores_file.read_scores_file(scores_path, list_size)
    compare = None
    if compare_to:
        other_scores, other_labels = scores_file.read_scores_file(compare_to, list_size)
        compare = (other_scores, other_labels, os.path.basename(compare_to))
    return report(scores, labels, compare=compare, name=os.path.basename(scores_path))


def evaluate_model(
    data_dir: str,
    model_dir: str,
    split: str = "test",
    batch_size: int = 32,
    scores_out: str | None = None,
    compare_to: str | None = None,
    compute_ssim: bool = True,
    output: str | None = None,
) -> dict[str, Any]:
    """Model mode: scores a split, reports, writes ``RUN/eval_<split>.json``.

    Calls ``srs_tf.evaluation.scoring.score_split(data_dir, model_dir, split,
    batch_size)`` (imported lazily: TensorFlow only loads in this mode), which
    returns ``scores`` [N, C], ``labels`` [N], ``num_turns`` [N] and, for
    RQ5, either ``candidate_images`` uint8 [N, C, H, W, 3] or
    ``candidate_ids`` [N, C] with ``bank_images`` uint8 [K, H, W, 3].

    Args:
        data_dir: TFREC directory.
        model_dir: run directory; the JSON report goes to
            ``model_dir/eval_<split>.json`` (or ``output`` when given).
        split: "test", "valid", ...
        batch_size: scoring batch size.
        scores_out: optional scores file to write.
        compare_to: optional scores file of another system on this split.
        compute_ssim: compute the RQ5 breakdown when images are available.
        output: JSON path overriding ``model_dir/eval_<split>.json``.
    """
    from srs_tf.evaluation import scoring  # lazy: imports TensorFlow

    scored = scoring.score_split(data_dir, model_dir, split, batch_size)
    scores = np.asarray(scored["scores"])
    labels = np.asarray(scored["labels"])
    ssim = None
    if compute_ssim and scored.get("candidate_images") is not None:
        ssim = analysis.ssim_per_example(scored["candidate_images"], labels)
    elif (
        compute_ssim
        and scored.get("bank_images") is not None
        and scored.get("candidate_ids") is not None
    ):
        ssim = analysis.ssim_per_example_from_bank(
            scored["bank_images"], scored["candidate_ids"], labels
        )
    compare = None
    if compare_to:
        other_scores, other_labels = scores_file.read_scores_file(compare_to, scores.shape[1])
        compare = (other_scores, other_labels, os.path.basename(compare_to))
    rep = report(
        scores,
        labels,
        num_turns=scored.get("num_turns"),
        ssim=ssim,
        compare=compare,
        name=f"{os.path.basename(os.path.normpath(model_dir))}/{split}",
    )
    rep["split"] = split
    rep["model_dir"] = model_dir
    if scored.get("step") is not None:
        rep["step"] = int(scored["step"])
    if scores_out:
        scores_file.write_scores_file(scores_out, scores, labels)
    write_json(output or os.path.join(model_dir, f"eval_{split}.json"), rep)
    return rep
