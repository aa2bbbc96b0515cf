"""Metrics, scores files, paired t-test and RQ3/RQ5 analyses (hand-computed)."""

import math
import os

import numpy as np
import pytest

from srs_tf.evaluation import analysis, metrics, scores_file, significance


def one_positive(position, list_size=10):
    row = np.zeros(list_size, np.int64)
    row[position] = 1
    return row


# ---------------------------------------------------------------- metrics


def test_metric_names_are_the_papers_keys():
    assert metrics.METRIC_NAMES == ("MAP", "MRR", "R10@1", "R10@2", "R10@5", "R2@1", "P@1")
    out = metrics.compute_metrics(np.eye(10)[:3], [0, 1, 2])
    assert tuple(out) == metrics.METRIC_NAMES


@pytest.mark.parametrize("position", range(10))
def test_ground_truth_at_every_position_and_rank(position):
    # The ground truth sits at `position` with the 4th-highest score (0.3):
    # three negatives rank above it.
    order = [0.9, 0.8, 0.7, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02]
    row = np.empty(10)
    row[position] = 0.3
    row[[i for i in range(10) if i != position]] = order
    scores = row[None]
    labels = one_positive(position)[None]
    assert metrics.ground_truth_rank(scores, labels).tolist() == [4]
    assert metrics.average_precision(scores, labels)[0] == pytest.approx(0.25)
    assert metrics.reciprocal_rank(scores, labels)[0] == pytest.approx(0.25)
    assert metrics.recall_at_k(scores, labels, 1)[0] == 0.0
    assert metrics.recall_at_k(scores, labels, 2)[0] == 0.0
    assert metrics.recall_at_k(scores, labels, 4)[0] == 1.0
    assert metrics.recall_at_k(scores, labels, 5)[0] == 1.0
    assert metrics.precision_at_1(scores, labels)[0] == 0.0
    # R2@1: the first negative in list order is position 0 (or 1 when the
    # ground truth is at 0); it holds 0.9 (or 0.9 at position 1): above 0.3.
    assert metrics.r2_at_1(scores, labels)[0] == 0.0
    # The label given as a position gives the same results.
    assert metrics.compute_metrics(scores, [position]) == metrics.compute_metrics(scores, labels)


@pytest.mark.parametrize("position", range(10))
def test_ground_truth_top_at_every_position(position):
    scores = np.full((1, 10), 0.5)
    scores[0, position] = 0.6
    out = metrics.compute_metrics(scores, [position])
    assert out == {
        "MAP": 1.0,
        "MRR": 1.0,
        "R10@1": 1.0,
        "R10@2": 1.0,
        "R10@5": 1.0,
        "R2@1": 1.0,
        "P@1": 1.0,
    }


