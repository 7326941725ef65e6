"""Tokenizers, and the exact character span of every context token, fast or slow.

Fast tokenizers report each token's character span themselves (`return_offsets_mapping`); slow ones (KoBERT's
`KoBertTokenizer`, `use_fast=False` tokenizers) do not, and their tokens are aligned to the text by
korsquad.features.slow_alignment.

Either way, a span never includes leading or trailing whitespace: fast sentencepiece tokenizers (DeBERTa-v2/v3,
XLM-R, CamemBERT, ALBERT, XLNet) report a word's first piece with the space before it, and byte-level BPE makes
tokens of non-ASCII spaces; both are trimmed here, a token standing for whitespace only getting an empty span.
Post-processing therefore needs no text heuristics: the answer is always `context[char_start:char_end]`, and
labels can be found from the characters an annotator marked.
"""

from functools import lru_cache

import numpy as np

from ..common.errors import UsageError, first_line
from ..data.codepoints import codepoints, whitespace_mask
from .model_types import KOBERT_MODEL_TYPES
from .slow_alignment import SPIECE_UNDERLINE, SlowAligner

# A fast tokenizer's batch call holds every token of every text; chunks bound that memory on big data sets.
FAST_BATCH_SIZE = 2048


def load_tokenizer(model_type, model_name_or_path, **kwargs):
    """The tokenizer of a model: KoBertTokenizer for kobert/distilkobert, AutoTokenizer otherwise.

    The path is passed as given (model names and folders are case-sensitive).
    """
    try:
        if model_type in KOBERT_MODEL_TYPES:
            return load_kobert(model_name_or_path, **kwargs)
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(model_name_or_path, **kwargs)
    except (OSError, ValueError) as err:
        raise UsageError(
            f"--model_name_or_path {model_name_or_path!r}: cannot load a tokenizer ({first_line(err)})") from None


def load_kobert(model_name_or_path, **kwargs):
    """KoBertTokenizer from a folder. An exported best_model/ names PreTrainedTokenizerFast in its
    tokenizer_config.json (for AutoTokenizer, korsquad.serving.export) beside KoBERT's own files: transformers' warning
    that the class differs is expected there, so it is silenced for this one call."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return kobert_tokenizer_class().from_pretrained(model_name_or_path, **kwargs)
    finally:
        hf_logging.set_verbosity(level)


@lru_cache(maxsize=None)
def kobert_tokenizer_class():
    """kobert-transformers' KoBertTokenizer, able to save_pretrained under transformers 4.x (which passes a
    filename_prefix its save_vocabulary does not take). The class keeps its name, so saved folders still say
    "KoBertTokenizer"."""
    from kobert_transformers.tokenization_kobert import KoBertTokenizer as Original

    class KoBertTokenizer(Original):
        def save_vocabulary(self, save_directory, filename_prefix=None):
            return super().save_vocabulary(save_directory)

    return KoBertTokenizer


def tokenize_with_offsets(tokenizer, texts):
    """Tokenize texts without special tokens: per text (ids int32, char_start int32, char_end int32).

    Spans are [char_start, char_end) in the text, non-decreasing in both ends, without leading or trailing
    whitespace. A token that stands for no text or only whitespace (a bare sentencepiece `▁`) has an empty span at
    the start of the word it precedes.
    """
    texts = list(texts)
    if getattr(tokenizer, "is_fast", False):
        tokenized = _tokenize_fast(tokenizer, texts)
    else:
        aligner = SlowAligner(tokenizer)
        tokenized = [aligner.tokenize(text) for text in texts]
    return [(ids, *trim_whitespace(text, starts, ends)) for text, (ids, starts, ends) in zip(texts, tokenized)]


def trim_whitespace(text, starts, ends):
    """The spans [starts, ends) of `text` without their leading and trailing whitespace (str.isspace, as the
    metrics' str.split). A whitespace-only span becomes empty at its end, where the next word starts; spans
    non-decreasing in both ends stay so."""
    n = len(text)
    if len(starts) == 0 or n == 0:
        return starts, ends
    visible = ~whitespace_mask(codepoints(text))
    positions = np.arange(n, dtype=np.int32)
    # next_visible[i]: the first visible character at or after i; visible_end[i]: one past the last before i.
    next_visible = np.append(np.minimum.accumulate(np.where(visible, positions, n)[::-1])[::-1], np.int32(n))
    visible_end = np.append(np.int32(0), np.maximum.accumulate(np.where(visible, positions + 1, 0)))
    trimmed_starts = np.minimum(next_visible[starts], ends).astype(np.int32)
    trimmed_ends = np.maximum(visible_end[ends], trimmed_starts).astype(np.int32)
    return trimmed_starts, trimmed_ends


def encode_texts(tokenizer, texts):
    """Token ids of each text without special tokens (no offsets; for questions), int32 arrays."""
    if getattr(tokenizer, "is_fast", False):
        out = []
        for chunk in _chunks(texts, FAST_BATCH_SIZE):
            encoded = tokenizer(chunk, add_special_tokens=False, return_attention_mask=False,
                                return_token_type_ids=False, verbose=False)
            out.extend(np.asarray(ids, dtype=np.int32) for ids in encoded["input_ids"])
        return out
    return [np.asarray(tokenizer.convert_tokens_to_ids(tokenizer.tokenize(t)), dtype=np.int32) for t in texts]


def _chunks(items, size):
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _tokenize_fast(tokenizer, texts):
    marker = _bare_marker_id(tokenizer)
    out = []
    for chunk in _chunks(texts, FAST_BATCH_SIZE):
        encoded = tokenizer(chunk, add_special_tokens=False, return_offsets_mapping=True, return_attention_mask=False,
                            return_token_type_ids=False, verbose=False)
        for text, ids, offsets in zip(chunk, encoded["input_ids"], encoded["offset_mapping"]):
            ids = np.asarray(ids, dtype=np.int32)
            spans = np.asarray(offsets, dtype=np.int32).reshape(-1, 2)
            if marker is not None:
                # A bare `▁` stands for no text, but a text's first one reports the first character (the one
                # its first word starts with): give each an empty span where the next token starts.
                bare = np.flatnonzero(ids == marker)
                spans[bare] = np.append(spans[1:, 0], np.int32(len(text)))[bare, None]
            # Searches over the spans need both ends sorted; a few pre-tokenizers report a token's span as
            # overlapping its neighbour's, which this evens out without changing any aligned span.
            starts = np.maximum.accumulate(spans[:, 0])
            ends = np.maximum.accumulate(np.maximum(spans[:, 1], starts))
            out.append((ids, starts, ends))
    return out


def _bare_marker_id(tokenizer):
    """The id of the bare sentencepiece word marker `▁` in the tokenizer's vocabulary, or None."""
    marker = tokenizer.convert_tokens_to_ids(SPIECE_UNDERLINE)
    return None if marker is None or marker == tokenizer.unk_token_id else int(marker)
