"""Hand-worked cases for every rule of the official SQuAD/KorQuAD/KLUE-MRC metrics."""

from difflib import SequenceMatcher

import pytest

from korsquad.common.errors import UsageError
from korsquad.data import metrics


# --- SQuAD normalization -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("The Quick, brown fox!", "quick brown fox"),
    ("an apple a day", "apple day"),
    ("theory of anatomy", "theory of anatomy"),  # articles only as whole words
    ("a-team", "ateam"),  # punctuation goes first, so "a-" is no longer a word
    ("  lots\tof \n space ", "lots of space"),
    ("“curly” quotes", "“curly” quotes"),  # only ASCII punctuation is deleted
    ("", ""),
])
def test_normalize_squad(text, expected):
    assert metrics.normalize_squad(text) == expected


def test_squad_exact_match_ignores_case_articles_and_punctuation():
    assert metrics.SQUAD_V1.exact_match("The Eiffel Tower.", "eiffel tower") == 1
    assert metrics.SQUAD_V1.exact_match("Eiffel Towers", "eiffel tower") == 0


def test_squad_token_f1_counts_a_multiset_intersection():
    # pred tokens [dog, dog, cat], gold [dog, cat, cat]: common = dog + cat = 2, P = R = 2/3
    assert metrics.SQUAD_V1.f1("dog dog cat", "dog cat cat") == pytest.approx(2 / 3)
    # pred [big, red, dog] vs gold [red, dog, barks, loudly]: common 2, P 2/3, R 1/2 -> F1 4/7
    assert metrics.SQUAD_V1.f1("the big red dog", "red dog barks loudly") == pytest.approx(4 / 7)
    assert metrics.SQUAD_V1.f1("cat", "dog") == 0


def test_empty_strings_squad_v1_versus_v2():
    assert metrics.SQUAD_V1.exact_match("", "") == 1
    assert metrics.SQUAD_V1.f1("", "") == 0  # nothing in common
    assert metrics.SQUAD_V2.f1("", "") == 1  # "no answer" matches "no answer"
    assert metrics.SQUAD_V2.f1("the", "") == 1  # "the" normalizes to nothing
    assert metrics.SQUAD_V2.f1("", "Paris") == 0
    assert metrics.SQUAD_V2.f1("Paris", "") == 0


# --- KorQuAD 1.0 ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("《서울》(특별시)", "서울 특별시"),  # Korean and ASCII brackets become spaces
    ("‘한국’과 \"미국\"", "한국 과 미국"),
    ("서울(특별시)", "서울 특별시"),  # a space, not deletion as plain punctuation would do
    ("〈KBS〉 뉴스", "kbs 뉴스"),
    ("1,000원!", "1000원"),
    ("「서울」·부산", "「서울」·부산"),  # other Unicode punctuation stays
    ("The 한국", "the 한국"),  # no article removal
])
def test_normalize_korquad_v1(text, expected):
    assert metrics.normalize_korquad_v1(text) == expected


def test_squad_normalization_would_join_bracketed_words():
    assert metrics.normalize_squad("서울(특별시)") == "서울특별시"


def test_korquad_v1_exact_match_is_space_sensitive_but_f1_is_not():
    assert metrics.KORQUAD_V1.exact_match("서울 특별시", "서울특별시") == 0
    assert metrics.KORQUAD_V1.f1("서울 특별시", "서울특별시") == 1.0
    assert metrics.KORQUAD_V1.exact_match("《서울 특별시》", "서울  특별시") == 1


def test_korquad_character_f1_worked_example():
    # pred chars 1,9,8,9,년 (5); gold chars of "1989년2월15일" (10): all 5 pred chars are in gold -> P 1, R 0.5
    assert metrics.KORQUAD_V1.f1("1989년", "1989년 2월 15일") == pytest.approx(2 / 3)
    assert round(100 * metrics.KORQUAD_V1.f1("1989년", "1989년 2월 15일"), 2) == 66.67


def test_korquad_character_f1_counts_repeated_characters_once_each():
    # pred 가,가,가 vs gold 가,나: common 1 -> P 1/3, R 1/2 -> F1 0.4
    assert metrics.KORQUAD_V1.f1("가가가", "가나") == pytest.approx(0.4)