def test_hand_computed_means_over_three_examples():
    # ex0: gt at 2 ranked 1st; ex1: gt at 0 ranked 3rd; ex2: gt at 9 ranked 6th.
    s0 = [0.1, 0.2, 0.9, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    s1 = [0.5, 0.7, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    s2 = [0.9, 0.8, 0.7, 0.6, 0.5, 0.1, 0.1, 0.1, 0.1, 0.4]
    out = metrics.compute_metrics(np.array([s0, s1, s2]), [2, 0, 9])
    rr = (1 + 1 / 3 + 1 / 6) / 3
    assert out["MAP"] == pytest.approx(rr)
    assert out["MRR"] == pytest.approx(rr)
    assert out["R10@1"] == pytest.approx(1 / 3)
    assert out["P@1"] == pytest.approx(1 / 3)
    assert out["R10@2"] == pytest.approx(1 / 3)
    assert out["R10@5"] == pytest.approx(2 / 3)
    # R2@1: ex0 0.9 > s[0]=0.1 yes; ex1 0.5 > s[1]=0.7 no; ex2 0.4 > 0.9 no.
    assert out["R2@1"] == pytest.approx(1 / 3)


def test_ties_rank_ground_truth_below_tied_negatives():
    # gt (pos 5) ties with two negatives at 0.5; one negative above.
    scores = np.array([[0.1, 0.5, 0.9, 0.5, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]])
    labels = one_positive(5)[None]
    assert metrics.ground_truth_rank(scores, labels).tolist() == [4]
    out = metrics.compute_metrics(scores, labels)
    assert out["MRR"] == pytest.approx(0.25)
    assert out["R10@2"] == 0.0
    assert out["R10@5"] == 1.0
    # Order in the list does not matter: gt before the tied negatives.
    scores2 = np.array([[0.5, 0.5, 0.9, 0.5, 0.0, 0.1, 0.0, 0.0, 0.0, 0.0]])
    assert metrics.ground_truth_rank(scores2, [0]).tolist() == [4]


@pytest.mark.parametrize("position", [0, 3, 9])
def test_constant_scorer_gets_the_worst_rank(position):
    scores = np.full((2, 10), 0.7)
    out = metrics.compute_metrics(scores, [position, position])
    assert out["R10@1"] == 0.0
    assert out["P@1"] == 0.0
    assert out["R10@2"] == 0.0
    assert out["R10@5"] == 0.0
    assert out["R2@1"] == 0.0
    assert out["MRR"] == pytest.approx(0.1)
    assert out["MAP"] == pytest.approx(0.1)


def test_r2_at_1_uses_the_first_negative_in_list_order():
    # gt at 0: first negative is position 1.
    s = np.array([[0.5, 0.4, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]])
    assert metrics.r2_at_1(s, [0]).tolist() == [1.0]
    assert metrics.compute_metrics(s, [0])["R10@1"] == 0.0  # ranked last
    # gt at 4: first negative is position 0, whatever positions 1..3 hold.
    s = np.array([[0.3, 0.9, 0.9, 0.9, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0]])
    assert metrics.r2_at_1(s, [4]).tolist() == [1.0]
    s[0, 0] = 0.5
    assert metrics.r2_at_1(s, [4]).tolist() == [0.0]
    # Tie with the first negative: failure.
    s[0, 0] = 0.4
    assert metrics.r2_at_1(s, [4]).tolist() == [0.0]


def test_release_recall_2at1_compares_with_the_negative_before_the_ground_truth():
    # The example: gt (0.5) at position 3 after negatives 0.9, 0.1, 0.2.
    # Release (metrics.py:recall_2at1): its loop keeps overwriting the negative
    # score until it meets the gt, so it compares 0.5 with 0.2 -> 1.
    # srs_tf's R2@1 compares with the first negative, 0.9 -> 0.
    s = np.array([[0.9, 0.1, 0.2, 0.5, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0]])
    assert metrics.release_recall_2at1(s, [3]).tolist() == [1.0]
    assert metrics.r2_at_1(s, [3]).tolist() == [0.0]
    # The same list with 0.6 just before the gt: the release fails it.
    s[0, 2] = 0.6
    assert metrics.release_recall_2at1(s, [3]).tolist() == [0.0]
    # gt first: the first negative after it (position 1), in both definitions.
    s = np.array([[0.5, 0.4, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]])
    assert metrics.release_recall_2at1(s, [0]).tolist() == [1.0]
    assert metrics.r2_at_1(s, [0]).tolist() == [1.0]
    # gt last: position 8; a tie there is a failure (strict >, as the release).
    s = np.array([[0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2, 0.4]])
    assert metrics.release_recall_2at1(s, [9]).tolist() == [1.0]
    s[0, 8] = 0.4
    assert metrics.release_recall_2at1(s, [9]).tolist() == [0.0]
    # 0/1 label rows give the same as positions; mean over three examples.
    rows = np.array(
        [
            [0.9, 0.1, 0.2, 0.5, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0],  # 0.5 vs 0.2: 1
            [0.5, 0.4, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9],  # 0.5 vs 0.4: 1
            [0.1, 0.8, 0.3, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # 0.3 vs 0.8: 0
        ]
    )
    labels = np.stack([one_positive(3), one_positive(0), one_positive(2)])
    assert metrics.release_recall_2at1(rows, labels).tolist() == [1.0, 1.0, 0.0]
    assert metrics.release_recall_2at1(rows, [3, 0, 2]).mean() == pytest.approx(2 / 3)
    # It is not one of the reported metrics.
    assert "release_recall_2at1" not in metrics.METRIC_NAMES


def _release_loop_r2_at_1(score, label):
    """The release's per-list loop, written out (reference for the test below)."""
    pos_score = neg_score = 0.0
    found_pos = found_neg = False
    for i in range(len(score)):
        if label[i] == 1:
            pos_score, found_pos = score[i], True
        if label[i] == 0:
            neg_score, found_neg = score[i], True
        if found_pos and found_neg:
            break
    return 1.0 if pos_score > neg_score else 0.0


def test_release_recall_2at1_matches_the_release_loop_on_random_lists():
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 5, size=(500, 10)).astype(np.float64) / 4  # with ties
    positions = rng.integers(0, 10, size=500)
    labels = np.stack([one_positive(p) for p in positions])
    expected = [_release_loop_r2_at_1(s, lab) for s, lab in zip(scores, labels)]
    assert metrics.release_recall_2at1(scores, positions).tolist() == expected
    # Both definitions differ on some lists but not on all.
    ours = metrics.r2_at_1(scores, positions)
    assert 0 < np.sum(ours != np.array(expected)) < len(expected)


def test_recall_at_k_beyond_list_and_invalid_k():
    s = np.full((1, 10), 1.0)
    assert metrics.recall_at_k(s, [3], 10).tolist() == [1.0]
    with pytest.raises(ValueError):
        metrics.recall_at_k(s, [3], 0)


def test_per_example_metrics_shapes():
    s = np.array([[0.9, 0.1, 0.2], [0.1, 0.9, 0.2]])
    per = metrics.per_example_metrics(s, [0, 0])
    assert per["MRR"].tolist() == [1.0, 1 / 3]
    assert per["R2@1"].tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    "scores,labels,match",
    [
        (np.zeros((2, 10)), np.zeros((2, 10)), "exactly"),
        (np.zeros((1, 10)), np.ones((1, 10)), "exactly"),
        (np.zeros((1, 10)), [10], "outside"),
        (np.zeros((1, 10)), [-1], "outside"),
        (np.zeros((2, 10)), [0], "examples"),
        (np.zeros(10), [0], "shape"),
        (np.array([[np.nan] + [0.0] * 9]), [0], "finite"),
        (np.zeros((1, 10)), np.full((1, 10), 2), "0 or 1"),
    ],
)
def test_invalid_inputs_raise(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        metrics.compute_metrics(scores, labels)


# ------------------------------------------------------------ scores files


def test_scores_file_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(4, 10)).astype(np.float32)
    labels = np.array([0, 9, 4, 4])
    path = str(tmp_path / "run.tsv")
    scores_file.write_scores_file(path, scores, labels)
    lines = open(path).read().splitlines()
    assert len(lines) == 40
    first_score, first_label = lines[0].split("\t")
    assert float(first_score) == float(scores[0, 0])
    assert first_label == "1"
    assert lines[19].split("\t")[1] == "1"  # example 1, position 9
    back_scores, back_labels = scores_file.read_scores_file(path)
    np.testing.assert_array_equal(back_scores, scores.astype(np.float64))
    np.testing.assert_array_equal(back_labels, metrics.as_one_hot(labels, 10))
    # No temporary file left behind.
    assert sorted(os.listdir(tmp_path)) == ["run.tsv"]


def test_scores_file_reader_is_lenient_on_format(tmp_path):
    path = tmp_path / "lenient.tsv"
    path.write_text("0.5 1.0\n-1e-3\t0\n  2\t0.0\n\n\n")
    scores, labels = scores_file.read_scores_file(str(path), list_size=3)
    assert scores.tolist() == [[0.5, -0.001, 2.0]]
    assert labels.tolist() == [[1, 0, 0]]


def _write(tmp_path, text):
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text,where,what",
    [
        ("0.1\t1\n0.2\t0\nabc\t0\n", ":3:", "not a number"),
        ("0.1\t1\n0.2\t2\n0.3\t0\n", ":2:", "not 0 or 1"),
        ("0.1\t1\n0.2\n0.3\t0\n", ":2:", "score<TAB>label"),
        ("0.1\t1\n\n0.3\t0\n", ":2:", "empty line"),
        ("0.1\t1\nnan\t0\n0.3\t0\n", ":2:", "not finite"),
        ("0.1\t1\n0.2\t0\n0.3\t0\n0.4\t1\n", ":4:", "not a multiple"),
        ("0.1\t1\n0.2\t0\n0.3\t0\n0.4\t0\n0.5\t0\n0.6\t0\n", ":4-6:", "example 1 has 0"),
        ("0.1\t1\n0.2\t1\n0.3\t0\n", ":1-3:", "example 0 has 2"),
        ("", "bad.tsv", "no candidate lines"),
    ],
)
def test_scores_file_errors_name_file_and_line(tmp_path, text, where, what):
    path = _write(tmp_path, text)
    with pytest.raises(scores_file.ScoresFileError) as info:
        scores_file.read_scores_file(path, list_size=3)
    message = str(info.value)
    assert message.startswith(path)
    assert where in message
    assert what in message


