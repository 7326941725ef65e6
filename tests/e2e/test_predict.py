"""korsquad predict: JSON Lines in and out (a file, or one --question/--context), the answers of
QuestionAnswerer, and bad input as one `error:` line with exit status 2."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from predict_helpers import questions, run_dir

from korsquad import QuestionAnswerer


def predict(*args, timeout=300):
    """`korsquad predict ARGS` in a subprocess, importing this checkout's package."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "korsquad", "predict", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_file_in_answers_out(run_dir, questions, tmp_path):
    path, records = questions
    out = tmp_path / "answers.jsonl"
    result = predict("--model", run_dir, "--input", path, "--output", out, "--device", "cpu", "--chunk_size", "5")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "answering" in result.stderr and result.stdout == ""  # the progress bar goes to stderr
    answers = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    # ids: the record's, else its line number (the blank line 4 counts)
    line_numbers = [i + 1 if i < 3 else i + 2 for i in range(len(records))]
    assert [a["id"] for a in answers] == [r.get("id", n) for r, n in zip(records, line_numbers)]
    expected = QuestionAnswerer(run_dir, device="cpu").batch(records)
    assert [(a["answer"], a["char_start"], a["char_end"]) for a in answers] == [
        (a["answer"], a["char_start"], a["char_end"]) for a in expected]
    assert [a["score"] for a in answers] == pytest.approx([a["score"] for a in expected], abs=1e-5)
    assert set(answers[0]) == {"id", "answer", "char_start", "char_end", "score"}
    assert not list(tmp_path.glob(".answers.jsonl.*"))  # the temporary file was renamed


def test_error_exit_status_in_a_real_process(run_dir, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"question": "q?", "context": "c."}\nnot json\n')
    result = predict("--model", run_dir, "--input", path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"error: {path}: line 2: not valid JSON (Expecting value, column 1)"]
