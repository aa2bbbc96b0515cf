"""The figures of the experiments (matplotlib, written as ``figure.png``).

* ``metric_curves``: Figures 7 and 11, the four metrics (mean ± sd over
  seeds) against the utterances read or the hidden size, chance dotted;
* ``ssim_table`` and ``ssim_bars``: Figure 10, R10@1 per bucket of the
  candidates' mean SSIM (``bin/evaluate --ssim``), mean ± sd over seeds.

Figure 8 has its own module (``srs_tf.experiments.attention_figure``).
"""

from __future__ import annotations

import json
import os

import numpy as np

from srs_tf import atomic
from srs_tf.evaluation.analysis import SSIM_BUCKET_NAMES
from srs_tf.evaluation.paper_table import CHANCE
from srs_tf.experiments.report import COLUMNS, mean_sd, system_order

COLORS = {"MAP": "tab:blue", "R10@1": "tab:orange", "R10@2": "tab:green", "R10@5": "tab:red"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> None:
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")


def curve_points(records: list[dict], x_of_row: dict[str, float]) -> dict:
    """``{"x": [...], metric: {"mean": [...], "sd": [...]}}`` in row order.

    Args:
      records: the runner's records (``system``, ``metrics``).
      x_of_row: the x value of each row (e.g. ``{"N=5": 5}``).
    """
    rows = system_order(records)
    points: dict = {"x": [x_of_row[row] for row in rows], "rows": rows}
    for column in COLUMNS:
        stats = [
            mean_sd([r["metrics"][column] for r in records if r["system"] == row]) for row in rows
        ]
        points[column] = {
            "mean": [m for m, _ in stats],
            "sd": [0.0 if s is None else s for _, s in stats],
        }
    return points


def metric_curves(path: str, points: dict, x_label: str, title: str) -> None:
    """Figures 7 and 11: one line per metric with ± sd bars; chance dotted."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for column in COLUMNS:
        ax.errorbar(
            points["x"],
            points[column]["mean"],
            yerr=points[column]["sd"],
            marker="o",
            capsize=3,
            color=COLORS[column],
            label=column,
        )
        ax.axhline(CHANCE[column], color=COLORS[column], linestyle=":", linewidth=1)
    ax.set_xticks(points["x"])
    ax.set_xlabel(x_label)
    ax.set_ylabel("score (mean ± sd over seeds; dotted: chance)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)


def by_ssim(run_dir: str) -> dict:
    """The ``by_ssim`` block of a run's ``eval_test.json`` (``bin/evaluate --ssim``).

    Raises:
      ValueError: the evaluation ran without ``--ssim``.
    """
    path = os.path.join(run_dir, "eval_test.json")
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    if "by_ssim" not in report:
        raise ValueError(f"{path} has no by_ssim: evaluate the run with bin/evaluate --ssim")
    return report["by_ssim"]


def ssim_table(records: list[dict]) -> tuple[list[str], dict]:
    """Figure 10's table: per SSIM bucket the examples and R10@1 / MAP
    (mean ± sd over seeds; a bucket without examples has none).

    Returns ``(markdown lines, {bucket: {"count", "R10@1", "MAP"}})``.
    """
    buckets = [by_ssim(r["run_dir"]) for r in records]
    stats, lines = {}, []
    lines.append("| mean candidate SSIM | test examples | R10@1 | MAP |")
    lines.append("|---|---|---|---|")
    for name in SSIM_BUCKET_NAMES:
        count = int(buckets[0][name]["count"])
        row = {"count": count}
        cells = []
        for metric in ("R10@1", "MAP"):
            values = [b[name][metric] for b in buckets if b[name][metric] is not None]
            if values:
                mean, sd = mean_sd(values)
                row[metric] = {"mean": mean, "sd": sd}
                cells.append(f"{mean:.3f} ± {sd:.3f}" if sd is not None else f"{mean:.3f} ± –")
            else:
                row[metric] = None
                cells.append("–")
        stats[name] = row
        lines.append(f"| {name} | {count} | " + " | ".join(cells) + " |")
    return lines, stats


def ssim_bars(path: str, stats: dict, title: str) -> None:
    """Figure 10: R10@1 per SSIM bucket (± sd), examples per bucket on top."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = np.arange(len(SSIM_BUCKET_NAMES))
    means = [stats[n]["R10@1"]["mean"] if stats[n]["R10@1"] else 0.0 for n in SSIM_BUCKET_NAMES]
    sds = [
        (stats[n]["R10@1"]["sd"] or 0.0) if stats[n]["R10@1"] else 0.0 for n in SSIM_BUCKET_NAMES
    ]
    ax.bar(x, means, yerr=sds, capsize=4, color=COLORS["R10@1"], alpha=0.8)
    for i, name in enumerate(SSIM_BUCKET_NAMES):
        ax.text(i, means[i] + sds[i] + 0.01, f"n={stats[name]['count']}", ha="center", fontsize=8)
    ax.axhline(CHANCE["R10@1"], color="grey", linestyle=":", label="chance")
    ax.set_xticks(x, SSIM_BUCKET_NAMES)
    ax.set_xlabel("mean SSIM between the ground truth and the other candidates")
    ax.set_ylabel("R10@1 (mean ± sd over seeds)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)
    plt.close(fig)
