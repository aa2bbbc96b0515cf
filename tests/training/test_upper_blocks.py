"""The `upper` sticker-encoder mode (srs_tf.training.upper_blocks): cached
lower blocks + upper blocks equal the full encoder, the warm-up trains only
the upper blocks and the emoji head, and batch-norm calibration really sets
the moving statistics."""

import dataclasses
import os

import numpy as np
import pytest
from test_training import _config, _weights


def _encoder(pretrained_like: bool = False):
    from srs_tf.model.sticker_encoder import StickerEncoder

    return StickerEncoder(image_size=96, emoji_vocab_size=7, freeze_batch_norm=pretrained_like)


@pytest.mark.parametrize("upper_from", ["mixed4", "mixed7", "mixed8"])
def test_lower_then_upper_blocks_equal_the_full_encoder(upper_from):
    encoder = _encoder()
    images = np.random.default_rng(0).integers(0, 256, (3, 96, 96, 3)).astype("uint8")
    regions, flat, logits = encoder(images, training=False)
    lower, upper = encoder.lower_blocks(upper_from), encoder.upper_blocks(upper_from)
    r2, f2, l2 = upper(lower(images, training=False), training=False)
    np.testing.assert_allclose(r2, regions, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(f2, flat, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(l2, logits, rtol=1e-4, atol=1e-4)
    # The parts share the encoder's variables: the upper part holds exactly the
    # blocks from upper_from on plus the emoji head.
    upper_ids = {id(v) for v in upper.trainable_variables}
    all_ids = {id(v) for v in encoder.trainable_variables}
    lower_ids = {id(v) for v in lower.trainable_variables}
    assert upper_ids <= all_ids and lower_ids <= all_ids
    assert not upper_ids & lower_ids
    assert upper_ids | lower_ids == all_ids


def test_upper_from_must_name_a_block():
    with pytest.raises(ValueError, match="upper_from"):
        _encoder().upper_blocks("mixed9")


def test_lower_cache_refuses_when_the_disk_is_too_full(tmp_path, monkeypatch):
    # A memory-mapped write past the free space would die with SIGBUS.
    import collections
    import shutil

    import keras

    from srs_tf.training.upper_blocks import LowerCache

    inputs = keras.Input((4, 4, 3), dtype="uint8")
    lower = keras.Model(inputs, keras.ops.cast(inputs, "float32") * 2.0)
    images = np.ones((10, 4, 4, 3), np.uint8)
    cache = LowerCache(str(tmp_path))
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 100))
    with pytest.raises(OSError, match=r"needs 0.0 MiB in .*lower_cache.*only 0.0 MiB are free"):
        cache.build(lower, images, {"cut": "x"})
    assert os.listdir(cache.dir) == []  # nothing half-written
    monkeypatch.undo()
    out = cache.build(lower, images, {"cut": "x"})  # 10*4*4*3 float16 = 960 bytes
    assert out.shape == (10, 4, 4, 3) and float(out[0, 0, 0, 0]) == 2.0
    assert cache.load({"cut": "x"}) is not None and cache.load({"cut": "y"}) is None


def test_batch_norm_calibration_sets_the_average_of_batch_statistics():
    import keras

    from srs_tf.training.upper_blocks import batch_norm_layers, calibrate_batch_norm

    bn = keras.layers.BatchNormalization(momentum=0.99)
    model = keras.Sequential([keras.Input((3,)), bn])
    rng = np.random.default_rng(1)
    batches = [rng.normal(loc=i, scale=1 + i, size=(50, 3)).astype("float32") for i in range(4)]
    assert batch_norm_layers(model) == [bn]
    n = calibrate_batch_norm([bn], lambda b: model(b, training=True), batches)
    assert n == 4 and bn.momentum == 0.99  # momentum restored
    np.testing.assert_allclose(
        bn.moving_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        bn.moving_variance.numpy(), np.mean([b.var(0) for b in batches], 0), rtol=1e-4
    )


