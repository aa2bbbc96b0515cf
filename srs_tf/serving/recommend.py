"""Sticker suggestions from an exported SRS SavedModel (``bin/recommend``).

Runtime needs: TensorFlow, numpy, Pillow and jieba. The model is loaded with
``tf.saved_model.load`` (no Keras model code runs); only small numpy/PIL
helpers of srs_tf are used (sticker normalisation, jieba segmentation,
heat-map rendering).

Flow: the stickers of a directory are read and normalised to uint8
128x128x3, encoded once with the ``encode_stickers`` signature (in batches),
and every sticker is scored against the context with ``rank_text_encoded``
in chunks of ``batch_size`` candidates (the encoded bank is passed with a
leading dimension of 1, shared by the context), so any number of stickers is
ranked and the Inception encoder runs once per sticker.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import TextIO

import numpy as np

EMOJI_MAPPING_FILE = "emoji_mapping.txt"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
STICKER_EXTENSIONS = (".npy",) + IMAGE_EXTENSIONS
_INT_RE = re.compile(r"-?[0-9]+\Z")


class RecommendError(ValueError):
    """Bad input to the recommender (the message names what is wrong)."""


# ----------------------------------------------------------------------------- stickers


@dataclasses.dataclass
class StickerDir:
    """The stickers of one directory.

    ``names`` are file names, ``images`` uint8 ``[N, S, S, 3]``, ``emoji`` the
    emoji from ``emoji_mapping.txt`` (``""`` when unknown), ``skipped`` the
    files that could not be read, as ``(file name, reason)``.
    """

    path: str
    names: list[str]
    images: np.ndarray
    emoji: list[str]
    skipped: list[tuple]

    def __len__(self) -> int:
        return len(self.names)


def read_emoji_mapping(path: str) -> dict[str, str]:
    """``<sticker_id>\\t<emoji>`` lines -> {sticker_id: emoji} (malformed lines ignored)."""
    from srs_tf.data.release import parse_mapping_line

    mapping: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            parsed = parse_mapping_line(line)
            if parsed is not None:
                mapping.setdefault(*parsed)
    return mapping


def _sort_key(name: str):
    stem = os.path.splitext(name)[0]
    return (0, int(stem), name) if _INT_RE.match(stem) else (1, 0, name)


def load_image_file(path: str, size: int = 128) -> np.ndarray:
    """A PNG/JPEG/WebP file as a normalised uint8 ``[size, size, 3]`` sticker
    (transparency composited on white, aspect kept, padded)."""
    from PIL import Image

    from srs_tf.data.stickers import normalize_sticker

    with Image.open(path) as img:
        img.load()
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            array = np.asarray(img.convert("RGBA"))
        else:
            array = np.asarray(img.convert("RGB"))
    return normalize_sticker(array, size=size, what=path)


def load_sticker_dir(path: str, size: int = 128) -> StickerDir:
    """Reads every ``.npy`` / PNG / JPEG / WebP sticker of a directory.

    A release sticker-set folder (``<sticker_id>.npy`` files and
    ``emoji_mapping.txt``) gives each sticker its emoji; image files are
    matched to the mapping by their name without extension as well. Files are
    ordered by numeric name, then by name. Unreadable files are skipped and
    listed in ``skipped``; a directory with no readable sticker is an error.
    """
    from srs_tf.data.stickers import StickerError, load_sticker

    if not os.path.isdir(path):
        raise RecommendError(f"--sticker_dir: {path} is not a directory")
    mapping_path = os.path.join(path, EMOJI_MAPPING_FILE)
    mapping = read_emoji_mapping(mapping_path) if os.path.isfile(mapping_path) else {}
    files = sorted(
        (
            f
            for f in os.listdir(path)
            if f.lower().endswith(STICKER_EXTENSIONS) and os.path.isfile(os.path.join(path, f))
        ),
        key=_sort_key,
    )
    names, images, emoji, skipped = [], [], [], []
    for name in files:
        full = os.path.join(path, name)
        try:
            if name.lower().endswith(".npy"):
                image = load_sticker(full, size=size)
            else:
                image = load_image_file(full, size=size)
        except StickerError as e:
            skipped.append((name, str(e)))
            continue
        except Exception as e:  # noqa: BLE001 - PIL raises many types for bad files
            skipped.append((name, f"{full}: cannot read image ({type(e).__name__}: {e})"))
            continue
        names.append(name)
        images.append(image)
        emoji.append(mapping.get(os.path.splitext(name)[0], ""))
    if not names:
        detail = f" ({len(skipped)} unreadable)" if skipped else ""
        raise RecommendError(
            f"--sticker_dir: no readable sticker (.npy, .png, .jpg, .jpeg, .webp) in {path}{detail}"
        )
    return StickerDir(path=path, names=names, images=np.stack(images), emoji=emoji, skipped=skipped)


# ----------------------------------------------------------------------------- the model


@dataclasses.dataclass
class EncodedStickers:
    """``encode_stickers`` outputs for a bank: ``regions`` [N, R, 768],
    ``flat`` [N, 2048], ``predicted_emoji`` (the model's emoji per sticker)."""

    regions: np.ndarray
    flat: np.ndarray
    predicted_emoji: list[str]

    def __len__(self) -> int:
        return int(self.flat.shape[0])


@dataclasses.dataclass
class Ranking:
    """Scores of every sticker for one context.

    ``scores`` [N]; ``order`` sticker indices best first; ``sticker_attention``
    [N, T, R] (τs) and ``word_attention`` [N, T, L] (τu); ``context_words``
    the words the model saw, one list per turn (oldest first);
    ``num_turns``.
    """

    scores: np.ndarray
    order: np.ndarray
    sticker_attention: np.ndarray
    word_attention: np.ndarray
    context_words: list[list[str]]
    num_turns: int


class Recommender:
    """An exported SRS model ready to rank stickers (see module docstring)."""

    def __init__(self, export_dir: str):
        import tensorflow as tf

        from srs_tf.serving.export import EXPORT_INFO_FILE

        info_path = os.path.join(export_dir, EXPORT_INFO_FILE)
        if not os.path.isfile(info_path):
            raise RecommendError(
                f"--export_dir: {info_path} not found (not a bin/export directory)"
            )
        with open(info_path, encoding="utf-8") as f:
            self.info = json.load(f)
        self.config = self.info["config"]
        self.image_size = int(self.config["image_size"])
        self._tf = tf
        self.model = tf.saved_model.load(export_dir)

    def encode(self, images: np.ndarray, batch_size: int = 32) -> EncodedStickers:
        """Runs ``encode_stickers`` over uint8 ``[N, S, S, 3]`` images in batches."""
        images = np.asarray(images)
        if (
            images.dtype != np.uint8
            or images.ndim != 4
            or images.shape[1:] != (self.image_size, self.image_size, 3)
        ):
            raise RecommendError(
                f"images: expected uint8 [N, {self.image_size}, "
                f"{self.image_size}, 3], got {images.dtype} {images.shape}"
            )
        regions, flat, emoji = [], [], []
        for start in range(0, len(images), max(1, int(batch_size))):
            out = self.model.encode_stickers(self._tf.constant(images[start : start + batch_size]))
            regions.append(out["sticker_regions"].numpy())
            flat.append(out["sticker_flat"].numpy())
            emoji.extend(e.decode("utf-8") for e in out["emoji"].numpy())
        return EncodedStickers(np.concatenate(regions), np.concatenate(flat), emoji)

    def rank(
        self, utterances: Sequence[str], encoded: EncodedStickers, batch_size: int = 10
    ) -> Ranking:
        """Scores every encoded sticker against one context.

        ``utterances``: the turns, oldest first, already space-segmented;
        empty turns are ignored, the last ``context_len`` kept. Stickers are
        scored ``batch_size`` at a time (a shared bank of shape [1, C, ...]).
        """
        tf = self._tf
        turns = [u if isinstance(u, str) else " ".join(u) for u in utterances]
        if not any(t.split() for t in turns):
            raise RecommendError("utterances: give at least one non-empty utterance")
        if batch_size <= 0:
            raise RecommendError(f"--batch_size must be positive, got {batch_size}")
        context = tf.constant([turns], dtype=tf.string)
        scores, s_att, w_att = [], [], []
        out = None
        for start in range(0, len(encoded), batch_size):
            stop = start + batch_size
            out = self.model.rank_text_encoded(
                context,
                tf.constant(encoded.regions[None, start:stop]),
                tf.constant(encoded.flat[None, start:stop]),
            )
            scores.append(out["scores"].numpy()[0])
            s_att.append(out["sticker_attention"].numpy()[0])
            w_att.append(out["word_attention"].numpy()[0])
        scores = np.concatenate(scores)
        num_turns = int(out["num_turns"].numpy()[0])
        words = [[w.decode("utf-8") for w in row if w] for row in out["context_words"].numpy()[0]]
        order = np.argsort(-scores, kind="stable")
        return Ranking(
            scores=scores,
            order=order,
            sticker_attention=np.concatenate(s_att),
            word_attention=np.concatenate(w_att),
            context_words=words[:num_turns],
            num_turns=num_turns,
        )


# ----------------------------------------------------------------------------- the CLI logic


def segment_utterances(utterances: Sequence[str], presegmented: bool) -> list[str]:
    """Raw user text -> space-separated words (jieba), unless ``presegmented``."""
    if presegmented:
        return [" ".join(u.split()) for u in utterances]
    from srs_tf.data.segment import segment_to_text

    return [segment_to_text(u) for u in utterances]


def explain(
    path: str, stickers: StickerDir, ranking: Ranking, captions: Sequence[str], top: Sequence[int]
) -> None:
    """Writes the Figure 8/9 view: the chosen stickers with their τs heat-maps
    (averaged over the real turns) and the context words shaded by the τu of
    the top sticker."""
    from srs_tf.visualize import mean_over_turns, render_explanation

    best = int(top[0])
    attention = [mean_over_turns(ranking.sticker_attention[i], ranking.num_turns) for i in top]
    words = ranking.context_words
    weights = [ranking.word_attention[best, t, : len(w)] for t, w in enumerate(words)]
    render_explanation(
        path, [stickers.images[i] for i in top], attention, list(captions), words, weights
    )


def recommend(
    export_dir: str,
    sticker_dir: str,
    utterances: Sequence[str],
    top_k: int = 5,
    presegmented: bool = False,
    explain_path: str | None = None,
    batch_size: int = 10,
    out: TextIO = sys.stdout,
) -> dict:
    """``bin/recommend``: ranks the stickers of ``sticker_dir`` for the context
    ``utterances`` (oldest first) and prints the top ``top_k`` (0 = all).

    Returns ``{"context": [...], "ranking": [{"rank", "score", "sticker",
    "emoji", "emoji_source"}, ...], "skipped": [...], "explain": path}``.
    """
    if not utterances:
        raise RecommendError('give the context as arguments: "utterance 1" "utterance 2" ...')
    if top_k < 0:
        raise RecommendError(f"--top_k must be >= 0 (0 = all), got {top_k}")
    if batch_size <= 0:
        raise RecommendError(f"--batch_size must be positive, got {batch_size}")
    turns = segment_utterances(utterances, presegmented)
    if not any(t.split() for t in turns):
        raise RecommendError("utterances: give at least one non-empty utterance")
    model = Recommender(export_dir)
    stickers = load_sticker_dir(sticker_dir, size=model.image_size)
    for name, reason in stickers.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    encoded = model.encode(stickers.images)
    ranking = model.rank(turns, encoded, batch_size=batch_size)
    k = len(stickers) if top_k == 0 else min(top_k, len(stickers))
    top = [int(i) for i in ranking.order[:k]]

    rows = []
    for rank, i in enumerate(top, start=1):
        known = stickers.emoji[i]
        rows.append(
            {
                "rank": rank,
                "score": float(ranking.scores[i]),
                "sticker": stickers.names[i],
                "emoji": known or encoded.predicted_emoji[i],
                "emoji_source": "mapping" if known else "predicted",
            }
        )
    print(
        f"context ({ranking.num_turns} turn{'s' if ranking.num_turns != 1 else ''} used, "
        "oldest first):",
        file=out,
    )
    for words in ranking.context_words:
        print("  " + " ".join(words), file=out)
    print(f"top {k} of {len(stickers)} stickers in {sticker_dir}:", file=out)
    width = max(len("sticker"), *(len(r["sticker"]) for r in rows))
    print(f"{'rank':>4}  {'score':>8}  {'sticker':<{width}}  emoji", file=out)
    for r in rows:
        note = "" if r["emoji_source"] == "mapping" else " (predicted)"
        print(
            f"{r['rank']:>4}  {r['score']:8.6f}  {r['sticker']:<{width}}  {r['emoji']}{note}",
            file=out,
        )
    if stickers.skipped:
        print(f"skipped {len(stickers.skipped)} unreadable file(s) (see stderr)", file=out)
    if explain_path:
        captions = [f"#{r['rank']} {r['score']:.3f} {r['emoji']}" for r in rows]
        explain(explain_path, stickers, ranking, captions[:8], top[:8])
        print(f"explanation written to {explain_path}", file=out)
    return {
        "context": [" ".join(w) for w in ranking.context_words],
        "ranking": rows,
        "skipped": [list(s) for s in stickers.skipped],
        "explain": explain_path,
    }
