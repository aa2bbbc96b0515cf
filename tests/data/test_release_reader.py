"""Release reader: lines, ids, bad input by reason, sticker normalisation, context layout."""

import json
import os

import numpy as np
import pytest
from release_fixture import INJECTION_REASON, INJECTIONS, write_release

from srs_tf.data import release
from srs_tf.data.report import Counts
from srs_tf.data.stickers import StickerError, load_sticker, normalize_sticker
from srs_tf.data.vocab import Vocab


def _line(**current):
    cur = {
        "from_id": 1,
        "reply_to_msg_id": None,
        "sticker_set_id": 5,
        "sticker_id": 6,
        "sticker_alt": "😀",
    }
    cur.update(current)
    return json.dumps(
        {
            "context": [{"text": "你好 呀", "reply_to_msg_id": None, "id": 1, "from_id": 2}],
            "current": cur,
        },
        ensure_ascii=False,
    )


# ----------------------------------------------------------------------------- lines and ids


def test_ids_beyond_2_53_are_exact_strings():
    big_set, big_sticker = 2**63 - 25, 2**53 + 1
    ex = release.parse_line(_line(sticker_set_id=big_set, sticker_id=big_sticker))
    assert ex.sticker_set_id == str(big_set) and ex.sticker_id == str(big_sticker)
    assert float(big_sticker) != big_sticker  # a float would have lost it
    ex = release.parse_line(_line(sticker_set_id="9223372036854775807", sticker_id="12"))
    assert ex.sticker_set_id == "9223372036854775807"


@pytest.mark.parametrize("value", [6.0, 1.5, True, "abc", [1]])
def test_float_and_non_integer_ids_are_bad_id(value):
    with pytest.raises(release.SkipLine) as e:
        release.parse_line(_line(sticker_id=value))
    assert e.value.reason == "bad_id"


def test_float_literal_in_json_never_becomes_float():
    line = _line().replace('"sticker_id": 6', '"sticker_id": 4611686018427387905.0')
    with pytest.raises(release.SkipLine) as e:
        release.parse_line(line)
    assert e.value.reason == "bad_id"


@pytest.mark.parametrize(
    "line,reason",
    [
        ("{not json", "malformed_json"),
        ("[1, 2]", "malformed_json"),
        ('{"context": []}', "missing_keys"),
        (
            '{"context": [{"id": 1}], "current": {"sticker_set_id": 1, "sticker_id": 2}}',
            "missing_keys",
        ),
        ('{"context": [{"text": "a"}], "current": {"sticker_set_id": 1}}', "missing_keys"),
        ('{"context": "a b", "current": {"sticker_set_id": 1, "sticker_id": 2}}', "bad_field"),
        (
            '{"context": [{"text": 5}], "current": {"sticker_set_id": 1, "sticker_id": 2}}',
            "bad_field",
        ),
        ('{"context": [], "current": {"sticker_set_id": 1, "sticker_id": 2}}', "empty_context"),
        (
            '{"context": [{"text": "  \\t "}, {"text": null}], "current": {"sticker_set_id": 1, '
            '"sticker_id": 2}}',
            "empty_context",
        ),
        ("   ", "blank_line"),
    ],
)
def test_bad_lines_have_reasons(line, reason):
    with pytest.raises(release.SkipLine) as e:
        release.parse_line(line)
    assert e.value.reason == reason


def test_utterances_drop_empty_and_whitespace_turns():
    obj = json.loads(_line())
    obj["context"] = [{"text": t} for t in ["a b", "", "   ", "c", "\t"]]
    ex = release.parse_line(json.dumps(obj))
    assert ex.utterances == (("a", "b"), ("c",))
    assert len(ex.turns) == 5


# ----------------------------------------------------------------------------- context layout


