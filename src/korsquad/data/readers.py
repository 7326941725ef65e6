"""Strict readers, one per file layout -> Example records: SQuAD JSON (SQuAD 1.1/2.0, KorQuAD 1.0, KLUE-MRC),
KorQuAD 2.x HTML pages, and JSON Lines. The registry names each data set's reader (`DatasetSpec.reader`).

A path is read by what it is: a folder holds the `*.json` parts of a split of several parts (KorQuAD 2.x); a `.jsonl`
file holds one question per line in the layout of Hugging Face `datasets` exports of SQuAD:
`{"id", "question", "context", "answers": {"text": [...], "answer_start": [...]}}` (optional "title",
"is_impossible", "question_type"; empty lists for an unanswerable question); any other file is in the data set's own
layout, read by its reader.

Every problem is reported with the file and the question id, line or position where it is. Real files carry a few
answers whose `answer_start` does not point at their text: when the text occurs elsewhere in the context the start
is moved to the nearest occurrence and counted; an answer that cannot be found at all is an error in training
data and is kept (it still counts for the metric, which only reads the text) in evaluation data.
"""

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from ..common.errors import UsageError
from ..common.jsonio import file_digest, jsonl_objects, load_json


@dataclass(frozen=True)
class Answer:
    text: str  # as in the file (KorQuAD 2.x: may contain HTML tags)
    start: int  # character offset of `text` in Example.context


@dataclass(frozen=True)
class Example:
    id: str
    question: str
    context: str  # the original context (KorQuAD 2.x: the HTML document as in the file)
    answers: tuple  # tuple of Answer; empty for unanswerable or unlabeled questions
    is_impossible: bool  # training labels point at CLS; the metric only looks at whether `answers` is empty
    title: str = ""
    question_type: int = None  # one of the spec's `question_types` (KLUE-MRC); None where questions are untyped


class Collector:
    """Validates and keeps the questions a reader finds, and counts articles, questions and fixed answers."""

    def __init__(self, spec, training, labeled):
        self.spec = spec
        self.training = training
        self.labeled = labeled
        self.examples = []
        self.seen_ids = {}
        self.stats = dict(articles=0, questions=0, unanswerable=0, answer_start_fixed=0, answers_not_found=0)
        if spec.question_types:
            self.stats["question_types"] = {str(t): 0 for t in spec.question_types}

    def add_article(self):
        self.stats["articles"] += 1

    def add(self, qa, context, title, answers_of, where):
        """Validate and keep one question; `answers_of(qa, where)` gives its answers in SQuAD's layout (a list of
        {"text", "answer_start"}), read only for labeled data and only once the id can name the question."""
        qid = self._question_id(qa, where)
        where = f"{where} (id {qid})"
        is_impossible = qa.get("is_impossible", False)
        if not isinstance(is_impossible, bool):
            raise UsageError(f"{where}: 'is_impossible' must be true or false, not {is_impossible!r}")
        question_type = self._question_type(qa, where)
        question = _string_field(qa, "question", where)
        if not question.strip():
            raise UsageError(f"{where}: empty 'question' text")
        if qid in self.seen_ids:
            raise UsageError(f"{where}: duplicate question id, first seen at {self.seen_ids[qid]}")
        self.seen_ids[qid] = where
        raw_answers = answers_of(qa, where) if self.labeled else []
        answers = tuple(self._answer(raw, context, where) for raw in raw_answers)
        answers = tuple(a for a in answers if a is not None)
        is_impossible = is_impossible or (self.labeled and self.spec.has_unanswerable and not answers)
        if self.labeled and not answers and not is_impossible:
            raise UsageError(f"{where}: no answers, and {self.spec.name} has no unanswerable questions")
        self.stats["questions"] += 1
        self.stats["unanswerable"] += is_impossible
        if question_type is not None:
            self.stats["question_types"][str(question_type)] += 1
        # answers stay as the file gives them: the official SQuAD 2.0 and KLUE-MRC metrics call a question
        # answerable iff it has any (KLUE-MRC's plausible_answers are never read)
        self.examples.append(Example(qid, question, context, answers, is_impossible, title, question_type))

    def _question_id(self, qa, where):
        """The spec's id field (KLUE-MRC: "guid"), else "id" as in Hugging Face exports and the user's own files."""
        fields = list(dict.fromkeys((self.spec.id_field, "id")))
        qid = next((qa[name] for name in fields if name in qa), None)
        if not isinstance(qid, (str, int)) or isinstance(qid, bool) or str(qid) == "":
            raise UsageError(f"{where}: question without an id ({' or '.join(map(repr, fields))})")
        return str(qid)

    def _question_type(self, qa, where):
        """The question's type for a typed data set, checked against the registry; None where absent or untyped."""
        types = self.spec.question_types
        value = qa.get("question_type") if types else None
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value not in types:
            raise UsageError(f"{where}: 'question_type' must be one of {', '.join(map(str, types))}, not {value!r}")
        return value

    def _answer(self, raw, context, where):
        if not isinstance(raw, dict):
            raise UsageError(f"{where}: an answer must be an object with 'text' and 'answer_start'")
        text = _string_field(raw, "text", where + " answer")
        start = raw.get("answer_start")
        if not isinstance(start, int) or isinstance(start, bool):
            raise UsageError(f"{where}: answer 'answer_start' must be an integer")
        if context.startswith(text, start) and start >= 0:
            return Answer(text, start)
        found = _nearest_occurrence(context, text, start)
        if found is not None:
            self.stats["answer_start_fixed"] += 1
            return Answer(text, found)
        if self.training:
            raise UsageError(f"{where}: answer {text[:60]!r} does not occur in its context")
        self.stats["answers_not_found"] += 1
        return Answer(text, -1)


