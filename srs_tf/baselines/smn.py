"""SMN, the Sequential Matching Network, as a Table 3 baseline (paper §6.2).

Original: Yu Wu, Wei Wu, Chen Xing, Ming Zhou, Zhoujun Li, "Sequential
Matching Network: A New Architecture for Multi-turn Response Selection in
Retrieval-Based Chatbots", ACL 2017. Public reference code:
MarkWuNLP/MultiTurnResponseSelection (Theano ``theano_src/SMN_*.py``, and a
TensorFlow re-implementation ``tensorflow_src/SCN.PY``); SMN_last is the
variant built here.

Kept from the original, per utterance ``u_i`` (L words) and response ``r``:

* word-level matrix ``M1 = E_u E_r^T`` (dot products of embeddings);
* one sentence GRU shared by utterances and response: ``H_u = GRU(E_u)``,
  ``H_r = GRU(E_r)``, segment-level matrix ``M2 = H_u A H_r^T`` (A learned,
  ``hidden x hidden``);
* ``[M1, M2]`` as two channels -> Conv2D (8 filters, 3x3, ReLU, ``valid``
  padding, He-normal init as in the reference code) -> max-pooling 3x3,
  stride 3 (``valid``) -> flatten -> ``Dense(50, tanh)`` = matching vector
  ``v_i``;
* a GRU of 50 units over ``v_1 .. v_n`` in turn order; the score is read
  from its last hidden state (SMN_last) with ``Dense(1, sigmoid)`` (the
  original: a 2-way softmax; here the project's sigmoid score for the
  hinge loss of eq. 17).

Adapted for stickers (paper §6.2 replaces the candidate's text encoder by
Inception-v3): the response "words" ``E_r`` are the R = 36 region vectors
``O`` of eq. 1 (after ``normalized_stickers``), in raster order, projected
to the word-embedding width by a bias-free dense layer, so ``M1`` compares
words with image regions in one space and the shared GRU reads the regions
as a length-R sequence (``H_r``; kept because ``M2`` needs segment states of
the response). The matrices are ``L x R`` (30 x 36 at paper sizes): the
flatten fixes their size, so no word trimming. ``O_flat`` is not used (SMN
matches sequences only; the model has no ``flat_normalization`` layer).
SMN has no word/region attention distribution, so the attention outputs are
`UniformAttention`'s. No dropout (the original has none in SMN_last).

Masking: padding words (id 0) and every word of a padded turn (index
``>= num_turns``, whatever ids it holds) are zeroed in ``M1`` and ``M2``
before the convolution. Words are left aligned (CONTRACTS.md), so a forward
GRU's states at real positions do not depend on the trailing padding: the
sentence GRU runs without a mask (which also keeps cuDNN usable: it rejects
fully masked rows, and padded turns are fully masked). Padded turns are
masked steps of the turn GRU, so its last state is the one after the last
real turn.

Hyper-parameters: word embedding ``emb_dim`` and sentence GRU
``hidden_dim`` from SRSConfig (100 at paper sizes, §6.4; the original's
Theano code also uses 100/100); conv 8 filters of 3x3, pooling 3x3 stride 3,
matching vector 50 and turn GRU 50 from the original. Minimum sizes of the
``valid`` convolution + pooling: L >= 5 words and R >= 5 regions (TINY has
6 and 9; the paper 30 and 36).
"""

from __future__ import annotations

import keras
from keras import ops

from srs_tf.model.fusion import TurnMask
from srs_tf.model.matcher_io import (
    UniformAttention,
    matcher_inputs,
    matcher_outputs,
    normalized_stickers,
)
from srs_tf.model_config import SRSConfig

# From the original paper and its reference code.
CONV_FILTERS = 8
CONV_KERNEL = 3
POOL_SIZE = 3
MATCHING_DIM = 50
TURN_HIDDEN = 50


