"""Character spans of slow tokenizers' tokens (WordPiece, KoBERT, byte-level BPE): the same as the fast tokenizers'
offsets where both exist, and exactly the pieces' text in Korean."""

import unicodedata

import numpy as np
import pytest
from conftest import FIXTURES
from span_helpers import TRICKY, assert_no_surrounding_whitespace, assert_spans_sorted, english_contexts
from tiny_tokenizers import squad_contexts, train_byte_bpe

from korsquad.features.slow_alignment import SlowAligner
from korsquad.features.tokenization import tokenize_with_offsets


@pytest.mark.parametrize("text", TRICKY + english_contexts())
def test_slow_wordpiece_spans_equal_fast_offsets(bert_pair, text):
    slow, fast = bert_pair
    (slow_ids, slow_starts, slow_ends), = tokenize_with_offsets(slow, [text])
    (fast_ids, fast_starts, fast_ends), = tokenize_with_offsets(fast, [text])
    assert slow_ids.tolist() == fast_ids.tolist()
    assert slow_starts.tolist() == fast_starts.tolist()
    assert slow_ends.tolist() == fast_ends.tolist()
    assert_spans_sorted(slow_starts, slow_ends, text)


def test_unknown_tokens_span_their_own_words(bert_pair):
    slow, _ = bert_pair
    text = "a 🖌 ✍ b"
    tokens = slow.tokenize(text)
    assert tokens == ["a", "[UNK]", "[UNK]", "b"]
    _, starts, ends = SlowAligner(slow).tokenize(text)
    assert [text[s:e] for s, e in zip(starts, ends)] == ["a", "🖌", "✍", "b"]


def _sp_normalized(kobert, text):
    """The text as KoBERT's preprocessing and its sentencepiece normalizer write it, without spaces."""
    return "".join(kobert.sp_model.normalize(kobert.preprocess_text(text)).replace("\u2581", " ").split())


def _kobert_check(kobert, text):
    """Spans sorted; every character the tokenizer keeps is covered; each span normalizes (KoBERT's
    preprocessing, then sentencepiece's NFKC) to a text holding the piece; returns how many hold it exactly."""
    ids, starts, ends = tokenize_with_offsets(kobert, [text])[0]
    tokens = kobert.tokenize(text)
    assert len(ids) == len(tokens)
    assert_spans_sorted(starts, ends, text)
    covered = np.zeros(len(text), dtype=bool)
    exact = 0
    for token, start, end in zip(tokens, starts, ends):
        piece = unicodedata.normalize("NFKC", token.replace("\u2581", ""))
        covered[start:end] = True
        if not piece:  # a bare word marker: an empty span at the start of the next word
            assert start == end and (end == len(text) or not text[end].isspace())
            continue
        normalized = _sp_normalized(kobert, text[start:end])
        assert piece in normalized, (token, text[start:end])
        exact += piece == normalized
    kept = [i for i, c in enumerate(text) if _sp_normalized(kobert, c)]
    assert covered[kept].all()
    return exact, len(tokens)


@pytest.mark.parametrize("text", TRICKY)
def test_kobert_spans_cover_tricky_text(tiny_kobert, text):
    _kobert_check(tiny_kobert, text)


def test_kobert_spans_are_exactly_the_pieces_in_korean_text(tiny_kobert):
    for text in squad_contexts(FIXTURES / "korquad_tiny.json"):
        exact, n_tokens = _kobert_check(tiny_kobert, text)
        assert exact == n_tokens - tiny_kobert.tokenize(text).count("\u2581")


def test_kobert_pieces_unknown_to_the_vocabulary_keep_their_text(tiny_kobert):
    text = "김서연은 ``해솔균''을 발견했다. 𝓐 1990, 2000년"
    ids, starts, ends = tokenize_with_offsets(tiny_kobert, [text])[0]
    pieces = [text[s:e] for s, e in zip(starts, ends) if e > s]
    assert "".join(pieces) == "".join(text.split())
    assert np.any(ids == tiny_kobert.unk_token_id)  # 𝓐 and others are not in the 300-piece vocabulary
    quote = text.index("``")
    assert (quote, quote + 2) in set(zip(starts.tolist(), ends.tolist()))  # `` is one '"' piece


def test_byte_level_slow_spans_equal_fast_offsets(tmp_path):
    contexts = english_contexts()
    slow, fast = train_byte_bpe(tmp_path / "bpe", contexts)
    texts = contexts + ["Café  Naïf\n\n王羲之 🖌 ok", "tab\tsep\u00a0nbsp"]
    for text, (s_ids, s_starts, s_ends), (f_ids, f_starts, f_ends) in zip(
            texts, tokenize_with_offsets(slow, texts), tokenize_with_offsets(fast, texts)):
        assert s_ids.tolist() == f_ids.tolist()
        assert_spans_sorted(s_starts, s_ends, text)
        # Byte-level BPE makes tokens of line breaks, tabs and non-breaking spaces: they stand for no text.
        assert_no_surrounding_whitespace(s_starts, s_ends, text)
        assert_no_surrounding_whitespace(f_starts, f_ends, text)
        visible = np.array([text[s:e].strip() != "" for s, e in zip(f_starts, f_ends)], dtype=bool)
        # Whitespace-only tokens differ only in where their empty span sits; every other span is identical.
        assert s_starts[visible].tolist() == f_starts[visible].tolist()
        assert s_ends[visible].tolist() == f_ends[visible].tolist()
