"""The evaluation page (korsquad.analysis.page, korsquad.analysis.page_content): its pure records, the command on real
tiny runs (SQuAD 2.0 and KLUE-MRC), and the page itself in a real browser (Chromium driven by selenium; skipped with the
reason where either is missing).

Set KORSQUAD_SCREENSHOT_DIR to keep the browser test's screenshot there as well (the README's figs/inspect_page.png
is made so)."""

import json
import re

import pytest
from conftest import FIXTURES
from page_helpers import SQUAD2, browser

from korsquad.analysis.page import data_source, split_record
from korsquad.analysis.page_content import (ANSWER_LENGTHS, PageSettings, build_page, context_view, length_bucket,
                                            page_json, prediction_span, question_record, question_word, render_page,
                                            utf16_units)
from korsquad.common.errors import UsageError
from korsquad.data import metrics
from korsquad.data.datasets import get_spec
from korsquad.data.readers import Answer, Example, read_examples


KORQUAD2 = get_spec("korquad_v2.1")


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
