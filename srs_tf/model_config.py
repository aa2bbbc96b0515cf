"""Configuration of the SRS model: one dataclass with the paper's defaults.

Paper §6.4: embedding 100, hidden 100, batch 32, 10 candidates, 30 words per
utterance, Adam 1e-4. Context length 15 is the release code's default (RQ3
varies it from 3 to 20). Every field is a plain Python value so the config
round-trips through JSON (``to_dict`` / ``from_dict``) and is stored with
checkpoints, TFRecords and exports.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

ABLATIONS = ("none", "no_pretrain", "no_classify", "no_din", "no_fr")

# `bin/train --model=`: SRS and the Table 3 baselines (docs/BASELINES.md).
ARCHITECTURES = ("srs", "smn", "dam", "mrfn", "psac", "synergistic")
# Ablations that remove an SRS component; the others apply to every model.
SRS_ONLY_ABLATIONS = ("no_din", "no_fr")

# The data-shape defaults, shared by the model, the TFRecords writer, the
# benchmarks and the scores files (one home for each).
CONTEXT_LEN = 15  # turns read (release code default)
MAX_WORDS = 30  # words per utterance (paper §6.4)
NUM_CANDIDATES = 10  # ground truth + 9 same-set negatives (paper §6.4)


@dataclasses.dataclass
class SRSConfig:
    """Hyper-parameters of the SRS model (docs/DESIGN.md#model-contract).

    Attributes:
      vocab_size: word vocabulary size including the reserved ``[PAD]`` (0)
        and ``[UNK]`` (1) ids.
      emoji_vocab_size: emoji vocabulary size including ``[PAD]``/``[UNK]``;
        the emoji classifier predicts one of these ids.
      emb_dim: word embedding size (paper: 100).
      hidden_dim: hidden size of every layer after the embeddings (paper: 100).
      context_len: number of utterances kept, the most recent ones (15).
      max_words: words kept per utterance (paper: 30).
      num_candidates: candidate stickers per example (paper: 10).
      image_size: sticker side in pixels (paper: 128).
      dropout: dropout rate of eq. 5 (0.1).
      margin: hinge-loss margin of eq. 17.
      ablation: one of ``ABLATIONS`` (Table 2).
      architecture: the matcher, one of ``ARCHITECTURES``: ``srs`` or a
        Table 3 baseline (docs/BASELINES.md); ``bin/train --model``.
      inception_weights: ``"imagenet"`` (default: the paper initialises
        from a pretrained Inception-v3, §6.2; Keras' file from the Keras cache;
        srs_tf never downloads it), ``"none"`` (random
        init) or a path to a Keras ``.h5``, a TF-Slim ``inception_v3.ckpt``
        or the StickerChat release checkpoint. Code that restores every
        weight from a checkpoint does not read it
        (``srs_tf.restore.restore_model``).
    """

    vocab_size: int = 20000
    emoji_vocab_size: int = 64
    emb_dim: int = 100
    hidden_dim: int = 100
    context_len: int = CONTEXT_LEN
    max_words: int = MAX_WORDS
    num_candidates: int = NUM_CANDIDATES
    image_size: int = 128
    dropout: float = 0.1
    margin: float = 0.1
    ablation: str = "none"
    architecture: str = "srs"
    inception_weights: str = "imagenet"

    def __post_init__(self):
        if self.ablation not in ABLATIONS:
            raise ValueError(f"ablation={self.ablation!r} is not one of {', '.join(ABLATIONS)}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"model={self.architecture!r} is not one of {', '.join(ARCHITECTURES)}"
            )
        if self.architecture != "srs" and self.ablation in SRS_ONLY_ABLATIONS:
            raise ValueError(
                f"ablation={self.ablation!r} removes a part of SRS; model={self.architecture!r} "
                f"accepts only {', '.join(a for a in ABLATIONS if a not in SRS_ONLY_ABLATIONS)}"
            )
        for name in (
            "vocab_size",
            "emoji_vocab_size",
            "emb_dim",
            "hidden_dim",
            "context_len",
            "max_words",
            "num_candidates",
            "image_size",
        ):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    @property
    def pretrained(self) -> bool:
        """True when the sticker encoder starts from pretrained weights."""
        return self.ablation != "no_pretrain" and self.inception_weights not in ("", "none", None)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SRSConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SRSConfig fields: {', '.join(unknown)}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SRSConfig:
        return cls.from_dict(json.loads(text))


def uses_emoji_loss(config: SRSConfig) -> bool:
    """Whether the emoji loss L_s (and its warm-up) is part of training."""
    return config.ablation != "no_classify"