@keras.saving.register_keras_serializable(package="srs_tf")
class SMNRepresentation(keras.layers.Layer):
    """Word embeddings, projected sticker regions and the shared sentence GRU.

    ::

        E_u = Embedding(u)                   [B, T, L, e]
        E_r = O W_r        (bias-free)       [B, C, R, e]   regions as "words"
        H_u = GRU(E_u),  H_r = GRU(E_r)      one GRU for both (as in SMN)

    Call args:
      context_ids: int ``[B, T, L]`` (0 = padding, words left aligned).
      turn_mask: bool ``[B, T]``, True for real turns.
      sticker_regions: float ``[B, C, R, D]`` (D = 768).

    Returns:
      ``(E_u [B, T, L, e], H_u [B, T, L, h], word_mask bool [B, T, L],
      E_r [B, C, R, e], H_r [B, C, R, h])``; ``word_mask`` is True for the real
      words of real turns. ``E_u``/``H_u`` are not zeroed at padding (the
      matching matrices are).

    Example:
    >>> layer = SMNRepresentation(vocab_size=50, emb_dim=8, hidden_dim=8)
    >>> ids = np.array([[[5, 7, 0], [3, 0, 0]]], "int32")        # B=1, T=2, L=3
    >>> regions = np.random.rand(1, 4, 9, 768).astype("float32")  # C=4, R=9
    >>> e_u, h_u, mask, e_r, h_r = layer(ids, np.array([[True, True]]), regions)
    >>> h_u.shape, e_r.shape, h_r.shape
    ((1, 2, 3, 8), (1, 4, 9, 8), (1, 4, 9, 8))
    """

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.emb_dim = int(emb_dim)
        self.hidden_dim = int(hidden_dim)
        policy = self.dtype_policy
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.emb_dim, dtype=policy, name="word_embedding"
        )
        self.region_projection = keras.layers.Dense(
            self.emb_dim, use_bias=False, dtype=policy, name="region_projection"
        )
        self.sentence_gru = keras.layers.GRU(
            self.hidden_dim, return_sequences=True, dtype=policy, name="sentence_gru"
        )

    def build(self, context_ids_shape, turn_mask_shape, sticker_regions_shape):
        self.embedding.build(context_ids_shape)
        self.region_projection.build(sticker_regions_shape)
        self.sentence_gru.build((None, None, self.emb_dim))  # L words or R regions
        self.built = True

    def call(self, context_ids, turn_mask, sticker_regions):
        context_ids = ops.cast(context_ids, "int32")
        word_mask = ops.logical_and(
            ops.not_equal(context_ids, 0), ops.expand_dims(ops.cast(turn_mask, "bool"), -1)
        )
        turns, words = context_ids.shape[1], context_ids.shape[2]
        words_embedded = self.embedding(context_ids)  # [B, T, L, e]
        words_hidden = self.sentence_gru(ops.reshape(words_embedded, (-1, words, self.emb_dim)))
        words_hidden = ops.reshape(words_hidden, (-1, turns, words, self.hidden_dim))

        regions = self.region_projection(sticker_regions)  # [B, C, R, e]
        shape = ops.shape(sticker_regions)
        count = sticker_regions.shape[2]
        regions_hidden = self.sentence_gru(ops.reshape(regions, (-1, count, self.emb_dim)))
        regions_hidden = ops.reshape(regions_hidden, (shape[0], shape[1], count, self.hidden_dim))
        return words_embedded, words_hidden, word_mask, regions, regions_hidden

    def compute_output_shape(self, context_ids_shape, turn_mask_shape, sticker_regions_shape):
        b, t, l_ = context_ids_shape
        c, r = sticker_regions_shape[1], sticker_regions_shape[2]
        return (
            (b, t, l_, self.emb_dim),
            (b, t, l_, self.hidden_dim),
            (b, t, l_),
            (b, c, r, self.emb_dim),
            (b, c, r, self.hidden_dim),
        )

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, emb_dim=self.emb_dim, hidden_dim=self.hidden_dim)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class SMNMatchingMatrices(keras.layers.Layer):
    """Word- and segment-level matching matrices of every candidate x turn (SMN's matching layer).

    ::

        M1[i, k] = E_u[i] . E_r[k]                 (word level)
        M2[i, k] = H_u[i]^T A H_r[k]               (segment level, A learned)
        M        = [M1, M2]  (2 channels),  0 at padding words / padded turns

    Call args:
      words: float ``[B, T, L, e]`` (``E_u``).
      words_hidden: float ``[B, T, L, h]`` (``H_u``).
      word_mask: bool ``[B, T, L]``, True for real words of real turns.
      regions: float ``[B, C, R, e]`` (``E_r``).
      regions_hidden: float ``[B, C, R, h]`` (``H_r``).

    Returns:
      float ``[B, C, T, L, R, 2]``.

    Example:
    >>> layer = SMNMatchingMatrices(hidden_dim=8)
    >>> e_u, h_u = np.random.rand(2, 3, 5, 6), np.random.rand(2, 3, 5, 8)   # B, T, L
    >>> e_r, h_r = np.random.rand(2, 4, 9, 6), np.random.rand(2, 4, 9, 8)   # B, C, R
    >>> layer(e_u, h_u, np.ones((2, 3, 5), bool), e_r, h_r).shape
    (2, 4, 3, 5, 9, 2)
    """

    def __init__(self, hidden_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)

    def build(
        self, words_shape, words_hidden_shape, word_mask_shape, regions_shape, regions_hidden_shape
    ):
        self.bilinear = self.add_weight(
            name="bilinear", shape=(self.hidden_dim, self.hidden_dim), initializer="glorot_uniform"
        )  # A
        self.built = True

    def call(self, words, words_hidden, word_mask, regions, regions_hidden):
        dtype = self.compute_dtype
        words, regions = ops.cast(words, dtype), ops.cast(regions, dtype)
        words_hidden, regions_hidden = (
            ops.cast(words_hidden, dtype),
            ops.cast(regions_hidden, dtype),
        )
        word_level = ops.einsum("btle,bcre->bctlr", words, regions)  # M1
        projected = ops.einsum("btlh,hk->btlk", words_hidden, ops.cast(self.bilinear, dtype))
        segment_level = ops.einsum("btlk,bcrk->bctlr", projected, regions_hidden)  # M2
        keep = ops.cast(word_mask, dtype)[:, None, :, :, None]  # [B, 1, T, L, 1]
        return ops.stack([word_level * keep, segment_level * keep], axis=-1)

    def compute_output_shape(
        self, words_shape, words_hidden_shape, word_mask_shape, regions_shape, regions_hidden_shape
    ):
        b, t, l_ = words_shape[0], words_shape[1], words_shape[2]
        c, r = regions_shape[1], regions_shape[2]
        return (b, c, t, l_, r, 2)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class SMNMatchingVector(keras.layers.Layer):
    """CNN over each 2-channel matching matrix -> matching vector (SMN's matching layer).

    ::

        z = ReLU(Conv2D_{8, 3x3, valid}(M))
        p = MaxPool_{3x3, stride 3, valid}(z)
        v = tanh(W flatten(p) + b)              (50 units)

    The flatten fixes the matrix size: the layer is built for one ``L x R``
    (at least 5 x 5, the smallest size the valid conv + pool accept).

    Call args:
      matrices: float ``[B, C, T, L, R, 2]``.

    Returns:
      float ``[B, C, T, matching_dim]``.

    Example:
    >>> layer = SMNMatchingVector()
    >>> layer(np.random.rand(2, 4, 3, 6, 9, 2).astype("float32")).shape
    (2, 4, 3, 50)
    """

    def __init__(
        self,
        filters: int = CONV_FILTERS,
        kernel_size: int = CONV_KERNEL,
        pool_size: int = POOL_SIZE,
        matching_dim: int = MATCHING_DIM,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.pool_size = int(pool_size)
        self.matching_dim = int(matching_dim)
        policy = self.dtype_policy
        self.conv = keras.layers.Conv2D(
            self.filters,
            self.kernel_size,
            padding="valid",
            activation="relu",
            kernel_initializer="he_normal",
            dtype=policy,
            name="conv",
        )
        self.pool = keras.layers.MaxPooling2D(
            self.pool_size, strides=self.pool_size, padding="valid", dtype=policy, name="pool"
        )
        self.dense = keras.layers.Dense(
            self.matching_dim, activation="tanh", dtype=policy, name="matching_vector"
        )

    def _pooled_size(self, size: int) -> int:
        return (size - self.kernel_size + 1 - self.pool_size) // self.pool_size + 1

    def build(self, matrices_shape):
        rows, cols, channels = matrices_shape[3], matrices_shape[4], matrices_shape[5]
        if rows is None or cols is None:
            raise ValueError("SMNMatchingVector needs static L and R (the flatten fixes them)")
        pooled_rows, pooled_cols = self._pooled_size(rows), self._pooled_size(cols)
        if pooled_rows < 1 or pooled_cols < 1:
            minimum = self.kernel_size + self.pool_size - 1
            raise ValueError(
                f"SMN's matching matrix {rows} x {cols} is too small for a {self.kernel_size}x"
                f"{self.kernel_size} valid conv and {self.pool_size}x{self.pool_size} pooling "
                f"(needs at least {minimum} words and {minimum} regions)"
            )
        self.conv.build((None, rows, cols, channels))
        self.dense.build((None, pooled_rows * pooled_cols * self.filters))
        self.built = True

    def call(self, matrices):
        shape = ops.shape(matrices)
        rows, cols, channels = matrices.shape[3], matrices.shape[4], matrices.shape[5]
        images = ops.reshape(matrices, (-1, rows, cols, channels))  # [B*C*T, L, R, 2]
        pooled = self.pool(self.conv(images))
        flat = ops.reshape(pooled, (-1, pooled.shape[1] * pooled.shape[2] * pooled.shape[3]))
        vectors = self.dense(flat)
        return ops.reshape(vectors, (shape[0], shape[1], shape[2], self.matching_dim))

    def compute_output_shape(self, matrices_shape):
        return tuple(matrices_shape[:3]) + (self.matching_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            pool_size=self.pool_size,
            matching_dim=self.matching_dim,
        )
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class SMNAccumulation(keras.layers.Layer):
    """Matching accumulation over the turns and SMN_last's score.

    ::

        h'_i = GRU(v_i, h'_{i-1})       real turns only, in turn order
        y    = sigmoid(w . h'_n + b)    h'_n: the state after the last real turn

    Padded turns are masked steps (a Keras GRU carries its state through
    them); unrolled like SRS's turn GRUs (T is static and small). The score
    is float32.

    Call args:
      vectors: float ``[B, C, T, V]`` matching vectors.
      turn_mask: bool ``[B, T]``, True for real turns.

    Returns:
      float32 ``[B, C]`` in (0, 1).

    Example:
    >>> layer = SMNAccumulation()
    >>> v = np.random.rand(2, 4, 3, 50).astype("float32")
    >>> layer(v, np.array([[True, True, False], [True, True, True]])).shape
    (2, 4)
    """

    def __init__(self, hidden_dim: int = TURN_HIDDEN, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.turn_gru = keras.layers.GRU(
            self.hidden_dim, unroll=True, dtype=self.dtype_policy, name="turn_gru"
        )
        self.score_dense = keras.layers.Dense(
            1, activation="sigmoid", dtype="float32", name="score"
        )

    def build(self, vectors_shape, turn_mask_shape):
        self.turn_gru.build((None, vectors_shape[2], vectors_shape[3]))
        self.score_dense.build((None, self.hidden_dim))
        self.built = True

    def call(self, vectors, turn_mask):
        shape = ops.shape(vectors)
        batch, candidates = shape[0], shape[1]
        turns, width = vectors.shape[2], vectors.shape[3]
        mask = ops.broadcast_to(
            ops.expand_dims(ops.cast(turn_mask, "bool"), 1), (batch, candidates, turns)
        )
        final_state = self.turn_gru(
            ops.reshape(vectors, (-1, turns, width)), mask=ops.reshape(mask, (-1, turns))
        )
        scores = self.score_dense(final_state)  # float32
        return ops.reshape(scores, (batch, candidates))

    def compute_output_shape(self, vectors_shape, turn_mask_shape):
        return (vectors_shape[0], vectors_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim)
        return config


def build_matcher(config: SRSConfig) -> keras.Model:
    """SMN_last on encoded stickers, with the matcher interface (matcher_io)."""
    inputs = matcher_inputs(config)
    regions, _ = normalized_stickers(inputs)  # O_flat is not used by SMN
    turn_mask = TurnMask(config.context_len, name="turn_mask")(inputs["num_turns"])
    words, words_hidden, word_mask, response, response_hidden = SMNRepresentation(
        config.vocab_size, config.emb_dim, config.hidden_dim, name="smn_representation"
    )(inputs["context_ids"], turn_mask, regions)
    matrices = SMNMatchingMatrices(config.hidden_dim, name="smn_matching_matrices")(
        words, words_hidden, word_mask, response, response_hidden
    )
    vectors = SMNMatchingVector(name="smn_matching_vector")(matrices)
    scores = SMNAccumulation(name="smn_accumulation")(vectors, turn_mask)
    sticker_attention, word_attention = UniformAttention(name="uniform_attention")(
        inputs["context_ids"], turn_mask, regions
    )
    outputs = matcher_outputs(scores, sticker_attention, word_attention)
    return keras.Model(inputs, outputs, name="matcher")