def test_korquad_empty_prediction_scores_zero_f1():
    assert metrics.KORQUAD_V1.f1("", "서울") == 0
    assert metrics.KORQUAD_V1.f1("", "") == 0
    assert metrics.KORQUAD_V1.exact_match("", "") == 1


# --- KorQuAD 2.x ---------------------------------------------------------------------------------------------------

def test_korquad_v2_strips_html_and_all_whitespace():
    assert metrics.normalize_korquad_v2("<td>서울 특별시</td>") == "서울특별시"
    assert metrics.normalize_korquad_v2('<a href="/wiki/x" title="신중현">신중현</a>') == "신중현"
    assert metrics.KORQUAD_V2.exact_match("<a>신중현</a>", "신중현") == 1
    # KorQuAD 1.0 keeps the space, so the same pair is an EM miss there
    assert metrics.KORQUAD_V2.exact_match("서울 특별시", "<p>서울특별시</p>") == 1
    assert metrics.KORQUAD_V1.exact_match("서울 특별시", "서울특별시") == 0


def test_korquad_v2_decodes_entities_before_the_bracket_rule():
    # "&lt;b&gt;" is the text "<b>", whose brackets then become (removed) spaces
    assert metrics.normalize_korquad_v2("&lt;b&gt; 굵게") == "b굵게"


def test_korquad_v2_character_f1_against_html_gold():
    # pred "신대철" vs gold text "신중현": only 신 in common -> P 1/3, R 1/3
    assert metrics.KORQUAD_V2.f1("신대철", "<a>신중현</a>") == pytest.approx(1 / 3)


# --- totals --------------------------------------------------------------------------------------------------------

def test_question_score_is_the_maximum_over_gold_answers():
    golds = {"q1": ["in the 10th century", "10th and 11th centuries"]}
    result = metrics.SQUAD_V1.score(golds, {"q1": "10th and 11th centuries"})
    assert result == {"exact_match": 100.0, "f1": 100.0}


def test_missing_predictions_score_zero_and_extra_ids_are_ignored():
    golds = {"q1": ["red dog"], "q2": ["cat"]}
    predictions = {"q1": "red dog", "stray": "anything"}
    assert metrics.SQUAD_V1.score(golds, predictions) == {"exact_match": 50.0, "f1": 50.0}
    assert metrics.KORQUAD_V1.score(golds, predictions) == {"exact_match": 50.0, "f1": 50.0}
    assert metrics.KORQUAD_V2.score(golds, predictions) == {"exact_match": 50.0, "f1": 50.0}


def test_korquad_v1_totals_mix_em_and_character_f1():
    golds = {"a": ["1989년 2월 15일"], "b": ["서울특별시"]}
    result = metrics.KORQUAD_V1.score(golds, {"a": "1989년", "b": "서울 특별시"})
    assert result["exact_match"] == 0.0
    assert result["f1"] == pytest.approx(100 * (2 / 3 + 1) / 2)


def test_v1_metric_needs_a_gold_answer_per_question():
    with pytest.raises(UsageError, match="1 questions have no gold answer"):
        metrics.SQUAD_V1.score({"q1": ["x"], "q2": []}, {"q1": "x"})


def test_empty_data_set_is_an_error():
    with pytest.raises(UsageError, match="no questions"):
        metrics.SQUAD_V1.score({}, {})


# --- SQuAD 2.0 -----------------------------------------------------------------------------------------------------

def test_squad_v2_keys_and_groups():
    golds = {"has": ["Paris"], "none": []}
    result = metrics.SQUAD_V2.score(golds, {"has": "paris", "none": "London"})
    assert list(result) == ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
                            "NoAns_exact", "NoAns_f1", "NoAns_total"]
    assert result["exact"] == 50.0 and result["total"] == 2
    assert (result["HasAns_exact"], result["HasAns_total"]) == (100.0, 1)
    assert (result["NoAns_exact"], result["NoAns_f1"], result["NoAns_total"]) == (0.0, 0.0, 1)


