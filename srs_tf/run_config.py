"""The configuration of a run: one dataclass, filled from `bin/train`'s flags
and saved as ``RUN/config.json``; training, evaluation and serving read it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from srs_tf.model_config import SRSConfig, uses_emoji_loss

STRATEGIES = ("default", "mirrored", "multi_worker")
STICKER_ENCODER_MODES = ("finetune", "frozen", "upper")
LR_SCHEDULES = ("constant", "polynomial")


@dataclasses.dataclass
class TrainConfig:
    """How to train SRS (docs/DESIGN.md#learning, docs/DESIGN.md#training-runs).

    Attributes:
      data_dir: TFREC directory written by `bin/make_tfrecords`.
      model_dir: run directory (checkpoints, best checkpoint, logs).
      model: the model's hyper-parameters; `vocab_size`, `emoji_vocab_size`,
        `context_len` and `max_words` are taken from the TFREC metadata
        (`context_len` from `context_turns` when that is set).
      context_turns: read only the last N utterances of each context (0 = all
        that the TFRecords store); Figure 7 (RQ3) trains and evaluates with
        N = 3, 5, 7, ...
      batch_size: examples per step (paper: 32), global over all replicas.
      learning_rate: Adam's learning rate (paper: 1e-4).
      lr_schedule: "constant" (paper) or "polynomial" (release code: linear
        decay to `end_learning_rate` over `decay_epochs` epochs).
      end_learning_rate: final rate of the polynomial decay (release: 1e-5).
      decay_epochs: epochs over which the polynomial decay runs (release: 5).
      train_steps: joint-training steps after the warm-up; 0 = use `epochs`.
      epochs: passes over the training split when `train_steps` is 0.
      emoji_warmup_steps: steps in which only the emoji loss L_s trains the
        sticker encoder (release code: 1000). Ignored for `no_classify`.
      warmup_batch_size: stickers per warm-up step (default 32 x 10, the
        number of candidate images of a joint step).
      sticker_encoder: "finetune" (paper) trains Inception jointly;
        "frozen" encodes the sticker bank once after the warm-up and trains
        only the rest of SRS (fast CPU mode); "upper" caches the lower
        Inception blocks once per sticker, lets the warm-up train the blocks
        from `upper_from` on (and the emoji head) on the cache, then trains
        the rest of SRS as "frozen" does (srs_tf.training.upper_blocks).
      upper_from: first Inception block trained in the "upper" mode
        (mixed4 .. mixed8: the region map O, mixed7, is computed from the cache).
      eval_every: validate every this many joint steps (0 = once per epoch).
      eval_examples: cap on validation examples per validation (0 = all).
      checkpoint_every: save a resumable checkpoint every this many steps.
      max_checkpoints: resumable checkpoints kept (the best one is kept apart).
      log_every: print progress and write scalar summaries every N steps.
      negatives: "random" (paper) or "first" (release code's first 9 others).
      strategy: "default" (one device), "mirrored" (all local GPUs) or
        "multi_worker" (TF_CONFIG).
      mixed_precision: float16 compute on GPUs; losses and softmax in float32.
      seed: seeds weights, negatives and shuffling; same seed on CPU gives
        identical metrics.
      preset: the `bin/train --preset` these values were resolved from
        ("" = none, the defaults above; srs_tf.training.presets). A record
        only: the other fields hold the resolved values.
    """

    data_dir: str = ""
    model_dir: str = ""
    model: SRSConfig = dataclasses.field(default_factory=SRSConfig)
    context_turns: int = 0
    batch_size: int = 32
    learning_rate: float = 1e-4
    lr_schedule: str = "constant"
    end_learning_rate: float = 1e-5
    decay_epochs: float = 5.0
    train_steps: int = 0
    epochs: float = 1.0
    emoji_warmup_steps: int = 1000
    warmup_batch_size: int = 320
    sticker_encoder: str = "finetune"
    upper_from: str = "mixed8"
    eval_every: int = 0
    eval_examples: int = 0
    checkpoint_every: int = 200
    log_every: int = 50
    negatives: str = "random"
    strategy: str = "default"
    mixed_precision: bool = False
    seed: int = 1234
    max_checkpoints: int = 3
    preset: str = ""

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = SRSConfig.from_dict(self.model)
        checks = [
            ("strategy", self.strategy, STRATEGIES),
            ("sticker_encoder", self.sticker_encoder, STICKER_ENCODER_MODES),
            ("lr_schedule", self.lr_schedule, LR_SCHEDULES),
            ("negatives", self.negatives, ("random", "first")),
        ]
        for name, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"--{name}={value!r} is not one of {', '.join(allowed)}")
        from srs_tf.model.sticker_encoder import UPPER_FROM_CHOICES

        if self.upper_from not in UPPER_FROM_CHOICES:
            raise ValueError(
                f"--upper_from={self.upper_from!r} is not one of {', '.join(UPPER_FROM_CHOICES)}"
            )
        for name in ("batch_size", "warmup_batch_size", "checkpoint_every", "log_every"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"--{name} must be positive, got {getattr(self, name)!r}")
        for name in (
            "train_steps",
            "emoji_warmup_steps",
            "eval_every",
            "eval_examples",
            "context_turns",
        ):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"--{name} must be >= 0, got {getattr(self, name)!r}")
        if self.train_steps == 0 and self.epochs <= 0:
            raise ValueError("give --train_steps > 0 or --epochs > 0")
        if self.learning_rate <= 0:
            raise ValueError(f"--learning_rate must be positive, got {self.learning_rate!r}")

    @property
    def warmup_steps(self) -> int:
        """Warm-up steps actually run (none without the emoji loss)."""
        return int(self.emoji_warmup_steps) if uses_emoji_loss(self.model) else 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        values = dict(values)
        values["model"] = SRSConfig.from_dict(values.get("model", {}))
        return cls(**values)


def configure_model(config: TrainConfig, meta: dict) -> TrainConfig:
    """Fills the model fields that the TFREC metadata fixes.

    Raises:
      ValueError: `context_turns` is more than the TFRecords store.
    """
    stored = int(meta["context_len"])
    if config.context_turns > stored:
        raise ValueError(
            f"--context_turns={config.context_turns}: the TFRecords in {config.data_dir} store "
            f"at most {stored} utterances per context (bin/make_tfrecords --context_len; a "
            "--preset may set context_turns: --context_turns=0 reads all that are stored)"
        )
    model = dataclasses.replace(
        config.model,
        vocab_size=int(meta["vocab_size"]),
        emoji_vocab_size=int(meta["emoji_vocab_size"]),
        context_len=config.context_turns or stored,
        max_words=int(meta["max_words"]),
        num_candidates=int(meta.get("num_candidates", config.model.num_candidates)),
        image_size=int(meta.get("image_size", config.model.image_size)),
    )
    return dataclasses.replace(config, model=model)
