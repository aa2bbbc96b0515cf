#!/usr/bin/env python3
"""Why does the SRS matcher sit on a plateau? Training diagnostics over steps.

Trains the matcher (eq. 2-17, `--sticker_encoder=frozen` underneath) on
oracle sticker features (srs_tf.data.demo.oracle_features), so that only the
matcher's own learning is measured, and every `--every` steps records:

* validation R10@1 and MAP on `--eval_examples` stored validation lists;
* the mean score and the spread of scores across the candidates of one
  example (standard deviation over the 10 candidates, averaged);
* the gradient norm of L_r per layer, on one fixed training batch;
* the entropy of the word attention (tau_u, eq. 8) and the sticker attention
  (tau_s, eq. 9) on that batch, in nats (uniform over 36 regions: 3.58).

  python experiments/matcher_plateau.py --data_dir=DATA --tfrec_dir=TFREC --out=CURVE.json \
      [--train_steps=500 --every=100 --learning_rate=3e-4 --seed=1234]

Prints one JSON line per record and writes them all to --out (atomically).
docs/RESULTS.md ("The matcher's plateau") reports what it showed.
"""

import json
import os
import sys
import tempfile
import time

from absl import app, flags

flags.DEFINE_string("data_dir", None, "The demo build (bin/make_demo_data) behind --tfrec_dir.")
flags.DEFINE_string("tfrec_dir", None, "TFREC directory of that build.")
flags.DEFINE_string("out", None, "JSON file for the records.")
flags.DEFINE_integer("train_steps", 500, "Training steps.")
flags.DEFINE_integer("every", 100, "Record every N steps.")
flags.DEFINE_float("learning_rate", 3e-4, "Adam learning rate.")
flags.DEFINE_integer("eval_examples", 500, "Validation examples per record.")
flags.DEFINE_integer("seed", 1234, "Seed of training and of the oracle directions.")
flags.mark_flags_as_required(["data_dir", "tfrec_dir", "out"])
FLAGS = flags.FLAGS


def attention_entropy(weights, axis=-1) -> float:
    """Mean entropy (nats) of the attention rows that sum to 1 (padding rows skipped)."""
    import numpy as np

    w = np.asarray(weights, dtype=np.float64)
    entropy = -(w * np.log(np.maximum(w, 1e-12))).sum(axis)
    real = w.sum(axis) > 0.5
    return float(entropy[real].mean())


def gradient_norms(trainer, batch):
    """L2 norm of dL_r/dw per layer (variables grouped by their first two path parts)."""
    import tensorflow as tf

    from srs_tf.model.losses import hinge_loss

    regions, flat, _ = trainer.candidate_features(batch, False)
    with tf.GradientTape() as tape:
        out = trainer.matcher(
            {
                "context_ids": batch["context_ids"],
                "num_turns": batch["num_turns"],
                "sticker_regions": regions,
                "sticker_flat": flat,
            },
            training=False,
        )
        loss = hinge_loss(out["scores"], batch["label"], trainer.config.model.margin)
    variables = trainer.matcher.trainable_variables
    squares = {}
    for variable, grad in zip(variables, tape.gradient(loss, variables)):
        if grad is None:
            continue
        key = "/".join(variable.path.split("/")[1:3])
        squares[key] = squares.get(key, 0.0) + float(
            tf.reduce_sum(tf.square(tf.convert_to_tensor(grad)))
        )
    return {k: round(v**0.5, 5) for k, v in sorted(squares.items())}, out


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import tensorflow as tf

    from srs_tf import atomic
    from srs_tf.data import pipeline
    from srs_tf.data.demo.oracle_features import oracle_sticker_features
    from srs_tf.evaluation.metrics import compute_metrics
    from srs_tf.model.sticker_encoder import num_regions
    from srs_tf.model_config import SRSConfig
    from srs_tf.run_config import TrainConfig
    from srs_tf.training.trainer import Trainer

    with tempfile.TemporaryDirectory() as run_dir:
        try:
            config = TrainConfig(
                data_dir=os.path.abspath(FLAGS.tfrec_dir),
                model_dir=run_dir,
                learning_rate=FLAGS.learning_rate,
                train_steps=FLAGS.train_steps,
                emoji_warmup_steps=0,
                sticker_encoder="frozen",
                seed=FLAGS.seed,
                model=SRSConfig(inception_weights="none"),
            )
            bank = pipeline.load_sticker_bank(config.data_dir)
            features = oracle_sticker_features(
                FLAGS.data_dir,
                bank,
                num_regions=num_regions(config.model.image_size),
                seed=FLAGS.seed,
            )
            trainer = Trainer(config, sticker_features=features, verbose=False)
        except (ValueError, FileNotFoundError, KeyError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        trainer.frozen_features = trainer._given_features
        trainer.set_feature_statistics(*trainer.frozen_features)
        batches = trainer.train_batches(config.seed)
        probe_batch = next(trainer.train_batches(config.seed + 1))
        step_fn = tf.function(trainer.joint_step)
        records, train_seconds = [], 0.0
        for step in range(1, FLAGS.train_steps + 1):
            start = time.perf_counter()
            loss = float(step_fn(next(batches))[0])
            train_seconds += time.perf_counter() - start
            if step % FLAGS.every and step != FLAGS.train_steps:
                continue
            scored = trainer.score("val", FLAGS.eval_examples)
            metrics = compute_metrics(scored["scores"], scored["label"])
            grads, out = gradient_norms(trainer, probe_batch)
            record = {
                "step": step,
                "train_loss": loss,
                "val_R10@1": float(metrics["R10@1"]),
                "val_MAP": float(metrics["MAP"]),
                "score_mean": float(scored["scores"].mean()),
                "score_spread": float(scored["scores"].std(axis=1).mean()),
                "word_attention_entropy": attention_entropy(out["word_attention"]),
                "sticker_attention_entropy": attention_entropy(out["sticker_attention"]),
                "examples_per_sec": step * config.batch_size / train_seconds,
                "grad_norm": grads,
            }
            print(json.dumps(record), flush=True)
            records.append(record)
    atomic.write_json(
        FLAGS.out,
        {"learning_rate": FLAGS.learning_rate, "seed": FLAGS.seed, "records": records},
        indent=1,
    )
    print(
        f"wrote {FLAGS.out}; val R10@1 by step: "
        + ", ".join(f"{r['step']}: {r['val_R10@1']:.3f}" for r in records)
    )
    print("(chance: R10@1 0.100, MAP 0.293)")
    return 0


if __name__ == "__main__":
    app.run(main)