def test_squad_v2_groups_only_when_present():
    result = metrics.SQUAD_V2.score({"a": ["x"], "b": ["y"]}, {"a": "x", "b": ""})
    assert list(result) == ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total"]
    result = metrics.SQUAD_V2.score({"a": []}, {"a": ""})
    assert list(result) == ["exact", "f1", "total", "NoAns_exact", "NoAns_f1", "NoAns_total"]
    assert result["exact"] == result["f1"] == 100.0


def test_squad_v2_drops_golds_that_normalize_to_nothing():
    # "The" is dropped, so "" no longer matches; with only empty-normalizing golds, "" is the gold
    assert metrics.SQUAD_V2.score({"q": ["The", "Paris"]}, {"q": ""})["exact"] == 0.0
    assert metrics.SQUAD_V2.score({"q": ["The", "."]}, {"q": ""})["exact"] == 100.0
    # answerable all the same: its answers list is not empty
    assert metrics.SQUAD_V2.score({"q": ["The"]}, {"q": ""})["HasAns_total"] == 1


def test_squad_v2_missing_prediction_is_an_error_naming_ids():
    golds = {f"q{i}": ["x"] for i in range(8)}
    with pytest.raises(UsageError, match=r"7 of 8 questions have no prediction \(q1, q2, q3, q4, q5, \.\.\.\)"):
        metrics.SQUAD_V2.score(golds, {"q0": "x"})


def test_squad_v2_na_prob_above_one_means_no_answer():
    golds = {"has": ["Paris"], "none": []}
    predictions = {"has": "Paris", "none": "London"}
    # na-prob exactly 1.0 is not above the threshold: the answers stand
    at_one = metrics.SQUAD_V2.score(golds, predictions, {"has": 1.0, "none": 1.0})
    assert (at_one["HasAns_exact"], at_one["NoAns_exact"]) == (100.0, 0.0)
    above = metrics.SQUAD_V2.score(golds, predictions, {"has": 1.5, "none": 1.5})
    assert (above["HasAns_exact"], above["HasAns_f1"]) == (0.0, 0.0)
    assert (above["NoAns_exact"], above["NoAns_f1"]) == (100.0, 100.0)


def test_squad_v2_na_probs_must_cover_every_question():
    with pytest.raises(UsageError, match="lack 1 of 2 questions"):
        metrics.SQUAD_V2.score({"a": ["x"], "b": []}, {"a": "x", "b": ""}, {"a": 0.5})


def test_na_probs_only_for_squad_v2():
    with pytest.raises(ValueError, match="only to the squad_v2"):
        metrics.SQUAD_V1.score({"a": ["x"]}, {"a": "x"}, {"a": 0.5})


# Walk: start at 2 (q2, q4 unanswerable), threshold 0.0.
#   q1 (0.1, answerable, right)       +1 -> 3  best 3 @ 0.1
#   q4 (0.2, unanswerable, "")        +0 -> 3  not strictly better: threshold stays 0.1
#   then the two at 0.5 in na-prob file order:
#   q2 (unanswerable, "x") -1 and q3 (answerable, right) +1
WALK_GOLDS = {"q1": ["Paris"], "q2": [], "q3": ["Rome"], "q4": []}
WALK_PREDICTIONS = {"q1": "Paris", "q2": "x", "q3": "Rome", "q4": ""}


def test_best_threshold_walk_ties_keep_na_prob_file_order():
    # q2 before q3: 3 -> 2 -> 3, never above 3, so best 3/4 at 0.1
    q2_first = {"q1": 0.1, "q2": 0.5, "q3": 0.5, "q4": 0.2}
    result = metrics.SQUAD_V2.score(WALK_GOLDS, WALK_PREDICTIONS, q2_first)
    assert (result["best_exact"], result["best_exact_thresh"]) == (75.0, 0.1)
    assert (result["best_f1"], result["best_f1_thresh"]) == (75.0, 0.1)
    # q3 before q2: 3 -> 4 (best 4/4 at 0.5) -> 3
    q3_first = {"q1": 0.1, "q3": 0.5, "q2": 0.5, "q4": 0.2}
    result = metrics.SQUAD_V2.score(WALK_GOLDS, WALK_PREDICTIONS, q3_first)
    assert (result["best_exact"], result["best_exact_thresh"]) == (100.0, 0.5)
    assert list(result)[-4:] == ["best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"]


