"""MRFN: Multi-Representation Fusion Network, adapted to sticker selection.

Original: Chongyang Tao, Wei Wu, Can Xu, Wenpeng Hu, Dongyan Zhao, Rui Yan,
"Multi-Representation Fusion Network for Multi-turn Response Selection in
Retrieval-based Chatbots", WSDM 2019, pp. 267-275. Public reference code:
github.com/chongyangtao/MRFN (TensorFlow 1.4; ``model_FLS.py`` and
``modules.py``; it implements only the late-fusion variant FLS).

What MRFN does (text response). Six representations of every utterance
``u_i`` and of the response ``r``, each a sequence of word vectors: word-level
(character CNN, word2vec embedding), contextual (GRU states, "sequential";
n-gram CNN, "local") and attention-based (self-attention; cross-attention
of the utterance to the response and of the response to the utterance). The
paper fuses them at an early stage (FES: concatenate the representations
before matching), an intermediate stage (FIS: fuse the per-type matching
results inside each turn) or the last stage (FLS: each type is matched and
accumulated over the turns separately, the final states are combined). Its
abstract: "late fusion is always better than early fusion" and with FLS the
model "achieves new state-of-the-art performance"; the release code is FLS
only. This module implements FLS. (The full paper text was not available to
this implementation; the equations below follow the release code, and the
abstract for the choice of FLS.)

Kept (release code, per representation type k, per turn i)::

    a_jl   = (u_l A_k) . r_j                     bilinear, over the real words l only
    rbar_j = sum_l softmax_l(a_j.) u_l           response word j attends to the utterance
    t_j    = ReLU(W_k [rbar_j * r_j ; rbar_j - r_j] + b_k)   ("nn-sub-multi", width d_k)
    v_i^k  = GRU_k(t_1 .. t_R)  final state      turn matching vector (width H)
    h^k    = GRU'_k(v_1^k .. v_n^k) final state  over the real turns
    score  = sigmoid(w^T [h^1 ; ... ; h^K] + b)

The representations follow ``model_FLS.py``: word = the embeddings;
sequential = the states of one GRU shared by utterance and response;
local = ReLU 1-D convolutions of widths 1, 2, 3, 4 (50 filters each,
"same" padding, shared) then a layer norm; self-attention and
cross-attention = the release's attention function (ReLU-projected Q, K, V,
scaled dot product over several heads, residual to the queries, layer
norm), one set of weights for the utterances and the response (self) and
one for both directions (cross).

Adapted for stickers (paper SRS §6.2: the candidate encoder is Inception-v3):

* The response "words" are the R = 36 sticker regions ``O`` (after
  ``normalized_stickers``) in raster order, each projected by a bias-free
  Dense to ``emb_dim``: they are the word-level response representation, and
  every other response representation is computed from this sequence exactly
  as from a sentence (the GRU reads the regions row by row, the n-gram
  windows run over the raster sequence).
* No character-level representation: a sticker has no characters (MRFN's
  char CNN over an utterance's words would have no response counterpart).
  Five types remain: word, sequential, local, self-attention, cross-attention.
* ``O_flat`` is not used by MRFN (the model has no ``flat_normalization``
  layer).
* One sigmoid score for the project's hinge loss: the release code gives
  every type its own 2-way softmax classifier and loss and sums the
  probabilities; here one ``Dense(1, sigmoid)`` reads the concatenation of
  the K final turn-GRU states, i.e. ``sigmoid(sum_k w_k . h^k + b)`` (the
  per-type logits are summed).
* Masks. Release: word-GRU sequence lengths, keys detected as all-zero
  vectors in the attention, a matching softmax smoothed by 1e-5, nothing in
  the convolution, and padded turns are ordinary steps of its turn GRU.
  Here: padded words are excluded from every attention (as keys; their
  outputs are 0), skipped by the word GRU, zeroed before the convolution (so
  a window past the end of an utterance reads zeros as in "same" padding),
  and get weight exactly 0 in the matching softmax; padded turns (whatever
  ids they hold) have no real word and are masked steps of the turn GRUs.
  The region sequence has no padding. No trimming: L x R matrices are fixed.
* The number of attention heads is the largest divisor of ``emb_dim`` not
  above the release's 8 (5 heads of 20 at ``emb_dim`` = 100). Layer-norm
  epsilon 1e-6 (release: 1e-8).
* ``word_attention`` / ``sticker_attention``: MRFN has no single attention
  distribution over words or regions (each type has its own R x L matching
  softmax), so ``UniformAttention`` fills them.

Hyper-parameters: widths from SRSConfig (paper §6.4): ``emb_dim`` = 100 for
the embeddings, the region projection, the self/cross-attention and the
word-type matching; ``hidden_dim`` = 100 for every GRU (the release's
``rnn_dim``; release 200/200 on Ubuntu). The original's sizes where they
apply: local CNN 4 x 50 filters (width 200), kernel widths 1-4; matching
feature width = the representation width. Dropout ``config.dropout`` on the
embeddings and on the matching features ``t`` (release keep-prob 0.8).
"""

