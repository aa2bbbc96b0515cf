"""Dropping the word columns that are padding in every utterance of a batch.

A speed-up with no effect on results: padded words are masked out of every
attention, max-pooling and sum of eq. 2-11, so slicing ``[B, T, L]`` word ids
to the longest utterance of the batch, and padding the word attention back
to ``L`` afterwards, gives the same scores (up to float summation order)
with less work: on the demo the longest utterance of a batch of 32 has about
20 words, against ``max_words`` 30.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="srs_tf")
class TrimWords(keras.layers.Layer):
    """``[B, T, L]`` word ids -> ``[B, T, L']``, L' = 1 + the last non-padding column.

    Words are left-aligned in each utterance (docs/CONTRACTS.md), so every
    column after the last one holding a real word of any utterance is padding.
    At least one column is kept.

    Example:
    >>> TrimWords()(np.array([[[5, 0, 0, 0], [3, 4, 0, 0]]], "int32")).shape
    (1, 2, 2)
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def call(self, context_ids):
        real = ops.any(ops.not_equal(context_ids, 0), axis=(0, 1))  # [L]
        positions = ops.arange(1, ops.shape(context_ids)[-1] + 1, dtype="int32")
        width = ops.maximum(ops.max(ops.where(real, positions, 0)), 1)
        return context_ids[:, :, :width]

    def compute_output_spec(self, context_ids):
        return keras.KerasTensor(tuple(context_ids.shape[:2]) + (None,), dtype=context_ids.dtype)


@keras.saving.register_keras_serializable(package="srs_tf")
class PadWords(keras.layers.Layer):
    """Pads the last axis of ``values [..., L']`` with zeros back to ``L`` of
    ``reference [..., L]``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def call(self, values, reference):
        missing = ops.shape(reference)[-1] - ops.shape(values)[-1]
        pad = [[0, 0]] * (len(values.shape) - 1) + [[0, missing]]
        return ops.pad(values, pad)

    def compute_output_spec(self, values, reference):
        return keras.KerasTensor(
            tuple(values.shape[:-1]) + (reference.shape[-1],), dtype=values.dtype
        )