def _nearest_occurrence(context, text, start):
    if not text:
        return None
    best, pos = None, context.find(text)
    while pos != -1:
        if best is None or abs(pos - start) < abs(best - start):
            best = pos
        pos = context.find(text, pos + 1)
    return best


def _string_field(obj, name, where):
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: expected an object")
    value = obj.get(name)
    if not isinstance(value, str):
        raise UsageError(f"{where}: missing or non-string '{name}'")
    return value


def _qas(container, where):
    qas = container.get("qas")
    if not isinstance(qas, list):
        raise UsageError(f"{where}: no 'qas' list")
    return qas


def _jsonl_records(path):
    """(line number, object) of each non-blank line of a JSON Lines file, streamed."""
    with open(path, encoding="utf-8-sig") as lines:
        yield from jsonl_objects(lines, path)


def _squad_answers(qa, where):
    answers = qa.get("answers", [])
    if not isinstance(answers, list):
        raise UsageError(f"{where}: 'answers' must be a list")
    return answers


def _document_answer(qa, where):
    """KorQuAD 2.x: one 'answer' object per question."""
    answer = qa.get("answer")
    if not isinstance(answer, dict):
        raise UsageError(f"{where}: no 'answer' object")
    return [answer]


def _columnar_answers(record, where):
    """Hugging Face's {"text": [...], "answer_start": [...]} -> SQuAD's [{"text", "answer_start"}, ...]."""
    answers = record.get("answers")
    texts = answers.get("text") if isinstance(answers, dict) else None
    starts = answers.get("answer_start") if isinstance(answers, dict) else None
    if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
        raise UsageError(f"{where}: 'answers' must be an object of 'text' and 'answer_start' lists of equal length")
    return [{"text": text, "answer_start": start} for text, start in zip(texts, starts)]


class Reader:
    """How the files of one layout read, and the text windows are built on. A data set names its reader in the
    registry (`DatasetSpec.reader`): a new layout is one subclass with `read`, and `window_text` with
    `original_spans` where its contexts are not plain text."""

    name = ""  # part of the feature cache's key
    context_format = "text"  # how contexts are written: "text", or "html" for whole pages

    def read(self, path, collector):
        """Put each article (`collector.add_article()`) and question (`collector.add(...)`) of one file."""
        raise NotImplementedError

    def window_text(self, context):
        """(the text windows are built on, the index in `context` of each of its characters as a non-decreasing
        int64 array; None where the text is the context itself)."""
        return context, None

    def original_spans(self, context, offsets, starts, ends):
        """The spans of `context` ([start, end) int64 arrays) that the text spans [starts[k], ends[k]) of
        `window_text` show: what a token or prediction stands for. Needed only where `window_text` gives offsets."""
        raise NotImplementedError(f"{type(self).__name__} maps its contexts but not spans back")


class SquadJson(Reader):
    """SQuAD's layout (SQuAD 1.1/2.0, KorQuAD 1.0, KLUE-MRC): {"data": [{"title", "paragraphs": [{"context",
    "qas": [{"id", "question", "answers": [{"text", "answer_start"}], "is_impossible"}]}]}]}."""

    name = "squad_json"

    def read(self, path, collector):
        for article, title, where in _articles(path, collector):
            paragraphs = article.get("paragraphs")
            if not isinstance(paragraphs, list):
                raise UsageError(f"{where}: no 'paragraphs' list")
            for p_index, paragraph in enumerate(paragraphs):
                p_where = f"{where}.paragraphs[{p_index}]"
                context = _string_field(paragraph, "context", p_where)
                for q_index, qa in enumerate(_qas(paragraph, p_where)):
                    collector.add(qa, context, title, _squad_answers, f"{p_where}.qas[{q_index}]")


