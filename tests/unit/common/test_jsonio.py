"""The atomic writer: a file appears complete or not at all, with the mode the user's umask gives any new file."""

import os

import pytest
from conftest import wrong_modes

from korsquad.common.jsonio import (atomic_file, atomic_write_bytes, atomic_write_json, umask as read_umask,
                                    write_json_lines)


def test_atomic_writes_get_the_mode_an_ordinary_open_gives(tmp_path, umask):
    """Under umask 022 a teammate can read the files (0644), under 077 nobody else can (0600): as with open()."""
    with open(tmp_path / "ordinary.txt", "w") as f:
        f.write("x")
    atomic_write_json(tmp_path / "run.json", {"status": "finished"})
    atomic_write_bytes(tmp_path / "folder" / "page.html", b"<html></html>")
    write_json_lines([{"id": "q1"}], tmp_path / "answers.jsonl")
    with atomic_file(tmp_path / "text.txt", "w", encoding="utf-8") as f:
        f.write("x")
    os.chmod(tmp_path / "run.json", 0o600)  # an older, private file: replaced by one of the ordinary mode
    atomic_write_json(tmp_path / "run.json", {"status": "running"})
    assert len(list(tmp_path.rglob("*"))) == 6
    assert wrong_modes(tmp_path, umask) == {}


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    atomic_write_bytes(tmp_path / "result.json", b"old")
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "result.json") as f:
        f.write(b"half")
        raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
    assert (tmp_path / "result.json").read_bytes() == b"old"


def test_the_umask_is_read_without_changing_it(umask):
    assert read_umask() == umask
    assert os.umask(umask) == umask  # still the one the fixture set
