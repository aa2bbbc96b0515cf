"""Loading a trained run: its configuration and its best weights.

Everything that uses a finished ``bin/train`` run (evaluation, export,
recommend, the benchmarks and the experiments) restores it here, so that none
of them needs the training loop.

Example:
    model, config, step = restore_model("runs/demo")
    out = model(batch)                      # the full SRS model (build_srs)
"""

from __future__ import annotations

import json
import os

from srs_tf.run_config import TrainConfig, configure_model

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "ckpt"
BEST_CHECKPOINT_DIR = "best"


def load_run_config(model_dir: str) -> TrainConfig:
    """The TrainConfig a run was trained with (``RUN/config.json``)."""
    path = os.path.join(model_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: --model_dir is not a bin/train run directory")
    with open(path) as f:
        return TrainConfig.from_dict(json.load(f))


def check_model(expected: str | None, found: str, where: str) -> None:
    """Raises a ValueError when ``--model=expected`` was given but ``where``
    (a run or export directory) holds model ``found``; ``None`` = no check."""
    if expected and expected != found:
        raise ValueError(
            f"--model={expected} but {where} holds model {found!r} (omit --model to use it)"
        )


def checkpoint_to_restore(model_dir: str) -> str:
    """The best checkpoint by validation MAP, or the newest one when no
    validation ran."""
    import tensorflow as tf

    path = tf.train.latest_checkpoint(
        os.path.join(model_dir, BEST_CHECKPOINT_DIR)
    ) or tf.train.latest_checkpoint(os.path.join(model_dir, CHECKPOINT_DIR))
    if not path:
        raise FileNotFoundError(f"{model_dir}: no checkpoint (run bin/train first)")
    return path


def restore_model(model_dir: str, data_dir: str = ""):
    """Builds SRS as the run built it and restores its best weights.

    Args:
      model_dir: a ``bin/train`` run directory.
      data_dir: the TFREC directory; default: the one the run was trained on.

    Returns:
      ``(model, config, step)``: the Keras model of ``build_srs`` for the
      run's ``config.model.architecture`` (SRS or a baseline; with the
      ``sticker_encoder`` and ``matcher`` sub-models), the run's TrainConfig
      with ``data_dir`` set and the model fields filled from the TFREC
      metadata, and the restored checkpoint's step.

    The checkpoint holds every weight, so the original Inception weights
    (e.g. the ImageNet file) are not read again; the network is built in the
    batch-norm mode the run used.
    """
    import tensorflow as tf

    from srs_tf.data import pipeline
    from srs_tf.model import build_srs

    config = load_run_config(model_dir)
    config.model_dir = model_dir
    if data_dir:
        config.data_dir = data_dir
    elif not os.path.isdir(config.data_dir):
        raise FileNotFoundError(
            f"{model_dir}: the run was trained on {config.data_dir}, which does not exist "
            "here; pass --data_dir=TFREC"
        )
    config.strategy = "default"
    config.mixed_precision = False
    config = configure_model(config, pipeline.load_meta(config.data_dir))
    model = build_srs(config.model, load_inception_weights=False)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    checkpoint = tf.train.Checkpoint(
        encoder=model.get_layer("sticker_encoder"), matcher=model.get_layer("matcher"), step=step
    )
    checkpoint.restore(checkpoint_to_restore(model_dir)).expect_partial()
    return model, config, int(step.numpy())
