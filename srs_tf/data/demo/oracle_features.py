"""Oracle sticker representations for the demo benchmark (a diagnostic).

The demo generator records what every sticker really depicts
(``DATA/demo_sets.json``). These functions turn that into sticker
representations a perfect sticker encoder could give: every depicted emoji
gets a fixed random direction, shared by all its stickers in all sets. They
replace the Inception-v3 outputs (``O`` and ``O_flat`` of eq. 1) so the rest of
SRS (eq. 2-17) can be trained and measured on its own: how well does the
matcher learn the text-sticker match when the picture is fully understood?
(``experiments/oracle_features.py``, docs/RESULTS.md.)

Shapes follow the sticker encoder: regions ``[N, R, 768]`` and flat
``[N, 2048]`` for the N rows of a TFREC sticker bank.
"""

from __future__ import annotations

import json
import os

import numpy as np


def depicted_emoji(data_dir: str) -> dict[tuple[str, str], str]:
    """``(sticker_set_id, sticker_id)`` (strings) -> the emoji the picture shows."""
    path = os.path.join(data_dir, "demo_sets.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: oracle features need a demo build "
            "(bin/make_demo_data), not the StickerChat release"
        )
    with open(path, encoding="utf-8") as f:
        sets = json.load(f)["sets"]
    return {
        (str(s["sticker_set_id"]), str(st["sticker_id"])): st["depicts"]
        for s in sets
        for st in s["stickers"]
    }


def oracle_sticker_features(
    data_dir: str,
    bank,
    num_regions: int = 36,
    seed: int = 0,
    emoji_region_fraction: float = 0.3,
    noise: float = 0.5,
):
    """Oracle ``(regions [N, R, 768], flat [N, 2048])`` float16 for ``bank``'s rows.

    * flat: the depicted emoji's direction plus Gaussian noise (std ``noise``);
    * regions: a per-set pattern (what all stickers of a set share: style,
      frame, background) with the emoji's direction added to a random
      ``emoji_region_fraction`` of the regions (where the drawing is).

    Args:
      data_dir: the demo DATA directory the TFREC was made from.
      bank: the TFREC's ``StickerBank`` (``srs_tf.data.pipeline``).
      num_regions: R (36 at 128 px).
      seed: seed of the directions and the noise.
    """
    from srs_tf.model.sticker_encoder import FLAT_DIM, REGION_DIM  # the encoder's output sizes

    depicts = depicted_emoji(data_dir)
    rng = np.random.default_rng(seed)
    emoji = sorted(set(depicts.values()))
    flat_dir = {e: rng.standard_normal(FLAT_DIM) for e in emoji}
    region_dir = {e: rng.standard_normal(REGION_DIM) for e in emoji}
    set_pattern = {s: rng.standard_normal((num_regions, REGION_DIM)) for s in bank.set_ids.tolist()}
    n = len(bank)
    flat = np.empty((n, FLAT_DIM), np.float16)
    regions = np.empty((n, num_regions, REGION_DIM), np.float16)
    for row in range(n):
        key = (str(bank.sticker_set_id[row]), str(bank.sticker_id[row]))
        if key not in depicts:
            raise KeyError(
                f"sticker {key[1]} of set {key[0]} is not in {data_dir}/demo_sets.json; "
                "was the TFREC made from this demo build?"
            )
        e = depicts[key]
        flat[row] = flat_dir[e] + noise * rng.standard_normal(FLAT_DIM)
        drawn = rng.random((num_regions, 1)) < emoji_region_fraction
        regions[row] = set_pattern[str(bank.set_ids[bank.set_index[row]])] + drawn * region_dir[e]
    return regions, flat
