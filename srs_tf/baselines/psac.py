"""PSAC: Positional Self-Attention with Co-attention, adapted to sticker selection.

Original: X. Li, J. Song, L. Gao, X. Liu, W. Huang, X. He, C. Gan, "Beyond
RNNs: Positional Self-Attention with Co-Attention for Video Question
Answering", AAAI 2019. Public reference code: ``lixiangpengcs/PSAC``
(PyTorch; ``code_file/models/language_model.py``, ``model_utils.py``,
``Trans_model.py``); read for facts only.

What PSAC does (video QA): the video frames and the question words are each
encoded by a *positional self-attention* block (absolute positional encoding
added to the sequence, multi-head scaled dot-product self-attention and a
feed-forward layer, each with a residual connection and layer norm; the
question also has a word + character embedding with a highway network). A
*co-attention* block then relates the two: from the trilinear similarity
``S_kj = w1.v_k + w2.q_j + (w3 * v_k).q_j`` of frame ``k`` and word ``j`` it
forms the video-guided question attention ``S1 = softmax_j(S)`` (which words
each frame listens to) and the question-guided video attention
``S2 = softmax_k(S)``, with ``A = S1 Q`` and ``B = S1 S2^T V``; the fused
``[V ; A ; V*A ; V*B]`` is resized, averaged over the frames and a two-layer
classifier gives the output. The release's multiple-choice tasks (Trans,
Action) score each candidate answer this way and train with a multi-class
hinge loss (``MultiMarginLoss``).

Adapted for stickers (paper §6.2: "We replace the output probability on the
vocabulary size with the probability on candidate sticker set"):

* The "video" is the candidate sticker: its R = 36 regions ``O`` (eq. 1, after
  ``normalized_stickers``) in raster order, each projected bias-free to
  ``hidden_dim``, form the frame sequence (``StickerFrames``). ``O_flat``,
  projected bias-free to ``hidden_dim``, is added to every region as the
  sticker's whole-image component (PSAC has no one-vector input; as a video
  model it reads per-frame features, and the whole-image vector is the
  closest analogue of the clip-level context each frame carries). Positions are encoded
  in 2-D: the first half of the channels carries the sinusoid of the region's
  row, the second half that of its column (a sticker's regions form a grid,
  not a time line).
* The "question" is the context: all ``T*L`` word positions flattened into
  one sequence (turn-major), the sinusoid over the flat position index.
  Padding words and every word of a padded turn (whatever id it holds) are
  masked keys of the self-attention and of the co-attention, their states
  are zeroed, and they take no part in any output.
* The output layer gives one ``sigmoid`` score per candidate
  (``Dense(1, sigmoid)``), so the candidate list is ranked with the
  project's hinge loss on sigmoid scores (eq. 17) like every other model.
* Attention outputs: ``word_attention`` is the sticker-guided word attention
  ``S1`` averaged over the regions and renormalised over the real words of
  each turn (computed in log space, ``CoAttention``); ``sticker_attention``
  is the word-guided region attention ``S2`` averaged over the real words of
  each turn. Both are 0 on padded turns and padded words.

Left out, with reasons: the character embedding (the matcher reads word ids
only); the four depthwise-separable convolutions (kernel 7) of the release's
question encoder (a QANet encoder block: they are QANet's part of it, not
the positional self-attention, and over the flattened context they would
run across turn boundaries); the trilinear bias (it cancels in both
softmaxes); weight normalisation of the classifier. The release's video
positional table is a learned embedding initialised with the sinusoid and
projected to the frame width; here the fixed sinusoid is added directly, as
the release does for the question. In both streams the encoding is added to
the block's input, as in the release code (the abstract words it as adding
absolute positions to the self-attention response). Both blocks use the
post-norm residual layout of the release's video encoder (``EncoderLayer``);
the release's question block is pre-norm (QANet).

Hyper-parameters: 8 attention heads (the release's ``n_head`` / ``Nh``) of
width ``ceil(hidden_dim / 8)`` (13 at 100), one positional self-attention
block per stream (the release's defaults: ``vid_enc_layers=1``, one question
encoder block), the video encoder's outer residual ``PSA(v) + v`` as in the
release (``TransModel.forward``), two highway layers on the word embedding,
classifier ``hidden -> 2*hidden -> 1`` with dropout 0.5 (release
``SimpleClassifier``), dropout ``config.dropout`` (0.1, the release's)
elsewhere; widths from SRSConfig: ``emb_dim`` = ``hidden_dim`` = 100
(§6.4) instead of the release's 300-d GloVe and 512/2048-d features.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from srs_tf.model.attentive_module import masked_softmax
from srs_tf.model.fusion import TurnMask
from srs_tf.model.matcher_io import matcher_inputs, matcher_outputs, normalized_stickers
from srs_tf.model_config import SRSConfig

NUM_HEADS = 8  # release: n_head=8 (video Encoder), Nh=8 (question SelfAttention)
NUM_BLOCKS = 1  # release defaults: vid_enc_layers=1; one question EncoderBlock
HIGHWAY_LAYERS = 2  # release: Highway(2) after the word embedding
CLASSIFIER_DROPOUT = 0.5  # release: SimpleClassifier(num_hid, 2*num_hid, 1, 0.5)
_MASKED_LOGIT = -1e9


def timing_signal(positions, channels: int) -> np.ndarray:
    """Sinusoidal encoding ``[len(positions), channels]`` (Vaswani et al.).

    ``n = channels // 2`` timescales ``1e4^(-i / (n - 1))``; the first ``n``
    channels are ``sin(pos * timescale_i)``, the next ``n`` the cosines, a
    last odd channel is 0 (the release's ``get_timing_signal``).
    """
    positions = np.asarray(positions, dtype=np.float64)
    half = channels // 2
    increment = math.log(1e4) / max(half - 1, 1)
    inv_timescales = np.exp(-np.arange(half, dtype=np.float64) * increment)
    scaled = positions[:, None] * inv_timescales[None, :]
    signal = np.concatenate([np.sin(scaled), np.cos(scaled)], axis=1)
    if channels % 2:
        signal = np.concatenate([signal, np.zeros((len(positions), 1))], axis=1)
    return signal


def position_table(length: int, channels: int, positions: str) -> np.ndarray:
    """The positional encoding ``[length, channels]`` (float32).

    ``"sequence"``: the sinusoid of the index ``0 .. length-1``. ``"grid"``:
    ``length = side**2`` positions in raster order; channels ``[0, C//2)``
    encode the row, ``[C//2, C)`` the column.
    """
    if positions == "sequence":
        return timing_signal(np.arange(length), channels).astype(np.float32)
    if positions != "grid":
        raise ValueError(f"positions must be 'sequence' or 'grid', got {positions!r}")
    side = math.isqrt(length)
    if side * side != length:
        raise ValueError(f"a grid needs a square number of positions, got {length}")
    index = np.arange(length)
    rows = timing_signal(index // side, channels // 2)
    cols = timing_signal(index % side, channels - channels // 2)
    return np.concatenate([rows, cols], axis=1).astype(np.float32)


@keras.saving.register_keras_serializable(package="srs_tf")
class PositionalSelfAttention(keras.layers.Layer):
    """PSAC's positional self-attention block (one block; post-norm residuals).

    For a sequence ``x [S, H]`` with real positions ``m`` and the fixed
    sinusoidal positional encoding ``P`` (``position_table``)::

        x0      = x + P
        head_i  = softmax_k(x0 Wq_i . x0 Wk_i / sqrt(d)) x0 Wv_i   over real keys k
        h1      = LayerNorm(x0 + Dropout([head_1 .. head_h] Wo + bo))
        h       = LayerNorm(h1 + Dropout(ReLU(h1 W1 + b1) W2 + b2))

    ``Wq, Wk, Wv`` are bias-free (as in the release); ``d = ceil(H / heads)``.
    Outputs at padded positions are 0. Any number of leading axes is
    supported (``[B, C, R, H]`` runs every candidate at once); ``S`` must be
    static (it sizes ``P``).

    Args:
      hidden_dim: H, the input and output width (residuals).
      num_heads: attention heads (release: 8).
      positions: ``"sequence"`` (1-D index) or ``"grid"`` (2-D, square S).
      dropout: dropout of both sub-layer outputs.

    Call args:
      inputs: float ``[..., S, H]``.
      padding_mask: bool ``[..., S]``, True for real positions (optional).
      training: enables dropout.

    Returns:
      float ``[..., S, H]``.

    Example:
    >>> block = PositionalSelfAttention(hidden_dim=8, num_heads=2)
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> block(x, padding_mask=np.array([[1, 1, 1, 0, 0], [1] * 5], bool)).shape
    (2, 5, 8)
    """

    def __init__(
        self,
        hidden_dim: int,
        num_heads: int = NUM_HEADS,
        positions: str = "sequence",
        dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if positions not in ("sequence", "grid"):
            raise ValueError(f"positions must be 'sequence' or 'grid', got {positions!r}")
        self.hidden_dim = int(hidden_dim)
        self.num_heads = int(num_heads)
        self.positions = positions
        self.dropout = float(dropout)
        self.head_dim = -(-self.hidden_dim // self.num_heads)
        width = self.num_heads * self.head_dim
        policy = self.dtype_policy
        self.query_dense = keras.layers.Dense(width, use_bias=False, dtype=policy, name="query")
        self.key_dense = keras.layers.Dense(width, use_bias=False, dtype=policy, name="key")
        self.value_dense = keras.layers.Dense(width, use_bias=False, dtype=policy, name="value")
        self.output_dense = keras.layers.Dense(self.hidden_dim, dtype=policy, name="attention_out")
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=policy, name="attention_norm"
        )
        self.ffn_inner = keras.layers.Dense(
            self.hidden_dim, activation="relu", dtype=policy, name="ffn_inner"
        )
        self.ffn_outer = keras.layers.Dense(self.hidden_dim, dtype=policy, name="ffn_outer")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-6, dtype=policy, name="ffn_norm")
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy, name="dropout")
        self.position_encoding = None  # numpy [S, H], made in build()

    def build(self, inputs_shape, padding_mask_shape=None):
        length, width = inputs_shape[-2], int(inputs_shape[-1])
        if length is None:
            raise ValueError("PositionalSelfAttention needs a static sequence length")
        if width != self.hidden_dim:
            raise ValueError(f"input width {width} must equal hidden_dim {self.hidden_dim}")
        self.position_encoding = position_table(int(length), self.hidden_dim, self.positions)
        shape = (None, int(length), self.hidden_dim)
        for dense in (self.query_dense, self.key_dense, self.value_dense, self.ffn_inner):
            dense.build(shape)
        self.output_dense.build((None, int(length), self.num_heads * self.head_dim))
        self.ffn_outer.build(shape)
        self.attention_norm.build(shape)
        self.ffn_norm.build(shape)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None):
        length, width = int(inputs.shape[-2]), self.hidden_dim
        x = ops.reshape(inputs, (-1, length, width))
        if padding_mask is None:
            mask = ops.ones(ops.shape(x)[:2], dtype="bool")
        else:
            mask = ops.reshape(ops.cast(padding_mask, "bool"), (-1, length))
        x = x + ops.convert_to_tensor(self.position_encoding, dtype=x.dtype)
        split = (-1, length, self.num_heads, self.head_dim)
        query = ops.reshape(self.query_dense(x), split)
        key = ops.reshape(self.key_dense(x), split)
        value = ops.reshape(self.value_dense(x), split)
        logits = ops.einsum("bqhd,bkhd->bhqk", query, key)
        logits = ops.cast(logits, "float32") / math.sqrt(self.head_dim)
        alpha = masked_softmax(logits, mask[:, None, None, :], axis=-1)  # [N, heads, S, S]
        heads = ops.einsum("bhqk,bkhd->bqhd", ops.cast(alpha, value.dtype), value)
        heads = ops.reshape(heads, (-1, length, self.num_heads * self.head_dim))
        attended = self.dropout_layer(self.output_dense(heads), training=training)
        hidden = self.attention_norm(x + attended)
        inner = self.dropout_layer(self.ffn_outer(self.ffn_inner(hidden)), training=training)
        hidden = self.ffn_norm(hidden + inner)
        hidden = hidden * ops.cast(mask[..., None], hidden.dtype)
        return ops.reshape(hidden, ops.shape(inputs))

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_dim=self.hidden_dim,
            num_heads=self.num_heads,
            positions=self.positions,
            dropout=self.dropout,
        )
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class ContextEmbedding(keras.layers.Layer):
    """The context as PSAC's "question": embedded words of all turns, flattened.

    ::

        e_j  = Dropout(E[w_j])                           word embedding
        x_j  = e_j Wp                                    bias-free projection to H
        x_j  = g * (x_j Wn + bn) + (1 - g) * x_j,  g = sigmoid(x_j Wg + bg)   (x2, highway)

    The ``[B, T, L]`` words are flattened turn-major to ``T*L`` positions. A
    word is real when its id is not 0 *and* its turn is real (``turn_mask``);
    other positions are zeroed and masked.

    Args:
      vocab_size, emb_dim, hidden_dim: embedding table size and widths.
      dropout: dropout of the embedding and of the highway transforms.

    Call args:
      context_ids: int ``[B, T, L]`` (0 = padding word).
      turn_mask: bool ``[B, T]``.
      training: enables dropout.

    Returns:
      ``(words [B, T*L, H], word_mask bool [B, T*L])``.

    Example:
    >>> layer = ContextEmbedding(vocab_size=20, emb_dim=4, hidden_dim=8)
    >>> ids = np.array([[[3, 4, 0], [0, 0, 0]]], "int32")      # B=1, T=2, L=3
    >>> words, mask = layer(ids, np.array([[True, False]]))
    >>> words.shape, mask.numpy()                                # (1, 6, 8), [[T, T, F, F, F, F]]
    """

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.emb_dim = int(emb_dim)
        self.hidden_dim = int(hidden_dim)
        self.dropout = float(dropout)
        policy = self.dtype_policy
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.emb_dim, dtype=policy, name="word_embedding"
        )
        self.projection = keras.layers.Dense(
            self.hidden_dim, use_bias=False, dtype=policy, name="projection"
        )
        # One attribute per layer (not a list): TensorFlow checkpoints track
        # attributes, not the lists Keras wraps.
        for i in range(HIGHWAY_LAYERS):
            gate = keras.layers.Dense(
                self.hidden_dim, activation="sigmoid", dtype=policy, name=f"highway_gate_{i}"
            )
            transform = keras.layers.Dense(
                self.hidden_dim, dtype=policy, name=f"highway_transform_{i}"
            )
            setattr(self, f"highway_gate_{i}", gate)
            setattr(self, f"highway_transform_{i}", transform)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy, name="dropout")

    @property
    def highway_gates(self) -> list:
        return [getattr(self, f"highway_gate_{i}") for i in range(HIGHWAY_LAYERS)]

    @property
    def highway_transforms(self) -> list:
        return [getattr(self, f"highway_transform_{i}") for i in range(HIGHWAY_LAYERS)]

    def build(self, context_ids_shape, turn_mask_shape):
        self.embedding.build(context_ids_shape)
        self.projection.build((None, self.emb_dim))
        for gate, transform in zip(self.highway_gates, self.highway_transforms):
            gate.build((None, self.hidden_dim))
            transform.build((None, self.hidden_dim))
        self.built = True

    def call(self, context_ids, turn_mask, training=None):
        ids = ops.cast(context_ids, "int32")
        turns, words = int(ids.shape[1]), int(ids.shape[2])
        mask = ops.logical_and(
            ops.not_equal(ids, 0), ops.expand_dims(ops.cast(turn_mask, "bool"), -1)
        )
        x = self.projection(self.dropout_layer(self.embedding(ids), training=training))
        for gate, transform in zip(self.highway_gates, self.highway_transforms):
            g = gate(x)
            x = g * self.dropout_layer(transform(x), training=training) + (1.0 - g) * x
        x = ops.reshape(x, (-1, turns * words, self.hidden_dim))
        mask = ops.reshape(mask, (-1, turns * words))
        return x * ops.cast(mask[..., None], x.dtype), mask

    def compute_output_shape(self, context_ids_shape, turn_mask_shape):
        batch, turns, words = context_ids_shape
        return (batch, turns * words, self.hidden_dim), (batch, turns * words)

    def compute_output_spec(self, context_ids, turn_mask, training=None):
        words_shape, mask_shape = self.compute_output_shape(context_ids.shape, turn_mask.shape)
        return (
            keras.KerasTensor(words_shape, dtype=self.compute_dtype),
            keras.KerasTensor(mask_shape, dtype="bool"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            emb_dim=self.emb_dim,
            hidden_dim=self.hidden_dim,
            dropout=self.dropout,
        )
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class StickerFrames(keras.layers.Layer):
    """The candidate sticker as PSAC's "video": one frame per region.

    ::

        v_k = O_k Wr + O_flat Wf          (both bias-free, k = 1 .. R in raster order)

    Call args:
      sticker_regions: float ``[B, C, R, 768]`` (eq. 1's O).
      sticker_flat: float ``[B, C, 2048]`` (eq. 1's O_flat).

    Returns:
      float ``[B, C, R, H]``.

    Example:
    >>> frames = StickerFrames(hidden_dim=8)
    >>> frames(np.random.rand(2, 4, 9, 768), np.random.rand(2, 4, 2048)).shape
    (2, 4, 9, 8)
    """

    def __init__(self, hidden_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        policy = self.dtype_policy
        self.region_projection = keras.layers.Dense(
            self.hidden_dim, use_bias=False, dtype=policy, name="region_projection"
        )
        self.flat_projection = keras.layers.Dense(
            self.hidden_dim, use_bias=False, dtype=policy, name="flat_projection"
        )

    def build(self, sticker_regions_shape, sticker_flat_shape):
        self.region_projection.build(sticker_regions_shape)
        self.flat_projection.build(sticker_flat_shape)
        self.built = True

    def call(self, sticker_regions, sticker_flat):
        regions = self.region_projection(sticker_regions)
        flat = self.flat_projection(sticker_flat)
        return regions + ops.expand_dims(flat, 2)

    def compute_output_shape(self, sticker_regions_shape, sticker_flat_shape):
        return tuple(sticker_regions_shape[:-1]) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class CoAttention(keras.layers.Layer):
    """PSAC's video-question co-attention between each sticker and the context.

    For the frames ``V = v_1 .. v_R`` of one candidate and the context words
    ``Q = q_1 .. q_N`` (N = T*L, real words ``m``)::

        S_kj = w1.v_k + w2.q_j + (w3 * v_k).q_j        trilinear similarity
        S1   = softmax_j(S)    over real words j        sticker-guided word attention
        S2   = softmax_k(S)    over the R regions       word-guided sticker attention
        A    = S1 Q,   B = S1 S2^T V
        G_k  = [v_k ; a_k ; v_k * a_k ; v_k * b_k]      [R, 4H]

    (training: dropout on V and Q before ``S``, as in the release.) The
    release's scalar bias on ``S`` is left out: it cancels in both softmaxes.

    Attention outputs, per turn ``t`` (0 on padded words and on turns with no
    real word)::

        word_attention[t, l]    = mean_k S1[k, (t, l)] / sum_l' mean_k S1[k, (t, l')]
        sticker_attention[t, k] = mean over the real words (t, l) of S2[k, (t, l)]

    The first is computed in log space (a per-turn masked softmax of
    ``logsumexp_k(S - logsumexp_j S)``), so a real turn never gets an
    all-zero row from underflow.

    Args:
      max_words: L, to split the N = T*L positions back into turns.
      dropout: dropout rate on V and Q.

    Call args:
      words: float ``[B, N, H]`` (context after its positional self-attention).
      word_mask: bool ``[B, N]``.
      frames: float ``[B, C, R, H]`` (stickers after theirs).
      training: enables dropout.

    Returns:
      ``(G [B, C, R, 4H], sticker_attention [B, C, T, R] float32,
      word_attention [B, C, T, L] float32)``.

    Example:
    >>> layer = CoAttention(max_words=3)
    >>> words, mask = np.random.rand(2, 6, 8), np.ones((2, 6), bool)   # T=2, L=3
    >>> g, ts, tu = layer(words, mask, np.random.rand(2, 4, 9, 8))
    >>> g.shape, ts.shape, tu.shape
    ((2, 4, 9, 32), (2, 4, 2, 9), (2, 4, 2, 3))
    """

    def __init__(self, max_words: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_words = int(max_words)
        self.dropout = float(dropout)
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )

    def build(self, words_shape, word_mask_shape, frames_shape):
        hidden = int(frames_shape[-1])
        if int(words_shape[-1]) != hidden:
            raise ValueError("words and frames must have the same width")
        if words_shape[1] is None or int(words_shape[1]) % self.max_words:
            raise ValueError(f"{words_shape[1]} positions are not whole turns of {self.max_words}")
        init = "glorot_uniform"
        self.frame_weight = self.add_weight(name="frame_weight", shape=(hidden,), initializer=init)
        self.word_weight = self.add_weight(name="word_weight", shape=(hidden,), initializer=init)
        self.product_weight = self.add_weight(
            name="product_weight", shape=(hidden,), initializer=init
        )
        self.built = True

    def call(self, words, word_mask, frames, training=None):
        positions = int(words.shape[1])
        turns = positions // self.max_words
        mask = ops.cast(word_mask, "bool")  # [B, N]
        frames = self.dropout_layer(frames, training=training)
        words = self.dropout_layer(ops.cast(words, frames.dtype), training=training)
        dtype = frames.dtype
        frame_term = ops.einsum("bckd,d->bck", frames, ops.cast(self.frame_weight, dtype))
        word_term = ops.einsum("bjd,d->bj", words, ops.cast(self.word_weight, dtype))
        product = frames * ops.cast(self.product_weight, dtype)
        similarity = ops.einsum("bckd,bjd->bckj", product, words)
        similarity = (
            ops.cast(similarity, "float32")
            + ops.cast(frame_term, "float32")[..., None]
            + ops.cast(word_term, "float32")[:, None, None, :]
        )  # S [B, C, R, N]
        word_keys = mask[:, None, None, :]
        s1 = masked_softmax(similarity, word_keys, axis=-1)  # over words
        s2 = ops.softmax(similarity, axis=2)  # over regions (all real)
        attended_words = ops.einsum("bckj,bjd->bckd", ops.cast(s1, dtype), words)  # A
        region_to_region = ops.einsum("bckj,bcmj->bckm", s1, s2)  # S1 S2^T [B, C, R, R]
        attended_frames = ops.einsum(
            "bckm,bcmd->bckd", ops.cast(region_to_region, dtype), frames
        )  # B
        fused = ops.concatenate(
            [frames, attended_words, frames * attended_words, frames * attended_frames], axis=-1
        )

        # word attention: mean over regions of S1, renormalised per turn (log space).
        masked = ops.where(word_keys, similarity, _MASKED_LOGIT)
        log_s1 = masked - ops.logsumexp(masked, axis=-1, keepdims=True)
        word_logits = ops.logsumexp(log_s1, axis=2)  # log(R * mean_k S1) [B, C, N]
        shape = ops.shape(similarity)
        batch, candidates, regions = shape[0], shape[1], shape[2]
        word_logits = ops.reshape(word_logits, (batch, candidates, turns, self.max_words))
        turn_words = ops.reshape(mask, (-1, 1, turns, self.max_words))
        word_attention = masked_softmax(word_logits, turn_words, axis=-1)
        # sticker attention: mean of S2 over the real words of each turn.
        word_weights = ops.cast(ops.reshape(mask, (-1, turns, self.max_words)), "float32")
        word_weights = word_weights / ops.maximum(ops.sum(word_weights, -1, keepdims=True), 1.0)
        s2_turns = ops.reshape(s2, (batch, candidates, regions, turns, self.max_words))
        sticker_attention = ops.einsum("bcktl,btl->bctk", s2_turns, word_weights)
        return fused, sticker_attention, word_attention

    def compute_output_shape(self, words_shape, word_mask_shape, frames_shape):
        batch, candidates, regions, hidden = frames_shape
        turns = int(words_shape[1]) // self.max_words
        return (
            (batch, candidates, regions, 4 * hidden),
            (batch, candidates, turns, regions),
            (batch, candidates, turns, self.max_words),
        )

    def compute_output_spec(self, words, word_mask, frames, training=None):
        fused, sticker, word = self.compute_output_shape(words.shape, word_mask.shape, frames.shape)
        return (
            keras.KerasTensor(fused, dtype=self.compute_dtype),
            keras.KerasTensor(sticker, dtype="float32"),
            keras.KerasTensor(word, dtype="float32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(max_words=self.max_words, dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class CandidateScore(keras.layers.Layer):
    """PSAC's output layer, one score per candidate sticker instead of per answer.

    ::

        M = G Wr                       bias-free resize 4H -> H (release ``vq_resizer``)
        m = mean_k M_k                 average over the regions
        y = sigmoid(w2 Dropout(ReLU(W1 m + b1)) + b2)     classifier H -> 2H -> 1

    The last layer's kernel starts at zero (every score 0.5 at step 0).
    Measured on the small learnable demo build (frozen encoder, Adam 3e-4,
    batch 32): with Keras' default initialisation the untrained head's
    sigmoid scores sit near 0 or 1, where the project's hinge on sigmoid
    scores passes almost no gradient, and validation stayed at chance
    (MAP 0.27) for 200 steps. The original trains logits with a
    cross-entropy, where the initial scale matters less.

    Args:
      hidden_dim: H.
      dropout: classifier dropout (release: 0.5).

    Call args:
      fused: float ``[B, C, R, 4H]`` (``CoAttention``'s G).
      training: enables dropout.

    Returns:
      float32 ``[B, C]`` in (0, 1).

    Example:
    >>> CandidateScore(hidden_dim=8)(np.random.rand(2, 4, 9, 32)).shape
    (2, 4)
    """

    def __init__(self, hidden_dim: int, dropout: float = CLASSIFIER_DROPOUT, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.dropout = float(dropout)
        policy = self.dtype_policy
        self.resize = keras.layers.Dense(
            self.hidden_dim, use_bias=False, dtype=policy, name="resize"
        )
        self.classifier_hidden = keras.layers.Dense(
            2 * self.hidden_dim, activation="relu", dtype=policy, name="classifier_hidden"
        )
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy, name="dropout")
        # Zero-initialised (not in the original): see the class docstring.
        self.score_dense = keras.layers.Dense(
            1, activation="sigmoid", kernel_initializer="zeros", dtype="float32", name="score"
        )

    def build(self, fused_shape):
        self.resize.build((None, int(fused_shape[-1])))
        self.classifier_hidden.build((None, self.hidden_dim))
        self.score_dense.build((None, 2 * self.hidden_dim))
        self.built = True

    def call(self, fused, training=None):
        pooled = ops.mean(self.resize(fused), axis=2)  # [B, C, H]
        hidden = self.dropout_layer(self.classifier_hidden(pooled), training=training)
        return ops.squeeze(self.score_dense(hidden), -1)

    def compute_output_shape(self, fused_shape):
        return (fused_shape[0], fused_shape[1])

    def compute_output_spec(self, fused, training=None):
        return keras.KerasTensor((fused.shape[0], fused.shape[1]), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, dropout=self.dropout)
        return config


def build_matcher(config: SRSConfig) -> keras.Model:
    """The PSAC matcher (``keras.Model`` named ``matcher``, matcher_io interface)."""
    inputs = matcher_inputs(config)
    regions, flat = normalized_stickers(inputs)
    hidden = int(config.hidden_dim)
    turn_mask = TurnMask(config.context_len, name="turn_mask")(inputs["num_turns"])
    words, word_mask = ContextEmbedding(
        config.vocab_size,
        config.emb_dim,
        hidden,
        dropout=config.dropout,
        name="context_embedding",
    )(inputs["context_ids"], turn_mask)
    for i in range(NUM_BLOCKS):
        words = PositionalSelfAttention(
            hidden, positions="sequence", dropout=config.dropout, name=f"context_psa_{i}"
        )(words, padding_mask=word_mask)
    frames = StickerFrames(hidden, name="sticker_frames")(regions, flat)
    encoded = frames
    for i in range(NUM_BLOCKS):
        encoded = PositionalSelfAttention(
            hidden, positions="grid", dropout=config.dropout, name=f"sticker_psa_{i}"
        )(encoded)
    encoded = keras.layers.Add(name="sticker_residual")([encoded, frames])  # PSA(v) + v
    fused, sticker_attention, word_attention = CoAttention(
        config.max_words, dropout=config.dropout, name="co_attention"
    )(words, word_mask, encoded)
    scores = CandidateScore(hidden, name="candidate_score")(fused)
    return keras.Model(
        inputs, matcher_outputs(scores, sticker_attention, word_attention), name="matcher"
    )
