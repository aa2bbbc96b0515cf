"""Tests of the second synthetic dataset (srs_tf.data.faces): release format,
determinism, where the cues are, and the cue oracle."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from srs_tf.data import faces
from srs_tf.data.tfrecords import TFRecordsConfig, make_tfrecords

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = dict(num_sets=12, train_examples=300, val_examples=40, test_examples=400)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("faces") / "DATA")
    faces.generate(faces.FacesConfig(output_dir=out, **TINY))
    return out


def _lines(data, split):
    with open(os.path.join(data, f"release_{split}.json"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_release_format_converts_without_a_skip(data, tmp_path):
    make_tfrecords(TFRecordsConfig(data_dir=data, output_dir=str(tmp_path / "TFREC")))
    with open(tmp_path / "TFREC" / "report.json") as f:
        summary = json.load(f)
    for split, n in (("train", 300), ("val", 40), ("test", 400)):
        assert summary[split]["read"] == summary[split]["written"] == n, split
        assert summary[split]["skipped"] == {}, split
    assert summary["bank"]["sets"] == 12 and summary["bank"]["skipped"] == {}


def test_same_seed_same_bytes_other_seed_differs(data, tmp_path):
    again = str(tmp_path / "again")
    faces.generate(faces.FacesConfig(output_dir=again, **TINY))
    other = str(tmp_path / "other")
    faces.generate(faces.FacesConfig(output_dir=other, seed=1, **TINY))
    for name in ("release_train.json", "release_test.json", "vocab", "stats.json"):
        with open(os.path.join(data, name), "rb") as a, open(os.path.join(again, name), "rb") as b:
            assert a.read() == b.read(), name
    with open(os.path.join(data, "release_train.json"), "rb") as a:
        with open(os.path.join(other, "release_train.json"), "rb") as b:
            assert a.read() != b.read()


def test_stickers_share_a_set_style_and_differ_by_expression(data):
    root = os.path.join(data, "npy_stickers")
    set_id = sorted(os.listdir(root))[0]
    arrays = [
        np.load(os.path.join(root, set_id, name)).astype(np.float32)
        for name in sorted(os.listdir(os.path.join(root, set_id)))
        if name.endswith(".npy")
    ]
    assert all(a.shape == (128, 128, 3) for a in arrays)
    other = sorted(os.listdir(root))[1]
    first_other = next(
        n for n in sorted(os.listdir(os.path.join(root, other))) if n.endswith(".npy")
    )
    foreign = np.load(os.path.join(root, other, first_other)).astype(np.float32)
    within = np.mean([np.abs(arrays[0] - a).mean() for a in arrays[1:]])
    assert within > 1.0  # expressions really differ
    assert np.abs(arrays[0] - foreign).mean() > 2 * within  # sets differ more


def test_cues_name_the_ground_truths_expression(data):
    """A cue word of the ground truth's expression is in the context at the
    configured rate, and in the last turn about half of those times."""
    cfg = faces.FacesConfig(output_dir="unused", **TINY)
    rng = np.random.default_rng(cfg.seed)
    taken = set()
    faces._words(rng, cfg.filler_words, taken)  # the generator's first draws
    cues = [set(faces._words(rng, cfg.cue_words_per_expression, taken)) for _ in faces.EXPRESSIONS]
    alt_to_expression = {e[0]: i for i, e in enumerate(faces.EXPRESSIONS)}
    lines = _lines(data, "train")
    cued = last = 0
    for line in lines:
        target = alt_to_expression[line["current"]["sticker_alt"]]
        turns = [set(t["text"].split()) for t in line["context"]]
        hits = [i for i, words in enumerate(turns) if words & cues[target]]
        cued += bool(hits)
        last += bool(hits) and hits[-1] == len(turns) - 1
    assert 0.75 < cued / len(lines) < 0.95  # cue_fraction 0.85 (+ chance overlaps)
    assert 0.4 < last / cued < 0.7


def test_stats_give_chance_and_a_cue_oracle(data):
    with open(os.path.join(data, "stats.json")) as f:
        stats = json.load(f)
    calibration = stats["calibration"]
    assert calibration["chance_r10_at_1"] == 0.1
    # 85% cued, minus the newer misleading cues: well above chance, below 0.9
    assert 0.7 < calibration["cue_oracle_r10_at_1"] < 0.9
    assert stats["sets"] == 12


def test_config_errors_name_the_flag(tmp_path):
    with pytest.raises(ValueError, match="min_stickers"):
        faces.FacesConfig(output_dir=str(tmp_path / "x"), min_stickers=5).validate()
    with pytest.raises(ValueError, match="--cue_fraction"):
        faces.FacesConfig(output_dir=str(tmp_path / "x"), cue_fraction=2.0).validate()


def _cli(*args):
    cmd = [sys.executable, os.path.join(REPO, "bin", "make_faces_data"), *args]
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


def test_the_command_writes_refuses_and_names_the_flag(tmp_path):
    out = tmp_path / "F"
    tiny = ["--num_sets=2", "--train_examples=20", "--val_examples=5", "--test_examples=5"]
    res = _cli(f"--output_dir={out}", *tiny)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.splitlines()[0])["chance_r10_at_1"] == 0.1
    assert os.path.isfile(out / "stats.json") and os.path.isfile(out / "release_train.json")
    res = _cli(f"--output_dir={out}", *tiny)  # exists: refused, kept
    assert res.returncode != 0 and "--overwrite" in res.stderr
    assert _cli(f"--output_dir={out}", "--overwrite", *tiny).returncode == 0
    res = _cli(f"--output_dir={tmp_path / 'y'}", "--num_sets=0")
    assert res.returncode != 0 and "--num_sets" in res.stderr
    assert not os.path.exists(tmp_path / "y")
