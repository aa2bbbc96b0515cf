"""TrimWords / PadWords: dropping batch-wide padding columns changes no result."""

import numpy as np
from layer_refs import assert_round_trip


def test_trim_words_keeps_up_to_the_last_real_column():
    from srs_tf.model.word_trim import TrimWords

    ids = np.zeros((2, 3, 6), "int32")
    ids[0, 1, :2] = [4, 5]
    ids[1, 2, :4] = [7, 8, 9, 3]
    out = np.asarray(TrimWords()(ids))
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, ids[:, :, :4])
    assert np.asarray(TrimWords()(np.zeros((1, 2, 5), "int32"))).shape == (1, 2, 1)


def test_pad_words_pads_with_zeros_to_the_reference_width():
    from srs_tf.model.word_trim import PadWords

    values = np.random.default_rng(0).random((2, 3, 4, 2)).astype("float32")
    out = np.asarray(PadWords()(values, np.zeros((2, 4, 7), "int32")))
    assert out.shape == (2, 3, 4, 7)
    np.testing.assert_array_equal(out[..., :2], values)
    assert not out[..., 2:].any()


def test_layers_round_trip_through_their_config():
    from srs_tf.model.word_trim import PadWords, TrimWords

    for cls in (TrimWords, PadWords):
        layer = cls(name="x")
        assert cls.from_config(layer.get_config()).name == "x"


def test_layers_get_config_round_trip_with_equal_outputs():
    from srs_tf.model.word_trim import PadWords, TrimWords

    ids = np.zeros((2, 3, 6), "int32")
    ids[1, 0, :3] = [4, 5, 6]
    clone = assert_round_trip(TrimWords(name="trim"), ids)
    assert clone.name == "trim"
    values = np.random.default_rng(2).random((2, 3, 3)).astype("float16")
    clone = assert_round_trip(PadWords(name="pad"), values, ids)
    assert clone.name == "pad"
    assert np.asarray(clone(values, ids)).dtype == np.float16  # no autocast


def test_matcher_scores_do_not_depend_on_the_batch_padding_width():
    """An example scored alone (few columns kept) and beside a long utterance
    (all columns kept) gets the same scores and word attention."""
    from srs_tf.model.srs import build_matcher
    from srs_tf.model_config import SRSConfig

    config = SRSConfig(
        vocab_size=40,
        emoji_vocab_size=5,
        emb_dim=8,
        hidden_dim=8,
        context_len=3,
        max_words=6,
        inception_weights="none",
    )
    matcher = build_matcher(config)
    rng = np.random.default_rng(1)
    ids = np.zeros((2, 3, 6), "int32")
    ids[0, :2, :2] = rng.integers(2, 40, (2, 2))
    ids[1, :3, :6] = rng.integers(2, 40, (3, 6))
    batch = {
        "context_ids": ids,
        "num_turns": np.array([2, 3], "int32"),
        "sticker_regions": rng.random((2, 4, 36, 768)).astype("float32"),
        "sticker_flat": rng.random((2, 4, 2048)).astype("float32"),
    }
    both = matcher(batch)
    alone = matcher({k: v[:1] for k, v in batch.items()})
    np.testing.assert_allclose(alone["scores"], both["scores"][:1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(alone["word_attention"], both["word_attention"][:1], atol=1e-6)
    assert alone["word_attention"].shape == (1, 4, 3, 6)
