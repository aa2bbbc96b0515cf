"""srs_tf.restore: a run directory back to (model, config, step)."""

import json

import numpy as np
import pytest
import tensorflow as tf
from model_helpers import calibrated_model

from srs_tf.model_config import SRSConfig
from srs_tf.restore import load_run_config, restore_model
from srs_tf.run_config import TrainConfig

CFG = SRSConfig(
    vocab_size=40,
    emoji_vocab_size=6,
    emb_dim=8,
    hidden_dim=8,
    context_len=3,
    max_words=5,
    num_candidates=4,
    inception_weights="none",
)


def _write_run(root, best_step=None, last_step=None):
    """A TFREC meta.json and a run directory holding `model`'s weights in
    RUN/best (and/or RUN/ckpt) at the given steps."""
    tfrec, run = root / "tfrec", root / "run"
    tfrec.mkdir()
    run.mkdir()
    meta = {
        "vocab_size": CFG.vocab_size,
        "emoji_vocab_size": CFG.emoji_vocab_size,
        "context_len": CFG.context_len,
        "max_words": CFG.max_words,
        "num_candidates": CFG.num_candidates,
        "train_examples": 8,
    }
    (tfrec / "meta.json").write_text(json.dumps(meta))
    config = TrainConfig(data_dir=str(tfrec), model_dir=str(run), model=CFG, train_steps=1)
    (run / "config.json").write_text(config.to_json())
    model = calibrated_model(CFG, seed=3)
    for directory, step in (("best", best_step), ("ckpt", last_step)):
        if step is None:
            continue
        counter = tf.Variable(step, dtype=tf.int64)
        checkpoint = tf.train.Checkpoint(
            encoder=model.get_layer("sticker_encoder"),
            matcher=model.get_layer("matcher"),
            step=counter,
        )
        checkpoint.save(str(run / directory / "ckpt"))
    return tfrec, run, model


def _assert_same_weights(a, b):
    # trainable and non-trainable (batch-norm statistics) weights alike
    assert len(a.weights) == len(b.weights)
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=x.path)


def test_restore_model_returns_the_best_checkpoint(tmp_path):
    tfrec, run, saved = _write_run(tmp_path, best_step=5, last_step=9)
    model, config, step = restore_model(str(run))
    assert step == 5  # the best checkpoint wins over the newer one
    assert config.model_dir == str(run) and config.data_dir == str(tfrec)
    assert config.model.vocab_size == CFG.vocab_size and not config.mixed_precision
    _assert_same_weights(model, saved)
    # and the restored model scores like the saved one
    rng = np.random.default_rng(0)
    batch = {
        "context_ids": rng.integers(0, CFG.vocab_size, (2, 3, 5)).astype("int32"),
        "num_turns": np.array([3, 1], "int32"),
        "candidates": rng.integers(0, 256, (2, 4, 128, 128, 3), dtype=np.uint8),
    }
    np.testing.assert_allclose(
        model(batch, training=False)["scores"].numpy(),
        saved(batch, training=False)["scores"].numpy(),
        atol=1e-6,
    )


def test_restore_model_falls_back_to_the_newest_checkpoint(tmp_path):
    _, run, saved = _write_run(tmp_path, last_step=9)
    model, _, step = restore_model(str(run))
    assert step == 9
    _assert_same_weights(model, saved)


def test_restore_model_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a bin/train run directory"):
        load_run_config(str(tmp_path))
    tfrec, run, _ = _write_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        restore_model(str(run))
    config = json.loads((run / "config.json").read_text())
    config["data_dir"] = str(tmp_path / "gone")
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(FileNotFoundError, match="pass --data_dir"):
        restore_model(str(run))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        restore_model(str(run), data_dir=str(tfrec))