def test_encode_context_layout_oldest_first_left_aligned():
    vocab = Vocab(["a", "b", "c", "d"])  # a=2 b=3 c=4 d=5
    utts = ["a", "  ", "b b b b", "c", "", "d a"]
    ids, n = release.encode_context(utts, vocab, context_len=3, max_words=2)
    # the last 3 non-empty: "b b b b" (cut to 2 words), "c", "d a"
    assert n == 3
    np.testing.assert_array_equal(ids, [[3, 3], [4, 0], [5, 2]])
    ids, n = release.encode_context(["zzz a", "b"], vocab, context_len=4, max_words=3)
    assert n == 2 and ids.dtype == np.int32 and ids.shape == (4, 3)
    np.testing.assert_array_equal(ids, [[1, 2, 0], [3, 0, 0], [0, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError):
        release.encode_context(["", "  "], vocab, 3, 2)


# ------------------------------------------------------------------ sticker normalisation


def test_uint8_rgb_is_unchanged():
    a = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    out = normalize_sticker(a)
    assert out.dtype == np.uint8 and out.shape == (128, 128, 3)
    np.testing.assert_array_equal(out, a)


def test_rgba_transparent_is_white_and_opaque_kept():
    a = np.zeros((128, 128, 4), np.uint8)
    a[..., :3] = [10, 20, 30]
    a[:64, :, 3] = 0  # transparent -> white
    a[64:, :, 3] = 255  # opaque -> the colour
    a[64:, :2, 3] = 128  # half -> halfway to white
    out = normalize_sticker(a)
    assert (out[:64] == 255).all()
    np.testing.assert_array_equal(out[100, 50], [10, 20, 30])
    expected = np.rint(np.array([10, 20, 30]) * (128 / 255) + 255 * (1 - 128 / 255))
    np.testing.assert_array_equal(out[100, 0], expected)


def test_grey_two_and_three_dims_repeat_channels():
    g = np.arange(128 * 128, dtype=np.int64).reshape(128, 128) % 256
    for arr in (g.astype(np.uint8), g.astype(np.uint8)[..., None], g.astype(np.int32)):
        out = normalize_sticker(arr)
        assert out.shape == (128, 128, 3)
        for c in range(3):
            np.testing.assert_array_equal(out[..., c], g)


def test_float_0_1_is_scaled_and_float_0_255_is_not():
    f01 = np.full((128, 128, 3), 0.5, np.float32)
    f01[0, 0] = [0.0, 1.0, 0.2]
    out = normalize_sticker(f01)
    np.testing.assert_array_equal(out[1, 1], [128, 128, 128])  # rint(127.5) = 128
    np.testing.assert_array_equal(out[0, 0], [0, 255, 51])
    f255 = np.full((128, 128, 3), 200.0, np.float64)
    f255[0, 0] = [0.0, 255.0, 7.4]
    out = normalize_sticker(f255)
    np.testing.assert_array_equal(out[1, 1], [200, 200, 200])
    np.testing.assert_array_equal(out[0, 0], [0, 255, 7])
    # float RGBA 0..1: alpha 0 -> white
    rgba = np.zeros((128, 128, 4), np.float32)
    assert (normalize_sticker(rgba) == 255).all()


def test_non_128_sizes_keep_aspect_and_pad_white():
    tall = np.zeros((64, 32, 3), np.uint8)  # black, 2:1
    out = normalize_sticker(tall)
    assert out.shape == (128, 128, 3)
    # resized to 128x64, centred: columns 32..95 black, the rest white
    assert (out[:, 32:96] == 0).all()
    assert (out[:, :32] == 255).all() and (out[:, 96:] == 255).all()
    wide = np.zeros((100, 256, 3), np.uint8)  # -> 50 x 128
    out = normalize_sticker(wide)
    assert (out[39:89] == 0).all() and (out[:39] == 255).all() and (out[89:] == 255).all()
    small = np.full((16, 16, 3), 77, np.uint8)  # upscaled to fill
    assert (normalize_sticker(small) == 77).all()


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros((128, 128, 5), np.uint8),
        np.zeros((128,), np.uint8),
        np.zeros((2, 128, 128, 3), np.uint8),
        np.zeros((0, 128, 3), np.uint8),
        np.full((128, 128, 3), 300.0),
        np.full((128, 128, 3), -5.0),
        np.full((128, 128, 3), np.nan),
        np.full((128, 128, 3), 256, np.int32),
        np.zeros((128, 128, 3), bool),
    ],
)
def test_odd_arrays_are_errors(arr):
    with pytest.raises(StickerError) as e:
        normalize_sticker(arr)
    assert e.value.reason == "bad_sticker_array"


