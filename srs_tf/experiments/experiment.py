"""``run_experiment``: plan, data, runs and outputs of one experiment."""

from __future__ import annotations

import json
import os

from srs_tf.experiments import attention_figure, figures, report, runner
from srs_tf.experiments import plan as plan_lib

FIGURE_FILE = "figure.png"

TITLES = {
    "table3": "Table 3 (RQ1): SRS and the baselines",
    "table4": "Table 4 (RQ2): SRS and its ablations",
    "figure7": "Figure 7 (RQ3): SRS reading the last N utterances",
    "figure8": "Figures 8 and 9 (RQ4): sticker and word attention of SRS",
    "figure10": "Figure 10 (RQ5): R10@1 by the candidates' similarity (SSIM)",
    "figure11": "Figure 11 (RQ6): SRS with hidden sizes 50 to 250",
}
# What the paper reports for each figure (its text; the plots give no table).
PAPER_FINDINGS = {
    "figure7": "paper (§7.3): MAP, R10@1 and R10@2 rise until N = 15, then fluctuate; "
    "R10@5 fluctuates below 15 and drops above it",
    "figure8": "paper (§7.4): the sticker attention falls on the face and the gesture of "
    "the sticker; the word attention on the words that carry the emotion",
    "figure10": "paper (§7.5): R10@1 is highest for dissimilar candidates and drops as "
    "similarity grows; every group stays above 0.42, the best reaches 0.59",
    "figure11": "paper (§7.6): from 50 to 100 MAP and R10@1 rise by 0.4% and 1.0%; from 100 "
    "to 250 they drop by 2.2% and 3.9%",
}


def _notes(scale: str, tfrec: str, results_dir: str, data_dir: str | None) -> list[str]:
    from srs_tf.evaluation.paper_table import CHANCE

    notes = [
        f"scale {scale}; data {tfrec}",
        "chance (random ranking): " + ", ".join(f"{k} {v:.3f}" for k, v in CHANCE.items()),
    ]
    stats = None if data_dir else os.path.join(results_dir, "_data", scale, "DATA", "stats.json")
    if stats and os.path.isfile(stats):
        with open(stats, encoding="utf-8") as f:
            calibration = json.load(f).get("calibration", {})
        if "cue_oracle_r10_at_1" in calibration:
            notes.append(
                f"demo cue oracle R10@1 {calibration['cue_oracle_r10_at_1']:.3f} "
                "(docs/DEMO_DATA.md)"
            )
    if scale != "paper":
        notes.append(
            "the demo benchmark is not StickerChat: compare orderings and gaps over chance, "
            "not the numbers, with the paper's"
        )
    return notes


RANDOM_INIT_NOTE = (
    "Inception-v3 from random weights (--inception_weights=none, Table 2's no_pretrain "
    "network): Keras' ImageNet file is not in the Keras cache, and srs_tf never downloads "
    "it (as `make demo`)"
)


def imagenet_fallback(scale: str, extra_flags: tuple[str, ...], verbose: bool = True):
    """``("--inception_weights=none",)`` where `make demo` would train from random
    weights: demo scale, no ``--inception_weights`` among the extra flags, and
    no ImageNet file in the Keras cache; else ``()``. The paper scale never
    falls back (bin/train stops there with its own error, naming the ways on)."""
    if scale != "demo" or any(f.startswith("--inception_weights") for f in extra_flags):
        return ()
    from srs_tf.model.imagenet import ImageNetWeightsUnavailable, ensure_imagenet_weights

    try:
        ensure_imagenet_weights()
    except ImageNetWeightsUnavailable:
        if verbose:
            print(f"note: {RANDOM_INIT_NOTE}", flush=True)
        return ("--inception_weights=none",)
    return ()


def run_experiment(
    name: str,
    scale: str,
    results_dir: str,
    data_dir: str | None = None,
    seeds: tuple[int, ...] | None = None,
    systems: tuple[str, ...] | None = None,
    extra_flags: tuple[str, ...] = (),
    verbose: bool = True,
) -> str:
    """Runs experiment ``name`` at ``scale``; returns ``results_dir/name``.

    Raises:
      ValueError: an unknown name, scale or system.
      runner.ExperimentError: missing data or a failed run.
    """
    fallback = imagenet_fallback(scale, tuple(extra_flags), verbose)
    specs = plan_lib.plan(name, scale, seeds, systems, tuple(fallback) + tuple(extra_flags))
    results_dir = os.path.abspath(results_dir)
    tfrec = runner.prepare_data(
        scale, results_dir, data_dir, context_len=plan_lib.context_len_needed(name, scale)
    )
    out_dir = os.path.join(results_dir, name)
    os.makedirs(out_dir, exist_ok=True)
    records = runner.run_all(specs, tfrec, out_dir, verbose=verbose)
    command_lists = [
        runner.commands(s, tfrec, os.path.join(out_dir, runner.RUNS_DIR, s.name)) for s in specs
    ]
    notes = _notes(scale, tfrec, results_dir, data_dir)
    if fallback:
        notes.append(RANDOM_INIT_NOTE)
    if name == "table4" and plan_lib.random_init(
        plan_lib.SCALE_TRAIN_FLAGS[scale] + tuple(fallback) + tuple(extra_flags)
    ):
        notes.append(plan_lib.NO_PRETRAIN_NOTE)
    if name in PAPER_FINDINGS:
        notes.append(PAPER_FINDINGS[name])
    options = dict(reference=plan_lib.reference_row(name, scale))
    if name.startswith("figure"):
        options.update(paper={}, row_label="setting")
    extra_lines, extra_stats = _figure(name, out_dir, records)
    report.write_outputs(
        out_dir,
        TITLES[name],
        records,
        command_lists,
        runner.SCORES_FILE,
        notes=notes,
        extra_lines=extra_lines,
        extra_stats=extra_stats,
        **options,
    )
    return out_dir


def _figure(name: str, out_dir: str, records: list[dict]) -> tuple[list[str], dict]:
    """Draws ``out_dir/figure.png`` where the paper has a figure; returns the
    markdown and statistics it adds to table.md and runs.json."""
    path = os.path.join(out_dir, FIGURE_FILE)
    title = TITLES.get(name, name)
    if name in plan_lib.CURVE_ROW:
        x = {r["system"]: plan_lib.curve_x(name, r["system"]) for r in records}
        points = figures.curve_points(records, x)
        figures.metric_curves(path, points, plan_lib.CURVE_AXIS[name], title)
        return [], {"curve": points}
    if name == "figure10":
        lines, stats = figures.ssim_table(records)
        figures.ssim_bars(path, stats, title)
        return ["", "## R10@1 by SSIM bucket", ""] + lines, {"by_ssim": stats}
    if name == "figure8":
        examples = attention_figure.attention_examples(records[0]["run_dir"])
        attention_figure.draw(path, examples, title)
        lines = attention_figure.table_lines(examples)
        return ["", "## The drawn examples", ""] + lines, {
            "examples": [{k: v for k, v in ex.items() if k != "stickers"} for ex in examples]
        }
    return [], {}
