"""make_dataset: batch contract, negative sampling, determinism, image gather."""

import os

import numpy as np
import pytest
import tensorflow as tf
from release_fixture import write_release

from srs_tf.data import bench, pipeline, tfrecords

T, L = 5, 7
KEYS = ["context_ids", "num_turns", "candidates", "candidate_ids", "candidate_emoji", "label"]


@pytest.fixture(scope="module")
def tfrec(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipe")
    info = write_release(
        str(root / "DATA"),
        inject=("unknown_emoji",),
        num_sets=3,
        stickers_per_set=12,
        num_train=40,
        num_val=11,
        num_test=9,
        image_kinds="uint8_rgb",
    )
    out = str(root / "TFREC")
    tfrecords.make_tfrecords(
        tfrecords.TFRecordsConfig(
            data_dir=info.data_dir,
            output_dir=out,
            context_len=T,
            max_words=L,
            num_shards=3,
            progress=False,
            seed=3,
        )
    )
    return out


def _gt_by_context(out, split):
    """context bytes -> gt bank row, from the stored records (unique contexts only)."""
    meta = pipeline.load_meta(out)
    seen, result = {}, {}
    for shard in meta["shards"][split]:
        for raw in tf.data.TFRecordDataset(os.path.join(out, shard)).as_numpy_iterator():
            f = tf.train.Example.FromString(raw).features.feature
            key = np.array(f["context_ids"].int64_list.value, np.int32).tobytes()
            seen[key] = seen.get(key, 0) + 1
            result[key] = (
                f["gt"].int64_list.value[0],
                {k: list(v.int64_list.value) for k, v in f.items()},
            )
    return {k: v for k, v in result.items() if seen[k] == 1}


def _epoch(ds):
    """Per example (context bytes) -> (candidate ids tuple, label) for one pass."""
    out = {}
    for batch in ds:
        ctx = batch["context_ids"].numpy()
        for i in range(ctx.shape[0]):
            out[ctx[i].tobytes()] = (
                tuple(batch["candidate_ids"][i].numpy().tolist()),
                int(batch["label"][i]),
            )
    return out


def test_batch_contract_train(tfrec):
    ds = pipeline.make_dataset(tfrec, "train", batch_size=4, seed=1)
    spec = ds.element_spec
    assert list(spec) == KEYS
    assert spec["context_ids"].dtype == tf.int32 and spec["context_ids"].shape.as_list() == [
        4,
        T,
        L,
    ]
    assert spec["num_turns"].dtype == tf.int32 and spec["num_turns"].shape.as_list() == [4]
    assert spec["candidates"].dtype == tf.uint8
    assert spec["candidates"].shape.as_list() == [4, 10, 128, 128, 3]
    for k in ("candidate_ids", "candidate_emoji"):
        assert spec[k].dtype == tf.int32 and spec[k].shape.as_list() == [4, 10]
    assert spec["label"].dtype == tf.int32 and spec["label"].shape.as_list() == [4]
    n = sum(int(b["label"].shape[0]) for b in ds)
    assert n == 40  # drop_remainder by default in training: 10 full batches


def test_without_images_omits_candidates(tfrec):
    ds = pipeline.make_dataset(tfrec, "val", batch_size=4, with_images=False)
    assert list(ds.element_spec) == [k for k in KEYS if k != "candidates"]
    assert sum(int(b["label"].shape[0]) for b in ds) == 11  # val keeps the last partial batch


def test_images_and_emoji_match_the_bank(tfrec):
    bank = pipeline.load_sticker_bank(tfrec)
    for split in ("train", "val"):
        for batch in pipeline.make_dataset(tfrec, split, batch_size=8, seed=2).take(2):
            ids = batch["candidate_ids"].numpy()
            np.testing.assert_array_equal(batch["candidates"].numpy(), bank.images[ids])
            np.testing.assert_array_equal(batch["candidate_emoji"].numpy(), bank.emoji_id[ids])
    assert (bank.emoji_id == 1).sum() == 1  # the unknown emoji sticker is kept with [UNK]


@pytest.mark.parametrize("negatives", ["random", "first"])
def test_train_negatives_same_set_never_gt(tfrec, negatives):
    bank = pipeline.load_sticker_bank(tfrec)
    gts = _gt_by_context(tfrec, "train")
    ds = pipeline.make_dataset(tfrec, "train", batch_size=5, seed=4, negatives=negatives)
    labels = []
    checked = 0
    for _ in range(3):
        for key, (cands, label) in _epoch(ds).items():
            cands = np.array(cands)
            assert len(set(cands.tolist())) == 10
            assert len(set(bank.set_index[cands].tolist())) == 1  # one set
            labels.append(label)
            if key in gts:
                gt = gts[key][0]
                assert cands[label] == gt and (cands == gt).sum() == 1
                if negatives == "first":
                    rows = bank.set_rows(bank.set_index[gt])
                    assert (
                        sorted(np.delete(cands, label).tolist()) == [r for r in rows if r != gt][:9]
                    )
                checked += 1
    assert checked >= 100
    assert len(set(labels)) >= 8  # gt position is random


def test_train_negatives_change_across_epochs_and_repeat(tfrec):
    ds = pipeline.make_dataset(tfrec, "train", batch_size=4, seed=11)
    e1, e2 = _epoch(ds), _epoch(ds)
    common = set(e1) & set(e2)
    assert len(common) >= 35
    changed = sum(set(e1[k][0]) != set(e2[k][0]) for k in common)
    assert changed >= 0.8 * len(common)
    # the same within a repeat()-ed dataset: the second pass redraws
    rep = pipeline.make_dataset(tfrec, "train", batch_size=4, seed=11, repeat=True)
    batches = list(rep.take(20))
    p1 = _epoch(batches[:10])
    p2 = _epoch(batches[10:])
    common = set(p1) & set(p2)
    assert sum(set(p1[k][0]) != set(p2[k][0]) for k in common) >= 0.8 * len(common)


def test_train_reproducible_for_a_seed(tfrec):
    def run(seed):
        ds = pipeline.make_dataset(tfrec, "train", batch_size=4, seed=seed)
        return [
            (
                b["context_ids"].numpy().tobytes(),
                b["candidate_ids"].numpy().tolist(),
                b["label"].numpy().tolist(),
            )
            for b in ds
        ]

    a, b, c = run(5), run(5), run(6)
    assert a == b
    assert a != c


@pytest.mark.parametrize("negatives", ["random", "first"])
def test_val_test_candidates_are_stored_and_identical(tfrec, negatives):
    for split in ("val", "test"):
        stored = _gt_by_context(tfrec, split)
        runs = []
        for seed in (0, 99):
            ds = pipeline.make_dataset(tfrec, split, batch_size=4, seed=seed, negatives=negatives)
            runs.append(
                [
                    (
                        b["candidate_ids"].numpy().tolist(),
                        b["label"].numpy().tolist(),
                        b["context_ids"].numpy().tobytes(),
                    )
                    for b in ds
                ]
            )
        assert runs[0] == runs[1]
        for key, (cands, label) in _epoch(
            pipeline.make_dataset(tfrec, split, batch_size=4, negatives=negatives)
        ).items():
            if key in stored:
                gt, feats = stored[key]
                assert (
                    list(cands) == feats[f"cand_{negatives}"]
                    and label == feats[f"label_{negatives}"][0]
                )
                assert cands[label] == gt


def test_argument_errors(tfrec):
    with pytest.raises(ValueError, match="num_candidates"):
        pipeline.make_dataset(tfrec, "val", num_candidates=5)
    with pytest.raises(ValueError, match="negatives"):
        pipeline.make_dataset(tfrec, "train", negatives="hard")
    with pytest.raises(FileNotFoundError, match="meta.json"):
        pipeline.make_dataset(os.path.dirname(tfrec), "train")
    # fewer candidates is fine in training
    b = next(iter(pipeline.make_dataset(tfrec, "train", batch_size=2, num_candidates=4)))
    assert b["candidates"].shape[1] == 4


def test_bank_gather_and_memmap(tfrec):
    bank = pipeline.load_sticker_bank(tfrec)
    assert isinstance(bank.images, np.memmap)
    full = pipeline.load_sticker_bank(tfrec, mmap=False)
    rows = np.array([[3, 0], [len(bank) - 1, 5]])
    np.testing.assert_array_equal(bank.gather(rows), full.images[rows])
    assert bank.gather(rows).shape == (2, 2, 128, 128, 3)


def test_input_benchmark_reports_json_fields(tfrec):
    result = bench.run_input_benchmark(
        bench.InputBenchConfig(tfrec, batches=5, batch_size=4, warmup=1)
    )
    assert result["examples_per_sec"] > 0 and result["peak_rss_mb"] > 0
    assert result["batches"] == 5 and result["batch_size"] == 4


def _last_turns_reference(ids, num_turns, turns):
    out = np.zeros((ids.shape[0], turns, ids.shape[2]), ids.dtype)
    kept = np.minimum(num_turns, turns)
    for b, (n, k) in enumerate(zip(num_turns, kept)):
        out[b, :k] = ids[b, n - k : n]
    return out, kept


def test_keep_last_turns_equals_numpy_reference():
    rng = np.random.default_rng(0)
    num_turns = np.array([1, 3, 5, 4, 2], np.int32)
    ids = np.zeros((5, T, L), np.int32)
    for b, n in enumerate(num_turns):
        ids[b, :n] = rng.integers(1, 50, (n, L))
    for turns in (1, 2, 3, 5):
        got, kept = pipeline.keep_last_turns(tf.constant(ids), tf.constant(num_turns), turns)
        want, want_kept = _last_turns_reference(ids, num_turns, turns)
        np.testing.assert_array_equal(got.numpy(), want)
        np.testing.assert_array_equal(kept.numpy(), want_kept)
    # the most recent utterance is always the last kept row
    got, kept = pipeline.keep_last_turns(tf.constant(ids), tf.constant(num_turns), 2)
    for b, n in enumerate(num_turns):
        np.testing.assert_array_equal(got.numpy()[b, kept[b] - 1], ids[b, n - 1])


def test_context_turns_truncates_every_split(tfrec):
    for split in ("train", "test"):
        full = next(iter(pipeline.make_dataset(tfrec, split, batch_size=8, seed=1)))
        short = next(
            iter(pipeline.make_dataset(tfrec, split, batch_size=8, seed=1, context_turns=2))
        )
        want, kept = _last_turns_reference(
            full["context_ids"].numpy(), full["num_turns"].numpy(), 2
        )
        assert short["context_ids"].shape[1] == 2
        np.testing.assert_array_equal(short["context_ids"].numpy(), want)
        np.testing.assert_array_equal(short["num_turns"].numpy(), kept)
        np.testing.assert_array_equal(short["candidate_ids"], full["candidate_ids"])
    same = next(iter(pipeline.make_dataset(tfrec, "test", batch_size=8, context_turns=T)))
    assert same["context_ids"].shape[1] == T
    for bad in (0, T + 1):
        with pytest.raises(ValueError, match=f"context_turns={bad}: .* stores up to {T}"):
            pipeline.make_dataset(tfrec, "test", context_turns=bad)


def test_configure_model_takes_context_len_from_context_turns(tfrec):
    from srs_tf.run_config import TrainConfig, configure_model

    meta = pipeline.load_meta(tfrec)
    assert configure_model(TrainConfig(data_dir=tfrec), meta).model.context_len == T
    assert (
        configure_model(TrainConfig(data_dir=tfrec, context_turns=3), meta).model.context_len == 3
    )
    with pytest.raises(ValueError, match=f"--context_turns={T + 1}: .* at most {T} utterances"):
        configure_model(TrainConfig(data_dir=tfrec, context_turns=T + 1), meta)
    with pytest.raises(ValueError, match="--context_turns must be >= 0"):
        TrainConfig(context_turns=-1)
