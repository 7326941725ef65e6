"""The evaluation page's content, as pure functions: a run's questions, predictions and n-best lists in, the page's
records and its one self-contained HTML file out (korsquad.analysis.page reads the run folder and writes the file).

Spans are never searched for. A gold answer is shown at its `answer_start` (as the reader fixed it: the span the
training labels use), the prediction at the character offsets the decoding recorded in the n-best file: the
prediction is by definition the best non-null n-best entry (korsquad.decoding.postprocess), whose
`char_start`/`char_end` index the context. A KorQuAD 2.x context is an HTML page: the page shows its readable text
(korsquad.data.html_text, the text the model reads) and maps every span into it.

Offsets in the page are UTF-16 code units, the unit of JavaScript strings, so that a context with characters
beyond the Basic Multilingual Plane (emoji, rare Hanja) is still highlighted at the right characters.

Per question: EM and F1 (KLUE-MRC: ROUGE-W) from the metric record's `question_scores`, the official per-question
scores, so the mean over all questions is the official figure. Categories (each with its EM/F1 in the summary, and a
filter in the page): answerable or not (data sets with unanswerable questions), question type (data sets that
type their questions), question word, gold answer length and context length.
"""

import html
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Optional

from ..data.html_text import to_text_span

TEMPLATE = "page.html"
DATA_MARK = "/*PAGE_DATA*/"
TITLE_MARK = "<!--TITLE-->"

# Digits kept in the page: enough to read and to sort by, few enough to keep 10,000 questions' n-best lists small.
PROBABILITY_SCALE = 10000
SCORE_DIGITS = 4

# Question words, in the order the page lists them. English: the first of these words in the question (SQuAD asks
# "In what year ..."). Korean: the earliest of these stems in the question, particles attached ("누구인가",
# "어디에서"); at equal places the longer stem wins.
QUESTION_WORDS = ("who", "when", "where", "what", "why", "how")
OTHER_WORD = "other"
_ENGLISH_WORDS = {"who": "who", "whom": "who", "whose": "who", "when": "when", "where": "where", "what": "what",
                  "which": "what", "why": "why", "how": "how"}
_KOREAN_STEMS = {"누가": "who", "누구": "who", "언제": "when", "어디": "where", "무엇": "what", "무슨": "what",
                 "뭐": "what", "어떤": "what", "어느": "what", "왜": "why", "어떻게": "how", "얼마": "how", "몇": "how"}
_KOREAN_LABELS = {"who": "누가", "when": "언제", "where": "어디", "what": "무엇", "why": "왜", "how": "어떻게"}
_WORD = re.compile(r"[a-z]+")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # characters that are two UTF-16 code units

# Length buckets in characters of the shown text: (upper bound inclusive, label).
ANSWER_LENGTHS = ((5, "1-5 chars"), (10, "6-10 chars"), (20, "11-20 chars"), (50, "21-50 chars"),
                  (None, "51+ chars"))
CONTEXT_LENGTHS = ((500, "up to 500 chars"), (1000, "501-1,000 chars"), (2000, "1,001-2,000 chars"),
                   (5000, "2,001-5,000 chars"), (None, "5,001+ chars"))
NO_ANSWER = "no gold answer"

ALL = ("all", "all questions")
GROUPS = ("all", "answerable", "question type", "question word", "answer length", "context length")


def question_word(question, language):
    """The question's question word (one of QUESTION_WORDS, else OTHER_WORD), by the rules above."""
    if language == "ko":
        found = [(question.find(stem), -len(stem), word) for stem, word in _KOREAN_STEMS.items() if stem in question]
        return min(found)[2] if found else OTHER_WORD
    for token in _WORD.findall(question.lower()):
        if token in _ENGLISH_WORDS:
            return _ENGLISH_WORDS[token]
    return OTHER_WORD


def question_word_label(word, language):
    return f"{word} ({_KOREAN_LABELS[word]})" if language == "ko" and word in _KOREAN_LABELS else word


def length_bucket(length, buckets):
    for bound, label in buckets:
        if bound is None or length <= bound:
            return label
    raise ValueError("the last bucket must be open-ended")


# ---- contexts as the page shows them -----------------------------------------------------------------------


def utf16_units(text):
    """Per code point index i (0..len), the UTF-16 index of text[:i]; None when the two agree (no astral chars)."""
    if not _ASTRAL.search(text):
        return None
    units, position = [0], 0
    for ch in text:
        position += 2 if ord(ch) >= 0x10000 else 1
        units.append(position)
    return units


