"""Windows, labels, max-context flags and exact answer spans of build_features, measured on real data."""

import html
import re

import numpy as np
import pytest
from conftest import FIXTURES, minilm_path, shared_file
from feature_helpers import (LONG, SMALL, SQUAD, context_part, feature_ranges, labeled_text, one_example,
                             recoverability)
from tiny_tokenizers import squad_contexts, train_kobert, train_sentencepiece_pair

import korsquad.features.windows as windows_module
from korsquad.common.errors import UsageError
from korsquad.data.datasets import get_spec
from korsquad.data.readers import KORQUAD2_PAGES, read_examples
from korsquad.features.audit import audit_labels
from korsquad.features.tokenization import load_tokenizer, tokenize_with_offsets
from korsquad.features.windows import answer_token_span, build_features, max_context_owner, window_starts
from korsquad.runs.settings import WindowSettings


@pytest.fixture(scope="module")
def kobert(tmp_path_factory):
    """Trained on KorQuAD 1.0 dev contexts when ../shared is here, else on the shipped Korean fixture."""
    folder = tmp_path_factory.mktemp("kobert") / "KoBERT_Tiny"
    try:
        return train_kobert(folder, squad_contexts(shared_file("korquad_v1.0/dev.json"), limit=400), 1500)
    except pytest.skip.Exception:
        return train_kobert(folder, squad_contexts(FIXTURES / "korquad_tiny.json"), 300)


# --- windows ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_tokens,max_tokens,stride", [(0, 10, 4), (10, 10, 4), (11, 10, 4), (100, 30, 7),
                                                        (100, 30, 30), (317, 317, 128), (1000, 317, 128)])
def test_window_starts_cover_the_context_with_stride_apart_starts(n_tokens, max_tokens, stride):
    starts = window_starts(n_tokens, max_tokens, stride)
    ends = np.minimum(starts + max_tokens, n_tokens)
    assert starts[0] == 0 and np.all(np.diff(starts) == stride)
    assert ends[-1] == n_tokens  # the last window reaches the last token ...
    assert len(starts) == 1 or ends[-2] < n_tokens  # ... and is the first to do so
    covered = np.zeros(n_tokens, dtype=bool)
    for s, e in zip(starts, ends):
        covered[s:e] = True
    assert covered.all()


def test_features_windows_follow_doc_stride_and_max_seq_length(fast, squad_tiny):
    features = build_features(squad_tiny, fast, SMALL, training=False)
    full = {ex.context: tokenize_with_offsets(fast, [ex.context])[0][0] for ex in squad_tiny}
    multi_window = 0
    for i, (lo, hi) in enumerate(feature_ranges(features, len(squad_tiny))):
        context_ids = full[squad_tiny[i].context]
        assert hi > lo
        multi_window += hi - lo > 1
        end = 0
        for k, f in enumerate(range(lo, hi)):
            assert features.row_splits[f + 1] - features.row_splits[f] <= SMALL.max_seq_length
            part = features.input_ids[features.row_splits[f]:][context_part(features, f)]
            start = k * SMALL.doc_stride
            assert part.tolist() == context_ids[start:start + len(part)].tolist()
            end = start + len(part)
        assert end == len(context_ids)
    assert multi_window >= 3


def test_question_truncated_to_max_query_length(fast, squad_tiny):
    short_questions = WindowSettings(max_seq_length=64, doc_stride=16, max_query_length=3)
    features = build_features(squad_tiny[:1], fast, short_questions, training=False)
    types = features.token_type_ids[:features.row_splits[1]]
    assert np.count_nonzero(types == 0) == 3 + 2  # CLS, 3 question tokens, SEP


def test_max_context_flags_follow_the_bert_score(fast, squad_tiny):
    features = build_features(squad_tiny, fast, SMALL, training=False)
    for i, (lo, hi) in enumerate(feature_ranges(features, len(squad_tiny))):
        windows = []  # (start, length) per feature in context tokens
        owner_votes = {}
        for k, f in enumerate(range(lo, hi)):
            part = context_part(features, f)
            windows.append((k * SMALL.doc_stride, len(part)))
            flags = features.max_context[features.row_splits[f] + part]
            for j, flag in enumerate(flags):
                owner_votes.setdefault(k * SMALL.doc_stride + j, []).append(flag)
        for token, votes in owner_votes.items():
            assert sum(votes) == 1  # exactly one window owns each token
            scores = [min(token - s, s + n - 1 - token) + 0.01 * n if s <= token < s + n else -1 for s, n in windows]
            holders = [k for k, (s, n) in enumerate(windows) if s <= token < s + n]
            assert holders[votes.index(True)] == int(np.argmax(scores))


