"""make_tfrecords: report.json, meta.json, bank and example round-trips, refusal, atomicity."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO
from release_fixture import EMOJIS, INJECTIONS, WORDS, write_release

from srs_tf.data import pipeline, tfrecords
from srs_tf.data.release import DataError
from srs_tf.data.stickers import normalize_sticker

T, L = 6, 8


def _config(data_dir, out, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("num_shards", 2)
    return tfrecords.TFRecordsConfig(
        data_dir=data_dir, output_dir=out, context_len=T, max_words=L, **kw
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfrec")
    info = write_release(str(root / "DATA"), inject=INJECTIONS, num_val=8, num_test=8)
    out = str(root / "TFREC")
    report = tfrecords.make_tfrecords(_config(info.data_dir, out, seed=7))
    return info, out, report


def _records(out, split):
    meta = pipeline.load_meta(out)
    recs = []
    for shard in meta["shards"][split]:
        for raw in tf.data.TFRecordDataset(os.path.join(out, shard)).as_numpy_iterator():
            ex = tf.train.Example.FromString(raw)
            recs.append({k: list(v.int64_list.value) for k, v in ex.features.feature.items()})
    return recs


def _expected_context(obj):
    word_id = {w: i + 2 for i, w in enumerate(WORDS)}
    utts = [(c["text"] or "").split() for c in obj["context"]]
    utts = [u for u in utts if u][-T:]
    arr = np.zeros((T, L), np.int64)
    for r, u in enumerate(utts):
        ids = [word_id.get(w, 1) for w in u[:L]]
        arr[r, : len(ids)] = ids
    return arr, len(utts)


def test_report_json_counts_every_reason(built):
    info, out, report = built
    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        rep = json.load(f)
    assert rep == json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    for split in ("train", "val", "test"):
        r = rep[split]
        assert r["read"] == info.num_lines[split]
        assert r["written"] == len(info.valid[split])
        assert r["skipped"] == info.expected_skips[split]
        assert r["read"] == r["written"] + sum(r["skipped"].values())
    assert rep["train"]["counted"]["unknown_emoji"] == 1
    assert rep["bank"]["skipped"] == info.expected_bank_skips
    assert rep["bank"]["counted"]["unknown_emoji"] == 1
    assert rep["bank"]["sets"] == len(info.good_stickers)
    assert rep["bank"]["stickers"] == sum(len(v) for v in info.good_stickers.values())
    table = report.format_table()
    assert "malformed_json=1" in table and "train" in table


def test_meta_and_vocab_copies(built):
    info, out, _ = built
    meta = pipeline.load_meta(out)
    assert meta["context_len"] == T and meta["max_words"] == L
    assert meta["vocab_size"] == len(WORDS) + 2 and meta["emoji_vocab_size"] == len(EMOJIS) + 2
    assert meta["num_candidates"] == 10 and meta["seed"] == 7
    assert meta["counts"]["train"] == meta["train_examples"] == len(info.valid["train"])
    assert meta["val_examples"] == len(info.valid["val"])
    assert meta["counts"]["bank_stickers"] == sum(len(v) for v in info.good_stickers.values())
    assert len(meta["shards"]["train"]) == 2
    for name in ("vocab", "emoji_vocab"):
        with (
            open(os.path.join(out, name), "rb") as a,
            open(os.path.join(info.data_dir, name), "rb") as b,
        ):
            assert a.read() == b.read()


def test_bank_round_trip(built):
    info, out, _ = built
    bank = pipeline.load_sticker_bank(out)
    expected_rows = [
        (s, sid) for s in sorted(info.good_stickers, key=int) for sid in info.good_stickers[s]
    ]
    assert list(zip(bank.sticker_set_id.tolist(), bank.sticker_id.tolist())) == expected_rows
    assert len(set(expected_rows)) == len(bank)  # each sticker once
    for k, set_id in enumerate(bank.set_ids.tolist()):
        rows = bank.set_rows(k)
        assert (bank.set_index[rows] == k).all()
        assert set(bank.sticker_set_id[rows].tolist()) == {set_id}
    assert int(bank.set_start[-1] + bank.set_size[-1]) == len(bank)
    for row, (set_id, sid) in enumerate(expected_rows):
        raw = np.load(info.sticker_file(set_id, sid))
        np.testing.assert_array_equal(bank.images[row], normalize_sticker(raw))
        emoji = info.mapping[set_id][sid]
        assert bank.emoji[row] == emoji
        assert bank.emoji_id[row] == (EMOJIS.index(emoji) + 2 if emoji in EMOJIS else 1)
        assert int(bank.sticker_id[row]) > 2**53 and bank.row_of(set_id, sid) == row


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_examples_round_trip(built, split):
    info, out, _ = built
    bank = pipeline.load_sticker_bank(out)
    recs = {r["line"][0]: r for r in _records(out, split)}
    assert sorted(recs) == [line for line, _ in info.valid[split]]
    for line, obj in info.valid[split]:
        rec = recs[line]
        ctx, n = _expected_context(obj)
        np.testing.assert_array_equal(np.array(rec["context_ids"]).reshape(T, L), ctx)
        assert rec["num_turns"] == [n]
        gt = rec["gt"][0]
        assert bank.sticker_set_id[gt] == str(obj["current"]["sticker_set_id"])
        assert bank.sticker_id[gt] == str(obj["current"]["sticker_id"])
        assert rec["set_index"] == [bank.set_index[gt]]
        if split != "train":
            rows = set(bank.set_rows(bank.set_index[gt]).tolist())
            for kind in ("random", "first"):
                cands, pos = rec[f"cand_{kind}"], rec[f"label_{kind}"][0]
                assert len(cands) == 10 and len(set(cands)) == 10
                assert cands[pos] == gt and cands.count(gt) == 1
                assert set(cands) <= rows
            first_negs = [c for c in rec["cand_first"] if c != gt]
            assert first_negs == sorted(rows - {gt})[:9]


def test_fixed_candidates_reproducible_for_a_seed(built, tmp_path):
    info, out, _ = built
    again = str(tmp_path / "again")
    tfrecords.make_tfrecords(_config(info.data_dir, again, seed=7))
    other = str(tmp_path / "other")
    tfrecords.make_tfrecords(_config(info.data_dir, other, seed=8))
    for split in ("val", "test"):
        a, b, c = _records(out, split), _records(again, split), _records(other, split)
        assert a == b
        assert [r["cand_random"] for r in a] != [r["cand_random"] for r in c]


def test_refuses_existing_output_without_overwrite(built, tmp_path):
    info, _, _ = built
    out = tmp_path / "T"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(tfrecords.OutputExistsError, match="--overwrite"):
        tfrecords.make_tfrecords(_config(info.data_dir, str(out)))
    assert (out / "keep.txt").read_text() == "x"
    tfrecords.make_tfrecords(_config(info.data_dir, str(out), overwrite=True))
    assert not (out / "keep.txt").exists() and (out / "meta.json").exists()
    assert sorted(os.listdir(tmp_path)) == ["T"]  # no temp or old directories left


def test_failure_leaves_no_output(tmp_path):
    info = write_release(str(tmp_path / "DATA"))
    with open(os.path.join(info.data_dir, "vocab"), "a", encoding="utf-8") as f:
        f.write("too many fields here\n")
    with pytest.raises(DataError, match=r"vocab:\d+"):
        tfrecords.make_tfrecords(_config(info.data_dir, str(tmp_path / "OUT")))
    assert sorted(os.listdir(tmp_path)) == ["DATA"]


def test_cli_prints_table_and_refuses_without_overwrite(built, tmp_path):
    info, _, _ = built
    out = str(tmp_path / "CLI")
    cmd = [
        sys.executable,
        os.path.join(REPO, "bin", "make_tfrecords"),
        f"--data_dir={info.data_dir}",
        f"--output_dir={out}",
        "--context_len=4",
        "--max_words=5",
        "--noprogress",
    ]
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert res.returncode == 0, res.stderr
    assert "malformed_json=1" in res.stdout and "written" in res.stdout
    assert pipeline.load_meta(out)["context_len"] == 4
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert res.returncode != 0 and "--overwrite" in res.stderr
    res = subprocess.run(
        cmd + ["--overwrite"], capture_output=True, text=True, env=env, timeout=240
    )
    assert res.returncode == 0, res.stderr
