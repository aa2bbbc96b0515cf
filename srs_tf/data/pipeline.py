"""tf.data input pipeline over a TFREC directory (docs/CONTRACTS.md, "Batches").

``make_dataset`` yields dicts with exactly the keys ``context_ids``,
``num_turns``, ``candidates`` (omitted when ``with_images=False``),
``candidate_ids``, ``candidate_emoji`` and ``label``.

Training draws fresh same-set negatives for every batch inside tf.data:
the random numbers come from ``tf.data.Dataset.random(seed,
rerandomize_each_iteration=True)`` (one value per batch, fed to stateless
random ops), so they differ between epochs (each iteration of the dataset,
and each pass of ``repeat``), never include the ground truth, and are
identical for the same seed in another run. Validation and test use the
candidate lists stored by ``bin/make_tfrecords``.

The sticker images are not part of any graph: the bank stays a numpy array
(memory-mapped from ``bank/images.npy`` by default) and each batch's
``[B, C]`` candidate rows are gathered by ``tf.numpy_function`` (docs/DATA.md,
"Sticker bank in memory").
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from srs_tf.data.candidates import check_negatives, sample_candidates
from srs_tf.data.tfrecords import BANK_DIR, BANK_IMAGES, BANK_INDEX, META_FILE

SHUFFLE_BUFFER = 10_000


def load_meta(tfrec_dir: str) -> dict:
    """The ``meta.json`` of a TFREC directory (raises FileNotFoundError naming it)."""
    path = os.path.join(tfrec_dir, META_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"not a TFREC directory (no {META_FILE}): {path}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@dataclasses.dataclass
class StickerBank:
    """The stickers of a TFREC, one row each, sets contiguous.

    ``images`` uint8 ``[N, S, S, 3]`` (a read-only memory map unless loaded
    with ``mmap=False``); per row ``set_index``, ``emoji_id`` (int32),
    ``emoji``, ``sticker_set_id``, ``sticker_id`` (str arrays); per set
    ``set_ids`` (str), ``set_start``, ``set_size`` (int32): set ``s`` is rows
    ``set_start[s] .. set_start[s] + set_size[s] - 1``.
    """

    images: np.ndarray
    set_index: np.ndarray
    emoji_id: np.ndarray
    emoji: np.ndarray
    sticker_set_id: np.ndarray
    sticker_id: np.ndarray
    set_ids: np.ndarray
    set_start: np.ndarray
    set_size: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_sets(self) -> int:
        return int(self.set_ids.shape[0])

    def set_rows(self, set_index: int) -> np.ndarray:
        """Bank rows of set number ``set_index``."""
        start = int(self.set_start[set_index])
        return np.arange(start, start + int(self.set_size[set_index]))

    def row_of(self, sticker_set_id: str, sticker_id: str) -> int:
        """Bank row of a sticker given its original ids (KeyError if absent)."""
        if not hasattr(self, "_rows"):
            self._rows = {
                (a, b): i
                for i, (a, b) in enumerate(
                    zip(self.sticker_set_id.tolist(), self.sticker_id.tolist())
                )
            }
        return self._rows[(str(sticker_set_id), str(sticker_id))]

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """Images of ``rows`` (any shape) as uint8 ``rows.shape + [S, S, 3]``."""
        rows = np.asarray(rows)
        flat = rows.reshape(-1).astype(np.int64)
        out = np.empty((flat.shape[0],) + self.images.shape[1:], dtype=np.uint8)
        np.take(self.images, flat, axis=0, out=out)
        return out.reshape(rows.shape + self.images.shape[1:])


def load_sticker_bank(tfrec_dir: str, mmap: bool = True) -> StickerBank:
    """Loads ``TFREC/bank``; ``mmap=True`` maps the images instead of reading them."""
    bank_dir = os.path.join(tfrec_dir, BANK_DIR)
    images_path = os.path.join(bank_dir, BANK_IMAGES)
    index_path = os.path.join(bank_dir, BANK_INDEX)
    for path in (images_path, index_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"sticker bank file not found: {path}")
    images = np.load(images_path, mmap_mode="r" if mmap else None, allow_pickle=False)
    with np.load(index_path, allow_pickle=False) as idx:
        fields = {k: idx[k] for k in idx.files}
    bank = StickerBank(images=images, **fields)
    if bank.set_index.shape[0] != images.shape[0]:
        raise ValueError(
            f"{bank_dir}: index has {bank.set_index.shape[0]} rows but images {images.shape[0]}"
        )
    return bank


def _shard_paths(tfrec_dir: str, meta: dict, split: str):
    shards = meta.get("shards", {}).get(split)
    if not shards:
        raise ValueError(
            f"{tfrec_dir}: split {split!r} was not written "
            f"(splits: {', '.join(meta.get('shards', {}))})"
        )
    paths = [os.path.join(tfrec_dir, s) for s in shards]
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"TFRecord shard not found: {p}")
    return paths


def make_dataset(
    tfrec_dir: str,
    split: str,
    batch_size: int = 32,
    training: bool | None = None,
    seed: int = 0,
    negatives: str | None = None,
    with_images: bool = True,
    num_candidates: int | None = None,
    repeat: bool = False,
    drop_remainder: bool | None = None,
    shuffle_buffer: int = SHUFFLE_BUFFER,
    bank: StickerBank | None = None,
    meta: dict | None = None,
    context_turns: int | None = None,
):
    """A ``tf.data.Dataset`` of batch dicts (docs/CONTRACTS.md) for ``split``.

    Args:
      tfrec_dir: a directory written by ``bin/make_tfrecords``.
      split: ``train``, ``val`` or ``test``.
      batch_size: examples per batch.
      training: shuffle and draw fresh random negatives (default: ``split ==
        'train'``); otherwise read in file order with the stored candidates.
      seed: seed of the shuffling and of the training negatives.
      negatives: ``random`` or ``first`` (the release code's first other
        stickers of the set); default: meta.json's ``negatives``.
      with_images: gather the ``candidates`` images; when False the key is
        omitted (frozen-encoder training needs ``candidate_ids`` only).
      num_candidates: candidates per example; default and, for stored lists,
        required value: meta.json's.
      repeat: repeat forever (each pass reshuffles and redraws negatives).
      drop_remainder: drop a last partial batch (default: ``training``).
      shuffle_buffer: examples in the shuffle buffer.
      bank: an already loaded bank (else ``load_sticker_bank(tfrec_dir)``).
      meta: an already loaded meta.json.
      context_turns: keep only the last this many utterances of each context
        (``keep_last_turns``); default: all that the TFRecords store
        (meta.json's ``context_len``).
    """
    import tensorflow as tf

    meta = meta if meta is not None else load_meta(tfrec_dir)
    training = (split == "train") if training is None else bool(training)
    negatives = negatives or meta.get("negatives", "random")
    check_negatives(negatives)
    drop_remainder = training if drop_remainder is None else bool(drop_remainder)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    paths = _shard_paths(tfrec_dir, meta, split)
    bank = bank if bank is not None else load_sticker_bank(tfrec_dir)
    num_c = _check_num_candidates(meta, bank, split, training, num_candidates)

    autotune = tf.data.AUTOTUNE
    ds = _read_records(paths, training, seed, shuffle_buffer, repeat)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    stored = not training
    ds = ds.map(
        _parser(meta, negatives if stored else None, num_c),
        num_parallel_calls=autotune,
        deterministic=True,
    )
    stored_turns = int(meta["context_len"])
    if context_turns is not None and context_turns != stored_turns:
        if not 0 < context_turns < stored_turns:
            raise ValueError(
                f"context_turns={context_turns}: {tfrec_dir} stores up to {stored_turns} "
                "utterances per context; keep between 1 and that many"
            )

        def truncate(batch):
            out = dict(batch)
            out["context_ids"], out["num_turns"] = keep_last_turns(
                batch["context_ids"], batch["num_turns"], context_turns
            )
            return out

        ds = ds.map(truncate, num_parallel_calls=autotune, deterministic=True)
    if training:
        set_start = tf.constant(bank.set_start.astype(np.int32))
        set_size = tf.constant(bank.set_size.astype(np.int32))

        def sample(batch, seed_of_batch):
            out = dict(batch)
            out["candidate_ids"], out["label"] = sample_candidates(
                batch["gt"],
                batch["set_index"],
                set_start,
                set_size,
                num_c,
                negatives,
                seed_of_batch,
            )
            return out

        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            sample, num_parallel_calls=autotune, deterministic=True
        )
    ds = ds.map(_finisher(bank, with_images), num_parallel_calls=autotune, deterministic=True)
    return ds.prefetch(autotune)


def keep_last_turns(context_ids, num_turns, turns: int):
    """The last ``turns`` utterances of each context, laid out as
    docs/CONTRACTS.md fixes it (oldest kept utterance in row 0).

    Args:
      context_ids: int32 ``[B, T, L]``, utterances in rows ``0 .. n-1``.
      num_turns: int32 ``[B]``, the ``n`` of each example.
      turns: utterances to keep, ``1 <= turns <= T``.

    Returns:
      ``(context_ids [B, turns, L], num_turns [B])``: rows ``n - k .. n - 1``
      moved to ``0 .. k - 1`` with ``k = min(n, turns)``, zeros after them.
    """
    import tensorflow as tf

    kept = tf.minimum(num_turns, turns)
    first = num_turns - kept  # [B]
    rows = first[:, None] + tf.range(turns)[None, :]  # [B, turns]
    valid = tf.range(turns)[None, :] < kept[:, None]
    rows = tf.where(valid, rows, 0)
    out = tf.gather(context_ids, rows, batch_dims=1)
    out = out * tf.cast(valid, out.dtype)[:, :, None]
    return out, kept


def _check_num_candidates(meta, bank, split, training, num_candidates) -> int:
    """The list size: meta.json's for stored lists; 2 .. smallest set when drawn."""
    stored_c = int(meta["num_candidates"])
    num_c = stored_c if num_candidates is None else int(num_candidates)
    if not training:
        if split == "train":
            raise ValueError("the train split has no stored candidates; use training=True")
        if num_c != stored_c:
            raise ValueError(
                f"{split} stores {stored_c} candidates per example; num_candidates="
                f"{num_c} is only possible with training=True"
            )
    elif num_c < 2 or num_c > int(bank.set_size.min()):
        raise ValueError(
            f"num_candidates={num_c} must be in 2..{int(bank.set_size.min())} "
            "(the smallest set in the bank)"
        )
    return num_c


def _read_records(paths, training: bool, seed: int, shuffle_buffer: int, repeat: bool):
    """Serialized examples: in file order, or shard- and example-shuffled."""
    import tensorflow as tf

    if not training:
        ds = tf.data.TFRecordDataset(paths)
        return ds.repeat() if repeat else ds
    if len(paths) > 1:
        files = tf.data.Dataset.from_tensor_slices(paths)
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        ds = files.interleave(
            tf.data.TFRecordDataset,
            cycle_length=min(len(paths), 4),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    else:
        ds = tf.data.TFRecordDataset(paths)
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return ds.repeat() if repeat else ds


def _parser(meta: dict, stored_negatives: str | None, num_candidates: int):
    """Parses a batch of serialized examples; with ``stored_negatives`` also
    its stored candidate list (``cand_<kind>``, ``label_<kind>``)."""
    import tensorflow as tf

    turns, words = int(meta["context_len"]), int(meta["max_words"])
    features = {
        "context_ids": tf.io.FixedLenFeature([turns * words], tf.int64),
        "num_turns": tf.io.FixedLenFeature([], tf.int64),
        "gt": tf.io.FixedLenFeature([], tf.int64),
        "set_index": tf.io.FixedLenFeature([], tf.int64),
    }
    if stored_negatives:
        features[f"cand_{stored_negatives}"] = tf.io.FixedLenFeature([num_candidates], tf.int64)
        features[f"label_{stored_negatives}"] = tf.io.FixedLenFeature([], tf.int64)

    def parse(serialized):
        ex = tf.io.parse_example(serialized, features)
        out = {
            "context_ids": tf.reshape(tf.cast(ex["context_ids"], tf.int32), [-1, turns, words]),
            "num_turns": tf.cast(ex["num_turns"], tf.int32),
            "gt": tf.cast(ex["gt"], tf.int32),
            "set_index": tf.cast(ex["set_index"], tf.int32),
        }
        if stored_negatives:
            out["candidate_ids"] = tf.cast(ex[f"cand_{stored_negatives}"], tf.int32)
            out["label"] = tf.cast(ex[f"label_{stored_negatives}"], tf.int32)
        return out

    return parse


def _finisher(bank: StickerBank, with_images: bool):
    """The batch dict of docs/CONTRACTS.md: candidates' emoji ids, and their
    images gathered from the bank when ``with_images``."""
    import tensorflow as tf

    emoji_table = tf.constant(bank.emoji_id.astype(np.int32))
    image_shape = tuple(int(d) for d in bank.images.shape[1:])

    def finish(batch):
        cands = batch["candidate_ids"]
        out = {"context_ids": batch["context_ids"], "num_turns": batch["num_turns"]}
        if with_images:
            images = tf.numpy_function(bank.gather, [cands], tf.uint8, stateful=False)
            images.set_shape(cands.shape.concatenate(image_shape))
            out["candidates"] = images
        out["candidate_ids"] = cands
        out["candidate_emoji"] = tf.gather(emoji_table, cands)
        out["label"] = batch["label"]
        return out

    return finish
