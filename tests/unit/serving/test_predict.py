"""korsquad predict: JSON Lines in and out (a file, or one --question/--context), the answers of
QuestionAnswerer, and bad input as one `error:` line with exit status 2."""

import json

import pytest
from predict_helpers import questions, run_dir

from korsquad import QuestionAnswerer
from korsquad.serving.predict import main


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
    (["--model", "{tmp}/missing", "--question", "q?", "--context", "c."], "missing: not found"),
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
