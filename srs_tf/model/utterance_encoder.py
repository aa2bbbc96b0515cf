"""Utterance encoder (paper §5.3, eq. 2-6), shared by all turns."""

from __future__ import annotations

import keras
from keras import ops

from srs_tf.model.attentive_module import AttentiveModule


@keras.saving.register_keras_serializable(package="srs_tf")
class UtteranceEncoder(keras.layers.Layer):
    """Word embedding + the eq. 3-6 attentive module over each utterance.

    Every turn of every example is encoded at once (the attention runs over
    the word axis of a ``[B, T, L]`` id tensor); the weights are shared by all
    turns. Word id 0 is padding: it is excluded from the attention keys and
    its output is 0. A turn can also be declared padding as a whole with
    ``turn_mask`` (rows ``>= num_turns``), whatever ids it holds.

    Args:
      vocab_size: number of word ids (``[PAD]`` = 0, ``[UNK]`` = 1 included).
      emb_dim: embedding width (paper: 100).
      hidden_dim: output width (paper: 100).
      dropout: dropout rate of eq. 5.

    Call args:
      context_ids: int ``[B, T, L]`` (any leading axes work).
      turn_mask: optional bool ``[B, T]``, True for real turns.
      training: enables dropout.

    Returns:
      ``(h, word_mask)``: float ``[B, T, L, hidden_dim]`` (0 at padding) and
      bool ``[B, T, L]`` (True for a real word of a real turn).

    Example:
    >>> encoder = UtteranceEncoder(vocab_size=50, emb_dim=8, hidden_dim=8)
    >>> ids = np.array([[[5, 7, 0], [3, 0, 0]]], "int32")   # B=1, T=2, L=3
    >>> h, word_mask = encoder(ids)
    >>> h.shape, word_mask.shape
    ((1, 2, 3, 8), (1, 2, 3))
    """

    def __init__(
        self, vocab_size: int, emb_dim: int, hidden_dim: int, dropout: float = 0.0, **kwargs
    ):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.emb_dim = int(emb_dim)
        self.hidden_dim = int(hidden_dim)
        self.dropout = float(dropout)
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.emb_dim, dtype=self.dtype_policy, name="word_embedding"
        )
        self.attentive = AttentiveModule(
            self.hidden_dim,
            dropout=self.dropout,
            dtype=self.dtype_policy,
            name="word_attentive_module",
        )

    def build(self, context_ids_shape, turn_mask_shape=None):
        self.embedding.build(context_ids_shape)
        self.attentive.build(tuple(context_ids_shape) + (self.emb_dim,))
        self.built = True

    def call(self, context_ids, turn_mask=None, training=None):
        context_ids = ops.cast(context_ids, "int32")
        word_mask = ops.not_equal(context_ids, 0)
        if turn_mask is not None:
            word_mask = ops.logical_and(word_mask, ops.expand_dims(ops.cast(turn_mask, "bool"), -1))
        embedded = self.embedding(context_ids)  # eq. 2 input e(x_j)
        hidden = self.attentive(embedded, padding_mask=word_mask, training=training)
        return hidden, word_mask

    def compute_output_shape(self, context_ids_shape, turn_mask_shape=None):
        return tuple(context_ids_shape) + (self.hidden_dim,), tuple(context_ids_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            emb_dim=self.emb_dim,
            hidden_dim=self.hidden_dim,
            dropout=self.dropout,
        )
        return config
