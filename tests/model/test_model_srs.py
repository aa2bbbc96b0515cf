"""The assembled SRS models: contract shapes, invariances, ablations, learning."""

import dataclasses
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_refs import assert_round_trip

from srs_tf.model import (
    MergeCandidates,
    SplitCandidates,
    build_matcher,
    build_srs,
    emoji_loss,
    hinge_loss,
    uses_emoji_loss,
)
from srs_tf.model_config import ABLATIONS, SRSConfig

TINY = SRSConfig(
    vocab_size=30,
    emoji_vocab_size=7,
    emb_dim=8,
    hidden_dim=8,
    context_len=3,
    max_words=4,
    num_candidates=3,
    image_size=75,
    inception_weights="none",
)
R = 9  # regions at 75 px


def make_batch(config, batch=2, candidates=3, seed=0):
    rng = np.random.default_rng(seed)
    T, L, S = config.context_len, config.max_words, config.image_size
    num_turns = rng.integers(1, T + 1, size=batch).astype(np.int32)
    num_turns[0] = max(1, T - 1)  # at least one example with a padded turn
    ids = rng.integers(1, config.vocab_size, size=(batch, T, L)).astype(np.int32)
    lengths = rng.integers(1, L + 1, size=(batch, T))
    ids[np.arange(L)[None, None] >= lengths[..., None]] = 0
    ids[np.arange(T)[None] >= num_turns[:, None]] = 0
    return {
        "context_ids": ids,
        "num_turns": num_turns,
        "candidates": rng.integers(0, 256, size=(batch, candidates, S, S, 3)).astype(np.uint8),
        "candidate_emoji": rng.integers(
            0, config.emoji_vocab_size, size=(batch, candidates)
        ).astype(np.int32),
        "label": rng.integers(0, candidates, size=batch).astype(np.int32),
    }


MODEL_KEYS = ("context_ids", "num_turns", "candidates")


@pytest.fixture(scope="module")
def srs_model():
    keras.utils.set_random_seed(0)
    return build_srs(TINY)


@pytest.fixture(scope="module")
def batch():
    return make_batch(TINY)


def run(model, batch, **kwargs):
    out = model({k: batch[k] for k in MODEL_KEYS}, training=False, **kwargs)
    return {k: v.numpy() for k, v in out.items()}


def test_contract_shapes(srs_model, batch):
    out = run(srs_model, batch)
    B, C, T, L = 2, 3, TINY.context_len, TINY.max_words
    assert out["scores"].shape == (B, C) and out["scores"].dtype == np.float32
    assert ((out["scores"] > 0) & (out["scores"] < 1)).all()
    assert out["emoji_logits"].shape == (B, C, TINY.emoji_vocab_size)
    assert out["sticker_attention"].shape == (B, C, T, R)
    assert out["word_attention"].shape == (B, C, T, L)
    encoder = srs_model.get_layer("sticker_encoder")
    enc = encoder(batch["candidates"][0], training=False)
    assert set(enc) == {"sticker_regions", "sticker_flat", "emoji_logits"}
    assert enc["sticker_regions"].shape == (3, R, 768) and enc["sticker_flat"].shape == (3, 2048)
    # At the paper's 128 px the matcher takes the 36 regions of a 6x6 mixed7 map.
    matcher = build_matcher(dataclasses.replace(TINY, image_size=128))
    assert tuple(matcher.input["sticker_regions"].shape) == (None, None, 36, 768)
    assert set(matcher.output) == {"scores", "sticker_attention", "word_attention"}


def test_srs_equals_encoder_then_matcher(srs_model, batch):
    out = run(srs_model, batch)
    encoder, matcher = srs_model.get_layer("sticker_encoder"), srs_model.get_layer("matcher")
    B, C = batch["candidates"].shape[:2]
    enc = encoder(
        batch["candidates"].reshape((B * C,) + batch["candidates"].shape[2:]), training=False
    )
    matched = matcher(
        {
            "context_ids": tf.constant(batch["context_ids"]),
            "num_turns": tf.constant(batch["num_turns"]),
            "sticker_regions": tf.reshape(enc["sticker_regions"], (B, C, R, 768)),
            "sticker_flat": tf.reshape(enc["sticker_flat"], (B, C, 2048)),
        },
        training=False,
    )
    np.testing.assert_allclose(matched["scores"].numpy(), out["scores"], atol=1e-6)
    np.testing.assert_allclose(
        tf.reshape(enc["emoji_logits"], (B, C, -1)).numpy(), out["emoji_logits"], atol=1e-5
    )