def test_max_context_owner_prefers_the_centred_window():
    owner = max_context_owner(10, np.array([0, 4]), np.array([6, 6]))
    # Token 4: left/right context 4/1 in window 0, 0/5 in window 1 -> window 0; token 6: 6 / 2,3 -> window 1.
    assert owner[4] == 0 and owner[6] == 1 and owner[0] == 0 and owner[9] == 1


# --- labels ----------------------------------------------------------------------------------------------------


def test_labels_point_at_the_answer_or_cls(fast, squad_tiny):
    features = build_features(squad_tiny, fast, SMALL, training=True)
    straddling = 0
    for f in range(len(features)):
        example = squad_tiny[features.example_index[f]]
        text = labeled_text(features, squad_tiny, f)
        if example.is_impossible:
            assert text is None
            continue
        answer = example.answers[0]
        spans = features.char_start[features.row_splits[f]:][context_part(features, f)], \
            features.char_end[features.row_splits[f]:][context_part(features, f)]
        inside = spans[0][0] <= answer.start and answer.start + len(answer.text) <= spans[1][-1]
        overlaps = spans[0][0] < answer.start + len(answer.text) and answer.start < spans[1][-1]
        assert (text is not None) == inside
        if text is not None:
            assert text == answer.text
        straddling += overlaps and not inside
    assert straddling >= 2  # answers cut by a window edge are labeled CLS there, and found in the next window


def test_every_fixture_answer_is_labeled_in_some_window(fast, squad_tiny):
    features = build_features(squad_tiny, fast, SMALL, training=True)
    labeled = {features.example_index[f] for f in range(len(features)) if labeled_text(features, squad_tiny, f)}
    answerable = {i for i, ex in enumerate(squad_tiny) if not ex.is_impossible}
    assert labeled == answerable


def the_label(features, examples):
    """(first character, text) of the only labeled window."""
    (f,) = np.flatnonzero(features.start_positions != features.cls_index)
    return int(features.char_start[features.row_splits[f] + features.start_positions[f]]), \
        labeled_text(features, examples, f)


def test_an_answer_inside_a_longer_token_is_labeled_with_that_token(bert_pair):
    context = "In 1817 he composed 7 polonaises for the piano."
    examples = [one_example(context, "7", context.index("1817") + 3)]  # as SQuAD's train set marks it
    for tokenizer in bert_pair:
        features = build_features(examples, tokenizer, SQUAD, training=True)
        assert the_label(features, examples) == (3, "1817")


def test_an_answer_glued_to_a_particle_is_labeled_at_its_place(tmp_path):
    """KoBERT-style pieces may glue a particle to a word (대전이): the label covers it, and does not move to
    the other occurrence of the answer text."""
    context = ("1939년 독일이 폴란드를 침공하면서 제2차 세계 대전이 시작되었다. 그는 제2차 세계 대전과 한국 전쟁에 "
               "참전하였다.")
    texts = squad_contexts(FIXTURES / "korquad_tiny.json") + [context]
    tokenizer = train_kobert(tmp_path / "KoBERT_Glued", texts, 300, pieces=["대전이"])
    assert "대전이" in tokenizer.tokenize(context)
    examples = [one_example(context, "제2차 세계 대전", context.index("제2차"))]
    features = build_features(examples, tokenizer, SQUAD, training=True)
    assert the_label(features, examples) == (context.index("제2차"), "제2차 세계 대전이")


def test_fast_sentencepiece_labels_hold_the_answer_without_the_space_before_it(tmp_path):
    english = read_examples(FIXTURES / "squad_tiny.json", get_spec("squad_v2.0"), training=True)
    korean = read_examples(FIXTURES / "korquad_tiny.json", get_spec("korquad_v1.0"), training=True)
    texts = squad_contexts(FIXTURES / "squad_tiny.json") + squad_contexts(FIXTURES / "korquad_tiny.json")
    _, tokenizer = train_sentencepiece_pair(tmp_path, texts, "deberta-v2", 1000)
    for examples in (english, korean):
        features = build_features(examples, tokenizer, SQUAD, training=True)
        audit = audit_labels(examples, features)
        answerable = sum(not ex.is_impossible for ex in examples)
        assert audit["labeled"] == audit["covering_annotation"] == answerable
        for f in np.flatnonzero(features.start_positions != features.cls_index):
            first = features.char_start[features.row_splits[f] + features.start_positions[f]]
            assert first == examples[features.example_index[f]].answers[0].start


