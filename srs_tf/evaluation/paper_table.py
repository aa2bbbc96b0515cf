"""Prints our metrics beside the paper's Table 3/4 rows.

  python -m srs_tf.evaluation.paper_table RUN/eval_test.json [more.json ...] \
      [--stats=DATA/stats.json]

With ``--stats`` (a demo build's statistics) it also prints the demo's
reference points: the cue oracle and the text-blind group prior (R10@1).
"""

from __future__ import annotations

import json
import sys

# Table 3 (the baselines and SRS) and Table 4 (ablations) of the paper, on StickerChat.
PAPER = {
    "Synergistic": {"MAP": 0.593, "R10@1": 0.438, "R10@2": 0.569, "R10@5": 0.798},
    "PSAC": {"MAP": 0.662, "R10@1": 0.533, "R10@2": 0.641, "R10@5": 0.836},
    "SMN": {"MAP": 0.524, "R10@1": 0.357, "R10@2": 0.488, "R10@5": 0.737},
    "DAM": {"MAP": 0.620, "R10@1": 0.474, "R10@2": 0.601, "R10@5": 0.813},
    "MRFN": {"MAP": 0.684, "R10@1": 0.557, "R10@2": 0.672, "R10@5": 0.853},
    "SRS": {"MAP": 0.709, "R10@1": 0.590, "R10@2": 0.703, "R10@5": 0.872},
    "SRS w/o pretrain": {"MAP": 0.650, "R10@1": 0.510, "R10@2": 0.641, "R10@5": 0.833},
    "SRS w/o Classify": {"MAP": 0.707, "R10@1": 0.588, "R10@2": 0.700, "R10@5": 0.871},
    "SRS w/o DIN": {"MAP": 0.680, "R10@1": 0.552, "R10@2": 0.669, "R10@5": 0.854},
    "SRS w/o FR": {"MAP": 0.677, "R10@1": 0.551, "R10@2": 0.663, "R10@5": 0.863},
}
# Expected values of a random ranking of 10 candidates with one positive.
CHANCE = {"MAP": sum(1.0 / r for r in range(1, 11)) / 10, "R10@1": 0.1, "R10@2": 0.2, "R10@5": 0.5}
COLUMNS = ("MAP", "R10@1", "R10@2", "R10@5")


def format_table(rows) -> str:
    lines = [f"{'system':<40}" + "".join(f"{c:>8}" for c in COLUMNS)]
    for name, metrics in rows:
        lines.append(f"{name:<40}" + "".join(f"{metrics[c]:8.3f}" for c in COLUMNS))
    return "\n".join(lines)


def demo_references(stats_path: str) -> str:
    """The demo's R10@1 reference points from its stats.json (one line)."""
    with open(stats_path) as f:
        calibration = json.load(f).get("calibration", {})
    parts = [
        f"{label} R10@1 {calibration[key]:.3f}"
        for key, label in (
            ("cue_oracle_r10_at_1", "cue oracle (docs/DEMO_DATA.md)"),
            ("text_blind_group_prior_r10_at_1", "text-blind group prior"),
            ("chance_r10_at_1", "chance"),
        )
        if key in calibration
    ]
    return "demo references on this test split: " + "; ".join(parts)


def main(args) -> int:
    stats = [a.split("=", 1)[1] for a in args if a.startswith("--stats=")]
    paths = [a for a in args if not a.startswith("--stats=")]
    rows = [
        ("paper, StickerChat: SRS (Table 3)", PAPER["SRS"]),
        ("random ranking (expected)", CHANCE),
    ]
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        rows.append((f"srs_tf, demo: {report.get('name', path)}", report))
    print(format_table(rows))
    for path in stats:
        print(demo_references(path))
    print("(the demo benchmark is not StickerChat: compare the gap over chance, not the numbers)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
