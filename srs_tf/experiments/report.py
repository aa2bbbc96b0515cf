"""An experiment's outputs: ``runs.json``, ``table.md`` and ``commands.txt``.

``table.md`` has one row per system: the mean ± sd over seeds of each
metric (sd with n - 1; "–" for one seed), the paper's value beside it, and
the two-tailed paired t-test against SRS at α = 0.01 (``▲``/``▼``: the
row is significantly better/worse than SRS). The test pairs the per-example
values of the two systems on the same test examples (the candidate lists
are fixed), each averaged over the seeds the two rows share.
"""

from __future__ import annotations

import json
import os
import shlex

import numpy as np

from srs_tf import atomic
from srs_tf.evaluation import metrics as metrics_lib
from srs_tf.evaluation.paper_table import PAPER
from srs_tf.evaluation.scores_file import read_scores_file
from srs_tf.evaluation.significance import ALPHA, paired_t_test, significance_mark
from srs_tf.experiments.plan import REFERENCE

COLUMNS = ("MAP", "R10@1", "R10@2", "R10@5")
# The per-example metric behind each column (AP averages to MAP).
PER_EXAMPLE = {"MAP": "MAP", "R10@1": "R10@1", "R10@2": "R10@2", "R10@5": "R10@5"}


def mean_sd(values) -> tuple[float, float | None]:
    values = np.asarray(values, dtype=np.float64)
    sd = float(np.std(values, ddof=1)) if values.size > 1 else None
    return float(np.mean(values)), sd


def per_example(run_dir: str, scores_name: str) -> dict[str, np.ndarray]:
    """Per-example metrics of a run's test scores file."""
    scores, labels = read_scores_file(os.path.join(run_dir, scores_name))
    return metrics_lib.per_example_metrics(scores, labels)


def system_order(records: list[dict]) -> list[str]:
    order = []
    for r in records:
        if r["system"] not in order:
            order.append(r["system"])
    return order


def significance(
    records: list[dict], scores_name: str, reference: str | None = REFERENCE
) -> dict[str, dict[str, dict]]:
    """``{system: {column: {"t", "p", "mark", "seeds"}}}`` against ``reference``."""
    by_system: dict[str, dict[int, str]] = {}
    for r in records:
        by_system.setdefault(r["system"], {})[r["seed"]] = r["run_dir"]
    if reference not in by_system:
        return {}
    out = {}
    for system, runs in by_system.items():
        if system == reference:
            continue
        seeds = sorted(set(runs) & set(by_system[reference]))
        if not seeds:
            continue
        mine = [per_example(runs[s], scores_name) for s in seeds]
        ref = [per_example(by_system[reference][s], scores_name) for s in seeds]
        out[system] = {}
        for column in COLUMNS:
            key = PER_EXAMPLE[column]
            a = np.mean([m[key] for m in mine], axis=0)
            b = np.mean([m[key] for m in ref], axis=0)
            t, p = paired_t_test(a, b)
            out[system][column] = {
                "t": t,
                "p": p,
                "mark": significance_mark(t, p, ALPHA),
                "seeds": seeds,
            }
    return out


def _cell(mean: float, sd: float | None) -> str:
    return f"{mean:.3f} ± {sd:.3f}" if sd is not None else f"{mean:.3f} ± –"


def table_markdown(
    title: str,
    records: list[dict],
    scores_name: str,
    notes: list[str] = (),
    reference: str | None = REFERENCE,
    paper: dict | None = None,
    row_label: str = "system",
) -> tuple[str, dict]:
    """The markdown table and the statistics behind it.

    Args:
      reference: the row the others are t-tested against (None: no tests).
      paper: the paper's metrics per row (default: Tables 3 and 4).
      row_label: the heading of the first column.
    """
    paper = PAPER if paper is None else paper
    tests = significance(records, scores_name, reference) if reference else {}
    stats = {}
    header = (
        f"| {row_label} | seeds | "
        + " | ".join(COLUMNS)
        + " | paper "
        + " / ".join(COLUMNS)
        + " | minutes per run |"
    )
    lines = [f"# {title}", "", header, "|" + "---|" * (len(COLUMNS) + 4)]
    for system in system_order(records):
        runs = [r for r in records if r["system"] == system]
        row = {"seeds": [r["seed"] for r in runs]}
        cells = []
        for column in COLUMNS:
            mean, sd = mean_sd([r["metrics"][column] for r in runs])
            row[column] = {"mean": mean, "sd": sd}
            mark = tests.get(system, {}).get(column, {}).get("mark", "")
            cells.append(_cell(mean, sd) + (f" {mark}" if mark else ""))
        theirs = paper.get(system)
        paper_cell = " / ".join(f"{theirs[c]:.3f}" for c in COLUMNS) if theirs else "–"
        minutes = np.mean([r["seconds"] for r in runs]) / 60.0
        row["minutes_per_run"] = minutes
        stats[system] = row
        lines.append(
            f"| {system} | {len(runs)} | "
            + " | ".join(cells)
            + f" | {paper_cell} | {minutes:.1f} |"
        )
    lines += ["", "Mean ± sd over seeds."]
    if reference:
        lines[-1] += (
            f" ▲/▼: significantly better/worse than {reference} (two-tailed paired t-test "
            f"over the test examples, each example's value averaged over the seeds both rows "
            f"have, α = {ALPHA})."
        )
    if tests:
        lines += ["", f"| {row_label} vs {reference} | " + " | ".join(COLUMNS) + " |"]
        lines.append("|" + "---|" * (len(COLUMNS) + 1))
        for system, columns in tests.items():
            cells = [f"t = {columns[c]['t']:+.2f}, p = {columns[c]['p']:.2g}" for c in COLUMNS]
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
    lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n", {"rows": stats, "t_tests": tests}


def write_outputs(
    out_dir: str,
    title: str,
    records: list[dict],
    command_lists: list[list[list[str]]],
    scores_name: str,
    notes: list[str] = (),
    extra_lines: list[str] = (),
    extra_stats: dict | None = None,
    **table_options,
) -> dict:
    """Writes runs.json, table.md and commands.txt into ``out_dir`` (atomically).

    ``extra_lines`` (markdown) follow the table, ``extra_stats`` go into
    runs.json; ``table_options`` are ``table_markdown``'s keyword arguments.
    """
    table, stats = table_markdown(title, records, scores_name, notes, **table_options)
    if extra_lines:
        table = table + "\n" + "\n".join(extra_lines).rstrip() + "\n"
    stats.update(extra_stats or {})
    atomic.write_text(os.path.join(out_dir, "table.md"), table)
    atomic.write_json(os.path.join(out_dir, "runs.json"), {"runs": records, **stats})
    text = "\n".join(shlex.join(c) for commands in command_lists for c in commands) + "\n"
    atomic.write_text(os.path.join(out_dir, "commands.txt"), text)
    return stats


def load_runs(out_dir: str) -> dict:
    with open(os.path.join(out_dir, "runs.json"), encoding="utf-8") as f:
        return json.load(f)
