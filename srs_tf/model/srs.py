"""The SRS model assembled with the Keras functional API (CONTRACTS.md).

Three builders:

* ``build_sticker_encoder(config)``: uint8 images ``[N, S, S, 3]`` ->
  ``{"sticker_regions" [N, R, 768], "sticker_flat" [N, 2048],
  "emoji_logits" [N, E]}`` (eq. 1 and the emoji classifier), R = 36 at 128 px.
* ``build_matcher(config)``: ``{context_ids [B, T, L], num_turns [B],
  sticker_regions [B, C, R, 768], sticker_flat [B, C, 2048]}`` ->
  ``{"scores" [B, C], "sticker_attention" [B, C, T, R], "word_attention"
  [B, C, T, L]}`` (eq. 2-16).
* ``build_srs(config)``: ``{context_ids, num_turns, candidates uint8 [B, C,
  S, S, 3]}`` -> the matcher's outputs plus ``"emoji_logits" [B, C, E]``;
  it nests the two models above as layers named ``"sticker_encoder"`` and
  ``"matcher"`` (``model.get_layer("sticker_encoder")`` gives the variables
  of the emoji warm-up, docs/DESIGN.md#learning).

The candidate axis C is dynamic (``None``): the same model ranks 10
candidates in training and any number of stickers when serving. T and L are
fixed by ``config.context_len`` / ``config.max_words``.

Ablations (``config.ablation``, Table 2):

* ``none``: full SRS.
* ``no_pretrain``: Inception-v3 from random weights, batch statistics in BN
  (``config.pretrained`` is False whatever ``inception_weights`` says).
* ``no_classify``: same network as ``none``; the emoji head is still built
  and ``emoji_logits`` still output so every variant has one interface, but
  the trainer must not add ``L_s`` nor run the warm-up
  (``uses_emoji_loss(config)`` is False).
* ``no_din``: ``Q2 = FC([projected O_flat ; masked mean of h])``.
* ``no_fr``: no fusion RNN; the prediction GRU reads the fusion Transformer
  output directly.
"""

from __future__ import annotations

import keras
from keras import ops

from srs_tf.model.deep_interaction import DeepInteraction
from srs_tf.model.fusion import FusionNetwork, TurnMask
from srs_tf.model.matcher_io import matcher_inputs, matcher_outputs, normalized_stickers
from srs_tf.model.sticker_encoder import StickerEncoder
from srs_tf.model.utterance_encoder import UtteranceEncoder
from srs_tf.model.word_trim import PadWords, TrimWords
from srs_tf.model_config import SRSConfig


@keras.saving.register_keras_serializable(package="srs_tf")
class MergeCandidates(keras.layers.Layer):
    """``[B, C, ...]`` -> ``[B*C, ...]`` (candidates become a batch of images)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)  # pass dtypes through (mixed precision)
        super().__init__(**kwargs)

    def call(self, inputs):
        return ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))

    def compute_output_shape(self, inputs_shape):
        return (None,) + tuple(inputs_shape[2:])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((None,) + tuple(inputs.shape[2:]), dtype=inputs.dtype)


@keras.saving.register_keras_serializable(package="srs_tf")
class SplitCandidates(keras.layers.Layer):
    """``[B*C, ...]`` -> ``[B, C, ...]``, with B and C read from ``reference``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)  # pass dtypes through (mixed precision)
        super().__init__(**kwargs)

    def call(self, inputs, reference):
        shape = ops.shape(reference)
        return ops.reshape(inputs, (shape[0], shape[1]) + tuple(inputs.shape[1:]))

    def compute_output_shape(self, inputs_shape, reference_shape):
        return (reference_shape[0], reference_shape[1]) + tuple(inputs_shape[1:])

    def compute_output_spec(self, inputs, reference):
        return keras.KerasTensor(
            (reference.shape[0], reference.shape[1]) + tuple(inputs.shape[1:]), dtype=inputs.dtype
        )