def test_writer_rejects_invalid_and_keeps_old_file(tmp_path):
    path = tmp_path / "keep.tsv"
    path.write_text("old\n")
    with pytest.raises(ValueError):
        scores_file.write_scores_file(str(path), np.zeros((1, 10)), np.zeros((1, 10)))
    assert path.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["keep.tsv"]


# ------------------------------------------------------------- t-test


def test_paired_t_test_hand_computed_df2():
    # d = a - b = [1, 2, 6]: mean 3, sample variance (4 + 1 + 9) / 2 = 7.
    a = [1.0, 2.0, 6.0]
    b = [0.0, 0.0, 0.0]
    t_expected = 3.0 / math.sqrt(7.0 / 3.0)
    # Student t with 2 degrees of freedom has the closed form
    # P(|T| >= t) = 1 - t / sqrt(2 + t^2).
    p_expected = 1.0 - t_expected / math.sqrt(2.0 + t_expected**2)
    for use_scipy in (True, False):
        t, p = significance.paired_t_test(a, b, use_scipy=use_scipy)
        assert t == pytest.approx(t_expected, rel=1e-12)
        assert p == pytest.approx(p_expected, rel=1e-9)
    assert p_expected == pytest.approx(0.18850, abs=1e-5)
    # Swapping the systems flips the sign of t, not p.
    t, p = significance.paired_t_test(b, a)
    assert t == pytest.approx(-t_expected)
    assert p == pytest.approx(p_expected)


