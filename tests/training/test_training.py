"""Tests of bin/train and the training loop: stages, resume, determinism,
distribution, divergence, and a short real training that learns."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO

PY = sys.executable
# Random-init Inception (no ImageNet file offline; the default is imagenet).
TINY_MODEL = ["--hidden_dim=16", "--emb_dim=16", "--inception_weights=none"]


def _train_cmd(tfrec, run, *extra):
    return [
        PY,
        os.path.join(REPO, "bin", "train"),
        f"--data_dir={tfrec}",
        f"--model_dir={run}",
        "--batch_size=8",
        "--log_every=1",
        *TINY_MODEL,
        *extra,
    ]


def _env(**extra):
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.update(extra)
    return env


def _config(tfrec, run, **overrides):
    from srs_tf.model_config import SRSConfig
    from srs_tf.run_config import TrainConfig

    values = dict(
        data_dir=tfrec,
        model_dir=str(run),
        batch_size=4,
        warmup_batch_size=4,
        emoji_warmup_steps=2,
        train_steps=2,
        log_every=1,
        checkpoint_every=1,
        eval_examples=8,
        model=SRSConfig(hidden_dim=8, emb_dim=8, inception_weights="none"),
    )
    values.update(overrides)
    return TrainConfig(**values)


def _weights(layer):
    return [np.array(w) for w in layer.get_weights()]


def _changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


@pytest.mark.slow
def test_warmup_trains_only_the_sticker_encoder_then_everything(demo_tfrec_small, tmp_path):
    from srs_tf.training.trainer import Trainer

    trainer = Trainer(_config(demo_tfrec_small, tmp_path / "run"), verbose=False)
    enc0, match0 = _weights(trainer.encoder), _weights(trainer.matcher)
    step = trainer._run_warmup(0, 2, seed=0)
    assert step == 2 and int(trainer.step.numpy()) == 2
    enc1, match1 = _weights(trainer.encoder), _weights(trainer.matcher)
    assert _changed(enc0, enc1), "the warm-up must train the sticker encoder"
    assert not _changed(match0, match1), "the warm-up must not touch the matcher"
    trainer._run_joint(step, seed=0)
    enc2, match2 = _weights(trainer.encoder), _weights(trainer.matcher)
    assert int(trainer.step.numpy()) == 4
    assert _changed(match1, match2) and _changed(enc1, enc2), "joint training trains everything"


def test_frozen_mode_trains_only_the_matcher_on_cached_features(demo_tfrec_small, tmp_path):
    from srs_tf.training.trainer import Trainer

    trainer = Trainer(
        _config(demo_tfrec_small, tmp_path / "run", sticker_encoder="frozen", emoji_warmup_steps=0),
        verbose=False,
    )
    trainable0 = [np.array(v) for v in trainer.encoder.trainable_variables]
    match0 = _weights(trainer.matcher)
    bn = [v for v in trainer.encoder.non_trainable_variables if "moving_mean" in v.path][0]
    summary = trainer.train()
    assert summary["step"] == 2
    assert trainer.frozen_features is not None
    regions, flat = trainer.frozen_features
    assert regions.shape[0] == flat.shape[0] == len(trainer.bank)
    assert not _changed(trainable0, [np.array(v) for v in trainer.encoder.trainable_variables])
    # Random init: BN statistics calibrated on the bank before the encoding.
    assert not np.allclose(np.array(bn), 0.0)
    assert _changed(match0, _weights(trainer.matcher))
    # The cached path scores exactly as running the encoder on the images.
    cached = trainer.score("val", max_examples=8)["scores"]
    trainer.frozen_features = None
    direct = trainer.score("val", max_examples=8)["scores"]
    np.testing.assert_allclose(cached, direct, atol=2e-3)


def test_no_classify_skips_warmup_and_emoji_loss(demo_tfrec_small, tmp_path):
    from srs_tf.model_config import SRSConfig
    from srs_tf.training.trainer import Trainer

    config = _config(
        demo_tfrec_small,
        tmp_path / "run",
        emoji_warmup_steps=5,
        train_steps=1,
        model=SRSConfig(hidden_dim=8, emb_dim=8, ablation="no_classify", inception_weights="none"),
    )
    assert config.warmup_steps == 0
    trainer = Trainer(config, verbose=False)
    head = trainer.encoder.get_layer("inception_sticker_encoder").emoji_classifier
    before = _weights(head)
    summary = trainer.train()
    assert summary["step"] == 1
    assert not _changed(before, _weights(head)), "no_classify must not train the emoji head"


def test_nan_loss_stops_with_a_clear_message(demo_tfrec_small, tmp_path, monkeypatch):
    import tensorflow as tf

    from srs_tf.model import losses
    from srs_tf.training.trainer import Trainer, TrainingDiverged

    monkeypatch.setattr(
        losses, "hinge_loss", lambda scores, label, margin: tf.constant(float("nan"))
    )
    # Frozen mode: the same joint step and finiteness check without tracing Inception's
    # backward pass (a minute on the 2-core CPU).
    trainer = Trainer(
        _config(demo_tfrec_small, tmp_path / "run", emoji_warmup_steps=0, sticker_encoder="frozen"),
        verbose=False,
    )
    with pytest.raises(TrainingDiverged, match="hinge_loss is nan at step 1"):
        trainer.train()
    marker = json.load(open(tmp_path / "run" / "diverged.json"))
    assert marker["step"] == 1 and marker["loss"] == "hinge_loss"


@pytest.mark.slow
def test_same_seed_gives_identical_metrics(demo_tfrec_small, tmp_path):
    """Two runs with one seed: the same validation metrics. Frozen mode
    without the warm-up (whose Inception backward pass takes a minute to
    trace on the 2-core CPU): the seed fixes the initial weights, the batch
    norm calibration, the encoded bank, the negatives and the batch order."""
    args = [
        "--sticker_encoder=frozen",
        "--emoji_warmup_steps=0",
        "--train_steps=4",
        "--eval_examples=16",
        "--seed=7",
    ]
    results = []
    for name in ("a", "b"):
        run = tmp_path / name
        subprocess.run(
            _train_cmd(demo_tfrec_small, run, *args),
            check=True,
            env=_env(),
            capture_output=True,
            timeout=300,
        )
        results.append(json.load(open(run / "train_summary.json"))["val"])
    assert results[0] == results[1]


def _latest_complete_checkpoint_step(ckpt_dir):
    import tensorflow as tf

    path = tf.train.latest_checkpoint(str(ckpt_dir))  # from the state file; None before any
    return None if path is None else int(path.rsplit("-", 1)[1])


@pytest.mark.slow
def test_resume_after_sigkill_continues_the_step(demo_tfrec_small, tmp_path):
    run = tmp_path / "run"
    cmd = _train_cmd(
        demo_tfrec_small,
        run,
        "--sticker_encoder=frozen",
        "--emoji_warmup_steps=0",
        "--train_steps=400",
        "--checkpoint_every=2",
        "--eval_every=1000",
        "--eval_examples=8",
    )
    proc = subprocess.Popen(
        cmd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    ckpt_dir = run / "ckpt"
    deadline = time.time() + 240
    killed_after = None
    while time.time() < deadline:
        # The checkpoint state file names the last *complete* checkpoint (TF rewrites it
        # atomically after the data and index files); a ckpt-N.index on disk alone may
        # belong to a save that the kill interrupts.
        step = _latest_complete_checkpoint_step(ckpt_dir)
        if step is not None and step >= 6:
            killed_after = step
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    proc.wait(timeout=30)
    assert killed_after is not None, "no checkpoint appeared before the deadline"
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "train_summary.json").exists()

    cmd_short = [a if not a.startswith("--train_steps") else "--train_steps=12" for a in cmd]
    second = subprocess.run(cmd_short, env=_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    out = second.stdout + second.stderr
    resumed = [line for line in out.splitlines() if "resumed from" in line]
    assert resumed, out
    resumed_step = int(resumed[0].rsplit("step", 1)[1])
    assert resumed_step >= killed_after >= 6
    first_logged = [
        int(line.split(" step ")[1].split()[0])
        for line in out.splitlines()
        if line.startswith("[train] ") and " step " in line
    ]
    assert first_logged and first_logged[0] == resumed_step + 1, "the step continues, not restarts"
    assert json.load(open(run / "train_summary.json"))["step"] == 12


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_mirrored_mixed_precision_trains_with_float32_weights(demo_tfrec_small, tmp_path):
    """The GPU flags on CPU: MirroredStrategy (one CPU device) with float16 compute.
    Both stages run, losses and metrics stay finite, and the checkpoint keeps
    float32 weights (Keras' mixed policy: float16 compute, float32 variables)."""
    import tensorflow as tf

    run = tmp_path / "run"
    result = subprocess.run(
        _train_cmd(
            demo_tfrec_small,
            run,
            "--strategy=mirrored",
            "--mixed_precision",
            "--emoji_warmup_steps=1",
            "--warmup_batch_size=4",
            "--train_steps=2",
            "--eval_examples=16",
        ),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.load(open(run / "train_summary.json"))
    assert summary["config"]["strategy"] == "mirrored" and summary["config"]["mixed_precision"]
    assert summary["step"] == 3 and np.isfinite(summary["val"]["MAP"])
    losses = [
        float(line.split("L_r ")[1].split()[0])
        for line in result.stdout.splitlines()
        if line.startswith("[train] ") and " L_r " in line
    ]
    assert len(losses) == 2 and all(np.isfinite(losses))
    reader = tf.train.load_checkpoint(str(run / "ckpt"))
    dtypes = reader.get_variable_to_dtype_map()
    weights = [
        name
        for name in dtypes
        if name.startswith(("encoder/", "matcher/")) and "OPTIMIZER" not in name
    ]
    assert len(weights) > 100 and all(dtypes[name] == tf.float32 for name in weights)


@pytest.mark.slow
def test_multi_worker_two_workers_on_loopback(demo_tfrec_small, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    run = tmp_path / "run"
    scratch = tmp_path / "scratch"  # TMPDIR: where the non-chief worker saves
    scratch.mkdir()
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        # No warm-up: a step under a strategy is what the mirrored test above
        # covers with the warm-up; here the collective joint steps, the chief's
        # checkpoint and the non-chief's scratch directory.
        cmd = _train_cmd(
            demo_tfrec_small,
            run,
            "--strategy=multi_worker",
            "--sticker_encoder=frozen",
            "--emoji_warmup_steps=0",
            "--train_steps=3",
            "--eval_examples=8",
        )
        procs.append(
            subprocess.Popen(
                cmd,
                env=_env(TF_CONFIG=tf_config, TMPDIR=str(scratch)),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=420)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    summary = json.load(open(run / "train_summary.json"))
    assert summary["step"] == 3
    assert summary["config"]["strategy"] == "multi_worker"
    assert (run / "ckpt" / "checkpoint").exists()
    assert not [p.name for p in scratch.glob("srs_worker*")], "worker scratch left behind"


def test_bad_flags_are_named(demo_tfrec_small, tmp_path):
    result = subprocess.run(
        _train_cmd(demo_tfrec_small, tmp_path / "run", "--train_steps=-1"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "--train_steps" in result.stderr


def test_resume_with_another_model_config_is_refused(demo_tfrec_small, tmp_path):
    from srs_tf.training.trainer import Trainer

    Trainer(_config(demo_tfrec_small, tmp_path / "run"), verbose=False)
    from srs_tf.model_config import SRSConfig

    with pytest.raises(ValueError, match="another model config"):
        other = SRSConfig(hidden_dim=12, emb_dim=8, inception_weights="none")
        Trainer(_config(demo_tfrec_small, tmp_path / "run", model=other), verbose=False)


@pytest.mark.slow
def test_short_training_on_demo_data_learns_and_evaluates(learnable_tfrec_small, tmp_path):
    """A real (CPU-sized) bin/train run on demo data ranks the ground truth
    far above chance (MAP 0.293, R10@1 0.1) and above what sticker
    popularity alone gives on these builds (MAP about 0.38), on validation
    during training and on the held-out test split through bin/evaluate.
    Calibration (2-core CPU, seed 1234, 75 px, 12 words): validation MAP
    0.41 / 0.43 / 0.45 / 0.49 and R10@1 0.23 / 0.25 / 0.27 / 0.31 after
    100 / 200 / 300 / 400 steps; the run takes about 100 s."""
    learnable_tfrec = learnable_tfrec_small
    run = tmp_path / "run"
    result = subprocess.run(
        [
            PY,
            os.path.join(REPO, "bin", "train"),
            f"--data_dir={learnable_tfrec}",
            f"--model_dir={run}",
            "--inception_weights=none",
            "--sticker_encoder=frozen",
            "--emoji_warmup_steps=0",
            "--train_steps=400",
            "--eval_every=100",
            "--learning_rate=3e-4",
            "--log_every=100",
            "--seed=1234",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    best = json.load(open(run / "best.json"))["val"]
    assert best["MAP"] >= 0.42 and best["R10@1"] >= 0.2, best

    result = subprocess.run(
        [
            PY,
            os.path.join(REPO, "bin", "evaluate"),
            f"--data_dir={learnable_tfrec}",
            f"--model_dir={run}",
            "--split=test",
            f"--scores_out={tmp_path / 'scores.tsv'}",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    test_metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert test_metrics["MAP"] >= 0.4 and test_metrics["R10@1"] >= 0.18, test_metrics
    report = json.load(open(run / "eval_test.json"))
    assert report["num_examples"] == 400 and "by_turns" in report and "by_ssim" in report
    lines = open(tmp_path / "scores.tsv").read().splitlines()
    assert len(lines) == 400 * 10 and sum(line.endswith("\t1") for line in lines) == 400
