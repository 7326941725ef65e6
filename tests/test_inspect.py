"""The evaluation page (korsquad.inspect, korsquad.inspect_page): its pure records, the command on real tiny runs
(SQuAD 2.0 and KLUE-MRC), and the page itself in a real browser (Chromium driven by selenium; skipped with the
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

from korsquad import metrics
from korsquad.datasets import get_spec
from korsquad.errors import UsageError
from korsquad.inspect import data_source, split_record
from korsquad.inspect import main as inspect_main
from korsquad.inspect_page import (ANSWER_LENGTHS, PageSettings, build_page, context_view, length_bucket,
                                   page_json, prediction_span, question_record, question_word, render_page,
                                   utf16_units)
from korsquad.readers import Answer, Example, read_examples

SQUAD2 = get_spec("squad_v2.0")
KLUE = get_spec("klue_mrc")
KORQUAD2 = get_spec("korquad_v2.1")
QUICK = ["--accelerator", "cpu", "--max_seq_length", "128", "--doc_stride", "64", "--max_query_length", "32",
         "--batch_size", "8", "--max_steps", "1", "--logger", "csv", "--do_train", "--do_eval"]


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def page_data(html_path):
    """The page data embedded in a written page."""
    text = Path(html_path).read_text(encoding="utf-8")
    found = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', text, re.DOTALL)
    return json.loads(found.group(1))


def span_entry(context, start, end, probability=0.5, logits=(1.0, 1.0)):
    return {"text": context[start:end], "probability": probability, "start_logit": logits[0],
            "end_logit": logits[1], "char_start": start, "char_end": end}


def null_entry(probability=0.1, logits=(0.5, 0.25)):
    return {"text": "", "probability": probability, "start_logit": logits[0], "end_logit": logits[1],
            "char_start": -1, "char_end": -1}


# ---- pure functions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("question, language, word", [
    ("When was the Riverton Lighthouse first lit?", "en", "when"),
    ("In what year was the Lantingji Xu written?", "en", "what"),
    ("Which dessert is the bistro known for?", "en", "what"),
    ("How many Michelin stars does the bistro have?", "en", "how"),
    ("Whose logbook survived?", "en", "who"),
    ("Name the engineer.", "en", "other"),
    ("한글을 만든 임금은 누구인가?", "ko", "who"),
    ("개통 당시 9개 역을 지나던 노선은 어느 역에서 출발했는가?", "ko", "what"),
    ("훈민정음 해례본이 발견된 곳은 어디인가?", "ko", "where"),
    ("오늘날 쓰지 않는 글자를 빼면 한글의 글자는 모두 몇 자인가?", "ko", "how"),
    ("세종은 한글을 어떻게 반포했는가?", "ko", "how"),
    ("세종은 왜 한글을 만들었나?", "ko", "why"),
    ("서울 지하철 2호선이 개통된 해는?", "ko", "other"),
])
def test_question_words_in_english_and_korean(question, language, word):
    assert question_word(question, language) == word


def test_length_buckets_are_inclusive_and_open_ended():
    assert [length_bucket(n, ANSWER_LENGTHS) for n in (1, 5, 6, 50, 51, 10_000)] == [
        "1-5 chars", "1-5 chars", "6-10 chars", "21-50 chars", "51+ chars", "51+ chars"]


def test_offsets_count_utf16_units_after_astral_characters():
    text = "𠀀𠀁 서울역에서"  # two characters beyond the BMP: two UTF-16 units each in JavaScript
    assert utf16_units("서울역에서") is None
    view = context_view(text, SQUAD2.reader)
    start = text.index("서울역")
    assert view.page_span(start, start + 3) == [start + 2, start + 5]
    # what JavaScript's slice does with those offsets: the same three characters
    units = text.encode("utf-16-le")
    s, e = view.page_span(start, start + 3)
    assert units[2 * s:2 * e].decode("utf-16-le") == "서울역"


def test_prediction_span_is_read_from_the_nbest_offsets_never_searched():
    context = "서울역에서 출발한 열차는 다시 서울역에 도착했다."
    second = context.index("서울역", 1)
    nbest = [null_entry(0.6), span_entry(context, second, second + 3)]
    assert prediction_span("서울역", nbest, context) == (second, second + 3)  # the recorded place, not the first
    assert prediction_span("", nbest, context) is None  # abstained
    older = [{"text": "서울역", "probability": 1.0}]  # n-best entries of older versions carry no offsets
    assert prediction_span("서울역", older, context) is None
    assert prediction_span("서울역", [span_entry(context, 0, 5)], context) is None  # another span's file
    assert prediction_span("서울역", None, context) is None


def korean_example():
    context = "세종은 1443년 훈민정음을 창제하였다. 서울역에서 출발한 열차는 다시 서울역에 도착했다."
    gold_start = context.index("서울역", context.index("다시"))  # the gold is the second 서울역
    return Example("ko-1", "열차가 도착한 곳은 어디인가?", context, (Answer("서울역", gold_start),), False,
                   question_type=1)


def test_korean_highlights_sit_at_the_recorded_spans_with_particles_outside():
    example = korean_example()
    context = example.context
    first = context.index("서울역에서")
    nbest = [span_entry(context, first, first + 5, 0.7), span_entry(context, first, first + 3, 0.2), null_entry()]
    view = context_view(context, SQUAD2.reader)
    record = question_record(example, view, 0, "서울역에서", nbest, metric=metrics.KLUE_MRC, labeled=True,
                             null_odds=-1.5)
    s, e = record["ps"]
    assert (s, e) == (first, first + 5) and context[s:e] == "서울역에서"  # the particle 에서 belongs to the prediction
    gold_text, gs, ge = record["g"][0]
    assert (gs, ge) == (example.answers[0].start, example.answers[0].start + 3)
    assert context[gs:ge] == gold_text == "서울역" and context[ge] == "에"  # the gold stops before its particle
    assert gs != context.index("서울역")  # not the first occurrence of the text
    assert (record["em"], record["f1"]) == (0, pytest.approx(metrics.KLUE_MRC.question_scores(
        "서울역에서", ["서울역"])[1], abs=1e-6))
    assert record["nb"] == [first, first + 5, 7000, first, first + 3, 2000, -1, -1, 1000]  # flat triples
    assert record["nl"] == {"null": 0.75, "best": 2.0, "odds": -1.5}


def test_korquad2_pages_show_the_readable_text_of_html_spans():
    examples = read_examples(FIXTURES / "korquad2_tiny.json", KORQUAD2)
    example = next(ex for ex in examples if ex.answers[0].text.startswith("<tr>"))
    html = example.context
    start = example.answers[0].start
    end = start + len(example.answers[0].text)
    view = context_view(html, KORQUAD2.reader)
    record = question_record(example, view, 0, html[start:end], [span_entry(html, start, end)],
                             metric=metrics.KORQUAD_V2, labeled=True)
    assert record["p"] == "2001\t강물 위의 노래\t35만 장"  # the answer as the page's plain text, not HTML
    s, e = record["ps"]
    assert view.text[s:e] == record["p"] and "<td>" not in view.text
    assert record["g"][0] == [record["p"], s, e] and (record["em"], record["f1"]) == (1, 1.0)
    link = next(ex for ex in examples if ex.answers[0].text == "<a>한도윤</a>")
    record = question_record(link, view, 0, "", [null_entry()], metric=metrics.KORQUAD_V2, labeled=True)
    gold_text, gs, ge = record["g"][0]
    assert gold_text == view.text[gs:ge] == "한도윤" and record["ps"] is None


def squad2_page(predictions, nbest, odds, notes=()):
    examples = read_examples(FIXTURES / "squad_tiny.json", SQUAD2)
    settings = PageSettings(title="t", data_name=SQUAD2.name, split="eval", threshold=0.0,
                            official=metrics.SQUAD_V2.score({ex.id: [a.text for a in ex.answers]
                                                                for ex in examples}, predictions))
    return examples, build_page(examples, predictions, nbest, odds, SQUAD2, settings, notes)


def test_squad2_page_answerable_and_unanswerable_categories_match_the_official_scores():
    examples = read_examples(FIXTURES / "squad_tiny.json", SQUAD2)
    predictions, nbest, odds = {}, {}, {}
    for number, ex in enumerate(examples):
        if number % 2 == 0:  # abstain on every other question (3 of the 4 unanswerable ones)
            predictions[ex.id], nbest[ex.id], odds[ex.id] = "", [null_entry(0.9), span_entry(ex.context, 0, 3)], 2.0
        else:  # answer with the gold where there is one, else with the context's first word
            start, end = ((ex.answers[0].start, ex.answers[0].start + len(ex.answers[0].text)) if ex.answers
                          else (0, ex.context.index(" ")))
            predictions[ex.id] = ex.context[start:end]
            nbest[ex.id], odds[ex.id] = [span_entry(ex.context, start, end), null_entry()], -1.0
    _, page = squad2_page(predictions, nbest, odds)
    cats = {(c["group"], c["label"]): c for c in page["categories"]}
    official = dict(page["official"])
    assert cats[("all", "all questions")]["f1"] == pytest.approx(official["f1"])
    assert cats[("all", "all questions")]["em"] == pytest.approx(official["exact"])
    for label, prefix in (("answerable", "HasAns"), ("unanswerable", "NoAns")):
        assert cats[("answerable", label)]["n"] == official[f"{prefix}_total"]
        assert cats[("answerable", label)]["f1"] == pytest.approx(official[f"{prefix}_f1"])
    assert len(page["contexts"]) == 4 and len(page["questions"]) == len(examples) == 24  # each context once
    for record in page["questions"]:
        assert all(page["categories"][k]["group"] for k in record["k"])
        if record["p"]:
            s, e = record["ps"]
            assert page["contexts"][record["c"]][s:e] == record["p"]
        else:
            assert record["ps"] is None and record["nl"]["odds"] == 2.0
    unanswerable = [r for r in page["questions"] if not r["g"]]
    assert {r["em"] for r in unanswerable if r["p"] == ""} == {1}  # abstaining on them is right
    assert page["has_null"] and page["threshold"] == 0.0 and page["metric"]["f1"] == "F1"


def test_older_runs_without_offsets_are_shown_without_highlights_and_say_so():
    examples = read_examples(FIXTURES / "squad_tiny.json", SQUAD2)
    predictions = {ex.id: ex.context[:7] for ex in examples}
    older = {ex.id: [{"text": ex.context[:7], "probability": 1.0}] for ex in examples}
    _, page = squad2_page(predictions, older, None)
    assert all(r["ps"] is None and r["nb"] == [] and "nl" not in r for r in page["questions"])
    assert any("24 of 24 predictions are not highlighted" in note for note in page["notes"])


def test_page_json_cannot_close_its_script_element_and_the_page_needs_no_network():
    page = {"title": "</script><script>alert(1)</script>", "data_name": "x", "split": "eval",
            "questions": [{"q": "a </script> b"}]}
    text = page_json(page)
    assert "</" not in text and json.loads(text) == page
    html = render_page(page)
    assert html.count("</script>") == 2  # the data's and the page script's own
    assert not re.search(r"""(src|href)\s*=|@import|url\(|https?://""", html)  # nothing fetched, nothing linked
    assert "&lt;/script&gt;" in html  # the title is escaped


def test_the_page_says_in_its_body_that_it_needs_javascript():
    examples = read_examples(FIXTURES / "squad_tiny.json", SQUAD2)
    _, page = squad2_page({ex.id: "" for ex in examples}, {}, None)
    body = render_page(page).split("<body>", 1)[1]
    shown = re.search(r"<noscript>(.*?)</noscript>", body, re.S)
    assert shown and "This page needs JavaScript" in " ".join(re.sub("<[^>]+>", "", shown.group(1)).split())


def test_the_data_file_is_the_recorded_dev_data_else_the_one_the_settings_name(tmp_path):
    recorded, configured = tmp_path / "recorded.json", tmp_path / "data" / "squad_v2.0" / "dev.json"
    configured.parent.mkdir(parents=True)
    configured.write_text("{}")
    config = {"data_dir": str(tmp_path / "data"), "dev_file": None}
    assert data_source(config, SQUAD2, "eval", "run.json", str(recorded)) == configured  # the recorded file is gone
    recorded.write_text("{}")
    assert data_source(config, SQUAD2, "eval", "run.json", str(recorded)) == recorded
    config = {"do_predict": True, "predict_file": str(recorded)}
    assert data_source(config, SQUAD2, "predict", "run.json") == recorded
    record = {"config": {"do_train": True, "do_eval": True}, "evaluation": {"config": {"do_predict": True}}}
    assert split_record(record, "eval", "run.json") is record
    assert split_record(record, "predict", "run.json") is record["evaluation"]


def test_an_evaluation_replaced_in_run_json_by_a_later_predict_is_still_found():
    """Trained without --do_eval, evaluated, then --do_predict: run.json's "evaluation" is the --do_predict's, and
    evaluations.json keeps the evaluation."""
    record = {"config": {"do_train": True, "do_eval": False}, "evaluation": {"config": {"do_predict": True}}}
    with pytest.raises(UsageError, match="no run of this folder did --do_eval"):
        split_record(record, "eval", "run.json")
    assert split_record(record, "eval", "run.json", [{"questions": 10}]) is record


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
    proc = subprocess.run([sys.executable, "-m", "korsquad.inspect", str(run_dir)], capture_output=True, text=True,
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


# ---- the page in a real browser ----------------------------------------------------------------------------


def chromium():
    """A headless Chromium driven by selenium, or skip with the reason."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("needs selenium: pip install -e '.[test]'")
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("needs Chromium and its driver: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1500"):
        options.add_argument(flag)
    return options, Service(driver)


@pytest.fixture
def browser(tmp_path, monkeypatch):
    options, service = chromium()
    from selenium import webdriver

    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium must not look for drivers on the network
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


def test_with_javascript_off_the_page_says_it_needs_it_and_shows_no_empty_headings(browser, tmp_path):
    examples = read_examples(FIXTURES / "squad_tiny.json", SQUAD2)
    _, page = squad2_page({ex.id: "" for ex in examples}, {}, None)
    path = tmp_path / "page.html"
    path.write_text(render_page(page), encoding="utf-8")
    browser.get(path.as_uri())
    assert browser.execute_script("return document.body.dataset.ready") == "true"
    assert browser.find_elements("id", "noscript") == []  # with JavaScript on: no such line
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    browser.get(path.as_uri())
    line = browser.find_element("id", "noscript")
    assert line.is_displayed() and line.text.startswith("This page needs JavaScript to show the scores")
    assert not browser.find_element("id", "summary").is_displayed()
    assert not browser.find_element("id", "controls").is_displayed()


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
