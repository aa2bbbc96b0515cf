"""Attention heat-maps over stickers and words (the paper's Figures 8 and 9).

Pure numpy/PIL helpers shared by TensorBoard summaries (`bin/train`) and
`bin/recommend --explain`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def attention_grid(attention: np.ndarray) -> np.ndarray:
    """Reshapes sticker-region attention [R] (R = p*p regions) to [p, p]."""
    attention = np.asarray(attention, dtype=np.float32).reshape(-1)
    side = int(round(math.sqrt(attention.size)))
    if side * side != attention.size:
        raise ValueError(f"sticker attention has {attention.size} regions, not a square grid")
    return attention.reshape(side, side)


def overlay_attention(
    image: np.ndarray, attention: np.ndarray, strength: float = 0.75
) -> np.ndarray:
    """Overlays sticker-wise attention τs (eq. 9) on a sticker, as in Figure 8.

    Args:
      image: uint8 [S, S, 3] sticker.
      attention: [R] attention over the p×p regions (any non-negative scale).
      strength: how much darker the least-attended area gets (0..1).

    Returns:
      uint8 [S, S, 3]: lighter where attention is higher.
    """
    from PIL import Image

    grid = attention_grid(attention)
    lo, hi = float(grid.min()), float(grid.max())
    grid = (grid - lo) / (hi - lo) if hi > lo else np.ones_like(grid)
    size = image.shape[0], image.shape[1]
    heat = Image.fromarray((grid * 255).astype(np.uint8)).resize((size[1], size[0]), Image.BILINEAR)
    heat = np.asarray(heat, dtype=np.float32)[..., None] / 255.0
    shaded = image.astype(np.float32) * (1.0 - strength + strength * heat)
    return np.clip(shaded, 0, 255).astype(np.uint8)


def mean_over_turns(attention: np.ndarray, num_turns: int) -> np.ndarray:
    """Averages [T, ...] attention over the real turns (rows < num_turns)."""
    num_turns = max(1, int(num_turns))
    return np.asarray(attention)[:num_turns].mean(axis=0)


def render_explanation(
    path: str,
    stickers: Sequence[np.ndarray],
    sticker_attention: Sequence[np.ndarray],
    captions: Sequence[str],
    utterances: Sequence[Sequence[str]],
    word_attention: Sequence[Sequence[float]],
) -> None:
    """Writes a PNG: stickers with their heat-maps and the context words shaded
    by attention weight (the paper's Figures 8 and 9).

    Args:
      path: output PNG path (written to a temp name, then renamed).
      stickers: uint8 [S, S, 3] images of the chosen stickers.
      sticker_attention: per sticker, [R] region attention.
      captions: one line of text under each sticker (e.g. "#1 0.93 😀").
      utterances: the context, one list of words per turn.
      word_attention: per turn, one weight per word (of the top sticker).
    """
    from PIL import Image, ImageDraw

    font = _font(16)
    tile = 160
    width = max(tile * max(1, len(stickers)), 640)
    line_h = 24
    height = tile + 30 + line_h * (len(utterances) + 1) + 10
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (img, att, cap) in enumerate(zip(stickers, sticker_attention, captions)):
        shaded = overlay_attention(np.asarray(img, np.uint8), att)
        canvas.paste(Image.fromarray(shaded).resize((tile - 16, tile - 16)), (i * tile + 8, 8))
        draw.text((i * tile + 8, tile - 4), cap, fill="black", font=font)
    y = tile + 30
    draw.text(
        (8, y), "context (darker = more attention from the top sticker):", fill="black", font=font
    )
    y += line_h
    for words, weights in zip(utterances, word_attention):
        x = 8
        weights = np.asarray(list(weights)[: len(words)], dtype=np.float32)
        top = float(weights.max()) if weights.size and weights.max() > 0 else 1.0
        for word, w in zip(words, weights):
            shade = int(255 - 200 * float(w) / top)
            box = draw.textbbox((x, y), word, font=font)
            draw.rectangle(
                (box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill=(255, shade, shade)
            )
            draw.text((x, y), word, fill="black", font=font)
            x = box[2] + 8
        y += line_h
    from srs_tf import atomic

    with atomic.atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")


def _font(size: int):
    """A font that can draw Chinese if the system has one, else PIL's default."""
    from PIL import ImageFont

    candidates = [
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ]
    for candidate in candidates:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default()
