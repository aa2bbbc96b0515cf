"""``run_experiment``: plan, data, runs and outputs of one experiment."""

from __future__ import annotations

import json
import os

from srs_tf.experiments import plan as plan_lib
from srs_tf.experiments import report, runner

TITLES = {
    "table3": "Table 3 (RQ1): SRS and the baselines",
    "table4": "Table 4 (RQ2): SRS and its ablations",
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
    specs = plan_lib.plan(name, scale, seeds, systems, extra_flags)
    results_dir = os.path.abspath(results_dir)
    tfrec = runner.prepare_data(scale, results_dir, data_dir)
    out_dir = os.path.join(results_dir, name)
    os.makedirs(out_dir, exist_ok=True)
    records = runner.run_all(specs, tfrec, out_dir, verbose=verbose)
    command_lists = [
        runner.commands(s, tfrec, os.path.join(out_dir, runner.RUNS_DIR, s.name)) for s in specs
    ]
    report.write_outputs(
        out_dir,
        TITLES[name],
        records,
        command_lists,
        runner.SCORES_FILE,
        notes=_notes(scale, tfrec, results_dir, data_dir),
    )
    return out_dir
