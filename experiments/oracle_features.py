#!/usr/bin/env python3
"""How well does the SRS matcher (eq. 2-17) learn when the stickers are fully understood?

Trains SRS on a demo build with *oracle* sticker representations in place of
the Inception-v3 outputs: every depicted emoji has a fixed random direction
shared by all its stickers (srs_tf.data.demo.oracle_features). Everything
else is `bin/train --sticker_encoder=frozen`: the same matcher, losses,
negatives, validation, checkpoints. It separates the two halves of the CPU
demo's gap to the cue oracle (docs/RESULTS.md): the sticker features and the
matcher's own learning.

  python experiments/oracle_features.py --data_dir=DATA --tfrec_dir=TFREC --model_dir=RUN \
      [--train_steps=2000 --learning_rate=3e-4 --seed=1234]

DATA is the demo build (bin/make_demo_data) the TFREC was made from. Writes
the usual run directory plus RUN/oracle_test.json (test metrics of the best
checkpoint) and prints them beside chance and the demo's cue oracle. Rerun
to resume.
"""

import json
import os
import sys

from absl import app, flags

flags.DEFINE_string("data_dir", None, "The demo build (bin/make_demo_data) behind --tfrec_dir.")
flags.DEFINE_string("tfrec_dir", None, "TFREC directory (bin/make_tfrecords) of that build.")
flags.DEFINE_string("model_dir", None, "Run directory.")
flags.DEFINE_integer("train_steps", 2000, "Joint-training steps.")
flags.DEFINE_float("learning_rate", 3e-4, "Adam learning rate.")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_integer("eval_every", 500, "Validate every N steps.")
flags.DEFINE_integer("eval_examples", 1000, "Validation examples per validation (0: all).")
flags.DEFINE_integer("log_every", 100, "Progress every N steps.")
flags.DEFINE_float("feature_noise", 0.5, "Std of the per-sticker noise on the oracle O_flat.")
flags.DEFINE_integer("seed", 1234, "Seed of training and of the oracle directions.")
flags.mark_flags_as_required(["data_dir", "tfrec_dir", "model_dir"])
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import numpy as np

    from srs_tf import atomic
    from srs_tf.data import pipeline
    from srs_tf.data.demo.oracle_features import oracle_sticker_features
    from srs_tf.evaluation import paper_table
    from srs_tf.evaluation.metrics import compute_metrics
    from srs_tf.model.sticker_encoder import num_regions
    from srs_tf.model_config import SRSConfig
    from srs_tf.run_config import TrainConfig
    from srs_tf.training.trainer import Trainer

    try:
        config = TrainConfig(
            data_dir=os.path.abspath(FLAGS.tfrec_dir),
            model_dir=os.path.abspath(FLAGS.model_dir),
            batch_size=FLAGS.batch_size,
            learning_rate=FLAGS.learning_rate,
            train_steps=FLAGS.train_steps,
            emoji_warmup_steps=0,
            sticker_encoder="frozen",
            eval_every=FLAGS.eval_every,
            eval_examples=FLAGS.eval_examples,
            log_every=FLAGS.log_every,
            seed=FLAGS.seed,
            # The oracle features replace the encoder's output: no ImageNet file needed.
            model=SRSConfig(inception_weights="none"),
        )
        bank = pipeline.load_sticker_bank(config.data_dir)
        features = oracle_sticker_features(
            FLAGS.data_dir,
            bank,
            num_regions=num_regions(config.model.image_size),
            seed=FLAGS.seed,
            noise=FLAGS.feature_noise,
        )
        trainer = Trainer(config, sticker_features=features)
        summary = trainer.train()
    except (ValueError, FileNotFoundError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    step = trainer.restore_best()
    result = trainer.score("test")
    test = compute_metrics(result["scores"], result["label"])
    out = {
        "step": step,
        "test": test,
        "val_best": summary["best_val_MAP"],
        "train_steps": FLAGS.train_steps,
        "learning_rate": FLAGS.learning_rate,
    }
    atomic.write_json(os.path.join(config.model_dir, "oracle_test.json"), out, indent=2)

    calibration = {}
    stats_path = os.path.join(FLAGS.data_dir, "stats.json")
    if os.path.exists(stats_path):
        with open(stats_path) as f:
            calibration = json.load(f).get("calibration", {})
    rows = [
        ("SRS matcher on oracle sticker features", test),
        ("random ranking (expected)", paper_table.CHANCE),
    ]
    print(f"\ntest split, best checkpoint (step {step}), {len(result['label'])} examples")
    print(paper_table.format_table(rows))
    if "cue_oracle_r10_at_1" in calibration:
        print(f"cue oracle (docs/DEMO_DATA.md): R10@1 {calibration['cue_oracle_r10_at_1']:.3f}")
    print(json.dumps({k: float(np.round(v, 4)) for k, v in test.items()}))
    return 0


if __name__ == "__main__":
    app.run(main)
