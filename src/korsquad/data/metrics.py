"""The official scores of SQuAD 1.1, SQuAD 2.0, KorQuAD 1.0, KorQuAD 2.x and KLUE-MRC, implemented from their
definitions, and the record of each metric: the one place that knows a metric's name and the keys of its result.

Every figure is what the leaderboard script prints for the same predictions: the same normalization, the same
per-question maximum over gold answers, and the same arithmetic (sums in data-set order, then 100.0 * sum / n),
so results agree to the last digit.

The records, which the registry's data sets name (`korsquad.data.datasets.DatasetSpec.metric`):
- SQUAD_V1   "squad_v1": token F1; keys exact_match, f1.
- SQUAD_V2   "squad_v2": token F1 with empty-answer rules; keys exact, f1, total, then HasAns_* and NoAns_* (the
             questions with and without a gold answer), and with na-probs best_exact, best_f1 and their thresholds.
- KORQUAD_V1 "korquad_v1": Korean quote/bracket handling, space-sensitive EM, character F1.
- KORQUAD_V2 "korquad_v2": KorQuAD 2.0/2.1; HTML stripped from answers, all whitespace removed, character F1.
- KLUE_MRC   "klue_mrc": EM and ROUGE-W (F1 of the longest common substring), overall and per question type;
             keys exact_match, rouge_w, total, then for each question type t present (ascending)
             type<t>_exact_match, type<t>_rouge_w, type<t>_total.
Whatever reads a result (validation, post-processing, the evaluate command, the report, the model card) asks
the record for its keys instead of spelling them.

Inputs are plain dicts: `golds` maps question id -> list of gold answer texts in data-set order (an empty list is
an unanswerable SQuAD 2.0 / KLUE-MRC question), `predictions` maps question id -> answer text.
"""

import re
import string
import warnings
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Callable

from ..common.errors import UsageError

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


@lru_cache(maxsize=None)
def _beautiful_soup():
    """BeautifulSoup, imported on first use: the registry (korsquad.data.datasets) names these records, and every
    command that reads it would otherwise load bs4. A predicted answer such as "index.html" makes BeautifulSoup warn
    that it looks like a file name; it is still an answer text to parse, and the warning would be printed once per such
    prediction."""
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

    warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
    return BeautifulSoup


def strip_html(text):
    """The text of an HTML fragment as BeautifulSoup's html.parser reads it (tags dropped, entities decoded)."""
    return _beautiful_soup()(text, "html.parser").get_text()


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


def _percent(scores, qids):
    """100 x mean over qids; a question without a score counts as 0. Summed in order like the official scripts."""
    return 100.0 * sum(scores.get(qid, 0) for qid in qids) / len(qids)


def _ids_phrase(ids):
    named = ", ".join(ids[:_NAMED_IN_ERRORS])
    return named + (", ..." if len(ids) > _NAMED_IN_ERRORS else "")


# ---- the categories of per-category keys ----

@dataclass(frozen=True)
class Category:
    """A group of questions scored on its own: keys `<prefix>_<key>` ("HasAns_f1", "type2_rouge_w")."""

    prefix: str
    label: str  # in words: "HasAns", "type 2"
    meaning: str  # "multi-sentence reasoning"; "" when the label says it all
    holds: Callable  # (gold answers, question type) -> whether a question is in the group

    def key(self, key):
        """The category's own `key`: "HasAns_f1"."""
        return f"{self.prefix}_{key}"


def by_answerability(question_types):
    """SQuAD 2.0: the questions with a gold answer, then those without."""
    return (Category("HasAns", "HasAns", "", lambda answers, qtype: bool(answers)),
            Category("NoAns", "NoAns", "", lambda answers, qtype: not answers))


def by_question_type(question_types):
    """KLUE-MRC: one group per question type (number -> meaning), ascending."""
    return tuple(Category(f"type{number}", f"type {number}", meaning, lambda answers, qtype, n=number: qtype == n)
                 for number, meaning in sorted(question_types.items()))


def no_categories(question_types):
    return ()


def without_empty_golds(gold_norms):
    """SQuAD 2.0: golds that normalize to nothing do not count; a question left without any is matched by "no
    answer"."""
    return [g for g in gold_norms if g] or [""]


def empty_gold_if_none(gold_norms):
    """KLUE-MRC: an unanswerable question's one gold is the empty answer."""
    return gold_norms or [""]