def test_load_sticker_reasons(tmp_path):
    with pytest.raises(StickerError) as e:
        load_sticker(str(tmp_path / "nope.npy"))
    assert e.value.reason == "missing_sticker_file" and "nope.npy" in str(e.value)
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"garbage")
    with pytest.raises(StickerError) as e:
        load_sticker(str(bad))
    assert e.value.reason == "unreadable_sticker_file" and "bad.npy" in str(e.value)
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(StickerError) as e:
        load_sticker(str(obj))
    assert e.value.reason == "unreadable_sticker_file"


# ------------------------------------------------------------------ the release directory


def test_missing_directory_and_files_are_clear_errors(tmp_path):
    with pytest.raises(release.DataError, match="data directory not found"):
        release.Release(str(tmp_path / "nowhere"))
    info = write_release(str(tmp_path / "DATA"))
    os.remove(os.path.join(info.data_dir, "emoji_vocab"))
    with pytest.raises(release.DataError, match="emoji_vocab"):
        release.Release(info.data_dir)
    os.remove(os.path.join(info.data_dir, "release_val.json"))
    with pytest.raises(release.DataError, match="release_val.json"):
        release.Release(info.data_dir)


def test_reader_counts_every_injection_and_keeps_valid_lines(tmp_path):
    info = write_release(str(tmp_path / "DATA"), inject=INJECTIONS)
    r = release.Release(info.data_dir)
    bank_counts = Counts()
    sets = r.sticker_sets(bank_counts)
    assert list(sets) == sorted(sets, key=int)  # numeric order
    counts = Counts()
    kept = []
    for ex in r.iter_examples("train", counts):
        reason = r.check_sticker(ex)
        if reason:
            counts.skip(reason, ex.source)
        else:
            kept.append(ex)
    assert counts.read == info.num_lines["train"]
    # line-level and catalogue-level reasons (file-level ones need the bank: test_tfrecords)
    line_level = {
        k: v
        for k, v in info.expected_skips["train"].items()
        if k
        not in (
            "small_sticker_set",
            "missing_sticker_file",
            "unreadable_sticker_file",
            "bad_sticker_array",
        )
    }
    assert dict(counts.skipped) == line_level
    assert set(INJECTION_REASON.values()) >= set(counts.skipped)
    # every valid line is kept, with its exact ids
    by_line = {ex.line_no: ex for ex in kept}
    for line_no, obj in info.valid["train"]:
        ex = by_line[line_no]
        assert ex.sticker_set_id == str(obj["current"]["sticker_set_id"])
        assert ex.sticker_id == str(obj["current"]["sticker_id"])
        assert int(ex.sticker_id) > 2**53
    assert counts.read == len(kept) + sum(counts.skipped.values())


def test_fixture_sticker_files_normalise(tmp_path):
    info = write_release(str(tmp_path / "DATA"), num_sets=1, stickers_per_set=10)
    r = release.Release(info.data_dir)
    (set_id,) = r.sticker_sets()
    for sid in info.good_stickers[set_id]:
        img = r.load_sticker(set_id, sid)
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8


def test_mapping_problems_are_counted(tmp_path):
    info = write_release(str(tmp_path / "DATA"), num_sets=2)
    root = os.path.join(info.data_dir, "npy_stickers")
    first, second = sorted(os.listdir(root), key=int)
    with open(os.path.join(root, first, "emoji_mapping.txt"), "a", encoding="utf-8") as f:
        f.write("notanid\t😀\n")
        f.write(f"{info.good_stickers[first][0]}\t😂\n")  # duplicate
    os.remove(os.path.join(root, second, "emoji_mapping.txt"))
    counts = Counts()
    sets = release.Release(info.data_dir).sticker_sets(counts)
    assert list(sets) == [first]
    assert dict(counts.skipped) == {
        "malformed_mapping_line": 1,
        "duplicate_mapping_entry": 1,
        "missing_emoji_mapping": 1,
    }
    assert sets[first].sticker_ids == tuple(info.good_stickers[first])


def test_emoji_to_id_unknown_is_unk():
    ev = Vocab(["😀", "❤"])
    assert release.emoji_to_id(ev, "😀") == 2
    assert release.emoji_to_id(ev, "❤\ufe0f") == 3
    assert release.emoji_to_id(ev, "🦄") == 1
    assert release.emoji_to_id(ev, "") == 1
