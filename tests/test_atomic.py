"""srs_tf.atomic: outputs appear whole or not at all."""

import os

import pytest

from srs_tf import atomic


def test_write_json_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "a.json"
    atomic.write_json(str(path), {"b": 1, "a": 2})
    assert path.read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'
    assert os.listdir(tmp_path) == ["a.json"]


def test_staged_directory_replaces_the_output_when_complete(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with atomic.staged_directory(str(out)) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and os.listdir(tmp) == []
        (tmp_path / os.path.basename(tmp) / "new.txt").write_text("new")
        assert (out / "old.txt").exists()  # untouched until the block ends
    assert sorted(os.listdir(out)) == ["new.txt"]
    assert os.listdir(tmp_path) == ["out"]


def test_staged_directory_error_keeps_the_old_output_and_no_staging(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="half-way"):
        with atomic.staged_directory(str(out)) as tmp:
            (tmp_path / os.path.basename(tmp) / "partial.txt").write_text("x")
            raise RuntimeError("half-way")
    assert sorted(os.listdir(out)) == ["old.txt"]
    assert os.listdir(tmp_path) == ["out"]


def test_staged_directory_check_runs_before_the_rename(tmp_path):
    out = tmp_path / "out"

    def refuse():
        if out.exists():
            raise FileExistsError(f"{out} appeared meanwhile")

    with pytest.raises(FileExistsError, match="appeared meanwhile"):
        with atomic.staged_directory(str(out), refuse) as tmp:
            (tmp_path / os.path.basename(tmp) / "x").write_text("x")
            out.mkdir()  # another process created it
    assert os.listdir(out) == [] and sorted(os.listdir(tmp_path)) == ["out"]
