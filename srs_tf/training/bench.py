"""Training throughput: `bin/benchmark --what=train` (issue: finetune vs frozen).

Times joint-training steps (eq. 17 + L_s) of both sticker-encoder modes on
the same TFREC, after untimed steps that trace and warm the graph. The frozen
mode's one-off cost, encoding the bank, is measured separately as stickers/s
on `encode_stickers` stickers; its timed steps gather from a cache of the
bank's shape (step cost does not depend on the cached values).
"""

from __future__ import annotations

import dataclasses
import resource
import tempfile
import time
from typing import Dict

import numpy as np


@dataclasses.dataclass
class TrainBenchConfig:
    tfrec_dir: str
    steps: int = 10
    warmup: int = 2
    batch_size: int = 32
    encode_stickers: int = 256
    hidden_dim: int = 100
    emb_dim: int = 100
    mixed_precision: bool = False
    seed: int = 0


def _trainer(config: TrainBenchConfig, mode: str, model_dir: str):
    from srs_tf.config import SRSConfig
    from srs_tf.training.config import TrainConfig
    from srs_tf.training.trainer import Trainer

    train_config = TrainConfig(
        data_dir=config.tfrec_dir, model_dir=model_dir, batch_size=config.batch_size,
        emoji_warmup_steps=0, train_steps=config.steps + config.warmup, sticker_encoder=mode,
        mixed_precision=config.mixed_precision, seed=config.seed,
        model=SRSConfig(hidden_dim=config.hidden_dim, emb_dim=config.emb_dim))
    return Trainer(train_config, verbose=False)


def _time_steps(trainer, config: TrainBenchConfig) -> float:
    import tensorflow as tf

    batches = trainer._train_batches(config.seed)
    step_fn = tf.function(trainer._joint_step)
    for _ in range(config.warmup):
        float(step_fn(next(batches))[0])
    start = time.perf_counter()
    for _ in range(config.steps):
        float(step_fn(next(batches))[0])
    return config.steps * config.batch_size / (time.perf_counter() - start)


def run_train_benchmark(config: TrainBenchConfig) -> Dict:
    """Returns examples/s of both modes plus the bank-encoding rate."""
    import tensorflow as tf

    result = {"batch_size": config.batch_size, "timed_steps": config.steps,
              "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU"}
    with tempfile.TemporaryDirectory() as tmp:
        trainer = _trainer(config, "finetune", f"{tmp}/finetune")
        result["finetune_examples_per_sec"] = _time_steps(trainer, config)

        trainer = _trainer(config, "frozen", f"{tmp}/frozen")
        n = min(config.encode_stickers, len(trainer.bank))
        encode = tf.function(lambda x: trainer.encoder(x, training=False))
        encode(tf.constant(trainer.bank.images[:min(64, n)]))
        start = time.perf_counter()
        for i in range(0, n, 64):
            encode(tf.constant(trainer.bank.images[i:min(i + 64, n)]))
        result["encode_stickers_per_sec"] = n / (time.perf_counter() - start)
        rng = np.random.default_rng(config.seed)
        regions_shape = (len(trainer.bank),) + tuple(trainer.encoder.output["sticker_regions"].shape[1:])
        trainer.frozen_features = (
            tf.constant(rng.standard_normal(regions_shape, dtype=np.float32).astype(np.float16)),
            tf.constant(rng.standard_normal((len(trainer.bank), 2048), dtype=np.float32).astype(np.float16)))
        if not config.mixed_precision:
            trainer.frozen_features = tuple(tf.cast(f, tf.float32) for f in trainer.frozen_features)
        result["frozen_examples_per_sec"] = _time_steps(trainer, config)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return result


def format_train_report(result: Dict) -> str:
    return "\n".join([
        f"training throughput on {result['device']}, batch {result['batch_size']}, "
        f"{result['timed_steps']} timed steps per mode",
        f"  finetune (Inception trained jointly): {result['finetune_examples_per_sec']:8.1f} examples/s",
        f"  frozen (cached sticker bank):         {result['frozen_examples_per_sec']:8.1f} examples/s",
        f"  bank encoding (frozen mode, once):    {result['encode_stickers_per_sec']:8.1f} stickers/s",
        f"  peak RSS {result['peak_rss_mb']:,.0f} MiB",
    ])
