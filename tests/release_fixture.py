"""Writes a tiny dataset in the StickerChat release format (docs/DESIGN.md#release-format)
for tests.

``write_release(tmp_dir, inject=[...])`` returns a ``FixtureInfo`` that
records what was written and what a correct reader must make of it: which
lines are valid, and how many skips per reason each split and the sticker
bank must report. Each name in ``INJECTIONS`` adds one kind of bad input:

======================== ====================================================
malformed_json           a train line that is not JSON
missing_keys             a train line without ``current``
bad_id                   a train line whose ``sticker_id`` is a float
empty_context            a train line whose context is ``[]``
whitespace_context       a train line whose utterances are all whitespace
unknown_sticker_set      a train line naming a set that does not exist
sticker_not_in_set       a train line naming a sticker absent from the set's
                         mapping (its .npy file exists)
small_sticker_set        an extra set of 5 stickers and a train line using it
missing_sticker_file     a mapped sticker without .npy, and a line using it
unreadable_sticker_file  a mapped sticker whose .npy is garbage, and a line
bad_sticker_array        a mapped sticker of shape (128, 128, 5), and a line
unknown_emoji            a sticker whose emoji is not in emoji_vocab and a
                         line using it (kept, counted, emoji id [UNK])
======================== ====================================================

Stickers are stored in a mix of layouts (``image_kinds='mixed'``): uint8
RGB, RGBA, grey, float 0..1, float 0..255 and sizes other than 128.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from collections.abc import Sequence

import numpy as np

INJECTIONS = (
    "malformed_json",
    "missing_keys",
    "bad_id",
    "empty_context",
    "whitespace_context",
    "unknown_sticker_set",
    "sticker_not_in_set",
    "small_sticker_set",
    "missing_sticker_file",
    "unreadable_sticker_file",
    "bad_sticker_array",
    "unknown_emoji",
)
# The report reason each injection must be counted under (split level).
INJECTION_REASON = {
    "malformed_json": "malformed_json",
    "missing_keys": "missing_keys",
    "bad_id": "bad_id",
    "empty_context": "empty_context",
    "whitespace_context": "empty_context",
    "unknown_sticker_set": "unknown_sticker_set",
    "sticker_not_in_set": "sticker_not_in_set",
    "small_sticker_set": "small_sticker_set",
    "missing_sticker_file": "missing_sticker_file",
    "unreadable_sticker_file": "unreadable_sticker_file",
    "bad_sticker_array": "bad_sticker_array",
}
# Bank-level skips caused by an injection.
INJECTION_BANK_REASON = {
    "small_sticker_set": "small_sticker_set",
    "missing_sticker_file": "missing_sticker_file",
    "unreadable_sticker_file": "unreadable_sticker_file",
    "bad_sticker_array": "bad_sticker_array",
}
IMAGE_KINDS = (
    "uint8_rgb",
    "uint8_rgba",
    "uint8_grey",
    "float01_rgb",
    "float255_rgb",
    "uint8_rgb_96x64",
    "float01_rgba_150x200",
    "uint8_grey1_128",
)
EMOJIS = ("😀", "😂", "😍", "😭", "👍", "😡")
UNKNOWN_EMOJI = "🦄"
WORDS = tuple(f"词{i}" for i in range(40)) + ("今天", "开心", "哈哈", "晚安", "好的")
OOV_WORDS = ("未知词", "生僻")


@dataclasses.dataclass
class FixtureInfo:
    data_dir: str
    # set id -> sticker ids (mapping order) that a correct reader keeps
    good_stickers: dict[str, list[str]]
    # set id -> all mapping entries (sticker id -> emoji)
    mapping: dict[str, dict[str, str]]
    # split -> list of (line_no, json object) of the lines that must be written
    valid: dict[str, list[tuple]]
    # split -> number of lines in the file
    num_lines: dict[str, int]
    expected_skips: dict[str, dict[str, int]]
    expected_bank_skips: dict[str, int]
    # split -> examples kept with an unknown emoji
    unknown_emoji_examples: dict[str, int]
    words: Sequence[str] = WORDS

    def sticker_file(self, set_id: str, sticker_id: str) -> str:
        return os.path.join(self.data_dir, "npy_stickers", str(set_id), f"{sticker_id}.npy")


def make_sticker_array(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A random sticker stored in layout ``kind`` (see ``IMAGE_KINDS``)."""
    if kind == "uint8_rgb":
        return rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    if kind == "uint8_rgba":
        a = rng.integers(0, 256, (128, 128, 4), dtype=np.uint8)
        a[:32, :, 3] = 0  # a transparent band
        return a
    if kind == "uint8_grey":
        return rng.integers(0, 256, (128, 128), dtype=np.uint8)
    if kind == "uint8_grey1_128":
        return rng.integers(0, 256, (128, 128, 1), dtype=np.uint8)
    if kind == "float01_rgb":
        return rng.random((128, 128, 3), dtype=np.float32)
    if kind == "float255_rgb":
        return (rng.random((128, 128, 3)) * 255.0).astype(np.float64)
    if kind == "uint8_rgb_96x64":
        return rng.integers(0, 256, (96, 64, 3), dtype=np.uint8)
    if kind == "float01_rgba_150x200":
        return rng.random((150, 200, 4), dtype=np.float32)
    raise ValueError(kind)