def test_answer_token_span_ignores_empty_marker_tokens():
    starts, ends = np.array([0, 4, 4, 8]), np.array([3, 4, 7, 9])  # token 1 is a bare marker at 4
    assert answer_token_span(starts, ends, 4, 7) == (2, 2)
    assert answer_token_span(starts, ends, 0, 9) == (0, 3)
    assert answer_token_span(starts, ends, 3, 4) is None  # only whitespace between tokens
    assert answer_token_span(starts, ends, -1, 3) is None


def test_negative_windows_sampled_with_a_seed_in_training_only(fast, squad_tiny):
    everything = build_features(squad_tiny, fast, SMALL, training=True)
    positives = build_features(squad_tiny, fast, SMALL, training=True, negative_window_ratio=0.0)
    half = build_features(squad_tiny, fast, SMALL, training=True, negative_window_ratio=0.5, seed=3)
    again = build_features(squad_tiny, fast, SMALL, training=True, negative_window_ratio=0.5, seed=3)
    evaluation = build_features(squad_tiny, fast, SMALL, training=False, negative_window_ratio=0.0)
    n_positive = int(np.sum(everything.start_positions != everything.cls_index))
    assert len(positives) == n_positive and np.all(positives.start_positions != positives.cls_index)
    assert n_positive < len(half) < len(everything)
    assert np.array_equal(half.input_ids, again.input_ids) and np.array_equal(half.example_index, again.example_index)
    assert len(evaluation) == len(everything)


def test_each_context_is_tokenized_once(fast, squad_tiny, monkeypatch):
    calls = []
    original = windows_module.tokenize_with_offsets
    monkeypatch.setattr(windows_module, "tokenize_with_offsets", lambda tok, texts: calls.append(len(texts)) or
                        original(tok, texts))
    build_features(squad_tiny, fast, SQUAD, training=False)
    assert calls == [len({ex.context for ex in squad_tiny})]


# --- html contexts ---------------------------------------------------------------------------------------------


def test_html_contexts_map_spans_to_the_original_html(fast):
    spec = get_spec("korquad_v2.1")
    examples = read_examples(FIXTURES / "korquad2_tiny.json", spec, training=True)
    features = build_features(examples, fast, LONG, training=True, reader=KORQUAD2_PAGES)

    def visible(text):
        return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", text)).split())

    labeled = set()
    for f in range(len(features)):
        text = labeled_text(features, examples, f)
        if text is not None:
            example = examples[features.example_index[f]]
            assert visible(text) == visible(example.answers[0].text)
            labeled.add(example.id)
    assert labeled == {ex.id for ex in examples}
    answer = next(ex for ex in examples if "&gt;" in ex.answers[0].text)
    f = int(np.flatnonzero(features.example_index == examples.index(answer))[0])
    assert labeled_text(features, examples, f) == "&lt;돌아온 밤&gt;"  # entities stay whole


def test_html_token_spans_take_whole_entities_but_not_text_that_only_looks_like_one(fast):
    context = "<p>AT&amp;T &foo; &lt;b&gt;</p>"
    examples = [one_example(context, "&foo;", context.index("&foo;"))]
    features = build_features(examples, fast, SQUAD, training=True, reader=KORQUAD2_PAGES)
    part = context_part(features, 0)
    spans = [context[s:e] for s, e in zip(features.char_start[part], features.char_end[part])]
    assert spans == ["AT", "&amp;", "T", "&", "foo", ";", "&lt;", "b", "&gt;"]  # &foo; names nothing: it is text


# --- parameters ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params,flag", [
    (dict(max_seq_length=60, doc_stride=16, max_query_length=64), "--max_seq_length 60"),
    (dict(max_seq_length=384, doc_stride=400, max_query_length=64), "--doc_stride 400"),
    (dict(max_seq_length=1024, doc_stride=128, max_query_length=64), "--max_seq_length 1024"),
])
def test_bad_parameters_name_the_flag(squad_tiny, params, flag):
    pretrained = load_tokenizer("bert", str(minilm_path()))  # knows its 512 positions
    with pytest.raises(UsageError, match=re.escape(flag)):
        build_features(squad_tiny, pretrained, WindowSettings(**params), training=True)


# --- measured on real data -------------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", ["squad_v1.1/train.sample.json", "squad_v1.1/xquad.en.json"])
def test_recoverability_fast_minilm(fast, relative):
    examples = read_examples(shared_file(relative), get_spec("squad_v1.1"), training=True)
    features = build_features(examples, fast, SQUAD, training=True)
    audit = audit_labels(examples, features)
    print(f"labels of {relative} (MiniLM fast): {audit}")
    # Every label covers its annotation; a few answers are part of a longer word ("7" in "1817") and keep it.
    assert audit["labeled"] == audit["covering_annotation"] == len(examples)
    assert audit["exact_text"] >= 0.99 * len(examples)


