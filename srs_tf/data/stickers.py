"""Sticker arrays: loading ``.npy`` files and normalising them to uint8 128x128x3.

Normalisation rules (docs/DATA.md, "Sticker normalisation"):

* Layout: ``H x W x 3`` RGB; ``H x W x 4`` RGBA is composited on a white
  background (``rgb * a + 255 * (1 - a)``); ``H x W`` and ``H x W x 1`` grey
  are repeated to three channels. Anything else is an error.
* Values: ``uint8`` is used as is. Other integer types must lie in 0..255.
  Floats must be finite; when the array's maximum is <= 1.0 it is read as
  0..1 and multiplied by 255, otherwise it must lie in 0..255. (So a float
  0..255 image whose brightest pixel is <= 1, i.e. an all but black image, is
  read as 0..1: the only ambiguous case, documented.) Values below 0 (beyond
  rounding noise of 1e-3 of the range) or above the range are errors; the
  result is rounded to the nearest integer.
* Size: a sticker that is not ``size x size`` is resized with its aspect
  ratio kept so that its longer side is ``size`` (bicubic, Pillow), and
  centred on a white canvas. Compositing happens before resizing, so a
  transparent background and the padding are the same white.
"""

from __future__ import annotations

import os

import numpy as np

IMAGE_SIZE = 128
WHITE = 255


class StickerError(ValueError):
    """A sticker array cannot be used. ``reason`` is a report skip reason."""

    def __init__(self, message: str, reason: str = "bad_sticker_array"):
        super().__init__(message)
        self.reason = reason


def _to_unit_range(values: np.ndarray, what: str) -> np.ndarray:
    """Returns float32 values in [0, 255] following the module's value rules."""
    if values.dtype == np.bool_:
        raise StickerError(f"{what}: boolean arrays are not images")
    if values.dtype == np.uint8:
        return values.astype(np.float32)
    if np.issubdtype(values.dtype, np.integer):
        if values.size and (values.min() < 0 or values.max() > 255):
            raise StickerError(
                f"{what}: integer values must lie in 0..255, got {values.min()}..{values.max()}"
            )
        return values.astype(np.float32)
    if np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float32)
        if not np.all(np.isfinite(values)):
            raise StickerError(f"{what}: contains NaN or infinite values")
        hi = float(values.max()) if values.size else 0.0
        lo = float(values.min()) if values.size else 0.0
        scale = 255.0 if hi <= 1.0 else 1.0
        top = 1.0 if hi <= 1.0 else 255.0
        tol = 1e-3 * top
        if lo < -tol or hi > top + tol:
            raise StickerError(f"{what}: float values must lie in 0..1 or 0..255, got {lo}..{hi}")
        return np.clip(values * scale, 0.0, 255.0)
    raise StickerError(f"{what}: unsupported dtype {values.dtype}")


def _resize_and_pad(rgb: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    new_h = min(size, max(1, int(round(h * scale))))
    new_w = min(size, max(1, int(round(w * scale))))
    resized = np.asarray(Image.fromarray(rgb, mode="RGB").resize((new_w, new_h), Image.BICUBIC))
    canvas = np.full((size, size, 3), WHITE, dtype=np.uint8)
    top = (size - new_h) // 2
    left = (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas


def normalize_sticker(
    array: np.ndarray, size: int = IMAGE_SIZE, what: str = "sticker"
) -> np.ndarray:
    """Returns ``array`` as a contiguous uint8 ``[size, size, 3]`` image (module rules).

    Raises ``StickerError`` (reason ``bad_sticker_array``) for an array that
    cannot be read as an image; ``what`` names it in the message.
    """
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind in "USV":
        raise StickerError(f"{what}: unsupported dtype {array.dtype}")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        channels = 1
    elif array.ndim == 3 and array.shape[-1] in (3, 4):
        channels = array.shape[-1]
    else:
        raise StickerError(f"{what}: expected HxWx3, HxWx4 or HxW, got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise StickerError(f"{what}: empty image of shape {array.shape}")

    if channels == 3 and array.dtype == np.uint8:
        rgb = array
    else:
        values = _to_unit_range(array, what)
        if channels == 1:
            values = np.repeat(values[..., None], 3, axis=-1)
        elif channels == 4:
            alpha = values[..., 3:4] / 255.0
            values = values[..., :3] * alpha + 255.0 * (1.0 - alpha)
        rgb = np.clip(np.rint(values), 0, 255).astype(np.uint8)

    if rgb.shape[0] != size or rgb.shape[1] != size:
        rgb = _resize_and_pad(np.ascontiguousarray(rgb), size)
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def load_sticker(path: str, size: int = IMAGE_SIZE) -> np.ndarray:
    """Loads a sticker ``.npy`` file and normalises it (``normalize_sticker``).

    Raises ``StickerError`` with reason ``missing_sticker_file`` (no such
    file), ``unreadable_sticker_file`` (not a loadable ``.npy`` array) or
    ``bad_sticker_array`` (wrong shape, dtype or values); the message names
    the file.
    """
    if not os.path.isfile(path):
        raise StickerError(f"{path}: sticker file not found", reason="missing_sticker_file")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any failure to read is the same skip reason
        raise StickerError(
            f"{path}: cannot read sticker array ({type(e).__name__}: {e})",
            reason="unreadable_sticker_file",
        ) from None
    if not isinstance(array, np.ndarray):
        raise StickerError(f"{path}: not a single .npy array", reason="unreadable_sticker_file")
    return normalize_sticker(array, size=size, what=path)
