"""Vocab: one/two-column files, reserved ids, encode, save round-trip; segmentation."""

import os

import pytest

from srs_tf.data import segment
from srs_tf.data.vocab import PAD_ID, UNK_ID, Vocab, VocabError


def _write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


def test_two_column_file_ids_in_file_order(tmp_path):
    v = Vocab.load(_write(tmp_path / "vocab", "今天 100\n开心 50\n哈哈 7\n"))
    assert len(v) == 5
    assert v.token_to_id("[PAD]") == PAD_ID == 0
    assert v.token_to_id("[UNK]") == UNK_ID == 1
    assert [v.token_to_id(w) for w in ("今天", "开心", "哈哈")] == [2, 3, 4]
    assert v.count("开心") == 50


def test_one_column_and_mixed_files(tmp_path):
    v1 = Vocab.load(_write(tmp_path / "a", "😀\n😂\n"))
    assert v1.tokens == ["[PAD]", "[UNK]", "😀", "😂"]
    v2 = Vocab.load(_write(tmp_path / "b", "😀 3\n\n😂\n"))
    assert v2.tokens == v1.tokens


def test_reserved_tokens_in_file_do_not_shift_ids(tmp_path):
    v = Vocab.load(_write(tmp_path / "v", "[PAD] 0\n[UNK] 0\na 5\nb 4\na 1\n"))
    assert v.tokens == ["[PAD]", "[UNK]", "a", "b"]
    assert v.token_to_id("a") == 2 and v.token_to_id("b") == 3


def test_encode_unknown_words_map_to_unk():
    v = Vocab(["a", "b"])
    assert v.encode(["b", "zzz", "a"]) == [3, UNK_ID, 2]
    assert v.decode([3, 1, 2]) == ["b", "[UNK]", "a"]
    assert "a" in v and "zzz" not in v


@pytest.mark.parametrize("text", ["x 5\ny 3\n", "x\ny\n"])
def test_save_round_trip(tmp_path, text):
    v = Vocab.load(_write(tmp_path / "in", text))
    out = str(tmp_path / "out")
    v.save(out)
    w = Vocab.load(out)
    assert w == v and w.tokens == v.tokens
    assert [w.count(t) for t in ("x", "y")] == [v.count(t) for t in ("x", "y")]


def test_malformed_file_errors_name_file_and_line(tmp_path):
    path = _write(tmp_path / "bad", "a 1\nb c d\n")
    with pytest.raises(VocabError, match=r"bad:2"):
        Vocab.load(path)
    path = _write(tmp_path / "bad2", "a 1\nb notanumber\n")
    with pytest.raises(VocabError, match=r"bad2:2"):
        Vocab.load(path)
    with pytest.raises(VocabError, match="not found"):
        Vocab.load(os.path.join(str(tmp_path), "missing"))


def test_segment_with_jieba():
    words = segment.segment("今天好开心")
    assert "".join(words) == "今天好开心"
    assert words[0] == "今天" and len(words) >= 2
    # already segmented text and whitespace are respected
    assert segment.segment("  今天  ") == ["今天"]
    assert segment.segment("") == []
    assert segment.segment_to_text("今天好开心") == " ".join(words)
