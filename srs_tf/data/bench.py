"""Input-pipeline benchmark (``bin/benchmark --what=input``).

Iterates ``pipeline.make_dataset(..., training=True, repeat=True)`` and
reports examples per second (after a warm-up) and the process's peak
resident memory. The bank is memory-mapped, so the peak RSS includes the
bank pages the run touched (file-backed, shared with the page cache).
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import time

from srs_tf.model_config import CONTEXT_LEN, MAX_WORDS


@dataclasses.dataclass
class InputBenchConfig:
    """Options of the input benchmark.

    Attributes:
      tfrec_dir: a TFREC directory (``bin/make_tfrecords``).
      batches: timed batches (after ``warmup`` untimed ones).
      batch_size: examples per batch.
      split: split to read.
      training: fresh random negatives + shuffling (the training pipeline).
      with_images: gather candidate images (as for end-to-end training).
      warmup: untimed batches first (pipeline start-up, prefetch fill).
      seed: pipeline seed.
    """

    tfrec_dir: str
    batches: int = 200
    batch_size: int = 32
    split: str = "train"
    training: bool = True
    with_images: bool = True
    warmup: int = 10
    seed: int = 0


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux ``ru_maxrss`` is KiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


def current_rss_mb() -> dict[str, float]:
    """Current anonymous and file-backed resident memory in MiB (Linux
    ``/proc/self/status``; empty elsewhere). File-backed includes the pages
    of the memory-mapped sticker bank, which the kernel can drop at will."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile"):
                    out[f"{key[3:].lower()}_rss_mb"] = round(int(value.split()[0]) / 1024.0, 1)
    except OSError:
        pass
    return out


def run_input_benchmark(config: InputBenchConfig) -> dict:
    """Returns ``{"examples_per_sec", "peak_rss_mb", "batches", "batch_size",
    "seconds", "with_images"}`` plus, on Linux, ``anon_rss_mb`` and
    ``file_rss_mb`` at the end of the run."""
    from srs_tf.data import pipeline

    if config.batches <= 0 or config.batch_size <= 0 or config.warmup < 0:
        raise ValueError("batches and batch_size must be positive, warmup non-negative")
    ds = pipeline.make_dataset(
        config.tfrec_dir,
        config.split,
        batch_size=config.batch_size,
        training=config.training,
        seed=config.seed,
        with_images=config.with_images,
        repeat=True,
        drop_remainder=True,
    )
    it = iter(ds)
    for _ in range(config.warmup):
        next(it)
    examples = 0
    start = time.perf_counter()
    for _ in range(config.batches):
        batch = next(it)
        examples += int(batch["label"].shape[0])
    seconds = time.perf_counter() - start
    return {
        "examples_per_sec": round(examples / seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "batches": config.batches,
        "batch_size": config.batch_size,
        "seconds": round(seconds, 3),
        "with_images": config.with_images,
        **current_rss_mb(),
    }


def write_synthetic_tfrec(
    output_dir: str,
    num_sets: int = 100,
    stickers_per_set: int = 50,
    num_train: int = 10_000,
    context_len: int = CONTEXT_LEN,
    max_words: int = MAX_WORDS,
    vocab_size: int = 5000,
    emoji_vocab_size: int = 40,
    seed: int = 0,
) -> str:
    """Writes a TFREC with a random sticker bank and random train examples,
    straight in the ``make_tfrecords`` layout (no release directory needed):
    for measuring the input pipeline at bank sizes the fixtures do not reach.
    Images are random uint8 noise; contexts have 1..context_len turns."""
    import json
    import os

    import numpy as np
    import tensorflow as tf

    from srs_tf.data import tfrecords as tfr

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(output_dir, tfr.BANK_DIR), exist_ok=True)
    index = tfr._BankIndex()
    writer = tfr._NpyAppender(
        os.path.join(output_dir, tfr.BANK_DIR, tfr.BANK_IMAGES), (128, 128, 3)
    )
    try:
        for s in range(num_sets):
            index.set_ids.append(str(s))
            index.set_start.append(writer.n)
            index.set_size.append(stickers_per_set)
            for k in range(stickers_per_set):
                index.set_index.append(s)
                index.emoji_id.append(int(rng.integers(1, emoji_vocab_size)))
                index.emoji.append("")
                index.sticker_set_id.append(str(s))
                index.sticker_id.append(str(k))
            writer.append(rng.integers(0, 256, (stickers_per_set, 128, 128, 3), dtype=np.uint8))
    finally:
        writer.close()
    index.save(os.path.join(output_dir, tfr.BANK_DIR, tfr.BANK_INDEX))
    n = num_sets * stickers_per_set
    name = tfr.shard_names("train", 1)[0]
    with tf.io.TFRecordWriter(os.path.join(output_dir, name)) as w:
        for i in range(num_train):
            ctx = np.zeros((context_len, max_words), np.int64)
            turns = int(rng.integers(1, context_len + 1))
            for t in range(turns):
                words = int(rng.integers(1, max_words + 1))
                ctx[t, :words] = rng.integers(1, vocab_size, words)
            gt = int(rng.integers(n))
            feats = {
                "context_ids": tfr._int_feature(ctx),
                "num_turns": tfr._int_feature([turns]),
                "gt": tfr._int_feature([gt]),
                "set_index": tfr._int_feature([index.set_index[gt]]),
                "line": tfr._int_feature([i + 1]),
            }
            w.write(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())
    meta = {
        "format_version": tfr.FORMAT_VERSION,
        "context_len": context_len,
        "max_words": max_words,
        "vocab_size": vocab_size,
        "emoji_vocab_size": emoji_vocab_size,
        "num_candidates": 10,
        "image_size": 128,
        "seed": seed,
        "negatives": "random",
        "train_examples": num_train,
        "counts": {"train": num_train, "bank_stickers": n, "bank_sets": num_sets},
        "shards": {"train": [name]},
        "source": "synthetic",
    }
    with open(os.path.join(output_dir, tfr.META_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    return output_dir
