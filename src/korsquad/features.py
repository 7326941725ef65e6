"""Examples -> model features: doc_stride windows, exact character spans, max-context flags and labels.

A feature is one window of one example: the question (at most `max_query_length` tokens) and a run of context
tokens, joined with the tokenizer's own special tokens, at most `max_seq_length` tokens in all.

`doc_stride` is the distance between the starts of consecutive windows, as in the original BERT code and the
experiment tables: windows start at context tokens 0, doc_stride, 2*doc_stride, ... and the last one is the first
that reaches the last context token. (Hugging Face's tokenizer argument `stride` means the overlap between windows
instead; it is not used here.)

Each context is tokenized once, however many questions share it. For KorQuAD 2.x (`context_format="html"`) the
readable text of the HTML document is tokenized and every span is mapped back to the original HTML, so that
`Example.context[char_start:char_end]` is always the text a span stands for.

The label is the run of tokens that covers the annotated characters of the first answer,
[answer_start, answer_start + len(text)) without surrounding whitespace (the original BERT rule): from the token
holding its first character to the token holding its last. It stays where the annotator put it, even when the
answer is part of a longer token (SQuAD's "7" marked inside "1817" is labeled with the token "1817") and its text
also occurs elsewhere in the context. Token spans hold no whitespace (see tokenization), so when tokens spell the
answer exactly at its place, the covering run is those tokens. A window holds the label when it holds every
covering token; other windows, and unanswerable questions, are labeled with the CLS token.

`python -m korsquad.features --audit --data_name NAME --model_type T --model_name_or_path P FILE` shows how well
a tokenizer fits a data set: how many answers are labeled, cover their annotation and are spelled exactly by their
tokens, and why the others are not labeled; its last line is one JSON object.
"""

import json
import sys
from dataclasses import dataclass, fields

import numpy as np

from .errors import ArgumentParser, UsageError, exit_on_usage_error
from .html_text import html_to_text, to_original_span, to_original_spans, to_text_span
from .settings import InvalidSetting, WindowSettings
from .tokenization import encode_texts, tokenize_with_offsets

# Tokenizers without a configured limit report a huge model_max_length; only a real limit is checked.
_UNSET_MODEL_MAX_LENGTH = 1_000_000


