"""Runs an experiment's training runs, resumably (docs/EXPERIMENTS.md).

Each run is ``bin/train`` then ``bin/evaluate`` in a subprocess, in
``DIR/NAME/runs/<system>-seed<k>/``. A run whose test evaluation exists is
skipped when the experiment is rerun; a run that was killed is resumed
(``bin/train`` continues from its newest checkpoint). Progress over the
runs is printed with a rate and an ETA.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time

from srs_tf import atomic
from srs_tf.experiments.plan import RunSpec
from srs_tf.progress import Progress

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNS_DIR = "runs"
DONE_FILE = "experiment_run.json"  # written last: its presence means "finished"
SCORES_FILE = "scores_test.tsv"

# The tiny build of --scale=smoke (a few seconds to generate).
SMOKE_DEMO = dict(
    num_sets=6,
    min_stickers=10,
    max_stickers=12,
    train_size=96,
    val_size=24,
    test_size=40,
    seed=5,
    min_turns=2,
    max_turns=4,
)


class ExperimentError(Exception):
    """A problem the user must fix (missing data, a failed run)."""


def prepare_data(scale: str, results_dir: str, data_dir: str | None, context_len: int = 0) -> str:
    """The TFREC directory of ``scale``: ``data_dir`` when given, else a
    demo build generated (once) under ``results_dir/_data/<scale>``.

    ``context_len``: utterances per context the TFRecords must store (Figure
    7 reads up to 20); a generated build gets TFRecords that store them.

    Raises:
      ExperimentError: ``paper`` without ``data_dir``, a ``data_dir`` that
        is not a TFREC directory (no ``meta.json``) or stores fewer than
        ``context_len`` utterances per context.
    """
    if data_dir:
        meta_path = os.path.join(data_dir, "meta.json")
        if not os.path.isfile(meta_path):
            raise ExperimentError(
                f"--data_dir={data_dir} is not a TFREC directory (no meta.json): make one with "
                "bin/make_tfrecords --data_dir=DATA --output_dir=TFREC"
            )
        with open(meta_path, encoding="utf-8") as f:
            stored = int(json.load(f)["context_len"])
        if stored < context_len:
            raise ExperimentError(
                f"--data_dir={data_dir} stores {stored} utterances per context, this experiment "
                f"reads up to {context_len}: rebuild it with bin/make_tfrecords "
                f"--context_len={context_len}"
            )
        return os.path.abspath(data_dir)
    if scale == "paper":
        raise ExperimentError(
            "--scale=paper needs --data_dir: the TFREC directory of the StickerChat release "
            "(bin/make_tfrecords --data_dir=<release folder> --output_dir=TFREC); the release "
            "is handed out by its authors on request"
        )
    from srs_tf.data.demo.generate import DemoConfig, generate
    from srs_tf.data.tfrecords import TFRecordsConfig, make_tfrecords

    # smoke: 5 turns and 75-px stickers (Inception's smallest input, 9 regions)
    options = {"context_len": 5, "max_words": 12, "image_size": 75} if scale == "smoke" else {}
    stored = options.get("context_len", TFRecordsConfig.context_len)
    name = "TFREC"
    if context_len > stored:
        options["context_len"] = context_len
        name = f"TFREC_context{context_len}"
    root = os.path.join(results_dir, "_data", scale)
    data, tfrec = os.path.join(root, "DATA"), os.path.join(root, name)
    if not os.path.isfile(os.path.join(tfrec, "meta.json")):
        os.makedirs(root, exist_ok=True)
        if not os.path.isfile(os.path.join(data, "stats.json")):
            print(f"generating the {scale} demo build in {data}", flush=True)
            values = SMOKE_DEMO if scale == "smoke" else {}
            generate(DemoConfig(output_dir=data, **values))
        print(f"writing its TFRecords to {tfrec}", flush=True)
        make_tfrecords(TFRecordsConfig(data_dir=data, output_dir=tfrec, progress=False, **options))
    return tfrec


def commands(spec: RunSpec, tfrec: str, run_dir: str) -> list[list[str]]:
    """The two commands of one run."""
    train = [
        sys.executable,
        os.path.join(REPO, "bin", "train"),
        f"--data_dir={tfrec}",
        f"--model_dir={run_dir}",
        *spec.train_flags,
    ]
    evaluate = [
        sys.executable,
        os.path.join(REPO, "bin", "evaluate"),
        f"--data_dir={tfrec}",
        f"--model_dir={run_dir}",
        "--split=test",
        f"--scores_out={os.path.join(run_dir, SCORES_FILE)}",
        *spec.eval_flags,
    ]
    return [train, evaluate]


def is_done(run_dir: str) -> bool:
    return os.path.isfile(os.path.join(run_dir, DONE_FILE))


def _run(command: list[str], log_path: str) -> None:
    with open(log_path, "a", encoding="utf-8") as log:
        log.write("$ " + shlex.join(command) + "\n")
        log.flush()
        env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    if result.returncode != 0:
        raise ExperimentError(
            f"{shlex.join(command[:2])} ... failed (exit {result.returncode}); see {log_path}"
        )


def run_all(specs: list[RunSpec], tfrec: str, out_dir: str, verbose: bool = True) -> list[dict]:
    """Runs (or skips, or resumes) every run; returns their records.

    A record: ``{"name", "system", "seed", "run_dir", "train_flags",
    "seconds", "metrics"}`` (test metrics of ``bin/evaluate``).
    """
    runs_root = os.path.join(out_dir, RUNS_DIR)
    os.makedirs(runs_root, exist_ok=True)
    pending = [s for s in specs if not is_done(os.path.join(runs_root, s.name))]
    progress = Progress(
        os.path.basename(out_dir),
        len(specs),
        "runs",
        every_s=0.0,
        enabled=verbose,
        start=len(specs) - len(pending),
    )
    if verbose and len(pending) < len(specs):
        print(
            f"{len(specs) - len(pending)} of {len(specs)} runs already done (skipped)", flush=True
        )
    done = len(specs) - len(pending)
    for spec in pending:
        run_dir = os.path.join(runs_root, spec.name)
        os.makedirs(run_dir, exist_ok=True)
        log_path = os.path.join(run_dir, "experiment.log")
        start = time.perf_counter()
        for command in commands(spec, tfrec, run_dir):
            _run(command, log_path)
        seconds = time.perf_counter() - start
        metrics = test_metrics(run_dir)
        atomic.write_json(
            os.path.join(run_dir, DONE_FILE),
            {"system": spec.system, "seed": spec.seed, "seconds": seconds},
        )
        done += 1
        progress.set(done, note=f"{spec.name}: R10@1 {metrics['R10@1']:.3f} ({seconds:.0f}s)")
    progress.close()
    return [record(spec, os.path.join(runs_root, spec.name)) for spec in specs]


def test_metrics(run_dir: str) -> dict[str, float]:
    """The test metrics ``bin/evaluate`` wrote for a run."""
    from srs_tf.evaluation.metrics import METRIC_NAMES

    with open(os.path.join(run_dir, "eval_test.json"), encoding="utf-8") as f:
        report = json.load(f)
    return {name: float(report[name]) for name in METRIC_NAMES}


def record(spec: RunSpec, run_dir: str) -> dict:
    with open(os.path.join(run_dir, DONE_FILE), encoding="utf-8") as f:
        done = json.load(f)
    metrics = test_metrics(run_dir)
    return {
        "name": spec.name,
        "system": spec.system,
        "seed": spec.seed,
        "run_dir": run_dir,
        "train_flags": list(spec.train_flags),
        "seconds": done["seconds"],
        "metrics": metrics,
    }
