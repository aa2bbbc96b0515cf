"""Exports a trained SRS model as a TensorFlow SavedModel
(docs/DESIGN.md#savedmodel-contract).

The SavedModel is a ``tf.Module`` that holds the variables of the two Keras
sub-models of ``build_srs`` (``sticker_encoder`` and ``matcher``), the word
and emoji vocabularies as lookup tables, and five signatures
(docs/SERVING.md has the full table):

* ``serving_default``: ``context_ids`` int32 ``[B, T, L]`` + ``candidates``
  uint8 ``[B, C, 128, 128, 3]`` -> ``scores`` float32 ``[B, C]``.
  ``num_turns`` is the number of leading non-empty rows of ``context_ids``
  (docs/CONTRACTS.md: contexts are left aligned, oldest first).
* ``rank_text``: ``utterances`` string ``[B, U]`` (space-segmented words,
  ``""`` = no turn) + ``candidates`` -> ``scores``. Empty turns are dropped,
  the last ``context_len`` non-empty ones kept (oldest first), each cut to
  ``max_words`` words and looked up in the vocabulary inside the graph
  (unknown words -> ``[UNK]`` = 1).
* ``encode_stickers``: ``images`` uint8 ``[N, 128, 128, 3]`` ->
  ``sticker_regions`` ``[N, R, 768]``, ``sticker_flat`` ``[N, 2048]``,
  ``emoji_logits`` ``[N, E]`` and ``emoji`` (string ``[N]``, the most likely
  real emoji of the vocabulary).
* ``rank_encoded``: ``context_ids`` + ``sticker_regions`` ``[B|1, C, R, 768]``
  + ``sticker_flat`` ``[B|1, C, 2048]`` -> ``scores``, ``sticker_attention``
  ``[B, C, T, R]``, ``word_attention`` ``[B, C, T, L]``, ``num_turns`` ``[B]``.
  A leading sticker dimension of 1 is one bank shared by all B contexts.
* ``rank_text_encoded``: the same with ``utterances``; also returns
  ``context_words`` string ``[B, T, L]`` (the words the model saw, ``""`` =
  padding), so ``word_attention`` can be drawn over them.

Every shape or value problem that the input signature cannot catch (T and L
of this model, batch sizes that disagree, empty contexts, word ids out of the
vocabulary) fails a ``tf.debugging`` assertion whose message starts with the
name of the input.

Beside the SavedModel files the export directory holds ``vocab`` and
``emoji_vocab`` (one token per line in id order, the reserved ``[PAD]`` and
``[UNK]`` first) and ``srs_export.json`` (model config, training step,
validation metrics, the signature table).
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Sequence

import tensorflow as tf

from srs_tf import atomic
from srs_tf.data.vocab import PAD_ID, UNK_ID
from srs_tf.model.srs import MergeCandidates, SplitCandidates
from srs_tf.model.sticker_encoder import FLAT_DIM, REGION_DIM, num_regions
from srs_tf.model_config import SRSConfig

EXPORT_INFO_FILE = "srs_export.json"
VOCAB_FILE = "vocab"
EMOJI_VOCAB_FILE = "emoji_vocab"
SIGNATURES = (
    "serving_default",
    "rank_text",
    "encode_stickers",
    "rank_encoded",
    "rank_text_encoded",
)


class ExportExistsError(FileExistsError):
    """The export directory already exists and overwriting was not asked for."""


class _Models:
    """Plain holder so that tf.Module does not track the Keras models
    themselves (their variables are tracked explicitly)."""

    def __init__(self, encoder, matcher):
        self.encoder = encoder
        self.matcher = matcher


def _assert_trailing_shape(tensor, name: str, rank: int, trailing: Sequence[int], layout: str):
    """An assertion that ``tensor`` has rank ``rank`` and ends in ``trailing``
    (also run when the signature's static shape was bypassed, e.g. by
    ``loaded.signatures[...]`` or TF Serving)."""
    shape = tf.shape(tensor)
    ok = tf.logical_and(
        tf.equal(tf.size(shape), rank),
        tf.reduce_all(tf.equal(shape[rank - len(trailing) :], trailing)),
    )
    return tf.debugging.Assert(
        ok, [f"{name}: expected shape {layout}, got shape", shape], summarize=8
    )


class SRSServingModule(tf.Module):
    """The exported object: SRS variables, vocab tables and the signatures."""

    def __init__(
        self, encoder, matcher, config: SRSConfig, vocab: Sequence[str], emoji_vocab: Sequence[str]
    ):
        super().__init__(name="srs_serving")
        self._models = _Models(encoder, matcher)
        self.model_variables = list(encoder.variables) + list(matcher.variables)
        self.context_len = int(config.context_len)
        self.max_words = int(config.max_words)
        self.image_size = int(config.image_size)
        self.vocab_size = int(config.vocab_size)
        self.emoji_vocab_size = int(config.emoji_vocab_size)
        self.num_regions = int(num_regions(self.image_size))
        vocab = [str(t) for t in vocab]
        emoji_vocab = [str(t) for t in emoji_vocab]
        if len(vocab) != self.vocab_size:
            raise ValueError(
                f"vocab has {len(vocab)} tokens but config.vocab_size is {self.vocab_size}"
            )
        if len(emoji_vocab) != self.emoji_vocab_size:
            raise ValueError(
                f"emoji_vocab has {len(emoji_vocab)} tokens but "
                f"config.emoji_vocab_size is {self.emoji_vocab_size}"
            )
        for name, tokens in (("vocab", vocab), ("emoji_vocab", emoji_vocab)):
            if tokens[:2] != ["[PAD]", "[UNK]"]:
                raise ValueError(
                    f"{name} must start with the reserved tokens [PAD], [UNK] "
                    f"(ids 0 and 1), got {tokens[:2]}"
                )
        # id 0 ([PAD]) is not a word: a literal "[PAD]" typed by a user is [UNK].
        keys = vocab[1:]
        values = list(range(1, len(vocab)))
        self.word_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.string), tf.constant(values, tf.int32)
            ),
            default_value=UNK_ID,
            name="word_vocab",
        )
        self.emoji_tokens = tf.Variable(
            tf.constant(emoji_vocab, tf.string), trainable=False, name="emoji_vocab"
        )

        size, r = self.image_size, self.num_regions
        # T and L are left dynamic here and checked by an assertion that names
        # context_ids (a static mismatch error would not say what T/L must be).
        ctx_spec = tf.TensorSpec([None, None, None], tf.int32, name="context_ids")
        utt_spec = tf.TensorSpec([None, None], tf.string, name="utterances")
        cand_spec = tf.TensorSpec([None, None, size, size, 3], tf.uint8, name="candidates")
        img_spec = tf.TensorSpec([None, size, size, 3], tf.uint8, name="images")
        reg_spec = tf.TensorSpec([None, None, r, REGION_DIM], tf.float32, name="sticker_regions")
        flat_spec = tf.TensorSpec([None, None, FLAT_DIM], tf.float32, name="sticker_flat")

        self.serving_default = tf.function(
            self._serving_default, autograph=False, input_signature=[ctx_spec, cand_spec]
        )
        self.rank_text = tf.function(
            self._rank_text, autograph=False, input_signature=[utt_spec, cand_spec]
        )
        self.encode_stickers = tf.function(
            self._encode_stickers, autograph=False, input_signature=[img_spec]
        )
        self.rank_encoded = tf.function(
            self._rank_encoded, autograph=False, input_signature=[ctx_spec, reg_spec, flat_spec]
        )
        self.rank_text_encoded = tf.function(
            self._rank_text_encoded,
            autograph=False,
            input_signature=[utt_spec, reg_spec, flat_spec],
        )

    # ------------------------------------------------------------ contexts
    def _check_context_ids(self, context_ids):
        checks = [
            _assert_trailing_shape(
                context_ids,
                "context_ids",
                3,
                [self.context_len, self.max_words],
                f"[batch, {self.context_len}, {self.max_words}] (context_len, max_words of "
                "this model)",
            ),
            tf.debugging.assert_non_negative(
                context_ids, message="context_ids: word ids must be >= 0", summarize=5
            ),
            tf.debugging.assert_less(
                context_ids,
                tf.constant(self.vocab_size, tf.int32),
                message=f"context_ids: word ids must be < vocab_size={self.vocab_size}",
                summarize=5,
            ),
        ]
        with tf.control_dependencies(checks):
            context_ids = tf.identity(context_ids)
        # The checks above hold at run time; give the graph the static
        # [B, T, L] too (the baselines that flatten a word x region grid
        # need static T and L).
        context_ids = tf.ensure_shape(context_ids, [None, self.context_len, self.max_words])
        nonempty = tf.cast(tf.reduce_any(tf.not_equal(context_ids, PAD_ID), axis=-1), tf.int32)
        leading = tf.reduce_sum(tf.math.cumprod(nonempty, axis=1), axis=1)
        total = tf.reduce_sum(nonempty, axis=1)
        checks = [
            tf.debugging.assert_positive(
                leading,
                message=(
                    "context_ids: every context needs a non-empty first row "
                    "(contexts are left aligned, oldest turn in row 0)"
                ),
                summarize=8,
            ),
            tf.debugging.assert_equal(
                leading,
                total,
                message=(
                    "context_ids: a non-empty row follows an empty one; "
                    "contexts must be left aligned with no gaps (rows "
                    "0..num_turns-1 real turns, the rest all zeros)"
                ),
                summarize=8,
            ),
        ]
        with tf.control_dependencies(checks):
            return context_ids, tf.identity(leading)

    def _encode_utterances(self, utterances):
        """``[B, U]`` strings -> (context_ids [B, T, L], num_turns [B], words [B, T, L])."""
        t, w = self.context_len, self.max_words
        check = _assert_trailing_shape(
            utterances, "utterances", 2, [], '[batch, turns] (strings, "" = no turn)'
        )
        with tf.control_dependencies([check]):
            utterances = tf.identity(utterances)
        shape = tf.shape(utterances)
        words = tf.strings.split(utterances)  # [B, U, (words)], never "" words
        dense = words.to_tensor(default_value="", shape=[None, None, w])
        dense = tf.reshape(dense, [shape[0], shape[1], w])  # [B, U, L]
        nonempty = tf.cast(tf.not_equal(dense[:, :, 0], ""), tf.int32)  # [B, U]
        count = tf.reduce_sum(nonempty, axis=1)  # [B]
        checks = [
            tf.debugging.assert_positive(
                count,
                message="utterances: every context needs at least one non-empty utterance",
                summarize=8,
            )
        ]
        with tf.control_dependencies(checks):
            count = tf.identity(count)
        position = tf.cumsum(nonempty, axis=1) - 1  # among non-empty
        first = tf.maximum(count - t, 0)[:, None]
        row = position - first
        keep = tf.logical_and(nonempty > 0, row >= 0)
        batch = tf.shape(dense)[0]
        batch_index = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(row))
        index = tf.boolean_mask(tf.stack([batch_index, row], axis=-1), keep)  # [K, 2]
        kept_words = tf.boolean_mask(dense, keep)  # [K, L]
        kept_ids = tf.where(
            tf.equal(kept_words, ""),
            tf.constant(PAD_ID, tf.int32),
            self.word_table.lookup(kept_words),
        )
        # every kept turn goes to its own row: (b, row) pairs are unique
        context_ids = tf.tensor_scatter_nd_update(
            tf.zeros([batch, t, w], tf.int32), index, kept_ids
        )
        context_words = tf.tensor_scatter_nd_update(tf.fill([batch, t, w], ""), index, kept_words)
        return context_ids, tf.minimum(count, t), context_words

    # ------------------------------------------------------------ stickers
    def _encode_images(self, images):
        out = self._models.encoder(images, training=False)
        return {k: tf.cast(v, tf.float32) for k, v in out.items()}

    def _encode_candidates(self, candidates, batch):
        shape = tf.shape(candidates)
        size = self.image_size
        checks = [
            _assert_trailing_shape(
                candidates,
                "candidates",
                5,
                [size, size, 3],
                f"[batch, candidates, {size}, {size}, 3] (uint8 RGB)",
            ),
            tf.debugging.assert_equal(
                shape[0],
                batch,
                message=("candidates: batch size (dimension 0) must equal the number of contexts"),
            ),
            tf.debugging.assert_positive(
                shape[1], message="candidates: need at least one candidate per context"
            ),
        ]
        with tf.control_dependencies(checks):
            candidates = tf.identity(candidates)
        out = self._encode_images(MergeCandidates()(candidates))
        split = SplitCandidates()
        return split(out["sticker_regions"], candidates), split(out["sticker_flat"], candidates)

    def _broadcast_bank(self, sticker_regions, sticker_flat, batch):
        rshape, fshape = tf.shape(sticker_regions), tf.shape(sticker_flat)
        checks = [
            _assert_trailing_shape(
                sticker_regions,
                "sticker_regions",
                4,
                [self.num_regions, REGION_DIM],
                f"[contexts or 1, stickers, {self.num_regions}, {REGION_DIM}]",
            ),
            _assert_trailing_shape(
                sticker_flat,
                "sticker_flat",
                3,
                [FLAT_DIM],
                f"[contexts or 1, stickers, {FLAT_DIM}]",
            ),
            tf.debugging.assert_equal(
                rshape[:2],
                fshape[:2],
                message=(
                    "sticker_regions, sticker_flat: the first two dimensions [B or 1, C] must agree"
                ),
            ),
            tf.debugging.assert_equal(
                tf.logical_or(tf.equal(rshape[0], batch), tf.equal(rshape[0], 1)),
                True,
                message=(
                    "sticker_regions: dimension 0 must be the number of contexts, or 1 "
                    "for one sticker bank shared by all contexts"
                ),
            ),
            tf.debugging.assert_positive(
                rshape[1], message="sticker_regions: need at least one candidate sticker"
            ),
        ]
        with tf.control_dependencies(checks):
            regions = tf.broadcast_to(
                sticker_regions, [batch, rshape[1], self.num_regions, REGION_DIM]
            )
            flat = tf.broadcast_to(sticker_flat, [batch, rshape[1], FLAT_DIM])
        return regions, flat

    # ------------------------------------------------------------ matching
    def _match(self, context_ids, num_turns, regions, flat):
        out = self._models.matcher(
            {
                "context_ids": context_ids,
                "num_turns": num_turns,
                "sticker_regions": regions,
                "sticker_flat": flat,
            },
            training=False,
        )
        return {k: tf.cast(v, tf.float32) for k, v in out.items()}

    # ------------------------------------------------------------ signatures
    def _serving_default(self, context_ids, candidates):
        context_ids, num_turns = self._check_context_ids(context_ids)
        regions, flat = self._encode_candidates(candidates, tf.shape(context_ids)[0])
        return {"scores": self._match(context_ids, num_turns, regions, flat)["scores"]}

    def _rank_text(self, utterances, candidates):
        context_ids, num_turns, _ = self._encode_utterances(utterances)
        regions, flat = self._encode_candidates(candidates, tf.shape(context_ids)[0])
        return {"scores": self._match(context_ids, num_turns, regions, flat)["scores"]}

    def _encode_stickers(self, images):
        size = self.image_size
        check = _assert_trailing_shape(
            images, "images", 4, [size, size, 3], f"[N, {size}, {size}, 3] (uint8 RGB)"
        )
        with tf.control_dependencies([check]):
            images = tf.identity(images)
        out = self._encode_images(images)
        logits = out["emoji_logits"]
        # the most likely real emoji (ids 0/1 are [PAD]/[UNK])
        real = (
            tf.concat([tf.fill([tf.shape(logits)[0], 2], logits.dtype.min), logits[:, 2:]], axis=1)
            if self.emoji_vocab_size > 2
            else logits
        )
        emoji = tf.gather(self.emoji_tokens, tf.argmax(real, axis=1, output_type=tf.int32))
        return {
            "sticker_regions": out["sticker_regions"],
            "sticker_flat": out["sticker_flat"],
            "emoji_logits": logits,
            "emoji": emoji,
        }

    def _ranked(self, context_ids, num_turns, sticker_regions, sticker_flat):
        regions, flat = self._broadcast_bank(
            sticker_regions, sticker_flat, tf.shape(context_ids)[0]
        )
        out = self._match(context_ids, num_turns, regions, flat)
        return {
            "scores": out["scores"],
            "sticker_attention": out["sticker_attention"],
            "word_attention": out["word_attention"],
            "num_turns": num_turns,
        }

    def _rank_encoded(self, context_ids, sticker_regions, sticker_flat):
        context_ids, num_turns = self._check_context_ids(context_ids)
        return self._ranked(context_ids, num_turns, sticker_regions, sticker_flat)

    def _rank_text_encoded(self, utterances, sticker_regions, sticker_flat):
        context_ids, num_turns, words = self._encode_utterances(utterances)
        out = self._ranked(context_ids, num_turns, sticker_regions, sticker_flat)
        out["context_ids"] = context_ids
        out["context_words"] = words
        return out


def signature_table(config: SRSConfig, num_regions: int = 36) -> dict[str, dict]:
    """The signatures' inputs and outputs as ``{name: {"inputs": ..., "outputs": ...}}``
    with shapes spelled out for this config (written into srs_export.json)."""
    t, w, s, e, r = (
        config.context_len,
        config.max_words,
        config.image_size,
        config.emoji_vocab_size,
        num_regions,
    )
    ctx = {"context_ids": ["int32", ["B", t, w]]}
    utt = {"utterances": ["string", ["B", "U"]]}
    cand = {"candidates": ["uint8", ["B", "C", s, s, 3]]}
    bank = {
        "sticker_regions": ["float32", ["B|1", "C", r, REGION_DIM]],
        "sticker_flat": ["float32", ["B|1", "C", FLAT_DIM]],
    }
    ranked = {
        "scores": ["float32", ["B", "C"]],
        "sticker_attention": ["float32", ["B", "C", t, r]],
        "word_attention": ["float32", ["B", "C", t, w]],
        "num_turns": ["int32", ["B"]],
    }
    return {
        "serving_default": {
            "inputs": {**ctx, **cand},
            "outputs": {"scores": ["float32", ["B", "C"]]},
        },
        "rank_text": {"inputs": {**utt, **cand}, "outputs": {"scores": ["float32", ["B", "C"]]}},
        "encode_stickers": {
            "inputs": {"images": ["uint8", ["N", s, s, 3]]},
            "outputs": {
                "sticker_regions": ["float32", ["N", r, REGION_DIM]],
                "sticker_flat": ["float32", ["N", FLAT_DIM]],
                "emoji_logits": ["float32", ["N", e]],
                "emoji": ["string", ["N"]],
            },
        },
        "rank_encoded": {"inputs": {**ctx, **bank}, "outputs": ranked},
        "rank_text_encoded": {
            "inputs": {**utt, **bank},
            "outputs": {
                **ranked,
                "context_ids": ["int32", ["B", t, w]],
                "context_words": ["string", ["B", t, w]],
            },
        },
    }


def _write_lines(path: str, tokens: Sequence[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for token in tokens:
            f.write(f"{token}\n")


def export_saved_model(
    model,
    config: SRSConfig,
    vocab: Sequence[str],
    emoji_vocab: Sequence[str],
    export_dir: str,
    metadata: dict | None = None,
) -> None:
    """Writes the SavedModel of ``model`` (a ``build_srs`` Keras model) to ``export_dir``.

    Args:
      model: the SRS Keras model; its layers ``sticker_encoder`` and
        ``matcher`` are exported (their current weights).
      config: the model's SRSConfig (``context_len``, ``max_words``,
        ``image_size``, vocabulary sizes fix the signatures).
      vocab: word tokens in id order, ``[PAD]`` and ``[UNK]`` first
        (``Vocab.tokens``); ``len(vocab) == config.vocab_size``.
      emoji_vocab: emoji tokens in id order, reserved ones first.
      export_dir: output directory; it must not exist yet or be empty (use
        ``export_atomic`` for temp-dir-and-rename semantics).
      metadata: extra JSON-serialisable fields for ``srs_export.json``
        (e.g. ``step``, ``val`` metrics, ``model_dir``).
    """
    if os.path.exists(export_dir) and os.listdir(export_dir):
        raise ExportExistsError(f"{export_dir} exists and is not empty")
    encoder = model.get_layer("sticker_encoder")
    matcher = model.get_layer("matcher")
    module = SRSServingModule(encoder, matcher, config, vocab, emoji_vocab)
    signatures = {name: getattr(module, name) for name in SIGNATURES}
    tf.saved_model.save(module, export_dir, signatures=signatures)
    _write_lines(os.path.join(export_dir, VOCAB_FILE), vocab)
    _write_lines(os.path.join(export_dir, EMOJI_VOCAB_FILE), emoji_vocab)
    info = {
        "format": "srs_tf SavedModel",
        "format_version": 1,
        "config": config.to_dict(),
        "model": config.architecture,
        "num_regions": module.num_regions,
        "signatures": signature_table(config, module.num_regions),
        "exported_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "tensorflow_version": tf.__version__,
    }
    info.update(metadata or {})
    with open(os.path.join(export_dir, EXPORT_INFO_FILE), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, sort_keys=True, ensure_ascii=False, default=float)
        f.write("\n")


def export_atomic(
    model,
    config: SRSConfig,
    vocab: Sequence[str],
    emoji_vocab: Sequence[str],
    export_dir: str,
    metadata: dict | None = None,
    overwrite: bool = False,
) -> str:
    """``export_saved_model`` into a temp directory beside ``export_dir``, then
    renamed into place, so a reader never sees a half-written export.

    Raises ``ExportExistsError`` when ``export_dir`` exists and ``overwrite``
    is false. Returns the absolute export path.
    """
    export_dir = os.path.abspath(export_dir)
    if os.path.lexists(export_dir) and not overwrite:
        raise ExportExistsError(f"{export_dir} already exists; pass --overwrite to replace it")
    with atomic.staged_directory(export_dir) as tmp:
        export_saved_model(model, config, vocab, emoji_vocab, tmp, metadata)
    return export_dir


def run_metadata(model_dir: str, step: int, data_dir: str = "") -> dict:
    """``srs_export.json`` fields from a run directory: step, and the
    validation metrics of RUN/best.json when present."""
    meta: dict = {"model_dir": os.path.abspath(model_dir), "step": int(step)}
    if data_dir:
        meta["data_dir"] = os.path.abspath(data_dir)
    best = os.path.join(model_dir, "best.json")
    if os.path.isfile(best):
        with open(best, encoding="utf-8") as f:
            best_info = json.load(f)
        meta["best_step"] = best_info.get("step")
        meta["val"] = best_info.get("val", {})
    return meta


def export_run(
    model_dir: str, export_dir: str, data_dir: str = "", overwrite: bool = False
) -> dict:
    """Loads the best checkpoint of a ``bin/train`` run and exports it
    atomically; returns the written ``srs_export.json`` contents."""
    from srs_tf.data.vocab import Vocab
    from srs_tf.restore import restore_model

    if os.path.lexists(export_dir) and not overwrite:
        raise ExportExistsError(
            f"{os.path.abspath(export_dir)} already exists; pass --overwrite to replace it"
        )
    model, run_config, step = restore_model(model_dir, data_dir)
    config = run_config.model
    tfrec = run_config.data_dir
    vocab = Vocab.load(os.path.join(tfrec, "vocab")).tokens
    emoji_vocab = Vocab.load(os.path.join(tfrec, "emoji_vocab")).tokens
    metadata = run_metadata(model_dir, step, tfrec)
    path = export_atomic(
        model, config, vocab, emoji_vocab, export_dir, metadata, overwrite=overwrite
    )
    return load_export_info(path)


def load_export_info(export_dir: str) -> dict:
    """The ``srs_export.json`` of an export directory."""
    path = os.path.join(export_dir, EXPORT_INFO_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: not an srs_tf export directory")
    with open(path, encoding="utf-8") as f:
        return json.load(f)
