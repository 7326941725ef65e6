"""Character spans of a slow tokenizer's tokens (KoBERT's `KoBertTokenizer`, `use_fast=False` tokenizers), which,
unlike fast tokenizers, do not report them.

The context is normalized the way the tokenizer normalizes it (lower-casing, accents stripped by NFD/NFKD,
sentencepiece's NFKC, dropped control characters, whitespace removed), keeping for every normalized character the
original characters it came from; the tokens, with their sub-word markers (WordPiece `##`, sentencepiece `▁`,
byte-level BPE's byte alphabet) removed, are then matched one after the other against that normalized text.
A token that does not match (an unknown token such as `[UNK]`, or text the tokenizer normalized differently)
takes the original text between the tokens aligned before and after it.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from ..data.codepoints import codepoints

SPIECE_UNDERLINE = "\u2581"


def _is_bert_control(char):
    """BERT's basic tokenizer deletes these before tokenizing."""
    if char in "\t\n\r":
        return False
    return char == "\x00" or char == "\ufffd" or unicodedata.category(char).startswith("C")


def _drop_whitespace(text):
    return "".join(c for c in text if not (c.isspace() or unicodedata.category(c) == "Zs"))


def _strip_marks(text, form, drop):
    return "".join(c for c in unicodedata.normalize(form, text) if not drop(c))


def _attaches_to_previous(char):
    """Characters that normalization may compose with the character before them (accents, Hangul jamo)."""
    code = ord(char)
    return (unicodedata.combining(char) != 0 or unicodedata.category(char) in ("Mn", "Mc", "Me")
            or 0x1160 <= code <= 0x11FF)


@dataclass(frozen=True)
class _Scheme:
    """How a slow tokenizer writes text into tokens."""

    kind: str  # "wordpiece", "sentencepiece", "bytes" or "plain"
    normalize: object  # str -> str: one character (with its combining marks) as the tokenizer normalizes it
    merge_quotes: bool  # `` and '' become one " (ALBERT/XLNet/KoBERT preprocess_text)
    words: object = None  # str -> [(start, end)]: the units the tokenizer splits text into before sub-words
    word_start: object = None  # (text, i) -> whether a word can start at text[i]


def _scheme(tokenizer):
    if hasattr(tokenizer, "byte_decoder"):
        return _Scheme("bytes", None, False)
    basic = getattr(tokenizer, "basic_tokenizer", None)
    if basic is not None and getattr(tokenizer, "do_basic_tokenize", True):
        lower = bool(basic.do_lower_case)
        strip = basic.strip_accents if basic.strip_accents is not None else lower

        def normalize_bert(text):
            text = unicodedata.normalize("NFC", "".join(c for c in text if not _is_bert_control(c)))
            if lower:
                text = text.lower()
            if strip:
                text = _strip_marks(text, "NFD", lambda c: unicodedata.category(c) == "Mn")
            return _drop_whitespace(text)

        split_cjk = basic.tokenize_chinese_chars
        return _Scheme("wordpiece", normalize_bert, False, _bert_words(split_cjk), _bert_word_start(split_cjk))
    if hasattr(tokenizer, "sp_model"):
        preprocess = getattr(tokenizer, "preprocess_text", None)
        # The model's own normalizer (NFKC plus its rules for control characters and spaces) where available.
        sp_normalize = getattr(tokenizer.sp_model, "normalize", None) or partial(unicodedata.normalize, "NFKC")

        def normalize_sentencepiece(text):
            if preprocess is not None:  # KoBERT, ALBERT, XLNet: accents, lower-casing
                text = preprocess(text)
            return _drop_whitespace(sp_normalize(text).replace(SPIECE_UNDERLINE, "")) if text else ""

        merge_quotes = preprocess is not None and preprocess("a``b''c").replace(" ", "") == 'a"b"c'
        return _Scheme("sentencepiece", normalize_sentencepiece, merge_quotes)
    if hasattr(tokenizer, "wordpiece_tokenizer"):
        return _Scheme("wordpiece", _drop_whitespace, False)
    return _Scheme("plain", _drop_whitespace, False)


def _whitespace_words(text):
    return [m.span() for m in re.finditer(r"\S+", text)]


def _is_bert_punctuation(char):
    code = ord(char)
    return 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126 or \
        unicodedata.category(char).startswith("P")


def _is_cjk(char):
    """CJK Unified Ideographs (and extensions, compatibility ideographs): BERT makes each one a word."""
    code = ord(char)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2CEAF or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


def _bert_words(split_cjk):
    """BERT's basic tokenizer: whitespace-separated, and every punctuation (and CJK) character a word alone."""

    def words(text):
        spans, start = [], None
        for i, char in enumerate(text):
            if char.isspace():
                alone = False
            else:
                alone = _is_bert_punctuation(char) or (split_cjk and _is_cjk(char))
                if not alone:
                    start = i if start is None else start
                    continue
            if start is not None:
                spans.append((start, i))
                start = None
            if alone:
                spans.append((i, i + 1))
        if start is not None:
            spans.append((start, len(text)))
        return spans

    return words


