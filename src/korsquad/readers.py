"""Strict readers: SQuAD-format files (SQuAD 1.1/2.0, KorQuAD 1.0) and KorQuAD 2.x documents -> Example records.

Every problem is reported with the file and the question id or position where it is. Real files carry a few
answers whose `answer_start` does not point at their text: when the text occurs elsewhere in the context the start
is moved to the nearest occurrence and counted; an answer that cannot be found at all is an error in training
data and is kept (it still counts for the metric, which only reads the text) in evaluation data.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .jsonio import load_json


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


class _Reader:
    """Collects examples and counts from the articles of one or more files."""

    def __init__(self, spec, training, labeled):
        self.spec = spec
        self.training = training
        self.labeled = labeled
        self.examples = []
        self.seen_ids = {}
        self.stats = dict(articles=0, questions=0, unanswerable=0, answer_start_fixed=0, answers_not_found=0)

    def read_file(self, path):
        data = load_json(path)
        articles = data.get("data") if isinstance(data, dict) else None
        if not isinstance(articles, list):
            raise UsageError(f"{path}: no top-level 'data' list; is this a {self.spec.name} file?")
        for a_index, article in enumerate(articles):
            where = f"{path}: data[{a_index}]"
            if not isinstance(article, dict):
                raise UsageError(f"{where}: an article must be an object")
            self.stats["articles"] += 1
            title = str(article.get("title", ""))
            if self.spec.context_format == "html":
                self._read_document(article, title, where)
            else:
                paragraphs = article.get("paragraphs")
                if not isinstance(paragraphs, list):
                    raise UsageError(f"{where}: no 'paragraphs' list")
                for p_index, paragraph in enumerate(paragraphs):
                    p_where = f"{where}.paragraphs[{p_index}]"
                    context = _string_field(paragraph, "context", p_where)
                    for q_index, qa in enumerate(_qas(paragraph, p_where)):
                        q_where = f"{p_where}.qas[{q_index}]"
                        answers = qa.get("answers", []) if self.labeled else []
                        if not isinstance(answers, list):
                            raise UsageError(f"{q_where}: 'answers' must be a list")
                        self._add(qa, context, title, answers, qa.get("is_impossible", False), q_where)

    def _read_document(self, doc, title, where):
        context = _string_field(doc, "context", where)
        for q_index, qa in enumerate(_qas(doc, where)):
            q_where = f"{where}.qas[{q_index}]"
            answer = qa.get("answer") if self.labeled else None
            if self.labeled and not isinstance(answer, dict):
                raise UsageError(f"{q_where}: no 'answer' object")
            self._add(qa, context, title, [answer] if answer else [], False, q_where)

    def _add(self, qa, context, title, raw_answers, is_impossible, where):
        qid = qa.get("id")
        if not isinstance(qid, (str, int)) or isinstance(qid, bool) or str(qid) == "":
            raise UsageError(f"{where}: question without an 'id'")
        qid = str(qid)
        where = f"{where} (id {qid})"
        question = _string_field(qa, "question", where)
        if not question.strip():
            raise UsageError(f"{where}: empty 'question' text")
        if qid in self.seen_ids:
            raise UsageError(f"{where}: duplicate question id, first seen at {self.seen_ids[qid]}")
        self.seen_ids[qid] = where
        answers = tuple(self._answer(raw, context, where) for raw in raw_answers)
        answers = tuple(a for a in answers if a is not None)
        is_impossible = bool(is_impossible) or (self.labeled and self.spec.has_unanswerable and not answers)
        if self.labeled and not answers and not is_impossible:
            raise UsageError(f"{where}: no answers, and {self.spec.name} has no unanswerable questions")
        self.stats["questions"] += 1
        self.stats["unanswerable"] += is_impossible
        # answers stay as the file gives them: the official SQuAD 2.0 metric calls a question answerable iff it has any
        self.examples.append(Example(qid, question, context, answers, is_impossible, title))

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


def data_files(path, spec):
    """The JSON files of a data set: the file itself, or every *.json part of a KorQuAD 2.x folder."""
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


def read_dataset(path, spec, training=False, labeled=True):
    """Read and validate a data set: (examples, stats). `labeled=False` reads questions only (prediction)."""
    reader = _Reader(spec, training, labeled)
    for file in data_files(path, spec):
        reader.read_file(file)
    return reader.examples, reader.stats


def read_examples(path, spec, training=False, labeled=True):
    """Examples of a data set; fixed or missing answer starts are reported in one summary line on stderr."""
    examples, stats = read_dataset(path, spec, training, labeled)
    if stats["answer_start_fixed"] or stats["answers_not_found"]:
        print(f"{path}: {stats['answer_start_fixed']} answer_start values fixed to the nearest occurrence, "
              f"{stats['answers_not_found']} answers not found in their context", file=sys.stderr)
    return examples
