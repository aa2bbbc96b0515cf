"""Reader of the StickerChat release format (docs/DESIGN.md#release-format, docs/DATA.md).

::

    DATA/release_train.json  release_val.json  release_test.json   (JSON lines)
    DATA/vocab  DATA/emoji_vocab
    DATA/npy_stickers/<sticker_set_id>/<sticker_id>.npy
    DATA/npy_stickers/<sticker_set_id>/emoji_mapping.txt   "<sticker_id>\\t<emoji>"

Problems with the whole dataset (a missing directory, split file or
vocabulary) raise ``DataError`` naming the path. Problems with one line or
one sticker are *skips*: the line is dropped and counted by reason in a
``report.Counts`` (the reason strings are the ``SKIP_*`` constants below).

Ids (``sticker_set_id``, ``sticker_id``, message ids) are integers of up to
64 bits in the release. They are parsed exactly (JSON numbers are never
turned into floats: a float-valued id is a ``bad_id`` skip) and kept as
decimal strings, which also name the sticker directories and files.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import os
import re
from collections.abc import Iterator, Sequence

import numpy as np

from srs_tf.data import stickers as stickers_lib
from srs_tf.data.report import Counts, file_line
from srs_tf.data.vocab import UNK_ID, Vocab

SPLITS = ("train", "val", "test")
SPLIT_FILES = {split: f"release_{split}.json" for split in SPLITS}
VOCAB_FILE = "vocab"
EMOJI_VOCAB_FILE = "emoji_vocab"
STICKER_DIR = "npy_stickers"
EMOJI_MAPPING_FILE = "emoji_mapping.txt"

# Skip reasons of a line (an example).
SKIP_BLANK_LINE = "blank_line"
SKIP_MALFORMED_JSON = "malformed_json"
SKIP_MISSING_KEYS = "missing_keys"
SKIP_BAD_ID = "bad_id"
SKIP_BAD_FIELD = "bad_field"
SKIP_EMPTY_CONTEXT = "empty_context"
SKIP_UNKNOWN_SET = "unknown_sticker_set"
SKIP_STICKER_NOT_IN_SET = "sticker_not_in_set"
SKIP_SMALL_SET = "small_sticker_set"
# Skip reasons of a sticker file (also used for a line whose ground truth it is).
SKIP_MISSING_STICKER = "missing_sticker_file"
SKIP_UNREADABLE_STICKER = "unreadable_sticker_file"
SKIP_BAD_STICKER = "bad_sticker_array"
# Skip reasons of the sticker catalogue.
SKIP_MISSING_MAPPING = "missing_emoji_mapping"
SKIP_MALFORMED_MAPPING_LINE = "malformed_mapping_line"
SKIP_DUPLICATE_MAPPING_ENTRY = "duplicate_mapping_entry"
# Counted events (kept, not skipped).
COUNT_UNKNOWN_EMOJI = "unknown_emoji"

_INT_RE = re.compile(r"-?[0-9]+\Z")


class DataError(Exception):
    """The dataset as a whole cannot be read; the message names the path (and line)."""


class SkipLine(Exception):
    """One line cannot be used; ``reason`` is the report's skip reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def parse_mapping_line(line: str) -> tuple[str, str] | None:
    """One ``emoji_mapping.txt`` line -> ``(sticker_id, emoji)``, stripped;
    ``None`` for a blank line. Tab-separated as released; a space is accepted
    too. The caller validates the id."""
    line = line.rstrip("\r\n")
    if not line.strip():
        return None
    if "\t" in line:
        sid, emoji = line.split("\t", 1)
    else:
        parts = line.split(None, 1)
        sid, emoji = parts[0], (parts[1] if len(parts) > 1 else "")
    return sid.strip(), emoji.strip()


@dataclasses.dataclass(frozen=True)
class Turn:
    """One context message. Ids are decimal strings or ``None``."""

    text: str
    id: str | None = None
    from_id: str | None = None
    reply_to_msg_id: str | None = None


@dataclasses.dataclass(frozen=True)
class ReleaseExample:
    """One usable line of a release split (before sticker checks).

    ``utterances`` are the non-empty context texts (whitespace-only counts as
    empty), oldest first, each split into its space-separated words.
    """

    split: str
    line_no: int
    source: str
    turns: tuple[Turn, ...]
    utterances: tuple[tuple[str, ...], ...]
    sticker_set_id: str
    sticker_id: str
    sticker_alt: str | None = None
    from_id: str | None = None
    reply_to_msg_id: str | None = None


