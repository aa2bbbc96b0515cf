"""Oracle sticker features of the demo benchmark and the Trainer hook that uses
them (experiments/oracle_features.py)."""

import json
import os

import numpy as np
import pytest
from conftest import REPO


def _bank(tfrec):
    from srs_tf.data import pipeline

    return pipeline.load_sticker_bank(tfrec)


def _depicts(data, bank):
    from srs_tf.data.demo.oracle_features import depicted_emoji

    table = depicted_emoji(data)
    return np.array([table[(a, b)] for a, b in zip(bank.sticker_set_id, bank.sticker_id)])


def _cosine(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_oracle_features_encode_what_the_sticker_depicts(demo_data, demo_tfrec):
    from srs_tf.data.demo.oracle_features import oracle_sticker_features

    bank = _bank(demo_tfrec)
    regions, flat = oracle_sticker_features(demo_data, bank, num_regions=36, seed=5)
    assert regions.shape == (len(bank), 36, 768) and flat.shape == (len(bank), 2048)
    assert regions.dtype == flat.dtype == np.float16
    again = oracle_sticker_features(demo_data, bank, num_regions=36, seed=5)
    np.testing.assert_array_equal(again[1], flat)
    np.testing.assert_array_equal(again[0], regions)

    depicts = _depicts(demo_data, bank)
    # A pair of stickers of different sets that show the same emoji, and a
    # pair from one set that show different ones.
    same = next(
        (i, j)
        for i in range(len(bank))
        for j in range(i + 1, len(bank))
        if depicts[i] == depicts[j] and bank.set_index[i] != bank.set_index[j]
    )
    other = next(
        (i, j)
        for i in range(len(bank))
        for j in range(i + 1, len(bank))
        if depicts[i] != depicts[j] and bank.set_index[i] == bank.set_index[j]
    )
    # flat = direction + 0.5 noise: cosine 1 / 1.25 = 0.8 for the same emoji, ~0 otherwise.
    assert _cosine(flat[same[0]], flat[same[1]]) > 0.7
    assert abs(_cosine(flat[other[0]], flat[other[1]])) < 0.15

    # Regions of one set share the set's pattern (style, frame, background):
    # region by region, two stickers of one set are alike, two of different
    # sets are not, even when they show the same emoji.
    def region_similarity(i, j):
        return np.mean([_cosine(regions[i, k], regions[j, k]) for k in range(36)])

    assert region_similarity(*other) > 0.6
    assert region_similarity(*same) < 0.3


def test_oracle_features_need_a_demo_build(tmp_path, demo_tfrec):
    from srs_tf.data.demo.oracle_features import oracle_sticker_features

    with pytest.raises(FileNotFoundError, match="demo_sets.json"):
        oracle_sticker_features(str(tmp_path), _bank(demo_tfrec))


@pytest.mark.slow
def test_trainer_uses_given_sticker_features_instead_of_encoding(
    demo_data, demo_tfrec, tmp_path, monkeypatch
):
    from srs_tf.data.demo.oracle_features import oracle_sticker_features
    from srs_tf.model_config import SRSConfig
    from srs_tf.run_config import TrainConfig
    from srs_tf.training.trainer import Trainer

    bank = _bank(demo_tfrec)
    regions, flat = oracle_sticker_features(demo_data, bank, num_regions=36)
    config = TrainConfig(
        data_dir=demo_tfrec,
        model_dir=str(tmp_path / "run"),
        batch_size=4,
        emoji_warmup_steps=0,
        train_steps=2,
        log_every=1,
        checkpoint_every=1,
        eval_examples=8,
        sticker_encoder="frozen",
        model=SRSConfig(hidden_dim=8, emb_dim=8, inception_weights="none"),
    )

    def no_encoding(*args, **kwargs):
        raise AssertionError("the bank must not be encoded when features are given")

    monkeypatch.setattr(Trainer, "encode_bank", no_encoding)
    trainer = Trainer(config, verbose=False, sticker_features=(regions, flat))
    summary = trainer.train()
    assert summary["step"] == 2
    np.testing.assert_allclose(np.asarray(trainer.frozen_features[1]), flat.astype(np.float32))
    # The matcher standardises them with their own statistics.
    mean = trainer.matcher.get_layer("flat_normalization").mean.numpy()
    np.testing.assert_allclose(mean, flat.astype(np.float64).mean(0), atol=1e-3)

    with pytest.raises(ValueError, match="frozen"):
        Trainer(
            TrainConfig(
                **{
                    **config.to_dict(),
                    "sticker_encoder": "finetune",
                    "model_dir": str(tmp_path / "b"),
                }
            ),
            verbose=False,
            sticker_features=(regions, flat),
        )
    with pytest.raises(ValueError, match="rows"):
        Trainer(
            TrainConfig(**{**config.to_dict(), "model_dir": str(tmp_path / "c")}),
            verbose=False,
            sticker_features=(regions[:3], flat[:3]),
        )


@pytest.mark.slow
def test_oracle_experiment_command_runs_and_reports(demo_data, demo_tfrec, tmp_path):
    import subprocess
    import sys

    run = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "experiments", "oracle_features.py"),
            f"--data_dir={demo_data}",
            f"--tfrec_dir={demo_tfrec}",
            f"--model_dir={run}",
            "--train_steps=3",
            "--batch_size=4",
            "--eval_examples=8",
            "--log_every=1",
        ],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.load(open(run / "oracle_test.json"))
    assert set(report["test"]) >= {"MAP", "R10@1", "R10@2", "R10@5"}
    assert json.loads(result.stdout.strip().splitlines()[-1]) == pytest.approx(
        {k: round(v, 4) for k, v in report["test"].items()}, abs=1e-4
    )
    assert "oracle sticker features" in result.stdout
