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

from srs_tf.data.tfrecords import BANK_DIR, BANK_IMAGES, BANK_INDEX, META_FILE, NEGATIVES

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
    """
    import tensorflow as tf

    meta = meta if meta is not None else load_meta(tfrec_dir)
    training = (split == "train") if training is None else bool(training)
    negatives = negatives or meta.get("negatives", "random")
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives must be one of {', '.join(NEGATIVES)}, got {negatives!r}")
    stored_c = int(meta["num_candidates"])
    num_c = stored_c if num_candidates is None else int(num_candidates)
    drop_remainder = training if drop_remainder is None else bool(drop_remainder)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    T, L = int(meta["context_len"]), int(meta["max_words"])
    paths = _shard_paths(tfrec_dir, meta, split)
    bank = bank if bank is not None else load_sticker_bank(tfrec_dir)
    stored = not training
    if stored and num_c != stored_c:
        raise ValueError(
            f"{split} stores {stored_c} candidates per example; num_candidates="
            f"{num_c} is only possible with training=True"
        )
    if not stored and (num_c < 2 or num_c > int(bank.set_size.min())):
        raise ValueError(
            f"num_candidates={num_c} must be in 2..{int(bank.set_size.min())} "
            "(the smallest set in the bank)"
        )

    features = {
        "context_ids": tf.io.FixedLenFeature([T * L], tf.int64),
        "num_turns": tf.io.FixedLenFeature([], tf.int64),
        "gt": tf.io.FixedLenFeature([], tf.int64),
        "set_index": tf.io.FixedLenFeature([], tf.int64),
    }
    if stored:
        if split == "train":
            raise ValueError("the train split has no stored candidates; use training=True")
        features[f"cand_{negatives}"] = tf.io.FixedLenFeature([num_c], tf.int64)
        features[f"label_{negatives}"] = tf.io.FixedLenFeature([], tf.int64)

    emoji_table = tf.constant(bank.emoji_id.astype(np.int32))
    set_start = tf.constant(bank.set_start.astype(np.int32))
    set_size = tf.constant(bank.set_size.astype(np.int32))
    max_set = int(bank.set_size.max())

    def parse(serialized):
        ex = tf.io.parse_example(serialized, features)
        out = {
            "context_ids": tf.reshape(tf.cast(ex["context_ids"], tf.int32), [-1, T, L]),
            "num_turns": tf.cast(ex["num_turns"], tf.int32),
            "gt": tf.cast(ex["gt"], tf.int32),
            "set_index": tf.cast(ex["set_index"], tf.int32),
        }
        if stored:
            out["candidate_ids"] = tf.cast(ex[f"cand_{negatives}"], tf.int32)
            out["label"] = tf.cast(ex[f"label_{negatives}"], tf.int32)
        return out

    def sample(batch, rnd):
        gt, sidx = batch["gt"], batch["set_index"]
        b = tf.shape(gt)[0]
        start = tf.gather(set_start, sidx)
        size = tf.gather(set_size, sidx)
        offset = gt - start  # position of the gt inside its set
        rnd = tf.cast(rnd, tf.int64)
        if negatives == "random":
            u = tf.random.stateless_uniform(
                [b, max_set - 1], seed=tf.stack([rnd, tf.constant(0, tf.int64)])
            )
            valid = tf.range(max_set - 1)[None, :] < (size - 1)[:, None]
            u = tf.where(valid, u, -1.0)
            _, j = tf.math.top_k(u, k=num_c - 1, sorted=False)
        else:
            j = tf.tile(tf.range(num_c - 1)[None, :], [b, 1])
        j = j + tf.cast(j >= offset[:, None], tf.int32)  # skip the gt
        neg_rows = start[:, None] + j
        pos = tf.random.stateless_uniform(
            [b],
            seed=tf.stack([rnd, tf.constant(1, tf.int64)]),
            minval=0,
            maxval=num_c,
            dtype=tf.int32,
        )
        c = tf.range(num_c)[None, :]
        neg_idx = tf.clip_by_value(c - tf.cast(c > pos[:, None], tf.int32), 0, num_c - 2)
        cands = tf.where(c == pos[:, None], gt[:, None], tf.gather(neg_rows, neg_idx, batch_dims=1))
        out = dict(batch)
        out["candidate_ids"] = cands
        out["label"] = pos
        return out

    images = bank.images
    img_shape = tuple(int(d) for d in images.shape[1:])

    def gather_np(rows):
        return bank.gather(rows)

    def finish(batch):
        cands = batch["candidate_ids"]
        out = {
            "context_ids": batch["context_ids"],
            "num_turns": batch["num_turns"],
        }
        if with_images:
            imgs = tf.numpy_function(gather_np, [cands], tf.uint8, stateful=False)
            imgs.set_shape(cands.shape.concatenate(img_shape))
            out["candidates"] = imgs
        out["candidate_ids"] = cands
        out["candidate_emoji"] = tf.gather(emoji_table, cands)
        out["label"] = batch["label"]
        return out

    autotune = tf.data.AUTOTUNE
    if training:
        files = tf.data.Dataset.from_tensor_slices(paths)
        if len(paths) > 1:
            files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
            ds = files.interleave(
                tf.data.TFRecordDataset,
                cycle_length=min(len(paths), 4),
                num_parallel_calls=autotune,
                deterministic=True,
            )
        else:
            ds = tf.data.TFRecordDataset(paths)
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        ds = ds.map(parse, num_parallel_calls=autotune, deterministic=True)
        rnd = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, rnd)).map(
            sample, num_parallel_calls=autotune, deterministic=True
        )
    else:
        ds = tf.data.TFRecordDataset(paths)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        ds = ds.map(parse, num_parallel_calls=autotune, deterministic=True)
    ds = ds.map(finish, num_parallel_calls=autotune, deterministic=True)
    return ds.prefetch(autotune)