@dataclass
class FeatureSet:
    """Columnar, ragged features; `check` verifies the layout, `from_arrays` rebuilds and checks saved ones.

    - Feature i owns tokens row_splits[i]:row_splits[i + 1] of every per-token column (row_splits starts at 0 and
      never decreases); the per-feature columns have one row per feature.
    - example_index never decreases: the features of one example are contiguous, in window order.
    - cls_index, start_positions and end_positions are positions inside their feature; a feature without the
      answer (or of an unanswerable question) has start_positions == end_positions == cls_index.
    - char_start/char_end: for a context token, [char_start, char_end) in Example.context is the text it stands
      for, without surrounding whitespace (empty for a token standing for none); -1 for question and special
      tokens.
    - max_context is True for a context token in the one window of its example where it has the most context
      (before negative-window sampling drops windows), False elsewhere.
    - Columns have the dtypes of DTYPES and are plain numpy arrays (saved without pickle).
    """

    example_index: np.ndarray  # int32 [n_features]
    row_splits: np.ndarray  # int64 [n_features + 1]
    input_ids: np.ndarray  # int32 [n_tokens]
    token_type_ids: np.ndarray  # int8 [n_tokens]
    char_start: np.ndarray  # int32 [n_tokens], -1 for question and special tokens
    char_end: np.ndarray  # int32 [n_tokens], -1 for question and special tokens
    max_context: np.ndarray  # bool [n_tokens]
    cls_index: np.ndarray  # int32 [n_features]
    start_positions: np.ndarray  # int32 [n_features]
    end_positions: np.ndarray  # int32 [n_features]

    DTYPES = {
        "example_index": np.int32, "row_splits": np.int64, "input_ids": np.int32, "token_type_ids": np.int8,
        "char_start": np.int32, "char_end": np.int32, "max_context": np.bool_, "cls_index": np.int32,
        "start_positions": np.int32, "end_positions": np.int32,
    }
    PER_TOKEN = ("input_ids", "token_type_ids", "char_start", "char_end", "max_context")
    PER_FEATURE = ("example_index", "cls_index", "start_positions", "end_positions")

    def __len__(self):
        return len(self.example_index)

    @property
    def num_tokens(self):
        return int(self.row_splits[-1])

    @property
    def lengths(self):
        """Number of tokens of every feature."""
        return np.diff(self.row_splits)

    def feature(self, i):
        """One feature's model inputs and labels: token arrays are views, scalars are ints."""
        lo, hi = self.row_splits[i], self.row_splits[i + 1]
        return {
            "input_ids": self.input_ids[lo:hi],
            "token_type_ids": self.token_type_ids[lo:hi],
            "cls_index": int(self.cls_index[i]),
            "start_positions": int(self.start_positions[i]),
            "end_positions": int(self.end_positions[i]),
        }

    def take(self, indices):
        """The features at increasing `indices` (example_index kept as is)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) and (np.any(np.diff(indices) <= 0) or indices[0] < 0 or indices[-1] >= len(self)):
            raise ValueError("FeatureSet.take needs increasing feature indices within range")
        lengths = self.lengths[indices]
        row_splits = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=row_splits[1:])
        token_index = _ranges(self.row_splits[indices], lengths)
        per_token = {name: getattr(self, name)[token_index] for name in self.PER_TOKEN}
        per_feature = {name: getattr(self, name)[indices] for name in self.PER_FEATURE}
        return FeatureSet(row_splits=row_splits, **per_token, **per_feature)

    def select_examples(self, start, stop):
        """The features of examples[start:stop], with example_index counted from `start` (as for that slice)."""
        lo, hi = np.searchsorted(self.example_index, [start, stop], side="left")
        token_lo, token_hi = self.row_splits[lo], self.row_splits[hi]
        per_token = {name: getattr(self, name)[token_lo:token_hi] for name in self.PER_TOKEN}
        per_feature = {name: getattr(self, name)[lo:hi] for name in self.PER_FEATURE}
        per_feature["example_index"] = (per_feature["example_index"] - start).astype(np.int32)
        return FeatureSet(row_splits=self.row_splits[lo:hi + 1] - token_lo, **per_token, **per_feature)

    def arrays(self):
        """Every column by name (numpy arrays only: safe to save with np.savez and load with allow_pickle=False)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays):
        """Rebuild from `arrays()`; raises ValueError when a column is missing or the columns do not fit together
        (a truncated or corrupt cache)."""
        missing = [name for name in cls.DTYPES if name not in arrays]
        if missing:
            raise ValueError(f"feature arrays lack {', '.join(missing)}")
        columns = {}
        for name, dtype in cls.DTYPES.items():
            array = np.asarray(arrays[name])
            if array.ndim != 1 or not (array.dtype == dtype or np.can_cast(array.dtype, dtype, "same_kind")):
                raise ValueError(f"feature column {name} has shape {array.shape} and dtype {array.dtype}")
            columns[name] = array.astype(dtype, copy=False)
        features = cls(**columns)
        features.check()
        return features

    def check(self):
        """Raise ValueError unless the columns are consistent with each other."""
        n, splits = len(self.example_index), self.row_splits
        if len(splits) != n + 1 or splits[0] != 0 or np.any(np.diff(splits) < 0):
            raise ValueError("feature row_splits do not match the number of features")
        for name in self.PER_FEATURE:
            if len(getattr(self, name)) != n:
                raise ValueError(f"feature column {name} has {len(getattr(self, name))} rows, expected {n}")
        for name in self.PER_TOKEN:
            if len(getattr(self, name)) != splits[-1]:
                raise ValueError(f"token column {name} has {len(getattr(self, name))} rows, expected {splits[-1]}")
        if np.any(np.diff(self.example_index) < 0):
            raise ValueError("feature example_index is not non-decreasing")
        lengths = np.diff(splits)
        for name in ("cls_index", "start_positions", "end_positions"):
            column = getattr(self, name)
            if np.any(column < 0) or np.any(column >= np.maximum(lengths, 1)):
                raise ValueError(f"feature column {name} points outside its feature")