def test_padding_and_permutation_invariance(srs_model, batch):
    out = run(srs_model, batch)
    # Padded turns (rows >= num_turns) may hold anything: scores do not move.
    noisy = dict(batch)
    ids = batch["context_ids"].copy()
    rng = np.random.default_rng(1)
    padded = np.arange(TINY.context_len)[None] >= batch["num_turns"][:, None]
    assert padded.any()
    ids[padded] = rng.integers(1, TINY.vocab_size, size=ids[padded].shape)
    noisy["context_ids"] = ids
    noisy_out = run(srs_model, noisy)
    np.testing.assert_allclose(noisy_out["scores"], out["scores"], atol=1e-6)
    assert not noisy_out["word_attention"][padded[:, None].repeat(3, 1)].any()
    # The [PAD] embedding has no effect.
    embedding = srs_model.get_layer("matcher").get_layer("utterance_encoder").embedding.embeddings
    saved = embedding.numpy()
    embedding.assign(np.concatenate([np.full_like(saved[:1], 7.0), saved[1:]]))
    try:
        np.testing.assert_allclose(run(srs_model, batch)["scores"], out["scores"], atol=1e-6)
    finally:
        embedding.assign(saved)
    # Permuting the candidates permutes the scores and attentions.
    perm = np.array([2, 0, 1])
    permuted = dict(batch, candidates=batch["candidates"][:, perm])
    permuted_out = run(srs_model, permuted)
    for key in ("scores", "emoji_logits", "sticker_attention", "word_attention"):
        np.testing.assert_allclose(permuted_out[key], out[key][:, perm], atol=1e-5)


def test_extra_padding_words_and_turns_do_not_change_scores():
    rng = np.random.default_rng(2)
    small = dataclasses.replace(TINY, context_len=3, max_words=4)
    large = dataclasses.replace(TINY, context_len=5, max_words=6)
    keras.utils.set_random_seed(3)
    matcher_small, matcher_large = build_matcher(small), build_matcher(large)
    matcher_large.set_weights(matcher_small.get_weights())  # weights do not depend on T, L
    batch = make_batch(small, seed=4)
    inputs = {
        "context_ids": batch["context_ids"],
        "num_turns": batch["num_turns"],
        "sticker_regions": rng.normal(size=(2, 3, R, 768)).astype(np.float32),
        "sticker_flat": rng.normal(size=(2, 3, 2048)).astype(np.float32),
    }
    out = matcher_small(inputs, training=False)
    padded_ids = np.zeros((2, 5, 6), np.int32)
    padded_ids[:, :3, :4] = batch["context_ids"]
    out_large = matcher_large(dict(inputs, context_ids=padded_ids), training=False)
    np.testing.assert_allclose(out_large["scores"].numpy(), out["scores"].numpy(), atol=1e-6)
    np.testing.assert_allclose(
        out_large["word_attention"].numpy()[:, :, :3, :4], out["word_attention"].numpy(), atol=1e-6
    )
    np.testing.assert_allclose(
        out_large["sticker_attention"].numpy()[:, :, :3],
        out["sticker_attention"].numpy(),
        atol=1e-6,
    )


@pytest.fixture
def fake_weight_loader(monkeypatch):
    calls = []
    module = types.ModuleType("srs_tf.model.inception_weights")
    module.load_inception_weights = lambda backbone, source: calls.append(source) or 1
    monkeypatch.setitem(sys.modules, "srs_tf.model.inception_weights", module)
    return calls


def _inception(model):
    return model.get_layer("sticker_encoder").get_layer("inception_sticker_encoder")


