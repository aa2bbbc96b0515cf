"""What every matcher (SRS's and each baseline's) reads and returns.

A *matcher* is the part of a model after the sticker encoder: it scores
encoded candidate stickers against a context. SRS (`srs_tf.model.srs`) and
the Table 3 baselines (`srs_tf.baselines`) share this interface, so the
trainer, the cached-bank training modes, evaluation and export work on any
of them unchanged (docs/CONTRACTS.md, docs/BASELINES.md).

Inputs (``matcher_inputs``)::

    context_ids     int32 [B, T, L]      word ids, 0 = padding
    num_turns       int32 [B]            real turns (left aligned)
    sticker_regions float [B, C, R, 768] eq. 1's O (R = 36 at 128 px)
    sticker_flat    float [B, C, 2048]   eq. 1's O_flat

Outputs (``matcher_outputs``)::

    scores            float32 [B, C]        in (0, 1), ranked by eq. 17's hinge
    sticker_attention float32 [B, C, T, R]  a distribution over regions per real turn
    word_attention    float32 [B, C, T, L]  a distribution over real words per real turn

The two attention outputs are part of the SavedModel contract. A model
without such weights returns ``UniformAttention``'s (uniform over the real
words / regions of each real turn, 0 on padding).
"""

from __future__ import annotations

import keras
from keras import ops

from srs_tf.model.feature_normalization import StickerFeatureNormalization
from srs_tf.model.sticker_encoder import FLAT_DIM, REGION_DIM, num_regions


def matcher_inputs(config) -> dict:
    """The ``keras.Input`` dict of a matcher for ``config`` (an SRSConfig)."""
    turns, words = int(config.context_len), int(config.max_words)
    regions_count = num_regions(config.image_size)
    return {
        "context_ids": keras.Input((turns, words), dtype="int32", name="context_ids"),
        "num_turns": keras.Input((), dtype="int32", name="num_turns"),
        "sticker_regions": keras.Input((None, regions_count, REGION_DIM), name="sticker_regions"),
        "sticker_flat": keras.Input((None, FLAT_DIM), name="sticker_flat"),
    }


def normalized_stickers(inputs: dict):
    """``(regions, flat)`` through the two ``StickerFeatureNormalization`` layers.

    The layer names ``region_normalization`` / ``flat_normalization`` are the
    contract with the trainer, which sets their statistics from the encoded
    bank when the sticker encoder is frozen or cached. A model that never
    reads one of the two (Keras then drops that layer from the functional
    model) simply has no statistics for it.
    """
    regions = StickerFeatureNormalization(name="region_normalization")(inputs["sticker_regions"])
    flat = StickerFeatureNormalization(name="flat_normalization")(inputs["sticker_flat"])
    return regions, flat


@keras.saving.register_keras_serializable(package="srs_tf")
class UniformAttention(keras.layers.Layer):
    """Placeholder attention outputs for a matcher that has no τ (eq. 8-9).

    Call args:
      context_ids: int ``[B, T, L]`` (0 = padding word).
      turn_mask: bool ``[B, T]``, True for real turns.
      sticker_regions: float ``[B, C, R, D]`` (only its shape is read).

    Returns:
      ``(sticker_attention [B, C, T, R], word_attention [B, C, T, L])``, both
      float32: uniform over the regions / real words of every real turn, 0 on
      padded turns and padding words.

    Example:
    >>> ids = np.array([[[4, 5, 0], [0, 0, 0]]], "int32")          # B=1, T=2, L=3
    >>> ts, tu = UniformAttention()(ids, np.array([[True, False]]), np.zeros((1, 2, 4, 8)))
    >>> tu[0, 0, 0]   # [0.5, 0.5, 0.]
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def call(self, context_ids, turn_mask, sticker_regions):
        words = ops.logical_and(
            ops.not_equal(ops.cast(context_ids, "int32"), 0),
            ops.expand_dims(ops.cast(turn_mask, "bool"), -1),
        )
        words = ops.cast(words, "float32")  # [B, T, L]
        words = words / ops.maximum(ops.sum(words, axis=-1, keepdims=True), 1.0)
        has_words = ops.cast(ops.sum(words, axis=-1) > 0, "float32")  # [B, T]
        shape = ops.shape(sticker_regions)
        batch, candidates, regions = shape[0], shape[1], shape[2]
        turns = ops.shape(words)[1]
        regions_f = ops.cast(regions, "float32")
        sticker = ops.broadcast_to(
            ops.reshape(has_words / regions_f, (batch, 1, turns, 1)),
            (batch, candidates, turns, regions),
        )
        word = ops.broadcast_to(
            ops.expand_dims(words, 1), (batch, candidates, turns, ops.shape(words)[2])
        )
        return sticker, word

    def compute_output_shape(self, context_ids_shape, turn_mask_shape, sticker_regions_shape):
        b, c, r = sticker_regions_shape[0], sticker_regions_shape[1], sticker_regions_shape[2]
        t, l_ = context_ids_shape[1], context_ids_shape[2]
        return (b, c, t, r), (b, c, t, l_)


def matcher_outputs(scores, sticker_attention, word_attention) -> dict:
    """The matcher's output dict (names are the export contract)."""
    return {
        "scores": scores,
        "sticker_attention": sticker_attention,
        "word_attention": word_attention,
    }
