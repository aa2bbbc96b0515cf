"""Tests for srs_tf.model.inception_weights (docs/DESIGN.md#pretrained-weights).

Checkpoints are written with random values under the exact variable names of
the fixture tables (TF-Slim inception_v3.ckpt and the StickerChat release),
by name, with tf.raw_ops.SaveV2. No network access.
"""

import csv
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO

from srs_tf.model import inception_weights as iw

FIXTURES = os.path.join(REPO, "tests", "fixtures")
SIZE = 75  # the smallest input InceptionV3 accepts; weights do not depend on it


def _table(name):
    with open(os.path.join(FIXTURES, name)) as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows[0] == ["name", "shape"]
    return [(n, tuple(int(d) for d in s.split(","))) for n, s in rows[1:]]


SLIM_TABLE = _table("inception_v3_tf_slim_variables.tsv")
RELEASE_TABLE = _table("inception_v3_stickerchat_release_variables.tsv")


def _random(shapes, seed):
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes:
        if name.endswith("moving_variance"):
            out[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            out[name] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
    return out


def _write(prefix, values):
    names = sorted(values)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(values[n]) for n in names],
    )
    return prefix


def _ckpt_names(prefix):
    return set(tf.train.load_checkpoint(prefix).get_variable_to_shape_map())


def _producer(tensor):
    return tensor._keras_history.operation


def _conv_bn_of(branch_output):
    """(conv, bn) behind a branch output (Activation <- BN <- Conv2D)."""
    act = _producer(branch_output)
    assert isinstance(act, keras.layers.Activation)
    bn = _producer(act.input)
    assert isinstance(bn, keras.layers.BatchNormalization)
    conv = _producer(bn.input)
    assert isinstance(conv, keras.layers.Conv2D)
    return conv, bn


@pytest.fixture(scope="module")
def backbone():
    return keras.applications.InceptionV3(
        include_top=False, weights=None, input_shape=(SIZE, SIZE, 3)
    )


@pytest.fixture(scope="module")
def slim_values():
    return _random(SLIM_TABLE, seed=1)


@pytest.fixture(scope="module")
def slim_ckpt(tmp_path_factory, slim_values):
    d = tmp_path_factory.mktemp("slim")
    values = dict(slim_values)
    values["global_step"] = np.array(1234, np.int64)
    values["InceptionV3/Conv2d_1a_3x3/weights/Adam"] = np.zeros((3, 3, 3, 32), np.float32)
    return _write(str(d / "inception_v3.ckpt"), values)


@pytest.fixture(scope="module")
def release_values():
    return _random(RELEASE_TABLE, seed=2)


@pytest.fixture(scope="module")
def release_ckpt(tmp_path_factory, release_values):
    d = tmp_path_factory.mktemp("release")
    return _write(str(d / "model.ckpt-1000"), release_values)


def test_tables_are_the_canonical_layout():
    slim = [n for n, _ in SLIM_TABLE if "Logits" not in n]
    assert slim == iw.slim_variable_names()
    assert len(slim) == 376 and len(SLIM_TABLE) == 388
    assert [n for n, _ in RELEASE_TABLE] == iw.release_variable_names()
    assert len(RELEASE_TABLE) == 188


def test_keras_layers_in_creation_order(backbone):
    convs = iw.keras_convs(backbone)
    assert len(convs) == 94
    # auto-generated numbers are creation order (offset by whatever the
    # process built before): the mapping must follow it
    nums = [int(m.group(1)) if (m := re.search(r"_(\d+)$", c.conv.name)) else 0 for c in convs]
    assert nums == sorted(nums) and len(set(nums)) == 94
    # every Keras kernel has the shape of its slim and release counterpart
    slim_shapes = dict(SLIM_TABLE)
    release_shapes = dict(RELEASE_TABLE)
    for spec, kc in zip(iw.conv_specs(), convs):
        assert spec.block == kc.block
        shape = tuple(kc.conv.kernel.shape)
        assert slim_shapes[f"InceptionV3/{spec.slim}/weights"] == shape, spec
        assert release_shapes[f"image_encoder/{spec.release}/weights"] == shape, spec
        assert kc.bn.epsilon == pytest.approx(1e-3) and kc.bn.gamma is None


