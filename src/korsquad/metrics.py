"""The official scores of SQuAD 1.1, SQuAD 2.0, KorQuAD 1.0, KorQuAD 2.x and KLUE-MRC, implemented from their
definitions.

Every figure is what the leaderboard script prints for the same predictions: the same normalization, the same
per-question maximum over gold answers, and the same arithmetic (sums in data-set order, then 100.0 * sum / n),
so results agree to the last digit.

Metric names are those of `korsquad.datasets.DatasetSpec.metric`:
- "squad_v1"   SQuAD 1.1: token F1; keys exact_match, f1.
- "squad_v2"   SQuAD 2.0: token F1 with empty-answer rules, na-prob threshold, HasAns_/NoAns_ groups and best_*.
- "korquad_v1" KorQuAD 1.0: Korean quote/bracket handling, space-sensitive EM, character F1.
- "korquad_v2" KorQuAD 2.0/2.1: HTML stripped from answers, all whitespace removed, character F1.
- "klue_mrc"   KLUE-MRC: EM and ROUGE-W (F1 of the longest common substring), overall and per question type;
               keys exact_match, rouge_w, total, then for each question type t present (ascending)
               type<t>_exact_match, type<t>_rouge_w, type<t>_total.

Inputs are plain dicts: `golds` maps question id -> list of gold answer texts in data-set order (an empty list is
an unanswerable SQuAD 2.0 / KLUE-MRC question), `predictions` maps question id -> answer text.
"""

import re
import string
import warnings
from collections import Counter
from difflib import SequenceMatcher

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from .errors import UsageError

METRICS = ("squad_v1", "squad_v2", "korquad_v1", "korquad_v2", "klue_mrc")

# A predicted answer such as "index.html" makes BeautifulSoup warn that it looks like a file name; it is still an
# answer text to parse, and the warning would be printed once per such prediction.
warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)

_DELETE_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
# KorQuAD turns these quotes and brackets into spaces before punctuation is deleted, so "서울(특별시)" keeps a word
# boundary; the ASCII ones among them would otherwise simply vanish.
_KOREAN_QUOTES_TO_SPACE = str.maketrans({ch: " " for ch in "'\"《》<>〈〉()‘’"})
# KLUE-MRC's reference writes KorQuAD's rule as one regular expression, `[\'\"《》<>〈〉]\(\)\‘\’`: a character class
# followed by the literal characters "()‘’". It therefore only fires on that 5-character sequence, never on the
# characters alone; the official numbers come from it as written, so it is reproduced as is.
_KLUE_QUOTES_TO_SPACE = re.compile(r"""['"《》<>〈〉]\(\)‘’""")

# How many missing ids an error message names.
_NAMED_IN_ERRORS = 5