def test_best_threshold_uses_raw_scores_and_partial_f1():
    golds = {"a": ["big red dog"], "b": []}
    predictions = {"a": "red dog", "b": "cat"}
    # a: EM 0, F1 0.8 (P 1, R 2/3); b: unanswerable but answered. Walk from 1 (b) @ 0.0:
    # a (na 2.0): EM 1 + 0 = 1, not better; F1 1 + 0.8 = 1.8, best @ 2.0. b (na 3.0): -1.
    probs = {"a": 2.0, "b": 3.0}
    result = metrics.SQUAD_V2.score(golds, predictions, probs)
    assert (result["best_exact"], result["best_exact_thresh"]) == (50.0, 0.0)
    assert result["best_f1"] == pytest.approx(90.0) and result["best_f1_thresh"] == 2.0
    # the main keys use the threshold 1.0 instead: both count as "no answer", right only for b
    assert (result["exact"], result["f1"]) == (50.0, 50.0)


def test_best_threshold_skips_na_prob_ids_outside_the_data_set():
    probs = {"other": 0.0, "q1": 0.1, "q3": 0.5, "q2": 0.5, "q4": 0.2}
    result = metrics.SQUAD_V2.score(WALK_GOLDS, WALK_PREDICTIONS, probs)
    assert (result["best_exact"], result["best_exact_thresh"]) == (100.0, 0.5)


def test_without_na_probs_there_are_no_best_keys():
    result = metrics.SQUAD_V2.score(WALK_GOLDS, WALK_PREDICTIONS)
    assert not any(key.startswith("best") for key in result)
    assert result["exact"] == 75.0  # q2 answered although unanswerable


# --- KLUE-MRC ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("A'()‘’B", "a b"),  # the reference's regular expression fires on the 5-character sequence...
    ('A"()‘’B', "a b"),
    ("《()‘’x", "x"),
    ("'()‘", "‘"),  # ...only on all of it: here the ASCII characters are merely punctuation, deleted
    ("a‘b’", "a‘b’"),  # curly quotes alone stay (not ASCII punctuation)
    ("《훈민정음》", "《훈민정음》"),  # KorQuAD 1.0 would give "훈민정음"
    ("서울(특별시)", "서울특별시"),  # KorQuAD 1.0 would give "서울 특별시"
    ("  Hello,   World!  ", "hello world"),
    ("", ""),
])
def test_normalize_klue_mrc_reproduces_the_reference_regex(text, expected):
    assert metrics.normalize_klue_mrc(text) == expected


@pytest.mark.parametrize("pred, gold, expected", [
    ("세종대왕", "세종", 2 / 3),  # L=2: P=2/4, R=2/2
    ("1974년 8월", "1974년 8월 15일", 0.8),  # L=8: P=8/8, R=8/12; spaces are characters
    ("서울 역", "서울역", 4 / 7),  # L=2 ("서울"): P=2/4, R=2/3
    ("역에서", "서울역", 1 / 3),  # contiguous: L=1, where KorQuAD's character F1 counts 역 and 서 (2/3)
    ("서울역", "서울역", 1.0),
    ("", "서울역", 0),  # nothing in common: 0 (precision would be 0/0)
    ("", "", 1),  # an empty gold is matched by equality only
    ("1974년", "", 0),
])
def test_rouge_w_is_the_f1_of_the_longest_common_substring(pred, gold, expected):
    assert metrics.rouge_w(pred, gold) == pytest.approx(expected)


def test_rouge_w_counts_a_contiguous_run_unlike_character_f1():
    assert metrics.KORQUAD_V1.f1("역에서", "서울역") == pytest.approx(2 / 3)
    assert metrics.KLUE_MRC.f1("역에서", "서울역") == pytest.approx(1 / 3)


