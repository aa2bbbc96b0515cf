"""Synergistic: the image-question-answer synergistic network, adapted to stickers.

Original: D. Guo, C. Xu, D. Tao, "Image-Question-Answer Synergistic Network
for Visual Dialog", CVPR 2019. No public reference code was found (no
repository by the authors; curated visual-dialog paper lists give no code
link for it), so this module is written from the paper's description.

The original ranks the 100 candidate answers of a VisDial question in two
stages:

* **Primary stage**: the image (region features), the question and the
  dialog history are encoded (LSTMs and attention) and fused into one
  vector; every candidate answer gets a *coarse* score, the dot product of
  its embedding with that vector.
* **Synergistic stage**: the top-N candidates of the primary stage (N = 10
  of the 100, as we recall the paper; its text was not at hand to check) are
  re-ranked: each candidate answer guides an attention over the question
  words, the answer-aware question and the answer guide an attention over the
  image regions, and the attended question, attended image and answer are
  fused into a second score that re-orders the top-N.

Adaptation to sticker selection (SRS paper §6.2, Table 3 "Synergistic"):

* Question + history = the dialog context (``T`` turns of ``L`` words). The
  primary stage encodes it hierarchically (``DialogEncoder``): word
  embedding, a word GRU per turn, an attention pooling over the real words
  of each turn (the original's question self-attention), a turn GRU over the
  real turns; its final state is the context vector ``c``.
* Image = answer = the candidate sticker (there is no separate image: the
  sticker *is* what is being answered with). Its ``O_flat`` (2048, after
  ``normalized_stickers``) projected by a bias-free dense layer is the answer
  embedding ``a_i``; its ``R`` = 36 regions ``O`` (768 each, raster order),
  projected by a bias-free dense layer to ``hidden_dim``, are the "image
  regions" of the synergistic stage (a length-R response sequence).
* Primary coarse score (``CoarseScorer``): ``s_i = tanh(W_q c + b_q) . a_i /
  sqrt(H)``. The 1/sqrt(H) scaling is ours: it keeps the logits in the
  sigmoid's unsaturated range at initialisation, so scores stay inside (0, 1)
  in float32.
* Synergistic stage (``SynergisticAttention`` + ``SynergyScorer``), for
  every candidate and every turn at once: candidate-guided attention over
  the words of each turn, then context-and-candidate-guided attention over
  the candidate's regions, fused with the candidate into a per-turn vector;
  a GRU over the real turns (the context has T questions where the original
  had one) and an affine layer give the re-rank logit ``r_i``.
* Re-ranking (``TopKRerank``): the top ``TOP_K`` = 5 of the candidates by
  coarse score are re-ranked. With 10 candidates per example in training and
  testing, 5 plays the part of the original's top 10 of 100: the re-ranked
  set decides R10@1 and R10@2 while the primary stage alone decides which
  stickers are in the top 5 (R10@5), as the original's re-ranking decides
  R@1 and R@5 while the primary stage decides R@10 (its largest cutoff). Top
  1 of 10 (the literal 10 %) would re-rank nothing.

Training and the final score. The project trains every matcher with one
hinge loss (eq. 17) on its sigmoid ``scores``; the original (as we recall
it) trains each stage with a loss of its own. Here both stages are trained end to end through::

    y_i = sigmoid(s_i + [i in top-K] * softplus(r_i))

The coarse logit ``s_i`` receives gradient from every candidate, the re-rank
logit from the top-K ones. ``softplus`` (> 0) makes re-ranking *only ever
reorder the top K*: a candidate inside the primary top-K has a coarse logit
strictly above every candidate outside it (see ``TopKRerank``), and only
gains, so no outside candidate can overtake it; inside the top-K the order
is free (softplus is unbounded), which is the re-ranking. Deviation: the
original orders its top-N by the synergistic score; here it is the coarse
logit plus a positive synergy correction, so the primary score stays a prior
and the hinge loss on one score trains both stages. The score is not a
``Dense(1, activation="sigmoid")``: the re-rank logit is ``Dense(1,
dtype="float32")`` and the sigmoid is applied to the combined logit.

Top-K selection and permutation equivariance: a candidate is selected when
fewer than K candidates have a strictly larger coarse logit. This depends
only on the multiset of coarse scores, so the scores are candidate-
permutation equivariant *with ties too*; the price is that when candidates
tie at the K-th place, all of the tied ones are re-ranked (more than K). The
selection is not differentiable (an indicator); the gradient reaches ``r_i``
only through the selected candidates. The synergistic stage is computed for
every candidate (simpler, and its attentions are defined for every
candidate); only the selected candidates' ``r_i`` enter the scores.

Attention outputs: ``word_attention`` is the candidate-guided word attention
of each turn, ``sticker_attention`` the context-guided region attention of
each turn: both are distributions over the real words / regions of every
turn that has a real word, and exactly 0 on padding words and padded turns.

Masking: padding words (id 0) and padded turns (index >= num_turns, whatever
ids they hold) are masked steps of the GRUs (a Keras GRU carries its state
through masked steps), masked keys of every attention, and zeroed in every
word state. All GRUs are unrolled (T and L are static), which also keeps
them off cuDNN, whose kernels reject fully masked rows (padded turns).

Hyper-parameters: ``emb_dim`` = ``hidden_dim`` = 100 (SRSConfig, SRS paper
§6.4) for the embeddings, GRUs, attention widths (the original's sizes are
for VisDial; not applicable), embedding dropout ``config.dropout``, ``TOP_K``
= 5.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from srs_tf.model.attentive_module import masked_softmax
from srs_tf.model.fusion import TurnMask
from srs_tf.model.matcher_io import matcher_inputs, matcher_outputs, normalized_stickers
from srs_tf.model_config import SRSConfig

# Candidates re-ranked by the synergistic stage (see the module docstring).
TOP_K = 5


@keras.saving.register_keras_serializable(package="srs_tf")
class DialogEncoder(keras.layers.Layer):
    """Primary-stage encoder of the context (the original's question + history).

    For word ``j`` of turn ``t`` (real words only, per turn)::

        h_tj  = GRU_w(E[x_tj], h_t(j-1))
        g_tj  = softmax_j(w_g^T tanh(W_g h_tj + b_g))     over the real words
        u_t   = sum_j g_tj h_tj
        c_t   = GRU_u(u_t, c_(t-1)),   c = c at the last real turn

    Args:
      vocab_size, emb_dim, hidden_dim: sizes (paper: 20000 / 100 / 100).
      dropout: dropout on the word embeddings (training only).

    Call args:
      context_ids: int ``[B, T, L]`` (0 = padding word).
      turn_mask: bool ``[B, T]``, True for real turns.
      training: enables dropout.

    Returns:
      ``(h [B, T, L, H] (0 at padding), word_mask bool [B, T, L], c [B, H])``.

    Example:
    >>> encoder = DialogEncoder(vocab_size=50, emb_dim=8, hidden_dim=8)
    >>> ids = np.array([[[5, 7, 0], [3, 0, 0]]], "int32")      # B=1, T=2, L=3
    >>> h, word_mask, c = encoder(ids, np.array([[True, False]]))
    >>> h.shape, c.shape
    ((1, 2, 3, 8), (1, 8))
    """

    def __init__(
        self, vocab_size: int, emb_dim: int, hidden_dim: int, dropout: float = 0.0, **kwargs
    ):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.emb_dim = int(emb_dim)
        self.hidden_dim = int(hidden_dim)
        self.dropout = float(dropout)
        policy = self.dtype_policy
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.emb_dim, dtype=policy, name="word_embedding"
        )
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy, name="dropout")
        self.word_rnn = keras.layers.GRU(
            self.hidden_dim, return_sequences=True, unroll=True, dtype=policy, name="word_rnn"
        )
        self.pool_hidden = keras.layers.Dense(
            self.hidden_dim, activation="tanh", dtype=policy, name="word_pool_hidden"
        )
        self.pool_score = keras.layers.Dense(
            1, use_bias=False, dtype=policy, name="word_pool_score"
        )
        self.turn_rnn = keras.layers.GRU(
            self.hidden_dim, unroll=True, dtype=policy, name="turn_rnn"
        )

    def build(self, context_ids_shape, turn_mask_shape):
        turns, words = context_ids_shape[1], context_ids_shape[2]
        self.embedding.build(context_ids_shape)
        self.word_rnn.build((None, words, self.emb_dim))
        self.pool_hidden.build((None, self.hidden_dim))
        self.pool_score.build((None, self.hidden_dim))
        self.turn_rnn.build((None, turns, self.hidden_dim))
        self.built = True

    def call(self, context_ids, turn_mask, training=None):
        context_ids = ops.cast(context_ids, "int32")
        turn_mask = ops.cast(turn_mask, "bool")
        word_mask = ops.logical_and(ops.not_equal(context_ids, 0), ops.expand_dims(turn_mask, -1))
        turns, words = context_ids.shape[1], context_ids.shape[2]
        embedded = self.dropout_layer(self.embedding(context_ids), training=training)
        # One sequence per (example, turn): [B*T, L, E].
        sequences = ops.reshape(embedded, (-1, words, self.emb_dim))
        states = self.word_rnn(sequences, mask=ops.reshape(word_mask, (-1, words)))
        states = ops.reshape(states, (-1, turns, words, self.hidden_dim))
        states = states * ops.cast(ops.expand_dims(word_mask, -1), states.dtype)  # h
        logits = self.pool_score(self.pool_hidden(states))[..., 0]  # [B, T, L]
        weights = masked_softmax(logits, word_mask, axis=-1)
        pooled = ops.einsum("btl,btlh->bth", ops.cast(weights, states.dtype), states)  # u
        context = self.turn_rnn(pooled, mask=turn_mask)  # c
        return states, word_mask, context

    def compute_output_shape(self, context_ids_shape, turn_mask_shape):
        return (
            tuple(context_ids_shape) + (self.hidden_dim,),
            tuple(context_ids_shape),
            (context_ids_shape[0], self.hidden_dim),
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
class CoarseScorer(keras.layers.Layer):
    """Primary-stage coarse score of every candidate (the answer . fused vector)::

        a_i = P O_flat_i                       (bias-free; the answer embedding)
        q   = tanh(W_q c + b_q)                (the fused question-history vector)
        s_i = q . a_i / sqrt(H)

    Call args:
      context: float ``[B, H_c]`` (``DialogEncoder``'s ``c``).
      sticker_flat: float ``[B, C, 2048]``.

    Returns:
      ``(s float32 [B, C], a [B, C, H])``.

    Example:
    >>> scorer = CoarseScorer(hidden_dim=8)
    >>> s, a = scorer(np.random.rand(2, 8), np.random.rand(2, 4, 2048))
    >>> s.shape, a.shape
    ((2, 4), (2, 4, 8))
    """

    def __init__(self, hidden_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        policy = self.dtype_policy
        self.flat_projection = keras.layers.Dense(
            self.hidden_dim, use_bias=False, dtype=policy, name="flat_projection"
        )
        self.query = keras.layers.Dense(
            self.hidden_dim, activation="tanh", dtype=policy, name="context_query"
        )

    def build(self, context_shape, sticker_flat_shape):
        self.flat_projection.build(sticker_flat_shape)
        self.query.build(context_shape)
        self.built = True

    def call(self, context, sticker_flat):
        answers = self.flat_projection(sticker_flat)  # a [B, C, H]
        query = self.query(context)  # q [B, H]
        coarse = ops.einsum(
            "bh,bch->bc", ops.cast(query, "float32"), ops.cast(answers, "float32")
        ) / math.sqrt(self.hidden_dim)
        return coarse, answers

    def compute_output_shape(self, context_shape, sticker_flat_shape):
        b, c = sticker_flat_shape[0], sticker_flat_shape[1]
        return (b, c), (b, c, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class SynergisticAttention(keras.layers.Layer):
    """Synergistic stage: candidate-guided word and region attention, fused per turn.

    For candidate ``i`` (answer ``a_i``, projected regions ``o_ik = P_r O_ik``,
    bias-free) and turn ``t`` (word states ``h_tj``)::

        al_itj = softmax_j(w_a^T tanh(W_ah h_tj + W_aa a_i + b_a))   real words
        qt_it  = sum_j al_itj h_tj                      (answer-aware question)
        be_itk = softmax_k(w_b^T tanh(W_bo o_ik + W_bq (qt_it * a_i) + b_b))
        vt_it  = sum_k be_itk o_ik                      (answer-aware image)
        f_it   = tanh(W_f [qt_it ; vt_it ; a_i] + b_f)

    A turn with no real word (a padded turn) gets all-zero attentions, so
    ``qt = vt = 0`` for it (``SynergyScorer`` skips it anyway).

    Call args:
      utterances: float ``[B, T, L, H]`` word states (shared by candidates).
      word_mask: bool ``[B, T, L]``, True for real words of real turns.
      answers: float ``[B, C, H]`` (``CoarseScorer``'s ``a``).
      sticker_regions: float ``[B, C, R, 768]``.

    Returns:
      ``(f [B, C, T, H], sticker_attention float32 [B, C, T, R],
      word_attention float32 [B, C, T, L])``.

    Example:
    >>> layer = SynergisticAttention(hidden_dim=8)
    >>> h = np.random.rand(2, 3, 5, 8).astype("float32")
    >>> f, be, al = layer(h, np.ones((2, 3, 5), bool), np.random.rand(2, 4, 8),
    ...                   np.random.rand(2, 4, 9, 768))
    >>> f.shape, be.shape, al.shape
    ((2, 4, 3, 8), (2, 4, 3, 9), (2, 4, 3, 5))
    """

    def __init__(self, hidden_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        policy = self.dtype_policy
        hidden = self.hidden_dim
        self.region_projection = keras.layers.Dense(
            hidden, use_bias=False, dtype=policy, name="region_projection"
        )
        self.word_key = keras.layers.Dense(hidden, dtype=policy, name="word_key")
        self.answer_query = keras.layers.Dense(
            hidden, use_bias=False, dtype=policy, name="answer_query"
        )
        self.word_score = keras.layers.Dense(1, use_bias=False, dtype=policy, name="word_score")
        self.region_key = keras.layers.Dense(hidden, dtype=policy, name="region_key")
        self.question_query = keras.layers.Dense(
            hidden, use_bias=False, dtype=policy, name="question_query"
        )
        self.region_score = keras.layers.Dense(1, use_bias=False, dtype=policy, name="region_score")
        self.fuse = keras.layers.Dense(hidden, activation="tanh", dtype=policy, name="fuse")

    def build(self, utterances_shape, word_mask_shape, answers_shape, sticker_regions_shape):
        hidden = self.hidden_dim
        self.region_projection.build(sticker_regions_shape)
        self.word_key.build(utterances_shape)
        self.answer_query.build(answers_shape)
        self.word_score.build((None, hidden))
        self.region_key.build((None, hidden))
        self.question_query.build((None, hidden))
        self.region_score.build((None, hidden))
        self.fuse.build((None, 2 * hidden + int(answers_shape[-1])))
        self.built = True

    def call(self, utterances, word_mask, answers, sticker_regions):
        word_mask = ops.cast(word_mask, "bool")
        h = utterances
        answers = ops.cast(answers, h.dtype)
        # Candidate-guided attention over the words of every turn: [B, C, T, L].
        word_keys = self.word_key(h)  # [B, T, L, A]
        answer_queries = self.answer_query(answers)  # [B, C, A]
        hidden = ops.tanh(word_keys[:, None] + answer_queries[:, :, None, None])
        word_logits = self.word_score(hidden)[..., 0]
        word_attention = masked_softmax(word_logits, ops.expand_dims(word_mask, 1), axis=-1)
        question = ops.einsum("bctl,btlh->bcth", ops.cast(word_attention, h.dtype), h)  # qt
        # Candidate-and-question-guided attention over the regions: [B, C, T, R].
        regions = self.region_projection(sticker_regions)  # o [B, C, R, H]
        regions = ops.cast(regions, h.dtype)
        region_keys = self.region_key(regions)  # [B, C, R, A]
        question_queries = self.question_query(question * answers[:, :, None])  # [B, C, T, A]
        hidden = ops.tanh(region_keys[:, :, None] + question_queries[:, :, :, None])
        region_logits = self.region_score(hidden)[..., 0]
        has_words = ops.any(word_mask, axis=-1)  # [B, T]
        sticker_attention = masked_softmax(
            region_logits, has_words[:, None, :, None], axis=-1
        )  # turns without words: all 0
        image = ops.einsum("bctr,bcrh->bcth", ops.cast(sticker_attention, h.dtype), regions)  # vt
        turns = ops.shape(question)[2]
        answers_t = ops.repeat(ops.expand_dims(answers, 2), turns, axis=2)
        fused = self.fuse(ops.concatenate([question, image, answers_t], axis=-1))  # f
        return fused, sticker_attention, word_attention

    def compute_output_shape(
        self, utterances_shape, word_mask_shape, answers_shape, sticker_regions_shape
    ):
        b, t, l_ = utterances_shape[0], utterances_shape[1], utterances_shape[2]
        c, r = sticker_regions_shape[1], sticker_regions_shape[2]
        return (b, c, t, self.hidden_dim), (b, c, t, r), (b, c, t, l_)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class SynergyScorer(keras.layers.Layer):
    """Re-rank logit of every candidate from its fused per-turn vectors::

        g_it = GRU_s(f_it, g_i(t-1))    over the real turns
        r_i  = w_r^T g_i,last + b_r      (float32)

    Call args:
      fused: float ``[B, C, T, H]`` (``SynergisticAttention``'s ``f``).
      turn_mask: bool ``[B, T]``, True for real turns.

    Returns:
      float32 ``[B, C]`` re-rank logits ``r``.

    Example:
    >>> scorer = SynergyScorer(hidden_dim=8)
    >>> scorer(np.random.rand(2, 4, 3, 8), np.array([[1, 1, 0], [1, 1, 1]], bool)).shape
    (2, 4)
    """

    def __init__(self, hidden_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.rnn = keras.layers.GRU(
            self.hidden_dim, unroll=True, dtype=self.dtype_policy, name="synergy_rnn"
        )
        self.score = keras.layers.Dense(1, dtype="float32", name="rerank_score")

    def build(self, fused_shape, turn_mask_shape):
        self.rnn.build((None, fused_shape[2], fused_shape[3]))
        self.score.build((None, self.hidden_dim))
        self.built = True

    def call(self, fused, turn_mask):
        shape = ops.shape(fused)
        batch, candidates, turns = shape[0], shape[1], shape[2]
        mask = ops.broadcast_to(
            ops.expand_dims(ops.cast(turn_mask, "bool"), 1), (batch, candidates, turns)
        )
        # One sequence per (example, candidate): [B*C, T, H].
        final = self.rnn(
            ops.reshape(fused, (-1, fused.shape[2], fused.shape[3])),
            mask=ops.reshape(mask, (-1, fused.shape[2])),
        )
        return ops.reshape(self.score(final), (batch, candidates))

    def compute_output_shape(self, fused_shape, turn_mask_shape):
        return (fused_shape[0], fused_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim)
        return config


@keras.saving.register_keras_serializable(package="srs_tf")
class TopKRerank(keras.layers.Layer):
    """Final scores: the primary top-K re-ranked by the synergistic stage::

        rank_i = |{j : s_j > s_i}|              (candidates strictly above i)
        in_i   = rank_i < K                     (the primary top-K)
        y_i    = sigmoid(s_i + in_i * softplus(r_i))

    A selected ``i`` and an unselected ``j`` have ``s_i > s_j`` strictly
    (otherwise every candidate above ``j`` would be above ``i`` too, so
    ``rank_i >= rank_j >= K``), and ``softplus >= 0``: an unselected candidate
    never overtakes a selected one; only the order inside the top-K changes.
    Selection depends on the multiset of ``s`` only, so the scores are
    permutation equivariant, ties included; a tie at the K-th place selects
    every tied candidate (more than K). With fewer than K candidates, all are
    re-ranked. No weights.

    Args:
      top_k: K.

    Call args:
      coarse: float ``[B, C]`` primary logits ``s``.
      rerank: float ``[B, C]`` synergistic logits ``r``.

    Returns:
      float32 ``[B, C]`` scores in (0, 1).

    Example:
    >>> TopKRerank(top_k=2)(np.array([[2., 1., 0.]]), np.array([[0., 5., 9.]]))
    >>> # in = [T, T, F]: sigmoid([2 + softplus(0), 1 + softplus(5), 0])
    """

    def __init__(self, top_k: int = TOP_K, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.top_k = int(top_k)
        if self.top_k <= 0:
            raise ValueError(f"top_k must be positive, got {top_k!r}")

    def call(self, coarse, rerank):
        coarse = ops.cast(coarse, "float32")
        rerank = ops.cast(rerank, "float32")
        above = ops.greater(ops.expand_dims(coarse, 1), ops.expand_dims(coarse, 2))  # [b, i, j]
        rank = ops.sum(ops.cast(above, "int32"), axis=-1)
        selected = ops.less(rank, self.top_k)
        logits = coarse + ops.where(selected, ops.softplus(rerank), 0.0)
        return ops.sigmoid(logits)

    def compute_output_shape(self, coarse_shape, rerank_shape):
        return tuple(coarse_shape)

    def get_config(self):
        config = super().get_config()
        config.update(top_k=self.top_k)
        return config


def build_matcher(config: SRSConfig, top_k: int = TOP_K) -> keras.Model:
    """The Synergistic matcher (matcher interface of ``srs_tf.model.matcher_io``).

    ``top_k``: candidates re-ranked by the synergistic stage (``TOP_K``).
    """
    inputs = matcher_inputs(config)
    regions, flat = normalized_stickers(inputs)
    turn_mask = TurnMask(config.context_len, name="turn_mask")(inputs["num_turns"])
    utterances, word_mask, context = DialogEncoder(
        config.vocab_size,
        config.emb_dim,
        config.hidden_dim,
        dropout=config.dropout,
        name="dialog_encoder",
    )(inputs["context_ids"], turn_mask)
    coarse, answers = CoarseScorer(config.hidden_dim, name="coarse_scorer")(context, flat)
    fused, sticker_attention, word_attention = SynergisticAttention(
        config.hidden_dim, name="synergistic_attention"
    )(utterances, word_mask, answers, regions)
    rerank = SynergyScorer(config.hidden_dim, name="synergy_scorer")(fused, turn_mask)
    scores = TopKRerank(top_k, name="top_k_rerank")(coarse, rerank)
    outputs = matcher_outputs(scores, sticker_attention, word_attention)
    return keras.Model(inputs, outputs, name="matcher")
