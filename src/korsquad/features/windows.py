"""Examples -> model features: doc_stride windows, exact character spans, max-context flags and labels.

A feature is one window of one example: the question (at most `max_query_length` tokens) and a run of context
tokens, joined with the tokenizer's own special tokens, at most `max_seq_length` tokens in all.

`doc_stride` is the distance between the starts of consecutive windows, as in the original BERT code and the
experiment tables: windows start at context tokens 0, doc_stride, 2*doc_stride, ... and the last one is the first
that reaches the last context token. (Hugging Face's tokenizer argument `stride` means the overlap between windows
instead; it is not used here.)

Each context is tokenized once, however many questions share it. What is tokenized is the text the data set's
reader gives of the context (`Reader.window_text`; KorQuAD 2.x: the readable text of the HTML document), and every
span is mapped back into the context (`Reader.original_spans`), so that `Example.context[char_start:char_end]` is
always the text a span stands for.

The label is the run of tokens that covers the annotated characters of the first answer,
[answer_start, answer_start + len(text)) without surrounding whitespace (the original BERT rule): from the token
holding its first character to the token holding its last. It stays where the annotator put it, even when the
answer is part of a longer token (SQuAD's "7" marked inside "1817" is labeled with the token "1817") and its text
also occurs elsewhere in the context. Token spans hold no whitespace (see tokenization), so when tokens spell the
answer exactly at its place, the covering run is those tokens. A window holds the label when it holds every
covering token; other windows, and unanswerable questions, are labeled with the CLS token.
"""

from dataclasses import dataclass

import numpy as np

from ..common.errors import UsageError
from ..data.html_text import to_text_span
from ..data.readers import SQUAD_JSON
from .featureset import FeatureSet, empty_features
from .pair_layout import pair_layout
from .tokenization import encode_texts, tokenize_with_offsets

# Tokenizers without a configured limit report a huge model_max_length; only a real limit is checked.
_UNSET_MODEL_MAX_LENGTH = 1_000_000

# ---------------------------------------------------------------------------------------------------------------
# Windows, max-context flags, labels (pure functions of token counts and spans)


def window_starts(n_tokens, max_tokens, doc_stride):
    """Start of every window over n_tokens context tokens (at least one window, even for no tokens)."""
    if n_tokens <= max_tokens:
        return np.zeros(1, dtype=np.int64)
    last = -(-(n_tokens - max_tokens) // doc_stride)  # the first k with k*doc_stride + max_tokens >= n_tokens
    return np.arange(last + 1, dtype=np.int64) * doc_stride


def max_context_owner(n_tokens, starts, lengths):
    """For every context token, the window where it has the most context (the original BERT score:
    min(tokens left of it, tokens right of it) + 0.01 * window length; the first window wins a tie)."""
    best = np.full(n_tokens, -1.0)
    owner = np.zeros(n_tokens, dtype=np.int64)
    for w, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist())):
        position = np.arange(length)
        score = np.minimum(position, length - 1 - position) + 0.01 * length
        better = score > best[start:start + length]
        best[start:start + length][better] = score[better]
        owner[start:start + length][better] = w
    return owner


def answer_token_span(token_starts, token_ends, char_start, char_end):
    """First and last token covering the characters [char_start, char_end), or None when no token does."""
    first = int(np.searchsorted(token_ends, char_start, side="right"))
    last = int(np.searchsorted(token_starts, char_end, side="left")) - 1
    if char_start < 0 or first > last or first >= len(token_ends) or last < 0:
        return None
    return first, last


def _answer_chars(answer):
    """[start, end) of the answer's text without surrounding whitespace, in Example.context."""
    text = answer.text
    start = answer.start + (len(text) - len(text.lstrip()))
    return start, max(start, answer.start + len(text.rstrip()))


# ---------------------------------------------------------------------------------------------------------------
# Building