def test_paired_t_test_hand_computed_df4():
    # d = a - b = [1, 0, 1, 0, -1]: mean 0.2, sample variance
    # (0.64 + 0.04 + 0.64 + 0.04 + 1.44) / 4 = 0.7.
    a = [1, 1, 1, 1, 0]
    b = [0, 1, 0, 1, 1]
    t, p = significance.paired_t_test(a, b)
    assert t == pytest.approx(0.2 / math.sqrt(0.7 / 5), rel=1e-12)
    # Student t, 4 degrees of freedom: with x = t / sqrt(t^2 + 4),
    # P(|T| >= t) = 1 - x (3 - x^2) / 2.
    x = t / math.sqrt(t * t + 4)
    assert p == pytest.approx(1 - x * (3 - x * x) / 2, rel=1e-9)


@pytest.mark.parametrize(
    "t,df,p",
    [
        (1.0, 1, 0.5),  # Cauchy: 1 - 2 atan(1) / pi
        (12.706205, 1, 0.05),  # critical values of the t table
        (2.776445, 4, 0.05),
        (4.604095, 4, 0.01),
        (2.228139, 10, 0.05),
        (1.959964, 1e9, 0.05),  # normal limit
    ],
)
def test_student_t_p_against_table(t, df, p):
    for use_scipy in (True, False):
        assert significance.student_t_two_tailed_p(t, df, use_scipy=use_scipy) == pytest.approx(
            p, rel=1e-5
        )


def test_paired_t_test_zero_variance_cases():
    assert significance.paired_t_test([1, 0, 1], [1, 0, 1]) == (0.0, 1.0)
    assert significance.paired_t_test([], []) == (0.0, 1.0)
    t, p = significance.paired_t_test([1, 1, 1], [0, 0, 0])
    assert t == math.inf and p == 0.0
    t, p = significance.paired_t_test([0, 0], [0.5, 0.5])
    assert t == -math.inf and p == 0.0
    t, p = significance.paired_t_test([1], [0])
    assert math.isnan(t) and math.isnan(p)
    with pytest.raises(ValueError):
        significance.paired_t_test([1, 2], [1])


def test_significance_marks():
    assert significance.significance_mark(3.0, 0.005) == "▲"
    assert significance.significance_mark(-3.0, 0.005) == "▼"
    assert significance.significance_mark(3.0, 0.02) == ""
    assert significance.significance_mark(float("nan"), float("nan")) == ""


def test_compare_per_example():
    a = {"MRR": np.array([1.0, 2.0, 6.0]), "R10@1": np.array([1.0, 0, 1])}
    b = {"MRR": np.zeros(3), "R10@1": np.array([1.0, 0, 1])}
    out = significance.compare_per_example(a, b)
    assert out["MRR"]["t"] == pytest.approx(3.0 / math.sqrt(7.0 / 3.0))
    assert out["R10@1"] == {"t": 0.0, "p": 1.0}


# ----------------------------------------------------------- RQ3 / RQ5


