"""Training throughput: `bin/benchmark --what=train` (issue: finetune vs frozen).

Times joint-training steps (eq. 17 + L_s) of the finetune mode and of the
matcher on cached sticker features (the frozen and upper modes' stage 2), and
the upper mode's warm-up step, on the same TFREC, after untimed steps that
trace and warm the graph. The frozen mode's one-off cost, encoding the bank,
is measured separately as stickers/s on `encode_stickers` stickers; cached
steps gather from a cache of the bank's shape (step cost does not depend on
the cached values). The matcher's FLOPs are counted on its traced graph
(srs_tf.training.flops) and set against this machine's fp32 matmul rate,
measured in the same run.
"""

from __future__ import annotations

import dataclasses
import resource
import tempfile
import time

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
    architecture: str = "srs"


def _trainer(config: TrainBenchConfig, mode: str, model_dir: str):
    from srs_tf.model_config import SRSConfig
    from srs_tf.run_config import TrainConfig
    from srs_tf.training.trainer import Trainer

    train_config = TrainConfig(
        data_dir=config.tfrec_dir,
        model_dir=model_dir,
        batch_size=config.batch_size,
        emoji_warmup_steps=0,
        train_steps=config.steps + config.warmup,
        sticker_encoder=mode,
        mixed_precision=config.mixed_precision,
        seed=config.seed,
        # Random-init Inception (as before the default became imagenet): the
        # benchmark runs offline, without Keras' ImageNet file.
        model=SRSConfig(
            hidden_dim=config.hidden_dim,
            emb_dim=config.emb_dim,
            inception_weights="none",
            architecture=config.architecture,
        ),
    )
    return Trainer(train_config, verbose=False)


def _time_steps(trainer, config: TrainBenchConfig) -> float:
    import tensorflow as tf

    batches = trainer.train_batches(config.seed)
    step_fn = tf.function(trainer.joint_step)
    for _ in range(config.warmup):
        float(step_fn(next(batches))[0])
    start = time.perf_counter()
    for _ in range(config.steps):
        float(step_fn(next(batches))[0])
    return config.steps * config.batch_size / (time.perf_counter() - start)


def _matcher_flops_per_example(trainer, batch_size: int = 4) -> float:
    """Forward FLOPs of the matcher per example, counted on a traced graph
    with static shapes (every word column kept: an upper bound of what
    TrimWords leaves on real batches)."""
    import tensorflow as tf

    from srs_tf.model.srs import build_matcher
    from srs_tf.training import flops

    model = trainer.config.model
    matcher = build_matcher(model, trim_words=False)
    regions_count = int(trainer.encoder.output["sticker_regions"].shape[1])
    spec = {
        "context_ids": tf.TensorSpec([batch_size, model.context_len, model.max_words], tf.int32),
        "num_turns": tf.TensorSpec([batch_size], tf.int32),
        "sticker_regions": tf.TensorSpec(
            [batch_size, model.num_candidates, regions_count, 768], tf.float32
        ),
        "sticker_flat": tf.TensorSpec([batch_size, model.num_candidates, 2048], tf.float32),
    }
    graph = (
        tf.function(lambda b: matcher(b, training=False)["scores"])
        .get_concrete_function(spec)
        .graph
    )
    return flops.graph_flops(graph) / batch_size


def _time_upper_warmup(trainer, config: TrainBenchConfig) -> float:
    """Stickers/s of the `upper` mode's warm-up step (cached activations in,
    upper blocks + emoji head trained); the cost does not depend on the values."""
    import tensorflow as tf

    lower, _ = trainer.upper_parts()
    size = trainer.config.warmup_batch_size
    rng = np.random.default_rng(config.seed)
    activations = tf.constant(rng.random((size,) + tuple(lower.output.shape[1:]), dtype=np.float32))
    emoji = tf.constant(rng.integers(2, trainer.config.model.emoji_vocab_size, size), tf.int32)
    step_fn = tf.function(trainer.upper_warmup_step)
    for _ in range(config.warmup):
        float(step_fn(activations, emoji))
    start = time.perf_counter()
    for _ in range(config.steps):
        float(step_fn(activations, emoji))
    return config.steps * size / (time.perf_counter() - start)


