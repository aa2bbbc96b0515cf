"""Named training presets (README, "The pipeline, step by step"): `bin/train --preset=paper|cpu`.

A preset is a dict of `TrainConfig` field overrides, model (`SRSConfig`)
fields nested under ``"model"``. `resolve` layers three levels, later ones
winning: the dataclass defaults, the preset, the explicitly given values.

    >>> config = resolve("cpu", {"train_steps": 50, "model": {"hidden_dim": 16}})
    >>> config.preset, config.sticker_encoder, config.train_steps, config.model.hidden_dim
    ('cpu', 'upper', 50, 16)

Presets hold no paths or data-specific values: both apply to any
release-format TFREC directory.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from srs_tf.model_config import SRSConfig
from srs_tf.run_config import TrainConfig

PRESETS: dict[str, dict[str, Any]] = {
    # The paper's setting (§6.2, §6.4): Inception-v3 from ImageNet, fine-tuned
    # jointly, after the release code's 1000-step emoji warm-up; Adam 1e-4.
    "paper": {
        "sticker_encoder": "finetune",
        "emoji_warmup_steps": 1000,
        "learning_rate": 1e-4,
        "model": {"inception_weights": "imagenet"},
    },
    # What `make demo` trains with on a 2-core CPU: the lower Inception blocks
    # cached once per sticker, the warm-up trains mixed8 on, then the matcher
    # reads the last 3 utterances (Figure 7's N = 3; a 3-turn matcher step
    # costs about a third of a 15-turn one, so 2,000 steps fit where 500 did;
    # docs/FIDELITY.md, "utterances read by the CPU preset").
    "cpu": {
        "sticker_encoder": "upper",
        "upper_from": "mixed8",
        "emoji_warmup_steps": 150,
        "warmup_batch_size": 64,
        "context_turns": 3,
        "train_steps": 2000,
        "learning_rate": 3e-4,
        "eval_every": 500,
        "eval_examples": 1000,
        "log_every": 100,
        "checkpoint_every": 250,
        "model": {"inception_weights": "imagenet"},
    },
}

# Names that mean "no preset" (the dataclass defaults).
NO_PRESET = (None, "", "none")

_TRAIN_FIELDS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("model", "preset")
)
_MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(SRSConfig))


def train_fields() -> tuple:
    """TrainConfig fields a preset or an explicit value may set (not ``model``, ``preset``)."""
    return _TRAIN_FIELDS


def model_fields() -> tuple:
    """SRSConfig fields, set under ``"model"``."""
    return _MODEL_FIELDS


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``{field: value}`` (flag names = field names) -> the nested override layout.

    ``{"batch_size": 8, "hidden_dim": 16}`` -> ``{"batch_size": 8, "model": {"hidden_dim": 16}}``.

    Raises:
      ValueError: a name that is neither a TrainConfig nor an SRSConfig field.
    """
    out: dict[str, Any] = {}
    for name, value in flat.items():
        if name in _TRAIN_FIELDS:
            out[name] = value
        elif name in _MODEL_FIELDS:
            out.setdefault("model", {})[name] = value
        else:
            raise ValueError(f"{name!r} is neither a TrainConfig nor an SRSConfig field")
    return out


def _check_keys(overrides: Mapping[str, Any], what: str) -> None:
    unknown = sorted(set(overrides) - set(_TRAIN_FIELDS) - {"model"})
    if unknown:
        raise ValueError(f"{what}: unknown TrainConfig fields: {', '.join(unknown)}")
    model = overrides.get("model", {})
    if not isinstance(model, Mapping):
        raise ValueError(f"{what}: 'model' must be a dict of SRSConfig fields, got {model!r}")
    unknown = sorted(set(model) - set(_MODEL_FIELDS))
    if unknown:
        raise ValueError(f"{what}: unknown SRSConfig fields: {', '.join(unknown)}")


def _merge(values: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for name, value in overrides.items():
        if name == "model":
            values["model"].update(value)
        else:
            values[name] = value


def preset_name(preset: str | None) -> str:
    """The canonical name ("" for no preset); a clear ValueError for an unknown one."""
    if preset in NO_PRESET:
        return ""
    if preset not in PRESETS:
        raise ValueError(
            f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)} "
            "(or none for the defaults)"
        )
    return str(preset)


def resolve(preset: str | None, explicit: Mapping[str, Any] | None = None) -> TrainConfig:
    """The TrainConfig of ``preset`` with ``explicit`` values on top.

    Args:
      preset: a key of ``PRESETS``, or None / "" / "none" for the dataclass
        defaults alone.
      explicit: values given explicitly (e.g. flags the user passed), in the
        nested layout of ``PRESETS`` (see ``nest``); they override the preset.

    Returns:
      A validated TrainConfig whose ``preset`` field records the preset name
      ("" for none).

    Raises:
      ValueError: an unknown preset or field, or a value TrainConfig/SRSConfig
        refuses.
    """
    name = preset_name(preset)
    explicit = dict(explicit or {})
    _check_keys(explicit, "explicit values")
    values = TrainConfig().to_dict()
    values.pop("preset", None)
    if name:
        _check_keys(PRESETS[name], f"preset {name!r}")
        _merge(values, copy.deepcopy(PRESETS[name]))
    _merge(values, explicit)
    return TrainConfig.from_dict({**values, "preset": name})