def check_parameters(tokenizer, layout, window):
    """UsageError naming the flag when windows (a settings.WindowSettings, whose own checks keep each value in
    range) cannot be built as asked with this tokenizer."""
    max_seq_length, doc_stride, max_query_length = window.max_seq_length, window.doc_stride, window.max_query_length
    model_max = getattr(tokenizer, "model_max_length", None)
    if model_max is not None and model_max < _UNSET_MODEL_MAX_LENGTH and max_seq_length > model_max:
        raise UsageError(f"--max_seq_length {max_seq_length} exceeds the model's maximum of {model_max} tokens")
    room = max_seq_length - max_query_length - layout.num_special
    if room < 1:
        raise UsageError(
            f"--max_seq_length {max_seq_length} leaves no room for context after a question of up to "
            f"--max_query_length {max_query_length} tokens and {layout.num_special} special tokens")
    if doc_stride > room:
        raise UsageError(
            f"--doc_stride {doc_stride} is larger than the context part of a window ({room} tokens: "
            f"--max_seq_length {max_seq_length} - --max_query_length {max_query_length} - "
            f"{layout.num_special} special tokens); windows would skip context")


def build_features(examples, tokenizer, window, *, training, negative_window_ratio=1.0, seed=0, reader=SQUAD_JSON):
    """Features of `examples` (see the module docstring) windowed by `window` (a settings.WindowSettings), as a
    FeatureSet.

    Labels (start/end token inside the feature) are the tokens covering the first answer's annotated characters
    when the window holds all of them, else the CLS token, as for unanswerable questions (see the module
    docstring); evaluation examples with answers get labels too. Windows are built on the text `reader` (the data
    set's `spec.reader`) gives of each context (KorQuAD 2.x: a page's readable text). In training with
    negative_window_ratio < 1, every window holding the answer is kept and each other window with that probability
    (seeded by `seed`); evaluation keeps every window. Bad parameters raise UsageError.
    """
    layout = pair_layout(tokenizer)
    check_parameters(tokenizer, layout, window)
    if not examples:
        return empty_features()
    contexts = _tokenized_contexts(examples, tokenizer, reader)
    questions = encode_texts(tokenizer, [example.question for example in examples])
    sampler = np.random.default_rng(seed) if training and negative_window_ratio < 1.0 else None
    builder = _Builder(layout)
    for index, example in enumerate(examples):
        context = contexts[example.context]
        builder.add_example(index, example, questions[index][:window.max_query_length], context,
                            window.max_seq_length, window.doc_stride, sampler, negative_window_ratio)
    return builder.finish()


@dataclass
class _Context:
    ids: np.ndarray
    starts: np.ndarray  # token spans in `text`
    ends: np.ndarray
    orig_starts: np.ndarray  # token spans in Example.context
    orig_ends: np.ndarray
    text: str  # the tokenized text: what the reader gives of Example.context (KorQuAD 2.x: a page's readable text)
    offsets: np.ndarray = None  # index in Example.context of every character of `text`; None: `text` is the context


def _tokenized_contexts(examples, tokenizer, reader):
    unique = list(dict.fromkeys(example.context for example in examples))
    views = [reader.window_text(context) for context in unique]
    tokenized = tokenize_with_offsets(tokenizer, [text for text, _ in views])
    contexts = {}
    for original, (text, offsets), (ids, starts, ends) in zip(unique, views, tokenized):
        if offsets is None:
            contexts[original] = _Context(ids, starts, ends, starts, ends, text)
        else:
            orig_starts, orig_ends = reader.original_spans(original, offsets, starts, ends)
            contexts[original] = _Context(ids, starts, ends, orig_starts.astype(np.int32),
                                          orig_ends.astype(np.int32), text, offsets)
    return contexts


def answer_text_span(answer, text, offsets=None):
    """[start, end) in the tokenized text of what the reader sees of an answer: its annotated characters without
    surrounding whitespace (mapped into the reader's `text` through its `offsets`, where it has them). Empty when
    it shows nothing; None when the answer was not found in its context."""
    if answer.start < 0:
        return None
    if offsets is None:
        return _answer_chars(answer)
    return to_text_span(text, offsets, answer.start, answer.start + len(answer.text))


