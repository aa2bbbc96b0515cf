"""Keras' ImageNet weights for the sticker encoder, from the Keras cache only.

``--inception_weights=imagenet`` (the default; docs/INCEPTION_WEIGHTS.md)
loads Keras' InceptionV3 "notop" ImageNet file. srs_tf never downloads
anything at run time: ``ensure_imagenet_weights`` returns the file from the
Keras cache (``$KERAS_HOME/models/`` or ``~/.keras/models/``) when it is there
with Keras' md5, and otherwise raises ``ImageNetWeightsUnavailable`` at once
with one message naming the ways on: put Keras' file there (its origin and
md5 are in the message), ``--inception_weights=none``, or a local file. The
sticker encoder loads the weights from that path, so Keras never fetches
either.
"""

from __future__ import annotations

import os
import tempfile

# As in keras/src/applications/inception_v3.py (Keras 3): the include_top=False
# file, its origin and the md5 Keras checks it against
# (tests/model/test_imagenet_default.py checks these against the installed Keras).
KERAS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_ORIGIN = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + KERAS_FILE
)
KERAS_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"
CACHE_SUBDIR = "models"


class ImageNetWeightsUnavailable(RuntimeError):
    """Keras' ImageNet file is not in the Keras cache (or is not Keras' file)."""


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


def unavailable_message(path: str, problem: str) -> str:
    """The one error message: what is missing and the ways on."""
    return (
        f"--inception_weights=imagenet needs Keras' ImageNet weights for InceptionV3, "
        f"which are not in the Keras cache: {path} {problem}. srs_tf does not download.\n"
        f"Ways on: copy Keras' file ({KERAS_ORIGIN}, md5 {KERAS_MD5}) to {path}; "
        "or --inception_weights=none (random init: Table 2's no_pretrain network); "
        "or --inception_weights=PATH to a local file: a Keras .h5 (such as a copy of "
        f"{KERAS_FILE}), a TF-Slim inception_v3.ckpt or the StickerChat release checkpoint "
        "(docs/INCEPTION_WEIGHTS.md)."
    )


def ensure_imagenet_weights() -> str:
    """The cached ``InceptionV3(include_top=False)`` ImageNet file, checked
    against Keras' md5; never downloads.

    Raises:
      ImageNetWeightsUnavailable: the file is missing or not Keras' file; the
        message names where to put it and the other ways on.
    """
    path = imagenet_cache_path()
    if not os.path.isfile(path):
        raise ImageNetWeightsUnavailable(unavailable_message(path, "does not exist"))
    if not _valid(path):
        raise ImageNetWeightsUnavailable(
            unavailable_message(path, f"is not Keras' file (its md5 differs from {KERAS_MD5})")
        )
    return path
