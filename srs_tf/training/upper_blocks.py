"""The `upper` sticker-encoder mode: cached lower blocks, trained upper blocks.

Training all of Inception-v3 on a CPU is far too slow (about one example a
second on the project's 2-core machine). In this mode the lower blocks of
Inception-v3 (up to the block before ``upper_from``) run once per sticker;
their activations are cached on disk (memory-mapped, so the full release's
174,695 stickers need no more RAM than the pages in use). The emoji warm-up
(paper §5.2, ``L_s``) then trains only the upper blocks and the emoji head
on the cached activations, after which the bank is encoded once more through
the trained upper blocks and the matcher trains on those representations as
in the ``frozen`` mode. docs/FIDELITY.md lists this as a compute-saving
deviation; ``finetune`` stays the paper's setting.

Batch normalisation. A randomly initialised backbone (``no_pretrain``, or
``--inception_weights=none``) has moving statistics that were never
computed (mean 0, variance 1). Before anything is encoded in inference
mode, ``calibrate_batch_norm`` sets every BN layer's moving statistics to the
average of its batch statistics over a sample of the bank, so that
inference-mode encodings (the cache, the encoded bank, the exported model)
normalise with statistics of the data. A pretrained backbone keeps its own
statistics and runs BN in inference mode throughout (the Keras fine-tuning
convention, as in every other mode).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from srs_tf import atomic
from srs_tf.progress import Progress

CACHE_DIR = "lower_cache"
CACHE_FILE = "activations.npy"
CACHE_META = "meta.json"


def batch_norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of ``model`` (nested models included)."""
    found = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
    return found


def calibrate_batch_norm(
    layers: list[keras.layers.BatchNormalization],
    forward: Callable[[np.ndarray], object],
    batches: Iterable[np.ndarray],
) -> int:
    """Sets the moving statistics of ``layers`` to the mean of their batch statistics.

    ``forward(batch)`` must run the network containing ``layers`` in training
    mode (batch statistics) eagerly. For batch ``i`` (from 0) each layer's
    momentum is set to ``i / (i + 1)``, so after ``n`` batches the moving mean
    and variance are the plain averages of the ``n`` batch means and
    variances. The momenta are restored afterwards. Returns ``n``.
    """
    momenta = [layer.momentum for layer in layers]
    count = 0
    try:
        for count, batch in enumerate(batches, start=1):
            for layer in layers:
                layer.momentum = (count - 1) / count
            forward(batch)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return count


def calibration_batches(num_rows: int, batch_size: int, num_batches: int, seed: int):
    """Row indices of ``num_batches`` random batches (sorted within a batch,
    for memory-mapped reads), drawn without replacement while rows last."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_rows)
    batches = []
    for i in range(num_batches):
        rows = order[i * batch_size : (i + 1) * batch_size]
        if rows.size < max(2, batch_size // 2):
            break
        batches.append(np.sort(rows))
    return batches


def bank_fingerprint(bank) -> str:
    """A short hash of the bank's row identities (set id, sticker id per row):
    which stickers, in which order, a cache holds."""
    digest = hashlib.sha256()
    for set_id, sticker_id in zip(bank.sticker_set_id.tolist(), bank.sticker_id.tolist()):
        digest.update(f"{set_id}\t{sticker_id}\n".encode())
    return digest.hexdigest()[:16]


def cache_key(upper_from: str, bank, lower: keras.Model) -> dict:
    """What a lower-block cache must match to be reused: the cut, the bank's
    rows and the lower blocks' weights (batch-norm statistics included)."""
    return {
        "upper_from": upper_from,
        "rows": len(bank),
        "bank": bank_fingerprint(bank),
        "lower_weights": weights_fingerprint(lower.variables),
    }