# Result keys in words (the model card's names; a category's keys add its label).
KEY_NAMES = {"exact_match": "Exact Match", "exact": "Exact Match", "f1": "F1", "rouge_w": "ROUGE-W",
             "total": "questions"}
# The decoding flag whose value post-processing tunes to reproduce a best_* score (korsquad.decoding.postprocess).
TUNED_FLAG = "null_score_diff_threshold"


@dataclass(frozen=True)
class Metric:
    """One official metric: how a prediction is compared with its golds, and the keys of its result dict."""

    name: str  # as the result tables and the model card name it
    title: str  # "SQuAD 2.0": the leaderboard whose script it reproduces
    normalize: Callable  # answer text -> the form that is compared
    overlap: Callable  # (normalized prediction, normalized gold) -> partial credit in [0, 1] (F1; KLUE-MRC: ROUGE-W)
    exact_key: str = "exact_match"
    primary_key: str = "f1"  # the partial credit's key; it ranks checkpoints (larger is better)
    counts: bool = False  # the result also holds "total" (and <category>_total): how many questions
    categories: Callable = no_categories  # question types (number -> meaning) -> its Categories, in key order
    gold_rule: Callable = None  # normalized golds -> those matched against; None: every question needs a gold
    every_prediction: bool = False  # a question without a prediction is an error, not a 0
    null_threshold: bool = False  # scores no-answer probabilities (na-probs): best_* keys and their thresholds

    @property
    def keys(self):
        """The keys of the result over all questions, in order."""
        return (self.exact_key, self.primary_key) + (("total",) if self.counts else ())

    def category_keys(self, question_types=None):
        """The per-category keys (of the categories that have questions), in order."""
        return tuple(category.key(key) for category in self.categories(question_types or {}) for key in self.keys)

    def best_keys(self, key):
        """(best_<key>, best_<key>_thresh): a score at its best no-answer threshold, and that threshold."""
        return f"best_{key}", f"best_{key}_thresh"

    @property
    def threshold_keys(self):
        """What na-probs add: best_keys of the exact match, then of the primary score."""
        return self.best_keys(self.exact_key) + self.best_keys(self.primary_key) if self.null_threshold else ()

    def tuned_flag_key(self, key):
        """best_<key>_null_score_diff_threshold: the decoding flag's value that gives best_<key>."""
        return f"best_{key}_{TUNED_FLAG}"

    def is_score(self, key):
        """Whether a result key is a score in % (not a count, not a threshold)."""
        return any(key == score or key.endswith(f"_{score}") for score in (self.exact_key, self.primary_key))

    def key_name(self, key, question_types=None):
        """'F1', 'HasAns Exact Match', 'type 2 (multi-sentence reasoning) ROUGE-W', 'best F1 threshold', ..."""
        for category in self.categories(question_types or {}):
            if key.startswith(category.key("")):
                label = f"{category.label} ({category.meaning})" if category.meaning else category.label
                return f"{label} {self.key_name(key[len(category.key('')):])}"
        if self.null_threshold and key.startswith("best_"):
            rest = key[len("best_"):]
            if rest.endswith("_thresh"):
                return f"no-answer threshold of the best {self.key_name(rest[:-len('_thresh')])}"
            if rest.endswith(f"_{TUNED_FLAG}"):
                return f"--{TUNED_FLAG} that gives the best {self.key_name(rest[:-len(TUNED_FLAG) - 1])}"
            return f"{self.key_name(rest)} at the best no-answer threshold"
        return KEY_NAMES.get(key, key)

    def exact_match(self, prediction, gold):
        """1 if prediction and gold are equal after the metric's normalization, else 0."""
        return int(self.normalize(prediction) == self.normalize(gold))

    def f1(self, prediction, gold):
        return self.overlap(self.normalize(prediction), self.normalize(gold))

    def question_scores(self, prediction, golds):
        """(EM, F1) of one prediction (KLUE-MRC: EM, ROUGE-W): the maximum of each over the gold answers (there must
        be at least one, except for the metrics of data sets with unanswerable questions)."""
        pred_norm = self.normalize(prediction)
        gold_norms = [self.normalize(gold) for gold in golds]
        if self.gold_rule is not None:
            gold_norms = self.gold_rule(gold_norms)
        return (max(int(pred_norm == g) for g in gold_norms),
                max(self.overlap(pred_norm, g) for g in gold_norms))

    def raw_scores(self, golds, predictions):
        """Per-question EM and F1 dicts (data-set order) for the questions that have a prediction."""
        exact, f1s = {}, {}
        for qid, answers in golds.items():
            if qid in predictions:
                exact[qid], f1s[qid] = self.question_scores(predictions[qid], answers)
        return exact, f1s

    def score(self, golds, predictions, na_probs=None, question_types=None):
        """The official result dict, with exactly the official keys in the official order.

        `na_probs` (id -> probability of no answer, in the order of the na-prob file) only where `null_threshold`.
        `question_types` (id -> type number, None or absent for an untyped question) adds the per-type keys of a
        metric that has them; the others ignore it."""
        if not golds:
            raise UsageError("the data set has no questions to score")
        if na_probs is not None and not self.null_threshold:
            takers = ", ".join(metric.name for metric in METRICS if metric.null_threshold)
            raise ValueError(f"na-probs apply only to the {takers} metric, not {self.name}")
        self._check_questions(golds, predictions)
        exact, f1s = self.raw_scores(golds, predictions)
        has_answer = {qid: bool(answers) for qid, answers in golds.items()}
        if na_probs is not None:
            lacking = [qid for qid in golds if qid not in na_probs]
            if lacking:
                raise UsageError(f"the na-probs lack {len(lacking)} of {len(golds)} questions "
                                 f"({_ids_phrase(lacking)})")
            exact_at, f1s_at = (apply_na_threshold(scores, na_probs, has_answer) for scores in (exact, f1s))
        else:
            exact_at, f1s_at = exact, f1s
        result = self._totals(exact_at, f1s_at, list(golds))
        types = question_types or {}
        present = {types[qid]: "" for qid in golds if types.get(qid) is not None}
        for category in self.categories(present):
            group = [qid for qid in golds if category.holds(golds[qid], types.get(qid))]
            if group:
                result.update(self._totals(exact_at, f1s_at, group, category.key))
        if na_probs is not None:
            for key, scores in ((self.exact_key, exact), (self.primary_key, f1s)):
                best, thresh = self.best_keys(key)
                result[best], result[thresh] = best_threshold(scores, predictions, na_probs, has_answer)
        return result

    def _check_questions(self, golds, predictions):
        if self.gold_rule is None:
            no_gold = [qid for qid, answers in golds.items() if not answers]
            if no_gold:
                raise UsageError(f"{len(no_gold)} questions have no gold answer ({_ids_phrase(no_gold)}); "
                                 f"the {self.name} metric needs at least one per question")
        if self.every_prediction:
            missing = [qid for qid in golds if qid not in predictions]
            if missing:
                raise UsageError(f"{len(missing)} of {len(golds)} questions have no prediction "
                                 f"({_ids_phrase(missing)}); {self.title} needs one for every question (an empty "
                                 "string means no answer)")

    def _totals(self, exact, f1s, qids, name=str):
        """A mean over qids per score (a question without a score counts 0), then the count where it has one;
        `name` makes a category's key of each."""
        totals = {name(self.exact_key): _percent(exact, qids), name(self.primary_key): _percent(f1s, qids)}
        if self.counts:
            totals[name("total")] = len(qids)
        return totals


