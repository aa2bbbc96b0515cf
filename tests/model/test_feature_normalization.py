"""StickerFeatureNormalization: ``y = (x - mean) * inv_std`` per channel, with
non-trainable statistics set by ``set_statistics`` (identity by default)."""

import numpy as np
from layer_refs import assert_round_trip

from srs_tf.model import StickerFeatureNormalization


def np_normalize(x, mean, std, epsilon=1e-3):
    """Per-channel standardisation of the last axis, written out per channel."""
    out = np.empty(x.shape, np.float64)
    for d in range(x.shape[-1]):
        out[..., d] = (x[..., d] - mean[d]) / (std[d] + epsilon)
    return out


def _features(seed=0, shape=(2, 3, 4, 5)):
    rng = np.random.default_rng(seed)
    return rng.normal(2.0, 3.0, size=shape).astype(np.float32)


def test_identity_until_statistics_are_set():
    x = _features()
    layer = StickerFeatureNormalization()
    out = layer(x).numpy()
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(layer.mean.numpy(), np.zeros(5))
    np.testing.assert_array_equal(layer.inv_std.numpy(), np.ones(5))


def test_matches_numpy_per_channel_standardisation():
    rng = np.random.default_rng(1)
    mean = rng.normal(size=5)
    std = rng.uniform(0.5, 2.0, size=5)
    layer = StickerFeatureNormalization()
    layer.build((None, 5))
    layer.set_statistics(mean, std)
    np.testing.assert_allclose(layer.inv_std.numpy(), 1.0 / (std + 1e-3), rtol=1e-6)
    for shape in [(7, 5), (2, 3, 4, 5)]:  # O_flat [N, D] and O [B, C, R, D] alike
        x = _features(seed=2, shape=shape)
        np.testing.assert_allclose(
            layer(x).numpy(), np_normalize(x, mean, std), rtol=1e-5, atol=1e-5
        )
    # Another epsilon; statistics given as [1, D] are flattened.
    layer.set_statistics(mean[None], std[None], epsilon=0.5)
    x = _features(seed=3)
    np.testing.assert_allclose(
        layer(x).numpy(), np_normalize(x, mean, std, epsilon=0.5), rtol=1e-5, atol=1e-5
    )


def test_statistics_of_the_data_standardise_it():
    """Statistics taken from features give them per-channel mean 0, std ~1."""
    x = _features(seed=4, shape=(500, 5)) * np.arange(1, 6, dtype=np.float32)
    layer = StickerFeatureNormalization()
    layer.build(x.shape)
    layer.set_statistics(x.mean(0), x.std(0), epsilon=0.0)
    out = layer(x).numpy()
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-4)


def test_statistics_are_non_trainable_weights():
    layer = StickerFeatureNormalization()
    layer.build((None, 5))
    assert layer.trainable_weights == []
    assert sorted(w.name for w in layer.non_trainable_weights) == ["inv_std", "mean"]
    assert layer.compute_output_shape((None, 9, 5)) == (None, 9, 5)


def test_get_config_round_trips():
    x = _features(seed=5)
    rng = np.random.default_rng(6)
    layer = StickerFeatureNormalization(name="sticker_norm")
    layer.build(x.shape)
    layer.set_statistics(rng.normal(size=5), rng.uniform(0.5, 2.0, size=5))
    clone = assert_round_trip(layer, x)
    assert clone.name == "sticker_norm"
    # The copied statistics are what makes the outputs equal.
    fresh = StickerFeatureNormalization.from_config(layer.get_config())
    assert not np.allclose(fresh(x).numpy(), layer(x).numpy())
