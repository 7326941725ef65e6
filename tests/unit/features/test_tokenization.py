"""Tokenizer loading, and the character spans of context tokens: fast tokenizers' offsets without whitespace (DeBERTa-v2
/ XLNet / ALBERT sentencepiece), slow ones through the same entry point."""

import numpy as np
import pytest
from conftest import minilm_path
from span_helpers import (TRICKY, assert_no_surrounding_whitespace, assert_spans_sorted, english_contexts,
                          korean_contexts)
from tiny_tokenizers import SENTENCEPIECE_MODELS, train_sentencepiece_pair

from korsquad.common.errors import UsageError
from korsquad.features.model_types import MODEL_TYPES
from korsquad.features.tokenization import encode_texts, load_tokenizer, tokenize_with_offsets, trim_whitespace


def test_model_types_cover_the_documented_models():
    assert {"bert", "kobert", "distilbert", "distilkobert", "electra", "koelectra", "albert", "roberta",
            "xlm-roberta", "deberta", "deberta-v2"} <= set(MODEL_TYPES)


def test_load_tokenizer_uses_auto_for_bert_and_kobert_class_for_kobert(tiny_kobert):
    assert load_tokenizer("bert", str(minilm_path())).is_fast
    folder = tiny_kobert.vocab_file.rsplit("/", 1)[0]
    assert folder.endswith("KoBERT_Tiny")  # mixed case: the path is passed as given
    loaded = load_tokenizer("kobert", folder)
    assert type(loaded).__name__ == "KoBertTokenizer"
    sentence = "김서연은 해솔균을 발견했다"
    assert loaded.tokenize(sentence) == tiny_kobert.tokenize(sentence)


def test_load_tokenizer_errors_name_the_flag(tmp_path):
    with pytest.raises(UsageError, match="--model_name_or_path"):
        load_tokenizer("bert", str(tmp_path / "no_such_model"))


def test_encode_texts_matches_tokenize(bert_pair):
    slow, fast = bert_pair
    questions = ["Who wrote the Lantingji Xu?", "Where did Zoë train?", "달빛교는 언제 놓였나?"]
    assert [ids.tolist() for ids in encode_texts(slow, questions)] == \
        [ids.tolist() for ids in encode_texts(fast, questions)]
    assert encode_texts(fast, questions)[0].dtype == np.int32


# --- whitespace: a span never includes it, for every tokenizer -------------------------------------------------


def test_trim_whitespace_trims_edges_and_empties_whitespace_tokens():
    text = " ab  cd\u00a0ef "
    starts, ends = np.array([0, 3, 3, 7, 7, 10], dtype=np.int32), np.array([3, 5, 7, 8, 10, 11], dtype=np.int32)
    trimmed_starts, trimmed_ends = trim_whitespace(text, starts, ends)
    assert list(zip(trimmed_starts.tolist(), trimmed_ends.tolist())) == [(1, 3), (5, 5), (5, 7), (8, 8), (8, 10),
                                                                         (11, 11)]
    assert trimmed_starts.dtype == trimmed_ends.dtype == np.int32


@pytest.fixture(scope="module", params=sorted(SENTENCEPIECE_MODELS))
def sentencepiece_pair(request, tmp_path_factory):
    """(slow, fast) DeBERTa-v2, XLNet and ALBERT tokenizers over a sentencepiece model trained on the fixtures."""
    folder = tmp_path_factory.mktemp(request.param)
    return train_sentencepiece_pair(folder, korean_contexts() + english_contexts(), request.param)


def test_fast_sentencepiece_spans_hold_no_whitespace(sentencepiece_pair):
    _, fast = sentencepiece_pair
    marker = fast.convert_tokens_to_ids("\u2581")
    texts = korean_contexts() + english_contexts() + TRICKY + ["ends with spaces  ", "  starts with them"]
    for text, (ids, starts, ends) in zip(texts, tokenize_with_offsets(fast, texts)):
        assert_spans_sorted(starts, ends, text)
        assert_no_surrounding_whitespace(starts, ends, text)
        assert np.all(starts[ids == marker] == ends[ids == marker])  # a bare marker stands for no text


def test_fast_sentencepiece_spans_equal_slow_spans(sentencepiece_pair):
    slow, fast = sentencepiece_pair
    texts = korean_contexts() + english_contexts()
    compared = 0
    for text, (s_ids, s_starts, s_ends), (f_ids, f_starts, f_ends) in zip(
            texts, tokenize_with_offsets(slow, texts), tokenize_with_offsets(fast, texts)):
        # Fast XLNet/ALBERT strip accents with NFKD (Hangul becomes jamo, unknown to the vocabulary), and give a
        # '"' written as '' only its last character: neither is about whitespace.
        if s_ids.tolist() != f_ids.tolist() or "''" in text or "``" in text:
            continue
        assert list(zip(s_starts.tolist(), s_ends.tolist())) == list(zip(f_starts.tolist(), f_ends.tolist()))
        compared += 1
    assert compared >= len(english_contexts()) // 2


def test_deberta_v2_fast_word_spans_start_at_the_word(tmp_path):
    _, fast = train_sentencepiece_pair(tmp_path, korean_contexts(), "deberta-v2")
    text = " ".join(korean_contexts()[0].split()[:12])
    (ids, starts, ends), = tokenize_with_offsets(fast, [text])
    assert fast.unk_token_id not in ids
    tokens = fast.convert_ids_to_tokens(ids.tolist())
    assert [text[s:e] for s, e in zip(starts, ends)] == [token.replace("\u2581", "") for token in tokens]
