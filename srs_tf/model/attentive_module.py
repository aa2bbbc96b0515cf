"""The attentive module of the Transformer as SRS uses it (paper eq. 3-6).

It is used twice: by the utterance encoder over the words of one utterance
(§5.3) and by the fusion Transformer over the turns of a context (§5.5.2).
This module also holds the two masked reductions every SRS layer relies on
(`masked_softmax`, `masked_max`); both compute in float32 so they are safe
under the ``mixed_float16`` policy, and both are NaN-free on fully masked
rows (a padded turn has no real word).
"""

from __future__ import annotations

import keras
from keras import ops

# Stand-in for -inf on masked logits; finite so that fully masked rows stay
# NaN-free (they are zeroed after the exponential).
_MASKED_LOGIT = -1e9


def masked_softmax(logits, mask, axis=-1):
    """Softmax of ``logits`` over ``axis`` restricted to ``mask``, in float32.

    Masked entries get weight exactly 0. A row whose entries are all masked
    gets all-zero weights (not NaN, not uniform).

    Args:
      logits: float tensor.
      mask: bool tensor broadcastable to ``logits``; True = real entry.
      axis: axis to normalise over.

    Returns:
      float32 tensor with the shape of ``logits``.
    """
    logits = ops.cast(logits, "float32")
    mask = ops.cast(mask, "bool")
    logits = ops.where(mask, logits, _MASKED_LOGIT)
    logits = logits - ops.stop_gradient(ops.max(logits, axis=axis, keepdims=True))
    weights = ops.exp(logits) * ops.cast(mask, "float32")
    total = ops.sum(weights, axis=axis, keepdims=True)
    return weights / ops.maximum(total, 1e-30)


def masked_max(values, mask, axis=-1, empty_value=0.0):
    """Max of ``values`` over ``axis`` restricted to ``mask``, in float32.

    Rows with no real entry get ``empty_value``.
    """
    values = ops.cast(values, "float32")
    mask = ops.cast(mask, "bool")
    result = ops.max(ops.where(mask, values, _MASKED_LOGIT), axis=axis)
    any_real = ops.any(mask, axis=axis)
    return ops.where(any_real, result, empty_value)


@keras.saving.register_keras_serializable(package="srs_tf")
class AttentiveModule(keras.layers.Layer):
    """Single-head Transformer attentive module, exactly paper eq. 3-6.

    For an input sequence ``e`` (words of an utterance, or turns of a context)::

        Q, K, V = FC(e), FC(e), FC(e)                       (eq. 2 / 13)
        alpha   = softmax_k(Q_j . K_k)   over real k only   (eq. 3)
        beta_j  = sum_k alpha_jk V_k                        (eq. 4)
        h^_j    = Dropout(e_j + beta_j)                     (eq. 5)
        h_j     = LayerNorm(ReLU(h^_j W1 + b1) W2 + b2)     (eq. 6)

    As written in the paper: one head, no positional encoding, no
    1/sqrt(d) scaling in eq. 3 and no residual around the feed-forward
    block (the norm is applied to the feed-forward output). ``V`` projects to
    the input width so that the residual of eq. 5 is defined when the input
    width differs from ``hidden_dim`` (with the paper's sizes both are 100).
    Outputs at masked (padded) positions are set to 0.

    Any number of leading axes is supported: attention runs over axis -2, so
    ``[B, T, L, D]`` attends over the words of every turn at once.

    Args:
      hidden_dim: width of Q/K and of the feed-forward output (eq. 6).
      dropout: dropout rate of eq. 5.

    Call args:
      inputs: float ``[..., N, D]``.
      padding_mask: bool ``[..., N]``, True for real positions (optional:
        all real). Named like keras-hub's, so Keras' implicit masking is not
        involved: masks are always passed explicitly.
      training: enables dropout.

    Returns:
      float ``[..., N, hidden_dim]``.

    Example:
    >>> layer = AttentiveModule(hidden_dim=8)
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    >>> layer(x, padding_mask=mask).shape
    (2, 5, 8)
    """

    def __init__(self, hidden_dim: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.dropout = float(dropout)
        self.query_dense = keras.layers.Dense(
            self.hidden_dim, dtype=self.dtype_policy, name="query"
        )
        self.key_dense = keras.layers.Dense(self.hidden_dim, dtype=self.dtype_policy, name="key")
        self.value_dense = None  # width depends on the input; made in build()
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.ffn_inner = keras.layers.Dense(
            self.hidden_dim, activation="relu", dtype=self.dtype_policy, name="ffn_inner"
        )
        self.ffn_outer = keras.layers.Dense(
            self.hidden_dim, dtype=self.dtype_policy, name="ffn_outer"
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=self.dtype_policy, name="layer_norm"
        )

    def build(self, inputs_shape, padding_mask_shape=None):
        input_dim = int(inputs_shape[-1])
        self.value_dense = keras.layers.Dense(input_dim, dtype=self.dtype_policy, name="value")
        self.query_dense.build(inputs_shape)
        self.key_dense.build(inputs_shape)
        self.value_dense.build(inputs_shape)
        self.ffn_inner.build(inputs_shape)
        inner_shape = tuple(inputs_shape[:-1]) + (self.hidden_dim,)
        self.ffn_outer.build(inner_shape)
        self.layer_norm.build(inner_shape)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None):
        if padding_mask is None:
            padding_mask = ops.ones(ops.shape(inputs)[:-1], dtype="bool")
        mask = ops.cast(padding_mask, "bool")
        query = self.query_dense(inputs)
        key = self.key_dense(inputs)
        value = self.value_dense(inputs)
        # eq. 3: alpha[..., j, k] over keys k; padded keys excluded.
        logits = ops.einsum("...jd,...kd->...jk", query, key)
        alpha = masked_softmax(logits, ops.expand_dims(mask, -2), axis=-1)
        beta = ops.einsum("...jk,...kd->...jd", ops.cast(alpha, value.dtype), value)  # eq. 4
        hidden = self.dropout_layer(inputs + beta, training=training)  # eq. 5
        hidden = self.layer_norm(self.ffn_outer(self.ffn_inner(hidden)))  # eq. 6
        return hidden * ops.cast(ops.expand_dims(mask, -1), hidden.dtype)

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return tuple(inputs_shape[:-1]) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, dropout=self.dropout)
        return config
