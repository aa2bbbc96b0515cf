"""experiments/run.py and srs_tf.experiments (docs/EXPERIMENTS.md): the plan of
each experiment, the statistics of table.md on hand-made runs, the data
checks, and a real smoke-scale run that is skipped when rerun."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from srs_tf.evaluation.scores_file import write_scores_file
from srs_tf.experiments import plan as plan_lib
from srs_tf.experiments import report, runner

PY = sys.executable
RUN = os.path.join(REPO, "experiments", "run.py")


# ------------------------------------------------------------------ plan
def test_table3_plans_the_six_systems_with_each_seed():
    specs = plan_lib.plan("table3", "demo")
    assert [s.system for s in specs[::3]] == ["Synergistic", "PSAC", "SMN", "DAM", "MRFN", "SRS"]
    assert [s.seed for s in specs[:3]] == [1, 2, 3]
    dam = specs[9]
    assert dam.name == "dam-seed1"
    assert dam.train_flags == ("--preset=cpu", "--model=dam", "--seed=1")


def test_table4_plans_the_ablations_and_extra_flags_come_last():
    specs = plan_lib.plan("table4", "paper", seeds=(7,), extra_flags=("--train_steps=9",))
    assert [s.system for s in specs] == [
        "SRS w/o pretrain",
        "SRS w/o Classify",
        "SRS w/o DIN",
        "SRS w/o FR",
        "SRS",
    ]
    assert specs[2].train_flags == (
        "--preset=paper",
        "--ablation=no_din",
        "--seed=7",
        "--train_steps=9",
    )
    assert specs[2].name == "srs_w_o_din-seed7"


def test_systems_filter_and_errors():
    specs = plan_lib.plan("table3", "smoke", systems=("srs", "DAM"))
    assert [s.system for s in specs] == ["DAM", "SRS"]
    with pytest.raises(ValueError, match="unknown experiment 'table9'"):
        plan_lib.plan("table9", "demo")
    with pytest.raises(ValueError, match="unknown --scale='huge'"):
        plan_lib.plan("table3", "huge")
    with pytest.raises(ValueError, match="table4 has no row BERT"):
        plan_lib.plan("table4", "demo", systems=("BERT",))


# --------------------------------------------------------------- report
def _fake_run(root, name, system, seed, ranks, seconds=60.0):
    """A finished run whose test scores rank the ground truth at ``ranks``."""
    run_dir = os.path.join(root, name)
    os.makedirs(run_dir)
    n = len(ranks)
    scores = np.tile(np.linspace(1.0, 0.1, 10), (n, 1))
    labels = np.zeros((n, 10), int)
    labels[np.arange(n), np.asarray(ranks) - 1] = 1
    write_scores_file(os.path.join(run_dir, runner.SCORES_FILE), scores, labels)
    rank = np.asarray(ranks, float)
    metrics = {
        "MAP": float(np.mean(1 / rank)),
        "R10@1": float(np.mean(rank <= 1)),
        "R10@2": float(np.mean(rank <= 2)),
        "R10@5": float(np.mean(rank <= 5)),
    }
    return {
        "name": name,
        "system": system,
        "seed": seed,
        "run_dir": run_dir,
        "train_flags": [],
        "seconds": seconds,
        "metrics": metrics,
    }


def test_table_statistics_on_hand_made_runs(tmp_path):
    rng = np.random.default_rng(0)
    srs_ranks = [rng.integers(1, 4, 200), rng.integers(1, 4, 200)]
    records = [
        _fake_run(tmp_path, "srs-1", "SRS", 1, srs_ranks[0]),
        _fake_run(tmp_path, "srs-2", "SRS", 2, srs_ranks[1]),
        # SMN: the ground truth always last -> far worse than SRS
        _fake_run(tmp_path, "smn-1", "SMN", 1, [10] * 200, seconds=120.0),
        _fake_run(tmp_path, "smn-2", "SMN", 2, [10] * 200, seconds=180.0),
        # DAM: SRS's ranks of seed 1 in both seeds -> tied with SRS on seed 1
        _fake_run(tmp_path, "dam-1", "DAM", 1, srs_ranks[0]),
    ]
    table, stats = report.table_markdown("T", records, runner.SCORES_FILE)
    srs_r1 = [np.mean(r == 1) for r in srs_ranks]
    row = stats["rows"]["SRS"]
    assert row["R10@1"]["mean"] == pytest.approx(np.mean(srs_r1))
    assert row["R10@1"]["sd"] == pytest.approx(np.std(srs_r1, ddof=1))
    assert stats["rows"]["SMN"]["MAP"] == {"mean": pytest.approx(0.1), "sd": 0.0}
    assert stats["rows"]["SMN"]["minutes_per_run"] == pytest.approx(2.5)
    assert stats["rows"]["DAM"]["MAP"]["sd"] is None  # one seed
    smn = stats["t_tests"]["SMN"]
    assert smn["MAP"]["mark"] == "▼" and smn["MAP"]["t"] < 0 and smn["MAP"]["p"] < 0.01
    assert smn["R10@1"]["seeds"] == [1, 2]
    dam = stats["t_tests"]["DAM"]
    assert dam["MAP"] == {"t": 0.0, "p": 1.0, "mark": "", "seeds": [1]}  # paired on seed 1 only
    lines = table.splitlines()
    smn_line = next(line for line in lines if line.startswith("| SMN | 2 |"))
    assert "0.100 ± 0.000 ▼" in smn_line and "0.524 / 0.357 / 0.488 / 0.737" in smn_line
    assert "| DAM | 1 |" in table and "± –" in table
    assert any(line.startswith("| SMN | t = ") for line in lines)


def test_demo_scale_trains_from_random_weights_like_make_demo(monkeypatch, capsys):
    from srs_tf.experiments import experiment
    from srs_tf.model import imagenet

    def missing():
        raise imagenet.ImageNetWeightsUnavailable("not in the cache")

    monkeypatch.setattr(imagenet, "ensure_imagenet_weights", missing)
    assert experiment.imagenet_fallback("demo", ()) == ("--inception_weights=none",)
    assert "Inception-v3 from random weights" in capsys.readouterr().out
    # an explicit choice, the smoke scale (already random) and the paper scale never change
    assert experiment.imagenet_fallback("demo", ("--inception_weights=/w.h5",)) == ()
    assert experiment.imagenet_fallback("paper", ()) == ()
    assert experiment.imagenet_fallback("smoke", ()) == ()
    monkeypatch.setattr(imagenet, "ensure_imagenet_weights", lambda: "/cache/file.h5")
    assert experiment.imagenet_fallback("demo", ()) == ()
    # the fallback comes before the user's flags, so theirs still win in bin/train
    specs = plan_lib.plan("table4", "demo", (1,), None, ("--inception_weights=none", "--x=1"))
    assert specs[0].train_flags[-2:] == ("--inception_weights=none", "--x=1")


def test_table4_leaves_out_no_pretrain_where_every_row_is_random_init():
    rows = [
        s.system for s in plan_lib.plan("table4", "demo", (1,), None, ("--inception_weights=none",))
    ]
    assert rows == ["SRS w/o Classify", "SRS w/o DIN", "SRS w/o FR", "SRS"]
    assert "SRS w/o pretrain" not in [s.system for s in plan_lib.plan("table4", "smoke")]
    # the last --inception_weights wins, as in bin/train
    flags = ("--inception_weights=none", "--inception_weights=/w.h5")
    assert plan_lib.plan("table4", "demo", (1,), None, flags)[0].system == "SRS w/o pretrain"
    assert not plan_lib.random_init(("--preset=cpu",))
    with pytest.raises(ValueError, match="would be the SRS row again"):
        plan_lib.plan("table4", "smoke", systems=("SRS w/o pretrain", "SRS"))


def test_data_problems_are_named(tmp_path):
    with pytest.raises(runner.ExperimentError, match="--scale=paper needs --data_dir"):
        runner.prepare_data("paper", str(tmp_path), None)
    with pytest.raises(runner.ExperimentError, match="is not a TFREC directory"):
        runner.prepare_data("demo", str(tmp_path), str(tmp_path))
    result = subprocess.run(
        [PY, RUN, "table3", "--scale=paper", f"--results_dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "--scale=paper needs --data_dir" in result.stderr


# ------------------------------------------------------------ smoke run
@pytest.mark.slow
def test_smoke_table3_runs_writes_its_files_and_skips_when_rerun(tmp_path):
    cmd = [PY, RUN, "table3", "--scale=smoke", f"--results_dir={tmp_path}", "--systems=smn"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[table3] 1/1 runs" in result.stderr and "ETA" in result.stderr  # progress
    out = tmp_path / "table3"
    runs = json.load(open(out / "runs.json"))
    assert [(r["system"], r["seed"]) for r in runs["runs"]] == [("SMN", 1)]
    for r in runs["runs"]:
        evaluated = json.load(open(os.path.join(r["run_dir"], "eval_test.json")))
        assert r["metrics"]["MAP"] == pytest.approx(evaluated["MAP"])
        assert 0.0 < r["metrics"]["MAP"] <= 1.0 and r["seconds"] > 0
        assert (
            json.load(open(os.path.join(r["run_dir"], "config.json")))["model"]["image_size"] == 75
        )
    table = (out / "table.md").read_text()
    smn = runs["rows"]["SMN"]["MAP"]["mean"]
    assert f"| SMN | 1 | {smn:.3f} ± –" in table
    assert "0.524 / 0.357 / 0.488 / 0.737" in table  # the paper's SMN row beside it
    assert "chance (random ranking): MAP 0.293" in table
    commands = (out / "commands.txt").read_text().splitlines()
    assert len(commands) == 2
    assert "--model=smn" in commands[0] and "bin/evaluate" in commands[1]

    done = os.path.join(runs["runs"][0]["run_dir"], runner.DONE_FILE)
    before = os.path.getmtime(done)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 of 1 runs already done (skipped)" in result.stdout
    assert os.path.getmtime(done) == before
