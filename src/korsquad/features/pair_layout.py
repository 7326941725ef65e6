"""Where a tokenizer puts its special tokens and token types around a (question, context) pair, read from the
tokenizer itself (its post-processor for fast tokenizers, its pair-building methods for slow ones)."""

from dataclasses import dataclass

import numpy as np

from ..common.errors import UsageError


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
