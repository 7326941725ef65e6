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
"""

import re
from dataclasses import dataclass, fields

import numpy as np

from .errors import UsageError
from .tokenization import encode_texts, tokenize_with_offsets

# Tokenizers without a configured limit report a huge model_max_length; only a real limit is checked.
_UNSET_MODEL_MAX_LENGTH = 1_000_000


@dataclass
class FeatureSet:
    """Columnar, ragged features (see notes/contracts.md). Features of one example are contiguous."""

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


def check_parameters(tokenizer, layout, max_seq_length, doc_stride, max_query_length, negative_window_ratio):
    """UsageError naming the flag when windows cannot be built as asked."""
    for flag, value in (("--max_seq_length", max_seq_length), ("--doc_stride", doc_stride),
                        ("--max_query_length", max_query_length)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise UsageError(f"{flag} must be a positive integer, got {value!r}")
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
    if not 0.0 <= negative_window_ratio <= 1.0:
        raise UsageError(f"--negative_window_ratio must be between 0 and 1, got {negative_window_ratio}")


def build_features(examples, tokenizer, *, max_seq_length, doc_stride, max_query_length, training,
                   negative_window_ratio=1.0, seed=0, context_format="text"):
    """Features of `examples` (see the module docstring), as a FeatureSet.

    Labels (start/end token inside the feature) come from each example's first answer when it lies wholly in the
    window, else they point at the CLS token, as for unanswerable questions; evaluation examples with answers
    get labels too. `context_format` is the data set's `spec.context_format` ("html" for KorQuAD 2.x). In
    training with negative_window_ratio < 1, every window holding the answer is kept and each other window with
    that probability (seeded by `seed`); evaluation keeps every window. Bad parameters raise UsageError.
    """
    if context_format not in ("text", "html"):
        raise ValueError(f"context_format must be 'text' or 'html', not {context_format!r}")
    layout = pair_layout(tokenizer)
    check_parameters(tokenizer, layout, max_seq_length, doc_stride, max_query_length, negative_window_ratio)
    if not examples:
        return empty_features()
    contexts = _tokenized_contexts(examples, tokenizer, context_format)
    questions = encode_texts(tokenizer, [example.question for example in examples])
    sampler = np.random.default_rng(seed) if training and negative_window_ratio < 1.0 else None
    builder = _Builder(layout)
    for index, example in enumerate(examples):
        context = contexts[example.context]
        builder.add_example(index, example, questions[index][:max_query_length], context,
                            max_seq_length, doc_stride, sampler, negative_window_ratio)
    return builder.finish()


@dataclass
class _Context:
    ids: np.ndarray
    starts: np.ndarray  # token spans in the tokenized text (the HTML's readable text for html contexts)
    ends: np.ndarray
    orig_starts: np.ndarray  # token spans in Example.context
    orig_ends: np.ndarray
    text_offsets: np.ndarray = None  # html: index in Example.context of every text character


def _tokenized_contexts(examples, tokenizer, context_format):
    unique = list(dict.fromkeys(example.context for example in examples))
    if context_format == "html":
        from .html_text import html_to_text

        views = [html_to_text(html) for html in unique]
        texts = [text for text, _ in views]
    else:
        texts = unique
    tokenized = tokenize_with_offsets(tokenizer, texts)
    contexts = {}
    for i, (original, (ids, starts, ends)) in enumerate(zip(unique, tokenized)):
        if context_format == "html":
            offsets = np.asarray(views[i][1], dtype=np.int64)
            orig_starts, orig_ends = _spans_in_original(starts, ends, offsets, _source_ends(original, offsets),
                                                        len(original))
            contexts[original] = _Context(ids, starts, ends, orig_starts, orig_ends, offsets)
        else:
            contexts[original] = _Context(ids, starts, ends, starts, ends)
    return contexts


def _spans_in_original(starts, ends, offsets, source_ends, original_length):
    """Text spans [s, e) -> original spans [offsets[s], source_ends[e-1]); empty spans stay empty."""
    if len(starts) == 0:
        return starts, ends
    padded_starts = np.append(offsets, original_length).astype(np.int32)
    orig_starts = padded_starts[starts]
    last = np.maximum(ends - 1, 0)
    orig_ends = np.where(ends > starts, source_ends[last], orig_starts).astype(np.int32)
    return orig_starts, orig_ends


_ENTITY = re.compile(r"&(?:#[0-9]+;?|#[xX][0-9A-Fa-f]+;?|[A-Za-z][A-Za-z0-9]*;)")


def _source_ends(html, offsets):
    """End in the HTML of the source of every text character: one past it, or past the whole entity (`&gt;`)
    that a decoded character came from, so that a span ending on `>` keeps its `&gt;` whole."""
    source_ends = offsets + 1
    from_entity = np.flatnonzero(np.frombuffer(html.encode("utf-32-le"), dtype=np.uint32)[offsets] == ord("&"))
    for i in from_entity.tolist():
        match = _ENTITY.match(html, int(offsets[i]))
        if match:
            source_ends[i] = match.end()
    return source_ends


def _answer_in_text(example, context):
    """The first answer's token span in the tokenized context, or None (unanswerable, not found, empty).

    Annotations sometimes mark an answer inside a longer word: SQuAD's train set marks `7` inside `1817` where the
    annotator meant a later "7". No token span can produce such text, so the answer moves to the nearest
    occurrence of its text that starts and ends on token boundaries, when there is one."""
    if example.is_impossible or not example.answers:
        return None
    start, end = _answer_chars(example.answers[0])
    if start < 0:
        return None
    span, aligned = _token_span(context, start, end)
    if span is None or aligned:
        return span
    text, nearest = example.context[start:end], None
    found = example.context.find(text)
    while found >= 0 and text:
        candidate, candidate_aligned = _token_span(context, found, found + len(text))
        if candidate_aligned and (nearest is None or abs(found - start) < abs(nearest[0] - start)):
            nearest = (found, candidate)
        found = example.context.find(text, found + 1)
    return nearest[1] if nearest else span


def _token_span(context, start, end):
    """(first, last) token of the original characters [start, end), and whether the tokens begin and end exactly
    there."""
    if context.text_offsets is not None:
        start, end = np.searchsorted(context.text_offsets, [start, end], side="left").tolist()
    span = answer_token_span(context.starts, context.ends, start, end)
    aligned = span is not None and context.starts[span[0]] == start and context.ends[span[1]] == end
    return span, aligned


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
        answer = _answer_in_text(example, context)
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