@dataclasses.dataclass(frozen=True)
class StickerSetInfo:
    """A sticker set from ``emoji_mapping.txt``: sticker ids in file order and their emoji."""

    set_id: str
    path: str
    sticker_ids: tuple[str, ...]
    emoji: dict[str, str]

    def __len__(self) -> int:
        return len(self.sticker_ids)

    def __contains__(self, sticker_id: object) -> bool:
        return sticker_id in self.emoji


# ----------------------------------------------------------------------------- ids and lines


def parse_id(value, field: str, required: bool = True) -> str | None:
    """Returns an integer id as its exact decimal string.

    Accepts JSON integers (Python ``int``, any size) and strings of digits.
    ``None`` is returned for a missing optional id; floats (``Decimal`` from
    the parser, or ``float``), booleans and other values raise
    ``SkipLine(bad_id)``.
    """
    if value is None:
        if required:
            raise SkipLine(SKIP_BAD_ID, f"{field} is null")
        return None
    if isinstance(value, bool):
        raise SkipLine(SKIP_BAD_ID, f"{field} is a boolean ({value!r}), not an integer id")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return value.strip()
    if isinstance(value, (float, decimal.Decimal)):
        raise SkipLine(
            SKIP_BAD_ID,
            f"{field} is a floating-point number ({value}); ids must be "
            "integers (a float cannot hold a 64-bit id exactly)",
        )
    raise SkipLine(SKIP_BAD_ID, f"{field} is not an integer id: {value!r}")


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def _loads(line: str):
    # parse_float keeps decimals exact (and away from float); ints stay Python ints.
    return json.loads(line, parse_float=decimal.Decimal, parse_constant=_reject_constant)


def parse_line(
    line: str, split: str = "train", line_no: int = 0, source: str = ""
) -> ReleaseExample:
    """Parses one JSON line of a release split; raises ``SkipLine`` for bad input."""
    if not line.strip():
        raise SkipLine(SKIP_BLANK_LINE, "blank line")
    try:
        obj = _loads(line)
    except (ValueError, RecursionError) as e:
        raise SkipLine(SKIP_MALFORMED_JSON, f"malformed JSON: {e}") from None
    if not isinstance(obj, dict):
        raise SkipLine(
            SKIP_MALFORMED_JSON, f"a line must be a JSON object, got {type(obj).__name__}"
        )
    missing = [k for k in ("context", "current") if k not in obj]
    if missing:
        raise SkipLine(SKIP_MISSING_KEYS, f"missing key(s): {', '.join(missing)}")
    context, current = obj["context"], obj["current"]
    if not isinstance(current, dict):
        raise SkipLine(SKIP_BAD_FIELD, "'current' must be an object")
    if not isinstance(context, list):
        raise SkipLine(SKIP_BAD_FIELD, "'context' must be a list")
    missing = [f"current.{k}" for k in ("sticker_set_id", "sticker_id") if k not in current]
    if missing:
        raise SkipLine(SKIP_MISSING_KEYS, f"missing key(s): {', '.join(missing)}")

    turns: list[Turn] = []
    utterances: list[tuple[str, ...]] = []
    for i, msg in enumerate(context):
        if not isinstance(msg, dict):
            raise SkipLine(SKIP_BAD_FIELD, f"context[{i}] must be an object")
        if "text" not in msg:
            raise SkipLine(SKIP_MISSING_KEYS, f"missing key: context[{i}].text")
        text = msg["text"]
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise SkipLine(SKIP_BAD_FIELD, f"context[{i}].text must be a string")
        turns.append(
            Turn(
                text=text,
                id=parse_id(msg.get("id"), f"context[{i}].id", required=False),
                from_id=parse_id(msg.get("from_id"), f"context[{i}].from_id", required=False),
                reply_to_msg_id=parse_id(
                    msg.get("reply_to_msg_id"), f"context[{i}].reply_to_msg_id", required=False
                ),
            )
        )
        words = tuple(text.split())
        if words:
            utterances.append(words)

    set_id = parse_id(current["sticker_set_id"], "current.sticker_set_id")
    sticker_id = parse_id(current["sticker_id"], "current.sticker_id")
    alt = current.get("sticker_alt")
    if alt is not None and not isinstance(alt, str):
        raise SkipLine(SKIP_BAD_FIELD, "current.sticker_alt must be a string")
    from_id = parse_id(current.get("from_id"), "current.from_id", required=False)
    reply_to = parse_id(current.get("reply_to_msg_id"), "current.reply_to_msg_id", required=False)
    if not utterances:
        raise SkipLine(SKIP_EMPTY_CONTEXT, "the context has no non-empty utterance")
    return ReleaseExample(
        split=split,
        line_no=line_no,
        source=source,
        turns=tuple(turns),
        utterances=tuple(utterances),
        sticker_set_id=set_id,
        sticker_id=sticker_id,
        sticker_alt=alt,
        from_id=from_id,
        reply_to_msg_id=reply_to,
    )


