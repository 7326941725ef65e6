"""`korsquad score`: the official numbers on real files, and one-line errors for bad input."""

import json
import subprocess
import sys

import pytest
from conftest import FIXTURES, SHARED_DATA

from korsquad.data.datasets import get_spec
from korsquad.data.readers import read_examples
from korsquad.data.scoring import evaluate_predictions

needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data folder {SHARED_DATA} is absent")

SQUAD_V2_BERT_SINGLE = {
    "exact": 78.74168280973637, "f1": 81.77528052374723, "total": 11873,
    "HasAns_exact": 74.10593792172739, "HasAns_f1": 80.18183293833508, "HasAns_total": 5928,
    "NoAns_exact": 83.36417157275021, "NoAns_f1": 83.36417157275021, "NoAns_total": 5945,
}


def run_evaluate(cwd, *args):
    """Run the command from `cwd` (not the checkout), as a user would."""
    return subprocess.run([sys.executable, "-m", "korsquad", "score", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def last_json_line(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_same_result(result, expected):
    assert list(result) == list(expected)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, rel=0, abs=1e-9), key


def write_json(path, obj):
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


# --- official numbers on the real files -----------------------------------------------------------------------------

@needs_shared
@pytest.mark.parametrize("predictions, expected", [
    ("bert_ensemble", {"exact_match": 86.20624408703878, "f1": 92.19557978351145}),
    ("logreg_baseline", {"exact_match": 40.14191106906339, "f1": 50.98153647324461}),  # 13 unanswered
])
def test_squad_v1_leaderboard_predictions(tmp_path, predictions, expected):
    proc = run_evaluate(tmp_path, "--data_name", "squad_v1.1", SHARED_DATA / "squad_v1.1/dev.json",
                        SHARED_DATA / f"squad_v1.1/predictions/{predictions}.dev.json")
    assert_same_result(last_json_line(proc), expected)


@needs_shared
def test_squad_v2_leaderboard_predictions_and_out_file(tmp_path):
    out_file = tmp_path / "results" / "eval.json"
    proc = run_evaluate(tmp_path, "--data_name", "squad_v2.0", SHARED_DATA / "squad_v2.0/dev.json",
                        SHARED_DATA / "squad_v2.0/predictions/bert_single.dev.json", "--out_file", out_file)
    result = last_json_line(proc)
    assert_same_result(result, SQUAD_V2_BERT_SINGLE)
    assert json.loads(out_file.read_text(encoding="utf-8")) == result


@needs_shared
def test_korquad_v1_first_gold_answers_score_100(tmp_path):
    dev = SHARED_DATA / "korquad_v1.0/dev.json"
    data = json.loads(dev.read_text(encoding="utf-8"))["data"]
    first_golds = {qa["id"]: qa["answers"][0]["text"]
                   for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"]}
    assert len(first_golds) == 5774
    predictions = write_json(tmp_path / "predictions.json", first_golds)
    result = last_json_line(run_evaluate(tmp_path, "--data_name", "korquad_v1.0", dev, predictions))
    assert result == {"exact_match": 100.0, "f1": 100.0}


@needs_shared
def test_korquad_v2_raw_html_answers_match_their_gold(tmp_path):
    # The golds are "시나위" and "<a>신중현</a>"; the raw HTML answers carry attributes the gold lacks.
    dev = SHARED_DATA / "korquad_v2.1/dev.sample.json"
    data = json.loads(dev.read_text(encoding="utf-8"))["data"]
    html_answers = {qa["id"]: qa["answer"]["html_answer_text"] for doc in data for qa in doc["qas"]}
    predictions = write_json(tmp_path / "predictions.json", html_answers)
    result = last_json_line(run_evaluate(tmp_path, "--data_name", "korquad_v2.1", dev, predictions))
    assert result == {"exact_match": 100.0, "f1": 100.0}


@needs_shared
def test_in_memory_scoring_matches_the_command(tmp_path):
    dev = SHARED_DATA / "squad_v2.0/dev.sample.json"
    examples = read_examples(dev, get_spec("squad_v2.0"))
    # answer every other question with its first gold, leave the rest empty
    predictions = {ex.id: (ex.answers[0].text if ex.answers and i % 2 else "") for i, ex in enumerate(examples)}
    in_memory = evaluate_predictions(examples, predictions, get_spec("squad_v2.0").metric)
    from_file = last_json_line(run_evaluate(tmp_path, "--data_name", "squad_v2.0", dev,
                                            write_json(tmp_path / "p.json", predictions)))
    assert in_memory == from_file
    assert in_memory["NoAns_exact"] == 100.0 and 0 < in_memory["HasAns_exact"] < 100


# --- KLUE-MRC and JSON Lines files of our own ---------------------------------------------------------------------

# Predictions for tests/fixtures/klue_mrc_tiny.json and their (EM, ROUGE-W) by hand, on normalized texts:
KLUE_PREDICTIONS = {
    "klue-mrc-tiny_00001": "1974년 8월",  # type 1, gold "1974년 8월 15일": L=8, P=1, R=8/12 -> (0, 0.8)
    "klue-mrc-tiny_00002": "서울역에서",  # type 2, gold "서울역": L=3, P=3/5, R=1 -> (0, 0.75)
    "klue-mrc-tiny_00003": "",  # type 3, unanswerable, answered empty -> (1, 1)
    "klue-mrc-tiny_00004": "세종",  # type 1, golds "세종" / "조선의 제4대 임금 세종" -> (1, 1)
    "klue-mrc-tiny_00005": "24자",  # type 2 -> (1, 1)
    "klue-mrc-tiny_00006": "《훈민정음》",  # type 3, answered with its plausible answer -> (0, 0)
}
KLUE_EXPECTED = {
    "exact_match": 50.0, "rouge_w": 100 * 4.55 / 6, "total": 6,
    "type1_exact_match": 50.0, "type1_rouge_w": 90.0, "type1_total": 2,
    "type2_exact_match": 50.0, "type2_rouge_w": 87.5, "type2_total": 2,
    "type3_exact_match": 50.0, "type3_rouge_w": 50.0, "type3_total": 2,
}


def test_klue_mrc_command_prints_overall_and_per_type_scores(tmp_path):
    predictions = write_json(tmp_path / "predictions.json", KLUE_PREDICTIONS)
    out_file = tmp_path / "eval.json"
    proc = run_evaluate(tmp_path, "--data_name", "klue_mrc", FIXTURES / "klue_mrc_tiny.json", predictions,
                        "--out_file", out_file)
    result = last_json_line(proc)
    assert_same_result(result, KLUE_EXPECTED)
    assert json.loads(out_file.read_text(encoding="utf-8")) == result
    examples = read_examples(FIXTURES / "klue_mrc_tiny.json", get_spec("klue_mrc"))
    assert evaluate_predictions(examples, KLUE_PREDICTIONS, get_spec("klue_mrc").metric) == result


def test_klue_mrc_unanswered_questions_score_zero_with_a_note(tmp_path):
    partial = {qid: text for qid, text in KLUE_PREDICTIONS.items() if qid != "klue-mrc-tiny_00004"}
    proc = run_evaluate(tmp_path, "--data_name", "klue_mrc", FIXTURES / "klue_mrc_tiny.json",
                        write_json(tmp_path / "p.json", partial))
    result = last_json_line(proc)
    assert "1 of 6 questions have no prediction" in proc.stderr
    assert result["exact_match"] == pytest.approx(100 * 2 / 6) and result["type1_rouge_w"] == pytest.approx(40.0)


def test_jsonl_data_set_is_scored_like_its_json_twin(tmp_path):
    # hf1 exact; hf2 "330 metres tall" vs "330 metres": P=2/3, R=1 -> F1 0.8; hf3 unanswerable, answered empty
    predictions = write_json(tmp_path / "p.json", {"hf1": "1889", "hf2": "330 metres tall", "hf3": ""})
    result = last_json_line(run_evaluate(tmp_path, "--data_name", "squad_v2.0", FIXTURES / "hf_squad_tiny.jsonl",
                                         predictions))
    assert_same_result(result, {"exact": 100 * 2 / 3, "f1": 100 * 2.8 / 3, "total": 3,
                                "HasAns_exact": 50.0, "HasAns_f1": 90.0, "HasAns_total": 2,
                                "NoAns_exact": 100.0, "NoAns_f1": 100.0, "NoAns_total": 1})


def test_klue_mrc_refuses_na_prob_file(tmp_path):
    predictions = write_json(tmp_path / "p.json", KLUE_PREDICTIONS)
    probs = write_json(tmp_path / "na.json", {"klue-mrc-tiny_00001": 0.1})
    assert_one_error_line(run_evaluate(tmp_path, "--data_name", "klue_mrc", FIXTURES / "klue_mrc_tiny.json",
                                       predictions, "--na_prob_file", probs),
                          "--na_prob_file", "squad_v2 metric (squad_v2.0)", "not klue_mrc")


# --- a small SQuAD 2.0 file of our own, for the na-prob file -------------------------------------------------------

def tiny_squad_v2(tmp_path):
    """Four questions (q2, q4 unanswerable) in one paragraph: the best-threshold walk of test_metrics."""
    context = "Paris is in France and Rome is in Italy."
    qas = [
        {"id": "q1", "question": "Capital of France?", "answers": [{"text": "Paris", "answer_start": 0}]},
        {"id": "q2", "question": "Capital of Mars?", "answers": [], "is_impossible": True},
        {"id": "q3", "question": "Capital of Italy?", "answers": [{"text": "Rome", "answer_start": 23}]},
        {"id": "q4", "question": "Capital of Venus?", "answers": [], "is_impossible": True},
    ]
    data = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}
    predictions = {"q1": "Paris", "q2": "x", "q3": "Rome", "q4": ""}
    return write_json(tmp_path / "dev.json", data), write_json(tmp_path / "predictions.json", predictions)


@pytest.mark.parametrize("na_probs, best_exact, thresh", [
    ({"q1": 0.1, "q2": 0.5, "q3": 0.5, "q4": 0.2}, 75.0, 0.1),
    ({"q1": 0.1, "q3": 0.5, "q2": 0.5, "q4": 0.2}, 100.0, 0.5),  # the tie broken by the file's order
])
def test_na_prob_file_adds_best_keys_in_file_order(tmp_path, na_probs, best_exact, thresh):
    dev, predictions = tiny_squad_v2(tmp_path)
    na_prob_file = write_json(tmp_path / "na_probs.json", na_probs)
    result = last_json_line(run_evaluate(tmp_path, "--data_name", "squad_v2.0", dev, predictions,
                                         "--na_prob_file", na_prob_file))
    assert list(result)[-4:] == ["best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"]
    assert (result["best_exact"], result["best_exact_thresh"]) == (best_exact, thresh)
    assert (result["exact"], result["total"], result["NoAns_total"]) == (75.0, 4, 2)


# --- bad input -----------------------------------------------------------------------------------------------------

def assert_one_error_line(proc, *fragments):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert proc.stdout == ""


def test_missing_data_set_file(tmp_path):
    _, predictions = tiny_squad_v2(tmp_path)
    proc = run_evaluate(tmp_path, "--data_name", "squad_v2.0", tmp_path / "nope.json", predictions)
    assert_one_error_line(proc, "nope.json", "not found")


def test_predictions_not_json(tmp_path):
    dev, _ = tiny_squad_v2(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert_one_error_line(run_evaluate(tmp_path, "--data_name", "squad_v2.0", dev, bad), "bad.json", "not valid JSON")


@pytest.mark.parametrize("predictions, fragment", [
    (["Paris", "Rome"], "must be a JSON object"),
    ({"q1": "Paris", "q2": 3}, "id 'q2' must be a string"),
    ({"q1": "Paris", "q2": None}, "id 'q2' must be a string"),
])
def test_predictions_not_a_mapping_of_strings(tmp_path, predictions, fragment):
    dev, _ = tiny_squad_v2(tmp_path)
    bad = write_json(tmp_path / "bad.json", predictions)
    assert_one_error_line(run_evaluate(tmp_path, "--data_name", "squad_v2.0", dev, bad), "bad.json", fragment)


def test_wrong_data_set_schema(tmp_path):
    _, predictions = tiny_squad_v2(tmp_path)
    dev = write_json(tmp_path / "dev.json", {"paragraphs": []})
    assert_one_error_line(run_evaluate(tmp_path, "--data_name", "squad_v2.0", dev, predictions), "'data'")


def test_unknown_data_name(tmp_path):
    dev, predictions = tiny_squad_v2(tmp_path)
    assert_one_error_line(run_evaluate(tmp_path, "--data_name", "squad_v3.0", dev, predictions),
                          "--data_name", "squad_v3.0")


def test_missing_argument_is_one_line_too(tmp_path):
    dev, _ = tiny_squad_v2(tmp_path)
    assert_one_error_line(run_evaluate(tmp_path, "--data_name", "squad_v2.0", dev), "predictions")


def test_squad_v2_missing_predictions_names_how_many(tmp_path):
    dev, _ = tiny_squad_v2(tmp_path)
    partial = write_json(tmp_path / "partial.json", {"q1": "Paris"})
    assert_one_error_line(run_evaluate(tmp_path, "--data_name", "squad_v2.0", dev, partial),
                          "3 of 4 questions have no prediction", "q2")


def test_bad_na_prob_file(tmp_path):
    dev, predictions = tiny_squad_v2(tmp_path)
    probs = write_json(tmp_path / "na.json", {"q1": "high", "q2": 0.5, "q3": 0.5, "q4": 0.2})
    assert_one_error_line(run_evaluate(tmp_path, "--data_name", "squad_v2.0", dev, predictions,
                                       "--na_prob_file", probs), "na.json", "id 'q1'", "finite number")
    probs = write_json(tmp_path / "na.json", {"q1": 0.1})
    assert_one_error_line(run_evaluate(tmp_path, "--data_name", "squad_v2.0", dev, predictions,
                                       "--na_prob_file", probs), "lack 3 of 4 questions")


def test_na_prob_file_refused_for_data_sets_without_unanswerable_questions(tmp_path):
    dev, predictions = tiny_squad_v2(tmp_path)
    probs = write_json(tmp_path / "na.json", {"q1": 0.1})
    assert_one_error_line(run_evaluate(tmp_path, "--data_name", "squad_v1.1", dev, predictions,
                                       "--na_prob_file", probs), "--na_prob_file", "squad_v1.1")