from __future__ import annotations

import keras
from keras import ops

from srs_tf.model.attentive_module import masked_softmax
from srs_tf.model.fusion import TurnMask
from srs_tf.model.matcher_io import (
    UniformAttention,
    matcher_inputs,
    matcher_outputs,
    normalized_stickers,
)
from srs_tf.model_config import SRSConfig

# The release code's sizes (model_FLS.py): local CNN, attention heads.
LOCAL_FILTERS = 50
LOCAL_KERNEL_SIZES = (1, 2, 3, 4)
MAX_HEADS = 8
# The five representation types kept (the release's char type is dropped).
REPRESENTATIONS = ("word", "sequential", "local", "self_attention", "cross_attention")


def num_heads_for(width: int, max_heads: int = MAX_HEADS) -> int:
    """The largest divisor of ``width`` that is at most ``max_heads``."""
    return max(h for h in range(1, max_heads + 1) if int(width) % h == 0)


def _broadcast_dim(a, b):
    if a == 1:
        return b
    if b == 1 or b is None:
        return a
    return b if a is None else a


def _broadcast_shape(a, b):
    """Static numpy-style broadcast of two equal-rank shapes (None = unknown)."""
    return tuple(_broadcast_dim(x, y) for x, y in zip(a, b))


def _to_sequences(x):
    """``[..., N, D]`` -> ``[-1, N, D]`` (N, D static)."""
    return ops.reshape(x, (-1, x.shape[-2], x.shape[-1]))


def _from_sequences(y, reference):
    """``[-1, N, F]`` -> ``reference``'s leading axes + ``[N, F]``."""
    shape = ops.shape(reference)
    return ops.reshape(y, tuple(shape[:-2]) + (y.shape[-2], y.shape[-1]))


