"""Fusion network and prediction layer (paper §5.5, eq. 12-16)."""

from __future__ import annotations

import keras
from keras import ops

from srs_tf.model.attentive_module import AttentiveModule


@keras.saving.register_keras_serializable(package="srs_tf")
class TurnMask(keras.layers.Layer):
    """``num_turns [B]`` -> bool ``[B, max_turns]``: True for rows < num_turns.

    Turns are left aligned (CONTRACTS.md): rows ``0 .. num_turns-1`` are real.

    Example:
    >>> TurnMask(4)(np.array([1, 3], "int32"))   # -> [[T, F, F, F], [T, T, T, F]]
    """

    def __init__(self, max_turns: int, **kwargs):
        super().__init__(**kwargs)
        self.max_turns = int(max_turns)

    def call(self, num_turns):
        num_turns = ops.reshape(ops.cast(num_turns, "int32"), (-1, 1))
        return ops.less(ops.expand_dims(ops.arange(self.max_turns, dtype="int32"), 0), num_turns)

    def compute_output_shape(self, num_turns_shape):
        return (num_turns_shape[0], self.max_turns)

    def compute_output_spec(self, num_turns):
        return keras.KerasTensor((num_turns.shape[0], self.max_turns), dtype="bool")

    def get_config(self):
        config = super().get_config()
        config.update(max_turns=self.max_turns)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class FusionNetwork(keras.layers.Layer):
    """Fusion RNN + fusion Transformer + SUBMULTI + prediction GRU (eq. 12-16).

    For each (example, candidate), over the interaction results ``Q2_i`` of
    the real turns ``i``::

        g_i   = GRU(Q2_i, g_{i-1})                                (eq. 12)
        g^    = AttentiveModule(Q2)        (eq. 3-6 over turns)   (eq. 13)
        gb_i  = ReLU(Ws [(g^_i - g_i)*(g^_i - g_i) ; g^_i * g_i] + bs)  (eq. 14)
        gt_i  = GRU(gb_i, gt_{i-1})                               (eq. 15)
        y     = sigmoid(FC(gt_last))   with gt_last at the last real turn (eq. 16)

    Padded turns (``turn_mask`` False) are excluded everywhere: they are masked
    keys of the attentive module and masked steps of both GRUs (a Keras GRU
    carries its state through masked steps, so its final state is the state at
    the last real turn). The score is computed in float32.

    ``use_fusion_rnn=False`` is the ``no_fr`` ablation (Table 2): no fusion RNN
    and no SUBMULTI; the prediction GRU reads ``g^`` directly.

    Args:
      hidden_dim: H (paper: 100).
      dropout: dropout of the attentive module (eq. 5).
      use_fusion_rnn: False for ``no_fr``.

    Call args:
      interactions: float ``[B, C, T, H]`` (``Q2``).
      turn_mask: bool ``[B, T]`` (shared by the candidates) or ``[B, C, T]``.
      training: enables dropout.

    Returns:
      float32 ``[B, C]`` matching scores in (0, 1).

    Example:
    >>> fusion = FusionNetwork(hidden_dim=8)
    >>> q2 = np.random.rand(2, 10, 15, 8).astype("float32")
    >>> turn_mask = TurnMask(15)(np.array([3, 15], "int32"))
    >>> fusion(q2, turn_mask).shape
    (2, 10)
    """

    def __init__(
        self, hidden_dim: int, dropout: float = 0.0, use_fusion_rnn: bool = True, **kwargs
    ):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.dropout = float(dropout)
        self.use_fusion_rnn = bool(use_fusion_rnn)
        policy = self.dtype_policy
        if self.use_fusion_rnn:
            # unroll: the turn count is static and small; an unrolled GRU
            # runs faster on CPUs than a while loop (same values).
            self.fusion_rnn = keras.layers.GRU(
                self.hidden_dim, return_sequences=True, unroll=True, dtype=policy, name="fusion_rnn"
            )
            self.submulti = keras.layers.Dense(
                self.hidden_dim, activation="relu", dtype=policy, name="submulti"
            )
        self.fusion_transformer = AttentiveModule(
            self.hidden_dim, dropout=self.dropout, dtype=policy, name="fusion_transformer"
        )
        self.prediction_rnn = keras.layers.GRU(
            self.hidden_dim, unroll=True, dtype=policy, name="prediction_rnn"
        )
        self.score_dense = keras.layers.Dense(
            1, activation="sigmoid", dtype="float32", name="score"
        )

    def build(self, interactions_shape, turn_mask_shape):
        turns, width = interactions_shape[2], interactions_shape[3]
        sequence_shape = (None, turns, width)
        hidden_shape = (None, turns, self.hidden_dim)
        if self.use_fusion_rnn:
            self.fusion_rnn.build(sequence_shape)
            self.submulti.build((None, turns, 2 * self.hidden_dim))
        self.fusion_transformer.build(sequence_shape)
        self.prediction_rnn.build(hidden_shape)
        self.score_dense.build((None, self.hidden_dim))
        self.built = True

    def call(self, interactions, turn_mask, training=None):
        shape = ops.shape(interactions)
        batch, candidates, turns = shape[0], shape[1], shape[2]
        turn_mask = ops.cast(turn_mask, "bool")
        if len(turn_mask.shape) == 2:
            turn_mask = ops.expand_dims(turn_mask, 1)
        turn_mask = ops.broadcast_to(turn_mask, (batch, candidates, turns))
        # GRUs read [B*C, T, H]: one sequence per (example, candidate).
        sequences = ops.reshape(interactions, (-1, turns, interactions.shape[-1]))
        mask = ops.reshape(turn_mask, (-1, turns))

        transformed = self.fusion_transformer(sequences, padding_mask=mask, training=training)  # g^
        if self.use_fusion_rnn:
            recurrent = self.fusion_rnn(sequences, mask=mask, training=training)  # g
            recurrent = ops.cast(recurrent, transformed.dtype)
            difference = transformed - recurrent
            fused = self.submulti(
                ops.concatenate([difference * difference, transformed * recurrent], axis=-1)
            )  # eq. 14
        else:
            fused = transformed
        final_state = self.prediction_rnn(fused, mask=mask, training=training)  # eq. 15
        scores = self.score_dense(final_state)  # eq. 16, float32
        return ops.reshape(scores, (batch, candidates))

    def compute_output_shape(self, interactions_shape, turn_mask_shape):
        return (interactions_shape[0], interactions_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_dim=self.hidden_dim, dropout=self.dropout, use_fusion_rnn=self.use_fusion_rnn
        )
        return config
