"""Word segmentation of raw (unsegmented) user text with jieba.

The StickerChat release text is already segmented by spaces; raw text typed
by a user (``bin/recommend``, the ``rank_text`` serving path after
segmentation) is cut with jieba's default dictionary, which ships inside the
``jieba`` package (nothing is downloaded).
"""

from __future__ import annotations

import logging
import threading

_lock = threading.Lock()
_tokenizer = None


def _get_tokenizer():
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            import jieba  # imported lazily: it is slow to initialise

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _tokenizer = tokenizer
    return _tokenizer


def segment(text: str) -> list[str]:
    """Splits raw text into words, e.g. ``"今天好开心"`` -> ``["今天", "好开心"]``.

    Whitespace separates words as well (it is never part of a word), so text
    that is already segmented by spaces comes back unchanged.
    """
    if not isinstance(text, str):
        raise TypeError(f"segment() expects a str, got {type(text).__name__}")
    words: list[str] = []
    chunks = text.split()
    if not chunks:
        return words
    tokenizer = _get_tokenizer()
    for chunk in chunks:
        words.extend(w for w in tokenizer.lcut(chunk) if w.strip())
    return words


def segment_to_text(text: str) -> str:
    """``segment(text)`` joined by single spaces (the release's text format)."""
    return " ".join(segment(text))