def build_sticker_encoder(config: SRSConfig, load_inception_weights: bool = True) -> keras.Model:
    """Eq. 1 + emoji classifier: uint8 ``[N, S, S, 3]`` -> dict (see module doc).

    ``config.inception_weights`` is used when ``config.pretrained`` (not for
    ``no_pretrain``); BN runs in inference mode exactly when pretrained.
    ``load_inception_weights=False`` builds the same network without reading
    the weight file (for a model about to be restored from a checkpoint).
    """
    weights = config.inception_weights if config.pretrained and load_inception_weights else "none"
    size = int(config.image_size)
    images = keras.Input((size, size, 3), dtype="uint8", name="images")
    encoder = StickerEncoder(
        image_size=size,
        emoji_vocab_size=config.emoji_vocab_size,
        inception_weights=weights,
        freeze_batch_norm=config.pretrained,
        name="inception_sticker_encoder",
    )
    regions, flat, emoji_logits = encoder(images)
    outputs = {"sticker_regions": regions, "sticker_flat": flat, "emoji_logits": emoji_logits}
    return keras.Model(images, outputs, name="sticker_encoder")


def build_matcher(config: SRSConfig, trim_words: bool = True) -> keras.Model:
    """Eq. 2-16 on encoded stickers (see module doc for inputs/outputs).

    ``trim_words``: drop the word columns that are padding in the whole batch
    (``TrimWords``; same results, less work). ``False`` keeps every column,
    for FLOP counting on static shapes.
    """
    if config.architecture != "srs":  # a Table 3 baseline: same interface, never trimmed
        from srs_tf.baselines import build_baseline_matcher

        return build_baseline_matcher(config)
    inputs = matcher_inputs(config)
    # Identity unless the trainer sets bank statistics (frozen sticker encoder).
    regions, flat = normalized_stickers(inputs)
    turn_mask = TurnMask(config.context_len, name="turn_mask")(inputs["num_turns"])
    # Exact speed-up: word columns that are padding in the whole batch are dropped.
    context_ids = inputs["context_ids"]
    if trim_words:
        context_ids = TrimWords(name="trim_words")(context_ids)
    utterances, word_mask = UtteranceEncoder(
        config.vocab_size,
        config.emb_dim,
        config.hidden_dim,
        dropout=config.dropout,
        name="utterance_encoder",
    )(context_ids, turn_mask)
    interactions, sticker_attention, word_attention = DeepInteraction(
        config.hidden_dim, use_interaction=config.ablation != "no_din", name="deep_interaction"
    )(utterances, word_mask, regions, flat)
    scores = FusionNetwork(
        config.hidden_dim,
        dropout=config.dropout,
        use_fusion_rnn=config.ablation != "no_fr",
        name="fusion_network",
    )(interactions, turn_mask)
    if trim_words:
        word_attention = PadWords(name="pad_words")(word_attention, inputs["context_ids"])
    outputs = matcher_outputs(scores, sticker_attention, word_attention)
    return keras.Model(inputs, outputs, name="matcher")


def build_srs(config: SRSConfig, load_inception_weights: bool = True) -> keras.Model:
    """The full SRS model: raw candidate images in, scores out (CONTRACTS.md).

    ``load_inception_weights``: see ``build_sticker_encoder``.
    """
    turns, words, size = int(config.context_len), int(config.max_words), int(config.image_size)
    inputs = {
        "context_ids": keras.Input((turns, words), dtype="int32", name="context_ids"),
        "num_turns": keras.Input((), dtype="int32", name="num_turns"),
        "candidates": keras.Input((None, size, size, 3), dtype="uint8", name="candidates"),
    }
    sticker_encoder = build_sticker_encoder(config, load_inception_weights)
    matcher = build_matcher(config)
    encoded = sticker_encoder(MergeCandidates(name="merge_candidates")(inputs["candidates"]))
    split = {
        key: SplitCandidates(name=f"split_{key}")(value, inputs["candidates"])
        for key, value in encoded.items()
    }
    matched = matcher(
        {
            "context_ids": inputs["context_ids"],
            "num_turns": inputs["num_turns"],
            "sticker_regions": split["sticker_regions"],
            "sticker_flat": split["sticker_flat"],
        }
    )
    outputs = {
        "scores": matched["scores"],
        "emoji_logits": split["emoji_logits"],
        "sticker_attention": matched["sticker_attention"],
        "word_attention": matched["word_attention"],
    }
    return keras.Model(inputs, outputs, name="srs")