def test_slim_checkpoint(backbone, slim_ckpt, slim_values, capsys):
    names = _ckpt_names(slim_ckpt)
    assert names == {n for n, _ in SLIM_TABLE} | {
        "global_step",
        "InceptionV3/Conv2d_1a_3x3/weights/Adam",
    }

    n = iw.load_inception_weights(backbone, slim_ckpt)
    assert n == 376
    out = capsys.readouterr().out
    assert f"loaded 376 tensors from {slim_ckpt} (tf-slim)" in out
    assert "ignored 14 other" in out  # 12 (aux) logits + global_step + Adam slot

    v = slim_values
    first = [x for x in backbone.layers if isinstance(x, keras.layers.Conv2D)][0]
    assert _producer(first.input) is backbone.layers[0]
    np.testing.assert_array_equal(first.kernel.numpy(), v["InceptionV3/Conv2d_1a_3x3/weights"])

    # mixed7 = Mixed_6e: concat inputs are [branch1x1, branch7x7, branch7x7dbl, branch_pool]
    mixed7 = backbone.get_layer("mixed7")
    conv, bn = _conv_bn_of(mixed7.input[3])
    s = "InceptionV3/Mixed_6e/Branch_3/Conv2d_0b_1x1"
    np.testing.assert_array_equal(bn.beta.numpy(), v[f"{s}/BatchNorm/beta"])
    np.testing.assert_array_equal(bn.moving_mean.numpy(), v[f"{s}/BatchNorm/moving_mean"])
    np.testing.assert_array_equal(bn.moving_variance.numpy(), v[f"{s}/BatchNorm/moving_variance"])
    np.testing.assert_array_equal(conv.kernel.numpy(), v[f"{s}/weights"])
    conv, bn = _conv_bn_of(mixed7.input[2])  # last of the 5-conv branch (same shape as Branch_1's)
    s = "InceptionV3/Mixed_6e/Branch_2/Conv2d_0e_1x7"
    np.testing.assert_array_equal(bn.beta.numpy(), v[f"{s}/BatchNorm/beta"])
    np.testing.assert_array_equal(conv.kernel.numpy(), v[f"{s}/weights"])

    # mixed10 = Mixed_7c: branch_pool conv, and the 3x1 conv closing branch3x3dbl
    mixed10 = backbone.get_layer("mixed10")
    conv, _ = _conv_bn_of(mixed10.input[3])
    np.testing.assert_array_equal(
        conv.kernel.numpy(), v["InceptionV3/Mixed_7c/Branch_3/Conv2d_0b_1x1/weights"]
    )
    dbl = _producer(mixed10.input[2])
    assert isinstance(dbl, keras.layers.Concatenate)
    conv, bn = _conv_bn_of(dbl.input[1])
    s = "InceptionV3/Mixed_7c/Branch_2/Conv2d_0d_3x1"
    np.testing.assert_array_equal(conv.kernel.numpy(), v[f"{s}/weights"])
    np.testing.assert_array_equal(bn.moving_mean.numpy(), v[f"{s}/BatchNorm/moving_mean"])

    # every one of the 376 tensors
    for spec, kc in zip(iw.conv_specs(), iw.keras_convs(backbone)):
        s = f"InceptionV3/{spec.slim}"
        np.testing.assert_array_equal(kc.conv.kernel.numpy(), v[f"{s}/weights"])
        np.testing.assert_array_equal(kc.bn.beta.numpy(), v[f"{s}/BatchNorm/beta"])
        np.testing.assert_array_equal(
            kc.bn.moving_variance.numpy(), v[f"{s}/BatchNorm/moving_variance"]
        )


def test_slim_checkpoint_directory(backbone, slim_ckpt, slim_values):
    backbone.layers[1].kernel.assign(np.zeros((3, 3, 3, 32), np.float32))
    assert iw.load_inception_weights(backbone, os.path.dirname(slim_ckpt)) == 376
    np.testing.assert_array_equal(
        backbone.layers[1].kernel.numpy(), slim_values["InceptionV3/Conv2d_1a_3x3/weights"]
    )


