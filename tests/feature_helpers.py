"""Helpers shared by the tests of the feature modules (featureset, pair_layout, windows, audit): window settings,
a tiny example, and readers of a FeatureSet's windows and labels."""

import numpy as np

from korsquad.data.readers import Answer, Example
from korsquad.runs.settings import WindowSettings

SQUAD = WindowSettings(max_seq_length=384, doc_stride=128, max_query_length=64)


SMALL = WindowSettings(max_seq_length=64, doc_stride=16, max_query_length=16)  # many windows per fixture paragraph


LONG = WindowSettings(max_seq_length=512, doc_stride=128, max_query_length=64)


def feature_ranges(features, n_examples):
    """[first, stop) feature of every example."""
    bounds = np.searchsorted(features.example_index, np.arange(n_examples + 1))
    return list(zip(bounds[:-1], bounds[1:]))


def labeled_text(features, examples, f):
    """context[char_start of the labeled start token : char_end of the labeled end token], or None for CLS."""
    start, end = features.start_positions[f], features.end_positions[f]
    if start == features.cls_index[f]:
        return None
    base = features.row_splits[f]
    context = examples[features.example_index[f]].context
    return context[features.char_start[base + start]:features.char_end[base + end]]


def recoverability(features, examples):
    """Share of the examples labeled in some window whose labeled span is the gold text up to surrounding
    whitespace (every window holding an answer labels the same tokens), and how many examples were labeled."""
    recovered = {}
    for f in range(len(features)):
        text = labeled_text(features, examples, f)
        if text is not None:
            index = int(features.example_index[f])
            recovered[index] = text.strip() == examples[index].answers[0].text.strip()
    return sum(recovered.values()) / max(len(recovered), 1), len(recovered)


def context_part(features, f):
    """Positions (inside feature f) of its context tokens."""
    lo, hi = features.row_splits[f], features.row_splits[f + 1]
    return np.flatnonzero(features.char_start[lo:hi] >= 0)


def one_example(context, answer, start, qid="q"):
    return Example(qid, "What is it?", context, (Answer(answer, start),), False)