def _ranges(starts, lengths):
    """Concatenation of arange(s, s + l) for every (s, l)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def empty_features():
    return FeatureSet(row_splits=np.zeros(1, dtype=np.int64),
                      **{name: np.zeros(0, dtype=FeatureSet.DTYPES[name])
                         for name in FeatureSet.PER_TOKEN + FeatureSet.PER_FEATURE})


# ---------------------------------------------------------------------------------------------------------------
# The tokenizer's pair layout


@dataclass(frozen=True)
class PairLayout:
    """Where the tokenizer puts its special tokens around the two segments of a pair.

    `parts` is the sequence, in order, of ("special", ids, type_ids) and ("question" | "context", type_id).
    """

    parts: tuple
    question_first: bool
    cls_part: int  # index in parts of the special part holding the CLS token
    cls_offset: int  # position of CLS inside that part

    @property
    def num_special(self):
        return sum(len(part[1]) for part in self.parts if part[0] == "special")


_SENTINELS = {"question": -1, "context": -2}


def pair_layout(tokenizer):
    """The tokenizer's special tokens and token types for a (question, context) pair.

    The question comes first when the tokenizer pads on the right (BERT style), the context first when it pads
    on the left (XLNet style, where CLS is last).
    """
    question_first = getattr(tokenizer, "padding_side", "right") != "left"
    order = ("question", "context") if question_first else ("context", "question")
    if getattr(tokenizer, "is_fast", False):
        ids, types, kinds = _fast_template(tokenizer, order)
    else:
        first, second = [_SENTINELS[order[0]]], [_SENTINELS[order[1]]]
        ids = list(tokenizer.build_inputs_with_special_tokens(first, second))
        types = list(tokenizer.create_token_type_ids_from_sequences(first, second))
        by_sentinel = {v: k for k, v in _SENTINELS.items()}
        kinds = [by_sentinel.get(i, "special") for i in ids]
    parts, run = [], []
    for token_id, type_id, kind in zip(ids, types, kinds):
        if kind == "special":
            run.append((token_id, type_id))
            continue
        if run:
            parts.append(_special_part(run))
            run = []
        if not parts or parts[-1][0] != kind:
            parts.append((kind, int(type_id)))
    if run:
        parts.append(_special_part(run))
    if [p[0] for p in parts if p[0] != "special"] != list(order):
        raise UsageError(f"tokenizer {type(tokenizer).__name__} does not build (question, context) pairs")
    cls_part, cls_offset = _find_cls(tokenizer, parts)
    return PairLayout(tuple(parts), question_first, cls_part, cls_offset)


def _special_part(run):
    return ("special", np.asarray([t for t, _ in run], dtype=np.int32), np.asarray([y for _, y in run], dtype=np.int8))


def _fast_template(tokenizer, order):
    """Fast tokenizers add special tokens in their backend's post-processor: read it from a sample pair."""
    encoded = tokenizer("a", "b", add_special_tokens=True, return_token_type_ids=True, verbose=False)
    sequence_ids = encoded.sequence_ids()
    kinds = ["special" if s is None else order[s] for s in sequence_ids]
    return encoded["input_ids"], encoded["token_type_ids"], kinds


def _find_cls(tokenizer, parts):
    """The CLS token's part and offset; tokenizers without one use the first special token (or position 0)."""
    cls_id = getattr(tokenizer, "cls_token_id", None)
    specials = [(i, part) for i, part in enumerate(parts) if part[0] == "special"]
    for i, part in specials:
        hits = np.flatnonzero(part[1] == cls_id) if cls_id is not None else []
        if len(hits):
            return i, int(hits[0])
    if specials and specials[0][0] == 0:
        return 0, 0
    return -1, 0


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


def build_features(examples, tokenizer, window, *, training, negative_window_ratio=1.0, seed=0,
                   context_format="text"):
    """Features of `examples` (see the module docstring) windowed by `window` (a settings.WindowSettings), as a
    FeatureSet.

    Labels (start/end token inside the feature) are the tokens covering the first answer's annotated characters
    when the window holds all of them, else the CLS token, as for unanswerable questions (see the module
    docstring); evaluation examples with answers get labels too. `context_format` is the data set's
    `spec.context_format` ("html" for KorQuAD 2.x). In training with negative_window_ratio < 1, every window
    holding the answer is kept and each other window with that probability (seeded by `seed`); evaluation keeps
    every window. Bad parameters raise UsageError.
    """
    if context_format not in ("text", "html"):
        raise ValueError(f"context_format must be 'text' or 'html', not {context_format!r}")
    layout = pair_layout(tokenizer)
    check_parameters(tokenizer, layout, window)
    if not examples:
        return empty_features()
    contexts = _tokenized_contexts(examples, tokenizer, context_format)
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
    text: str  # the tokenized text: Example.context, or the readable text of an html context
    offsets: np.ndarray = None  # html: index in Example.context of every character of `text`


