"""What tests/unit/serving/test_export.py and tests/e2e/test_export.py share."""

import json
from pathlib import Path

import pytest
from conftest import FIXTURES
from tiny_tokenizers import squad_contexts, train_kobert


KORQUAD = FIXTURES / "korquad_tiny.json"


def questions(path):
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    return [(qa["question"], p["context"]) for a in data for p in a["paragraphs"] for qa in p["qas"]]


def train_kobert_unigram(folder, texts, vocab_size, pieces=()):
    """train_kobert with a Unigram sentencepiece model (sentencepiece's default) and a vocab.txt in another order
    than the sentencepiece ids (as KoBERT's)."""
    return train_kobert(folder, texts, vocab_size, pieces, algorithm="unigram", shuffle_vocab=True)


# sentencepiece user-defined pieces (matched whole wherever they occur): one a BPE's merges cannot build
GLUED = ("에는", "은하", "다리는")


@pytest.fixture(scope="module", params=["bpe", "unigram", "bpe+glued", "unigram+glued"])
def kobert(request, tmp_path_factory):
    """A KoBERT-style tokenizer (as run_qa.py loads it) over a sentencepiece model of each kind, trained on the
    Korean fixture, without and with user-defined pieces."""
    from korsquad.features.tokenization import load_tokenizer

    folder = tmp_path_factory.mktemp("kobert")
    texts = squad_contexts(KORQUAD) * 20
    pieces = GLUED if request.param.endswith("+glued") else ()
    if request.param.startswith("bpe"):
        train_kobert(folder, texts, vocab_size=300, pieces=pieces)
    else:
        train_kobert_unigram(folder, texts, vocab_size=300, pieces=pieces)
    return load_tokenizer("kobert", str(folder))

