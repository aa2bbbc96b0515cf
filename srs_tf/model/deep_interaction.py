"""Deep interaction network (paper §5.4, eq. 7-11)."""

from __future__ import annotations

import keras
from keras import ops

from srs_tf.model.attentive_module import masked_max, masked_softmax


@keras.saving.register_keras_serializable(package="srs_tf")
class DeepInteraction(keras.layers.Layer):
    """Co-attention between every candidate sticker and every utterance.

    With ``O_k`` the sticker regions and ``O_flat`` the pooled sticker vector,
    both projected to ``hidden_dim`` by bias-free dense layers, and ``h_j``
    the words of one utterance (utterance encoder output)::

        M_kj  = w^T [O_k ; h_j ; O_k * h_j]                       (eq. 7)
        tu_j  = max_k M_kj,  tu = softmax over the real words     (eq. 8)
        ts_k  = max_j M_kj (real words only), ts = softmax_k      (eq. 9)
        l     = sum_j tu_j h_j,   r = sum_k ts_k O_k
        Q1    = FC([x ; r ; x*r ; x+r]),  x = projected O_flat    (eq. 10)
        Q2    = FC([Q1 ; l])                                      (eq. 11)

    ``M`` is computed for all candidates, turns, regions and words at once
    without materialising the concatenation: ``w = [w1; w2; w3]`` gives
    ``M_kj = w1.O_k + w2.h_j + (w3*O_k).h_j`` (one einsum). FC = affine
    dense layer.

    Normalisation of tau (not in the paper, which writes the raw maxima but
    calls them attention weights; docs/FIDELITY.md eq. 8-9): here the order
    is max -> masked softmax -> weighted sum. ``tu`` takes the max of ``M``
    over the regions, then a softmax over the real words only, and
    ``l = sum_j tu_j h_j``; ``ts`` takes the max over the real words, then a
    softmax over the regions, and ``r = sum_k ts_k O_k``. The release code
    (``models/our.py``, ``our_fusion``) differs in three ways: its ``M`` is
    the scaled dot product ``O_k.h_j / sqrt(d)``, not eq. 7; its order is
    softmax -> max -> mean (for ``l``: a softmax over all 30 word positions
    for each region, the max over regions, then the *mean* over the 30 word
    positions of ``weight_j * h_j``; for ``r``: a softmax over the regions
    for each word position, the max over all word positions, then the mean
    over the regions of ``weight_k * O_k``); and nothing is masked, so
    padding words take part in its word softmax, its max over words and
    its mean.

    Padding: padded words are excluded from both max-poolings and from the
    word softmax; a turn with no real word (a padded turn) gets all-zero
    attentions, so ``l = r = 0`` for it.

    ``use_interaction=False`` is the ``no_din`` ablation (Table 2):
    ``Q2 = FC([x ; masked mean of h])`` (no region projection, no ``w``);
    the returned word attention is then the uniform weight of that mean and
    the sticker attention the uniform weight over regions (what pooling into ``O_flat`` amounts to).

    Args:
      hidden_dim: H (paper: 100).
      use_interaction: False for the ``no_din`` ablation.

    Call args:
      utterances: float ``[B, T, L, H]`` word states h (shared by candidates).
      word_mask: bool ``[B, T, L]``, True for real words of real turns.
      sticker_regions: float ``[B, C, R, D_regions]`` (R = 36, D = 768).
      sticker_flat: float ``[B, C, D_flat]`` (2048).

    Returns:
      ``(Q2 [B, C, T, H], sticker_attention [B, C, T, R] float32,
      word_attention [B, C, T, L] float32)``.

    Example:
    >>> layer = DeepInteraction(hidden_dim=8)
    >>> h = np.random.rand(2, 3, 5, 8).astype("float32")       # B, T, L, H
    >>> word_mask = np.ones((2, 3, 5), bool)
    >>> regions = np.random.rand(2, 4, 9, 768).astype("float32")  # B, C, R, 768
    >>> flat = np.random.rand(2, 4, 2048).astype("float32")
    >>> q2, ts, tu = layer(h, word_mask, regions, flat)
    >>> q2.shape, ts.shape, tu.shape
    ((2, 4, 3, 8), (2, 4, 3, 9), (2, 4, 3, 5))
    """

    def __init__(self, hidden_dim: int, use_interaction: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.use_interaction = bool(use_interaction)
        policy = self.dtype_policy
        self.region_projection = None  # regions are not used by no_din
        self.flat_projection = keras.layers.Dense(
            self.hidden_dim, use_bias=False, dtype=policy, name="flat_projection"
        )
        if self.use_interaction:
            self.region_projection = keras.layers.Dense(
                self.hidden_dim, use_bias=False, dtype=policy, name="region_projection"
            )
            self.integrate = keras.layers.Dense(self.hidden_dim, dtype=policy, name="integrate_q1")
        self.output_dense = keras.layers.Dense(self.hidden_dim, dtype=policy, name="output_q2")

    def build(self, utterances_shape, word_mask_shape, sticker_regions_shape, sticker_flat_shape):
        hidden = self.hidden_dim
        self.flat_projection.build(sticker_flat_shape)
        if self.use_interaction:
            self.region_projection.build(sticker_regions_shape)
            # w of eq. 7 as one [3H, 1] kernel (the w of w^T[x; y; x*y]).
            self.relation_kernel = self.add_weight(
                name="relation_kernel", shape=(3 * hidden, 1), initializer="glorot_uniform"
            )
            self.integrate.build((None, 4 * hidden))
        self.output_dense.build((None, 2 * hidden))
        self.built = True

    def call(self, utterances, word_mask, sticker_regions, sticker_flat):
        word_mask = ops.cast(word_mask, "bool")
        flat = self.flat_projection(sticker_flat)  # [B, C, H]
        h = ops.cast(utterances, flat.dtype)  # [B, T, L, H]
        num_turns = ops.shape(h)[1]
        x = ops.repeat(ops.expand_dims(flat, 2), num_turns, axis=2)  # [B, C, T, H]
        num_regions = ops.shape(sticker_regions)[2]
        has_words = ops.any(word_mask, axis=-1)  # [B, T]
        mask_bct = ops.expand_dims(word_mask, 1)  # [B, 1, T, L]

        if not self.use_interaction:
            weights = ops.cast(word_mask, "float32")
            weights = weights / ops.maximum(ops.sum(weights, axis=-1, keepdims=True), 1.0)
            mean_h = ops.einsum("btj,btjd->btd", ops.cast(weights, h.dtype), h)  # [B, T, H]
            mean_h = ops.broadcast_to(ops.expand_dims(mean_h, 1), ops.shape(x))
            q2 = self.output_dense(ops.concatenate([x, mean_h], axis=-1))
            word_attention = ops.broadcast_to(
                ops.expand_dims(weights, 1), ops.shape(q2)[:3] + (ops.shape(weights)[-1],)
            )
            uniform = ops.cast(has_words, "float32") / ops.cast(num_regions, "float32")
            sticker_attention = ops.broadcast_to(
                ops.expand_dims(ops.expand_dims(uniform, 1), -1), ops.shape(q2)[:3] + (num_regions,)
            )
            return q2, sticker_attention, word_attention

        regions = self.region_projection(sticker_regions)  # [B, C, R, H]
        kernel = ops.cast(self.relation_kernel[:, 0], regions.dtype)
        hidden = self.hidden_dim
        w_region, w_word, w_product = (
            kernel[:hidden],
            kernel[hidden : 2 * hidden],
            kernel[2 * hidden :],
        )
        # eq. 7: M[b, c, k, t, j] = w1.O_k + w2.h_j + (w3 * O_k).h_j. The layout
        # [B, C, R, T, L] is the natural output of one batched matmul
        # ([B, C*R, H] x [B, H, T*L]), so the 5-D tensor is never transposed.
        region_term = ops.einsum("bckd,d->bck", regions, w_region)
        word_term = ops.einsum("btjd,d->btj", h, w_word)
        relation = ops.einsum("bckd,btjd->bcktj", regions * w_product, h)
        relation = (
            relation + region_term[:, :, :, None, None] + word_term[:, None, None, :, :]
        )  # [B, C, R, T, L]

        # eq. 8: utterance-wise attention, max over regions, softmax over real words.
        word_scores = ops.max(ops.cast(relation, "float32"), axis=2)  # [B, C, T, L]
        word_attention = masked_softmax(word_scores, mask_bct, axis=-1)
        # eq. 9: sticker-wise attention, max over real words, softmax over regions.
        region_scores = masked_max(relation, word_mask[:, None, None], axis=-1)  # [B, C, R, T]
        region_scores = ops.transpose(region_scores, (0, 1, 3, 2))  # [B, C, T, R]
        turn_real = ops.expand_dims(ops.expand_dims(has_words, 1), -1)  # [B, 1, T, 1]
        sticker_attention = masked_softmax(region_scores, turn_real, axis=-1)

        sticker_aware = ops.einsum("bctj,btjd->bctd", ops.cast(word_attention, h.dtype), h)  # l
        utterance_aware = ops.einsum(
            "bctk,bckd->bctd", ops.cast(sticker_attention, regions.dtype), regions
        )  # r
        q1 = self.integrate(
            ops.concatenate([x, utterance_aware, x * utterance_aware, x + utterance_aware], axis=-1)
        )  # eq. 10
        q2 = self.output_dense(ops.concatenate([q1, sticker_aware], axis=-1))  # eq. 11
        return q2, sticker_attention, word_attention

    def compute_output_shape(
        self, utterances_shape, word_mask_shape, sticker_regions_shape, sticker_flat_shape
    ):
        batch, num_turns, num_words = utterances_shape[0], utterances_shape[1], utterances_shape[2]
        candidates, regions = sticker_regions_shape[1], sticker_regions_shape[2]
        return (
            (batch, candidates, num_turns, self.hidden_dim),
            (batch, candidates, num_turns, regions),
            (batch, candidates, num_turns, num_words),
        )

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, use_interaction=self.use_interaction)
        return config