@dataclass(frozen=True)
class ContextView:
    """What the page shows of one context, and how an original span lands in it.

    text: the shown text (the context itself, or the readable text of an HTML page).
    html_offsets: per character of `text`, its index in the HTML (HTML contexts only).
    units: utf16_units(text).
    """

    text: str
    html_offsets: Optional[object] = None
    units: Optional[list] = None

    def shown_span(self, start, end):
        """The original span [start, end) in code points of `text` (HTML: its visible characters)."""
        if self.html_offsets is None:
            return start, end
        return to_text_span(self.text, self.html_offsets, start, end)

    def js(self, index):
        """A code point index of `text` in UTF-16 units."""
        return index if self.units is None else self.units[index]

    def page_span(self, start, end):
        """[s, e] in the page (UTF-16 units of the shown text) of an original span."""
        s, e = self.shown_span(start, end)
        return [self.js(s), self.js(e)]

    def shown_text(self, start, end):
        s, e = self.shown_span(start, end)
        return self.text[s:e]


def context_view(context, reader):
    """The context as the model reads it: the text its data set's reader builds windows on."""
    text, offsets = reader.window_text(context)
    return ContextView(text, offsets, utf16_units(text))


# ---- one question ------------------------------------------------------------------------------------------


def prediction_span(prediction, nbest, context):
    """The span [start, end) the run recorded for its prediction, or None.

    Decoding makes the prediction the best non-null entry of the n-best list, and every entry records its
    char_start/char_end in the context. None for an abstention (""), for n-best entries without offsets (files
    of older versions), and when that entry is not the prediction at those offsets of this context (the
    prediction and n-best files, or the data file, belong to different evaluations)."""
    if not prediction:
        return None
    entry = next((e for e in nbest or () if e.get("char_start") != -1), None)  # -1: the null answer
    if entry is None:
        return None
    start, end = entry.get("char_start"), entry.get("char_end")
    if not isinstance(start, int) or not isinstance(end, int):
        return None
    if entry.get("text") != prediction or context[start:end] != prediction:
        return None
    return start, end


def _rounded(value, digits):
    return None if value is None else round(float(value), digits)


def nbest_rows(nbest, view):
    """The n-best list as one flat list [s, e, probability, s, e, probability, ...]: spans in page offsets (the null
    answer is -1, -1), probabilities in units of 1e-4 (integers, and one list a question: 200,000 candidates are
    written and read fast); [] when the entries record no offsets."""
    try:
        rows = [value for entry in nbest or ()
                for value in (entry["char_start"], entry["char_end"],
                              int(entry["probability"] * PROBABILITY_SCALE + 0.5))]
    except (KeyError, TypeError):
        return []
    if view.html_offsets is not None or view.units is not None:
        for i in range(0, len(rows), 3):
            if rows[i] >= 0:
                rows[i:i + 2] = view.page_span(rows[i], rows[i + 1])
    return rows


def null_scores(nbest, null_odds):
    """{"null": null score, "best": best span score, "odds": their difference} from the n-best list's logits and
    the run's null odds (best is None when no span was valid)."""
    null = next((e for e in nbest or () if e.get("char_start") == -1), None)
    best = next((e for e in nbest or () if isinstance(e.get("char_start"), int) and e["char_start"] >= 0), None)

    def score(entry):
        if entry is None or entry.get("start_logit") is None:
            return None
        return _rounded(entry["start_logit"] + entry["end_logit"], SCORE_DIGITS)

    return {"null": score(null), "best": score(best), "odds": _rounded(null_odds, SCORE_DIGITS)}


def question_record(example, view, context_index, prediction, nbest, *, metric, labeled, null_odds=None):
    """The page's record of one question (short keys: 10,000 of them travel in the file).

    id, q (question), c (index of its context), t (question type or None), p (the answer shown: the prediction,
    or for HTML contexts the readable text of its span), ps ([s, e] of the prediction in the page, None when not
    recorded or abstained), g (gold answers: [shown text, s, e], s = e = None when the file's answer is not in
    its context), nb (n-best rows), em and f1 (labeled questions), nl (null scores, data sets with unanswerable
    questions); build_page adds k (indices of its categories)."""
    span = prediction_span(prediction, nbest, example.context)
    shown = view.shown_text(*span) if span and view.html_offsets is not None else prediction
    record = {"id": example.id, "q": example.question, "c": context_index, "t": example.question_type,
              "p": shown, "ps": view.page_span(*span) if span else None,
              "g": [_gold(answer, view) for answer in example.answers], "nb": nbest_rows(nbest, view)}
    if labeled:
        em, f1 = metric.question_scores(prediction, [answer.text for answer in example.answers])
        record.update(em=em, f1=f1)
    if null_odds is not None:
        record["nl"] = null_scores(nbest, null_odds)
    return record


def _gold(answer, view):
    if answer.start < 0:
        return [answer.text, None, None]
    end = answer.start + len(answer.text)
    return [view.shown_text(answer.start, end), *view.page_span(answer.start, end)]


def categories_of(record, example, view, *, language, has_unanswerable, question_types, labeled):
    """(group, label) of every category the question belongs to, in GROUPS order."""
    found = [ALL]
    if labeled and has_unanswerable:
        found.append(("answerable", "answerable" if example.answers else "unanswerable"))
    if question_types and example.question_type is not None:
        found.append(("question type", f"{example.question_type} {question_types[example.question_type]}"))
    found.append(("question word", question_word_label(question_word(example.question, language), language)))
    if labeled:
        gold = record["g"][0][0] if record["g"] else None
        found.append(("answer length", NO_ANSWER if gold is None else length_bucket(len(gold), ANSWER_LENGTHS)))
    found.append(("context length", length_bucket(len(view.text), CONTEXT_LENGTHS)))
    return found