@keras.saving.register_keras_serializable(package="srs_tf")
class WordMask(keras.layers.Layer):
    """``context_ids [B, T, L]``, ``turn_mask [B, T]`` -> bool ``[B, T, L]``.

    True for a real word (id != 0) of a real turn; a padded turn is all False
    whatever ids it holds.

    Example:
    >>> WordMask()(np.array([[[4, 0], [7, 7]]]), np.array([[True, False]]))
    >>> # -> [[[True, False], [False, False]]]
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def call(self, context_ids, turn_mask):
        real = ops.not_equal(ops.cast(context_ids, "int32"), 0)
        return ops.logical_and(real, ops.expand_dims(ops.cast(turn_mask, "bool"), -1))

    def compute_output_shape(self, context_ids_shape, turn_mask_shape):
        return tuple(context_ids_shape)

    def compute_output_spec(self, context_ids, turn_mask):
        return keras.KerasTensor(tuple(context_ids.shape), dtype="bool")


@keras.saving.register_keras_serializable(package="srs_tf")
class WordRepresentation(keras.layers.Layer):
    """Word-level representations: utterance embeddings and projected regions.

    ``e(u_l) = E[id_l]`` (word2vec-style embedding, trained here) and the
    sticker's "words" ``r_j = W_O O_j`` (bias-free projection of region j,
    raster order), both of width ``emb_dim``, with dropout (release code).

    Args:
      vocab_size, emb_dim: embedding table size / width.
      dropout: rate on both outputs.

    Call args:
      context_ids: int ``[B, T, L]``.
      sticker_regions: float ``[B, C, R, D_O]``.
      training: enables dropout.

    Returns:
      ``(words [B, T, L, emb_dim], response [B, C, R, emb_dim])``.

    Example:
    >>> layer = WordRepresentation(vocab_size=20, emb_dim=8)
    >>> w, r = layer(np.ones((2, 3, 4), "int32"), np.zeros((2, 5, 9, 768)))
    >>> w.shape, r.shape
    ((2, 3, 4, 8), (2, 5, 9, 8))
    """

    def __init__(self, vocab_size: int, emb_dim: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.emb_dim = int(emb_dim)
        self.dropout = float(dropout)
        policy = self.dtype_policy
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.emb_dim, dtype=policy, name="word_embedding"
        )
        self.region_projection = keras.layers.Dense(
            self.emb_dim, use_bias=False, dtype=policy, name="region_projection"
        )
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy, name="dropout")

    def build(self, context_ids_shape, sticker_regions_shape):
        self.embedding.build(context_ids_shape)
        self.region_projection.build(sticker_regions_shape)
        self.built = True

    def call(self, context_ids, sticker_regions, training=None):
        words = self.embedding(ops.cast(context_ids, "int32"))
        response = self.region_projection(sticker_regions)
        return (
            self.dropout_layer(words, training=training),
            self.dropout_layer(response, training=training),
        )

    def compute_output_shape(self, context_ids_shape, sticker_regions_shape):
        return (
            tuple(context_ids_shape) + (self.emb_dim,),
            tuple(sticker_regions_shape[:-1]) + (self.emb_dim,),
        )

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, emb_dim=self.emb_dim, dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class SequentialRepresentation(keras.layers.Layer):
    """Sequential representation: the states of one GRU over each sequence.

    ``s_l = GRU(e_l, s_{l-1})`` over the real words of every utterance and
    over the R regions of every sticker, with the same weights (release:
    ``sentence_gru`` reused). Padded words are skipped (masked steps) and
    their outputs set to 0.

    Args:
      hidden_dim: GRU width (the release's ``rnn_dim``).

    Call args:
      words: float ``[B, T, L, E]``; word_mask: bool ``[B, T, L]``;
      response: float ``[B, C, R, E]``.

    Returns:
      ``([B, T, L, hidden_dim], [B, C, R, hidden_dim])``.

    Example:
    >>> layer = SequentialRepresentation(hidden_dim=6)
    >>> u, r = layer(np.ones((2, 3, 4, 8)), np.ones((2, 3, 4), bool), np.ones((2, 5, 9, 8)))
    >>> u.shape, r.shape
    ((2, 3, 4, 6), (2, 5, 9, 6))
    """

    def __init__(self, hidden_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        # unroll: L and R are static and small; also keeps the masked GRU off
        # cuDNN, which rejects fully masked rows (padded turns).
        self.gru = keras.layers.GRU(
            self.hidden_dim,
            return_sequences=True,
            unroll=True,
            dtype=self.dtype_policy,
            name="sequence_gru",
        )

    def build(self, words_shape, word_mask_shape, response_shape):
        self.gru.build((None, words_shape[-2], words_shape[-1]))
        self.built = True

    def call(self, words, word_mask, response, training=None):
        mask = ops.reshape(ops.cast(word_mask, "bool"), (-1, words.shape[-2]))
        states = self.gru(_to_sequences(words), mask=mask, training=training)
        states = states * ops.cast(ops.expand_dims(mask, -1), states.dtype)
        response_states = self.gru(_to_sequences(response), training=training)
        return _from_sequences(states, words), _from_sequences(response_states, response)

    def compute_output_shape(self, words_shape, word_mask_shape, response_shape):
        return (
            tuple(words_shape[:-1]) + (self.hidden_dim,),
            tuple(response_shape[:-1]) + (self.hidden_dim,),
        )

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class LocalRepresentation(keras.layers.Layer):
    """Local (n-gram) representation: multi-width 1-D convolutions + layer norm.

    ``c_l = LayerNorm([ReLU(conv_1(e)_l) ; ... ; ReLU(conv_4(e)_l)])``, each
    ``conv_k`` with ``filters`` outputs, window ``k``, "same" padding, shared by
    utterances and stickers (release: ``conv`` with kernels 1-4, 50 filters,
    ``isNormalize=True``). Padded words are zeroed before the convolution and
    in the output.

    Args:
      filters: outputs per window width (release: 50).
      kernel_sizes: the window widths (release: 1, 2, 3, 4).

    Call args:
      words: float ``[B, T, L, E]``; word_mask: bool ``[B, T, L]``;
      response: float ``[B, C, R, E]``.

    Returns:
      ``([B, T, L, F], [B, C, R, F])`` with ``F = filters * len(kernel_sizes)``.

    Example:
    >>> layer = LocalRepresentation(filters=3, kernel_sizes=(1, 2))
    >>> u, r = layer(np.ones((2, 3, 4, 8)), np.ones((2, 3, 4), bool), np.ones((2, 5, 9, 8)))
    >>> u.shape, r.shape
    ((2, 3, 4, 6), (2, 5, 9, 6))
    """

    def __init__(self, filters: int = LOCAL_FILTERS, kernel_sizes=LOCAL_KERNEL_SIZES, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_sizes = [int(k) for k in kernel_sizes]
        policy = self.dtype_policy
        # One attribute per layer (not a list): TensorFlow checkpoints track
        # attributes, not the lists Keras wraps.
        for k in self.kernel_sizes:
            conv = keras.layers.Conv1D(
                self.filters, k, padding="same", activation="relu", dtype=policy, name=f"conv_{k}"
            )
            setattr(self, f"conv_{k}", conv)
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=policy, name="layer_norm"
        )

    @property
    def width(self) -> int:
        return self.filters * len(self.kernel_sizes)

    @property
    def convolutions(self) -> list:
        return [getattr(self, f"conv_{k}") for k in self.kernel_sizes]

    def build(self, words_shape, word_mask_shape, response_shape):
        for conv in self.convolutions:
            conv.build((None, None, words_shape[-1]))
        self.layer_norm.build((None, None, self.width))
        self.built = True

    def _encode(self, sequences):
        features = ops.concatenate([conv(sequences) for conv in self.convolutions], axis=-1)
        return self.layer_norm(features)

    def call(self, words, word_mask, response):
        mask = ops.cast(ops.expand_dims(ops.cast(word_mask, "bool"), -1), words.dtype)
        local = self._encode(_to_sequences(words * mask))
        local = _from_sequences(local, words) * ops.cast(mask, local.dtype)
        return local, _from_sequences(self._encode(_to_sequences(response)), response)

    def compute_output_shape(self, words_shape, word_mask_shape, response_shape):
        return (
            tuple(words_shape[:-1]) + (self.width,),
            tuple(response_shape[:-1]) + (self.width,),
        )

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_sizes=list(self.kernel_sizes))
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class RepresentationAttention(keras.layers.Layer):
    """The release code's attention function (``modules.multihead_attention``).

    For queries ``x`` ``[..., Nq, U]`` and keys ``y`` ``[..., Nk, Dk]``::

        Q = ReLU(x Wq + bq),  K = ReLU(y Wk + bk),  V = ReLU(y Wv + bv)    (width U)
        head h: A_h = softmax_k(Q_h K_h^T / sqrt(U / heads))   over the real keys
        out = LayerNorm(x + [A_1 V_1 ; ... ; A_heads V_heads])

    The leading axes of queries and keys broadcast (``[B, 1, T, L, U]``
    queries with ``[B, C, 1, R, U]`` keys give ``[B, C, T, L, U]``). Outputs
    at padded queries are 0; a query with no real key gets ``LayerNorm(x)``.

    Args:
      units: U, the width of Q/K/V and of the queries (the residual).
      num_heads: number of heads (divides ``units``).

    Call args:
      queries: float ``[..., Nq, U]``; keys: float ``[..., Nk, Dk]``.
      query_mask: bool ``[..., Nq]`` or None (all real).
      key_mask: bool ``[..., Nk]`` or None (all real).

    Returns:
      float ``[broadcast leading axes, Nq, U]``.

    Example:
    >>> att = RepresentationAttention(units=8, num_heads=2)
    >>> att(np.ones((2, 1, 4, 8)), np.ones((2, 3, 5, 8))).shape
    (2, 3, 4, 8)
    """

    def __init__(self, units: int, num_heads: int = MAX_HEADS, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.num_heads = int(num_heads)
        if self.units % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} does not divide units={self.units}")
        policy = self.dtype_policy
        self.query_dense = keras.layers.Dense(
            self.units, activation="relu", dtype=policy, name="query"
        )
        self.key_dense = keras.layers.Dense(self.units, activation="relu", dtype=policy, name="key")
        self.value_dense = keras.layers.Dense(
            self.units, activation="relu", dtype=policy, name="value"
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=policy, name="layer_norm"
        )

    def build(self, queries_shape, keys_shape, query_mask_shape=None, key_mask_shape=None):
        if int(queries_shape[-1]) != self.units:
            raise ValueError(f"queries have width {queries_shape[-1]}, expected {self.units}")
        self.query_dense.build((None, self.units))
        self.key_dense.build((None, keys_shape[-1]))
        self.value_dense.build((None, keys_shape[-1]))
        self.layer_norm.build((None, self.units))
        self.built = True

    def _heads(self, x):
        """``[..., N, U]`` -> ``[..., heads, N, U / heads]``."""
        return ops.stack(ops.split(x, self.num_heads, axis=-1), axis=-3)

    def call(self, queries, keys, query_mask=None, key_mask=None):
        q = self._heads(self.query_dense(queries))
        k = self._heads(self.key_dense(keys))
        v = self._heads(self.value_dense(keys))
        scale = ops.cast(1.0 / (self.units / self.num_heads) ** 0.5, q.dtype)
        logits = ops.einsum("...qd,...kd->...qk", q * scale, k)  # [..., heads, Nq, Nk]
        if key_mask is None:
            key_mask = ops.ones(ops.shape(keys)[:-1], dtype="bool")
        key_mask = ops.expand_dims(ops.expand_dims(ops.cast(key_mask, "bool"), -2), -3)
        weights = masked_softmax(logits, key_mask, axis=-1)
        heads = ops.einsum("...qk,...kd->...qd", ops.cast(weights, v.dtype), v)
        attended = ops.concatenate(ops.unstack(heads, self.num_heads, axis=-3), axis=-1)
        outputs = self.layer_norm(queries + attended)
        if query_mask is not None:
            outputs = outputs * ops.cast(
                ops.expand_dims(ops.cast(query_mask, "bool"), -1), outputs.dtype
            )
        return outputs

    def compute_output_shape(
        self, queries_shape, keys_shape, query_mask_shape=None, key_mask_shape=None
    ):
        lead = _broadcast_shape(tuple(queries_shape[:-2]), tuple(keys_shape[:-2]))
        return lead + (queries_shape[-2], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, num_heads=self.num_heads)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class SelfAttentionRepresentation(keras.layers.Layer):
    """Self-attention representation: every sequence attends to itself.

    ``u^self = Attention(e(u), e(u))`` over the real words of each utterance
    and ``r^self = Attention(r, r)`` over the regions, one set of weights
    (release: ``self_att_embeddings``, reused).

    Args:
      units: the embedding width; num_heads: attention heads.

    Call args:
      words: float ``[B, T, L, U]``; word_mask: bool ``[B, T, L]``;
      response: float ``[B, C, R, U]``.

    Returns:
      ``([B, T, L, U], [B, C, R, U])`` (0 at padded words).

    Example:
    >>> layer = SelfAttentionRepresentation(units=8, num_heads=2)
    >>> u, r = layer(np.ones((2, 3, 4, 8)), np.ones((2, 3, 4), bool), np.ones((2, 5, 9, 8)))
    >>> u.shape, r.shape
    ((2, 3, 4, 8), (2, 5, 9, 8))
    """

    def __init__(self, units: int, num_heads: int = MAX_HEADS, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.num_heads = int(num_heads)
        self.attention = RepresentationAttention(
            self.units, self.num_heads, dtype=self.dtype_policy, name="self_attention"
        )

    def build(self, words_shape, word_mask_shape, response_shape):
        self.attention.build(words_shape, words_shape)
        self.built = True

    def call(self, words, word_mask, response):
        word_mask = ops.cast(word_mask, "bool")
        utterances = self.attention(words, words, query_mask=word_mask, key_mask=word_mask)
        return utterances, self.attention(response, response)

    def compute_output_shape(self, words_shape, word_mask_shape, response_shape):
        return tuple(words_shape[:-1]) + (self.units,), tuple(response_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, num_heads=self.num_heads)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class CrossAttentionRepresentation(keras.layers.Layer):
    """Cross-attention representation of every (utterance, sticker) pair.

    ``u_i^cross = Attention(e(u_i), r)`` (each word attends to the regions) and
    ``r_i^cross = Attention(r, e(u_i))`` (each region attends to the real
    words of turn i), one set of weights for both directions (release:
    ``cross_att_embeddings``, reused). Both depend on the pair, hence the
    candidate and turn axes on both outputs.

    Args:
      units: the embedding width; num_heads: attention heads.

    Call args:
      words: float ``[B, T, L, U]``; word_mask: bool ``[B, T, L]``;
      response: float ``[B, C, R, U]``.

    Returns:
      ``(utterances [B, C, T, L, U] (0 at padded words), response [B, C, T, R, U])``.

    Example:
    >>> layer = CrossAttentionRepresentation(units=8, num_heads=2)
    >>> u, r = layer(np.ones((2, 3, 4, 8)), np.ones((2, 3, 4), bool), np.ones((2, 5, 9, 8)))
    >>> u.shape, r.shape
    ((2, 5, 3, 4, 8), (2, 5, 3, 9, 8))
    """

    def __init__(self, units: int, num_heads: int = MAX_HEADS, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.num_heads = int(num_heads)
        self.attention = RepresentationAttention(
            self.units, self.num_heads, dtype=self.dtype_policy, name="cross_attention"
        )

    def build(self, words_shape, word_mask_shape, response_shape):
        self.attention.build(words_shape, response_shape)
        self.built = True

    def call(self, words, word_mask, response):
        word_mask = ops.expand_dims(ops.cast(word_mask, "bool"), 1)  # [B, 1, T, L]
        words = ops.expand_dims(words, 1)  # [B, 1, T, L, U]
        response = ops.expand_dims(response, 2)  # [B, C, 1, R, U]
        utterances = self.attention(words, response, query_mask=word_mask)
        responses = self.attention(response, words, key_mask=word_mask)
        return utterances, responses

    def compute_output_shape(self, words_shape, word_mask_shape, response_shape):
        b, c = words_shape[0], response_shape[1]
        t, l_, r = words_shape[1], words_shape[2], response_shape[2]
        return (b, c, t, l_, self.units), (b, c, t, r, self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, num_heads=self.num_heads)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class RepresentationMatching(keras.layers.Layer):
    """MRFN's matching function for one representation type (release code).

    For the utterance ``u_i`` (words ``u_l``, real ones only) and the
    response ``r`` (regions ``r_j``), both of width d::

        a_jl   = (u_l A) . r_j                                (A: d x d, no bias)
        rbar_j = sum_l softmax_l(a_j.) u_l                    (masked: padded l get 0)
        t_j    = ReLU(W [rbar_j * r_j ; rbar_j - r_j] + b)    (width d; dropout)
        v_i    = GRU(t_1, ..., t_R)  final state              (width hidden_dim)

    (release: ``batch_coattention_nnsubmulti`` then ``res_att_gru``.) Every
    (example, candidate, turn) is matched at once: utterances without a
    candidate axis and responses without a turn axis are broadcast.

    Args:
      width: d, the representation width.
      hidden_dim: GRU width.
      dropout: rate on ``t``.

    Call args:
      utterances: float ``[B, T, L, d]`` or ``[B, C, T, L, d]``.
      word_mask: bool ``[B, T, L]``.
      response: float ``[B, C, R, d]`` or ``[B, C, T, R, d]``.
      training: enables dropout.

    Returns:
      float ``[B, C, T, hidden_dim]``: the matching vectors ``v_i``.

    Example:
    >>> match = RepresentationMatching(width=8, hidden_dim=6)
    >>> match(np.ones((2, 3, 4, 8)), np.ones((2, 3, 4), bool), np.ones((2, 5, 9, 8))).shape
    (2, 5, 3, 6)
    """

    def __init__(self, width: int, hidden_dim: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        self.hidden_dim = int(hidden_dim)
        self.dropout = float(dropout)
        policy = self.dtype_policy
        self.feature_dense = keras.layers.Dense(
            self.width, activation="relu", dtype=policy, name="nn_sub_multi"
        )
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy, name="dropout")
        self.gru = keras.layers.GRU(self.hidden_dim, dtype=policy, name="response_gru")

    def build(self, utterances_shape, word_mask_shape, response_shape):
        for name, shape in (("utterances", utterances_shape), ("response", response_shape)):
            if int(shape[-1]) != self.width:
                raise ValueError(f"{name} have width {shape[-1]}, expected {self.width}")
        self.bilinear = self.add_weight(
            name="bilinear", shape=(self.width, self.width), initializer="glorot_uniform"
        )
        self.feature_dense.build((None, 2 * self.width))
        self.gru.build((None, response_shape[-2], self.width))
        self.built = True

    def call(self, utterances, word_mask, response, training=None):
        if len(utterances.shape) == 4:
            utterances = ops.expand_dims(utterances, 1)  # [B, 1, T, L, d]
        if len(response.shape) == 4:
            response = ops.expand_dims(response, 2)  # [B, C, 1, R, d]
        response = ops.cast(response, utterances.dtype)
        keys = ops.einsum("...ld,de->...le", utterances, ops.cast(self.bilinear, utterances.dtype))
        logits = ops.einsum("...rd,...ld->...rl", response, keys)  # [B, C, T, R, L]
        mask = ops.expand_dims(ops.expand_dims(ops.cast(word_mask, "bool"), 1), -2)  # [B,1,T,1,L]
        weights = masked_softmax(logits, mask, axis=-1)
        attended = ops.einsum(
            "...rl,...ld->...rd", ops.cast(weights, utterances.dtype), utterances
        )  # rbar [B, C, T, R, d]
        features = self.feature_dense(
            ops.concatenate([attended * response, attended - response], axis=-1)
        )
        features = self.dropout_layer(features, training=training)
        vectors = self.gru(_to_sequences(features), training=training)  # [B*C*T, H]
        shape = ops.shape(features)
        return ops.reshape(vectors, (shape[0], shape[1], features.shape[2], self.hidden_dim))

    def compute_output_shape(self, utterances_shape, word_mask_shape, response_shape):
        b = utterances_shape[0]
        c = response_shape[1]
        t = word_mask_shape[1]
        return (b, c, t, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, hidden_dim=self.hidden_dim, dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class LateFusion(keras.layers.Layer):
    """FLS: one turn GRU per representation type, final states combined.

    For each type k, ``h^k = GRU_k(v_1^k, ..., v_n^k)`` over the real turns
    (padded turns are masked steps: the state is the one at the last real
    turn), then ``score = sigmoid(w^T [h^1 ; ... ; h^K] + b)`` (float32).

    Args:
      hidden_dim: turn-GRU width.
      num_types: K.

    Call args:
      matching_vectors: list of K float ``[B, C, T, H_k]``.
      turn_mask: bool ``[B, T]``.

    Returns:
      float32 ``[B, C]`` in (0, 1).

    Example:
    >>> fusion = LateFusion(hidden_dim=6, num_types=2)
    >>> v = [np.random.rand(2, 5, 3, 4).astype("float32")] * 2
    >>> fusion(v, np.array([[True, True, False], [True, False, False]])).shape
    (2, 5)
    """

    def __init__(self, hidden_dim: int, num_types: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.num_types = int(num_types)
        policy = self.dtype_policy
        # unroll: the turn count is static and small (as SRS's FusionNetwork).
        # One attribute per layer (not a list): TensorFlow checkpoints track
        # attributes, not the lists Keras wraps.
        for k in range(self.num_types):
            gru = keras.layers.GRU(self.hidden_dim, unroll=True, dtype=policy, name=f"turn_gru_{k}")
            setattr(self, f"turn_gru_{k}", gru)
        self.score_dense = keras.layers.Dense(
            1, activation="sigmoid", dtype="float32", name="score"
        )

    @property
    def turn_grus(self) -> list:
        return [getattr(self, f"turn_gru_{k}") for k in range(self.num_types)]

    def build(self, matching_vectors_shape, turn_mask_shape):
        if len(matching_vectors_shape) != self.num_types:
            raise ValueError(
                f"expected {self.num_types} matching vectors, got {len(matching_vectors_shape)}"
            )
        for gru, shape in zip(self.turn_grus, matching_vectors_shape):
            gru.build((None, shape[2], shape[3]))
        self.score_dense.build((None, self.num_types * self.hidden_dim))
        self.built = True

    def call(self, matching_vectors, turn_mask, training=None):
        shape = ops.shape(matching_vectors[0])
        batch, candidates, turns = shape[0], shape[1], matching_vectors[0].shape[2]
        turn_mask = ops.broadcast_to(
            ops.expand_dims(ops.cast(turn_mask, "bool"), 1), (batch, candidates, turns)
        )
        mask = ops.reshape(turn_mask, (-1, turns))
        finals = [
            ops.cast(gru(_to_sequences(vectors), mask=mask, training=training), "float32")
            for gru, vectors in zip(self.turn_grus, matching_vectors)
        ]
        scores = self.score_dense(ops.concatenate(finals, axis=-1))
        return ops.reshape(scores, (batch, candidates))

    def compute_output_shape(self, matching_vectors_shape, turn_mask_shape):
        return (matching_vectors_shape[0][0], matching_vectors_shape[0][1])

    def compute_output_spec(self, matching_vectors, turn_mask, training=None):
        shape = matching_vectors[0].shape
        return keras.KerasTensor((shape[0], shape[1]), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, num_types=self.num_types)
        return config


def build_matcher(config: SRSConfig) -> keras.Model:
    """MRFN (FLS) on encoded stickers, with the matcher interface (matcher_io)."""
    inputs = matcher_inputs(config)
    regions, _ = normalized_stickers(inputs)  # O_flat is not used by MRFN
    context_ids = inputs["context_ids"]
    emb_dim, hidden_dim, dropout = int(config.emb_dim), int(config.hidden_dim), config.dropout
    heads = num_heads_for(emb_dim)
    turn_mask = TurnMask(config.context_len, name="turn_mask")(inputs["num_turns"])
    word_mask = WordMask(name="word_mask")(context_ids, turn_mask)
    words, response = WordRepresentation(
        config.vocab_size, emb_dim, dropout=dropout, name="word_representation"
    )(context_ids, regions)
    local_layer = LocalRepresentation(name="local_representation")
    representations = {
        "word": (emb_dim, (words, response)),
        "sequential": (
            hidden_dim,
            SequentialRepresentation(hidden_dim, name="sequential_representation")(
                words, word_mask, response
            ),
        ),
        "local": (local_layer.width, local_layer(words, word_mask, response)),
        "self_attention": (
            emb_dim,
            SelfAttentionRepresentation(emb_dim, heads, name="self_attention_representation")(
                words, word_mask, response
            ),
        ),
        "cross_attention": (
            emb_dim,
            CrossAttentionRepresentation(emb_dim, heads, name="cross_attention_representation")(
                words, word_mask, response
            ),
        ),
    }
    vectors = []
    for name in REPRESENTATIONS:
        width, (utterances, sticker) = representations[name]
        vectors.append(
            RepresentationMatching(width, hidden_dim, dropout=dropout, name=f"{name}_matching")(
                utterances, word_mask, sticker
            )
        )
    scores = LateFusion(hidden_dim, len(vectors), name="late_fusion")(vectors, turn_mask)
    sticker_attention, word_attention = UniformAttention(name="uniform_attention")(
        context_ids, turn_mask, regions
    )
    outputs = matcher_outputs(scores, sticker_attention, word_attention)
    return keras.Model(inputs, outputs, name="matcher")


__all__ = [
    "CrossAttentionRepresentation",
    "LateFusion",
    "LocalRepresentation",
    "RepresentationAttention",
    "RepresentationMatching",
    "SelfAttentionRepresentation",
    "SequentialRepresentation",
    "WordMask",
    "WordRepresentation",
    "build_matcher",
    "num_heads_for",
]