def test_a_label_never_leaves_its_annotation_for_another_occurrence(fast):
    """SQuAD marks "Tibet" inside "Sino-Tibetan"; the text also stands alone 467 characters later."""
    examples = [ex for ex in read_examples(shared_file("squad_v1.1/train.sample.json"), get_spec("squad_v1.1"),
                                           training=True) if ex.id == "56ccde7862d2951400fa64d9"]
    features = build_features(examples, fast, SQUAD, training=True)
    (f,) = np.flatnonzero(features.start_positions != features.cls_index)
    start = features.char_start[features.row_splits[f] + features.start_positions[f]]
    assert examples[0].answers[0].start == start == 193  # "Tibetan" of "Sino-Tibetan"
    assert labeled_text(features, examples, f) == "Tibetan"


def test_recoverability_kobert_korquad(kobert):
    examples = read_examples(shared_file("korquad_v1.0/dev.json"), get_spec("korquad_v1.0"), training=True)
    features = build_features(examples, kobert, LONG, training=True)
    audit = audit_labels(examples, features)
    unknown = int(np.sum(features.input_ids == kobert.unk_token_id))
    print(f"labels of korquad_v1.0/dev.json (KoBertTokenizer, {kobert.vocab_size} pieces): {audit}; {unknown} "
          f"unknown-token ids")
    assert audit["labeled"] == audit["covering_annotation"] > 0.95 * len(examples)
    assert audit["exact_text"] >= 0.99 * audit["labeled"] and unknown > 0


def test_kobert_trained_on_the_sample_labels_every_answer_at_its_annotation(tmp_path):
    """A vocabulary learnt from the few sample pages glues particles to words (대전이): such answers keep the
    particle rather than move to another occurrence of their text."""
    path = shared_file("korquad_v1.0/train.sample.json")
    tokenizer = train_kobert(tmp_path / "KoBERT_Sample", squad_contexts(path), 1500)
    examples = read_examples(path, get_spec("korquad_v1.0"), training=True)
    features = build_features(examples, tokenizer, LONG, training=True)
    audit = audit_labels(examples, features)
    print(f"labels of korquad_v1.0/train.sample.json (KoBertTokenizer trained on it): {audit}")
    assert audit["labeled"] == audit["covering_annotation"] == len(examples)
    assert audit["exact_text"] < len(examples)  # some labels do hold a glued particle


def test_recoverability_on_shipped_fixtures(fast, kobert, squad_tiny):
    assert recoverability(build_features(squad_tiny, fast, SMALL, training=True), squad_tiny)[0] == 1.0
    korean = read_examples(FIXTURES / "korquad_tiny.json", get_spec("korquad_v1.0"), training=True)
    rate, total = recoverability(build_features(korean, kobert, SMALL, training=True), korean)
    print(f"recoverability korquad_tiny.json (KoBertTokenizer): {rate:.4%} of {total}")
    assert total >= len(korean) and rate >= 0.9


def _same_features(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.arrays().values(), b.arrays().values()))


def _identical_examples(slow_features, fast_features, n_examples):
    slow_ranges = feature_ranges(slow_features, n_examples)
    fast_ranges = feature_ranges(fast_features, n_examples)
    same = 0
    for (s_lo, s_hi), (f_lo, f_hi) in zip(slow_ranges, fast_ranges):
        same += (s_hi - s_lo == f_hi - f_lo) and _same_features(slow_features.take(np.arange(s_lo, s_hi)),
                                                                fast_features.take(np.arange(f_lo, f_hi)))
    return same


def test_fast_and_slow_wordpiece_agree_on_fixtures(bert_pair):
    slow, fast = bert_pair
    for name, spec in (("squad_tiny.json", "squad_v2.0"), ("squad_v1_tiny.json", "squad_v1.1")):
        examples = read_examples(FIXTURES / name, get_spec(spec), training=True)
        for params in (SMALL, SQUAD):
            assert _same_features(build_features(examples, slow, params, training=True),
                                  build_features(examples, fast, params, training=True))


@pytest.mark.slow
def test_fast_and_slow_wordpiece_agree_on_squad_dev(bert_pair):
    slow, fast = bert_pair
    examples = read_examples(shared_file("squad_v1.1/dev.json"), get_spec("squad_v1.1"))
    slow_features = build_features(examples, slow, SQUAD, training=False)
    fast_features = build_features(examples, fast, SQUAD, training=False)
    same = _identical_examples(slow_features, fast_features, len(examples))
    print(f"fast == slow features on squad_v1.1/dev.json: {same / len(examples):.4%} of {len(examples)} examples")
    assert same >= 0.99 * len(examples)
