"""Serving latency of an exported SRS model (``bin/benchmark --what=serve``).

Measures, on whatever device TensorFlow picks:

* ranking ONE context of ``context_len`` turns (15 by default; every turn
  ``max_words`` words long, the worst case) against 10 candidates:
  - cached: ``rank_encoded`` on stickers encoded beforehand by
    ``encode_stickers`` (the sticker-bank cache of a live service);
  - uncached: ``serving_default`` on the raw uint8 images (Inception runs on
    every call);
  reported as p50 / p99 milliseconds over ``iterations`` calls after warm-up;
* throughput with the cache: stickers ranked per second when one context is
  scored against a 50-sticker set in one ``rank_encoded`` call.

All calls go through ``loaded.signatures[...]``, as TF Serving runs them.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from srs_tf.model_config import NUM_CANDIDATES

SET_SIZE = 50


def _percentiles(times_s: list[float]) -> dict[str, float]:
    ms = np.asarray(times_s, dtype=np.float64) * 1000.0
    return {
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "mean": float(ms.mean()),
    }


def _time_calls(fn, iterations: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _stickers(sticker_dir: str | None, count: int, size: int, seed: int) -> np.ndarray:
    """``count`` uint8 stickers: the directory's (repeated if it has fewer),
    else random images."""
    if sticker_dir:
        from srs_tf.serving.recommend import load_sticker_dir

        images = load_sticker_dir(sticker_dir, size=size).images
        reps = -(-count // len(images))
        return np.concatenate([images] * reps)[:count]
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)


def run_serve_benchmark(
    export_dir: str, sticker_dir: str | None = None, iterations: int = 100, seed: int = 0
) -> dict:
    """Runs the measurements of the module docstring on ``export_dir``.

    Returns ``{"p50_ms_cached", "p99_ms_cached", "p50_ms_uncached",
    "p99_ms_uncached", "stickers_per_sec"}`` plus descriptive fields
    (``context_turns``, ``max_words``, ``candidates``, ``set_size``,
    ``iterations``, ``device``, ``threads``).
    """
    import tensorflow as tf

    from srs_tf.serving.export import load_export_info

    if iterations <= 0:
        raise ValueError(f"iterations must be positive, got {iterations}")
    info = load_export_info(export_dir)
    cfg = info["config"]
    turns, words, size = int(cfg["context_len"]), int(cfg["max_words"]), int(cfg["image_size"])
    vocab_size = int(cfg["vocab_size"])
    model = tf.saved_model.load(export_dir)
    rank_encoded = model.signatures["rank_encoded"]
    serving_default = model.signatures["serving_default"]
    encode = model.signatures["encode_stickers"]

    rng = np.random.default_rng(seed)
    low = min(2, vocab_size - 1)
    context = tf.constant(rng.integers(low, vocab_size, size=(1, turns, words), dtype=np.int32))
    images = _stickers(sticker_dir, SET_SIZE, size, seed)
    encoded = encode(images=tf.constant(images))
    regions, flat = encoded["sticker_regions"], encoded["sticker_flat"]
    cand_regions, cand_flat = regions[None, :NUM_CANDIDATES], flat[None, :NUM_CANDIDATES]
    set_regions, set_flat = regions[None], flat[None]
    raw = tf.constant(images[None, :NUM_CANDIDATES])

    cached = _percentiles(
        _time_calls(
            lambda: rank_encoded(
                context_ids=context, sticker_regions=cand_regions, sticker_flat=cand_flat
            )["scores"].numpy(),
            iterations,
        )
    )
    uncached = _percentiles(
        _time_calls(
            lambda: serving_default(context_ids=context, candidates=raw)["scores"].numpy(),
            max(10, iterations // 4),
        )
    )
    whole_set = _percentiles(
        _time_calls(
            lambda: rank_encoded(
                context_ids=context, sticker_regions=set_regions, sticker_flat=set_flat
            )["scores"].numpy(),
            max(10, iterations // 2),
        )
    )
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "p50_ms_cached": cached["p50"],
        "p99_ms_cached": cached["p99"],
        "p50_ms_uncached": uncached["p50"],
        "p99_ms_uncached": uncached["p99"],
        "stickers_per_sec": SET_SIZE / (whole_set["p50"] / 1000.0),
        "set_p50_ms_cached": whole_set["p50"],
        "context_turns": turns,
        "max_words": words,
        "candidates": NUM_CANDIDATES,
        "set_size": SET_SIZE,
        "iterations": iterations,
        "device": "GPU" if gpus else "CPU",
        "cpu_count": os.cpu_count(),
        "export_dir": os.path.abspath(export_dir),
    }


def print_serve_report(result: dict) -> None:
    """Prints a table of ``run_serve_benchmark``'s result, then ONE JSON line."""
    print(
        f"serving benchmark: {result.get('export_dir', '')} on {result.get('device', '?')} "
        f"({result.get('cpu_count', '?')} CPUs)"
    )
    print(f"one context of {result.get('context_turns')} turns x {result.get('max_words')} words")
    print(f"{'path':<44} {'p50 ms':>9} {'p99 ms':>9}")
    print(
        f"{'cached (rank_encoded), 10 candidates':<44} {result['p50_ms_cached']:9.2f} "
        f"{result['p99_ms_cached']:9.2f}"
    )
    print(
        f"{'uncached (serving_default), 10 candidates':<44} {result['p50_ms_uncached']:9.2f} "
        f"{result['p99_ms_uncached']:9.2f}"
    )
    print(
        f"cached, whole set of {result.get('set_size')} stickers: "
        f"{result.get('set_p50_ms_cached', float('nan')):.2f} ms p50 = "
        f"{result['stickers_per_sec']:.0f} stickers/s"
    )
    print(json.dumps(result, sort_keys=True))
