"""ImageNet weights by default (docs/DESIGN.md#pretrained-weights): Keras' file from
a prepared cache without a network, and the clear offline error of bin/train.

Nothing here reaches a network: subprocesses get an empty or prepared
KERAS_HOME and an https proxy on a closed local port (so that a fetch fails
at once even on a machine that has a network), and in-process tests replace
Keras' `urlretrieve`.
"""

import inspect
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error

import pytest
from conftest import REPO

from srs_tf.model import imagenet
from srs_tf.model_config import SRSConfig
from srs_tf.run_config import TrainConfig

PY = sys.executable


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _offline_env(keras_home):
    proxy = f"http://127.0.0.1:{_closed_port()}"
    return dict(
        os.environ,
        KERAS_HOME=str(keras_home),
        PYTHONUNBUFFERED="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="",
        https_proxy=proxy,
        HTTPS_PROXY=proxy,
        http_proxy=proxy,
        HTTP_PROXY=proxy,
        no_proxy="",
        NO_PROXY="",
    )


def test_defaults_are_imagenet():
    assert SRSConfig().inception_weights == "imagenet" and SRSConfig().pretrained
    assert TrainConfig().model.inception_weights == "imagenet"
    assert not SRSConfig(ablation="no_pretrain").pretrained


def test_file_name_origin_and_hash_are_keras_own():
    from keras.src.applications import inception_v3

    source = inspect.getsource(inception_v3)
    assert inception_v3.WEIGHTS_PATH_NO_TOP == imagenet.KERAS_ORIGIN
    assert f'"{imagenet.KERAS_FILE}"' in source and f'"{imagenet.KERAS_MD5}"' in source


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private Keras cache directory; any download attempt fails at once."""
    models = tmp_path / "keras" / "models"
    monkeypatch.setattr(imagenet, "keras_cache_dir", lambda: str(models))
    attempts = []

    def no_network(url, *args, **kwargs):
        attempts.append(url)
        raise urllib.error.URLError("no network in tests")

    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    return models, attempts


def test_missing_file_is_one_clear_error_without_any_download(cache):
    models, attempts = cache
    start = time.perf_counter()
    with pytest.raises(imagenet.ImageNetWeightsUnavailable) as info:
        imagenet.ensure_imagenet_weights()
    assert time.perf_counter() - start < 5
    assert attempts == []  # srs_tf never downloads
    message = str(info.value)
    path = str(models / imagenet.KERAS_FILE)
    assert f"{path} does not exist" in message and "does not download" in message
    assert imagenet.KERAS_ORIGIN in message and imagenet.KERAS_MD5 in message
    assert "--inception_weights=none" in message and "no_pretrain" in message
    assert "--inception_weights=PATH" in message and "TF-Slim" in message
    assert "docs/INCEPTION_WEIGHTS.md" in message
    assert not os.path.exists(path)


def test_stale_cached_file_is_refused_and_kept(cache):
    models, attempts = cache
    models.mkdir(parents=True)
    path = models / imagenet.KERAS_FILE
    path.write_bytes(b"not the weights")
    with pytest.raises(imagenet.ImageNetWeightsUnavailable, match="its md5 differs"):
        imagenet.ensure_imagenet_weights()
    assert attempts == []
    assert path.read_bytes() == b"not the weights"
    assert sorted(os.listdir(models.parent)) == ["models"]


def test_cached_file_with_keras_hash_is_used_without_a_fetch(cache, monkeypatch):
    from keras.src.utils import file_utils

    models, attempts = cache
    models.mkdir(parents=True)
    path = models / imagenet.KERAS_FILE
    path.write_bytes(b"weights")
    checked = []
    monkeypatch.setattr(
        file_utils,
        "validate_file",
        lambda fpath, file_hash, **kw: checked.append((fpath, file_hash)) or True,
    )
    assert imagenet.ensure_imagenet_weights() == str(path)
    assert checked == [(str(path), imagenet.KERAS_MD5)] and attempts == []


def test_the_sticker_encoder_never_downloads_either(cache):
    from srs_tf.model import build_sticker_encoder
    from srs_tf.model_config import SRSConfig

    _, attempts = cache
    with pytest.raises(imagenet.ImageNetWeightsUnavailable, match="does not exist"):
        build_sticker_encoder(SRSConfig(image_size=75, emoji_vocab_size=5))  # default: imagenet
    assert attempts == []


# Run in a fresh process: KERAS_HOME is read when Keras is imported.
_PREPARED_CACHE_SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    import keras
    from keras.src.legacy.saving import legacy_h5_format
    from keras.src.utils import file_utils
    import h5py

    from srs_tf.model_config import SRSConfig
    from srs_tf.model import build_sticker_encoder, imagenet

    home = os.environ["KERAS_HOME"]
    path = os.path.join(home, "models", imagenet.KERAS_FILE)
    assert imagenet.imagenet_cache_path() == path, (imagenet.imagenet_cache_path(), path)

    # Keras' ImageNet notop file: the legacy Keras 2 HDF5 layout under Keras' name.
    src = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(75, 75, 3))
    rng = np.random.default_rng(3)
    for w in src.weights:  # every tensor random, batch-norm statistics included
        low, high = (0.5, 1.5) if "moving_variance" in w.path else (-0.1, 0.1)
        w.assign(rng.uniform(low, high, w.shape).astype("float32"))
    os.makedirs(os.path.dirname(path))
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, src)

    # A random file cannot have the md5 of Keras' real file, which Keras checks
    # before using a cached file: accept this one, as Keras accepts the real one.
    file_utils.validate_file = lambda fpath, file_hash, **kw: fpath == path
    def no_network(*args, **kwargs):
        raise AssertionError("network access")
    file_utils.urlretrieve = no_network

    assert imagenet.ensure_imagenet_weights() == path
    model = build_sticker_encoder(SRSConfig(image_size=75, emoji_vocab_size=5))  # default weights
    encoder = model.get_layer("inception_sticker_encoder")
    assert encoder.inception_weights == "imagenet" and encoder.freeze_batch_norm
    want = src.get_weights()
    got = encoder.backbone.get_weights()
    assert len(got) == len(want) == 376
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    print("IMAGENET_FROM_CACHE_OK", len(got))
""")


def test_imagenet_from_a_prepared_cache_offline(tmp_path):
    home = tmp_path / "keras_home"
    result = subprocess.run(
        [PY, "-c", _PREPARED_CACHE_SCRIPT],
        env=_offline_env(home),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "IMAGENET_FROM_CACHE_OK 376" in result.stdout
    assert "Downloading" not in result.stdout


def test_bin_train_offline_stops_before_any_work(tmp_path):
    home = tmp_path / "keras_home"
    run = tmp_path / "run"
    start = time.perf_counter()
    # A data directory that does not exist: the check comes before any data is read.
    result = subprocess.run(
        [
            PY,
            os.path.join(REPO, "bin", "train"),
            f"--data_dir={tmp_path / 'no_data'}",
            f"--model_dir={run}",
            "--hidden_dim=16",
            "--emb_dim=16",
            "--batch_size=8",
        ],
        env=_offline_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - start
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Keras' ImageNet weights" in errors[0] and str(home) in errors[0]
    assert "--inception_weights=none" in result.stderr
    assert "--inception_weights=PATH" in result.stderr
    assert "no_data" not in result.stderr
    assert not run.exists()
    assert not os.path.exists(os.path.join(home, "models", imagenet.KERAS_FILE))
    assert elapsed < 120, elapsed  # mostly importing TensorFlow; the check itself is instant
