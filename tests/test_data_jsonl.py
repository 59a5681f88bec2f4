"""Resumable JSONL files: located errors, crash-safe appends, done-sets."""

from __future__ import annotations

import json

import pytest

from salv_trainer.data import DataError, JsonlWriter, done_ids, read_jsonl, read_rows


def test_rows_round_trip_with_unicode(tmp_path):
    path = tmp_path / "a.jsonl"
    with JsonlWriter(path, resume=False) as w:
        w.write({"id": "1", "text": "ü // module"})
        w.write({"id": 2, "text": "x"})
    assert [r for _, r in read_jsonl(path)] == [{"id": "1", "text": "ü // module"}, {"id": 2, "text": "x"}]
    assert done_ids(path) == {"1", "2"}


def test_malformed_line_is_reported_with_file_line_col(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1}\n\n{"id": 2,,}\n')
    with pytest.raises(DataError) as err:
        list(read_jsonl(path))
    assert err.value.message == f"{path}:3:10: error: invalid JSON: Expecting property name enclosed in double quotes"


def test_non_object_row_and_missing_field_and_duplicate_id(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('[1, 2]\n')
    with pytest.raises(DataError, match=r"x.jsonl:1:1: error: expected a JSON object, got list"):
        read_rows(path)
    path.write_text('{"id": "a"}\n')
    with pytest.raises(DataError, match=r"x.jsonl:1:1: error: missing field 'reference'"):
        read_rows(path, fields=("id", "reference"))
    path.write_text('{"id": "a"}\n{"id": "a"}\n')
    with pytest.raises(DataError, match=r"x.jsonl:2:1: error: duplicate id 'a' \(first on line 1\)"):
        read_rows(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="nope.jsonl: cannot read: No such file or directory"):
        read_rows(tmp_path / "nope.jsonl")


def test_interrupted_append_is_dropped_on_resume(tmp_path):
    """A crash mid-write leaves a partial last line: done_ids ignores it, resuming cuts it off."""
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c", "resp')
    assert done_ids(path) == {"a", "b"}
    with JsonlWriter(path, resume=True) as w:
        w.write({"id": "c"})
    assert path.read_text() == '{"id": "a"}\n{"id": "b"}\n{"id": "c"}\n'
    # An input file (not ours) with a broken last line is an error, not silently shortened.
    path.write_text('{"id": "a"}\n{"id": "b"')
    with pytest.raises(DataError, match=":2:"):
        read_rows(path)


def test_restart_truncates(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": "old"}\n')
    with JsonlWriter(path, resume=False) as w:
        w.write({"id": "new"})
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == ["new"]
