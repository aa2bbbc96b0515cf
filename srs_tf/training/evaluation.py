"""Scoring a trained run on a split (used by `bin/evaluate` in model mode)."""

from __future__ import annotations

import dataclasses
import json
import os

from srs_tf.training.config import TrainConfig


def load_run_config(model_dir: str) -> TrainConfig:
    """The TrainConfig a run was trained with (RUN/config.json)."""
    path = os.path.join(model_dir, "config.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: --model_dir is not a bin/train run directory")
    with open(path) as f:
        return TrainConfig.from_dict(json.load(f))


def load_trainer(model_dir: str, data_dir: str = "", verbose: bool = False):
    """A read-only Trainer with the run's best checkpoint restored."""
    from srs_tf.training.trainer import Trainer

    config = load_run_config(model_dir)
    config.model_dir = model_dir
    if data_dir:
        config.data_dir = data_dir
    elif not os.path.isdir(config.data_dir):
        raise FileNotFoundError(
            f"{model_dir}: the run was trained on {config.data_dir}, which does not exist here; "
            "pass --data_dir=TFREC"
        )
    config.strategy = "default"
    config.mixed_precision = False
    # The checkpoint holds every weight: do not read (or download) the
    # original Inception weights again. Inference runs BN on its moving
    # statistics either way, so scores do not depend on this.
    original = config.model
    config.model = dataclasses.replace(original, inception_weights="none")
    trainer = Trainer(config, verbose=verbose, readonly=True)
    trainer.config.model = dataclasses.replace(
        trainer.config.model, inception_weights=original.inception_weights
    )
    trainer.step_restored = trainer.restore_best()
    return trainer


def score_split(data_dir: str, model_dir: str, split: str = "test", batch_size: int = 32) -> dict:
    """Scores every example of `split` with the run's best checkpoint.

    Returns a dict of numpy arrays: ``scores`` [N, C], ``labels`` [N] (position
    of the ground truth), ``num_turns`` [N], ``candidate_ids`` [N, C] (rows of
    the sticker bank, for the SSIM analysis), and ``bank_images``, the bank's
    uint8 [K, S, S, 3] array, plus ``step``, the checkpoint's step.
    """
    trainer = load_trainer(model_dir, data_dir)
    num_images = int(trainer.meta.get(f"{split}_examples", 0)) * trainer.config.model.num_candidates
    if len(trainer.bank) < num_images:
        # Encoding each bank sticker once is cheaper than encoding every
        # candidate of every example; inference-mode scores are the same.
        trainer.frozen_features = trainer.encode_bank()
    result = trainer.score(split, batch_size=batch_size)
    return {
        "scores": result["scores"],
        "labels": result["label"],
        "num_turns": result["num_turns"],
        "candidate_ids": result["candidate_ids"],
        "bank_images": trainer.bank.images,
        "step": trainer.step_restored,
    }