@pytest.mark.parametrize("ablation", ABLATIONS)
def test_each_ablation_builds_and_trains_one_step(ablation, fake_weight_loader):
    config = dataclasses.replace(TINY, ablation=ablation, inception_weights="/w/inception.h5")
    keras.utils.set_random_seed(5)
    model = build_srs(config)
    # Pretrained start (weights loaded, BN frozen) for all but no_pretrain.
    pretrained = ablation != "no_pretrain"
    assert fake_weight_loader == (["/w/inception.h5"] if pretrained else [])
    assert _inception(model).freeze_batch_norm == pretrained
    matcher = model.get_layer("matcher")
    names = {w.path for w in matcher.weights}
    assert any("relation_kernel" in n for n in names) == (ablation != "no_din")
    assert any("region_projection" in n for n in names) == (ablation != "no_din")
    assert any("fusion_rnn" in n for n in names) == (ablation != "no_fr")
    assert any("submulti" in n for n in names) == (ablation != "no_fr")
    assert uses_emoji_loss(config) == (ablation != "no_classify")

    batch = make_batch(config, seed=6)
    inputs = {k: batch[k] for k in MODEL_KEYS}
    before = [v.numpy().copy() for v in model.trainable_variables]
    optimizer = keras.optimizers.Adam(1e-3)
    with tf.GradientTape() as tape:
        out = model(inputs, training=True)
        loss = hinge_loss(out["scores"], batch["label"], config.margin)
        if uses_emoji_loss(config):
            loss += emoji_loss(out["emoji_logits"], batch["candidate_emoji"])
    grads = tape.gradient(loss, model.trainable_variables)
    assert np.isfinite(loss.numpy())
    # no_classify: the emoji head gets no gradient (it is not part of the loss).
    pairs = [(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None]
    assert all(np.isfinite(tf.convert_to_tensor(g).numpy()).all() for g, _ in pairs)
    optimizer.apply_gradients(pairs)
    changed = {
        v.path
        for v, old in zip(model.trainable_variables, before)
        if not np.array_equal(v.numpy(), old)
    }
    assert any("embedding" in p for p in changed) and any("prediction_rnn" in p for p in changed)
    assert any("conv2d" in p for p in changed)  # the sticker encoder is trained too
    head_changed = any("emoji_classifier" in p for p in changed)
    assert head_changed == uses_emoji_loss(config)
    assert out["emoji_logits"].shape == (2, 3, config.emoji_vocab_size)


def test_ablations_change_scores_where_they_should(fake_weight_loader):
    """Same seed, same inputs: only the ablations that change the network change scores."""
    batch = make_batch(TINY, seed=7)
    rng = np.random.default_rng(8)
    inputs = {
        "context_ids": batch["context_ids"],
        "num_turns": batch["num_turns"],
        "sticker_regions": rng.normal(size=(2, 3, R, 768)).astype(np.float32),
        "sticker_flat": rng.normal(size=(2, 3, 2048)).astype(np.float32),
    }
    scores = {}
    for ablation in ABLATIONS:
        keras.utils.set_random_seed(9)
        matcher = build_matcher(dataclasses.replace(TINY, ablation=ablation))
        scores[ablation] = matcher(inputs, training=False)["scores"].numpy()
    for same in ("no_pretrain", "no_classify"):  # encoder / loss ablations: same matcher
        np.testing.assert_allclose(scores[same], scores["none"], atol=1e-7)
    for different in ("no_din", "no_fr"):
        assert not np.allclose(scores[different], scores["none"], atol=1e-5)


def test_srs_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_srs(TINY)
        out = run(model, make_batch(TINY, batch=1, candidates=2, seed=10))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out["scores"].dtype == np.float32 and np.isfinite(out["scores"]).all()
    assert out["emoji_logits"].dtype == np.float32
    assert out["sticker_attention"].dtype == np.float32


def test_matcher_learns_a_synthetic_task():
    """Cue word of class k in some real turn <-> sticker features of class k."""
    rng = np.random.default_rng(11)
    classes, n, C = 4, 64, 4
    config = dataclasses.replace(TINY, vocab_size=40, context_len=3, max_words=5, dropout=0.0)
    proto_regions = rng.normal(size=(classes, R, 768)).astype(np.float32)
    proto_flat = rng.normal(size=(classes, 2048)).astype(np.float32)
    target = rng.integers(0, classes, size=n)
    order = np.stack([rng.permutation(classes) for _ in range(n)])  # candidate classes
    label = np.argmax(order == target[:, None], axis=1).astype(np.int32)
    regions = proto_regions[order] + 0.5 * rng.normal(size=(n, C, R, 768)).astype(np.float32)
    flat = proto_flat[order] + 0.5 * rng.normal(size=(n, C, 2048)).astype(np.float32)
    num_turns = rng.integers(1, 4, size=n).astype(np.int32)
    ids = rng.integers(10, 40, size=(n, 3, 5)).astype(np.int32)  # distractor words
    ids[np.arange(3)[None] >= num_turns[:, None]] = 0
    cue_turn = rng.integers(0, num_turns)
    ids[np.arange(n), cue_turn, rng.integers(0, 5, size=n)] = 2 + target  # cue word
    inputs = {
        "context_ids": ids,
        "num_turns": num_turns,
        "sticker_regions": regions.astype(np.float32),
        "sticker_flat": flat.astype(np.float32),
    }

    keras.utils.set_random_seed(12)
    matcher = build_matcher(config)
    optimizer = keras.optimizers.Adam(3e-3)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = hinge_loss(matcher(inputs, training=True)["scores"], label, config.margin)
        grads = tape.gradient(loss, matcher.trainable_variables)
        optimizer.apply(grads, matcher.trainable_variables)
        return loss

    losses = [float(step()) for _ in range(200)]
    scores = matcher(inputs, training=False)["scores"].numpy()
    accuracy = float(np.mean(scores.argmax(1) == label))
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:5]), losses[::20]
    assert accuracy > 0.8, accuracy


