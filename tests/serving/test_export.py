"""SavedModel export (docs/DESIGN.md#savedmodel-contract, docs/SERVING.md):
bin/export end to end on a fabricated run directory, signatures checked
against the Keras model."""

import json
import os
import site
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO
from model_helpers import calibrated_model

from srs_tf.data.release import encode_context
from srs_tf.data.vocab import Vocab
from srs_tf.model_config import SRSConfig
from srs_tf.run_config import TrainConfig
from srs_tf.serving import export as export_lib

EXPORT = os.path.join(REPO, "bin", "export")
CFG = SRSConfig(
    vocab_size=50,
    emoji_vocab_size=8,
    emb_dim=16,
    hidden_dim=16,
    context_len=4,
    max_words=6,
    inception_weights="none",
)
WORDS = ["今天", "好", "开心", "你好", "哈哈"] + [f"w{i}" for i in range(43)]
VOCAB = ["[PAD]", "[UNK]"] + WORDS
EMOJI = ["[PAD]", "[UNK]", "😀", "😂", "😍", "😭", "😡", "👍"]
STEP = 7
VAL = {"MAP": 0.61, "R10@1": 0.42}


def make_inputs(seed=1, batch=2, candidates=5):
    rng = np.random.default_rng(seed)
    ctx = np.zeros((batch, CFG.context_len, CFG.max_words), np.int32)
    turns = np.array([2, CFG.context_len] + [1] * (batch - 2), np.int32)[:batch]
    for b in range(batch):
        for t in range(turns[b]):
            n = rng.integers(1, CFG.max_words + 1)
            ctx[b, t, :n] = rng.integers(1, CFG.vocab_size, n)
    images = rng.integers(0, 256, (batch, candidates, 128, 128, 3), dtype=np.uint8)
    return ctx, turns, images


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A bin/train-like run directory (config.json, best checkpoint, best.json)
    over a minimal TFREC directory, and the Keras model it holds."""
    root = tmp_path_factory.mktemp("run")
    tfrec, run_dir = root / "tfrec", root / "run"
    tfrec.mkdir()
    run_dir.mkdir()
    Vocab(WORDS).save(str(tfrec / "vocab"))
    Vocab(EMOJI[2:]).save(str(tfrec / "emoji_vocab"))
    meta = {
        "vocab_size": CFG.vocab_size,
        "emoji_vocab_size": CFG.emoji_vocab_size,
        "context_len": CFG.context_len,
        "max_words": CFG.max_words,
        "num_candidates": CFG.num_candidates,
        "image_size": 128,
        "train_examples": 64,
    }
    (tfrec / "meta.json").write_text(json.dumps(meta))
    train = TrainConfig(
        data_dir=str(tfrec), model_dir=str(run_dir), model=CFG, emoji_warmup_steps=0, train_steps=1
    )
    (run_dir / "config.json").write_text(train.to_json())
    model = calibrated_model(CFG)
    step = tf.Variable(STEP, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(
        encoder=model.get_layer("sticker_encoder"), matcher=model.get_layer("matcher"), step=step
    )
    tf.train.CheckpointManager(checkpoint, str(run_dir / "best"), max_to_keep=1).save(
        checkpoint_number=STEP
    )
    (run_dir / "best.json").write_text(json.dumps({"step": STEP, "val": VAL}))
    return {"root": root, "run_dir": str(run_dir), "tfrec": str(tfrec), "model": model}


def run_export(*args):
    return subprocess.run(
        [sys.executable, EXPORT, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def exported(run):
    export_dir = str(run["root"] / "saved")
    proc = run_export(f"--model_dir={run['run_dir']}", f"--export_dir={export_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["step"] == STEP
    return export_dir


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported)


def keras_scores(model, ctx, turns, images, eager=False):
    inputs = {
        "context_ids": tf.constant(ctx),
        "num_turns": tf.constant(turns),
        "candidates": tf.constant(images),
    }
    if eager:
        return model(inputs, training=False)["scores"].numpy()
    return tf.function(lambda x: model(x, training=False))(inputs)["scores"].numpy()


def test_export_directory_contents(exported):
    names = set(os.listdir(exported))
    assert {
        "saved_model.pb",
        "variables",
        "vocab",
        "emoji_vocab",
        export_lib.EXPORT_INFO_FILE,
    } <= names
    assert not [n for n in os.listdir(os.path.dirname(exported)) if ".tmp-" in n]
    info = export_lib.load_export_info(exported)
    assert info["config"] == CFG.to_dict()
    assert info["step"] == STEP and info["val"] == VAL
    assert set(info["signatures"]) == set(export_lib.SIGNATURES)
    assert info["signatures"]["serving_default"]["inputs"]["context_ids"] == [
        "int32",
        ["B", CFG.context_len, CFG.max_words],
    ]
    with open(os.path.join(exported, "vocab"), encoding="utf-8") as f:
        assert f.read().splitlines() == VOCAB
    with open(os.path.join(exported, "emoji_vocab"), encoding="utf-8") as f:
        assert f.read().splitlines() == EMOJI


def test_signatures_and_specs(loaded):
    assert set(loaded.signatures) == set(export_lib.SIGNATURES)
    sig = loaded.signatures["serving_default"]
    specs = sig.structured_input_signature[1]
    assert specs["context_ids"].dtype == tf.int32
    assert specs["candidates"].dtype == tf.uint8
    assert specs["candidates"].shape.as_list() == [None, None, 128, 128, 3]
    assert set(sig.structured_outputs) == {"scores"}
    assert (
        loaded.signatures["rank_text"].structured_input_signature[1]["utterances"].dtype
        == tf.string
    )
    outs = loaded.signatures["encode_stickers"].structured_outputs
    assert {"sticker_regions", "sticker_flat", "emoji_logits", "emoji"} <= set(outs)


CLEAN_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.append({site!r})
    try:
        import srs_tf
        raise SystemExit("srs_tf is importable in the clean process")
    except ImportError:
        pass
    import numpy as np
    import tensorflow as tf
    data = np.load({inputs!r})
    m = tf.saved_model.load({export!r})
    out = m.signatures["serving_default"](context_ids=tf.constant(data["ctx"]),
                                          candidates=tf.constant(data["images"]))
    text = m.signatures["rank_text"](utterances=tf.constant(data["utterances"]),
                                     candidates=tf.constant(data["images"]))
    np.savez({result!r}, scores=out["scores"].numpy(), text=text["scores"].numpy(),
             modules=np.array(sorted(k for k in sys.modules if k.startswith("srs"))))
""")