def test_klue_mrc_autojunk_of_a_300_character_answer_is_kept():
    # In a gold of 200+ characters, difflib's autojunk stops using characters that make up more than 1% of it as
    # match anchors: here "b" (298 of 300). The only anchor left is "q", so the longest match found is "q" (L=1),
    # not the 150 b's that autojunk=False finds. The reference keeps autojunk, so ROUGE-W = 2L/(152+300).
    pred, gold = "qz" + "b" * 150, "qy" + "b" * 298
    assert len(gold) == 300
    assert SequenceMatcher(None, pred, gold, autojunk=False).find_longest_match(0, 152, 0, 300).size == 150
    assert metrics.longest_common_substring(pred, gold) == 1
    assert metrics.rouge_w(pred, gold) == pytest.approx(2 / 452)
    result = metrics.KLUE_MRC.score({"q": [gold]}, {"q": pred})
    assert result["exact_match"] == 0.0 and result["rouge_w"] == pytest.approx(100 * 2 / 452)


def test_klue_mrc_question_score_is_the_best_over_golds():
    # "임금 세종" (5 characters) vs "세종": P=2/5, R=1 -> 4/7; vs "조선의 제4대 임금 세종" (13): P=1, R=5/13 -> 5/9
    golds = {"q": ["세종", "조선의 제4대 임금 세종"]}
    assert metrics.KLUE_MRC.question_scores("임금 세종", golds["q"]) == (0, pytest.approx(4 / 7))
    assert metrics.KLUE_MRC.score(golds, {"q": "세종"})["exact_match"] == 100.0


@pytest.mark.parametrize("prediction, expected", [("", 100.0), ("1974년", 0.0)])
def test_klue_mrc_unanswerable_question_is_right_only_when_answered_empty(prediction, expected):
    result = metrics.KLUE_MRC.score({"u": []}, {"u": prediction})
    assert (result["exact_match"], result["rouge_w"]) == (expected, expected)


def test_klue_mrc_keys_overall_and_per_question_type():
    golds = {"q1": ["세종"], "q2": ["서울역"], "q3": [], "q4": ["24자"]}
    types = {"q1": 1, "q2": 2, "q3": 3, "q4": 2}
    predictions = {"q1": "세종", "q2": "서울역에서", "q3": ""}  # q4 unanswered: 0
    # per question (EM, ROUGE-W): q1 (1, 1), q2 (0, 3/4), q3 (1, 1), q4 (0, 0)
    result = metrics.KLUE_MRC.score(golds, predictions, question_types=types)
    assert result == pytest.approx({
        "exact_match": 50.0, "rouge_w": 68.75, "total": 4,
        "type1_exact_match": 100.0, "type1_rouge_w": 100.0, "type1_total": 1,
        "type2_exact_match": 0.0, "type2_rouge_w": 37.5, "type2_total": 2,
        "type3_exact_match": 100.0, "type3_rouge_w": 100.0, "type3_total": 1,
    })
    assert list(result) == ["exact_match", "rouge_w", "total"] + [
        f"type{t}_{key}" for t in (1, 2, 3) for key in ("exact_match", "rouge_w", "total")]
    assert metrics.KLUE_MRC.score(golds, predictions) == pytest.approx(
        {"exact_match": 50.0, "rouge_w": 68.75, "total": 4})
    only_some = metrics.KLUE_MRC.score(golds, predictions, question_types={"q2": 2, "q4": None})
    assert list(only_some) == ["exact_match", "rouge_w", "total", "type2_exact_match", "type2_rouge_w",
                               "type2_total"]


def test_question_types_do_not_change_the_other_metrics():
    golds, predictions = {"a": ["서울역"], "b": ["세종"]}, {"a": "서울역", "b": "세종대왕"}
    for metric in (metrics.SQUAD_V1, metrics.KORQUAD_V1, metrics.KORQUAD_V2):
        assert (metric.score(golds, predictions, question_types={"a": 1, "b": 2})
                == metric.score(golds, predictions))
    with pytest.raises(ValueError, match="na-probs"):
        metrics.KLUE_MRC.score(golds, predictions, na_probs={"a": 0.1, "b": 0.2})


# --- the records ---------------------------------------------------------------------------------------------------

# Every kind of question a metric tells apart: answerable and unanswerable, of each KLUE-MRC question type.
RECORD_GOLDS = {"a": ["서울역"], "b": ["세종"], "u": []}
RECORD_TYPES = {"a": 1, "b": 2, "u": 3}
RECORD_PREDICTIONS = {"a": "서울역", "b": "세종대왕", "u": ""}


