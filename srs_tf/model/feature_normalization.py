"""Per-channel standardisation of encoded stickers (not in the paper)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="srs_tf")
class StickerFeatureNormalization(keras.layers.Layer):
    """``y = (x - mean) * inv_std`` per channel, with non-trainable statistics.

    Identity by default (mean 0, inv_std 1), so the model is exactly the
    paper's. With the frozen sticker encoder (`bin/train
    --sticker_encoder=frozen`) the trainer sets the statistics once from the
    encoded bank (`set_statistics`): Inception outputs are non-negative and
    share a large common component across a sticker set, and without
    centring the matcher collapses to candidate-independent scores on CPU
    budgets (docs/FIDELITY.md). The statistics are weights, so they are
    checkpointed and exported with the model.

    Input: ``[..., D]`` features; output: the same shape.

    Example:
    >>> norm = StickerFeatureNormalization()
    >>> norm.build((None, 2048))
    >>> norm.set_statistics(mean, std)   # numpy [2048] each
    """

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.mean = self.add_weight(
            name="mean", shape=(channels,), initializer="zeros", trainable=False
        )
        self.inv_std = self.add_weight(
            name="inv_std", shape=(channels,), initializer="ones", trainable=False
        )
        self.built = True

    def call(self, inputs):
        mean = ops.cast(self.mean, inputs.dtype)
        inv_std = ops.cast(self.inv_std, inputs.dtype)
        return (inputs - mean) * inv_std

    def set_statistics(self, mean, std, epsilon: float = 1e-3):
        """Sets the statistics from per-channel ``mean`` and ``std`` arrays."""
        import numpy as np

        mean = np.asarray(mean, dtype="float32").reshape(-1)
        std = np.asarray(std, dtype="float32").reshape(-1)
        self.mean.assign(mean)
        self.inv_std.assign(1.0 / (std + epsilon))

    def compute_output_shape(self, input_shape):
        return input_shape
