"""The strict readers on KLUE-MRC files (guid, question types, unanswerable questions) and on JSON Lines files in
the Hugging Face layout; every malformed input is one error naming the file and the line, field or question. A data
set registered with a layout of its own is read, windowed and decoded through the usual path."""

import json
import subprocess
import sys

from readers_helpers import GOOD, KLUE_TINY, klue_file, write_lines


def test_malformed_klue_file_exits_2_with_one_line(tmp_path):
    path = klue_file(tmp_path, question_type=7)
    proc = subprocess.run([sys.executable, "-m", "korsquad", "check", "--data_name", "klue_mrc", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"error: {path}: ") and "question_type" in proc.stderr


def test_check_prints_the_question_types_of_a_klue_file(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "korsquad", "check", "--data_name", "klue_mrc",
                           str(KLUE_TINY)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "  question type 2 (multi-sentence reasoning): 2" in lines
    assert json.loads(lines[-1])["question_types"] == {"1": 2, "2": 2, "3": 2}


def test_bad_jsonl_exits_2_with_one_line_through_the_check_command(tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", GOOD, "{oops")
    proc = subprocess.run([sys.executable, "-m", "korsquad", "check", "--data_name", "squad_v1.1",
                           str(path)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {path}: line 2: not valid JSON")
    assert proc.stderr.count("\n") == 1