# ----------------------------------------------------------------------------- contexts


def select_utterances(
    utterances: Sequence[str | Sequence[str]], context_len: int, max_words: int
) -> list[list[str]]:
    """The last ``context_len`` non-empty utterances (oldest first), each cut to
    its first ``max_words`` words. A ``str`` utterance is split on whitespace;
    whitespace-only or empty utterances are dropped before counting."""
    if context_len <= 0 or max_words <= 0:
        raise ValueError("context_len and max_words must be positive")
    words = []
    for u in utterances:
        w = u.split() if isinstance(u, str) else [x for x in u if x and x.strip()]
        if w:
            words.append(list(w[:max_words]))
    return words[-context_len:]


def encode_context(
    utterances: Sequence[str | Sequence[str]], vocab: Vocab, context_len: int, max_words: int
) -> tuple[np.ndarray, int]:
    """Lays out a context as docs/CONTRACTS.md fixes it.

    Returns ``(context_ids, num_turns)``: int32 ``[context_len, max_words]``
    with the kept utterances in rows ``0 .. num_turns-1`` (oldest first, the
    most recent in row ``num_turns-1``), each row the first ``max_words`` word
    ids, zero padded; rows from ``num_turns`` on are zeros. Raises
    ``ValueError`` when no utterance is non-empty.
    """
    kept = select_utterances(utterances, context_len, max_words)
    if not kept:
        raise ValueError("the context has no non-empty utterance")
    ids = np.zeros((context_len, max_words), dtype=np.int32)
    for row, words in enumerate(kept):
        enc = vocab.encode(words)
        ids[row, : len(enc)] = enc
    return ids, len(kept)


def emoji_to_id(emoji_vocab: Vocab, emoji: str | None) -> int:
    """Emoji-vocab id of ``emoji`` (``UNK_ID`` when unknown or empty). An emoji
    that differs from a vocabulary entry only by the variation selector
    U+FE0F matches that entry."""
    if not emoji or not emoji.strip():
        return UNK_ID
    emoji = emoji.strip()
    for candidate in (emoji, emoji.replace("\ufe0f", ""), emoji + "\ufe0f"):
        if candidate in emoji_vocab:
            return emoji_vocab.token_to_id(candidate)
    return UNK_ID


# ----------------------------------------------------------------------------- the dataset


def _set_sort_key(set_id: str):
    return (0, int(set_id), set_id) if _INT_RE.match(set_id) else (1, 0, set_id)