def _record_golds(metric):
    """The questions a metric can score: without an unanswerable one where every question needs a gold."""
    return RECORD_GOLDS if metric.gold_rule else {qid: g for qid, g in RECORD_GOLDS.items() if g}


@pytest.mark.parametrize("metric", metrics.METRICS, ids=lambda metric: metric.name)
def test_a_records_keys_are_the_keys_its_scoring_returns(metric):
    golds = _record_golds(metric)
    types = {qid: RECORD_TYPES[qid] for qid in golds}
    result = metric.score(golds, RECORD_PREDICTIONS, question_types=types)
    meanings = {number: f"meaning {number}" for number in types.values()}
    assert list(result) == list(metric.keys + metric.category_keys(meanings))
    assert {metric.exact_key, metric.primary_key} <= set(metric.keys)
    if metric.null_threshold:
        with_probs = metric.score(golds, RECORD_PREDICTIONS, na_probs={qid: 0.5 for qid in golds},
                                  question_types=types)
        assert list(with_probs) == list(result) + list(metric.threshold_keys)
    else:
        assert metric.threshold_keys == ()
        with pytest.raises(ValueError, match="na-probs"):
            metric.score(golds, RECORD_PREDICTIONS, na_probs={qid: 0.5 for qid in golds})


@pytest.mark.parametrize("metric", metrics.METRICS, ids=lambda metric: metric.name)
def test_a_records_primary_key_rises_with_a_closer_answer(metric):
    golds = {"q": ["서울 특별시 중구"]}
    near, far = metric.score(golds, {"q": "서울 특별시"}), metric.score(golds, {"q": "부산"})
    assert near[metric.primary_key] > far[metric.primary_key] == 0.0
    assert near[metric.exact_key] == far[metric.exact_key] == 0.0
    assert metric.score(golds, {"q": "서울 특별시 중구"})[metric.exact_key] == 100.0


@pytest.mark.parametrize("metric", metrics.METRICS, ids=lambda metric: metric.name)
def test_a_records_scores_are_percentages_and_the_rest_counts_or_thresholds(metric):
    golds = _record_golds(metric)
    na_probs = {qid: 0.5 for qid in golds} if metric.null_threshold else None
    result = metric.score(golds, RECORD_PREDICTIONS, na_probs, {qid: RECORD_TYPES[qid] for qid in golds})
    for key, value in result.items():
        if metric.is_score(key):
            assert isinstance(value, float) and 0.0 <= value <= 100.0, key
        else:
            assert key.endswith("total") and isinstance(value, int) or key.endswith("_thresh"), key
        assert metric.key_name(key, {1: "paraphrase", 2: "reasoning", 3: "unanswerable"}) != key


def test_record_names_are_unique_and_name_the_keys_in_words():
    assert len({metric.name for metric in metrics.METRICS}) == len(metrics.METRICS)
    assert metrics.SQUAD_V2.key_name("HasAns_exact") == "HasAns Exact Match"
    assert metrics.SQUAD_V2.key_name("best_f1_thresh") == "no-answer threshold of the best F1"
    assert (metrics.SQUAD_V2.key_name(metrics.SQUAD_V2.tuned_flag_key("f1"))
            == "--null_score_diff_threshold that gives the best F1")
    assert (metrics.KLUE_MRC.key_name("type2_rouge_w", {2: "multi-sentence reasoning"})
            == "type 2 (multi-sentence reasoning) ROUGE-W")
    assert metrics.KORQUAD_V1.key_name("f1") == "F1" and metrics.KLUE_MRC.key_name("total") == "questions"


def test_the_registry_loads_without_the_html_parser():
    """The records hold KorQuAD 2.x's HTML stripping, yet naming them (every command reads the registry) does not
    import BeautifulSoup: only scoring an HTML answer does."""
    import subprocess
    import sys

    code = ("import sys, korsquad.data.datasets as d; print('bs4' in sys.modules); "
            "d.get_spec('korquad_v2.1').metric.exact_match('<b>x</b>', 'x'); print('bs4' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
