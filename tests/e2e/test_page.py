"""The evaluation page (korsquad.analysis.page, korsquad.analysis.page_content): its pure records, the command on real
tiny runs (SQuAD 2.0 and KLUE-MRC), and the page itself in a real browser (Chromium driven by selenium; skipped with the
reason where either is missing).

Set KORSQUAD_SCREENSHOT_DIR to keep the browser test's screenshot there as well (the README's figs/inspect_page.png
is made so)."""

import io
import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, data_dir_with, run_cli
from page_helpers import SQUAD2, browser

from korsquad.analysis.page import main as inspect_main
from korsquad.data import metrics
from korsquad.data.readers import read_examples


QUICK = ["--accelerator", "cpu", "--max_seq_length", "128", "--doc_stride", "64", "--max_query_length", "32",
         "--batch_size", "8", "--max_steps", "1", "--logger", "csv", "--do_train", "--do_eval"]


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def page_data(html_path):
    """The page data embedded in a written page."""
    text = Path(html_path).read_text(encoding="utf-8")
    found = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', text, re.DOTALL)
    return json.loads(found.group(1))


# ---- the command on real tiny runs -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tiny_bert, squad_v2_run, tmp_path_factory):
    """A SQuAD 2.0 (conftest's squad_v2_run) and a KLUE-MRC run of the tiny model, one optimizer step each."""
    tmp = tmp_path_factory.mktemp("inspect_runs")
    data_dir_with(tmp, "klue_mrc", FIXTURES / "klue_mrc_tiny.json", FIXTURES / "klue_mrc_tiny.json")
    proc = run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "klue_mrc",
                   "--data_dir", tmp / "data", "--output_dir", tmp / "model", "--run_name", "tiny", *QUICK)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"squad_v2.0": squad_v2_run[1], "klue_mrc": tmp / "model" / "klue_mrc" / "tiny"}


def run_inspect(*args):
    """The command in this process (a subprocess costs a second of imports): (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = inspect_main([str(arg) for arg in args])
        except SystemExit as exit:
            status = exit.code
    return status, out.getvalue(), err.getvalue()


def js_index(text, index):
    """A code point index of `text` as JavaScript counts (UTF-16 units)."""
    return len(text[:index].encode("utf-16-le")) // 2


def js_slice(text, start, end):
    """What JavaScript's text.slice(start, end) gives."""
    return text.encode("utf-16-le")[2 * start:2 * end].decode("utf-16-le")


def check_highlights(page, run_dir, split="eval"):
    """Every prediction is shown at the span its n-best entry records, and the page's n-best lists are the run's
    (offsets in UTF-16 units: squad_tiny.json has an emoji before some answers)."""
    predictions = read_json(run_dir / f"predictions_{split}.json")
    nbest = read_json(run_dir / f"nbest_predictions_{split}.json")
    for record in page["questions"]:
        context = page["contexts"][record["c"]]
        prediction = predictions[record["id"]]
        if prediction:
            best = next(e for e in nbest[record["id"]] if e["char_start"] >= 0)
            assert record["ps"] == [js_index(context, best["char_start"]), js_index(context, best["char_end"])]
            assert js_slice(context, *record["ps"]) == record["p"] == prediction
        rows = record["nb"]
        assert [rows[k:k + 2] for k in range(0, len(rows), 3)] == [
            [js_index(context, e["char_start"]), js_index(context, e["char_end"])] if e["char_start"] >= 0
            else [-1, -1] for e in nbest[record["id"]]]


@pytest.mark.slow
def test_squad2_run_page(runs):
    run_dir = runs["squad_v2.0"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, "-m", "korsquad", "inspect", str(run_dir)], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = run_dir / "inspect_eval.html"
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"out": str(out), "questions": 24,
                                                                "bytes": out.stat().st_size}
    page = page_data(out)
    result = read_json(run_dir / "result.json")
    assert dict(page["official"]) == result
    cats = {(c["group"], c["label"]): c for c in page["categories"]}
    assert cats[("all", "all questions")]["f1"] == pytest.approx(result["f1"])
    assert cats[("answerable", "answerable")]["n"] == 20 and cats[("answerable", "unanswerable")]["n"] == 4
    assert cats[("answerable", "answerable")]["f1"] == pytest.approx(result["HasAns_f1"])
    odds = read_json(run_dir / "null_odds_eval.json")
    assert all(r["nl"]["odds"] == pytest.approx(odds[r["id"]], abs=1e-4) for r in page["questions"])
    check_highlights(page, run_dir)