@pytest.mark.slow
def test_upper_warmup_trains_only_upper_blocks_then_the_matcher(
    demo_tfrec_small, tmp_path, monkeypatch
):
    from srs_tf.training.trainer import Trainer

    config = _config(
        demo_tfrec_small,
        tmp_path / "run",
        sticker_encoder="upper",
        upper_from="mixed8",
        emoji_warmup_steps=2,
        train_steps=2,
    )
    trainer = Trainer(config, verbose=False)
    lower, upper = trainer.upper_parts()
    bn = lower.layers[-1].layers[2]  # the first BN layer of the backbone
    lower0, upper0 = _weights(lower), [np.array(v) for v in upper.trainable_variables]
    match0 = _weights(trainer.matcher)
    trainer._run_upper_warmup(0, 2, seed=0)
    # Random init: the lower BN statistics were calibrated (no longer 0 / 1) ...
    assert "batch_normalization" in bn.name
    assert not np.allclose(np.array(bn.moving_mean), 0.0)
    # ... and nothing else of the lower blocks changed.
    lower1 = _weights(lower)
    changed = [i for i, (a, b) in enumerate(zip(lower0, lower1)) if not np.array_equal(a, b)]
    names = [v.path for v in lower.weights]
    assert changed and all("moving" in names[i] for i in changed)
    upper1 = [np.array(v) for v in upper.trainable_variables]
    assert all(not np.array_equal(a, b) for a, b in zip(upper0, upper1) if a.ndim > 1), (
        "every upper kernel trains"
    )
    assert any("emoji_classifier" in v.path for v in upper.trainable_variables)
    assert all(np.array_equal(a, b) for a, b in zip(match0, _weights(trainer.matcher)))
    cache_dir = os.path.join(str(tmp_path / "run"), "lower_cache")
    assert sorted(os.listdir(cache_dir)) == ["activations.npy", "meta.json"]
    cached = np.load(os.path.join(cache_dir, "activations.npy"), mmap_mode="r")
    assert cached.shape[0] == len(trainer.bank) and cached.dtype == np.float16

    # Stage 2: the bank through the trained upper blocks equals the full
    # encoder in inference mode (up to the float16 cache), then the matcher trains.
    features = trainer._encode_bank_upper(calibrate=True)
    out = trainer.encoder(trainer.bank.images[:6], training=False)
    np.testing.assert_allclose(
        np.array(features[1][:6], np.float32), out["sticker_flat"], rtol=2e-2, atol=2e-2
    )
    np.testing.assert_allclose(
        np.array(features[0][:6], np.float32), out["sticker_regions"], rtol=2e-2, atol=2e-2
    )
    encoder1 = _weights(trainer.encoder)
    summary = trainer.train()
    assert summary["step"] == 4
    assert all(np.array_equal(a, b) for a, b in zip(encoder1, _weights(trainer.encoder)))
    assert any(not np.array_equal(a, b) for a, b in zip(match0, _weights(trainer.matcher)))

    # Evaluation runs only the upper blocks on the run's cache and gives the
    # full encoder's scores up to the cache's float16 rounding; a cache made
    # from another bank (or cut) is not reused.
    from srs_tf.data import pipeline
    from srs_tf.evaluation import scoring
    from srs_tf.restore import restore_model
    from srs_tf.training import upper_blocks

    run = str(tmp_path / "run")
    full = scoring.score_split(demo_tfrec_small, run, "val")  # reuses the cache
    calls = []
    monkeypatch.setattr(scoring, "_cached_upper_features", lambda *a: calls.append(a))
    reference = scoring.score_split(demo_tfrec_small, run, "val")  # full Inception
    assert len(calls) == 1
    np.testing.assert_allclose(full["scores"], reference["scores"], atol=2e-3)
    assert np.mean(np.argmax(full["scores"], 1) == np.argmax(reference["scores"], 1)) > 0.95

    model, _, _ = restore_model(run)
    layer = model.get_layer("sticker_encoder").get_layer("inception_sticker_encoder")
    bank = pipeline.load_sticker_bank(demo_tfrec_small)
    assert upper_blocks.cached_bank_features(layer, "mixed8", bank, run) is not None
    reordered = dataclasses.replace(bank, sticker_id=bank.sticker_id[::-1].copy())
    assert upper_blocks.cached_bank_features(layer, "mixed8", reordered, run) is None
    assert upper_blocks.cached_bank_features(layer, "mixed7", bank, run) is None


@pytest.mark.slow
def test_upper_mode_resumes_with_the_cache(demo_tfrec_small, tmp_path):
    from srs_tf.training.trainer import Trainer

    config = _config(
        demo_tfrec_small,
        tmp_path / "run",
        sticker_encoder="upper",
        upper_from="mixed8",
        emoji_warmup_steps=2,
        train_steps=1,
        checkpoint_every=1,
    )
    Trainer(config, verbose=False)._run_upper_warmup(0, 1, seed=0)
    meta = os.path.join(str(tmp_path / "run"), "lower_cache", "meta.json")
    before = os.path.getmtime(meta)
    summary = Trainer(config, verbose=False).train()  # resumes at step 1, reuses the cache
    assert summary["step"] == 3
    assert os.path.getmtime(meta) == before


def test_upper_mode_without_warmup_still_calibrates_batch_norm(demo_tfrec_small, tmp_path):
    """no_classify / --emoji_warmup_steps=0: the bank is still encoded with
    calibrated statistics."""
    from srs_tf.training.trainer import Trainer

    config = _config(
        demo_tfrec_small,
        tmp_path / "run",
        sticker_encoder="upper",
        upper_from="mixed8",
        emoji_warmup_steps=0,
        train_steps=1,
    )
    trainer = Trainer(config, verbose=False)
    bn = [v for v in trainer.encoder.non_trainable_variables if "moving_mean" in v.path][0]
    assert np.allclose(np.array(bn), 0.0)
    assert trainer.train()["step"] == 1
    assert not np.allclose(np.array(bn), 0.0)