SQUAD_V1 = Metric("squad_v1", "SQuAD 1.1", normalize_squad, _squad_v1_f1)
SQUAD_V2 = Metric("squad_v2", "SQuAD 2.0", normalize_squad, _squad_v2_f1, exact_key="exact", counts=True,
                  categories=by_answerability, gold_rule=without_empty_golds, every_prediction=True,
                  null_threshold=True)
KORQUAD_V1 = Metric("korquad_v1", "KorQuAD 1.0", normalize_korquad_v1, _character_f1)
KORQUAD_V2 = Metric("korquad_v2", "KorQuAD 2.x", normalize_korquad_v2, _character_f1)
KLUE_MRC = Metric("klue_mrc", "KLUE-MRC", normalize_klue_mrc, rouge_w, primary_key="rouge_w", counts=True,
                  categories=by_question_type, gold_rule=empty_gold_if_none)
METRICS = (SQUAD_V1, SQUAD_V2, KORQUAD_V1, KORQUAD_V2, KLUE_MRC)


def apply_na_threshold(scores, na_probs, has_answer, threshold=1.0):
    """A question whose na-prob is above the threshold is answered "no answer": 1 if unanswerable, else 0."""
    return {qid: float(not has_answer[qid]) if na_probs[qid] > threshold else value
            for qid, value in scores.items()}


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