@pytest.mark.slow
def test_klue_mrc_run_page_shows_question_types_and_their_official_scores(runs, tmp_path):
    run_dir = runs["klue_mrc"]
    status, _, err = run_inspect(run_dir, "--out", tmp_path / "klue.html")
    assert status == 0, err
    page = page_data(tmp_path / "klue.html")
    result = read_json(run_dir / "result.json")
    assert page["metric"] == {"em": "EM", "f1": "ROUGE-W"}
    by_type = {c["label"]: c for c in page["categories"] if c["group"] == "question type"}
    assert list(by_type) == ["1 paraphrase", "2 multi-sentence reasoning", "3 unanswerable"]
    for number, label in enumerate(by_type, 1):
        assert by_type[label]["n"] == result[f"type{number}_total"]
        assert by_type[label]["em"] == pytest.approx(result[f"type{number}_exact_match"])
        assert by_type[label]["f1"] == pytest.approx(result[f"type{number}_rouge_w"])
    assert [r["t"] for r in page["questions"]] == [1, 2, 3, 1, 2, 3]
    words = {c["label"] for c in page["categories"] if c["group"] == "question word"}
    assert {"who (누가)", "when (언제)", "where (어디)"} <= words
    check_highlights(page, run_dir)


@pytest.mark.slow
def test_predict_split_page_has_no_scores(runs, tmp_path):
    """--split predict reads the files --do_predict writes (the same writer, split "predict") and run.json's
    --predict_file."""
    run_dir = tmp_path / "run"
    shutil.copytree(runs["squad_v2.0"], run_dir, ignore=shutil.ignore_patterns("checkpoints", "best_model"))
    for name in ("predictions", "nbest_predictions", "null_odds"):
        (run_dir / f"{name}_eval.json").rename(run_dir / f"{name}_predict.json")
    questions = tmp_path / "questions.json"
    data = read_json(FIXTURES / "squad_tiny.json")
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qa.pop("answers")
    questions.write_text(json.dumps(data), encoding="utf-8")
    record = read_json(run_dir / "run.json")
    record["evaluation"] = {"config": dict(record["config"], do_train=False, do_eval=False, do_predict=True,
                                           predict_file=str(questions))}
    (run_dir / "run.json").write_text(json.dumps(record), encoding="utf-8")
    assert run_inspect(run_dir, "--split", "predict")[0] == 0
    page = page_data(run_dir / "inspect_predict.html")
    assert page["labeled"] is False and page["official"] == [] and len(page["questions"]) == 24
    assert all("em" not in r and r["g"] == [] for r in page["questions"])
    assert {c["group"] for c in page["categories"]} == {"all", "question word", "context length"}
    check_highlights(page, run_dir, "predict")


@pytest.mark.slow
def test_an_evaluation_is_shown_after_a_later_predict(tiny_bert, tmp_path):
    """Trained without --do_eval, evaluated on 10 questions with its own threshold, then --do_predict: the page
    shows that evaluation (its questions, result.json, its threshold), not "no run did --do_eval"."""
    data_dir = data_dir_with(tmp_path, "squad_v2.0", FIXTURES / "squad_tiny.json", FIXTURES / "squad_tiny.json")
    common = ["--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v2.0", "--data_dir",
              data_dir, "--output_dir", tmp_path / "model", "--run_name", "tiny", *QUICK[:-2]]
    for flags in (["--do_train"], ["--do_eval", "--max_eval_samples", "10", "--null_score_diff_threshold", "-1.5"],
                  ["--do_predict", "--predict_file", FIXTURES / "squad_tiny.json"]):
        done = run_cli(*common, *flags)
        assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "model" / "squad_v2.0" / "tiny"
    status, _, err = run_inspect(run_dir)
    assert status == 0, err
    page = page_data(run_dir / "inspect_eval.html")
    assert len(page["questions"]) == 10
    assert dict(page["official"]) == read_json(run_dir / "result.json")
    assert page["threshold"] == -1.5


