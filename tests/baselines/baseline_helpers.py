"""Checks every baseline matcher must pass (docs/BASELINES.md, "Tests").

Each ``tests/baselines/test_<name>.py`` builds its matcher at ``TINY``
sizes and calls these on it, next to its own numpy reference of the model's
characteristic computation. Imported by plain name (``from baseline_helpers
import ...``; tests/conftest.py puts tests/ on sys.path).
"""

import dataclasses

import keras
import numpy as np

from srs_tf.model.sticker_encoder import FLAT_DIM, REGION_DIM
from srs_tf.model_config import SRSConfig

# Small but not degenerate: 4 turns of 6 words, 9 regions (75 px), 4 candidates.
TINY = SRSConfig(
    vocab_size=40,
    emoji_vocab_size=7,
    emb_dim=8,
    hidden_dim=8,
    context_len=4,
    max_words=6,
    num_candidates=4,
    image_size=75,
    inception_weights="none",
)
TINY_REGIONS = 9  # num_regions(75)


def tiny_config(architecture: str, **changes) -> SRSConfig:
    return dataclasses.replace(TINY, architecture=architecture, **changes)


def feature_batch(config=TINY, batch=3, candidates=4, seed=0, regions=TINY_REGIONS):
    """Matcher inputs with padded words and at least one padded turn."""
    rng = np.random.default_rng(seed)
    turns, words = config.context_len, config.max_words
    num_turns = rng.integers(1, turns + 1, size=batch).astype(np.int32)
    num_turns[0] = max(1, turns - 2)
    ids = rng.integers(2, config.vocab_size, size=(batch, turns, words)).astype(np.int32)
    lengths = rng.integers(1, words + 1, size=(batch, turns))
    ids[np.arange(words)[None, None] >= lengths[..., None]] = 0
    ids[np.arange(turns)[None] >= num_turns[:, None]] = 0
    return {
        "context_ids": ids,
        "num_turns": num_turns,
        "sticker_regions": rng.normal(size=(batch, candidates, regions, REGION_DIM)).astype(
            np.float32
        ),
        "sticker_flat": rng.normal(size=(batch, candidates, FLAT_DIM)).astype(np.float32),
    }


def scores_of(matcher, batch):
    return np.asarray(matcher(batch)["scores"])


def check_contract(matcher, config=TINY, batch=None):
    """Output names, shapes, dtypes and ranges of the matcher interface."""
    batch = feature_batch(config) if batch is None else batch
    out = matcher(batch)
    assert set(out) == {"scores", "sticker_attention", "word_attention"}
    b, c = batch["sticker_flat"].shape[:2]
    t, words = config.context_len, config.max_words
    r = batch["sticker_regions"].shape[2]
    scores = np.asarray(out["scores"])
    assert scores.shape == (b, c) and scores.dtype == np.float32
    assert np.all((scores > 0) & (scores < 1)), "scores are sigmoid outputs"
    ts, tu = np.asarray(out["sticker_attention"]), np.asarray(out["word_attention"])
    assert ts.shape == (b, c, t, r) and tu.shape == (b, c, t, words)
    real_turn = np.arange(t)[None] < batch["num_turns"][:, None]  # [B, T]
    real_word = (batch["context_ids"] != 0) & real_turn[..., None]
    has_words = real_word.any(-1)
    np.testing.assert_allclose(
        tu.sum(-1), np.broadcast_to(has_words[:, None], (b, c, t)), atol=1e-5
    )
    np.testing.assert_allclose(
        ts.sum(-1), np.broadcast_to(has_words[:, None], (b, c, t)), atol=1e-5
    )
    assert np.all(tu[np.broadcast_to(~real_word[:, None], tu.shape)] == 0)
    # A different number of candidates works with the same model (C is dynamic).
    fewer = dict(
        batch,
        sticker_regions=batch["sticker_regions"][:, :2],
        sticker_flat=batch["sticker_flat"][:, :2],
    )
    assert scores_of(matcher, fewer).shape == (b, 2)


def check_padding_invariance(matcher, config=TINY, atol=1e-5):
    """Whatever a padded turn holds, and however padding is laid out, the scores stay."""
    batch = feature_batch(config, seed=1)
    expected = scores_of(matcher, batch)
    rng = np.random.default_rng(7)
    garbage = dict(batch)
    ids = batch["context_ids"].copy()
    padded_turns = np.arange(config.context_len)[None] >= batch["num_turns"][:, None]
    assert padded_turns.any(), "the batch must have padded turns"
    ids[padded_turns] = rng.integers(1, config.vocab_size, size=ids[padded_turns].shape)
    garbage["context_ids"] = ids
    np.testing.assert_allclose(scores_of(matcher, garbage), expected, atol=atol)
    # The real content changes the scores (the check above is not vacuous).
    changed = dict(batch)
    ids = batch["context_ids"].copy()
    ids[:, 0, 0] = (ids[:, 0, 0] % (config.vocab_size - 2)) + 2
    ids[:, 0, 0] = np.where(ids[:, 0, 0] == batch["context_ids"][:, 0, 0], 3, ids[:, 0, 0])
    changed["context_ids"] = ids
    assert np.abs(scores_of(matcher, changed) - expected).max() > 1e-7


def check_permutation_equivariance(matcher, config=TINY, atol=1e-5):
    """Permuting the candidates permutes their scores and nothing else."""
    batch = feature_batch(config, seed=2)
    expected = scores_of(matcher, batch)
    perm = np.array([2, 0, 3, 1])
    permuted = dict(
        batch,
        sticker_regions=batch["sticker_regions"][:, perm],
        sticker_flat=batch["sticker_flat"][:, perm],
    )
    np.testing.assert_allclose(scores_of(matcher, permuted), expected[:, perm], atol=atol)
    assert np.ptp(expected, axis=1).max() > 1e-6, "candidates must get different scores"


def check_keras_save_load(matcher, tmp_path, config=TINY):
    """The matcher survives Keras' .keras format (every layer registered, get_config complete)."""
    batch = feature_batch(config, seed=3)
    path = str(tmp_path / "matcher.keras")
    matcher.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(scores_of(restored, batch), scores_of(matcher, batch), atol=1e-6)


def check_checkpoint_round_trip(build, tmp_path, config=TINY):
    """Every weight is saved by ``tf.train.Checkpoint`` (what bin/train writes
    and every command restores) and restored into a fresh build.

    Keras tracks a layer's sublayers for ``model.weights`` also when they sit
    in a Python list, but TensorFlow's checkpoint graph does not see a list
    attribute: such weights would be neither saved nor restored, silently.
    """
    import tensorflow as tf

    batch = feature_batch(config, seed=4)
    keras.utils.set_random_seed(1)
    saved = build()
    saved(batch)
    path = tf.train.Checkpoint(matcher=saved).save(str(tmp_path / "ckpt" / "c"))
    stored = [name for name, _ in tf.train.list_variables(path) if name.startswith("matcher/")]
    assert len(stored) == len(saved.weights), (len(stored), len(saved.weights))
    keras.utils.set_random_seed(2)
    restored = build()
    restored(batch)
    tf.train.Checkpoint(matcher=restored).restore(path).assert_existing_objects_matched()
    for a, b in zip(saved.weights, restored.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    np.testing.assert_allclose(scores_of(restored, batch), scores_of(saved, batch), atol=1e-6)