class Korquad2Pages(Reader):
    """KorQuAD 2.x: {"data": [{"title", "context": a whole HTML page, "qas": [{"id", "question", "answer": {"text",
    "answer_start"}}]}]}; windows are built on the page's readable text (korsquad.data.html_text)."""

    name = "korquad2_pages"
    context_format = "html"

    def read(self, path, collector):
        for doc, title, where in _articles(path, collector):
            context = _string_field(doc, "context", where)
            for q_index, qa in enumerate(_qas(doc, where)):
                collector.add(qa, context, title, _document_answer, f"{where}.qas[{q_index}]")

    # html_text is imported where used: the registry imports this module, and the download tools import the
    # registry without the tokenizer libraries html_text brings.
    def window_text(self, context):
        from .html_text import html_to_text

        return html_to_text(context)

    def original_spans(self, context, offsets, starts, ends):
        from .html_text import to_original_spans

        return to_original_spans(context, offsets, starts, ends)


class JsonLines(Reader):
    """One question per line, as Hugging Face `datasets` exports SQuAD (see the module's docstring); read for a
    `.jsonl` file whatever the data set. As there are no articles, each distinct context counts as one."""

    name = "json_lines"
    suffix = ".jsonl"

    def read(self, path, collector):
        contexts = set()
        for number, record in _jsonl_records(path):
            where = f"{path}: line {number}"
            context = _string_field(record, "context", where)
            title = record.get("title", "")
            if not isinstance(title, str):
                raise UsageError(f"{where}: 'title' must be a string")
            collector.add(record, context, title, _columnar_answers, where)
            if context not in contexts:
                contexts.add(context)
                collector.add_article()


SQUAD_JSON, KORQUAD2_PAGES, JSON_LINES = SquadJson(), Korquad2Pages(), JsonLines()


def reader_for(path, spec):
    """The reader of one file: JSON lines by its suffix, else the data set's own (the registry's)."""
    return JSON_LINES if Path(path).suffix == JSON_LINES.suffix else spec.reader


def _articles(path, collector):
    """(article, title, where) of each article of a JSON file's top-level 'data' list, counted."""
    data = load_json(path)
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise UsageError(f"{path}: no top-level 'data' list; is this a {collector.spec.name} file?")
    for a_index, article in enumerate(articles):
        where = f"{path}: data[{a_index}]"
        if not isinstance(article, dict):
            raise UsageError(f"{where}: an article must be an object")
        collector.add_article()
        yield article, str(article.get("title", "")), where


def data_files(path, spec):
    """The files of a data set: the file itself (JSON, or JSON Lines by its suffix), or every *.json part of a
    KorQuAD 2.x folder."""
    path = Path(path)
    if path.is_dir():
        if not spec.multi_part:
            raise UsageError(f"{path}: is a folder; {spec.name} is read from one JSON file")
        files = sorted(path.glob("*.json"))
        if not files:
            raise UsageError(f"{path}: folder holds no *.json parts")
        return files
    if not path.is_file():
        raise UsageError(f"{path}: file not found")
    return [path]


def data_digest(path, spec):
    """sha256 of a data set's bytes: of the file itself (what `sha256sum` prints), or for a KorQuAD 2.x folder of
    each part's name and sha256 in order. Two runs scored on equal digests were scored on the same questions."""
    files = data_files(path, spec)
    digests = [file_digest(file) for file in files]
    if len(files) == 1 and not Path(path).is_dir():
        return digests[0]
    lines = "".join(f"{file.name}\0{digest}\n" for file, digest in zip(files, digests))
    return hashlib.sha256(lines.encode()).hexdigest()


def read_dataset(path, spec, training=False, labeled=True):
    """Read and validate a data set: (examples, stats). `labeled=False` reads questions only (prediction)."""
    collector = Collector(spec, training, labeled)
    for file in data_files(path, spec):
        reader_for(file, spec).read(file, collector)
    return collector.examples, collector.stats


def read_examples(path, spec, training=False, labeled=True):
    """Examples of a data set; fixed or missing answer starts are reported in one summary line on stderr."""
    examples, stats = read_dataset(path, spec, training, labeled)
    if stats["answer_start_fixed"] or stats["answers_not_found"]:
        print(f"{path}: {stats['answer_start_fixed']} answer_start values fixed to the nearest occurrence, "
              f"{stats['answers_not_found']} answers not found in their context", file=sys.stderr)
    return examples


# what a run does with each split's questions (train, evaluate or answer), for the error of a split without any
SPLIT_USES = {"train": "nothing to train on", "dev": "nothing to evaluate", "predict": "nothing to answer"}


def read_split(path, spec, split, limit=None):
    """The questions of one split of a run ("train", "dev" or "predict"; the first `limit` when given): read as
    that split is read (training data strictly, --predict_file without answers). A file without any is refused
    with UsageError naming it, before a model is loaded or an empty split is trained on or scored."""
    examples = read_examples(path, spec, training=split == "train", labeled=split != "predict")
    examples = examples[:limit] if limit else examples
    if not examples:
        raise UsageError(f"{path}: holds no questions: {SPLIT_USES[split]}")
    return examples