def _category_order(group, label, language):
    """Where a category goes in its group: the fixed orders of the labels, else by label."""
    fixed = {
        "answerable": ("answerable", "unanswerable"),
        "question word": tuple(question_word_label(w, language) for w in QUESTION_WORDS + (OTHER_WORD,)),
        "answer length": tuple(label for _, label in ANSWER_LENGTHS) + (NO_ANSWER,),
        "context length": tuple(label for _, label in CONTEXT_LENGTHS),
    }.get(group)
    return (GROUPS.index(group), fixed.index(label) if fixed else 0, label)


def summarize(records, memberships, language):
    """(categories, indices): the summary's categories [{group, label, n, em, f1}] in page order (em/f1 as
    percentages, None for unlabeled questions), and for each record the indices of its categories."""
    members = {}
    for number, found in enumerate(memberships):
        for key in found:
            members.setdefault(key, []).append(number)
    keys = sorted(members, key=lambda key: _category_order(*key, language))
    index = {key: i for i, key in enumerate(keys)}
    categories = [dict(group=group, label=label, **_means(records, members[(group, label)])) for group, label in keys]
    return categories, [[index[key] for key in found] for found in memberships]


def _means(records, numbers):
    n = len(numbers)
    if "em" not in records[numbers[0]]:
        return {"n": n, "em": None, "f1": None}
    return {"n": n, "em": 100.0 * sum(records[i]["em"] for i in numbers) / n,
            "f1": 100.0 * sum(records[i]["f1"] for i in numbers) / n}


# ---- the page ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSettings:
    """What the page says about the run besides its questions."""

    title: str  # the run's name
    data_name: str
    split: str  # "eval" or "predict"
    model: str = ""
    data_file: str = ""
    threshold: Optional[float] = None  # null_score_diff_threshold, data sets with unanswerable questions
    official: Optional[dict] = None  # result.json


def build_page(examples, predictions, nbest, null_odds, spec, settings, notes=()):
    """The page's data: settings, official scores, categories, contexts (each stored once) and question records.

    `examples` are the questions to show (those the run answered, in data-set order); `predictions`, `nbest` and
    `null_odds` (None without unanswerable questions) map question id -> the run's files' entries; `nbest` may be
    {} (a run without an n-best file)."""
    labeled = settings.split != "predict"
    metric_names = {"em": "EM", "f1": spec.metric.key_name(spec.metric.primary_key)}
    contexts, views, records, memberships = {}, [], [], []
    without_span = 0
    for example in examples:
        if example.context not in contexts:
            contexts[example.context] = len(views)
            views.append(context_view(example.context, spec.reader))
        view = views[contexts[example.context]]
        prediction = predictions[example.id]
        record = question_record(example, view, contexts[example.context], prediction, nbest.get(example.id),
                                 metric=spec.metric, labeled=labeled,
                                 null_odds=None if null_odds is None else null_odds.get(example.id))
        without_span += bool(prediction) and record["ps"] is None
        records.append(record)
        memberships.append(categories_of(record, example, view, language=spec.language,
                                         has_unanswerable=spec.has_unanswerable,
                                         question_types=spec.question_types, labeled=labeled))
    notes = list(notes)
    if without_span:
        notes.append(f"{without_span} of {len(records)} predictions are not highlighted: their character span is "
                     "not recorded in the n-best file (a run of an older version, or files of different "
                     "evaluations); run --do_eval again to record it")
    categories, indices = summarize(records, memberships, spec.language)
    for record, found in zip(records, indices):
        record["k"] = found
    return {
        "title": settings.title, "data_name": settings.data_name, "split": settings.split, "model": settings.model,
        "data_file": settings.data_file, "labeled": labeled, "metric": metric_names,
        "has_null": spec.has_unanswerable, "threshold": settings.threshold,
        "official": [[key, value] for key, value in (settings.official or {}).items()
                     if isinstance(value, (int, float)) and not isinstance(value, bool)],
        "html_contexts": spec.reader.context_format == "html",
        "question_types": {str(number): name for number, name in spec.question_types.items()},
        "notes": notes, "categories": categories,
        "contexts": [view.text for view in views], "questions": records,
    }


def page_json(page):
    """The page data as JSON that can sit inside a <script> element: every "<" is escaped, so no "</script>"."""
    text = json.dumps(page, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c")


def render_page(page):
    """The whole HTML file: the template (styles and script inline) with the page data and title in it."""
    template = resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    title = html.escape(f"{page['title']} - {page['data_name']} {page['split']}")
    # The data first: its JSON holds no "<", so it cannot hold the title's mark, while a title could hold the data's.
    return template.replace(DATA_MARK, page_json(page), 1).replace(TITLE_MARK, title, 1)
