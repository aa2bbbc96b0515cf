"""A second synthetic dataset in the release format, made independently of the demo.

The open demo benchmark (``srs_tf.data.demo``) draws OpenMoji artwork and
writes Chinese dialogs from a curated lexicon. This module shares none of
that: its stickers are cartoon faces drawn with PIL (each set one head
shape, skin colour, outline, background and accessory; each sticker one
facial expression), and its dialogs are made of invented two-syllable words
in which a few words per expression act as cues. It exists to check that
what we tune on the demo (``bin/train --preset=cpu``) is not tuned *to* the
demo (docs/DEMO_DATA.md, "A second dataset"):

    bin/make_faces_data --output_dir=FACES
    DATASET=faces make demo DEMO_DIR=faces_run      # the whole main job on it

Layout and files are exactly the release's (docs/DATA.md), so
``bin/make_tfrecords`` reads it unchanged. ``stats.json`` holds the
references a trained model is compared with: chance and the cue oracle
(rank first the sticker whose expression the newest cue word names).

How a context is made (``FacesConfig`` holds the numbers):

- 3-14 turns of 3-10 filler words from two users (Zipf-like word use);
- a cue (1-2 cue words of the ground truth's expression, mixed into a turn)
  in ``cue_fraction`` of the contexts: in the last turn half of the time,
  otherwise 2-6 turns back;
- a misleading cue (a cue word of another expression) in an older turn in
  ``misleading_fraction`` of the contexts;
- ``random_label_fraction`` of the sets label their stickers with random
  expressions' emoji (as some real authors do).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter

import numpy as np
from PIL import Image, ImageDraw

from srs_tf import atomic

# (emoji, eyes, mouth, extra): the drawn parts of each expression.
EXPRESSIONS = (
    ("😀", "dots", "smile", None),
    ("😢", "dots", "frown", "tear"),
    ("😠", "dots", "frown", "angry_brows"),
    ("😮", "wide", "o", None),
    ("😴", "closed", "flat", "zzz"),
    ("😍", "hearts", "smile", None),
    ("😂", "happy_arcs", "open", "tear"),
    ("😉", "wink", "smile", None),
    ("😐", "dots", "flat", None),
    ("😋", "happy_arcs", "tongue", None),
    ("😎", "shades", "smile", None),
    ("🤔", "dots", "flat", "hand"),
    ("😱", "wide", "open", "sweat"),
    ("😷", "dots", "mask", None),
)
HEADS = ("circle", "rounded", "tall", "wide")
ACCESSORIES = ("none", "ears", "hat", "antenna", "bow")
SYLLABLES = tuple(
    c + v for c in "bdfgklmnprstwz" for v in ("a", "e", "i", "o", "u", "ai", "ou", "an")
)


@dataclasses.dataclass
class FacesConfig:
    """What ``generate`` writes (all counts are exact, the draw is seeded).

    Attributes:
      output_dir: where to write the dataset (must not exist yet).
      seed: seed of every random draw (the same seed writes the same bytes).
      num_sets: number of sticker sets.
      min_stickers: fewest stickers (expressions) in a set.
      max_stickers: most stickers in a set (at most the 14 expressions).
      train_examples: dialogs in the train split.
      val_examples: dialogs in the validation split.
      test_examples: dialogs in the test split.
      filler_words: size of the invented filler vocabulary.
      cue_words_per_expression: invented words that cue each expression.
      cue_fraction: share of contexts that carry a cue of the ground truth.
      misleading_fraction: share of contexts with a cue of another expression
        in an older turn.
      random_label_fraction: share of sets whose stickers carry random emoji labels.
      image_size: sticker width and height in pixels.
    """

    output_dir: str = ""
    seed: int = 0
    num_sets: int = 60
    min_stickers: int = 11
    max_stickers: int = 14
    train_examples: int = 16000
    val_examples: int = 1000
    test_examples: int = 2000
    filler_words: int = 800
    cue_words_per_expression: int = 4
    cue_fraction: float = 0.85
    misleading_fraction: float = 0.2
    random_label_fraction: float = 0.1
    image_size: int = 128

    def validate(self) -> None:
        if not self.output_dir:
            raise ValueError("--output_dir is required")
        if not 10 <= self.min_stickers <= self.max_stickers <= len(EXPRESSIONS):
            raise ValueError(
                f"need 10 <= min_stickers <= max_stickers <= {len(EXPRESSIONS)} "
                f"(got {self.min_stickers}, {self.max_stickers})"
            )
        for name in ("num_sets", "train_examples", "val_examples", "test_examples"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
        for name in ("cue_fraction", "misleading_fraction", "random_label_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"--{name} must be in [0, 1], got {getattr(self, name)}")


# ---------------------------------------------------------------- drawing


def _colour(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(low, high, size=3))


def _set_style(rng: np.random.Generator) -> dict:
    return {
        "head": HEADS[rng.integers(len(HEADS))],
        "skin": _colour(rng, 90, 256),
        "outline": _colour(rng, 0, 90),
        "width": int(rng.integers(2, 6)),
        "background": _colour(rng, 200, 256),
        "accessory": ACCESSORIES[rng.integers(len(ACCESSORIES))],
        "accent": _colour(rng, 0, 256),
        "scale": float(rng.uniform(0.8, 1.0)),
    }


def draw_face(style: dict, expression: int, rng: np.random.Generator, size: int = 128):
    """One sticker: uint8 ``[size, size, 3]`` (a set's style, one expression)."""
    _, eyes, mouth, extra = EXPRESSIONS[expression]
    s = 4  # draw at 4x, then downsample (anti-aliasing)
    big = size * s
    image = Image.new("RGB", (big, big), style["background"])
    d = ImageDraw.Draw(image)
    cx = big / 2 + rng.uniform(-0.04, 0.04) * big
    cy = big / 2 + rng.uniform(-0.04, 0.04) * big + 0.04 * big
    r = 0.36 * big * style["scale"]
    rx, ry = {"circle": (r, r), "rounded": (r, r), "tall": (0.82 * r, r), "wide": (r, 0.8 * r)}[
        style["head"]
    ]
    width = style["width"] * s
    line, accent = style["outline"], style["accent"]
    box = (cx - rx, cy - ry, cx + rx, cy + ry)
    acc = style["accessory"]
    if acc == "ears":
        for side in (-1, 1):
            ex = cx + side * 0.85 * rx
            d.ellipse(
                (ex - 0.3 * rx, cy - ry - 0.1 * ry, ex + 0.3 * rx, cy - ry + 0.5 * ry), accent
            )
    if style["head"] == "rounded":
        d.rounded_rectangle(box, radius=0.35 * r, fill=style["skin"], outline=line, width=width)
    else:
        d.ellipse(box, fill=style["skin"], outline=line, width=width)
    if acc == "hat":
        d.rectangle((cx - 0.7 * rx, cy - 1.25 * ry, cx + 0.7 * rx, cy - 0.75 * ry), accent)
        d.rectangle((cx - 1.0 * rx, cy - 0.85 * ry, cx + 1.0 * rx, cy - 0.72 * ry), accent)
    elif acc == "antenna":
        d.line((cx, cy - ry, cx, cy - 1.3 * ry), line, width)
        d.ellipse((cx - 0.1 * r, cy - 1.4 * ry, cx + 0.1 * r, cy - 1.2 * ry), accent)
    elif acc == "bow":
        bx, by = cx + 0.6 * rx, cy - 0.8 * ry
        d.polygon([(bx, by), (bx - 0.3 * r, by - 0.15 * r), (bx - 0.3 * r, by + 0.15 * r)], accent)
        d.polygon([(bx, by), (bx + 0.3 * r, by - 0.15 * r), (bx + 0.3 * r, by + 0.15 * r)], accent)

    ey, ex, er = cy - 0.2 * ry, 0.38 * rx, 0.09 * r
    for side in (-1, 1):
        x = cx + side * ex
        kind = eyes
        if eyes == "wink" and side == 1:
            kind = "closed"
        elif eyes == "wink":
            kind = "dots"
        if kind == "dots":
            d.ellipse((x - er, ey - er, x + er, ey + er), line)
        elif kind == "wide":
            d.ellipse(
                (x - 1.8 * er, ey - 1.8 * er, x + 1.8 * er, ey + 1.8 * er), "white", line, width
            )
            d.ellipse((x - 0.7 * er, ey - 0.7 * er, x + 0.7 * er, ey + 0.7 * er), line)
        elif kind == "closed":
            d.line((x - 1.6 * er, ey, x + 1.6 * er, ey), line, width)
        elif kind == "happy_arcs":
            d.arc((x - 1.8 * er, ey - 1.2 * er, x + 1.8 * er, ey + 2 * er), 200, 340, line, width)
        elif kind == "hearts":
            h = 1.6 * er
            d.ellipse((x - h, ey - h, x, ey), (220, 30, 60))
            d.ellipse((x, ey - h, x + h, ey), (220, 30, 60))
            d.polygon(
                [(x - h, ey - 0.4 * h), (x + h, ey - 0.4 * h), (x, ey + 1.2 * h)], (220, 30, 60)
            )
        elif kind == "shades":
            d.rectangle((x - 2.4 * er, ey - 1.2 * er, x + 2.4 * er, ey + 1.4 * er), (20, 20, 20))
    if eyes == "shades":
        d.line((cx - ex, ey, cx + ex, ey), (20, 20, 20), width)

    my, mw = cy + 0.35 * ry, 0.42 * rx
    if mouth == "smile":
        d.arc((cx - mw, my - 0.6 * mw, cx + mw, my + 0.5 * mw), 20, 160, line, width)
    elif mouth == "frown":
        d.arc((cx - mw, my, cx + mw, my + 0.9 * mw), 200, 340, line, width)
    elif mouth == "o":
        d.ellipse((cx - 0.25 * mw, my - 0.1 * mw, cx + 0.25 * mw, my + 0.5 * mw), line)
    elif mouth == "flat":
        d.line((cx - 0.6 * mw, my + 0.2 * mw, cx + 0.6 * mw, my + 0.2 * mw), line, width)
    elif mouth == "open":
        d.chord(
            (cx - mw, my - 0.5 * mw, cx + mw, my + 0.7 * mw), 0, 180, (120, 20, 30), line, width
        )
    elif mouth == "tongue":
        d.arc((cx - mw, my - 0.6 * mw, cx + mw, my + 0.5 * mw), 20, 160, line, width)
        d.ellipse((cx, my + 0.2 * mw, cx + 0.4 * mw, my + 0.7 * mw), (230, 90, 110))
    elif mouth == "mask":
        d.rounded_rectangle(
            (cx - 1.1 * mw, my - 0.5 * mw, cx + 1.1 * mw, my + 0.6 * mw),
            0.2 * mw,
            "white",
            line,
            width,
        )

    if extra == "tear":
        tx = cx + ex + 0.5 * er
        d.ellipse((tx - 0.7 * er, ey + 1.5 * er, tx + 0.7 * er, ey + 3.5 * er), (60, 150, 240))
    elif extra == "angry_brows":
        for side in (-1, 1):
            x = cx + side * ex
            d.line(
                (x - side * 1.8 * er, ey - 3.2 * er, x + side * 1.8 * er, ey - 1.6 * er),
                line,
                width,
            )
    elif extra == "zzz":
        zx, zy, z = cx + 0.9 * rx, cy - 1.1 * ry, 0.18 * r
        d.line([(zx, zy), (zx + z, zy), (zx, zy + z), (zx + z, zy + z)], line, width)
    elif extra == "hand":
        hx, hy = cx + 0.25 * rx, cy + 0.75 * ry
        d.ellipse(
            (hx - 0.3 * r, hy - 0.2 * r, hx + 0.3 * r, hy + 0.25 * r), style["skin"], line, width
        )
    elif extra == "sweat":
        sx = cx - 0.8 * rx
        d.ellipse((sx - 0.6 * er, cy - 0.9 * ry, sx + 0.6 * er, cy - 0.6 * ry), (60, 150, 240))
    image = image.resize((size, size), Image.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


# ---------------------------------------------------------------- words


def _words(rng: np.random.Generator, count: int, taken: set) -> list[str]:
    out = []
    while len(out) < count:
        word = "".join(SYLLABLES[i] for i in rng.integers(len(SYLLABLES), size=2))
        if word not in taken:
            taken.add(word)
            out.append(word)
    return out


# ---------------------------------------------------------------- dialogs


def _turn(rng, filler, weights, extra=()) -> list[str]:
    words = list(rng.choice(filler, size=int(rng.integers(3, 11)), p=weights))
    for word in extra:
        words.insert(int(rng.integers(len(words) + 1)), word)
    return words


def make_context(rng, cfg: FacesConfig, filler, weights, cues, target: int):
    """(turns, cue expression or -1 for none): the turns as word lists, oldest first."""
    num_turns = int(rng.integers(3, 15))
    turns = [_turn(rng, filler, weights) for _ in range(num_turns)]
    cue_expression = -1
    if rng.random() < cfg.misleading_fraction:
        other = int(rng.integers(len(cues) - 1))
        other += other >= target
        pos = int(rng.integers(num_turns))
        turns[pos] = _turn(rng, filler, weights, [rng.choice(cues[other])])
        cue_expression = other  # overwritten below when the real cue is newer
        misleading_pos = pos
    else:
        misleading_pos = -1
    if rng.random() < cfg.cue_fraction:
        back = 1 if rng.random() < 0.5 else int(rng.integers(2, 7))
        pos = max(0, num_turns - back)
        words = list(rng.choice(cues[target], size=int(rng.integers(1, 3)), replace=False))
        turns[pos] = _turn(rng, filler, weights, words)
        if pos >= misleading_pos:
            cue_expression = target
    return turns, cue_expression


def generate(cfg: FacesConfig, log=None) -> dict:
    """Writes the dataset to ``cfg.output_dir`` (atomically) and returns its stats."""
    cfg.validate()
    log = log or (lambda msg: None)
    rng = np.random.default_rng(cfg.seed)
    taken: set = set()
    filler = np.array(_words(rng, cfg.filler_words, taken))
    cues = [_words(rng, cfg.cue_words_per_expression, taken) for _ in EXPRESSIONS]
    ranks = np.arange(1, len(filler) + 1, dtype=np.float64)
    weights = 1.0 / ranks
    weights /= weights.sum()

    with atomic.staged_directory(cfg.output_dir) as tmp:
        return _write(cfg, tmp, rng, filler, weights, cues, log)


def _write(cfg: FacesConfig, tmp: str, rng, filler, weights, cues, log) -> dict:
    sticker_root = os.path.join(tmp, "npy_stickers")
    sets = []  # (set_id, [(sticker_id, expression)])
    next_id = 10**15 + int(rng.integers(10**12))
    for index in range(cfg.num_sets):
        style = _set_style(rng)
        count = int(rng.integers(cfg.min_stickers, cfg.max_stickers + 1))
        chosen = sorted(rng.choice(len(EXPRESSIONS), size=count, replace=False).tolist())
        random_labels = rng.random() < cfg.random_label_fraction
        set_id = str(next_id + 7919 * index)
        set_dir = os.path.join(sticker_root, set_id)
        os.makedirs(set_dir)
        members, mapping = [], []
        for k, expression in enumerate(chosen):
            sticker_id = str(int(set_id) * 100 + k)
            np.save(os.path.join(set_dir, f"{sticker_id}.npy"), draw_face(style, expression, rng))
            label = EXPRESSIONS[rng.integers(len(EXPRESSIONS)) if random_labels else expression][0]
            mapping.append(f"{sticker_id}\t{label}")
            members.append((sticker_id, expression))
        with open(os.path.join(set_dir, "emoji_mapping.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(mapping) + "\n")
        sets.append((set_id, members))
        log(f"[faces] drew set {index + 1}/{cfg.num_sets}")

    counts: Counter = Counter()
    oracle_hits, oracle_lists = 0.0, 0
    message_id = 1
    for split, total in (
        ("train", cfg.train_examples),
        ("val", cfg.val_examples),
        ("test", cfg.test_examples),
    ):
        lines = []
        for _ in range(total):
            set_id, members = sets[int(rng.integers(len(sets)))]
            sticker_id, target = members[int(rng.integers(len(members)))]
            turns, cue_expression = make_context(rng, cfg, filler, weights, cues, target)
            users = [int(u) for u in rng.integers(10**8, 10**9, size=2)]
            context = []
            for i, words in enumerate(turns):
                context.append(
                    {
                        "text": " ".join(words),
                        "id": message_id,
                        "reply_to_msg_id": None,
                        "from_id": users[i % 2],
                    }
                )
                message_id += 1
                if split == "train":
                    counts.update(words)
            current = {
                "from_id": users[len(turns) % 2],
                "reply_to_msg_id": context[-1]["id"],
                "sticker_set_id": int(set_id),
                "sticker_id": int(sticker_id),
                "sticker_alt": EXPRESSIONS[target][0],
            }
            lines.append(json.dumps({"context": context, "current": current}, ensure_ascii=False))
            if split == "test":
                # The cue oracle ranks first the sticker whose expression the
                # newest cue names; with no cue (or a cue for an expression the
                # list lacks) it ranks at random: expected R10@1 1/10.
                oracle_lists += 1
                # A cue for another expression of the set wins when that
                # sticker is among the 9 negatives (drawn later, uniformly).
                in_set = {e for _, e in members}
                if cue_expression == target:
                    oracle_hits += 1.0
                elif cue_expression in in_set:
                    oracle_hits += 0.1 * (1.0 - 9.0 / (len(members) - 1))
                else:
                    oracle_hits += 0.1
        with open(os.path.join(tmp, f"release_{split}.json"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(tmp, "vocab"), "w", encoding="utf-8") as f:
        f.write("".join(f"{w} {c}\n" for w, c in counts.most_common()))
    with open(os.path.join(tmp, "emoji_vocab"), "w", encoding="utf-8") as f:
        f.write("".join(f"{e[0]}\n" for e in EXPRESSIONS))
    stats = {
        "dataset": "faces (srs_tf.data.faces)",
        "config": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "output_dir"},
        "sets": len(sets),
        "stickers": sum(len(m) for _, m in sets),
        "examples": {
            "train": cfg.train_examples,
            "val": cfg.val_examples,
            "test": cfg.test_examples,
        },
        "calibration": {
            "split": "test",
            "chance_r10_at_1": 0.1,
            "cue_oracle_r10_at_1": round(oracle_hits / max(oracle_lists, 1), 3),
        },
    }
    atomic.write_json(os.path.join(tmp, "stats.json"), stats, indent=2)
    return stats
