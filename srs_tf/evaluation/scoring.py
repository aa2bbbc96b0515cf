"""Scoring stored candidate lists with a model (validation, `bin/evaluate`).

The functions take the two parts of SRS (``build_srs``'s ``sticker_encoder``
and ``matcher`` sub-models) and, optionally, the encoded sticker bank, so the
training loop, the evaluation of a restored run and the experiments score
in exactly the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

_SCORE_KEYS = ("context_ids", "num_turns", "candidate_ids")


def encode_candidates(encoder, images, training: bool = False):
    """Runs the sticker encoder on uint8 candidates ``[B, C, S, S, 3]``.

    Returns ``(regions [B, C, R, 768], flat [B, C, 2048], emoji_logits
    [B, C, E])``.
    """
    from srs_tf.model import MergeCandidates, SplitCandidates

    out = encoder(MergeCandidates()(images), training=training)
    split = SplitCandidates()
    return tuple(
        split(out[key], images) for key in ("sticker_regions", "sticker_flat", "emoji_logits")
    )


def candidate_features(encoder, batch, features=None, training: bool = False):
    """``(regions, flat, emoji_logits or None)`` for a batch: gathered from the
    encoded bank ``features = (regions [N, R, 768], flat [N, 2048])`` by
    ``candidate_ids`` when given, else by encoding ``batch["candidates"]``."""
    import tensorflow as tf

    if features is not None:
        regions, flat = features
        ids = batch["candidate_ids"]
        return tf.gather(regions, ids), tf.gather(flat, ids), None
    return encode_candidates(encoder, batch["candidates"], training)


def forward(encoder, matcher, batch, features=None, training: bool = False):
    """The matcher's outputs for a batch, and the candidates' emoji logits
    (None with ``features``)."""
    regions, flat, emoji = candidate_features(encoder, batch, features, training)
    out = matcher(
        {
            "context_ids": batch["context_ids"],
            "num_turns": batch["num_turns"],
            "sticker_regions": regions,
            "sticker_flat": flat,
        },
        training=training,
    )
    return out, emoji


def encode_bank(
    encoder, images, batch_size: int = 64, on_batch: Callable[[int], None] | None = None
):
    """Encodes every bank sticker once in inference mode.

    Args:
      encoder: the ``sticker_encoder`` sub-model.
      images: uint8 ``[N, S, S, 3]`` (a memory map is fine).
      batch_size: stickers per call.
      on_batch: called with the number of stickers done after each batch
        (progress display).

    Returns:
      ``(regions [N, R, 768], flat [N, 2048])`` tensors in the global
      policy's compute dtype (rounded through float16, as the cache is).
    """
    import keras
    import tensorflow as tf

    encode = tf.function(lambda x: encoder(x, training=False))
    regions, flats = [], []
    for start in range(0, len(images), batch_size):
        out = encode(tf.constant(images[start : start + batch_size]))
        regions.append(out["sticker_regions"].numpy().astype(np.float16))
        flats.append(out["sticker_flat"].numpy().astype(np.float16))
        if on_batch is not None:
            on_batch(min(start + batch_size, len(images)))
    dtype = keras.mixed_precision.global_policy().compute_dtype
    return (
        tf.constant(np.concatenate(regions), dtype=dtype),
        tf.constant(np.concatenate(flats), dtype=dtype),
    )


def score_dataset(encoder, matcher, dataset, features=None, bank=None) -> dict:
    """Scores every batch of a finite evaluation dataset.

    Args:
      encoder, matcher: the two parts of SRS.
      dataset: batches of ``srs_tf.data.pipeline.make_dataset`` (with
        ``candidates`` unless ``features`` is given).
      features: the encoded bank, or None to encode each batch's candidates.
      bank: the sticker bank, used only to fetch the first batch's images
        when ``features`` is given (for heat-map summaries).

    Returns:
      numpy arrays ``scores [N, C]``, ``label [N]``, ``num_turns [N]``,
      ``candidate_ids [N, C]``, and ``first_batch`` (candidates' images,
      label, num_turns and sticker attention of the first batch).
    """
    import tensorflow as tf

    cached = features is not None
    keys = _SCORE_KEYS + (() if cached else ("candidates",))
    infer = tf.function(
        lambda b: forward(encoder, matcher, b, features, training=False)[0],
        reduce_retracing=True,
    )
    scores, labels, turns, ids, first = [], [], [], [], None
    for batch in dataset:
        out = infer({k: batch[k] for k in keys})
        scores.append(out["scores"].numpy().astype(np.float32))
        labels.append(batch["label"].numpy())
        turns.append(batch["num_turns"].numpy())
        ids.append(batch["candidate_ids"].numpy())
        if first is None:
            if cached:
                images = bank.gather(ids[-1]) if bank is not None else None
            else:
                images = batch["candidates"].numpy()
            first = {
                "candidates": images,
                "label": labels[-1],
                "num_turns": turns[-1],
                "sticker_attention": out["sticker_attention"].numpy().astype(np.float32),
            }
    return {
        "scores": np.concatenate(scores),
        "label": np.concatenate(labels),
        "num_turns": np.concatenate(turns),
        "candidate_ids": np.concatenate(ids),
        "first_batch": first,
    }


def split_dataset(
    config, split: str, bank, meta, batch_size: int, with_images: bool, max_examples: int = 0
):
    """The stored candidate lists of ``split`` as evaluation batches."""
    from srs_tf.data import pipeline

    ds = pipeline.make_dataset(
        config.data_dir,
        split,
        batch_size=batch_size,
        training=False,
        seed=config.seed,
        with_images=with_images,
        repeat=False,
        drop_remainder=False,
        bank=bank,
        meta=meta,
        context_turns=config.model.context_len,
    )
    if max_examples:
        ds = ds.take(int(math.ceil(max_examples / batch_size)))
    return ds


def score_split(data_dir: str, model_dir: str, split: str = "test", batch_size: int = 32) -> dict:
    """Scores every example of ``split`` with a run's best checkpoint.

    Returns numpy arrays ``scores [N, C]``, ``labels [N]`` (position of the
    ground truth), ``num_turns [N]``, ``candidate_ids [N, C]`` (rows of the
    sticker bank, for the SSIM analysis), ``bank_images`` (the bank's uint8
    ``[K, S, S, 3]`` array) and ``step``, the checkpoint's step.
    """
    from srs_tf.data import pipeline
    from srs_tf.restore import restore_model

    model, config, step = restore_model(model_dir, data_dir)
    meta = pipeline.load_meta(config.data_dir)
    bank = pipeline.load_sticker_bank(config.data_dir)
    encoder, matcher = model.get_layer("sticker_encoder"), model.get_layer("matcher")
    num_images = int(meta.get(f"{split}_examples", 0)) * config.model.num_candidates
    # Encoding each bank sticker once is cheaper than encoding every candidate
    # of every example when the split has more candidates than the bank has
    # stickers; inference-mode scores are the same.
    features = None
    if len(bank) < num_images:
        features = _cached_upper_features(encoder, config, bank)
        if features is None:
            features = encode_bank(encoder, bank.images)
    ds = split_dataset(config, split, bank, meta, batch_size, with_images=features is None)
    result = score_dataset(encoder, matcher, ds, features, bank)
    return {
        "scores": result["scores"],
        "labels": result["label"],
        "num_turns": result["num_turns"],
        "candidate_ids": result["candidate_ids"],
        "bank_images": bank.images,
        "step": step,
    }


def _cached_upper_features(encoder, config, bank):
    """An ``upper`` run whose lower-block cache matches this bank: the bank's
    features through the upper blocks only (as training encoded it for
    validation; the full forward differs only by the cache's float16
    rounding), else None. Saves most of the bank encoding (the lower blocks
    are the bulk of Inception-v3's cost)."""
    if config.sticker_encoder != "upper":
        return None
    from srs_tf.training import upper_blocks

    return upper_blocks.cached_bank_features(
        encoder.get_layer("inception_sticker_encoder"),
        config.upper_from,
        bank,
        config.model_dir,
    )