def normalize_squad(text):
    """SQuAD 1.1/2.0: lower-case, delete ASCII punctuation, articles -> space, collapse whitespace."""
    text = text.lower().translate(_DELETE_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def normalize_korquad_v1(text):
    """KorQuAD 1.0: quotes/brackets -> space, lower-case, delete ASCII punctuation, collapse whitespace."""
    text = text.translate(_KOREAN_QUOTES_TO_SPACE).lower().translate(_DELETE_PUNCTUATION)
    return " ".join(text.split())


def normalize_klue_mrc(text):
    """KLUE-MRC: lower-case, the 5-character quote sequence -> space, delete ASCII punctuation, collapse whitespace."""
    text = _KLUE_QUOTES_TO_SPACE.sub(" ", text.lower()).translate(_DELETE_PUNCTUATION)
    return " ".join(text.split())


def strip_html(text):
    """The text of an HTML fragment as BeautifulSoup's html.parser reads it (tags dropped, entities decoded)."""
    return BeautifulSoup(text, "html.parser").get_text()


def normalize_korquad_v2(text):
    """KorQuAD 2.x: strip HTML, then KorQuAD 1.0's replacement and punctuation rules, and remove ALL whitespace."""
    text = strip_html(text).translate(_KOREAN_QUOTES_TO_SPACE).lower().translate(_DELETE_PUNCTUATION)
    return "".join(text.split())


def overlap_f1(pred_items, gold_items):
    """F1 of two multisets (tokens or characters): 0 when they share nothing (so also when both are empty)."""
    num_same = sum((Counter(pred_items) & Counter(gold_items)).values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_items)
    recall = 1.0 * num_same / len(gold_items)
    return (2 * precision * recall) / (precision + recall)


def _squad_v1_f1(pred_norm, gold_norm):
    return overlap_f1(pred_norm.split(), gold_norm.split())


def _squad_v2_f1(pred_norm, gold_norm):
    pred_tokens, gold_tokens = pred_norm.split(), gold_norm.split()
    if not pred_tokens or not gold_tokens:
        # "no answer" against "no answer" is a full match in SQuAD 2.0
        return int(pred_tokens == gold_tokens)
    return overlap_f1(pred_tokens, gold_tokens)


def _character_f1(pred_norm, gold_norm):
    # Characters of the whitespace-separated tokens: spaces never count (KorQuAD 2.x has none left anyway).
    return overlap_f1(list("".join(pred_norm.split())), list("".join(gold_norm.split())))


def longest_common_substring(pred_norm, gold_norm):
    """Length of the longest common contiguous substring as difflib.SequenceMatcher finds it, i.e. what KLUE-MRC's
    reference computes: its default autojunk heuristic ignores, as match anchors, the characters of a gold of 200+
    characters that make up more than 1% of it, so on long answers this can be shorter than the true maximum."""
    return SequenceMatcher(None, pred_norm, gold_norm).find_longest_match(0, len(pred_norm), 0, len(gold_norm)).size


def rouge_w(pred_norm, gold_norm):
    """KLUE-MRC's ROUGE-W of two normalized strings: F1 of the longest common substring's share of each; an empty
    gold (unanswerable question) is matched only by an empty prediction."""
    if not gold_norm:
        return int(pred_norm == gold_norm)
    common = longest_common_substring(pred_norm, gold_norm)
    if common == 0:  # also covers an empty prediction, whose precision would be 0/0
        return 0
    precision, recall = common / len(pred_norm), common / len(gold_norm)
    return (2 * precision * recall) / (precision + recall)


# metric name -> (normalize, F1 of two normalized strings; KLUE-MRC: ROUGE-W)
_RULES = {
    "squad_v1": (normalize_squad, _squad_v1_f1),
    "squad_v2": (normalize_squad, _squad_v2_f1),
    "korquad_v1": (normalize_korquad_v1, _character_f1),
    "korquad_v2": (normalize_korquad_v2, _character_f1),
    "klue_mrc": (normalize_klue_mrc, rouge_w),
}


def _rules(metric):
    try:
        return _RULES[metric]
    except KeyError:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}") from None


def exact_match(metric, prediction, gold):
    """1 if prediction and gold are equal after the metric's normalization, else 0."""
    norm = _rules(metric)[0]
    return int(norm(prediction) == norm(gold))


def f1(metric, prediction, gold):
    norm, f1_of_normalized = _rules(metric)
    return f1_of_normalized(norm(prediction), norm(gold))


def question_scores(metric, prediction, golds):
    """(EM, F1) of one prediction (KLUE-MRC: EM, ROUGE-W): the maximum of each over the gold answers (there must be
    at least one, except for the metrics of data sets with unanswerable questions)."""
    norm, f1_of_normalized = _rules(metric)
    pred_norm = norm(prediction)
    gold_norms = [norm(gold) for gold in golds]
    if metric == "squad_v2":
        # Golds that normalize to nothing do not count; a question left without any is matched by "no answer".
        gold_norms = [g for g in gold_norms if g] or [""]
    elif metric == "klue_mrc":
        gold_norms = gold_norms or [""]  # an unanswerable question's one gold is the empty answer
    return (max(int(pred_norm == g) for g in gold_norms),
            max(f1_of_normalized(pred_norm, g) for g in gold_norms))


def raw_scores(metric, golds, predictions):
    """Per-question EM and F1 dicts (data-set order) for the questions that have a prediction."""
    exact, f1s = {}, {}
    for qid, answers in golds.items():
        if qid in predictions:
            exact[qid], f1s[qid] = question_scores(metric, predictions[qid], answers)
    return exact, f1s


def _percent(scores, qids):
    """100 x mean over qids; a question without a score counts as 0. Summed in order like the official scripts."""
    return 100.0 * sum(scores.get(qid, 0) for qid in qids) / len(qids)


def _ids_phrase(ids):
    named = ", ".join(ids[:_NAMED_IN_ERRORS])
    return named + (", ..." if len(ids) > _NAMED_IN_ERRORS else "")


