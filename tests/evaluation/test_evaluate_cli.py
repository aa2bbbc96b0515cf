"""bin/evaluate's file mode end to end, and the shared report code."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from srs_tf.evaluation import evaluation_report, metrics, scores_file, scoring

EVALUATE = os.path.join(REPO, "bin", "evaluate")


def run_evaluate(*args):
    return subprocess.run(
        [sys.executable, EVALUATE, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def example_lines(gt_position, gt_rank):
    """10 lines with the ground truth at gt_position, ranked gt_rank (1-based)."""
    negatives = [0.9 - 0.1 * i for i in range(9)]  # 0.9, 0.8, ..., 0.1
    gt_score = negatives[gt_rank - 1] + 0.05 if gt_rank > 1 else 0.95
    lines = []
    neg = iter(negatives)
    for i in range(10):
        if i == gt_position:
            lines.append(f"{gt_score:.2f}\t1")
        else:
            lines.append(f"{next(neg):.2f}\t0")
    return lines


@pytest.fixture
def two_systems(tmp_path):
    # System A: ex0 gt (pos 0) ranked 1st, ex1 gt (pos 3) ranked 2nd.
    # System B: ex0 ranked 3rd, ex1 ranked 3rd.
    a = tmp_path / "a.tsv"
    b = tmp_path / "b.tsv"
    a.write_text("\n".join(example_lines(0, 1) + example_lines(3, 2)) + "\n")
    b.write_text("\n".join(example_lines(0, 3) + example_lines(3, 3)) + "\n")
    return str(a), str(b)


def test_example_lines_helper():
    scores = np.array([float(line.split("\t")[0]) for line in example_lines(3, 2)])
    assert metrics.ground_truth_rank(scores[None], [3]).tolist() == [2]


def test_file_mode_single_system(two_systems, tmp_path):
    a, _ = two_systems
    out_json = tmp_path / "metrics.json"
    proc = run_evaluate(f"--scores_file={a}", f"--output={out_json}")
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert list(last) == list(metrics.METRIC_NAMES)
    assert last["MRR"] == pytest.approx(0.75)
    assert last["MAP"] == pytest.approx(0.75)
    assert last["R10@1"] == pytest.approx(0.5)
    assert last["P@1"] == pytest.approx(0.5)
    assert last["R10@2"] == 1.0
    assert last["R10@5"] == 1.0
    # R2@1: ex0 gt 0.95 vs pos 1 (0.9) yes; ex1 gt 0.85 vs pos 0 (0.9) no.
    assert last["R2@1"] == pytest.approx(0.5)
    assert "MAP" in proc.stdout.splitlines()[0]  # the table comes first
    full = json.loads(out_json.read_text())
    assert full["num_examples"] == 2 and full["list_size"] == 10
    assert full["MRR"] == pytest.approx(0.75)


def test_file_mode_compare_to(two_systems):
    a, b = two_systems
    proc = run_evaluate(f"--scores_file={a}", f"--compare_to={b}")
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(last) == set(metrics.METRIC_NAMES) | {"t_test"}
    assert set(last["t_test"]) == set(metrics.METRIC_NAMES)
    # MRR per example: A [1, 1/2], B [1/3, 1/3]; d = [2/3, 1/6]:
    # mean 5/12, sd = (1/2) / sqrt(2), se = sd / sqrt(2) = 1/4, t = 5/3.
    # One degree of freedom (Cauchy): p = 1 - 2 atan(t) / pi.
    assert last["t_test"]["MRR"]["t"] == pytest.approx(5 / 3)
    assert last["t_test"]["MRR"]["p"] == pytest.approx(1 - 2 * math.atan(5 / 3) / math.pi)
    # R10@2: A [1, 1], B [0, 0] -> constant non-zero difference: t = inf
    # (written as null), p = 0 -> significant.
    assert last["t_test"]["R10@2"]["t"] is None
    assert last["t_test"]["R10@2"]["p"] == 0.0
    # R10@5 is 1 for both on both examples: no difference.
    assert last["t_test"]["R10@5"] == {"t": 0.0, "p": 1.0}
    table = proc.stdout
    assert "b.tsv" in table and "a.tsv" in table
    assert "1.0000▲" in table  # R10@2 of A, significantly better
    assert "▼" not in table.replace("▲/▼", "")


def test_file_mode_swapped_marks_worse(two_systems):
    a, b = two_systems
    proc = run_evaluate(f"--scores_file={b}", f"--compare_to={a}")
    assert proc.returncode == 0, proc.stderr
    assert "0.0000▼" in proc.stdout  # R10@2 of B
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["t_test"]["MRR"]["t"] == pytest.approx(-5 / 3)


def test_file_mode_bad_file_names_the_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    lines = example_lines(0, 1)
    lines[6] = "0.3\tx"
    bad.write_text("\n".join(lines) + "\n")
    proc = run_evaluate(f"--scores_file={bad}")
    assert proc.returncode == 1
    assert f"{bad}:7:" in proc.stderr
    assert proc.stdout == ""


def test_file_mode_different_examples_are_refused(two_systems, tmp_path):
    a, _ = two_systems
    other = tmp_path / "other.tsv"
    other.write_text("\n".join(example_lines(0, 1) + example_lines(4, 2)))
    proc = run_evaluate(f"--scores_file={a}", f"--compare_to={other}")
    assert proc.returncode == 1
    assert "same examples" in proc.stderr


def test_usage_errors(two_systems):
    a, _ = two_systems
    assert run_evaluate().returncode != 0
    assert run_evaluate(f"--scores_file={a}", "--model_dir=x").returncode != 0
    assert run_evaluate("--model_dir=x").returncode != 0


def test_cli_is_executable_with_python3_shebang():
    assert os.access(EVALUATE, os.X_OK)
    with open(EVALUATE) as f:
        assert f.readline().strip() == "#!/usr/bin/env python3"


# ------------------------------------------------------------- report()


def test_report_with_turns_ssim_and_compare():
    scores = np.array([[0.9, 0.1, 0.2], [0.1, 0.9, 0.2], [0.1, 0.2, 0.9]])
    labels = np.array([0, 0, 2])
    other = np.array([[0.1, 0.9, 0.2], [0.1, 0.9, 0.2], [0.1, 0.2, 0.9]])
    rep = evaluation_report.report(
        scores,
        labels,
        num_turns=[1, 3, 3],
        ssim=[0.1, 0.5, 0.55],
        compare=(other, labels, "base"),
        name="srs",
    )
    assert rep["MRR"] == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert rep["compare"]["name"] == "base"
    assert rep["compare"]["MRR"] == pytest.approx((1 / 3 + 1 / 3 + 1) / 3)
    # MRR d = [2/3, 0, 0]: mean 2/9, sd = sqrt(((4/9)^2 + 2 (2/9)^2) / 2).
    sd = math.sqrt(((4 / 9) ** 2 + 2 * (2 / 9) ** 2) / 2)
    assert rep["t_test"]["MRR"]["t"] == pytest.approx((2 / 9) / (sd / math.sqrt(3)))
    assert rep["by_turns"]["1"] == {"count": 1, **{m: 1.0 for m in metrics.METRIC_NAMES}}
    assert rep["by_turns"]["3"]["count"] == 2
    assert rep["by_turns"]["3"]["R10@1"] == pytest.approx(0.5)
    assert rep["by_ssim"]["(0.4,0.6]"]["count"] == 2
    assert rep["by_ssim"]["(0.0,0.2]"]["count"] == 1
    text = evaluation_report.format_report(rep)
    assert "RQ3" in text and "RQ5" in text and "base" in text
    line = evaluation_report.to_json(evaluation_report.summary(rep))
    assert "\n" not in line
    assert set(json.loads(line)) == set(metrics.METRIC_NAMES) | {"t_test"}


def test_report_refuses_mismatched_examples():
    scores = np.zeros((2, 3))
    with pytest.raises(ValueError, match="same examples"):
        evaluation_report.report(scores, [0, 1], compare=(scores, [0, 2]))
    with pytest.raises(ValueError, match="cannot compare"):
        evaluation_report.report(scores, [0, 1], compare=(np.zeros((3, 3)), [0, 1, 2]))


def test_evaluate_model_with_a_fake_scorer(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 4, 16, 16, 3), dtype=np.uint8)
    images[0, 1:] = images[0, 0]  # example 0: SSIM 1 -> (0.8, 1.0]
    scores = np.array(
        [[0.9, 0.1, 0.2, 0.3], [0.1, 0.9, 0.2, 0.3], [0.1, 0.2, 0.9, 0.3]], np.float32
    )
    calls = []

    def score_split(data_dir, model_dir, split, batch_size):
        calls.append((data_dir, model_dir, split, batch_size))
        return {
            "scores": scores,
            "labels": np.array([0, 0, 2]),
            "num_turns": np.array([2, 2, 4]),
            "candidate_images": images,
        }

    monkeypatch.setattr(scoring, "score_split", score_split)
    run = tmp_path / "run"
    run.mkdir()
    out_scores = tmp_path / "test.tsv"
    rep = evaluation_report.evaluate_model(
        "TFREC", str(run), split="test", batch_size=8, scores_out=str(out_scores)
    )
    assert calls == [("TFREC", str(run), "test", 8)]
    saved = json.loads((run / "eval_test.json").read_text())
    assert saved["R10@1"] == pytest.approx(2 / 3)
    assert saved["split"] == "test"
    assert saved["by_turns"]["2"]["count"] == 2
    assert saved["by_ssim"]["(0.8,1.0]"]["count"] == 1
    assert sum(e["count"] for e in saved["by_ssim"].values()) == 3
    assert rep["R10@1"] == saved["R10@1"]
    back, back_labels = scores_file.read_scores_file(str(out_scores), list_size=4)
    np.testing.assert_array_equal(back, scores.astype(np.float64))
    assert back_labels.argmax(axis=1).tolist() == [0, 0, 2]


def test_evaluate_model_with_bank_images(tmp_path, monkeypatch):
    # The scorer may give bank rows instead of candidate images.
    bank = np.zeros((3, 16, 16, 3), np.uint8)
    bank[1, :8] = 255
    bank[2, :, :8] = 200

    def score_split(data_dir, model_dir, split, batch_size):
        return {
            "scores": np.array([[0.9, 0.1, 0.2], [0.1, 0.9, 0.2]]),
            "labels": np.array([0, 1]),
            "num_turns": np.array([1, 1]),
            "candidate_ids": np.array([[0, 0, 0], [1, 2, 0]]),
            "bank_images": bank,
            "step": 7,
        }

    monkeypatch.setattr(scoring, "score_split", score_split)
    rep = evaluation_report.evaluate_model("TFREC", str(tmp_path), split="val")
    assert rep["step"] == 7
    assert rep["by_ssim"]["(0.8,1.0]"]["count"] == 1  # identical candidates
    assert rep["by_ssim"]["(0.8,1.0]"]["R10@1"] == 1.0
    assert (tmp_path / "eval_val.json").exists()
    rep = evaluation_report.evaluate_model(
        "TFREC", str(tmp_path), split="val", compute_ssim=False, output=str(tmp_path / "o.json")
    )
    assert "by_ssim" not in rep and rep["by_turns"]["1"]["count"] == 2
    assert (tmp_path / "o.json").exists()
