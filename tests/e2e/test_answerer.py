"""QuestionAnswerer: the answers of a trained run equal its dev evaluation's predictions_eval.json (with the run's
own window and decoding settings), "" where the null rule says so, KoBERT runs load, and bad input is a UsageError."""

import json
import shutil
from pathlib import Path

import pytest
from answerer_helpers import WINDOW, dev_records
from conftest import FIXTURES, copy_run, run_cli

from korsquad import QuestionAnswerer


QUICK = ["--accelerator", "cpu", *[str(x) for kv in WINDOW.items() for x in (f"--{kv[0]}", kv[1])],
         "--batch_size", "8", "--logging_steps", "1"]


def read_json(path):
    return json.loads(Path(path).read_text())


def check_against_evaluation(answers, run_dir, records):
    """Same texts as predictions_eval.json; offsets into the context; score = the chosen n-best entry's
    probability."""
    predictions = read_json(run_dir / "predictions_eval.json")
    nbest = read_json(run_dir / "nbest_predictions_eval.json")
    assert [a["id"] for a in answers] == [r["id"] for r in records]
    assert {a["id"]: a["answer"] for a in answers} == predictions
    for answer, record in zip(answers, records):
        entries = nbest[answer["id"]]
        if answer["char_start"] < 0:
            assert answer["answer"] == "" and answer["char_end"] == -1
            chosen = next((e for e in entries if e["char_start"] < 0), None)
            if chosen is None:  # no null entry (SQuAD 1.1): an empty best span, or none valid, is "no answer", 0.0
                assert (not entries or entries[0]["text"] == "") and answer["score"] == 0.0
                continue
        else:
            assert record["context"][answer["char_start"]:answer["char_end"]] == answer["answer"]
            chosen = next(e for e in entries if e["char_start"] >= 0)
            assert (chosen["char_start"], chosen["char_end"]) == (answer["char_start"], answer["char_end"])
        assert answer["score"] == pytest.approx(chosen["probability"], abs=1e-5)


@pytest.fixture(scope="module")
def squad_v1_run(squad_run):
    """conftest's tiny BERT run on squad_v1_tiny.json: trained with WINDOW and batch size 8, evaluated."""
    _, run_dir = squad_run
    return run_dir


@pytest.mark.slow
def test_run_folder_answers_like_its_dev_evaluation(squad_v1_run):
    records = dev_records(FIXTURES / "squad_v1_tiny.json", "squad_v1.1")
    qa = QuestionAnswerer(squad_v1_run, device="cpu")
    assert qa.window.as_dict() == WINDOW and qa.batch_size == 16  # the run's eval_batch_size
    check_against_evaluation(qa.batch(records), squad_v1_run, records)

    # the best_model/ folder itself takes its settings from the run folder above it
    direct = QuestionAnswerer(squad_v1_run / "best_model", device="cpu")
    assert (direct.window, direct.decoding) == (qa.window, qa.decoding) and direct.data_name == "squad_v1.1"
    one = records[5]
    single = direct(one["question"], one["context"])
    assert single == dict(qa.batch([one])[0], id=None)

    # the registry's window (384/128/64) sees other windows: the run's settings are what reproduce the evaluation
    defaults = QuestionAnswerer(squad_v1_run, device="cpu", max_seq_length=384, doc_stride=128, max_query_length=64)
    predictions = read_json(squad_v1_run / "predictions_eval.json")
    assert [a["answer"] for a in defaults.batch(records)] != [predictions[r["id"]] for r in records]


@pytest.mark.slow
def test_stream_answers_in_chunks_in_order(squad_v1_run):
    records = dev_records(FIXTURES / "squad_v1_tiny.json", "squad_v1.1")[:9]
    for record in records[::2]:
        del record["id"]
    qa = QuestionAnswerer(squad_v1_run, device="cpu")
    streamed = list(qa.stream(iter(records), chunk_size=4))
    assert [a["id"] for a in streamed][:3] == [0, records[1]["id"], 2]
    whole = qa.batch(records)
    assert [(a["id"], a["answer"], a["char_start"]) for a in streamed] == [
        (a["id"], a["answer"], a["char_start"]) for a in whole]


@pytest.mark.slow
def test_unanswerable_questions_get_empty_answers(tiny_bert, squad_v2_run, tmp_path):
    fixture = FIXTURES / "squad_tiny.json"
    data, trained = squad_v2_run  # conftest's: trained and evaluated with WINDOW and batch size 8
    run_dir = copy_run(trained, tmp_path / "model")
    records = dev_records(fixture, "squad_v2.0")
    qa = QuestionAnswerer(run_dir, device="cpu")
    assert qa.decoding.null_score_diff_threshold == 0.0
    check_against_evaluation(qa.batch(records), run_dir, records)

    # a threshold that splits the questions: evaluate with it, then answer with it
    odds = sorted(read_json(run_dir / "null_odds_eval.json").values())
    threshold = (odds[len(odds) // 2 - 1] + odds[len(odds) // 2]) / 2
    evaluation = run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v2.0",
                         "--data_dir", data, "--output_dir", tmp_path / "model", "--run_name", "tiny", *QUICK,
                         "--do_eval", "--null_score_diff_threshold", str(threshold))
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    answers = QuestionAnswerer(run_dir, device="cpu", null_score_diff_threshold=threshold).batch(records)
    check_against_evaluation(answers, run_dir, records)
    empty = sum(a["answer"] == "" for a in answers)
    assert 0 < empty < len(answers)
    assert all(a["char_start"] == a["char_end"] == -1 for a in answers if a["answer"] == "")


@pytest.mark.slow
def test_kobert_run_loads_with_its_tokenizer(kobert_run, tmp_path):
    fixture = FIXTURES / "korquad_tiny.json"
    _, run_dir = kobert_run  # conftest's: the window and batch size of WINDOW and QUICK
    records = dev_records(fixture, "korquad_v1.0")
    qa = QuestionAnswerer(run_dir, device="cpu")
    assert type(qa.tokenizer).__name__ == "KoBertTokenizer" and qa.model_type == "kobert"
    answers = qa.batch(records)
    check_against_evaluation(answers, run_dir, records)

    # a bare best_model/ elsewhere: KoBertTokenizer found from its tokenizer_config.json, settings passed
    bare = shutil.copytree(run_dir / "best_model", tmp_path / "bare")
    alone = QuestionAnswerer(bare, data_name="korquad_v1.0", device="cpu", batch_size=16, **WINDOW)
    assert alone.model_type == "kobert" and alone.decoding.max_answer_length == 30  # registry default
    assert alone.batch(records) == answers
