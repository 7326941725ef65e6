"""What tests/unit/features/test_korquad2.py and tests/e2e/test_korquad2.py share."""

import json

import pytest
from conftest import FIXTURES, SHARED_DATA, minilm_path
from tiny_tokenizers import squad_contexts, train_kobert

from korsquad.data.datasets import get_spec
from korsquad.data.html_text import html_to_text
from korsquad.data.readers import read_examples
from korsquad.runs.settings import WindowSettings


SPEC = get_spec("korquad_v2.1")
TINY = FIXTURES / "korquad2_tiny.json"
SAMPLES = SHARED_DATA / "korquad_v2.1"
SAMPLE_FILES = {"train": SAMPLES / "train.sample.json", "dev": SAMPLES / "dev.sample.json"}
SAMPLES_ABSENT = "needs ../shared/data/korquad_v2.1/*.sample.json (the real documents are not on this machine)"
# Several windows per real document, more than one holding most answers, and room for a whole list: an answer of
# up to (context tokens of a window - doc_stride + 1) tokens lies wholly inside some window.
WINDOWS = WindowSettings(max_seq_length=256, doc_stride=64, max_query_length=32)

# A page of our own: a table, a list, nested inline tags, entities and links without attributes. Each question is
# (question, gold answer as KorQuAD 2.x writes it, the span of the page the toolkit must return for it): spans run
# from the first to the last character the reader sees, so tags before the first and after the last are left out.
# Answers that end inside a word use words MiniLM's vocabulary can spell: a word with a jamo missing from it becomes
# one [UNK] token, and no token span can then end inside it (e.g. 별빛시 in 별빛시에서).
RAIL_PAGE = """<!DOCTYPE html>
<html>
<head>
<title>은하 철도 - 위키백과</title>
<style>td { color: red }</style>
</head>
<body>
<h1>은하 철도</h1>
<p><b>은하 철도</b>는 1987년 <a>가람시</a>에서 개통한 <span><b>고가 <i>경전철</i></b></span>이다. 운영사는 \
<a>한빛 &amp; 누리 공사</a>이다.</p>
<h2>노선</h2>
<table><tbody>
<tr><th>노선</th><th>구간</th><th>개통</th></tr>
<tr><td>1호선</td><td>북역 &ndash; 남역</td><td>1987년</td></tr>
<tr><td>2호선</td><td>동역 &ndash; 서역</td><td>1995년</td></tr>
</tbody></table>
<h2>차량</h2>
<ul>
<li>은하 100형</li>
<li>은하 200형 <b>(개량형)</b></li>
</ul>
<p>차량 기지는 <a>새벽동</a>에 있으며, 연간 승객은 약 <b>3,200만</b> 명이다.</p>
</body>
</html>
"""
RAIL_QUESTIONS = {
    "rail-link": ("은하 철도를 개통한 도시는?", "<a>가람시</a>", "가람시"),
    "rail-nested": ("은하 철도는 어떤 철도인가?", "<b>고가 <i>경전철</i></b>", "고가 <i>경전철"),
    "rail-entity": ("은하 철도의 운영사는?", "<a>한빛 &amp; 누리 공사</a>", "한빛 &amp; 누리 공사"),
    "rail-cells": ("2호선의 구간과 개통 연도는?", "<td>동역 &ndash; 서역</td><td>1995년</td>",
                   "동역 &ndash; 서역</td><td>1995년"),
    "rail-row": ("1호선의 정보는?", "<tr><td>1호선</td><td>북역 &ndash; 남역</td><td>1987년</td></tr>",
                 "1호선</td><td>북역 &ndash; 남역</td><td>1987년"),
    "rail-list": ("은하 철도의 차량은?", "<ul>\n<li>은하 100형</li>\n<li>은하 200형 <b>(개량형)</b></li>\n</ul>",
                  "은하 100형</li>\n<li>은하 200형 <b>(개량형)"),
    "rail-across-tags": ("연간 승객 수는?", "<b>3,200만</b> 명", "3,200만</b> 명"),
}


def korquad2_file(path, title, html, questions):
    """A KorQuAD 2.x JSON file of one document; questions = {id: (question, gold text, ...)}, the gold placed at
    its first occurrence in the page."""
    qas = [{"id": qid, "question": question, "answer": {"text": gold, "answer_start": html.index(gold)}}
           for qid, (question, gold, *_) in questions.items()]
    document = {"title": title, "url": f"https://ko.wikipedia.org/wiki/{title}", "context": html, "qas": qas}
    path.write_text(json.dumps({"version": "KorQuAD_2.1", "data": [document]}, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rail_examples(tmp_path_factory):
    path = korquad2_file(tmp_path_factory.mktemp("rail") / "rail.json", "은하 철도", RAIL_PAGE, RAIL_QUESTIONS)
    return read_examples(path, SPEC, training=True)


@pytest.fixture(scope="module")
def sample_examples():
    """The real KorQuAD 2.1 documents of ../shared, or None when they are not here."""
    if not all(path.is_file() for path in SAMPLE_FILES.values()):
        return None
    return [ex for path in SAMPLE_FILES.values() for ex in read_examples(path, SPEC, training=True)]


@pytest.fixture(scope="module")
def minilm():
    from transformers import BertTokenizerFast

    return BertTokenizerFast(str(minilm_path() / "vocab.txt"), do_lower_case=True)


@pytest.fixture(scope="module")
def kobert(tmp_path_factory, sample_examples, rail_examples):
    """A KoBERT-style sentencepiece tokenizer trained on the readable text of every document used here, plus real
    Korean Wikipedia paragraphs (KorQuAD 1.0 dev, or the shipped KorQuAD 1.0 fixture when ../shared is absent): a
    vocabulary learnt from a few pages alone would make whole phrases single pieces, which no real KoBERT does."""
    documents = read_examples(TINY, SPEC) + list(rail_examples) + list(sample_examples or [])
    texts = [html_to_text(context)[0] for context in dict.fromkeys(ex.context for ex in documents)]
    korquad1 = SHARED_DATA / "korquad_v1.0" / "dev.json"
    if korquad1.is_file():
        texts, vocab_size = texts + squad_contexts(korquad1, limit=400), 1500
    else:
        texts, vocab_size = texts + squad_contexts(FIXTURES / "korquad_tiny.json"), 400
    lines = [line for text in texts for line in text.splitlines() if line.strip()]
    return train_kobert(tmp_path_factory.mktemp("kobert") / "KoBERT_Tiny", lines, vocab_size)


@pytest.fixture(params=["minilm", "kobert"])
def tokenizer(request):
    return request.getfixturevalue(request.param)