def _covering_tokens(example, context):
    """(first, last) context token covering the first answer's annotated characters, or None (unanswerable, not
    in its context, empty, or on characters no token stands for)."""
    if example.is_impossible or not example.answers:
        return None
    span = answer_text_span(example.answers[0], context.text, context.offsets)
    if span is None or span[0] >= span[1]:
        return None
    return answer_token_span(context.starts, context.ends, *span)


class _Builder:
    """Collects the pieces of every feature and concatenates them once at the end."""

    def __init__(self, layout):
        self.layout = layout
        self.columns = {name: [] for name in FeatureSet.PER_TOKEN}
        self.example_index, self.lengths = [], []
        self.cls_index, self.start_positions, self.end_positions = [], [], []
        self._constants = {}

    def _constant(self, length, value, dtype):
        key = (length, value, dtype)
        array = self._constants.get(key)
        if array is None:
            array = self._constants[key] = np.full(length, value, dtype=dtype)
        return array

    def add_example(self, index, example, question_ids, context, max_seq_length, doc_stride, sampler, ratio):
        n_context = len(context.ids)
        max_tokens = max_seq_length - len(question_ids) - self.layout.num_special
        starts = window_starts(n_context, max_tokens, doc_stride)
        lengths = np.minimum(n_context - starts, max_tokens)
        owner = max_context_owner(n_context, starts, lengths) if len(starts) > 1 else None
        answer = _covering_tokens(example, context)
        for w, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist())):
            holds_answer = answer is not None and start <= answer[0] and answer[1] < start + length
            if sampler is not None and not holds_answer and sampler.random() >= ratio:
                continue
            flags = owner[start:start + length] == w if owner is not None else self._constant(length, True, bool)
            self._add_window(index, question_ids, context, start, length, flags,
                             (answer[0] - start, answer[1] - start) if holds_answer else None)

    def _add_window(self, index, question_ids, context, start, length, flags, answer):
        stop = start + length
        position, cls_position, context_offset = 0, 0, 0
        for p, part in enumerate(self.layout.parts):
            kind = part[0]
            if kind == "special":
                ids, types = part[1], part[2]
                n = len(ids)
                if p == self.layout.cls_part:
                    cls_position = position + self.layout.cls_offset
                self._append(ids, types, self._constant(n, -1, np.int32), self._constant(n, -1, np.int32),
                             self._constant(n, False, bool))
            elif kind == "question":
                n = len(question_ids)
                self._append(question_ids, self._constant(n, part[1], np.int8), self._constant(n, -1, np.int32),
                             self._constant(n, -1, np.int32), self._constant(n, False, bool))
            else:
                n = length
                context_offset = position
                self._append(context.ids[start:stop], self._constant(n, part[1], np.int8),
                             context.orig_starts[start:stop], context.orig_ends[start:stop], flags)
            position += n
        self.example_index.append(index)
        self.lengths.append(position)
        self.cls_index.append(cls_position)
        if answer is None:
            self.start_positions.append(cls_position)
            self.end_positions.append(cls_position)
        else:
            self.start_positions.append(context_offset + answer[0])
            self.end_positions.append(context_offset + answer[1])

    def _append(self, ids, types, char_start, char_end, max_context):
        columns = self.columns
        columns["input_ids"].append(ids)
        columns["token_type_ids"].append(types)
        columns["char_start"].append(char_start)
        columns["char_end"].append(char_end)
        columns["max_context"].append(max_context)

    def finish(self):
        if not self.lengths:
            return empty_features()
        row_splits = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=row_splits[1:])
        per_token = {name: np.concatenate(parts).astype(FeatureSet.DTYPES[name], copy=False)
                     for name, parts in self.columns.items()}
        return FeatureSet(
            example_index=np.asarray(self.example_index, dtype=np.int32), row_splits=row_splits,
            cls_index=np.asarray(self.cls_index, dtype=np.int32),
            start_positions=np.asarray(self.start_positions, dtype=np.int32),
            end_positions=np.asarray(self.end_positions, dtype=np.int32), **per_token)