def encode_through_upper(upper: keras.Model, activations: np.ndarray, batch_size: int = 256):
    """``(regions [N, R, 768], flat [N, 2048])``: cached lower-block
    activations through the upper blocks in inference mode, rounded through
    float16 (as `srs_tf.evaluation.scoring.encode_bank` rounds), as tensors in
    the global policy's compute dtype."""
    encode = tf.function(lambda a: upper(a, training=False)[:2])
    regions, flats = [], []
    for start in range(0, len(activations), batch_size):
        r, f = encode(tf.constant(np.asarray(activations[start : start + batch_size], np.float32)))
        regions.append(r.numpy().astype(np.float16))
        flats.append(f.numpy().astype(np.float16))
    dtype = keras.mixed_precision.global_policy().compute_dtype
    return (
        tf.constant(np.concatenate(regions), dtype=dtype),
        tf.constant(np.concatenate(flats), dtype=dtype),
    )


def cached_bank_features(sticker_encoder, upper_from: str, bank, run_dir: str):
    """The bank's features from a run's lower-block cache, or None.

    Used by evaluation of an ``upper`` run: when ``RUN/lower_cache`` was made
    from this bank by these lower blocks (`cache_key`), only the upper blocks
    run, which is how training encoded the bank for validation. Otherwise
    (another TFREC, other weights, no cache) None: encode the bank in full.

    Args:
      sticker_encoder: the `StickerEncoder` layer of a restored run.
      upper_from: the run's cut (``TrainConfig.upper_from``).
      bank: the `StickerBank` to encode.
      run_dir: the run directory.
    """
    lower = sticker_encoder.lower_blocks(upper_from)
    activations = LowerCache(run_dir).load(cache_key(upper_from, bank, lower))
    if activations is None:
        return None
    return encode_through_upper(sticker_encoder.upper_blocks(upper_from), activations)


def weights_fingerprint(variables) -> str:
    """A short hash of variable values (which lower blocks made a cache)."""
    digest = hashlib.sha256()
    for variable in variables:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()[:16]


class LowerCache:
    """Activations of the lower blocks for every bank sticker, on disk.

    ``RUN/lower_cache/activations.npy`` (float16 ``[N, h, w, c]``) is written
    under a temporary name and renamed when complete, with ``meta.json``
    naming the cut, the row count and a fingerprint of the lower blocks'
    weights; a cache whose meta does not match is rebuilt, never reused.
    """

    def __init__(self, run_dir: str):
        self.dir = os.path.join(run_dir, CACHE_DIR)
        self.path = os.path.join(self.dir, CACHE_FILE)
        self.meta_path = os.path.join(self.dir, CACHE_META)

    def load(self, expected: dict) -> np.ndarray | None:
        """The cached array (memory-mapped) if its meta equals ``expected``."""
        if not (os.path.isfile(self.path) and os.path.isfile(self.meta_path)):
            return None
        with open(self.meta_path) as f:
            if json.load(f) != expected:
                return None
        return np.load(self.path, mmap_mode="r")

    def build(
        self,
        lower: keras.Model,
        images: np.ndarray,
        expected: dict,
        batch_size: int = 64,
        log: Callable[[str], None] = print,
    ) -> np.ndarray:
        """Runs ``lower`` (inference mode) over ``images`` and stores the result."""
        os.makedirs(self.dir, exist_ok=True)
        n = int(images.shape[0])
        shape = (n,) + tuple(int(d) for d in lower.output.shape[1:])
        need = int(np.prod(shape)) * np.dtype(np.float16).itemsize
        free = shutil.disk_usage(self.dir).free
        if need > free:
            # A memory-mapped write past the free space dies with SIGBUS, not
            # an OSError: refuse before writing anything.
            raise OSError(
                f"the lower-block cache needs {need / 2**20:,.1f} MiB in {self.dir}, "
                f"but only {free / 2**20:,.1f} MiB are free there"
            )
        tmp = self.path + f".tmp-{os.getpid()}.npy"
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=shape)
        encode = tf.function(lambda x: lower(x, training=False))
        progress = Progress("lower cache", total=n, unit="stickers", every_s=10.0, write=log)
        for i in range(0, n, batch_size):
            out[i : i + batch_size] = encode(tf.constant(images[i : i + batch_size])).numpy()
            progress.set(min(i + batch_size, n))
        progress.close()
        out.flush()
        del out
        os.replace(tmp, self.path)
        atomic.write_json(self.meta_path, expected)
        return np.load(self.path, mmap_mode="r")
