"""KorQuAD 2.x end to end: HTML documents through run_qa.py, answers recoverable through the features, labels and
decoded spans on tables, lists, nested tags and entities, and seeded negative-window sampling."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, SHARED_DATA, minilm_path, run_cli
from tiny_tokenizers import squad_contexts, train_kobert

from korsquad import metrics
from korsquad.audit import audit_labels
from korsquad.cache import load_features
from korsquad.datasets import get_spec
from korsquad.evaluate import evaluate_predictions
from korsquad.html_text import html_to_text, to_original_span, to_text_span
from korsquad.postprocess import decode
from korsquad.readers import read_examples
from korsquad.settings import WindowSettings
from korsquad.tokenization import load_tokenizer
from korsquad.windows import build_features

SPEC = get_spec("korquad_v2.1")
TINY = FIXTURES / "korquad2_tiny.json"
SAMPLES = SHARED_DATA / "korquad_v2.1"
SAMPLE_FILES = {"train": SAMPLES / "train.sample.json", "dev": SAMPLES / "dev.sample.json"}
SAMPLES_ABSENT = "needs ../shared/data/korquad_v2.1/*.sample.json (the real documents are not on this machine)"
# Several windows per real document, more than one holding most answers, and room for a whole list: an answer of
# up to (context tokens of a window - doc_stride + 1) tokens lies wholly inside some window.
WINDOWS = WindowSettings(max_seq_length=256, doc_stride=64, max_query_length=32)
LONG = WindowSettings(max_seq_length=512, doc_stride=128, max_query_length=32)

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


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


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


def labeled_spans(features, examples):
    """Question id -> (feature, original text of its labeled span) for every window whose label is not CLS."""
    spans = {ex.id: [] for ex in examples}
    for f in np.flatnonzero(features.start_positions != features.cls_index).tolist():
        base = features.row_splits[f]
        example = examples[features.example_index[f]]
        start = features.char_start[base + features.start_positions[f]]
        end = features.char_end[base + features.end_positions[f]]
        spans[example.id].append((f, example.context[start:end]))
    return spans


def peaked_logits(features, peaks=10.0):
    """Logits that point every labeled window at its labeled span (0 elsewhere)."""
    start_logits = np.zeros(features.num_tokens, dtype=np.float32)
    end_logits = np.zeros(features.num_tokens, dtype=np.float32)
    labeled = np.flatnonzero(features.start_positions != features.cls_index)
    start_logits[features.row_splits[labeled] + features.start_positions[labeled]] = peaks
    end_logits[features.row_splits[labeled] + features.end_positions[labeled]] = peaks
    return start_logits, end_logits


# --- acceptance: run_qa.py on HTML documents ------------------------------------------------------------------


def korquad2_data_dir(tmp_path, with_samples):
    """--data_dir with korquad_v2.1/train/ and dev/ folders of parts: the shipped fixture, plus the real sample
    documents when asked."""
    root = tmp_path / "data"
    for split in ("train", "dev"):
        folder = root / SPEC.name / split
        folder.mkdir(parents=True)
        shutil.copy(TINY, folder / f"korquad2_tiny_{split}.json")
        if with_samples:
            shutil.copy(SAMPLE_FILES[split], folder / f"KorQuAD_2.1_{split}_sample.json")
    return root


def cached_features(data_dir, split):
    (folder,) = (data_dir / SPEC.name / "cache").glob(f"{split}-*")
    return load_features(folder)


@pytest.mark.slow
def test_run_qa_trains_and_evaluates_html_documents(tiny_bert, tmp_path, sample_examples):
    """The shipped fixture always, with the real sample documents added when they are here."""
    data_dir = korquad2_data_dir(tmp_path, with_samples=sample_examples is not None)
    out = tmp_path / "model"
    proc = run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", SPEC.name,
                   "--data_dir", data_dir, "--output_dir", out, "--run_name", "tiny", "--do_train", "--do_eval",
                   "--accelerator", "cpu", *(f"--{k}={v}" for k, v in WINDOWS.as_dict().items()),
                   "--batch_size", 16,
                   "--num_train_epochs", 1, "--logging_steps", 1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = out / SPEC.name / "tiny"
    config = read_json(run_dir / "run.json")["config"]
    assert (config["max_answer_length"], config["negative_window_ratio"]) == (256, 0.1)  # the 2.x defaults

    dev = read_examples(data_dir / SPEC.name / "dev", SPEC)
    contexts = {ex.id: ex.context for ex in dev}
    predictions = read_json(run_dir / "predictions_eval.json")
    nbest = read_json(run_dir / "nbest_predictions_eval.json")
    assert set(predictions) == set(nbest) == set(contexts)
    for qid, entries in nbest.items():
        assert entries and predictions[qid] == entries[0]["text"]
        for entry in entries:  # every candidate is a span of the original HTML, not of the text the model read
            assert entry["text"] == contexts[qid][entry["char_start"]:entry["char_end"]] and entry["text"]

    result = read_json(run_dir / "result.json")
    assert set(result) == {"exact_match", "f1"} and 0 <= result["exact_match"] <= result["f1"] <= 100
    assert result == evaluate_predictions(dev, predictions, metrics.KORQUAD_V2)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == result

    # Training read every window holding an answer and a sample of the others; evaluation read every window.
    train = read_examples(data_dir / SPEC.name / "train", SPEC, training=True)
    tokenizer = load_tokenizer("bert", str(tiny_bert))
    every_window = build_features(train, tokenizer, WINDOWS, training=True, reader=SPEC.reader)
    trained_on = cached_features(data_dir, "train")
    labeled = trained_on.start_positions != trained_on.cls_index
    assert set(trained_on.example_index[labeled].tolist()) == set(range(len(train)))
    assert np.sum(labeled) < len(trained_on) < len(every_window)
    evaluated = cached_features(data_dir, "dev")
    assert len(evaluated) == len(build_features(dev, tokenizer, WINDOWS, training=False, reader=SPEC.reader))
    if sample_examples is None:
        pytest.skip(f"shipped fixture passed; {SAMPLES_ABSENT}")


# --- recoverability through the features ----------------------------------------------------------------------


def test_every_sample_answer_is_recovered_through_the_features(tokenizer, sample_examples, rail_examples):
    examples = read_examples(TINY, SPEC, training=True) + list(rail_examples) + list(sample_examples or [])
    features = build_features(examples, tokenizer, WINDOWS, training=True, reader=SPEC.reader)
    labeled = labeled_spans(features, examples)
    for ex in examples:
        spans = labeled[ex.id]
        assert spans, f"{ex.id}: no window labels the answer {ex.answers[0].text[:40]!r}"
        gold = metrics.normalize_korquad_v2(ex.answers[0].text)
        for _, text in spans:
            # Labels cover the annotation: an answer ending inside a token (MiniLM's [UNK] for 시나위의) takes it.
            assert gold in metrics.normalize_korquad_v2(text), (ex.id, text)
    audit = audit_labels(examples, features, SPEC.reader)
    assert audit["labeled"] == audit["covering_annotation"] == len(examples)
    if sample_examples is None:
        pytest.skip(f"shipped fixtures recovered; {SAMPLES_ABSENT}")


def test_an_answer_in_the_overlap_of_windows_is_labeled_in_each(minilm, rail_examples):
    features = build_features(rail_examples, minilm, WINDOWS, training=True, reader=SPEC.reader)
    spans = labeled_spans(features, rail_examples)
    assert max(len(found) for found in spans.values()) > 1
    for found in spans.values():
        assert len({text for _, text in found}) == 1  # every window labels the same characters


# --- tables, lists, nested tags, entities, links ----------------------------------------------------------------


def test_labels_and_decoded_spans_on_tables_lists_and_entities(tokenizer, rail_examples):
    features = build_features(rail_examples, tokenizer, LONG, training=True, reader=SPEC.reader)
    spans = labeled_spans(features, rail_examples)
    for qid, (_, gold, expected) in RAIL_QUESTIONS.items():
        assert spans[qid] and {text for _, text in spans[qid]} == {expected}, qid
        assert metrics.KORQUAD_V2.exact_match(expected, gold) == 1

    decoded = decode(features, rail_examples, *peaked_logits(features), n_best_size=20,
                     max_answer_length=SPEC.defaults["max_answer_length"])
    assert decoded.predictions == {qid: expected for qid, (_, _, expected) in RAIL_QUESTIONS.items()}
    assert evaluate_predictions(rail_examples, decoded.predictions, metrics.KORQUAD_V2) == {"exact_match": 100.0,
                                                                                            "f1": 100.0}


def test_the_model_reads_cells_and_items_apart_but_not_tags_or_entities(minilm, rail_examples):
    text, _ = html_to_text(RAIL_PAGE)
    assert "1호선\t북역 – 남역\t1987년" in text and "은하 100형\n은하 200형 (개량형)" in text
    assert "한빛 & 누리 공사" in text and "<" not in text and "td {" not in text
    features = build_features(rail_examples[:1], minilm, LONG, training=False, reader=SPEC.reader)
    read = minilm.decode(features.input_ids[features.char_start >= 0].tolist())
    assert "&" in read and "amp" not in read and "td" not in read.split()


def test_max_answer_length_bounds_the_answer_span_in_tokens(minilm, rail_examples):
    features = build_features(rail_examples, minilm, LONG, training=True, reader=SPEC.reader)
    labeled = features.start_positions != features.cls_index
    lengths = (features.end_positions - features.start_positions + 1)[labeled]
    longest = int(lengths.max())
    qid = rail_examples[features.example_index[labeled][np.argmax(lengths)]].id
    assert qid in ("rail-row", "rail-list", "rail-cells") and longest > 20  # rows and lists are long answers
    logits = peaked_logits(features)
    too_short = decode(features, rail_examples, *logits, n_best_size=20, max_answer_length=longest - 1)
    enough = decode(features, rail_examples, *logits, n_best_size=20, max_answer_length=longest)
    assert too_short.predictions[qid] != RAIL_QUESTIONS[qid][2]
    assert enough.predictions[qid] == RAIL_QUESTIONS[qid][2]


# --- negative-window sampling ------------------------------------------------------------------------------------


def long_document(paragraphs=120):
    """A long page (hundreds of windows at 64 tokens) and questions whose answers are spread over it."""
    rows = "".join(f"<tr><td>{i}번</td><td>항목 {i}</td></tr>" for i in range(40))
    body = [f"<p>문단 {i}에서는 <a>도시 {i}</a>의 역사와 문화를 설명한다. 인구는 약 {i * 1000}명이다.</p>"
            for i in range(paragraphs)]
    body.insert(paragraphs // 2, f"<table><tbody>{rows}</tbody></table>")
    html = "<html><body><h1>긴 문서</h1>" + "".join(body) + "</body></html>"
    questions = {f"q{i}": (f"도시 {i}의 인구는?", f"{i * 1000}명") for i in (3, 40, 77, 115)}
    questions["q-row"] = ("20번 항목은?", "<tr><td>20번</td><td>항목 20</td></tr>")
    return html, questions


@pytest.fixture(scope="module")
def long_examples(tmp_path_factory):
    html, questions = long_document()
    path = korquad2_file(tmp_path_factory.mktemp("long") / "long.json", "긴 문서", html, questions)
    return read_examples(path, SPEC, training=True)


def window_keys(features):
    """(example, first context character) of every feature: which window of which question it is."""
    context_tokens = np.flatnonzero(features.char_start >= 0)
    first_context = context_tokens[np.searchsorted(context_tokens, features.row_splits[:-1])]
    return list(zip(features.example_index.tolist(), features.char_start[first_context].tolist()))


def windows_holding_the_answer(features, examples):
    """Keys of the windows whose context covers all the reader sees of the question's answer, found from the
    characters the windows cover (not from their labels)."""
    shown = []
    for ex in examples:
        text, offsets = html_to_text(ex.context)
        answer = ex.answers[0]
        shown.append(to_original_span(ex.context, offsets,
                                      *to_text_span(text, offsets, answer.start, answer.start + len(answer.text))))
    held = set()
    for f, key in enumerate(window_keys(features)):
        lo, hi = features.row_splits[f], features.row_splits[f + 1]
        last_end = features.char_end[lo:hi].max()
        start, end = shown[features.example_index[f]]
        if key[1] <= start and end <= last_end:
            held.add(key)
    return held


SAMPLING = WindowSettings(max_seq_length=64, doc_stride=32, max_query_length=16)


def test_negative_windows_sampled_at_the_ratio_keeping_every_answer_window(minilm, long_examples):
    every = build_features(long_examples, minilm, SAMPLING, training=True, reader=SPEC.reader)
    keys = window_keys(every)
    positive = {key for key, s, c in zip(keys, every.start_positions, every.cls_index) if s != c}
    assert positive == windows_holding_the_answer(every, long_examples)
    negatives = len(keys) - len(positive)
    assert len(positive) > len(long_examples) and negatives > 1000

    ratio = 0.1
    sampled = build_features(long_examples, minilm, SAMPLING, training=True, negative_window_ratio=ratio, seed=5,
                             reader=SPEC.reader)
    sampled_keys = window_keys(sampled)
    assert positive <= set(sampled_keys) <= set(keys)
    kept = len(set(sampled_keys) - positive)
    spread = 4 * np.sqrt(ratio * (1 - ratio) * negatives)  # four binomial standard deviations
    assert abs(kept - ratio * negatives) < spread, (kept, negatives)
    # A kept window is the same feature as without sampling: same tokens, same label.
    index = {key: f for f, key in enumerate(keys)}
    chosen = every.take([index[key] for key in sampled_keys])
    for name, column in chosen.arrays().items():
        assert np.array_equal(column, getattr(sampled, name)), name


def test_negative_window_sampling_is_seeded_and_for_training_only(minilm, long_examples):
    def keys(**params):
        return window_keys(build_features(long_examples, minilm, SAMPLING, reader=SPEC.reader, **params))

    assert keys(training=True, negative_window_ratio=0.1, seed=5) == keys(training=True, negative_window_ratio=0.1,
                                                                          seed=5)
    assert keys(training=True, negative_window_ratio=0.1, seed=6) != keys(training=True, negative_window_ratio=0.1,
                                                                          seed=5)
    every = keys(training=True)
    assert keys(training=False, negative_window_ratio=0.1, seed=5) == every  # evaluation reads every window
    only_answers = keys(training=True, negative_window_ratio=0.0)
    assert len(only_answers) < len(every) and keys(training=True, negative_window_ratio=1.0, seed=5) == every
