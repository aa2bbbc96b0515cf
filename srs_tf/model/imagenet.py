"""Keras' ImageNet weights for the sticker encoder: can they be had here?

``--inception_weights=imagenet`` (the default; docs/INCEPTION_WEIGHTS.md) builds the sticker
encoder with ``keras.applications.InceptionV3(include_top=False,
weights="imagenet")``. Keras takes the "notop" file from its cache
(``$KERAS_HOME/models/`` or ``~/.keras/models/``) when the file there has
Keras' md5, and otherwise downloads it. ``ensure_imagenet_weights`` does the
same before any work: it returns the cached file, or lets Keras fetch it into
the cache, and where neither is possible raises ``ImageNetWeightsUnavailable``
with one message naming the ways on (``--inception_weights=none`` or a local
file). srs_tf itself never downloads anything: the fetch is Keras'
``get_file`` with Keras' own origin and hash.

Offline, the fetch fails as soon as the host name does not resolve or the
connection is refused (well under a second on a machine without a network);
a stalled connection is cut by a socket timeout. A stale file in the cache
(another md5) is left where it is when the fetch fails (Keras' ``get_file``
itself would delete it), because the fetch goes to a temporary directory and
replaces the cached file only once Keras has checked the download's hash.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator

# As in keras/src/applications/inception_v3.py (Keras 3): the include_top=False
# file, its origin and the md5 Keras checks it against
# (tests/model/test_imagenet_default.py checks these against the installed Keras).
KERAS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_ORIGIN = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + KERAS_FILE
)
KERAS_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"
CACHE_SUBDIR = "models"
DEFAULT_TIMEOUT_S = 20.0


class ImageNetWeightsUnavailable(RuntimeError):
    """Keras' ImageNet file is neither in the Keras cache nor downloadable."""


def keras_cache_dir() -> str:
    """The directory where Keras looks for (and stores) application weights.

    Mirrors ``keras.utils.get_file``: ``$KERAS_HOME`` (read by Keras when it
    is imported) or ``~/.keras``, or ``/tmp/.keras`` when that is not
    writable; then the ``models`` sub-directory.
    """
    try:
        from keras.src.backend.config import keras_home

        base = keras_home()
    except ImportError:  # pragma: no cover - a Keras without the private accessor
        base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    base = os.path.expanduser(base)
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return os.path.join(base, CACHE_SUBDIR)


def imagenet_cache_path() -> str:
    """Where Keras keeps the InceptionV3 ``include_top=False`` ImageNet file."""
    return os.path.join(keras_cache_dir(), KERAS_FILE)


def _valid(path: str) -> bool:
    from keras.src.utils import file_utils

    # Keras' own check (the one get_file runs on a cached file).
    return file_utils.validate_file(path, KERAS_MD5, algorithm="auto")


@contextlib.contextmanager
def _socket_timeout(seconds: float | None) -> Iterator[None]:
    """urllib (under get_file) uses the default socket timeout: bound stalls."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def unavailable_message(path: str, problem: str, reason: str) -> str:
    """The one error message: what is missing, why, and the ways on."""
    return (
        f"--inception_weights=imagenet needs Keras' ImageNet weights for InceptionV3, "
        f"which cannot be had here: {path} {problem}, and Keras could not download it "
        f"({reason}).\n"
        "Ways on: --inception_weights=none (random init: Table 2's no_pretrain network), "
        "or --inception_weights=PATH to a local file: a Keras .h5 (such as a copy of "
        f"{KERAS_FILE}), a TF-Slim inception_v3.ckpt or the StickerChat release checkpoint "
        "(docs/INCEPTION_WEIGHTS.md)."
    )


def _reason(error: BaseException) -> str:
    """get_file's "URL fetch failure on URL: errno -- reason" without the URL."""
    text = " ".join(str(error).split()) or type(error).__name__
    if text.startswith("URL fetch failure on") and " -- " in text:
        text = text.split(" -- ", 1)[1]
    return text


def ensure_imagenet_weights(timeout: float | None = DEFAULT_TIMEOUT_S) -> str:
    """Makes sure ``InceptionV3(include_top=False, weights="imagenet")`` will load.

    Returns the cached file when it is there with Keras' md5; otherwise lets
    Keras download it (``keras.utils.get_file``, each socket operation
    bounded by ``timeout`` seconds) into the cache and returns its path.

    Raises:
      ImageNetWeightsUnavailable: not cached and not downloadable; the
        message names ``--inception_weights=none`` and a local file as the
        ways on.
    """
    path = imagenet_cache_path()
    if os.path.isfile(path):
        if _valid(path):
            return path
        problem = f"is not Keras' file (its md5 differs from {KERAS_MD5})"
    else:
        problem = "does not exist"
    import keras

    base = os.path.dirname(os.path.dirname(path))
    try:
        os.makedirs(base, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".srs_tf_fetch_", dir=base) as tmp:
            with _socket_timeout(timeout):
                fetched = keras.utils.get_file(
                    KERAS_FILE,
                    KERAS_ORIGIN,
                    cache_dir=tmp,
                    cache_subdir=CACHE_SUBDIR,
                    file_hash=KERAS_MD5,
                )
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.replace(fetched, path)
    except Exception as e:  # get_file wraps URL errors in a bare Exception
        raise ImageNetWeightsUnavailable(unavailable_message(path, problem, _reason(e))) from e
    return path
