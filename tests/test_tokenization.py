"""Tokenizer loading and character spans of context tokens, fast and slow (WordPiece, KoBERT, DeBERTa-v2 / XLNet /
ALBERT sentencepiece, byte-level BPE)."""

import unicodedata

import numpy as np
import pytest
from conftest import FIXTURES, minilm_path
from tiny_tokenizers import SENTENCEPIECE_MODELS, squad_contexts, train_byte_bpe, train_kobert, train_sentencepiece_pair

from korsquad.errors import UsageError
from korsquad.model_types import MODEL_TYPES
from korsquad.tokenization import (SlowAligner, encode_texts, load_tokenizer, tokenize_with_offsets,
                                   trim_whitespace)

# Texts that exercise every path of the slow alignment: accents (composed and decomposed), CJK characters (each a
# word for BERT), an emoji and rare characters (unknown tokens, several in a row), control and zero-width
# characters the tokenizer drops, non-breaking and ideographic spaces, and Korean syllables.
TRICKY = [
    "Café Naïf serves crème brûlée; Zoë trained in Kyōto.",
    "Cafe\u0301 and nai\u0308ve written with combining marks, and Ångström.",
    "The calligrapher 王羲之 wrote 蘭亭集序 in 353 🖌 ✍ next to it.",
    "Control\x07char, zero\u200bwidth, no\u00a0break and ideographic\u3000space.",
    "ℌ𝔢𝔩𝔩𝔬 ⅔ ﬁne and ＦＵＬＬ-width ｔｅｘｔ.",
    "은하시의 달빛교는 1892년에 놓였다. 서울청량리경찰서는 호위 학생 5명과 함께",
    "Ends with an unknown 🖌",
    "",
]


@pytest.fixture(scope="module")
def kobert(tmp_path_factory):
    texts = squad_contexts(FIXTURES / "korquad_tiny.json")
    return train_kobert(tmp_path_factory.mktemp("tok") / "KoBERT_Tiny", texts, vocab_size=300)


ENGLISH_FIXTURES = [FIXTURES / "squad_tiny.json", FIXTURES / "squad_v1_tiny.json"]


def english_contexts():
    return [c for path in ENGLISH_FIXTURES if path.exists() for c in squad_contexts(path)]


def korean_contexts():
    return squad_contexts(FIXTURES / "korquad_tiny.json")


def assert_spans_sorted(starts, ends, text):
    assert np.all(np.diff(starts) >= 0) and np.all(np.diff(ends) >= 0)
    assert np.all(starts <= ends) and (len(ends) == 0 or (starts[0] >= 0 and ends[-1] <= len(text)))


def assert_no_surrounding_whitespace(starts, ends, text):
    padded = [text[s:e] for s, e in zip(starts, ends) if text[s:e] != text[s:e].strip()]
    assert not padded, padded[:5]


def test_model_types_cover_the_documented_models():
    assert {"bert", "kobert", "distilbert", "distilkobert", "electra", "koelectra", "albert", "roberta",
            "xlm-roberta", "deberta", "deberta-v2"} <= set(MODEL_TYPES)


def test_load_tokenizer_uses_auto_for_bert_and_kobert_class_for_kobert(kobert):
    assert load_tokenizer("bert", str(minilm_path())).is_fast
    folder = kobert.vocab_file.rsplit("/", 1)[0]
    assert folder.endswith("KoBERT_Tiny")  # mixed case: the path is passed as given
    loaded = load_tokenizer("kobert", folder)
    assert type(loaded).__name__ == "KoBertTokenizer"
    sentence = "김서연은 해솔균을 발견했다"
    assert loaded.tokenize(sentence) == kobert.tokenize(sentence)


def test_load_tokenizer_errors_name_the_flag(tmp_path):
    with pytest.raises(UsageError, match="--model_name_or_path"):
        load_tokenizer("bert", str(tmp_path / "no_such_model"))


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
def test_kobert_spans_cover_tricky_text(kobert, text):
    _kobert_check(kobert, text)


def test_kobert_spans_are_exactly_the_pieces_in_korean_text(kobert):
    for text in squad_contexts(FIXTURES / "korquad_tiny.json"):
        exact, n_tokens = _kobert_check(kobert, text)
        assert exact == n_tokens - kobert.tokenize(text).count("\u2581")


def test_kobert_pieces_unknown_to_the_vocabulary_keep_their_text(kobert):
    text = "김서연은 ``해솔균''을 발견했다. 𝓐 1990, 2000년"
    ids, starts, ends = tokenize_with_offsets(kobert, [text])[0]
    pieces = [text[s:e] for s, e in zip(starts, ends) if e > s]
    assert "".join(pieces) == "".join(text.split())
    assert np.any(ids == kobert.unk_token_id)  # 𝓐 and others are not in the 300-piece vocabulary
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


def test_encode_texts_matches_tokenize(bert_pair):
    slow, fast = bert_pair
    questions = ["Who wrote the Lantingji Xu?", "Where did Zoë train?", "달빛교는 언제 놓였나?"]
    assert [ids.tolist() for ids in encode_texts(slow, questions)] == \
        [ids.tolist() for ids in encode_texts(fast, questions)]
    assert encode_texts(fast, questions)[0].dtype == np.int32


# --- whitespace: a span never includes it, for every tokenizer ------------------------------------------------


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
