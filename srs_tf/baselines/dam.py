"""DAM, the Deep Attention Matching network, as a sticker matcher (Table 3).

Original: Xiangyang Zhou, Lu Li, Daxiang Dong, Yi Liu, Ying Chen, Wayne Xin
Zhao, Dianhai Yu, Hua Wu, "Multi-Turn Response Selection for Chatbots with
Deep Attention Matching Network", ACL 2018. Reference code: ``baidu/Dialogue``
(directory ``DAM``, TensorFlow 1; ``models/net.py``, ``utils/layers.py``,
``utils/operations.py``, configuration in ``main.py``).

Kept from the original (paper §3 and the reference code):

* The attentive module without Q/K/V projections (``DamAttentiveModule``)::

      Vatt = LN(Q + softmax(Q K^T / sqrt(d)) V)
      AM(Q, K, V) = LN(Vatt + FFN(Vatt)),  FFN(x) = ReLU(x W1 + b1) W2 + b2

  (two layer norms, epsilon 1e-6, FFN widths d and d, orthogonal kernels;
  the reference's dense layers have one scalar bias each, here one per unit).
* Stacked self-attention ``U^{l+1} = AM(U^l, U^l, U^l)`` and
  ``R^{l+1} = AM(R^l, R^l, R^l)`` for l < Ls, ``Ls = STACK_DEPTH = 5`` (six
  granularities l = 0..5). As in the reference code (variable scope
  ``self_stack_i`` reused), level i's module is shared by the utterances and
  the response (``DamSelfAttentionStack`` is called on both).
* Self-matching ``M_self^l[k, t] = U^l_k . R^l_t`` and cross-matching
  ``M_cross^l[k, t] = U~^l_k . R~^l_t`` with ``U~^l = AM(U^l, R^l, R^l)`` and
  ``R~^l = AM(R^l, U^l, U^l)`` (separate modules per level and direction, the
  reference's ``t_attend_r_i`` / ``r_attend_t_i``). Every matrix is divided by
  ``sqrt(d)`` as in the reference code (``/ tf.sqrt(200.0)``, its d = 200,
  "to prevent gradient explosion"; the paper's eq. writes the bare dot).
* The cube ``Q [T, L, R, 2(Ls+1)]`` (channels: the Ls+1 self-matching then the
  Ls+1 cross-matching matrices, paper's order) and its aggregation
  (``DamAggregation``, reference ``CNN_3d(sim, 32, 16)`` for Ubuntu): 3-D conv
  32 filters 3x3x3 ``SAME`` + ELU -> 3-D max-pool 3x3x3 stride 3 ``SAME`` ->
  3-D conv 16 filters 3x3x3 + ELU -> the same max-pool -> flatten ->
  one-unit dense (orthogonal init; the reference's logistic output). Conv
  kernels start uniform in [-0.01, 0.01], biases 0, as in the reference.
* No positional encoding: the paper has none and the reference code's
  optional sinusoidal one (``is_positional``) is off in its configuration.
  No dropout (the reference's ``drop_attention`` / ``drop_dense`` are None),
  so ``config.dropout`` is not used.

Adapted for stickers (paper §6.2: Inception-v3 replaces the candidate
response encoder):

* The response "words" are the R = 36 region vectors of O (eq. 1, after
  ``normalized_stickers``) in raster order, projected to d by a bias-free
  dense layer (``DamStickerResponse``); R^0 is that sequence. All regions are
  real (the response mask is all True). With no positional encoding the
  attention layers ignore region order; only the 3-D convolution sees it,
  along its R axis (the 6x6 grid read row after row). O_flat has no role in
  DAM (the model has no ``flat_normalization`` layer).
* The score goes through a sigmoid (the project's hinge on sigmoid scores;
  the reference trains the logit with cross-entropy).
* Masks really mask (the reference masks only attention logits, lets padded
  query rows attend uniformly and lets padded positions reach the CNN):
  padded keys are excluded from every softmax (``masked_softmax``), padded
  query rows are 0, padding words and all words of padded turns (index >=
  ``num_turns``, whatever ids they hold) are 0 from the embedding on, and the
  cube entries of padded words and of padded turns are set to 0 before the
  3-D convolution. The cube keeps its fixed ``T x L x R`` size (no word
  trimming), so a padded turn is a block of zeros whatever it held.
* ``word_attention`` / ``sticker_attention``: DAM has no single attention
  distribution per turn (it has one per word and per region and level), so
  the matcher outputs ``UniformAttention``.

Hyper-parameters: d = ``config.emb_dim`` (100, §6.4; the original uses
200-dimensional word2vec embeddings) is the width of every layer (DAM has
no separate hidden size, so ``config.hidden_dim`` is not used); Ls = 5;
conv filters 32 and 16; T = 15 turns (original: 9), L = 30 words (original:
50), R = 36 regions. Word embeddings start normal(0, 0.1) like the
reference's random initialisation.

The cost is dominated by two parts that grow with B*C*T (every candidate
against every turn): the cross-attention modules (12 AMs over 30x36 pairs)
and the first 3-D convolution over the ``[15, 30, 36, 12]`` cube of every
(example, candidate) (see docs/BASELINES.md for measured times).
"""

