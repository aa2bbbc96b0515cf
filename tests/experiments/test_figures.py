"""Figures 7, 8, 10 and 11 of experiments/run.py (docs/EXPERIMENTS.md): their
plans, the statistics and plots on hand-made runs, and real smoke-scale
runs whose files are read back."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from srs_tf.evaluation.analysis import SSIM_BUCKET_NAMES
from srs_tf.experiments import figures, runner
from srs_tf.experiments import plan as plan_lib

PY = sys.executable
RUN = os.path.join(REPO, "experiments", "run.py")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


def _png_size(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


# ------------------------------------------------------------------ plans
def test_figure_plans():
    specs = plan_lib.plan("figure7", "demo", seeds=(1,))
    assert [s.system for s in specs] == [f"N={n}" for n in (3, 5, 7, 9, 11, 13, 15, 17, 20)]
    assert specs[0].train_flags == ("--preset=cpu", "--context_turns=3", "--seed=1")
    assert plan_lib.context_len_needed("figure7", "demo") == 20
    assert plan_lib.context_len_needed("figure11", "demo") == 0
    assert plan_lib.reference_row("figure7", "demo") == "N=15"
    assert plan_lib.reference_row("figure7", "smoke") == "N=5"  # the longest read at smoke
    specs = plan_lib.plan("figure11", "paper", seeds=(2,))
    assert [s.train_flags[1] for s in specs] == [f"--hidden_dim={h}" for h in range(50, 251, 50)]
    assert plan_lib.reference_row("figure11", "paper") == "hidden 100"
    specs = plan_lib.plan("figure10", "demo")
    assert [s.seed for s in specs] == [1, 2, 3] and specs[0].eval_flags == ("--ssim",)
    assert plan_lib.plan("table4", "demo")[0].eval_flags == ("--nossim",)
    specs = plan_lib.plan("figure8", "demo")
    assert [(s.system, s.seed) for s in specs] == [("SRS", 1)]  # one trained SRS
    assert plan_lib.reference_row("figure8", "demo") is None
    for name in ("figure7", "figure11"):  # each curve row's x value, read back
        for system, _ in plan_lib.EXPERIMENTS[name]("paper"):
            assert plan_lib.CURVE_ROW[name].format(plan_lib.curve_x(name, system)) == system
    assert plan_lib.curve_x("figure11", "hidden 150") == 150
    with pytest.raises(ValueError, match="not a row of figure7"):
        plan_lib.curve_x("figure7", "hidden 100")


def test_too_short_contexts_are_named(tmp_path):
    tfrec = tmp_path / "TFREC"
    tfrec.mkdir()
    (tfrec / "meta.json").write_text(json.dumps({"context_len": 15}))
    with pytest.raises(runner.ExperimentError, match="stores 15 utterances .* --context_len=20"):
        runner.prepare_data("demo", str(tmp_path), str(tfrec), context_len=20)
    assert runner.prepare_data("demo", str(tmp_path), str(tfrec), context_len=15) == str(tfrec)


# ------------------------------------------------- statistics and plots
def _record(root, system, seed, metrics, by_ssim=None):
    run_dir = os.path.join(root, f"{system}-{seed}".replace(" ", "_"))
    os.makedirs(run_dir)
    report = dict(metrics)
    if by_ssim is not None:
        report["by_ssim"] = by_ssim
    with open(os.path.join(run_dir, "eval_test.json"), "w") as f:
        json.dump(report, f)
    return {"system": system, "seed": seed, "run_dir": run_dir, "metrics": metrics}


def test_curve_points_and_plot(tmp_path):
    records = []
    for n, base in ((3, 0.3), (5, 0.5)):
        for seed, delta in ((1, -0.1), (2, 0.1)):
            value = base + delta
            metrics = {"MAP": value, "R10@1": value / 2, "R10@2": value, "R10@5": 0.9}
            records.append(_record(tmp_path, f"N={n}", seed, metrics))
    points = figures.curve_points(records, {"N=3": 3, "N=5": 5})
    assert points["x"] == [3, 5] and points["rows"] == ["N=3", "N=5"]
    assert points["MAP"]["mean"] == pytest.approx([0.3, 0.5])
    assert points["MAP"]["sd"] == pytest.approx([np.std([0.2, 0.4], ddof=1)] * 2)
    assert points["R10@1"]["mean"] == pytest.approx([0.15, 0.25])
    assert points["R10@5"]["sd"] == pytest.approx([0.0, 0.0])
    path = tmp_path / "figure.png"
    figures.metric_curves(str(path), points, "utterances read (N)", "Figure 7")
    width, height = _png_size(path)
    assert width > 300 and height > 200


def test_ssim_table_and_bars(tmp_path):
    def buckets(r1):
        out = {name: {"count": 0, "R10@1": None, "MAP": None} for name in SSIM_BUCKET_NAMES}
        out["(0.2,0.4]"] = {"count": 30, "R10@1": r1, "MAP": r1 + 0.1}
        out["(0.6,0.8]"] = {"count": 10, "R10@1": r1 / 2, "MAP": 0.3}
        return out

    metrics = {"MAP": 0.4, "R10@1": 0.2, "R10@2": 0.3, "R10@5": 0.6}
    records = [
        _record(tmp_path, "SRS", 1, metrics, buckets(0.4)),
        _record(tmp_path, "SRS", 2, metrics, buckets(0.6)),
    ]
    lines, stats = figures.ssim_table(records)
    assert stats["(0.2,0.4]"]["count"] == 30
    assert stats["(0.2,0.4]"]["R10@1"]["mean"] == pytest.approx(0.5)
    assert stats["(0.2,0.4]"]["R10@1"]["sd"] == pytest.approx(np.std([0.4, 0.6], ddof=1))
    assert stats["(0.6,0.8]"]["R10@1"]["mean"] == pytest.approx(0.25)
    assert stats["(0.0,0.2]"] == {"count": 0, "R10@1": None, "MAP": None}
    assert "| (0.2,0.4] | 30 | 0.500 ± 0.141 | 0.600 ± 0.141 |" in lines
    assert "| (0.8,1.0] | 0 | – | – |" in lines
    figures.ssim_bars(str(tmp_path / "f.png"), stats, "Figure 10")
    assert _png_size(tmp_path / "f.png")[0] > 300
    no_ssim = _record(tmp_path, "X", 1, metrics)
    with pytest.raises(ValueError, match="no by_ssim: evaluate the run with bin/evaluate --ssim"):
        figures.ssim_table([no_ssim])


# ------------------------------------------------------- smoke runs
def _run(name, results, *extra):
    cmd = [PY, RUN, name, "--scale=smoke", f"--results_dir={results}", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=ENV)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = results / name
    for file in ("table.md", "runs.json", "commands.txt", "figure.png"):
        assert (out / file).is_file(), file
    assert _png_size(out / "figure.png")[0] > 300
    return out, json.load(open(out / "runs.json")), (out / "table.md").read_text()


@pytest.mark.slow
def test_smoke_figure7_trains_and_evaluates_each_context_length(tmp_path):
    out, runs, table = _run("figure7", tmp_path, "--systems=N=2,N=5")
    assert [r["system"] for r in runs["runs"]] == ["N=2", "N=5"]
    for r, n in zip(runs["runs"], (2, 5)):
        config = json.load(open(os.path.join(r["run_dir"], "config.json")))
        assert config["context_turns"] == n and config["model"]["context_len"] == n
    assert runs["curve"]["x"] == [2, 5]
    assert runs["curve"]["MAP"]["mean"][0] == pytest.approx(runs["runs"][0]["metrics"]["MAP"])
    assert "| setting | seeds |" in table and "| N=2 | 1 |" in table
    assert "| setting vs N=5 |" in table and "| N=2 | t = " in table  # paired t-test
    assert "rise until N = 15" in table  # the paper's finding beside ours
    assert "--context_turns=2" in (out / "commands.txt").read_text()
    # the smoke TFRecords store 5 turns: no second build for N <= 5
    assert sorted(os.listdir(tmp_path / "_data" / "smoke")) == ["DATA", "TFREC"]


@pytest.mark.slow
def test_smoke_figure11_trains_the_hidden_size_of_its_row(tmp_path):
    # One row (figure7 above covers several rows, the curve and the t-tests).
    out, runs, table = _run("figure11", tmp_path, "--systems=hidden 50")
    (record,) = runs["runs"]
    assert record["system"] == "hidden 50"
    config = json.load(open(os.path.join(record["run_dir"], "config.json")))
    assert config["model"]["hidden_dim"] == 50
    assert runs["curve"]["x"] == [50]
    assert runs["curve"]["R10@1"]["mean"] == [pytest.approx(record["metrics"]["R10@1"])]
    assert "| hidden 50 | 1 |" in table and "from 50 to 100 MAP and R10@1 rise" in table


@pytest.mark.slow
def test_smoke_figure10_buckets_the_test_examples_by_ssim(tmp_path):
    out, runs, table = _run("figure10", tmp_path)
    (record,) = runs["runs"]
    evaluated = json.load(open(os.path.join(record["run_dir"], "eval_test.json")))
    counts = [runs["by_ssim"][name]["count"] for name in SSIM_BUCKET_NAMES]
    assert sum(counts) == evaluated["num_examples"] == runner.SMOKE_DEMO["test_size"]
    for name in SSIM_BUCKET_NAMES:
        if runs["by_ssim"][name]["count"]:
            want = evaluated["by_ssim"][name]["R10@1"]
            assert runs["by_ssim"][name]["R10@1"]["mean"] == pytest.approx(want)
    assert "## R10@1 by SSIM bucket" in table and "--ssim" in (out / "commands.txt").read_text()


@pytest.mark.slow
def test_smoke_figure8_draws_attention_of_test_examples(tmp_path):
    out, runs, table = _run("figure8", tmp_path)
    examples = runs["examples"]
    assert len(examples) == 3
    for ex in examples:
        assert len(ex["candidates"]) == 4 and ex["candidates"][0] == ex["selected"]
        assert len(set(ex["candidates"])) == 4
        assert ex["scores"][0] == max(ex["scores"])  # the selected sticker scores highest
        for attention in ex["sticker_attention"]:
            assert len(attention) == 9  # 75 px: 3 x 3 regions
            assert sum(attention) == pytest.approx(1.0, abs=1e-4)
        for words, weights in zip(ex["utterances"], ex["word_attention"]):
            assert len(words) == len(weights) and all(isinstance(w, str) for w in words)
            assert sum(weights) == pytest.approx(1.0, abs=1e-4) if words else True
    first = [ex["gt_rank"] == 1 for ex in examples]
    assert first == sorted(first, reverse=True)  # correct selections drawn first
    assert table.count("\n| ") >= 3 + 2 and "## The drawn examples" in table