def test_release_checkpoint(backbone, release_ckpt, release_values, capsys):
    assert _ckpt_names(release_ckpt) == {n for n, _ in RELEASE_TABLE}
    assert iw.load_inception_weights(backbone, release_ckpt) == 188
    assert (
        f"loaded 188 tensors from {release_ckpt} (stickerchat-release)" in capsys.readouterr().out
    )
    v = release_values
    for spec, kc in zip(iw.conv_specs(), iw.keras_convs(backbone)):
        s = f"image_encoder/{spec.release}"
        np.testing.assert_array_equal(kc.conv.kernel.numpy(), v[f"{s}/weights"])
        np.testing.assert_array_equal(kc.bn.beta.numpy(), v[f"{s}/biases"])
        np.testing.assert_array_equal(kc.bn.moving_mean.numpy(), 0.0)
        np.testing.assert_allclose(kc.bn.moving_variance.numpy(), 1.0 - kc.bn.epsilon)

    mixed7 = backbone.get_layer("mixed7")  # = mixed_17x17x768e
    _, bn = _conv_bn_of(mixed7.input[2])
    np.testing.assert_array_equal(
        bn.beta.numpy(), v["image_encoder/mixed_17x17x768e/branch7x7dbl/Conv_4/biases"]
    )
    dbl = _producer(backbone.get_layer("mixed10").input[2])
    conv, _ = _conv_bn_of(dbl.input[1])
    np.testing.assert_array_equal(
        conv.kernel.numpy(), v["image_encoder/mixed_8x8x2048b/branch3x3dbl/Conv_3/weights"]
    )

    # inference-mode BN is exactly "+ bias": first layer vs conv + bias + relu
    kc = iw.keras_convs(backbone)[0]
    x = np.random.default_rng(3).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32)
    got = tf.nn.relu(kc.bn(kc.conv(x), training=False)).numpy()
    ref = tf.nn.relu(
        tf.nn.conv2d(x, v["image_encoder/conv0/weights"], strides=2, padding="VALID")
        + v["image_encoder/conv0/biases"]
    ).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_release_checkpoint_under_outer_scope(backbone, tmp_path, release_values, capsys):
    values = {f"srs/{k}": val for k, val in release_values.items()}
    values["srs/utterance_encoder/embedding"] = np.zeros((10, 4), np.float32)
    values["srs/image_encoder/conv0/weights/Adam_1"] = np.zeros((3, 3, 3, 32), np.float32)
    prefix = _write(str(tmp_path / "model.ckpt-7"), values)
    assert iw.load_inception_weights(backbone, prefix) == 188
    assert "ignored 2 other" in capsys.readouterr().out
    kc = iw.keras_convs(backbone)[93]
    np.testing.assert_array_equal(
        kc.bn.beta.numpy(), release_values["image_encoder/mixed_8x8x2048b/branch_pool/Conv/biases"]
    )


def test_release_layout_with_batch_norm_and_no_scope(backbone, tmp_path):
    # the release network built with batch norm (old slim ops) and no outer scope
    values = {}
    rng = np.random.default_rng(4)
    for spec, kc in zip(iw.conv_specs(), iw.keras_convs(backbone)):
        values[f"{spec.release}/weights"] = rng.standard_normal(kc.conv.kernel.shape).astype(
            np.float32
        )
        n = kc.bn.beta.shape[0]
        for part in ("beta", "moving_mean", "moving_variance"):
            values[f"{spec.release}/BatchNorm/{part}"] = rng.uniform(0.5, 1, n).astype(np.float32)
    prefix = _write(str(tmp_path / "model.ckpt"), values)
    assert iw.load_inception_weights(backbone, prefix) == 376
    kc = iw.keras_convs(backbone)[40]
    spec = iw.conv_specs()[40]
    np.testing.assert_array_equal(
        kc.bn.moving_variance.numpy(), values[f"{spec.release}/BatchNorm/moving_variance"]
    )