def _write_npy(path: str, array: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, array, allow_pickle=False)


def _write_mapping(set_dir: str, entries: dict[str, str]) -> None:
    os.makedirs(set_dir, exist_ok=True)
    with open(os.path.join(set_dir, "emoji_mapping.txt"), "w", encoding="utf-8") as f:
        for sid, emo in entries.items():
            f.write(f"{sid}\t{emo}\n")


def write_release(
    root: str,
    inject: Sequence[str] = (),
    num_sets: int = 3,
    stickers_per_set: int = 12,
    num_train: int = 24,
    num_val: int = 6,
    num_test: int = 6,
    seed: int = 0,
    big_ids: bool = True,
    image_kinds: str = "mixed",
    vocab_columns: int = 2,
    max_turns: int = 20,
    max_words: int = 40,
) -> FixtureInfo:
    """Writes the dataset into ``root`` (created) and returns what to expect."""
    unknown = sorted(set(inject) - set(INJECTIONS))
    if unknown:
        raise ValueError(f"unknown injections: {unknown}")
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    sticker_root = os.path.join(root, "npy_stickers")

    base_set = (2**63 - 1000) if big_ids else 100
    base_sticker = (2**62 + 12345) if big_ids else 1000
    base_msg = (2**60 + 7) if big_ids else 1

    # vocabularies
    with open(os.path.join(root, "vocab"), "w", encoding="utf-8") as f:
        for i, w in enumerate(WORDS):
            f.write(f"{w} {1000 - i}\n" if vocab_columns == 2 else f"{w}\n")
    with open(os.path.join(root, "emoji_vocab"), "w", encoding="utf-8") as f:
        for i, e in enumerate(EMOJIS):
            f.write(f"{e} {50 - i}\n" if vocab_columns == 2 else f"{e}\n")

    kinds = IMAGE_KINDS if image_kinds == "mixed" else (image_kinds,)
    good: dict[str, list[str]] = {}
    mapping: dict[str, dict[str, str]] = {}
    counter = [0]

    def new_sticker_id() -> str:
        counter[0] += 1
        return str(base_sticker + counter[0] * 7919)

    def make_set(set_id: str, n: int) -> None:
        entries = {}
        for _ in range(n):
            sid = new_sticker_id()
            kind = kinds[counter[0] % len(kinds)]
            _write_npy(
                os.path.join(sticker_root, set_id, f"{sid}.npy"), make_sticker_array(kind, rng)
            )
            entries[sid] = EMOJIS[int(rng.integers(len(EMOJIS)))]
        mapping[set_id] = entries
        good[set_id] = list(entries)

    set_ids = [str(base_set + 17 * k) for k in range(num_sets)]
    for set_id in set_ids:
        make_set(set_id, stickers_per_set)

    expected_bank = collections.Counter()
    first_set = set_ids[0]
    special: dict[str, tuple] = {}  # injection -> (set id, sticker id) used by its line
    if "small_sticker_set" in inject:
        small = str(base_set + 17 * num_sets + 3)
        make_set(small, 5)
        del good[small]
        special["small_sticker_set"] = (small, next(iter(mapping[small])))
        expected_bank["small_sticker_set"] += 1
    for name, writer in (
        ("missing_sticker_file", None),
        ("unreadable_sticker_file", lambda p: open(p, "wb").write(b"this is not a npy file")),
        ("bad_sticker_array", lambda p: np.save(p, np.zeros((128, 128, 5), np.uint8))),
    ):
        if name in inject:
            sid = new_sticker_id()
            mapping[first_set][sid] = EMOJIS[0]
            if writer is not None:
                writer(os.path.join(sticker_root, first_set, f"{sid}.npy"))
            special[name] = (first_set, sid)
            expected_bank[name] += 1
    if "unknown_emoji" in inject:
        sid = new_sticker_id()
        _write_npy(
            os.path.join(sticker_root, first_set, f"{sid}.npy"),
            make_sticker_array("uint8_rgb", rng),
        )
        mapping[first_set][sid] = UNKNOWN_EMOJI
        good[first_set].append(sid)
        special["unknown_emoji"] = (first_set, sid)
    if "sticker_not_in_set" in inject:
        sid = new_sticker_id()
        _write_npy(
            os.path.join(sticker_root, first_set, f"{sid}.npy"),
            make_sticker_array("uint8_rgb", rng),
        )
        special["sticker_not_in_set"] = (first_set, sid)
    for set_id, entries in mapping.items():
        _write_mapping(os.path.join(sticker_root, set_id), entries)

    msg = [base_msg]

    def text_line() -> str:
        r = rng.random()
        if r < 0.12:
            return ""
        if r < 0.18:
            return "  \t "
        n = int(rng.integers(1, max_words + 1))
        pool = WORDS + OOV_WORDS
        return " ".join(pool[int(rng.integers(len(pool)))] for _ in range(n))

    def make_obj(set_id: str, sticker_id: str, turns: list[str] | None = None) -> dict:
        if turns is None:
            n = int(rng.integers(1, max_turns + 1))
            turns = [text_line() for _ in range(n)]
            if not any(t.strip() for t in turns):
                turns[-1] = WORDS[0]
        context = []
        for t in turns:
            msg[0] += 1
            context.append(
                {
                    "text": t,
                    "reply_to_msg_id": None if rng.random() < 0.5 else msg[0] - 1,
                    "id": msg[0],
                    "from_id": base_msg + int(rng.integers(3)),
                }
            )
        return {
            "context": context,
            "current": {
                "from_id": base_msg + 1,
                "reply_to_msg_id": msg[0],
                "sticker_set_id": int(set_id),
                "sticker_id": int(sticker_id),
                "sticker_alt": mapping.get(set_id, {}).get(sticker_id, EMOJIS[0]),
            },
        }

    def random_valid() -> dict:
        set_id = set_ids[int(rng.integers(len(set_ids)))]
        ids = good[set_id]
        ids = [s for s in ids if (set_id, s) != special.get("unknown_emoji")]
        return make_obj(set_id, ids[int(rng.integers(len(ids)))])

    valid: dict[str, list[tuple]] = {}
    num_lines: dict[str, int] = {}
    expected: dict[str, dict[str, int]] = {}
    unknown_emoji_examples: dict[str, int] = {}
    for split, n in (("train", num_train), ("val", num_val), ("test", num_test)):
        lines: list[tuple] = [("ok", random_valid()) for _ in range(n)]
        exp = collections.Counter()
        unk = 0
        if split == "train":
            bad: list[tuple] = []
            for name in inject:
                if name == "malformed_json":
                    bad.append(("bad", '{"context": [{"text": "a b"}], "current": {'))
                elif name == "missing_keys":
                    obj = random_valid()
                    del obj["current"]
                    bad.append(("bad", obj))
                elif name == "bad_id":
                    obj = random_valid()
                    obj["current"]["sticker_id"] = float(obj["current"]["sticker_id"])
                    bad.append(("bad", obj))
                elif name == "empty_context":
                    obj = random_valid()
                    obj["context"] = []
                    bad.append(("bad", obj))
                elif name == "whitespace_context":
                    obj = random_valid()
                    for c in obj["context"]:
                        c["text"] = " \t  "
                    bad.append(("bad", obj))
                elif name == "unknown_sticker_set":
                    obj = random_valid()
                    obj["current"]["sticker_set_id"] = 424242
                    bad.append(("bad", obj))
                elif name == "unknown_emoji":
                    lines.append(("ok", make_obj(*special[name])))
                    unk += 1
                    continue
                else:
                    bad.append(("bad", make_obj(*special[name])))
                exp[INJECTION_REASON[name]] += 1
            # interleave bad lines with valid ones
            for k, item in enumerate(bad):
                lines.insert(min(len(lines), 1 + 2 * k), item)
        path = os.path.join(root, f"release_{split}.json")
        valid[split] = []
        with open(path, "w", encoding="utf-8") as f:
            for line_no, (status, obj) in enumerate(lines, start=1):
                f.write(
                    (obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)) + "\n"
                )
                if status == "ok":
                    valid[split].append((line_no, obj))
        num_lines[split] = len(lines)
        expected[split] = dict(exp)
        unknown_emoji_examples[split] = unk
    return FixtureInfo(
        data_dir=root,
        good_stickers=good,
        mapping=mapping,
        valid=valid,
        num_lines=num_lines,
        expected_skips=expected,
        expected_bank_skips=dict(expected_bank),
        unknown_emoji_examples=unknown_emoji_examples,
    )
