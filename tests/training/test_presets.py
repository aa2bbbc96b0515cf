"""Training presets (docs/DESIGN.md#presets): resolution order, overrides, errors,
and the resolved configuration that bin/train prints and saves."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from srs_tf.model_config import SRSConfig
from srs_tf.run_config import TrainConfig
from srs_tf.training import presets

PY = sys.executable
TRAIN = os.path.join(REPO, "bin", "train")


def _env():
    return dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


def test_no_preset_is_the_dataclass_defaults():
    for name in (None, "", "none"):
        config = presets.resolve(name)
        assert config.preset == ""
        assert config == TrainConfig()
    assert TrainConfig().preset == ""


def test_paper_preset():
    config = presets.resolve("paper")
    assert config.preset == "paper"
    assert config.sticker_encoder == "finetune"
    assert config.emoji_warmup_steps == 1000
    assert config.learning_rate == 1e-4
    assert config.model.inception_weights == "imagenet" and config.model.pretrained
    # everything else stays at the defaults
    assert dataclasses.replace(config, preset="") == TrainConfig()


def test_cpu_preset():
    config = presets.resolve("cpu")
    assert config.preset == "cpu"
    want = {k: v for k, v in presets.PRESETS["cpu"].items() if k != "model"}
    # the CPU mode: cached lower blocks, a real warm-up, a finite joint stage
    assert want["sticker_encoder"] == "upper" and want["emoji_warmup_steps"] > 0
    assert want["train_steps"] > 0
    assert {k: getattr(config, k) for k in want} == want
    assert config.model == SRSConfig(inception_weights="imagenet")
    assert config.batch_size == TrainConfig().batch_size


def test_presets_work_on_any_data():
    """No paths or data-specific values; every preset validates as a TrainConfig."""
    for name, values in presets.PRESETS.items():
        assert not {"data_dir", "model_dir", "preset"} & set(values), name
        model = values.get("model", {})
        assert not {"vocab_size", "emoji_vocab_size", "context_len", "max_words"} & set(model)
        presets.resolve(name)


def test_explicit_values_beat_the_preset():
    config = presets.resolve(
        "cpu",
        {
            "train_steps": 7,
            "sticker_encoder": "frozen",
            "model": {"inception_weights": "none", "hidden_dim": 16},
        },
    )
    assert config.preset == "cpu"
    assert (config.train_steps, config.sticker_encoder) == (7, "frozen")
    assert config.model.inception_weights == "none" and config.model.hidden_dim == 16
    cpu = presets.PRESETS["cpu"]
    assert (config.learning_rate, config.emoji_warmup_steps) == (
        cpu["learning_rate"],
        cpu["emoji_warmup_steps"],
    )  # still the preset's
    assert config.model.emb_dim == SRSConfig().emb_dim
    # An explicit value equal to the dataclass default still overrides the preset.
    assert cpu["learning_rate"] != TrainConfig().learning_rate
    assert presets.resolve("cpu", {"learning_rate": TrainConfig().learning_rate}).learning_rate == (
        TrainConfig().learning_rate
    )
    # The presets themselves are not modified by a resolution.
    assert presets.PRESETS["cpu"]["model"] == {"inception_weights": "imagenet"}
    assert presets.resolve("cpu").model.hidden_dim == SRSConfig().hidden_dim


def test_nest_maps_flag_names_to_fields():
    assert presets.nest({"batch_size": 8, "hidden_dim": 16, "inception_weights": "none"}) == {
        "batch_size": 8,
        "model": {"hidden_dim": 16, "inception_weights": "none"},
    }
    assert presets.nest({}) == {}
    with pytest.raises(ValueError, match="'batchsize' is neither a TrainConfig nor an SRSConfig"):
        presets.nest({"batchsize": 8})
    # every dataclass field is reachable, and only those
    assert set(presets.train_fields()) == {f.name for f in dataclasses.fields(TrainConfig)} - {
        "model",
        "preset",
    }
    assert set(presets.model_fields()) == {f.name for f in dataclasses.fields(SRSConfig)}


def test_unknown_preset_or_field_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown preset 'gpu': choose one of paper, cpu"):
        presets.resolve("gpu")
    with pytest.raises(ValueError, match="unknown TrainConfig fields: batchsize"):
        presets.resolve("cpu", {"batchsize": 8})
    with pytest.raises(ValueError, match="unknown SRSConfig fields: hidden"):
        presets.resolve(None, {"model": {"hidden": 8}})
    with pytest.raises(ValueError, match="--train_steps must be >= 0"):
        presets.resolve("paper", {"train_steps": -1})


def test_bin_train_refuses_an_unknown_preset(tmp_path):
    result = subprocess.run(
        [PY, TRAIN, f"--data_dir={tmp_path}", f"--model_dir={tmp_path / 'run'}", "--preset=gpu"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "--preset=gpu" in result.stderr and "paper" in result.stderr and "cpu" in result.stderr
    assert not (tmp_path / "run").exists()


def _printed_config(stdout):
    """The JSON block after the 'resolved configuration' line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("resolved configuration"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i] == "}")
    return lines[start], json.loads("\n".join(lines[start + 1 : end + 1]))


