"""KorQuAD 2.x end to end: HTML documents through run_qa.py, answers recoverable through the features, labels and
decoded spans on tables, lists, nested tags and entities, and seeded negative-window sampling."""

import numpy as np
import pytest
from korquad2_helpers import (RAIL_PAGE, RAIL_QUESTIONS, SAMPLES_ABSENT, SPEC, TINY, WINDOWS, kobert, korquad2_file,
                              minilm, rail_examples, sample_examples, tokenizer)

from korsquad.data import metrics
from korsquad.data.html_text import html_to_text, to_original_span, to_text_span
from korsquad.data.readers import read_examples
from korsquad.data.scoring import evaluate_predictions
from korsquad.decoding.postprocess import decode
from korsquad.features.audit import audit_labels
from korsquad.features.windows import build_features
from korsquad.runs.settings import WindowSettings


LONG = WindowSettings(max_seq_length=512, doc_stride=128, max_query_length=32)


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