def ids_to_utterances(ctx, turns):
    rows = []
    for b in range(len(ctx)):
        rows.append(
            [" ".join(VOCAB[i] for i in ctx[b, t] if i) for t in range(turns[b])]
            + [""] * (CFG.context_len - turns[b])
        )
    return np.array(rows, dtype=object)


def test_clean_process_scores_equal_keras(run, exported, tmp_path):
    ctx, turns, images = make_inputs()
    ctx[ctx == 1] = 2  # [UNK] ids have no word to write back as text
    utterances = ids_to_utterances(ctx, turns)
    inputs, result = str(tmp_path / "in.npz"), str(tmp_path / "out.npz")
    np.savez(inputs, ctx=ctx, images=images, utterances=utterances.astype(str))
    script = CLEAN_SCRIPT.format(
        site=site.getsitepackages()[0], inputs=inputs, export=exported, result=result
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # -I: no PYTHONPATH, no user site, no cwd; -S: no site-packages .pth files, so
    # the editable install of srs_tf is invisible; tensorflow comes from sys.path.
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(result)
    assert out["modules"].size == 0
    graph = keras_scores(run["model"], ctx, turns, images)
    eager = keras_scores(run["model"], ctx, turns, images, eager=True)
    assert out["scores"].shape == (2, 5) and out["scores"].dtype == np.float32
    # the scores differ between candidates by far more than the tolerance
    assert np.ptp(out["scores"], axis=1).min() > 1e-3
    np.testing.assert_allclose(out["scores"], graph, atol=1e-5, rtol=0)
    # eager Keras runs unfused kernels: differences up to ~5e-5 after 94 conv layers
    np.testing.assert_allclose(out["scores"], eager, atol=2e-4, rtol=0)
    np.testing.assert_allclose(out["text"], out["scores"], atol=1e-6, rtol=0)


def test_rank_text_layout_equals_serving_default(loaded):
    """Empty turns dropped, last context_len kept, words cut to max_words,
    unknown words -> [UNK]; same ids as the data pipeline's encode_context."""
    contexts = [
        ["今天 好 开心", "", "zzz 你好", "   ", "w1 w2 w3 w4 w5 w6 w7 w8", "哈哈", "w9 [PAD] w10"],
        ["", "", "", "", "", "", "开心"],
    ]
    vocab = Vocab(WORDS)
    expected = np.stack(
        [encode_context(c, vocab, CFG.context_len, CFG.max_words)[0] for c in contexts]
    )
    turns = np.array(
        [encode_context(c, vocab, CFG.context_len, CFG.max_words)[1] for c in contexts], np.int32
    )
    assert turns.tolist() == [4, 1]
    _, _, images = make_inputs(seed=3, batch=2, candidates=3)
    encoded = loaded.encode_stickers(tf.constant(images.reshape(-1, 128, 128, 3)))
    regions = tf.reshape(encoded["sticker_regions"], [2, 3, -1, 768])
    flat = tf.reshape(encoded["sticker_flat"], [2, 3, 2048])
    out = loaded.rank_text_encoded(tf.constant(contexts), regions, flat)
    got = out["context_ids"].numpy()
    # a literal "[PAD]" typed by a user is an unknown word, not padding
    expected[0, 3, 1] = 1
    np.testing.assert_array_equal(got, expected)
    assert out["num_turns"].numpy().tolist() == [4, 1]
    words = out["context_words"].numpy()
    assert [w.decode() for w in words[0, 1] if w] == ["w1", "w2", "w3", "w4", "w5", "w6"]
    text = loaded.signatures["rank_text"](
        utterances=tf.constant(contexts), candidates=tf.constant(images)
    )["scores"].numpy()
    ids = loaded.signatures["serving_default"](
        context_ids=tf.constant(got), candidates=tf.constant(images)
    )["scores"].numpy()
    np.testing.assert_allclose(text, ids, atol=1e-6, rtol=0)
    np.testing.assert_allclose(out["scores"].numpy(), ids, atol=1e-5, rtol=0)


def test_cache_path_equals_uncached(loaded):
    ctx, turns, images = make_inputs(seed=5, batch=2, candidates=4)
    direct = loaded.signatures["serving_default"](
        context_ids=tf.constant(ctx), candidates=tf.constant(images)
    )["scores"]
    enc = loaded.signatures["encode_stickers"](images=tf.constant(images.reshape(-1, 128, 128, 3)))
    assert enc["sticker_regions"].shape == (8, 36, 768)
    assert enc["sticker_flat"].shape == (8, 2048)
    assert enc["emoji_logits"].shape == (8, CFG.emoji_vocab_size)
    assert all(e.decode() in EMOJI[2:] for e in enc["emoji"].numpy())
    regions = tf.reshape(enc["sticker_regions"], [2, 4, 36, 768])
    flat = tf.reshape(enc["sticker_flat"], [2, 4, 2048])
    cached = loaded.signatures["rank_encoded"](
        context_ids=tf.constant(ctx), sticker_regions=regions, sticker_flat=flat
    )
    np.testing.assert_allclose(cached["scores"].numpy(), direct.numpy(), atol=1e-5, rtol=0)
    assert cached["sticker_attention"].shape == (2, 4, CFG.context_len, 36)
    assert cached["word_attention"].shape == (2, 4, CFG.context_len, CFG.max_words)
    assert cached["num_turns"].numpy().tolist() == turns.tolist()
    # one bank [1, C, ...] shared by every context = the bank repeated per context
    bank = loaded.rank_encoded(tf.constant(ctx), regions[:1], flat[:1])["scores"].numpy()
    same = loaded.signatures["serving_default"](
        context_ids=tf.constant(ctx), candidates=tf.constant(np.repeat(images[:1], 2, axis=0))
    )["scores"].numpy()
    np.testing.assert_allclose(bank, same, atol=1e-5, rtol=0)


def _error(fn):
    with pytest.raises((tf.errors.InvalidArgumentError, TypeError, ValueError)) as info:
        fn()
    return str(info.value)


def test_bad_inputs_are_named(loaded):
    ctx, _, images = make_inputs(seed=7, batch=2, candidates=3)
    sig = loaded.signatures["serving_default"]
    c, i = tf.constant(ctx), tf.constant(images)
    # wrong dtype: the tf.function names the input spec
    assert "candidates" in _error(lambda: loaded.serving_default(c, tf.cast(i, tf.float32)))
    assert "context_ids" in _error(lambda: loaded.serving_default(tf.cast(c, tf.int64), i))
    # wrong image size, through the function and through the bare signature
    small = tf.constant(images[:, :, :64, :64])
    assert "candidates" in _error(lambda: loaded.serving_default(c, small))
    msg = _error(lambda: sig(context_ids=c, candidates=small))
    assert "candidates: expected shape [batch, candidates, 128, 128, 3]" in msg
    # wrong T (context_len) and L
    five = tf.constant(np.ones((2, 5, CFG.max_words), np.int32))
    assert "context_ids: expected shape [batch, 4, 6]" in _error(
        lambda: sig(context_ids=five, candidates=i)
    )
    assert "context_ids: expected shape" in _error(
        lambda: loaded.serving_default(tf.ones([2, 4, 7], tf.int32), i)
    )
    # contexts that break the layout contract
    gap = ctx.copy()
    gap[0, 1:] = 0
    gap[0, 3, 0] = 5
    assert "context_ids: a non-empty row follows an empty one" in _error(
        lambda: sig(context_ids=tf.constant(gap), candidates=i)
    )
    assert "context_ids: every context needs a non-empty first row" in _error(
        lambda: sig(context_ids=tf.zeros_like(c), candidates=i)
    )
    assert "context_ids: word ids must be < vocab_size=50" in _error(
        lambda: sig(context_ids=c + 100, candidates=i)
    )
    assert "candidates: batch size" in _error(lambda: sig(context_ids=c, candidates=i[:1]))
    assert "utterances: every context needs at least one non-empty utterance" in _error(
        lambda: loaded.signatures["rank_text"](
            utterances=tf.constant([["", " "]]), candidates=i[:1]
        )
    )
    assert "images: expected shape" in _error(
        lambda: loaded.signatures["encode_stickers"](images=tf.zeros([1, 100, 128, 3], tf.uint8))
    )
    regions, flat = tf.zeros([3, 2, 36, 768]), tf.zeros([3, 2, 2048])
    assert "sticker_regions: dimension 0" in _error(
        lambda: loaded.signatures["rank_encoded"](
            context_ids=c, sticker_regions=regions, sticker_flat=flat
        )
    )
    assert "sticker_flat: expected shape" in _error(
        lambda: loaded.signatures["rank_encoded"](
            context_ids=c, sticker_regions=regions[:1], sticker_flat=tf.zeros([1, 2, 100])
        )
    )


def test_bin_export_refuses_existing_export(run, exported):
    before = os.path.getmtime(os.path.join(exported, "saved_model.pb"))
    proc = run_export(f"--model_dir={run['run_dir']}", f"--export_dir={exported}")
    assert proc.returncode != 0
    assert "already exists" in proc.stderr and "--overwrite" in proc.stderr
    assert os.path.getmtime(os.path.join(exported, "saved_model.pb")) == before
    assert os.path.isfile(os.path.join(exported, export_lib.EXPORT_INFO_FILE))


def test_bin_export_without_checkpoint_fails_cleanly(run, tmp_path):
    empty_run = tmp_path / "run"
    empty_run.mkdir()
    (empty_run / "config.json").write_text(open(os.path.join(run["run_dir"], "config.json")).read())
    proc = run_export(f"--model_dir={empty_run}", f"--export_dir={tmp_path / 'out'}")
    assert proc.returncode != 0
    assert "no checkpoint" in proc.stderr
    assert not os.path.exists(tmp_path / "out")


def test_export_atomic_overwrite_replaces(run, tmp_path):
    target = tmp_path / "saved"
    target.mkdir()
    (target / "stale.txt").write_text("old export")
    with pytest.raises(export_lib.ExportExistsError, match="--overwrite"):
        export_lib.export_atomic(run["model"], CFG, VOCAB, EMOJI, str(target), {"step": 1})
    export_lib.export_atomic(
        run["model"], CFG, VOCAB, EMOJI, str(target), {"step": 1}, overwrite=True
    )
    assert not (target / "stale.txt").exists()
    assert export_lib.load_export_info(str(target))["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]
    with pytest.raises(ValueError, match="vocab has 3 tokens"):
        export_lib.export_saved_model(run["model"], CFG, VOCAB[:3], EMOJI, str(tmp_path / "x"))