def score(metric, golds, predictions, na_probs=None, question_types=None):
    """The official result dict of a metric, with exactly the official keys in the official order.

    `na_probs` (id -> probability of no answer, in the order of the na-prob file) is for "squad_v2" only.
    `question_types` (id -> type number, None or absent for an untyped question) adds the per-type keys of
    "klue_mrc"; the other metrics have no per-type figures and ignore it.
    """
    _rules(metric)
    if not golds:
        raise UsageError("the data set has no questions to score")
    if metric == "squad_v2":
        return _score_squad_v2(golds, predictions, na_probs)
    if na_probs is not None:
        raise ValueError(f"na-probs apply only to the squad_v2 metric, not {metric}")
    if metric == "klue_mrc":
        return _score_klue_mrc(golds, predictions, question_types or {})
    no_gold = [qid for qid, answers in golds.items() if not answers]
    if no_gold:
        raise UsageError(f"{len(no_gold)} questions have no gold answer ({_ids_phrase(no_gold)}); "
                         f"the {metric} metric needs at least one per question")
    exact, f1s = raw_scores(metric, golds, predictions)
    return {"exact_match": _percent(exact, golds), "f1": _percent(f1s, golds)}


def _score_klue_mrc(golds, predictions, question_types):
    """Means over all questions, then over each question type present; a question without a prediction scores 0."""
    exact, rouge = raw_scores("klue_mrc", golds, predictions)
    result = {"exact_match": _percent(exact, golds), "rouge_w": _percent(rouge, golds), "total": len(golds)}
    present = sorted({question_types[qid] for qid in golds if question_types.get(qid) is not None})
    for qtype in present:
        group = [qid for qid in golds if question_types.get(qid) == qtype]
        result.update({f"type{qtype}_exact_match": _percent(exact, group),
                       f"type{qtype}_rouge_w": _percent(rouge, group), f"type{qtype}_total": len(group)})
    return result


def _score_squad_v2(golds, predictions, na_probs):
    missing = [qid for qid in golds if qid not in predictions]
    if missing:
        raise UsageError(f"{len(missing)} of {len(golds)} questions have no prediction ({_ids_phrase(missing)}); "
                         "SQuAD 2.0 needs one for every question (an empty string means no answer)")
    has_answer = {qid: bool(answers) for qid, answers in golds.items()}
    exact, f1s = raw_scores("squad_v2", golds, predictions)
    probs = {qid: 0.0 for qid in golds} if na_probs is None else na_probs
    lacking = [qid for qid in golds if qid not in probs]
    if lacking:
        raise UsageError(f"the na-probs lack {len(lacking)} of {len(golds)} questions ({_ids_phrase(lacking)})")
    result = _squad_v2_totals(apply_na_threshold(exact, probs, has_answer),
                              apply_na_threshold(f1s, probs, has_answer), has_answer)
    if na_probs is not None:
        result["best_exact"], result["best_exact_thresh"] = best_threshold(exact, predictions, probs, has_answer)
        result["best_f1"], result["best_f1_thresh"] = best_threshold(f1s, predictions, probs, has_answer)
    return result


def apply_na_threshold(scores, na_probs, has_answer, threshold=1.0):
    """A question whose na-prob is above the threshold is answered "no answer": 1 if unanswerable, else 0."""
    return {qid: float(not has_answer[qid]) if na_probs[qid] > threshold else value
            for qid, value in scores.items()}


def _squad_v2_totals(exact, f1s, has_answer):
    qids = list(exact)
    result = {"exact": _percent(exact, qids), "f1": _percent(f1s, qids), "total": len(qids)}
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        group = [qid for qid in qids if has_answer[qid] is wanted]
        if group:
            result.update({f"{prefix}_exact": _percent(exact, group), f"{prefix}_f1": _percent(f1s, group),
                           f"{prefix}_total": len(group)})
    return result


def best_threshold(scores, predictions, na_probs, has_answer):
    """(best score in %, its na-prob threshold) over all thresholds, from raw per-question scores.

    Answering only the questions whose na-prob is at most t: walk the ids by na-prob ascending (a stable sort, so
    ties keep the order of `na_probs`), starting from "answer nothing" (every unanswerable question right). An
    answerable question gains its score; an unanswerable one loses 1 if a non-empty answer was predicted. Only a
    strictly better running score moves the threshold, so among equal scores the lowest threshold wins.
    """
    running = best = sum(1 for qid in scores if not has_answer[qid])
    best_thresh = 0.0
    for qid in sorted(na_probs, key=na_probs.get):
        if qid not in scores:
            continue
        if has_answer[qid]:
            running += scores[qid]
        elif predictions[qid]:
            running -= 1
        if running > best:
            best, best_thresh = running, na_probs[qid]
    return 100.0 * best / len(scores), best_thresh