def test_missing_variable_is_named(backbone, tmp_path, slim_values, release_values):
    before = backbone.layers[1].kernel.numpy().copy()
    # only the first conv: the second conv's kernel is missing
    part = {k: v for k, v in slim_values.items() if "Conv2d_1a_3x3" in k}
    prefix = _write(str(tmp_path / "slim_part.ckpt"), part)
    with pytest.raises(ValueError, match=r"InceptionV3/Conv2d_2a_3x3/weights is missing") as e:
        iw.load_inception_weights(backbone, prefix)
    assert "stem conv #1" in str(e.value)
    np.testing.assert_array_equal(backbone.layers[1].kernel.numpy(), before)  # nothing assigned

    # a deep one: everything but one moving variance in Mixed_6e
    gone = "InceptionV3/Mixed_6e/Branch_2/Conv2d_0e_1x7/BatchNorm/moving_variance"
    prefix = _write(
        str(tmp_path / "slim_gap.ckpt"), {k: v for k, v in slim_values.items() if k != gone}
    )
    with pytest.raises(ValueError, match=re.escape(gone)) as e:
        iw.load_inception_weights(backbone, prefix)
    assert "mixed7" in str(e.value)

    part = {"image_encoder/conv0/weights": release_values["image_encoder/conv0/weights"]}
    prefix = _write(str(tmp_path / "release_part.ckpt"), part)
    with pytest.raises(ValueError, match=r"image_encoder/conv0/biases is missing"):
        iw.load_inception_weights(backbone, prefix)


def test_shape_mismatch_is_named(backbone, tmp_path, slim_values):
    part = {k: v for k, v in slim_values.items() if "Conv2d_1a_3x3" in k}
    part["InceptionV3/Conv2d_1a_3x3/weights"] = np.zeros((3, 3, 3, 16), np.float32)
    prefix = _write(str(tmp_path / "bad.ckpt"), part)
    with pytest.raises(
        ValueError,
        match=r"shape mismatch: checkpoint variable "
        r"InceptionV3/Conv2d_1a_3x3/weights .*\[3, 3, 3, 16\]",
    ) as e:
        iw.load_inception_weights(backbone, prefix)
    assert backbone.layers[1].name in str(e.value)


def test_foreign_or_mixed_checkpoints(backbone, tmp_path):
    prefix = _write(str(tmp_path / "other.ckpt"), {"dense/kernel": np.zeros((2, 2), np.float32)})
    with pytest.raises(ValueError, match="holds no InceptionV3 variables"):
        iw.load_inception_weights(backbone, prefix)
    prefix = _write(
        str(tmp_path / "both.ckpt"),
        {
            "InceptionV3/Conv2d_1a_3x3/weights": np.zeros((3, 3, 3, 32), np.float32),
            "image_encoder/conv0/weights": np.zeros((3, 3, 3, 32), np.float32),
        },
    )
    with pytest.raises(ValueError, match="both TF-Slim"):
        iw.load_inception_weights(backbone, prefix)
    with pytest.raises(FileNotFoundError):
        iw.load_inception_weights(backbone, str(tmp_path / "nothing.ckpt"))


def test_keras_h5_round_trip(backbone, tmp_path, capsys):
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    src = keras.applications.InceptionV3(
        include_top=False, weights=None, input_shape=(SIZE, SIZE, 3)
    )
    rng = np.random.default_rng(5)
    for w in src.weights:  # non-trivial BN statistics too
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
        elif "moving_mean" in w.path or "beta" in w.path:
            w.assign(rng.uniform(-0.1, 0.1, w.shape).astype(np.float32))
    x = rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32)
    want = src(x, training=False).numpy()

    keras3 = str(tmp_path / "src.weights.h5")
    src.save_weights(keras3)
    legacy = str(tmp_path / "legacy_notop.h5")  # the Keras 2 layout of Keras' notop file
    with h5py.File(legacy, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, src)
    renamed = str(tmp_path / "keras3_named_plainly.h5")
    os.link(keras3, renamed)

    for path in (keras3, legacy, renamed):
        for w in backbone.weights:
            w.assign(np.zeros(w.shape, np.float32))
        assert iw.load_inception_weights(backbone, path) == len(src.weights) == 376
        assert f"loaded 376 tensors from {path} (keras-h5)" in capsys.readouterr().out
        np.testing.assert_allclose(backbone(x, training=False).numpy(), want, rtol=1e-5, atol=1e-5)

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    bad = str(tmp_path / "dense.weights.h5")
    other.save_weights(bad)
    with pytest.raises(ValueError, match="could not load Keras weights"):
        iw.load_inception_weights(backbone, bad)