def test_keras_file_and_checkpoint_round_trip(srs_model, batch, tmp_path):
    out = run(srs_model, batch)
    path = str(tmp_path / "srs.keras")
    srs_model.save(path)
    loaded = keras.models.load_model(path)  # rebuilds without reading any Inception file
    np.testing.assert_allclose(run(loaded, batch)["scores"], out["scores"], atol=1e-6)
    prefix = tf.train.Checkpoint(model=srs_model).save(str(tmp_path / "ckpt"))
    restored = build_srs(TINY)  # a second build in one process: layer names differ
    tf.train.Checkpoint(model=restored).restore(prefix).assert_consumed()
    np.testing.assert_allclose(run(restored, batch)["scores"], out["scores"], atol=1e-6)


# ----------------------------------------------------------------- candidate axis
def np_merge_candidates(x):
    """[B, C, ...] -> [B*C, ...]: row b*C + c is candidate c of example b."""
    B, C = x.shape[:2]
    return np.stack([x[b, c] for b in range(B) for c in range(C)])


def np_split_candidates(x, B, C):
    """[B*C, ...] -> [B, C, ...], the inverse of np_merge_candidates."""
    return np.stack([np.stack([x[b * C + c] for c in range(C)]) for b in range(B)])


@pytest.mark.parametrize("dtype", ["uint8", "float16", "float32"])
def test_merge_and_split_candidates_match_numpy(dtype):
    rng = np.random.default_rng(20)
    B, C = 2, 3
    images = rng.integers(0, 256, size=(B, C, 4, 4, 3)).astype(dtype)
    merged = MergeCandidates()(images)
    assert merged.dtype == dtype  # no autocast: uint8 images and float16 pass through
    np.testing.assert_array_equal(np.asarray(merged), np_merge_candidates(images))
    features = rng.normal(size=(B * C, 5, 2)).astype(dtype)
    split = SplitCandidates()(features, images)  # B and C read from the reference
    assert split.dtype == dtype and split.shape == (B, C, 5, 2)
    np.testing.assert_array_equal(np.asarray(split), np_split_candidates(features, B, C))
    back = SplitCandidates()(merged, images)
    np.testing.assert_array_equal(np.asarray(back), images)


def test_merge_and_split_candidates_with_a_dynamic_candidate_axis():
    """In a functional model the candidate axis stays None: one model serves any C."""
    images = keras.Input((None, 4, 4, 3), dtype="uint8")
    merged = MergeCandidates()(images)
    assert tuple(merged.shape) == (None, 4, 4, 3)
    pooled = keras.layers.GlobalAveragePooling2D()(keras.ops.cast(merged, "float32"))
    split = SplitCandidates()(pooled, images)
    assert tuple(split.shape) == (None, None, 3)
    model = keras.Model(images, split)
    rng = np.random.default_rng(21)
    for B, C in [(2, 3), (1, 5)]:
        x = rng.integers(0, 256, size=(B, C, 4, 4, 3)).astype(np.uint8)
        np.testing.assert_allclose(
            model(x).numpy(), x.astype(np.float32).mean(axis=(2, 3)), rtol=1e-6
        )


def test_merge_and_split_candidates_get_config_round_trips():
    rng = np.random.default_rng(22)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    clone = assert_round_trip(MergeCandidates(name="merge"), x)
    assert clone.name == "merge"
    flat = rng.normal(size=(6, 5)).astype(np.float32)
    clone = assert_round_trip(SplitCandidates(name="split"), flat, x)
    assert clone.name == "split"