def test_bin_train_prints_and_saves_the_resolved_config(demo_tfrec_small, tmp_path):
    run = tmp_path / "run"
    result = subprocess.run(
        [
            PY,
            TRAIN,
            f"--data_dir={demo_tfrec_small}",
            f"--model_dir={run}",
            "--preset=cpu",
            "--hidden_dim=16",
            "--emb_dim=16",
            "--batch_size=8",
            "--train_steps=2",
            "--inception_weights=none",
            "--sticker_encoder=frozen",
            "--emoji_warmup_steps=0",
            "--eval_examples=8",
            "--log_every=1",
            "--checkpoint_every=1",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    header, printed = _printed_config(result.stdout)
    assert header == "resolved configuration (preset: cpu):"
    want = presets.resolve(
        "cpu",
        presets.nest(
            dict(
                data_dir=demo_tfrec_small,
                model_dir=str(run),
                hidden_dim=16,
                emb_dim=16,
                batch_size=8,
                train_steps=2,
                inception_weights="none",
                sticker_encoder="frozen",
                emoji_warmup_steps=0,
                eval_examples=8,
                log_every=1,
                checkpoint_every=1,
            )
        ),
    )
    assert printed == want.to_dict()
    assert printed["preset"] == "cpu"
    cpu = presets.PRESETS["cpu"]
    # from the preset
    assert (printed["learning_rate"], printed["eval_every"]) == (3e-4, cpu["eval_every"])
    assert printed["context_turns"] == cpu["context_turns"] == 3
    assert printed["sticker_encoder"] == "frozen"  # explicit beats the preset's "upper"
    assert "--inception_weights=none: building Table 2's no_pretrain network" in result.stdout

    saved = json.load(open(run / "config.json"))
    # RUN/config.json is the printed config with the sizes the TFREC metadata fixes.
    meta = json.load(open(os.path.join(demo_tfrec_small, "meta.json")))
    fixed = {
        "vocab_size",
        "emoji_vocab_size",
        "context_len",
        "max_words",
        "num_candidates",
        "image_size",
    }
    for name in fixed - {"context_len"}:
        assert saved["model"][name] == meta.get(name, printed["model"][name])
    # the preset's context_turns sets how many utterances the model reads
    assert saved["model"]["context_len"] == 3 < meta["context_len"]
    assert {k: v for k, v in saved["model"].items() if k not in fixed} == {
        k: v for k, v in printed["model"].items() if k not in fixed
    }
    assert {k: v for k, v in saved.items() if k != "model"} == {
        k: v for k, v in printed.items() if k != "model"
    }
    assert TrainConfig.from_dict(saved).preset == "cpu"


def test_the_tfrec_metadata_fixes_the_data_shape_fields():
    from srs_tf.run_config import configure_model

    meta = dict(
        vocab_size=378,
        emoji_vocab_size=54,
        context_len=5,
        max_words=12,
        num_candidates=10,
        image_size=75,
    )
    config = configure_model(TrainConfig(data_dir="d", model_dir="m"), meta)
    assert {k: getattr(config.model, k) for k in meta} == meta