def _any_position(text, i):
    return True


def _bert_word_start(split_cjk):
    def alone(char):
        return _is_bert_punctuation(char) or (split_cjk and _is_cjk(char))

    def word_start(text, i):
        return i == 0 or text[i - 1].isspace() or alone(text[i]) or alone(text[i - 1])

    return word_start


def _strip_wordpiece(token):
    return token[2:] if len(token) > 2 and token.startswith("##") else token


def _strip_sentencepiece(token):
    return token.replace(SPIECE_UNDERLINE, "")


def _strip_plain(token):
    token = _strip_sentencepiece(_strip_wordpiece(token))
    return token[:-4] if token.endswith("</w>") and len(token) > 4 else token


_SEARCH_CHARS = 200  # how far past the last aligned token (per unaligned token) the next one is looked for
_ASCII_WHITESPACE = np.frombuffer(b" \t\n\r\x0b\x0c", dtype=np.uint8)


class SlowAligner:
    """Tokenizes texts with a slow tokenizer and finds each token's character span in the text."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.scheme = _scheme(tokenizer)
        self.unknown = tokenizer.unk_token
        self.words = self.scheme.words or _whitespace_words
        self.word_start = self.scheme.word_start or _any_position
        if self.scheme.kind == "bytes":
            decoder = tokenizer.byte_decoder
            self.token_text = lambda token: _bytes_without_whitespace(bytes(decoder[c] for c in token))
        else:
            strip = {"wordpiece": _strip_wordpiece, "sentencepiece": _strip_sentencepiece}.get(self.scheme.kind,
                                                                                              _strip_plain)
            self.token_text = lambda token: _drop_whitespace(strip(token))
            self._normalize_char = lru_cache(maxsize=None)(self.scheme.normalize)

    def tokenize(self, text):
        tokens = self.tokenizer.tokenize(text) if text else []
        ids = np.asarray(self.tokenizer.convert_tokens_to_ids(tokens), dtype=np.int32)
        starts, ends = self.align(text, tokens)
        return ids, starts, ends

    def normalized(self, text):
        """(normalized text without whitespace, origin_start, origin_end): character k of the normalized text
        comes from text[origin_start[k]:origin_end[k]]."""
        if self.scheme.kind == "bytes":
            return _normalize_bytes(text)
        norm, origin_start, origin_end = _normalize_chars(text, self._normalize_char)
        if self.scheme.merge_quotes and ("``" in norm or "''" in norm):
            norm, origin_start, origin_end = _merge_quotes(norm, origin_start, origin_end)
        return norm, origin_start, origin_end

    def _resume(self, text, norm, origin_start, piece, cursor, n_unknown, n_pending):
        """Where `piece` matches next. Each unknown token before it stands for at least one whole word, so the
        match must start a word after that many words (else a piece like `a` could match inside them)."""
        # Unaligned text is a few words at most: a bounded search keeps long documents linear.
        limit = cursor + _SEARCH_CHARS * (1 + n_pending) + len(piece)
        found = norm.find(piece, cursor, limit)
        if n_unknown and found >= 0:
            earliest = self._word_after(text, int(origin_start[cursor]), n_unknown)
            while found >= 0 and not (origin_start[found] >= earliest
                                      and self.word_start(text, int(origin_start[found]))):
                found = norm.find(piece, found + 1, limit)
        return found

    def _word_after(self, text, start, count):
        """Start of the count-th word after the one starting at text[start] (len(text) when there is none)."""
        for i in range(start + 1, len(text)):
            if not text[i].isspace() and self.word_start(text, i):
                count -= 1
                if count == 0:
                    return i
        return len(text)

    def align(self, text, tokens):
        """Character spans [starts, ends) in `text` of `tokens` (the tokenizer's output for `text`)."""
        norm, origin_start, origin_end = self.normalized(text)
        n_norm = len(norm)
        starts = np.empty(len(tokens), dtype=np.int32)
        ends = np.empty(len(tokens), dtype=np.int32)
        cursor = 0  # position in `norm` after the last aligned token
        pending = []  # (index, kind) of tokens waiting for the next aligned token to bound their text
        for i, token in enumerate(tokens):
            piece = "" if token == self.unknown else self.token_text(token)
            if token == self.unknown:
                pending.append((i, _UNKNOWN))
                continue
            if not piece:  # a bare word-start marker: an empty span where the next word starts
                if pending:
                    pending.append((i, _EMPTY))
                else:
                    starts[i] = ends[i] = int(origin_start[cursor]) if cursor < n_norm else len(text)
                continue
            if not pending and norm.startswith(piece, cursor):
                found = cursor
            else:
                found = self._resume(text, norm, origin_start, piece, cursor,
                                     sum(kind == _UNKNOWN for _, kind in pending), len(pending))
                # Without an unaligned token before it, a token may only skip a few characters the tokenizer
                # dropped; otherwise it is itself unaligned and waits for the next token to bound it.
                if found < 0 or (not pending and found - cursor > 2):
                    pending.append((i, _UNMATCHED))
                    continue
            if pending:
                gap_end = int(origin_start[found])
                gap_start = int(origin_start[cursor]) if found > cursor else gap_end
                _fill_gap(text, gap_start, gap_end, pending, starts, ends, self.words)
                pending = []
            stop = found + len(piece)
            starts[i] = origin_start[found]
            ends[i] = origin_end[stop - 1]
            cursor = stop
        if pending:
            gap_start = int(origin_start[cursor]) if cursor < n_norm else len(text)
            _fill_gap(text, gap_start, len(text), pending, starts, ends, self.words)
        return starts, ends


_UNKNOWN, _EMPTY, _UNMATCHED = "unknown", "empty", "unmatched"


def _fill_gap(text, gap_start, gap_end, pending, starts, ends, split_words):
    """Give unaligned tokens the text between two aligned tokens: word by word when there are as many words as
    tokens that stand for text, else all of it each. Empty-text tokens get an empty span where the next starts."""
    words = split_words(text[gap_start:gap_end])
    wordy = [i for i, kind in pending if kind != _EMPTY]
    if len(words) == len(wordy):
        spans = {i: (gap_start + s, gap_start + e) for i, (s, e) in zip(wordy, words)}
    else:
        whole = (gap_start + words[0][0], gap_start + words[-1][1]) if words else (gap_start, gap_start)
        spans = {i: whole for i in wordy}
    next_start = gap_end
    for i, kind in reversed(pending):
        if kind == _EMPTY:
            starts[i] = ends[i] = next_start
        else:
            starts[i], ends[i] = spans[i]
            next_start = starts[i]
    # An empty token between tokens sharing one span would end before its neighbour: keep ends non-decreasing.
    for i, _ in pending:
        if i > 0 and ends[i] < ends[i - 1]:
            ends[i] = ends[i - 1]


def _normalize_chars(text, normalize_char):
    """Normalize character by character (fast: one translate call) unless combining marks need context."""
    if not text:
        empty = np.zeros(0, dtype=np.int32)
        return "", empty, empty
    codes = codepoints(text)
    unique, inverse = np.unique(codes, return_inverse=True)
    chars = [chr(c) for c in unique.tolist()]
    if any(_attaches_to_previous(c) for c in chars):
        return _normalize_units(text, normalize_char)
    outputs = [normalize_char(c) for c in chars]
    lengths = np.fromiter(map(len, outputs), dtype=np.int64, count=len(outputs))[inverse.reshape(-1)]
    table = {code: out for code, char, out in zip(unique.tolist(), chars, outputs) if out != char}
    norm = text.translate(table) if table else text
    origin_start = np.repeat(np.arange(len(text), dtype=np.int32), lengths)
    return norm, origin_start, origin_start + 1


def _normalize_units(text, normalize_char):
    """Normalize each character together with the combining marks (or jamo) that follow it."""
    parts, origin_start, origin_end = [], [], []
    unit_start = 0
    for i in range(1, len(text) + 1):
        if i < len(text) and _attaches_to_previous(text[i]):
            continue
        out = normalize_char(text[unit_start:i])
        # Marks the normalization dropped belong to no token (as in fast tokenizers' offsets).
        end = unit_start + 1 if i > unit_start + 1 and out == normalize_char(text[unit_start]) else i
        parts.append(out)
        origin_start.extend([unit_start] * len(out))
        origin_end.extend([end] * len(out))
        unit_start = i
    return "".join(parts), np.asarray(origin_start, dtype=np.int32), np.asarray(origin_end, dtype=np.int32)


def _merge_quotes(norm, origin_start, origin_end):
    """`` and '' written next to each other in the original become one " (as the tokenizer's preprocess does)."""
    keep = np.ones(len(norm), dtype=bool)
    chars = list(norm)
    origin_end = origin_end.copy()
    for match in re.finditer(r"``|''", norm):
        k = match.start()
        if origin_start[k + 1] == origin_end[k]:
            chars[k] = '"'
            origin_end[k] = origin_end[k + 1]
            keep[k + 1] = False
    norm = "".join(c for c, kept in zip(chars, keep) if kept)
    return norm, origin_start[keep], origin_end[keep]


def _bytes_without_whitespace(data):
    return data.translate(None, b" \t\n\r\x0b\x0c").decode("latin-1")


def _normalize_bytes(text):
    """Byte-level BPE: the UTF-8 bytes (one latin-1 character each), ASCII whitespace removed."""
    codes = codepoints(text)
    lengths = 1 + (codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000)
    origin_start = np.repeat(np.arange(len(text), dtype=np.int32), lengths)
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    keep = ~np.isin(data, _ASCII_WHITESPACE)
    origin_start = origin_start[keep]
    return data[keep].tobytes().decode("latin-1"), origin_start, origin_start + 1