class Release:
    """A StickerChat release directory (read-only)."""

    def __init__(self, data_dir: str, splits: Sequence[str] = SPLITS):
        self.data_dir = os.path.abspath(data_dir)
        if not os.path.isdir(self.data_dir):
            raise DataError(f"data directory not found: {self.data_dir}")
        for split in splits:
            if split not in SPLIT_FILES:
                raise DataError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
            path = self.split_path(split)
            if not os.path.isfile(path):
                raise DataError(f"split file not found: {path}")
        self.splits = tuple(splits)
        self.sticker_root = os.path.join(self.data_dir, STICKER_DIR)
        if not os.path.isdir(self.sticker_root):
            raise DataError(f"sticker directory not found: {self.sticker_root}")
        from srs_tf.data.vocab import VocabError

        try:
            self.vocab = Vocab.load(os.path.join(self.data_dir, VOCAB_FILE))
            self.emoji_vocab = Vocab.load(os.path.join(self.data_dir, EMOJI_VOCAB_FILE))
        except VocabError as e:
            raise DataError(str(e)) from None
        self._sets: dict[str, StickerSetInfo] | None = None

    def split_path(self, split: str) -> str:
        return os.path.join(self.data_dir, SPLIT_FILES[split])

    def sticker_path(self, set_id: str, sticker_id: str) -> str:
        return os.path.join(self.sticker_root, set_id, f"{sticker_id}.npy")

    # -- sticker catalogue

    def sticker_sets(self, counts: Counts | None = None) -> dict[str, StickerSetInfo]:
        """All sets with an ``emoji_mapping.txt``, sorted by set id (numerically).

        The first call scans the directory and counts problems into ``counts``
        (``missing_emoji_mapping`` per set, ``malformed_mapping_line`` and
        ``duplicate_mapping_entry`` per line); later calls return the cache.
        """
        if self._sets is not None:
            return self._sets
        counts = counts if counts is not None else Counts()
        found: dict[str, StickerSetInfo] = {}
        for name in sorted(os.listdir(self.sticker_root), key=_set_sort_key):
            path = os.path.join(self.sticker_root, name)
            if not os.path.isdir(path):
                continue
            mapping = os.path.join(path, EMOJI_MAPPING_FILE)
            if not os.path.isfile(mapping):
                counts.skip(SKIP_MISSING_MAPPING, f"{STICKER_DIR}/{name}")
                continue
            found[name] = self._read_mapping(name, path, mapping, counts)
        self._sets = found
        return found

    @staticmethod
    def _read_mapping(set_id: str, path: str, mapping: str, counts: Counts) -> StickerSetInfo:
        ids: list[str] = []
        emoji: dict[str, str] = {}
        where_prefix = f"{STICKER_DIR}/{set_id}/{EMOJI_MAPPING_FILE}"
        with open(mapping, encoding="utf-8-sig", errors="replace") as f:
            for line_no, line in enumerate(f, start=1):
                parsed = parse_mapping_line(line)
                if parsed is None:
                    continue
                sid, emo = parsed
                if not _INT_RE.match(sid):
                    counts.skip(SKIP_MALFORMED_MAPPING_LINE, f"{where_prefix}:{line_no}")
                    continue
                if sid in emoji:
                    counts.skip(SKIP_DUPLICATE_MAPPING_ENTRY, f"{where_prefix}:{line_no}")
                    continue
                ids.append(sid)
                emoji[sid] = emo.strip()
        return StickerSetInfo(set_id=set_id, path=path, sticker_ids=tuple(ids), emoji=emoji)

    def load_sticker(
        self, set_id: str, sticker_id: str, size: int = stickers_lib.IMAGE_SIZE
    ) -> np.ndarray:
        """The normalised uint8 ``[size, size, 3]`` sticker (raises ``StickerError``)."""
        return stickers_lib.load_sticker(self.sticker_path(set_id, sticker_id), size=size)

    # -- examples

    def iter_examples(self, split: str, counts: Counts | None = None) -> Iterator[ReleaseExample]:
        """Yields the parseable lines of ``split``; every line increments
        ``counts.read`` and every bad one is a counted skip. Sticker checks
        (set known, sticker in set, file readable) are left to the caller,
        which knows the sticker catalogue (``check_sticker``)."""
        path = self.split_path(split)
        counts = counts if counts is not None else Counts()
        try:
            f = open(path, "rb")
        except OSError as e:
            raise DataError(f"cannot open split file {path}: {e}") from None
        with f:
            for line_no, raw in enumerate(f, start=1):
                counts.read += 1
                where = file_line(path, line_no)
                try:
                    try:
                        line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
                    except UnicodeDecodeError as e:
                        raise SkipLine(SKIP_MALFORMED_JSON, f"not valid UTF-8: {e}") from None
                    yield parse_line(line, split=split, line_no=line_no, source=where)
                except SkipLine as skip:
                    counts.skip(skip.reason, where)

    def check_sticker(self, example: ReleaseExample) -> str | None:
        """The skip reason when the ground-truth sticker's set is unknown or does
        not list the sticker, else ``None``."""
        sets = self.sticker_sets()
        info = sets.get(example.sticker_set_id)
        if info is None:
            return SKIP_UNKNOWN_SET
        if example.sticker_id not in info:
            return SKIP_STICKER_NOT_IN_SET
        return None