def _tokenized_contexts(examples, tokenizer, context_format):
    unique = list(dict.fromkeys(example.context for example in examples))
    views = [html_to_text(html) for html in unique] if context_format == "html" else [(c, None) for c in unique]
    tokenized = tokenize_with_offsets(tokenizer, [text for text, _ in views])
    contexts = {}
    for original, (text, offsets), (ids, starts, ends) in zip(unique, views, tokenized):
        if offsets is None:
            contexts[original] = _Context(ids, starts, ends, starts, ends, text)
        else:
            orig_starts, orig_ends = to_original_spans(original, offsets, starts, ends)
            contexts[original] = _Context(ids, starts, ends, orig_starts.astype(np.int32),
                                          orig_ends.astype(np.int32), text, offsets)
    return contexts


def answer_text_span(answer, text, offsets=None):
    """[start, end) in the tokenized text of what the reader sees of an answer: its annotated characters without
    surrounding whitespace (html: mapped into the readable `text` through its `offsets`). Empty when it shows
    nothing; None when the answer was not found in its context."""
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


# ---------------------------------------------------------------------------------------------------------------
# Auditing the labels: how well a tokenizer fits a data set

# Why a question has no label in any window, in the order they are checked.
UNLABELED_REASONS = (
    "unanswerable",
    "answer_not_in_context",  # evaluation data: the reader found no occurrence of the answer text
    "empty_answer",  # whitespace only, or (html) markup that shows no text
    "no_token_covers_answer",  # the tokenizer dropped every annotated character
    "not_inside_any_window",  # longer than a window's context, or cut by every window
    "missed_by_labeler",  # a window holds the annotated characters but is not labeled: a bug
)


def audit_labels(examples, features, context_format="text"):
    """Counts over the questions of `examples`, given their `features` (build_features(..., training=True) with
    every window kept): `questions`; `labeled` (in some window); of those, `covering_annotation` (every labeled
    window's first token holds the first annotated character and its last token the last one) and `exact_text`
    (the labeled characters are the answer's text, without surrounding whitespace); and `unlabeled`, a count per
    reason of UNLABELED_REASONS. Characters are those of Example.context (html: what the reader sees of the
    annotation, mapped back into the HTML)."""
    bounds = np.searchsorted(features.example_index, np.arange(len(examples) + 1))
    annotated = _annotated_spans(examples, context_format)
    counts = dict(questions=len(examples), labeled=0, covering_annotation=0, exact_text=0,
                  unlabeled=dict.fromkeys(UNLABELED_REASONS, 0))
    for index, example in enumerate(examples):
        windows = range(bounds[index], bounds[index + 1])
        reason = _unlabeled_reason(example, annotated[index], features, windows)
        if reason is not None:
            counts["unlabeled"][reason] += 1
            continue
        labels = [_labeled_tokens(features, f) for f in windows if _is_labeled(features, f)]
        start, end = annotated[index]
        counts["labeled"] += 1
        counts["covering_annotation"] += all(_covers(tokens, start, end) for tokens in labels)
        counts["exact_text"] += all(example.context[tokens[0][0]:tokens[1][1]] == example.context[start:end]
                                    for tokens in labels)
    return counts


def _annotated_spans(examples, context_format):
    """Per example, [start, end) in Example.context of what the reader sees of its first answer (None when it
    has none or it is not in its context)."""
    views = {}
    spans = []
    for example in examples:
        if not example.answers or example.answers[0].start < 0:
            spans.append(None)
        elif context_format == "html":
            if example.context not in views:
                views[example.context] = html_to_text(example.context)
            text, offsets = views[example.context]
            shown = answer_text_span(example.answers[0], text, offsets)
            spans.append(to_original_span(example.context, offsets, *shown))
        else:
            spans.append(_answer_chars(example.answers[0]))
    return spans


def _is_labeled(features, f):
    return features.start_positions[f] != features.cls_index[f]


