"""Small random-weight SRS models shared by the export and recommend tests."""

import keras
import numpy as np

from srs_tf.model import build_srs


def calibrated_model(config, seed=0):
    """A random-weight SRS whose Inception batch-norm statistics are set from
    a batch of random images, so different stickers get clearly different
    scores (with the initial statistics every sticker scores the same to 1e-5)."""
    keras.utils.set_random_seed(seed)
    model = build_srs(config)
    encoder = model.get_layer("sticker_encoder")
    norms = [x for x in encoder._flatten_layers() if isinstance(x, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0
    images = np.random.default_rng(seed).integers(0, 256, (8, 128, 128, 3), dtype=np.uint8)
    encoder(images, training=True)
    for layer in norms:
        layer.momentum = 0.99
    return model
