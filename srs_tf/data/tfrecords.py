"""Converting a StickerChat release directory to TFREC (``bin/make_tfrecords``).

TFREC layout (docs/DATA.md, "TFREC layout")::

    TFREC/meta.json            context_len, max_words, vocab sizes, num_candidates, seed,
                               counts, shards
    TFREC/report.json          read / written / skipped-by-reason per split; the bank's counts
    TFREC/vocab  TFREC/emoji_vocab     copies of the release's files
    TFREC/bank/images.npy      uint8 [N, 128, 128, 3], each sticker once, sets contiguous
    TFREC/bank/index.npz       per row: set_index, emoji_id, emoji, sticker_set_id, sticker_id;
                               per set: set_ids, set_start, set_size
    TFREC/train-00000-of-0000K.tfrecord ...   tf.train.Example per line
    TFREC/val-00000-of-00001.tfrecord  TFREC/test-00000-of-00001.tfrecord

Every record has ``context_ids`` (int64 ``[context_len * max_words]``, the
CONTRACTS layout flattened), ``num_turns``, ``gt`` (bank row of the ground
truth), ``set_index`` and ``line`` (line number in the release file).
Validation and test records also store two fixed candidate lists, drawn once
with the seed: ``cand_random``/``label_random`` (gt + 9 random same-set
negatives, gt at a random position) and ``cand_first``/``label_first`` (gt +
the first 9 other stickers of the set in ``emoji_mapping.txt`` order, the
release code's choice, gt at a random position).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import io
import json
import os
import shutil
from collections.abc import Sequence

import numpy as np

from srs_tf import atomic
from srs_tf.data import release as release_lib
from srs_tf.data import stickers as stickers_lib
from srs_tf.data.candidates import NEGATIVES, fixed_candidates
from srs_tf.data.report import Counts, Report
from srs_tf.model_config import CONTEXT_LEN, MAX_WORDS, NUM_CANDIDATES
from srs_tf.progress import Progress

FORMAT_VERSION = 1
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
BANK_DIR = "bank"
BANK_IMAGES = "images.npy"
BANK_INDEX = "index.npz"
META_FILE = "meta.json"
REPORT_FILE = "report.json"
_NPY_HEADER_BYTES = 128


class OutputExistsError(FileExistsError):
    """The output directory exists and ``overwrite`` was not set."""


@dataclasses.dataclass
class TFRecordsConfig:
    """Options of ``make_tfrecords`` (the flags of ``bin/make_tfrecords``).

    Attributes:
      data_dir: the release directory (docs/DESIGN.md#release-format).
      output_dir: TFREC directory to create.
      context_len: utterances kept per context, the most recent ones.
      max_words: words kept per utterance, the first ones.
      num_candidates: candidates per example (gt + negatives); sets with fewer
        usable stickers are skipped.
      seed: seed of the stored validation/test candidate lists.
      negatives: the default candidate list of val/test recorded in
        meta.json (``random`` or ``first``); both lists are always stored.
      num_shards: number of train shards (val/test are one file each).
      overwrite: replace an existing non-empty ``output_dir``.
      splits: splits to convert.
      image_size: sticker side in pixels.
      workers: threads loading sticker files.
      progress: print progress lines (to stderr).
    """

    data_dir: str
    output_dir: str
    context_len: int = CONTEXT_LEN
    max_words: int = MAX_WORDS
    num_candidates: int = NUM_CANDIDATES
    seed: int = 1234
    negatives: str = "random"
    num_shards: int = 4
    overwrite: bool = False
    splits: tuple[str, ...] = release_lib.SPLITS
    image_size: int = stickers_lib.IMAGE_SIZE
    workers: int = 4
    progress: bool = True

    def validate(self) -> None:
        for name in ("context_len", "max_words", "num_shards", "image_size", "workers"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if int(self.num_candidates) < 2:
            raise ValueError(f"num_candidates must be at least 2, got {self.num_candidates!r}")
        if self.negatives not in NEGATIVES:
            raise ValueError(
                f"negatives must be one of {', '.join(NEGATIVES)}, got {self.negatives!r}"
            )
        for split in self.splits:
            if split not in release_lib.SPLITS:
                raise ValueError(f"unknown split {split!r}")


def shard_names(split: str, num_shards: int) -> list[str]:
    return [f"{split}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]


# ----------------------------------------------------------------------------- the bank


class _NpyAppender:
    """Writes a uint8 ``.npy`` array row block by row block without knowing its
    length in advance (the 128-byte header is written at ``close``)."""

    def __init__(self, path: str, item_shape: tuple[int, ...]):
        self.path = path
        self.item_shape = tuple(item_shape)
        self.n = 0
        self._f = open(path, "wb")
        self._f.write(b"\0" * _NPY_HEADER_BYTES)

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=np.uint8)
        assert rows.shape[1:] == self.item_shape, rows.shape
        self._f.write(rows.tobytes())
        self.n += rows.shape[0]

    def close(self) -> None:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "|u1", "fortran_order": False, "shape": (self.n,) + self.item_shape}
        )
        data = header.getvalue()
        if len(data) != _NPY_HEADER_BYTES:
            raise RuntimeError(f"unexpected .npy header size {len(data)}")
        self._f.seek(0)
        self._f.write(data)
        self._f.close()


@dataclasses.dataclass
class _BankIndex:
    set_index: list[int] = dataclasses.field(default_factory=list)
    emoji_id: list[int] = dataclasses.field(default_factory=list)
    emoji: list[str] = dataclasses.field(default_factory=list)
    sticker_set_id: list[str] = dataclasses.field(default_factory=list)
    sticker_id: list[str] = dataclasses.field(default_factory=list)
    set_ids: list[str] = dataclasses.field(default_factory=list)
    set_start: list[int] = dataclasses.field(default_factory=list)
    set_size: list[int] = dataclasses.field(default_factory=list)
    # lookups for the example pass
    row_of: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    bad_sticker: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    small_sets: set[str] = dataclasses.field(default_factory=set)

    def save(self, path: str) -> None:
        np.savez(
            path,
            set_index=np.asarray(self.set_index, dtype=np.int32),
            emoji_id=np.asarray(self.emoji_id, dtype=np.int32),
            emoji=np.asarray(self.emoji, dtype=np.str_),
            sticker_set_id=np.asarray(self.sticker_set_id, dtype=np.str_),
            sticker_id=np.asarray(self.sticker_id, dtype=np.str_),
            set_ids=np.asarray(self.set_ids, dtype=np.str_),
            set_start=np.asarray(self.set_start, dtype=np.int32),
            set_size=np.asarray(self.set_size, dtype=np.int32),
        )


def _write_bank(
    release: release_lib.Release,
    set_ids: Sequence[str],
    out_dir: str,
    config: TFRecordsConfig,
    counts: Counts,
) -> _BankIndex:
    """Loads every sticker of ``set_ids`` (in order), drops bad files and small
    sets (counted), and streams the rest into ``bank/images.npy``."""
    os.makedirs(out_dir, exist_ok=True)
    sets = release.sticker_sets()
    index = _BankIndex()
    size = config.image_size
    writer = _NpyAppender(os.path.join(out_dir, BANK_IMAGES), (size, size, 3))
    progress = Progress(
        "bank: stickers", total=sum(len(sets[s]) for s in set_ids), enabled=config.progress
    )

    def load(args):
        set_id, sticker_id = args
        try:
            return release.load_sticker(set_id, sticker_id, size=size), None
        except stickers_lib.StickerError as e:
            return None, e

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=config.workers) as pool:
            for set_id in set_ids:
                info = sets[set_id]
                loaded = list(pool.map(load, [(set_id, sid) for sid in info.sticker_ids]))
                progress.update(len(loaded))
                good: list[tuple[str, np.ndarray]] = []
                for sid, (image, error) in zip(info.sticker_ids, loaded):
                    if error is not None:
                        counts.skip(error.reason, f"{release_lib.STICKER_DIR}/{set_id}/{sid}.npy")
                        index.bad_sticker[(set_id, sid)] = error.reason
                    else:
                        good.append((sid, image))
                if len(good) < config.num_candidates:
                    counts.skip(release_lib.SKIP_SMALL_SET, f"{release_lib.STICKER_DIR}/{set_id}")
                    index.small_sets.add(set_id)
                    continue
                set_pos = len(index.set_ids)
                index.set_ids.append(set_id)
                index.set_start.append(writer.n)
                index.set_size.append(len(good))
                for sid, _ in good:
                    emoji = info.emoji.get(sid, "")
                    emoji_id = release_lib.emoji_to_id(release.emoji_vocab, emoji)
                    if emoji_id == release_lib.UNK_ID:
                        counts.count(release_lib.COUNT_UNKNOWN_EMOJI)
                    index.row_of[(set_id, sid)] = len(index.sticker_id)
                    index.set_index.append(set_pos)
                    index.emoji_id.append(emoji_id)
                    index.emoji.append(emoji)
                    index.sticker_set_id.append(set_id)
                    index.sticker_id.append(sid)
                writer.append(np.stack([img for _, img in good]))
    finally:
        writer.close()
        progress.close()
    index.save(os.path.join(out_dir, BANK_INDEX))
    return index


# ----------------------------------------------------------------------------- examples


def _int_feature(values):
    import tensorflow as tf

    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in np.ravel(values)]))


def _example_proto(
    ex: release_lib.ReleaseExample,
    release: release_lib.Release,
    index: _BankIndex,
    config: TFRecordsConfig,
    gt: int,
):
    import tensorflow as tf

    context_ids, num_turns = release_lib.encode_context(
        ex.utterances, release.vocab, config.context_len, config.max_words
    )
    set_pos = index.set_index[gt]
    feats = {
        "context_ids": _int_feature(context_ids),
        "num_turns": _int_feature([num_turns]),
        "gt": _int_feature([gt]),
        "set_index": _int_feature([set_pos]),
        "line": _int_feature([ex.line_no]),
    }
    if ex.split != "train":
        start, size = index.set_start[set_pos], index.set_size[set_pos]
        rng = np.random.default_rng(
            [int(config.seed) & 0xFFFFFFFF, SPLIT_CODES[ex.split], ex.line_no]
        )
        for kind in NEGATIVES:
            cands, pos = fixed_candidates(gt, start, size, config.num_candidates, rng, kind)
            feats[f"cand_{kind}"] = _int_feature(cands)
            feats[f"label_{kind}"] = _int_feature([pos])
    return tf.train.Example(features=tf.train.Features(feature=feats))


def _write_split(
    split: str,
    release: release_lib.Release,
    index: _BankIndex,
    out_dir: str,
    config: TFRecordsConfig,
    counts: Counts,
) -> list[str]:
    import tensorflow as tf

    num_shards = config.num_shards if split == "train" else 1
    names = shard_names(split, num_shards)
    writers = [tf.io.TFRecordWriter(os.path.join(out_dir, n)) for n in names]
    progress = Progress(f"{split}: lines", enabled=config.progress)
    try:
        for ex in release.iter_examples(split, counts):
            progress.update()
            reason = release.check_sticker(ex)
            key = (ex.sticker_set_id, ex.sticker_id)
            if reason is None:
                if key in index.bad_sticker:
                    reason = index.bad_sticker[key]
                elif ex.sticker_set_id in index.small_sets:
                    reason = release_lib.SKIP_SMALL_SET
            if reason is not None:
                counts.skip(reason, ex.source)
                continue
            gt = index.row_of[key]
            if index.emoji_id[gt] == release_lib.UNK_ID:
                counts.count(release_lib.COUNT_UNKNOWN_EMOJI)
            if len(ex.utterances) > config.context_len:
                counts.count("context_truncated")
            proto = _example_proto(ex, release, index, config, gt)
            writers[counts.written % num_shards].write(proto.SerializeToString())
            counts.written += 1
    finally:
        for w in writers:
            w.close()
        progress.close()
    return names


# ----------------------------------------------------------------------------- driver


def _check_output(path: str, overwrite: bool) -> None:
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise OutputExistsError(f"output path exists and is not a directory: {path}")
        if os.listdir(path) and not overwrite:
            raise OutputExistsError(
                f"output directory exists and is not empty: {path} (pass --overwrite to replace it)"
            )


def make_tfrecords(config: TFRecordsConfig) -> Report:
    """Converts ``config.data_dir`` into a TFREC directory at ``config.output_dir``.

    The output is built in a temporary sibling directory and renamed into
    place at the end, so an interrupted run leaves no half-written TFREC.
    Raises ``release.DataError`` for a dataset that cannot be read at all and
    ``OutputExistsError`` for an existing output without ``overwrite``.
    Returns the report (also written to ``TFREC/report.json``).
    """
    config.validate()
    out = os.path.abspath(config.output_dir)
    _check_output(out, config.overwrite)
    release = release_lib.Release(config.data_dir, splits=config.splits)
    report = Report()
    sets = release.sticker_sets(report.bank)

    # Pass 1: which sets do the examples use? (Only those go into the bank.)
    referenced: set[str] = set()
    for split in config.splits:
        progress = Progress(f"{split}: scanning sticker sets", enabled=config.progress)
        for ex in release.iter_examples(split, None):
            progress.update()
            if ex.sticker_set_id in sets:
                referenced.add(ex.sticker_set_id)
        progress.close()
    set_ids = [s for s in sets if s in referenced]  # catalogue order = numeric set-id order

    # _check_output runs again at the end: the output may have appeared meanwhile.
    with atomic.staged_directory(out, lambda: _check_output(out, config.overwrite)) as tmp:
        index = _write_bank(release, set_ids, os.path.join(tmp, BANK_DIR), config, report.bank)
        report.bank_stickers = len(index.sticker_id)
        report.bank_sets = len(index.set_ids)
        shards = {}
        for split in config.splits:
            shards[split] = _write_split(split, release, index, tmp, config, report.split(split))
        shutil.copyfile(
            os.path.join(release.data_dir, release_lib.VOCAB_FILE),
            os.path.join(tmp, release_lib.VOCAB_FILE),
        )
        shutil.copyfile(
            os.path.join(release.data_dir, release_lib.EMOJI_VOCAB_FILE),
            os.path.join(tmp, release_lib.EMOJI_VOCAB_FILE),
        )
        meta = {
            "format_version": FORMAT_VERSION,
            "context_len": int(config.context_len),
            "max_words": int(config.max_words),
            "vocab_size": len(release.vocab),
            "emoji_vocab_size": len(release.emoji_vocab),
            "num_candidates": int(config.num_candidates),
            "image_size": int(config.image_size),
            "seed": int(config.seed),
            "negatives": config.negatives,
            **{f"{split}_examples": report.split(split).written for split in config.splits},
            "counts": {
                **{split: report.split(split).written for split in config.splits},
                "bank_stickers": report.bank_stickers,
                "bank_sets": report.bank_sets,
            },
            "shards": shards,
            "source": release.data_dir,
        }
        with open(os.path.join(tmp, META_FILE), "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=2, ensure_ascii=False)
            f.write("\n")
        report.write_json(os.path.join(tmp, REPORT_FILE))

    return report