def _labeled_tokens(features, f):
    """((start, end), (start, end)): the characters of feature f's labeled first and last token."""
    first = features.row_splits[f] + features.start_positions[f]
    last = features.row_splits[f] + features.end_positions[f]
    return ((int(features.char_start[first]), int(features.char_end[first])),
            (int(features.char_start[last]), int(features.char_end[last])))


def _covers(tokens, start, end):
    (first_start, first_end), (last_start, last_end) = tokens
    return first_start <= start < first_end and last_start < end <= last_end


def _unlabeled_reason(example, span, features, windows):
    """Why the example is labeled in none of its windows, or None when it is labeled in some."""
    if example.is_impossible or not example.answers:
        return "unanswerable"
    if span is None:
        return "answer_not_in_context"
    start, end = span
    if start >= end:
        return "empty_answer"
    if any(_is_labeled(features, f) for f in windows):
        return None
    token_spans = [_context_spans(features, f) for f in windows]
    if not any(np.any((starts < end) & (ends > start) & (ends > starts)) for starts, ends in token_spans):
        return "no_token_covers_answer"
    if not any(len(starts) and starts[0] <= start and end <= ends[-1] for starts, ends in token_spans):
        return "not_inside_any_window"
    return "missed_by_labeler"


def _context_spans(features, f):
    lo, hi = features.row_splits[f], features.row_splits[f + 1]
    context = features.char_start[lo:hi] >= 0
    return features.char_start[lo:hi][context], features.char_end[lo:hi][context]


def _audit_parser():
    parser = ArgumentParser(prog="python -m korsquad.features",
                            description="Audit the training labels a tokenizer gives a data set.")
    parser.add_argument("--audit", action="store_true", required=True,
                        help="count labeled answers, whether they cover their annotation, and why others are not")
    from .datasets import REGISTRY
    from .model_types import MODEL_TYPES

    parser.add_argument("--data_name", required=True, choices=list(REGISTRY),
                        help="a data set of the registry (korsquad.datasets)")
    parser.add_argument("--model_type", required=True, choices=MODEL_TYPES)
    parser.add_argument("--model_name_or_path", required=True, help="the tokenizer's model name or folder")
    for flag in WindowSettings.names():
        parser.add_argument(f"--{flag}", type=int, help="default: the data set's, as run_qa.py uses")
    parser.add_argument("path", help="a data set JSON file (or a folder of KorQuAD 2.x parts)")
    return parser


@exit_on_usage_error
def main(argv=None):
    from .config import resolve_model_path
    from .datasets import get_spec
    from .readers import read_examples
    from .tokenization import load_tokenizer

    args = _audit_parser().parse_args(argv)
    spec = get_spec(args.data_name)
    try:
        window = WindowSettings.first_of(vars(args), spec.defaults)
    except InvalidSetting as err:
        raise UsageError(f"--{err}") from None
    tokenizer = load_tokenizer(args.model_type, resolve_model_path(args.model_name_or_path))
    # Bad window flags are reported before the data set is read.
    check_parameters(tokenizer, pair_layout(tokenizer), window)
    examples = read_examples(args.path, spec, training=True)
    features = build_features(examples, tokenizer, window, training=True, context_format=spec.context_format)
    counts = audit_labels(examples, features, spec.context_format)
    from .unknown_tokens import context_unknown_share

    counts["unknown_share"] = context_unknown_share(examples, tokenizer, spec.context_format)
    print(_audit_summary(args.path, type(tokenizer).__name__, window, counts))
    print(json.dumps(counts))
    return 0


def _audit_summary(path, tokenizer_name, window, counts):
    labeled = counts["labeled"]
    reasons = ", ".join(f"{n} {reason}" for reason, n in counts["unlabeled"].items() if n) or "none"
    values = window.as_dict()
    return (f"{path} with {tokenizer_name} ({'/'.join(str(v) for v in values.values())} "
            f"{'/'.join(values)}): {counts['questions']} questions, {labeled} labeled, "
            f"{counts['covering_annotation']} covering their annotation, {counts['exact_text']} spelled exactly "
            f"by their tokens ({counts['exact_text'] / max(labeled, 1):.2%}); "
            f"{counts['unknown_share']:.2%} of the context characters are unknown tokens ([UNK] or byte fallback)\n"
            f"unlabeled: {reasons}")


if __name__ == "__main__":
    sys.exit(main())
