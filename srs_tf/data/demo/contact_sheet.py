"""A PNG contact sheet of demo sticker sets (docs/demo_sets.png)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def contact_sheet(
    data_dir: str,
    out_png: str,
    num_sets: int = 6,
    per_set: int = 8,
    thumb: int = 96,
    set_ids: Sequence[int] | None = None,
) -> str:
    """Draws ``num_sets`` rows of ``per_set`` stickers with set labels.

    Reads a built demo dataset (``demo_sets.json`` for the style summaries and
    the random-label flag, ``npy_stickers`` for the pictures).  By default it
    shows the first sets of the file, swapping the last row for a random-label
    set when there is one, so the sheet shows that noise too.  Under each
    sticker: the code point(s) of its label in emoji_mapping.txt.
    """
    with open(os.path.join(data_dir, "demo_sets.json"), encoding="utf-8") as f:
        sets = json.load(f)["sets"]
    if set_ids is not None:
        by_id = {s["sticker_set_id"]: s for s in sets}
        chosen = [by_id[int(i)] for i in set_ids]
    else:
        chosen = [s for s in sets if len(s["stickers"]) >= per_set][:num_sets]
        noisy = [s for s in sets if s["random_labels"] and len(s["stickers"]) >= per_set]
        if noisy and not any(s["random_labels"] for s in chosen) and chosen:
            chosen[-1] = noisy[0]
    font = ImageFont.load_default()
    pad, head, foot = 6, 18, 14
    width = pad + per_set * (thumb + pad)
    row_h = head + thumb + foot + pad
    sheet = Image.new("RGB", (width, pad + len(chosen) * row_h), (245, 245, 245))
    draw = ImageDraw.Draw(sheet)
    for r, s in enumerate(chosen):
        y = pad + r * row_h
        title = f"set {s['sticker_set_id']}  ({len(s['stickers'])} stickers; {s['style_summary']})"
        if s["random_labels"]:
            title += "  RANDOM LABELS"
        draw.text((pad, y + 3), title, fill=(20, 20, 20), font=font)
        for c, st in enumerate(s["stickers"][:per_set]):
            arr = np.load(
                os.path.join(
                    data_dir, "npy_stickers", str(s["sticker_set_id"]), f"{st['sticker_id']}.npy"
                )
            )
            im = Image.fromarray(arr, "RGB").resize((thumb, thumb), Image.LANCZOS)
            x = pad + c * (thumb + pad)
            sheet.paste(im, (x, y + head))
            label = " ".join(f"U+{ord(ch):X}" for ch in st["label"] if ord(ch) != 0xFE0F)
            colour = (180, 30, 30) if st["label"] != st["depicts"] else (60, 60, 60)
            draw.text((x, y + head + thumb + 1), label, fill=colour, font=font)
    os.makedirs(os.path.dirname(os.path.abspath(out_png)), exist_ok=True)
    sheet.save(out_png, optimize=True)
    return out_png