@pytest.mark.slow
def test_bad_input_is_one_error_line_and_writes_nothing(runs, tmp_path):
    run_dir = runs["squad_v2.0"]
    cases = [
        ([tmp_path / "missing"], "run folder not found"),
        ([run_dir, "--split", "predict"], "no run of this folder did --do_predict"),
        ([run_dir, "--data_file", FIXTURES / "squad_v1_tiny.json", "--out", tmp_path / "x.html"],
         "are not questions of"),
    ]
    moved = tmp_path / "moved"  # a run folder whose run.json names a data folder that is not here
    shutil.copytree(run_dir, moved, ignore=shutil.ignore_patterns("checkpoints", "best_model", "*.html"))
    record = read_json(moved / "run.json")
    record["config"]["data_dir"] = str(tmp_path / "elsewhere")
    record["dev_data"] = {"path": str(tmp_path / "elsewhere" / "dev.json")}  # the path a run records (compare)
    (moved / "run.json").write_text(json.dumps(record), encoding="utf-8")
    entries = [dict(entry, dev_file=str(tmp_path / "elsewhere" / "dev.json"))
               for entry in read_json(moved / "evaluations.json")]  # and each of its evaluations
    (moved / "evaluations.json").write_text(json.dumps(entries), encoding="utf-8")
    cases.append(([moved], "give --data_file"))
    for args, message in cases:
        status, _, err = run_inspect(*args)
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err
    assert not (tmp_path / "x.html").exists() and not list(tmp_path.glob(".x.html.*"))
    assert not (moved / "inspect_eval.html").exists()
    assert run_inspect(moved, "--data_file", FIXTURES / "squad_tiny.json")[0] == 0


def shown_count(driver):
    return int(driver.find_element("id", "count").get_attribute("data-count"))


def highlighted_prediction(driver, card):
    """The text of a question's highlighted prediction (its marks may be split where a gold answer begins)."""
    return "".join(mark.get_attribute("textContent") for mark in card.find_elements("css selector", ".ctx mark.p"))


@pytest.mark.slow
def test_page_in_a_real_browser(runs, browser, tmp_path):
    from selenium.webdriver.support.ui import Select

    run_dir = runs["squad_v2.0"]
    assert run_inspect(run_dir)[0] == 0
    browser.get((run_dir / "inspect_eval.html").as_uri())
    assert browser.execute_script("return document.body.dataset.ready") == "true"
    predictions = read_json(run_dir / "predictions_eval.json")
    examples = read_examples(FIXTURES / "squad_tiny.json", SQUAD2)
    assert shown_count(browser) == len(predictions) == 24
    assert len(browser.find_elements("css selector", "article.q")) == 24
    # the first question's n-best candidates open with the run's entries, its prediction's row marked
    card = browser.find_element("css selector", "article.q")
    card.find_element("css selector", "details.nbest summary").click()
    entries = read_json(run_dir / "nbest_predictions_eval.json")[card.get_attribute("data-id")]
    assert len(card.find_elements("css selector", "details.nbest tr")) == 1 + len(entries)
    chosen = card.find_element("css selector", "details.nbest tr.chosen td.t").text
    assert chosen == (predictions[card.get_attribute("data-id")] or "(no answer)")
    screenshot = tmp_path / "inspect_page.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    if os.environ.get("KORSQUAD_SCREENSHOT_DIR"):
        shutil.copy(screenshot, Path(os.environ["KORSQUAD_SCREENSHOT_DIR"]) / screenshot.name)

    # every highlighted prediction reads as the predicted answer
    for card in browser.find_elements("css selector", "article.q"):
        qid = card.get_attribute("data-id")
        assert highlighted_prediction(browser, card) == predictions[qid]

    # "wrong only": the questions whose prediction scores EM 0 and F1 0
    scores = {ex.id: metrics.SQUAD_V2.question_scores(predictions[ex.id], [a.text for a in ex.answers])
              for ex in examples}
    wrong = sorted(qid for qid, (em, f1) in scores.items() if em == 0 and f1 == 0)
    Select(browser.find_element("id", "outcome")).select_by_value("wrong")
    assert shown_count(browser) == len(wrong)
    assert sorted(card.get_attribute("data-id") for card in browser.find_elements("css selector", "article.q")) == wrong

    # a category of the summary filters the list: the unanswerable questions
    Select(browser.find_element("id", "outcome")).select_by_value("all")
    row = next(r for r in browser.find_elements("css selector", "tr.cat") if r.text.startswith("unanswerable"))
    row.click()
    assert sorted(c.get_attribute("data-id") for c in browser.find_elements("css selector", "article.q")) == \
        sorted(ex.id for ex in examples if not ex.answers)

    # Korean: the KLUE-MRC page's highlights, particles and all, are the predicted answers
    klue_dir = runs["klue_mrc"]
    assert run_inspect(klue_dir)[0] == 0
    browser.get((klue_dir / "inspect_eval.html").as_uri())
    klue_predictions = read_json(klue_dir / "predictions_eval.json")
    cards = browser.find_elements("css selector", "article.q")
    assert len(cards) == shown_count(browser) == 6
    for card in cards:
        assert highlighted_prediction(browser, card) == klue_predictions[card.get_attribute("data-id")]
    assert "type 2 multi-sentence reasoning" in cards[1].text
