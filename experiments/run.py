#!/usr/bin/env python3
"""One command per result of the paper (docs/EXPERIMENTS.md).

    python experiments/run.py NAME --scale=smoke|demo|paper --results_dir=DIR
        [--data_dir=TFREC] [--seeds=1,2,3] [--systems=srs,dam]
        [--train_flag=--train_steps=300 ...]

NAME: table3 (RQ1: SRS and the five baselines), table4 (RQ2: SRS and its
four ablations), figure7 (RQ3: reading the last N utterances), figure8
(RQ4: sticker and word attention), figure10 (RQ5: R10@1 by candidate
SSIM) or figure11 (RQ6: hidden sizes). Writes DIR/NAME/table.md (mean ± sd
over seeds, the paper's numbers or findings beside them, paired t-tests
against SRS or the paper's setting), figure.png for the figures, runs.json
(per run metrics and times) and commands.txt (every command it ran).
Rerunning skips finished runs and resumes a killed one.
"""

import os
import sys

from absl import app, flags

try:
    import srs_tf  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from srs_tf.experiments import plan as plan_lib  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_enum(
    "scale", None, list(plan_lib.SCALES), "smoke (seconds), demo (CPU), paper (GPUs)."
)
flags.DEFINE_string("results_dir", None, "Where DIR/NAME/ is written.")
flags.DEFINE_string(
    "data_dir",
    None,
    "TFREC directory to use (required for --scale=paper; default for smoke/demo: a demo "
    "build generated once under DIR/_data/<scale>).",
)
flags.DEFINE_list("seeds", None, "Training seeds (default: 1 for smoke, 1,2,3 otherwise).")
flags.DEFINE_list("systems", None, "Only these rows (e.g. srs,dam or 'SRS w/o DIN').")
flags.DEFINE_multi_string(
    "train_flag", [], "A bin/train flag added to every run, e.g. --train_flag=--train_steps=300."
)
flags.DEFINE_bool("progress", True, "Print a progress line per finished run.")
flags.mark_flags_as_required(["scale", "results_dir"])


def main(argv):
    if len(argv) != 2:
        raise app.UsageError(
            f"give one experiment NAME ({', '.join(plan_lib.EXPERIMENTS)}), got {argv[1:]}"
        )
    from srs_tf.experiments.experiment import run_experiment
    from srs_tf.experiments.runner import ExperimentError

    try:
        seeds = tuple(int(s) for s in FLAGS.seeds) if FLAGS.seeds else None
    except ValueError as e:
        raise app.UsageError(f"--seeds must be integers: {FLAGS.seeds}") from e
    try:
        out = run_experiment(
            argv[1],
            FLAGS.scale,
            FLAGS.results_dir,
            data_dir=FLAGS.data_dir,
            seeds=seeds,
            systems=tuple(FLAGS.systems) if FLAGS.systems else None,
            extra_flags=tuple(FLAGS.train_flag),
            verbose=FLAGS.progress,
        )
    except ValueError as e:
        raise app.UsageError(str(e)) from e
    except ExperimentError as e:
        print(f"experiments/run.py: error: {e}", file=sys.stderr)
        return 2
    with open(os.path.join(out, "table.md"), encoding="utf-8") as f:
        print(f.read())
    print(f"written: {out}/table.md, runs.json, commands.txt")
    return 0


if __name__ == "__main__":
    app.run(main)
