"""The FeatureSet: the model features of a data set as ragged numpy columns, their consistency checks, and the
ways to take, slice and join them (the feature cache stores and joins exactly these columns)."""

from dataclasses import dataclass, fields

import numpy as np


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

    @classmethod
    def join_column(cls, name, pieces, first_examples, allocate=np.empty):
        """Column `name` of consecutive chunks joined end to end, chunk i being the features of the examples from
        first_examples[i] on (its example_index counted from 0, its row_splits from 0, as build_features and
        select_examples give them). `allocate(length, dtype)` makes the output array: the cache passes a
        memory-mapped file, so that chunks bigger than memory are joined one column at a time."""
        if name == "row_splits":  # each chunk's offsets restart at 0: shift them by the tokens before it
            out = allocate(sum(len(p) - 1 for p in pieces) + 1, cls.DTYPES[name])
            out[0], pos, base = 0, 1, 0
            for piece in pieces:
                out[pos:pos + len(piece) - 1] = piece[1:] + base
                pos += len(piece) - 1
                base += int(piece[-1])
            return out
        out = allocate(sum(len(p) for p in pieces), cls.DTYPES[name])
        pos = 0
        for piece, first in zip(pieces, first_examples):
            out[pos:pos + len(piece)] = piece + first if name == "example_index" else piece
            pos += len(piece)
        return out

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