def run_train_benchmark(config: TrainBenchConfig) -> dict:
    """Examples/s of the finetune mode and of the matcher on cached features,
    stickers/s of the `upper` warm-up and of the bank encoding, the matcher's
    counted FLOPs per example and this machine's fp32 matmul rate."""
    import tensorflow as tf

    from srs_tf.training import flops

    result = {
        "batch_size": config.batch_size,
        "timed_steps": config.steps,
        "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
    }
    result["matmul_gflops"] = flops.matmul_gflops()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = _trainer(config, "finetune", f"{tmp}/finetune")
        result["finetune_examples_per_sec"] = _time_steps(trainer, config)

        trainer = _trainer(config, "upper", f"{tmp}/upper")
        result["upper_from"] = trainer.config.upper_from
        result["warmup_batch_size"] = trainer.config.warmup_batch_size
        result["top_stickers_per_sec"] = _time_upper_warmup(trainer, config)

        trainer = _trainer(config, "frozen", f"{tmp}/frozen")
        n = min(config.encode_stickers, len(trainer.bank))
        encode = tf.function(lambda x: trainer.encoder(x, training=False))
        encode(tf.constant(trainer.bank.images[: min(64, n)]))
        start = time.perf_counter()
        for i in range(0, n, 64):
            encode(tf.constant(trainer.bank.images[i : min(i + 64, n)]))
        result["encode_stickers_per_sec"] = n / (time.perf_counter() - start)
        rng = np.random.default_rng(config.seed)
        regions_shape = (len(trainer.bank),) + tuple(
            trainer.encoder.output["sticker_regions"].shape[1:]
        )
        trainer.frozen_features = (
            tf.constant(rng.standard_normal(regions_shape, dtype=np.float32).astype(np.float16)),
            tf.constant(
                rng.standard_normal((len(trainer.bank), 2048), dtype=np.float32).astype(np.float16)
            ),
        )
        if not config.mixed_precision:
            trainer.frozen_features = tuple(tf.cast(f, tf.float32) for f in trainer.frozen_features)
        result["matcher_examples_per_sec"] = _time_steps(trainer, config)
        result["matcher_flops_per_example"] = _matcher_flops_per_example(trainer)
    # Training costs about 3x the forward pass (forward + two backward matmuls).
    result["matcher_share_of_matmul_peak"] = (
        3.0
        * result["matcher_flops_per_example"]
        * result["matcher_examples_per_sec"]
        / (result["matmul_gflops"] * 1e9)
    )
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return result


def format_train_report(result: dict) -> str:
    r = result
    rows = [
        (
            "finetune (Inception trained jointly):",
            f"{r['finetune_examples_per_sec']:8.1f} examples/s",
        ),
        ("matcher on cached features:", f"{r['matcher_examples_per_sec']:8.1f} examples/s"),
        (
            f"upper-block warm-up (from {r['upper_from']}):",
            f"{r['top_stickers_per_sec']:8.1f} stickers/s",
        ),
        ("bank encoding (frozen mode, once):", f"{r['encode_stickers_per_sec']:8.1f} stickers/s"),
        (
            "matcher forward FLOPs per example:",
            f"{r['matcher_flops_per_example'] / 1e6:8.1f} M (counted, all 30 word columns)",
        ),
        (
            "fp32 matmul rate of this machine:",
            f"{r['matmul_gflops']:8.1f} GFLOP/s; the matcher trains at "
            f"{100 * r['matcher_share_of_matmul_peak']:.0f}% of it (3x forward FLOPs)",
        ),
    ]
    head = (
        f"training throughput on {r['device']}, batch {r['batch_size']}, "
        f"{r['timed_steps']} timed steps per mode"
    )
    lines = [head] + [f"  {label:<38}{value}" for label, value in rows]
    return "\n".join(lines + [f"  peak RSS {r['peak_rss_mb']:,.0f} MiB"])
