"""python -m korsquad.predict: JSON Lines in and out (a file, or one --question/--context), the answers of
QuestionAnswerer, and bad input as one `error:` line with exit status 2."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT

from korsquad import QuestionAnswerer
from korsquad.datasets import get_spec
from korsquad.predict import main
from korsquad.readers import read_examples

SETTINGS = {"data_name": "squad_v2.0", "model_type": "bert", "max_seq_length": 128, "doc_stride": 64,
            "max_query_length": 32, "n_best_size": 20, "max_answer_length": 30, "null_score_diff_threshold": -0.5,
            "eval_batch_size": 4, "do_train": True}


def predict(*args, timeout=300):
    """`python -m korsquad.predict ARGS` in a subprocess, importing this checkout's package."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "korsquad.predict", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def run_dir(tiny_bert, tmp_path_factory):
    """A run folder as training leaves it (run.json's "config", best_model/), without the training."""
    folder = tmp_path_factory.mktemp("model") / "squad_v2.0" / "run"
    shutil.copytree(tiny_bert, folder / "best_model")
    (folder / "run.json").write_text(json.dumps({"config": SETTINGS, "status": "finished"}))
    return folder


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    """The SQuAD 2.0 fixture as JSON Lines, every other line without an id, and a blank line."""
    examples = read_examples(FIXTURES / "squad_tiny.json", get_spec("squad_v2.0"))
    records = [{"question": e.question, "context": e.context, **({"id": e.id} if i % 2 else {})}
               for i, e in enumerate(examples)]
    path = tmp_path_factory.mktemp("in") / "questions.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines[:3] + [""] + lines[3:]) + "\n", encoding="utf-8")
    return path, records


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


def test_one_question_and_stdout(run_dir, questions, capsys):
    _, records = questions
    record = records[1]
    assert main(["--model", str(run_dir / "best_model"), "--question", record["question"], "--context",
                 record["context"], "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    expected = QuestionAnswerer(run_dir, device="cpu")(record["question"], record["context"])
    assert answer["id"] is None and answer["answer"] == expected["answer"]
    assert record["context"][answer["char_start"]:answer["char_end"]] == answer["answer"] or answer["char_start"] == -1


def test_input_file_to_stdout(run_dir, questions, capsys):
    path, records = questions
    assert main(["--model", str(run_dir), "--input", str(path), "--device", "cpu", "--batch_size", "2"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == len(records) and "answering" in captured.err


@pytest.mark.parametrize("lines, message", [
    (['{"question": "q?", "context": "c."}', '{"question": "q?", "context": '], "IN: line 2: not valid JSON"),
    (['{"question": "q?", "context": "c."}', '', '{"context": "c."}'], 'IN: line 3: "question" is missing'),
    (['{"question": "q?"}'], 'IN: line 1: "context" is missing'),
    (['{"question": "q?", "context": 5}'], 'IN: line 1: "context" is not a string'),
    (['["q?", "c."]'], "IN: line 1: expected one JSON object per line"),
    ([''], "no questions"),
])
def test_bad_input_lines_are_one_error_line(run_dir, tmp_path, capsys, lines, message):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(run_dir), "--input", str(path), "--output", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message.replace("IN", str(path)) in err[0], err
    assert not out.exists() and not list(tmp_path.glob(".out.jsonl.*"))


@pytest.mark.parametrize("args, message", [
    (["--model", "{tmp}/missing", "--question", "q?", "--context", "c."], "missing not found"),
    (["--model", "{run}", "--question", "q?"], "give --question and --context"),
    (["--model", "{run}", "--input", "{tmp}/in.jsonl", "--question", "q?"], "not both"),
    (["--model", "{run}", "--input", "{tmp}/absent.jsonl"], "absent.jsonl: file not found"),
    (["--model", "{run}", "--question", "q?", "--context", "c.", "--device", "tpu"], "device 'tpu'"),
    (["--model", "{run}", "--question", "q?", "--context", " "], '"context" is empty'),
    (["--model", "{run}", "--question", "q?", "--context", "c.", "--batch_size", "0"], "--batch_size"),
    (["--question", "q?", "--context", "c."], "--model"),
])
def test_bad_command_lines_are_one_error_line(run_dir, tmp_path, capsys, args, message):
    (tmp_path / "in.jsonl").write_text('{"question": "q?", "context": "c."}\n')
    argv = [a.format(tmp=tmp_path, run=run_dir) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err


def test_error_exit_status_in_a_real_process(run_dir, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"question": "q?", "context": "c."}\nnot json\n')
    result = predict("--model", run_dir, "--input", path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"error: {path}: line 2: not valid JSON (Expecting value, column 1)"]