def test_ssim_bucket_assignment():
    values = [-0.3, 0.0, 0.05, 0.2, 0.2000001, 0.4, 0.41, 0.6, 0.79, 0.8, 0.800001, 1.0]
    assert analysis.ssim_bucket(values).tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    with pytest.raises(ValueError):
        analysis.ssim_bucket([float("nan")])


def test_metrics_by_ssim_groups_examples():
    scores = np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.1]])
    out = analysis.metrics_by_ssim(scores, [0, 0, 1], [0.1, 0.15, 0.9])
    assert list(out) == list(analysis.SSIM_BUCKET_NAMES)
    assert out["(0.0,0.2]"]["count"] == 2
    assert out["(0.0,0.2]"]["R10@1"] == pytest.approx(0.5)
    assert out["(0.0,0.2]"]["MRR"] == pytest.approx(0.75)
    assert out["(0.8,1.0]"]["count"] == 1
    assert out["(0.8,1.0]"]["R10@1"] == 0.0
    assert out["(0.4,0.6]"] == {"count": 0, **{m: None for m in metrics.METRIC_NAMES}}


def test_metrics_by_turns_groups_examples():
    # Four examples of 3 candidates; turns 2, 1, 2, 5.
    scores = np.array(
        [
            [0.9, 0.1, 0.2],  # gt 0 ranked 1
            [0.1, 0.9, 0.2],  # gt 0 ranked 3
            [0.3, 0.9, 0.2],  # gt 0 ranked 2
            [0.1, 0.2, 0.9],
        ]
    )  # gt 2 ranked 1
    out = analysis.metrics_by_turns(scores, [0, 0, 0, 2], [2, 1, 2, 5])
    assert list(out) == ["1", "2", "5"]
    assert out["1"]["count"] == 1 and out["1"]["R10@1"] == 0.0
    assert out["1"]["MRR"] == pytest.approx(1 / 3)
    assert out["2"]["count"] == 2
    assert out["2"]["R10@1"] == pytest.approx(0.5)
    assert out["2"]["MRR"] == pytest.approx(0.75)
    assert out["5"] == {
        "count": 1,
        "MAP": 1.0,
        "MRR": 1.0,
        "R10@1": 1.0,
        "R10@2": 1.0,
        "R10@5": 1.0,
        "R2@1": 1.0,
        "P@1": 1.0,
    }
    with pytest.raises(ValueError):
        analysis.metrics_by_turns(scores, [0, 0, 0, 2], [1, 2])


def test_ssim_per_example_identical_and_averaged():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 4, 32, 32, 3), dtype=np.uint8)
    # Example 0: every negative is the ground truth itself -> SSIM 1.
    images[0, 1:] = images[0, 0]
    out = analysis.ssim_per_example(images, [0, 2], size=32)
    assert out.shape == (2,)
    assert out[0] == pytest.approx(1.0)
    # Example 1: the mean of the three pairwise grayscale SSIMs.
    gray = images[1].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    expected = np.mean(
        [structural_similarity(gray[2], gray[j], data_range=255.0) for j in (0, 1, 3)]
    )
    assert out[1] == pytest.approx(expected, rel=1e-9)
    assert -1.0 <= out[1] < 0.5


def test_ssim_per_example_resizes_and_validates():
    images = np.zeros((1, 3, 16, 16, 3), np.uint8)
    images[0, 0, :8] = 255
    images[0, 1:, :8] = 255
    out = analysis.ssim_per_example(images, [0], size=8)
    assert out[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        analysis.ssim_per_example(images, [3], size=8)
    with pytest.raises(ValueError):
        analysis.ssim_per_example(images[0], [0], size=8)


def test_ssim_from_bank_matches_gathered_images():
    rng = np.random.default_rng(1)
    bank = rng.integers(0, 256, size=(6, 16, 16, 3), dtype=np.uint8)
    ids = np.array([[0, 1, 2, 3], [5, 5, 5, 5], [4, 0, 2, 1]])
    label = [1, 2, 3]
    out = analysis.ssim_per_example_from_bank(bank, ids, label, size=16)
    np.testing.assert_allclose(
        out, analysis.ssim_per_example(bank[ids], label, size=16), rtol=1e-12
    )
    assert out[1] == pytest.approx(1.0)  # every candidate is bank row 5
    with pytest.raises(ValueError):
        analysis.ssim_per_example_from_bank(bank, ids + 1, label, size=16)
