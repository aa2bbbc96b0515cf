"""StickerEncoder (eq. 1 + emoji classifier): region count, shapes, batch-norm
mode, lazy weight loading and its config."""

import sys
import types

import keras
import numpy as np
import pytest
from layer_refs import assert_round_trip, np_dense

from srs_tf.model import StickerEncoder, num_regions, region_grid_size


# ----------------------------------------------------------------- eq. 1
def test_region_count_derives_from_image_size():
    assert region_grid_size(128) == 6 and num_regions(128) == 36
    for size in (75, 128, 299):
        backbone = keras.applications.InceptionV3(
            include_top=False, weights=None, input_shape=(size, size, 3)
        )
        assert backbone.get_layer("mixed7").output.shape[1] == region_grid_size(size)
    with pytest.raises(ValueError):
        region_grid_size(64)


@pytest.fixture(scope="module")
def small_images():
    rng = np.random.default_rng(12)
    return rng.integers(0, 256, size=(3, 75, 75, 3)).astype(np.uint8)


def test_sticker_encoder_shapes_and_bn_mode(small_images):
    random_init = StickerEncoder(image_size=75, emoji_vocab_size=7)
    assert not random_init.freeze_batch_norm
    regions, flat, logits = random_init(small_images, training=False)
    assert regions.shape == (3, 9, 768) and flat.shape == (3, 2048) and logits.shape == (3, 7)
    assert logits.dtype == "float32"
    # O_flat is the global average of the last block; logits = Dense(O_flat).
    features = random_init.features(small_images.astype(np.float32) / 127.5 - 1.0, training=False)
    np.testing.assert_allclose(flat.numpy(), features[1].numpy().mean(axis=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(regions.numpy(), features[0].numpy().reshape(3, 9, 768), atol=1e-5)
    np.testing.assert_allclose(
        logits.numpy(), np_dense(flat.numpy(), random_init.emoji_classifier), atol=1e-4, rtol=1e-4
    )
    # Random init: BN uses batch statistics in training.
    assert not np.allclose(
        random_init(small_images, training=True)[1].numpy(), flat.numpy(), atol=1e-4
    )
    # Pretrained start: BN always in inference mode.
    frozen = StickerEncoder(image_size=75, emoji_vocab_size=7, freeze_batch_norm=True)
    a = frozen(small_images, training=True)
    b = frozen(small_images, training=False)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-6)


def test_sticker_encoder_loads_weight_file_lazily(monkeypatch):
    calls = []

    def fake_loader(backbone, source):
        calls.append((backbone, source))
        return 42

    fake = types.ModuleType("srs_tf.model.inception_weights")
    fake.load_inception_weights = fake_loader
    monkeypatch.setitem(sys.modules, "srs_tf.model.inception_weights", fake)
    encoder = StickerEncoder(image_size=75, emoji_vocab_size=5, inception_weights="/x/ckpt.h5")
    assert encoder.loaded_tensors == 42 and encoder.freeze_batch_norm
    ((backbone, source),) = calls
    assert source == "/x/ckpt.h5" and backbone is encoder.backbone
    assert backbone.get_layer("mixed7") is not None
    config = encoder.get_config()
    assert config["inception_weights"] == "none" and config["freeze_batch_norm"]
    rebuilt = StickerEncoder.from_config(config)  # never re-reads the file
    assert len(calls) == 1 and rebuilt.freeze_batch_norm


# ----------------------------------------------------------------- config
def test_sticker_encoder_get_config_round_trips(small_images):
    clone = assert_round_trip(StickerEncoder(75, 6), small_images[:1])
    assert clone.image_size == 75 and clone.emoji_vocab_size == 6
    assert clone.num_regions == 9 and not clone.freeze_batch_norm