from __future__ import annotations

import math

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

STACK_DEPTH = 5  # Ls: self-attention layers above the embeddings (original: 5)
CONV_FILTERS = (32, 16)  # the reference's CNN_3d(sim, 32, 16) (Ubuntu)
POOL_SIZE = 3  # 3x3x3 max-pool, stride 3, SAME padding
KERNEL_SIZE = 3  # 3x3x3 convolutions, SAME padding
_LN_EPSILON = 1e-6  # reference layer_norm_debug


def pooled_size(size: int, stages: int = len(CONV_FILTERS)) -> int:
    """Length of one cube axis after ``stages`` SAME max-pools of stride 3."""
    for _ in range(stages):
        size = -(-int(size) // POOL_SIZE)
    return size


@keras.saving.register_keras_serializable(package="srs_tf")
class DamAttentiveModule(keras.layers.Layer):
    """DAM's attentive module AM(Q, K, V), paper §3.2 (no Q/K/V projections).

    ::

        Vatt = LN(Q + softmax(Q K^T / sqrt(d)) V)         softmax over real keys
        AM   = LN(Vatt + FFN(Vatt)),  FFN(x) = max(0, x W1 + b1) W2 + b2

    Leading axes of query and key/value broadcast against each other (a
    ``[B, 1, T, L, d]`` query attends to ``[B, C, 1, R, d]`` keys for every
    candidate and turn). Outputs at padded query rows are 0; a query whose
    keys are all padding gets ``LN(Q)`` through the FFN (its attention is 0).

    Args:
      width: d, the width of queries, keys, values and both FFN layers.

    Call args:
      query: float ``[..., Nq, d]``.
      key: float ``[..., Nk, d]`` (also the values, as everywhere in DAM).
      query_mask: optional bool ``[..., Nq]`` (True = real).
      key_mask: optional bool ``[..., Nk]``.

    Returns:
      float ``[..., Nq, d]`` (broadcast leading axes).

    Example:
    >>> am = DamAttentiveModule(width=8)
    >>> q, k = np.random.rand(2, 5, 8), np.random.rand(2, 7, 8)
    >>> am(q, k, key_mask=np.arange(7)[None] < np.array([[3], [7]])).shape
    (2, 5, 8)
    """

    def __init__(self, width: int, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        policy = self.dtype_policy
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=_LN_EPSILON, dtype=policy, name="attention_norm"
        )
        self.ffn_inner = keras.layers.Dense(
            self.width,
            activation="relu",
            kernel_initializer="orthogonal",
            dtype=policy,
            name="ffn_inner",
        )
        self.ffn_outer = keras.layers.Dense(
            self.width, kernel_initializer="orthogonal", dtype=policy, name="ffn_outer"
        )
        self.ffn_norm = keras.layers.LayerNormalization(
            epsilon=_LN_EPSILON, dtype=policy, name="ffn_norm"
        )

    def build(self, query_shape, key_shape=None, query_mask_shape=None, key_mask_shape=None):
        shape = (None, self.width)
        self.attention_norm.build(shape)
        self.ffn_inner.build(shape)
        self.ffn_outer.build(shape)
        self.ffn_norm.build(shape)
        self.built = True

    def call(self, query, key, query_mask=None, key_mask=None):
        query = ops.cast(query, self.compute_dtype)
        key = ops.cast(key, self.compute_dtype)
        logits = ops.matmul(query, ops.swapaxes(key, -1, -2)) / math.sqrt(self.width)
        if key_mask is None:
            key_mask = ops.ones(ops.shape(key)[:-1], dtype="bool")
        weights = masked_softmax(logits, ops.expand_dims(ops.cast(key_mask, "bool"), -2))
        attended = ops.matmul(ops.cast(weights, key.dtype), key)
        hidden = self.attention_norm(query + attended)
        hidden = self.ffn_norm(hidden + self.ffn_outer(self.ffn_inner(hidden)))
        if query_mask is not None:
            hidden = hidden * ops.cast(ops.expand_dims(query_mask, -1), hidden.dtype)
        return hidden

    def compute_output_shape(
        self, query_shape, key_shape=None, query_mask_shape=None, key_mask_shape=None
    ):
        return tuple(query_shape)

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class DamWordEmbedding(keras.layers.Layer):
    """U^0: word embeddings of every turn, 0 at padding (paper §3.1).

    A word is real when its id is not 0 and its turn is real (``turn_mask``),
    so a padded turn is all zeros whatever ids it holds.

    Args:
      vocab_size: number of word ids (0 = padding).
      width: d (``config.emb_dim``).

    Call args:
      context_ids: int ``[B, T, L]``.
      turn_mask: bool ``[B, T]``.

    Returns:
      ``(U^0 float [B, T, L, d], word_mask bool [B, T, L])``.

    Example:
    >>> emb = DamWordEmbedding(vocab_size=20, width=8)
    >>> u0, mask = emb(np.array([[[3, 4, 0], [5, 6, 7]]]), np.array([[True, False]]))
    >>> mask   # [[[T, T, F], [F, F, F]]]
    """

    def __init__(self, vocab_size: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.width = int(width)
        self.embedding = keras.layers.Embedding(
            self.vocab_size,
            self.width,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.1),
            dtype=self.dtype_policy,
            name="word_embedding",
        )

    def build(self, context_ids_shape, turn_mask_shape=None):
        self.embedding.build(context_ids_shape)
        self.built = True

    def call(self, context_ids, turn_mask):
        context_ids = ops.cast(context_ids, "int32")
        word_mask = ops.logical_and(
            ops.not_equal(context_ids, 0), ops.expand_dims(ops.cast(turn_mask, "bool"), -1)
        )
        embedded = self.embedding(context_ids)
        return embedded * ops.cast(ops.expand_dims(word_mask, -1), embedded.dtype), word_mask

    def compute_output_shape(self, context_ids_shape, turn_mask_shape=None):
        return tuple(context_ids_shape) + (self.width,), tuple(context_ids_shape)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, width=self.width)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class DamStickerResponse(keras.layers.Layer):
    """R^0: the sticker as DAM's response, its regions as the response words.

    ``R^0_k = O_k W`` (bias-free) for the R regions of O in raster order;
    every region is real. DAM matches sequences only: O_flat is not used.

    Args:
      width: d.

    Call args:
      sticker_regions: float ``[B, C, R, D]`` (D = 768).

    Returns:
      ``(R^0 float [B, C, R, d], response_mask bool [B, C, R], all True)``.

    Example:
    >>> resp = DamStickerResponse(width=8)
    >>> r0, mask = resp(np.random.rand(2, 3, 9, 768))
    >>> r0.shape, mask.shape
    ((2, 3, 9, 8), (2, 3, 9))
    """

    def __init__(self, width: int, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        self.projection = keras.layers.Dense(
            self.width, use_bias=False, dtype=self.dtype_policy, name="region_projection"
        )

    def build(self, sticker_regions_shape):
        self.projection.build(sticker_regions_shape)
        self.built = True

    def call(self, sticker_regions):
        response = self.projection(sticker_regions)
        return response, ops.ones(ops.shape(response)[:-1], dtype="bool")

    def compute_output_shape(self, sticker_regions_shape):
        return tuple(sticker_regions_shape[:-1]) + (self.width,), tuple(sticker_regions_shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class DamSelfAttentionStack(keras.layers.Layer):
    """Stacked self-attention (paper §3.2): ``X^{l+1} = AM_l(X^l, X^l, X^l)``.

    One instance serves the utterances and the response (the reference code
    reuses level l's variables for both). Level 0 is the input itself.

    Args:
      width: d.
      stack_depth: Ls (original 5); the output has Ls + 1 levels.

    Call args:
      inputs: float ``[..., N, d]`` (0 at padding).
      mask: bool ``[..., N]`` (True = real position).

    Returns:
      float ``[..., Ls + 1, N, d]``: ``X^0 .. X^Ls``, 0 at padded positions.

    Example:
    >>> stack = DamSelfAttentionStack(width=8, stack_depth=2)
    >>> stack(np.random.rand(2, 4, 6, 8), np.ones((2, 4, 6), bool)).shape
    (2, 4, 3, 6, 8)
    """

    def __init__(self, width: int, stack_depth: int = STACK_DEPTH, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        self.stack_depth = int(stack_depth)
        # One attribute per level (not a list): TensorFlow checkpoints track
        # attributes, not the lists Keras wraps (see `levels`).
        for i in range(self.stack_depth):
            setattr(
                self,
                f"level_{i}",
                DamAttentiveModule(self.width, dtype=self.dtype_policy, name=f"self_attention_{i}"),
            )

    @property
    def levels(self) -> list:
        return [getattr(self, f"level_{i}") for i in range(self.stack_depth)]

    def build(self, inputs_shape, mask_shape=None):
        for level in self.levels:
            level.build(inputs_shape, inputs_shape)
        self.built = True

    def call(self, inputs, mask):
        mask = ops.cast(mask, "bool")
        hidden = ops.cast(inputs, self.compute_dtype)
        hidden = hidden * ops.cast(ops.expand_dims(mask, -1), hidden.dtype)
        outputs = [hidden]
        for level in self.levels:
            hidden = level(hidden, hidden, query_mask=mask, key_mask=mask)
            outputs.append(hidden)
        return ops.stack(outputs, axis=-3)

    def compute_output_shape(self, inputs_shape, mask_shape=None):
        shape = tuple(inputs_shape)
        return shape[:-2] + (self.stack_depth + 1,) + shape[-2:]

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, stack_depth=self.stack_depth)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class DamMatchingCube(keras.layers.Layer):
    """Self- and cross-matching of every turn with every candidate (paper §3.3).

    For each example b, candidate c, turn i and level l = 0..Ls::

        M_self^l[k, t]  = U_i^l[k] . R_c^l[t] / sqrt(d)
        U~^l = AM(U_i^l, R_c^l, R_c^l),   R~^l = AM(R_c^l, U_i^l, U_i^l)
        M_cross^l[k, t] = U~^l[k] . R~^l[t] / sqrt(d)
        Q[b, c, i, k, t] = [M_self^0..Ls ; M_cross^0..Ls][k, t]

    (``sqrt(d)``: the reference code's scaling.) Entries of padded words (which
    include every word of a padded turn) and of padded response positions are
    0. All candidates and turns are computed at once by broadcasting
    ``[B, 1, T, ...]`` against ``[B, C, 1, ...]``.

    Args:
      width: d.
      stack_depth: Ls; 2 (Ls + 1) cross-attention modules, one per level and
        direction.

    Call args:
      utterances: float ``[B, T, Ls + 1, L, d]`` (``DamSelfAttentionStack``).
      word_mask: bool ``[B, T, L]``, real words of real turns.
      response: float ``[B, C, Ls + 1, R, d]``.
      response_mask: optional bool ``[B, C, R]`` (default: all real).

    Returns:
      float ``[B, C, T, L, R, 2 (Ls + 1)]``, the cube of each (b, c).

    Example:
    >>> cube = DamMatchingCube(width=8, stack_depth=1)
    >>> u, r = np.random.rand(2, 4, 2, 6, 8), np.random.rand(2, 3, 2, 9, 8)
    >>> cube(u, np.ones((2, 4, 6), bool), r).shape
    (2, 3, 4, 6, 9, 4)
    """

    def __init__(self, width: int, stack_depth: int = STACK_DEPTH, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        self.stack_depth = int(stack_depth)
        policy = self.dtype_policy
        # One attribute per module (not lists): TensorFlow checkpoints track
        # attributes, not the lists Keras wraps.
        for i in range(self.stack_depth + 1):
            for name in ("word_attends_sticker", "sticker_attends_word"):
                module = DamAttentiveModule(self.width, dtype=policy, name=f"{name}_{i}")
                setattr(self, f"{name}_{i}", module)

    @property
    def word_attends_sticker(self) -> list:
        return [getattr(self, f"word_attends_sticker_{i}") for i in range(self.stack_depth + 1)]

    @property
    def sticker_attends_word(self) -> list:
        return [getattr(self, f"sticker_attends_word_{i}") for i in range(self.stack_depth + 1)]

    def build(self, utterances_shape, word_mask_shape, response_shape, response_mask_shape=None):
        for module in self.word_attends_sticker + self.sticker_attends_word:
            module.build((None, self.width), (None, self.width))
        self.built = True

    def call(self, utterances, word_mask, response, response_mask=None):
        utterances = ops.cast(utterances, self.compute_dtype)
        response = ops.cast(response, self.compute_dtype)
        if response_mask is None:
            response_mask = ops.ones(ops.shape(response)[:2] + (ops.shape(response)[3],), "bool")
        words = ops.expand_dims(ops.cast(word_mask, "bool"), 1)  # [B, 1, T, L]
        regions = ops.expand_dims(ops.cast(response_mask, "bool"), 2)  # [B, C, 1, R]
        scale = 1.0 / math.sqrt(self.width)
        self_matching, cross_matching = [], []
        for level in range(self.stack_depth + 1):
            u = ops.expand_dims(utterances[:, :, level], 1)  # [B, 1, T, L, d]
            r = ops.expand_dims(response[:, :, level], 2)  # [B, C, 1, R, d]
            self_matching.append(ops.matmul(u, ops.swapaxes(r, -1, -2)) * scale)
            u_cross = self.word_attends_sticker[level](u, r, words, regions)  # [B, C, T, L, d]
            r_cross = self.sticker_attends_word[level](r, u, regions, words)  # [B, C, T, R, d]
            cross_matching.append(ops.matmul(u_cross, ops.swapaxes(r_cross, -1, -2)) * scale)
        cube = ops.stack(self_matching + cross_matching, axis=-1)  # [B, C, T, L, R, 2(Ls+1)]
        keep = ops.logical_and(
            ops.expand_dims(words, -1), ops.expand_dims(regions, -2)
        )  # [B, C, T, L, R]
        return cube * ops.cast(ops.expand_dims(keep, -1), cube.dtype)

    def compute_output_shape(
        self, utterances_shape, word_mask_shape, response_shape, response_mask_shape=None
    ):
        b, t, _, words, _ = utterances_shape
        c, regions = response_shape[1], response_shape[3]
        return (b, c, t, words, regions, 2 * (self.stack_depth + 1))

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, stack_depth=self.stack_depth)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class DamAggregation(keras.layers.Layer):
    """3-D CNN over each cube and the matching score (paper §3.4).

    ::

        h = MaxPool3(ELU(Conv3(Q, 32)))        3x3x3 conv / pool, stride 3, SAME
        h = MaxPool3(ELU(Conv3(h, 16)))
        g = sigmoid(w . flatten(h) + b)

    over the axes (turn, word, region) of each ``[T, L, R, 2(Ls+1)]`` cube.
    The score is float32; so are the max-pools (TF has no float16 MaxPool3D
    on CPUs), the convolutions run in the compute dtype.

    Args:
      filters: output channels of the two convolutions (original 32, 16).

    Call args:
      cube: float ``[B, C, T, L, R, channels]`` (``DamMatchingCube``).

    Returns:
      float32 ``[B, C]`` scores in (0, 1).

    Example:
    >>> agg = DamAggregation()
    >>> agg(np.random.rand(2, 3, 4, 6, 9, 4).astype("float32")).shape
    (2, 3)
    """

    def __init__(self, filters=CONV_FILTERS, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(int(f) for f in filters)
        policy = self.dtype_policy
        # One attribute per convolution (not a list): TensorFlow checkpoints
        # track attributes, not the lists Keras wraps.
        for i, count in enumerate(self.filters):
            conv = keras.layers.Conv3D(
                count,
                KERNEL_SIZE,
                padding="same",
                activation="elu",
                kernel_initializer=keras.initializers.RandomUniform(-0.01, 0.01),
                dtype=policy,
                name=f"conv3d_{i}",
            )
            setattr(self, f"conv3d_{i}", conv)
        self.poolings = [
            # float32: TF has no float16 MaxPool3D kernel on CPUs (max is exact anyway).
            keras.layers.MaxPooling3D(
                POOL_SIZE,
                strides=POOL_SIZE,
                padding="same",
                dtype="float32",
                name=f"max_pool3d_{i}",
            )
            for i in range(len(self.filters))
        ]
        self.score_dense = keras.layers.Dense(
            1,
            activation="sigmoid",
            kernel_initializer="orthogonal",
            dtype="float32",
            name="score",
        )

    @property
    def convolutions(self) -> list:
        return [getattr(self, f"conv3d_{i}") for i in range(len(self.filters))]

    def build(self, cube_shape):
        turns, words, regions, channels = (int(s) for s in cube_shape[2:])
        shape = (None, turns, words, regions, channels)
        for conv, pool in zip(self.convolutions, self.poolings):
            conv.build(shape)
            shape = shape[:4] + (conv.filters,)
            pool.build(shape)
            shape = (None,) + tuple(pooled_size(s, 1) for s in shape[1:4]) + shape[4:]
        self.score_dense.build((None, shape[1] * shape[2] * shape[3] * shape[4]))
        self.built = True

    def call(self, cube):
        shape = ops.shape(cube)
        hidden = ops.reshape(ops.cast(cube, self.compute_dtype), (-1,) + tuple(cube.shape[2:]))
        for conv, pool in zip(self.convolutions, self.poolings):
            hidden = pool(ops.cast(conv(hidden), "float32"))
        features = ops.reshape(hidden, (shape[0], shape[1], -1))
        scores = self.score_dense(ops.cast(features, "float32"))  # [B, C, 1]
        return ops.squeeze(scores, -1)

    def compute_output_shape(self, cube_shape):
        return (cube_shape[0], cube_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(filters=list(self.filters))
        return config


def build_matcher(config: SRSConfig, stack_depth: int = STACK_DEPTH) -> keras.Model:
    """DAM's matcher (see the module doc) with the project's matcher interface.

    ``stack_depth``: Ls (the original's 5; tests use 1-2 for speed).
    """
    width = int(config.emb_dim)
    inputs = matcher_inputs(config)
    regions, _ = normalized_stickers(inputs)  # O_flat is not used by DAM
    turn_mask = TurnMask(config.context_len, name="turn_mask")(inputs["num_turns"])
    words, word_mask = DamWordEmbedding(config.vocab_size, width, name="word_embedding")(
        inputs["context_ids"], turn_mask
    )
    response, response_mask = DamStickerResponse(width, name="sticker_response")(regions)
    self_attention = DamSelfAttentionStack(width, stack_depth, name="self_attention_stack")
    utterance_levels = self_attention(words, word_mask)  # [B, T, Ls+1, L, d]
    response_levels = self_attention(response, response_mask)  # [B, C, Ls+1, R, d]
    cube = DamMatchingCube(width, stack_depth, name="matching_cube")(
        utterance_levels, word_mask, response_levels, response_mask
    )
    scores = DamAggregation(name="aggregation")(cube)
    sticker_attention, word_attention = UniformAttention(name="uniform_attention")(
        inputs["context_ids"], turn_mask, inputs["sticker_regions"]
    )
    return keras.Model(
        inputs, matcher_outputs(scores, sticker_attention, word_attention), name="matcher"
    )
