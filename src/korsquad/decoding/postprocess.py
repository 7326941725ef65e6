"""Post-processing: start/end logits of every feature -> answer texts, n-best lists and null odds, and the files.

Inputs follow the FeatureSet contract (korsquad.features.featureset): any object with the ragged arrays `example_index`,
`row_splits`, `char_start`, `char_end`, `max_context` and `cls_index`, plus `start_logits`/`end_logits` aligned
with the token arrays. Only numpy is used. `decode` works through example-aligned chunks of features (see
`example_chunks`), so its temporary memory does not grow with the data set; callers that receive logits piece by
piece can also decode example-aligned slices of the features and merge the results with `Decoded.extend`.

Decoding rules (one example = the contiguous run of its features):
- In each feature, the `n_best_size` highest start logits and the `n_best_size` highest end logits give the
  candidate start and end positions (over all of the feature's tokens, as BERT's run_squad did; invalid positions
  are only filtered out afterwards).
- A candidate (start, end) is valid when both are context tokens (char_start >= 0), end >= start, it spans at most
  `max_answer_length` tokens, and the start token has its maximum context in this feature (so a span found in two
  overlapping windows is taken from one of them only). Score = start logit + end logit (in float64).
- The example keeps its `n_best_size` best valid candidates over all its features.
- Null score = the minimum over the example's features of start + end logit at the CLS position; null odds =
  null score - best non-null score. An example without any valid candidate gets NO_SPAN_ODDS, the largest float
  (infinite odds, but JSON has no infinity and na-prob files must hold finite numbers).
- With unanswerable questions (`with_null`), the prediction is "" when the null odds > `null_score_diff_threshold`,
  else the best span's text; without them it is the best span's text. No valid candidate at all: "".
- Answer text = context[char_start of the start token : char_end of the end token], for every tokenizer.

Deterministic order, so that equal logits always give the same result:
- Top-k positions in a feature rank by (logit descending, position ascending): of tokens with equal logits at the
  k-th place, the earlier ones are taken.
- Candidates of an example rank by (score descending, feature order ascending, start position ascending, end
  position ascending).
- The null feature is the first feature (in order) with the minimum CLS score.

The n-best list of an example holds its kept spans in rank order; with `with_null` the null answer (text "",
char offsets -1) is added to it at its place by score, after any span of equal score (a tie is not a null
prediction when the threshold is 0), so the list always says how strong "no answer" was. Probabilities are a
softmax over the list's scores. Unlike the 2021 tool, spans with the same text are not merged: every entry is a
distinct span with its own character offsets.

Non-finite logits never crash decoding: NaN ranks lowest and +-inf are clamped to the float32 range.
"""

import sys
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np

from ..common.jsonio import atomic_write_json

# Features decoded at once: bounds the temporary arrays (padded logit windows, k x k candidate grids) to about
# 45 MB for 512-token features, whatever the data set size.
DEFAULT_CHUNK_FEATURES = 2048

_FLOAT32_MAX = float(np.finfo(np.float32).max)
NO_SPAN_ODDS = sys.float_info.max


@dataclass
class Decoded:
    """What decoding produces, keyed by question id in example order.

    predictions:   id -> answer text ("" = no answer), the official predictions file.
    nbest:         id -> list of {text, probability, start_logit, end_logit, char_start, char_end}.
    best_non_null: id -> text of the best valid span ("" when there is none), whatever the null decision.
    null_odds:     id -> null score - best non-null score; None when decoded without null answers.
    """

    predictions: dict
    nbest: dict
    best_non_null: dict
    null_odds: dict = None

    def extend(self, other):
        """Append the results of another example-aligned chunk (decoded with the same settings)."""
        if (self.null_odds is None) != (other.null_odds is None):
            raise ValueError("cannot merge results decoded with and without null answers")
        self.predictions.update(other.predictions)
        self.nbest.update(other.nbest)
        self.best_non_null.update(other.best_non_null)
        if self.null_odds is not None:
            self.null_odds.update(other.null_odds)
        return self


def example_chunks(example_index, max_features):
    """Yield (start, stop) feature ranges that hold whole examples and at most `max_features` features each.

    An example with more features than `max_features` gets a range of its own.
    """
    example_index = np.asarray(example_index)
    n = len(example_index)
    # Feature positions where a new example begins, plus the end.
    boundaries = np.append(np.flatnonzero(np.diff(example_index)) + 1, n)
    start = 0
    while start < n:
        # The farthest example boundary within reach, or the next one when the first example alone is too big.
        farthest = np.searchsorted(boundaries, start + max_features, side="right") - 1
        if farthest < 0 or boundaries[farthest] <= start:
            farthest = np.searchsorted(boundaries, start, side="right")
        stop = int(boundaries[farthest])
        yield start, stop
        start = stop


def decode(features, examples, start_logits, end_logits, *, n_best_size, max_answer_length,
           null_score_diff_threshold=0.0, with_null=False, chunk_features=DEFAULT_CHUNK_FEATURES):
    """Decode the logits of `features` (all of them, or any example-aligned slice) into a Decoded.

    `examples[features.example_index[i]]` must be the example (with .id and .context) of feature i. Only the
    examples that have features appear in the result. The logits are read in place, never copied whole.
    """
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    _check_inputs(features, examples, start_logits, end_logits)
    decoded = Decoded({}, {}, {}, {} if with_null else None)
    for start, stop in example_chunks(features.example_index, chunk_features):
        chunk = _decode_chunk(features, start, stop, start_logits, end_logits,
                              n_best_size, max_answer_length, with_null)
        _collect(chunk, examples, null_score_diff_threshold, decoded)
    return decoded


def _check_inputs(features, examples, start_logits, end_logits):
    """Shape errors here are programming errors (features and logits that do not belong together)."""
    row_splits = np.asarray(features.row_splits)
    example_index = np.asarray(features.example_index)
    n_features = len(example_index)
    n_tokens = len(features.char_start)
    if len(row_splits) != n_features + 1 or len(features.cls_index) != n_features:
        raise ValueError("row_splits must have n_features + 1 entries and cls_index n_features")
    for name, array in (("char_end", features.char_end), ("max_context", features.max_context),
                        ("start_logits", start_logits), ("end_logits", end_logits)):
        if np.ndim(array) != 1 or len(array) != n_tokens:
            raise ValueError(f"{name} must be 1-D with one entry per token ({n_tokens}), got shape "
                             f"{np.shape(array)}")
    if n_features == 0:
        return
    lengths = np.diff(row_splits)
    if row_splits[0] < 0 or row_splits[-1] > n_tokens or lengths.min() < 1:
        raise ValueError("row_splits must be non-decreasing token offsets and every feature needs a token")
    cls_index = np.asarray(features.cls_index)
    if cls_index.min() < 0 or np.any(cls_index >= lengths):
        raise ValueError("cls_index must be a position inside its feature")
    if np.any(np.diff(example_index) < 0) or example_index[0] < 0 or example_index[-1] >= len(examples):
        raise ValueError("example_index must be non-decreasing indices into the examples")


@dataclass
class _Chunk:
    """Decoded arrays of the examples of one chunk of features, in example order.

    Spans are sorted by (example, rank) and hold only the kept ones; `span_splits[g]:span_splits[g+1]` are the
    spans of example g of the chunk.
    """

    example: np.ndarray  # [n_examples] index into the examples list
    span_splits: np.ndarray  # [n_examples + 1]
    span_score: np.ndarray  # float64
    span_start_logit: np.ndarray  # float32
    span_end_logit: np.ndarray
    span_char_start: np.ndarray
    span_char_end: np.ndarray
    null_score: np.ndarray = None  # [n_examples] float64, with null answers only
    null_start_logit: np.ndarray = None
    null_end_logit: np.ndarray = None


def _padded_logits(logits, token, inside):
    """The logits of a chunk as a [features, width] grid, finite, padded with -inf after each feature's end."""
    grid = logits[token].astype(np.float32, copy=False)
    np.nan_to_num(grid, copy=False, nan=-_FLOAT32_MAX, posinf=_FLOAT32_MAX, neginf=-_FLOAT32_MAX)
    grid[~inside] = -np.inf
    return grid


def _top_k_positions(grid, k):
    """Per row, the positions of the k largest values in ascending position order (ties: lower positions win)."""
    # A full row sort is the fastest way to the k-th largest value with numpy's SIMD sorts (and, unlike
    # partition, never slow on rows full of equal values).
    kth_largest = np.sort(grid, axis=1)[:, -k, None]
    chosen = grid >= kth_largest
    tied = np.flatnonzero(np.count_nonzero(chosen, axis=1) > k)
    if len(tied):
        chosen[tied] = _lowest_positions_first(grid[tied], kth_largest[tied], k)
    return np.nonzero(chosen)[1].reshape(len(grid), k)


def _lowest_positions_first(grid, kth_largest, k):
    """Mask of the k largest of each row, taking the values equal to the k-th largest from the lowest positions."""
    above = grid > kth_largest
    at = grid == kth_largest
    room = k - np.count_nonzero(above, axis=1)[:, None]
    return above | (at & (np.cumsum(at, axis=1) <= room))


def _group_starts(sorted_keys):
    """Index of the first element of each run of equal values in a sorted array."""
    first = np.ones(len(sorted_keys), dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return np.flatnonzero(first)


def _rank_in_group(sorted_keys):
    """0, 1, 2, ... within each run of equal values of a sorted array."""
    starts = _group_starts(sorted_keys)
    return np.arange(len(sorted_keys)) - np.repeat(starts, np.diff(np.append(starts, len(sorted_keys))))


def _decode_chunk(features, start, stop, start_logits, end_logits, n_best_size, max_answer_length, with_null):
    offsets = np.asarray(features.row_splits[start:stop + 1], dtype=np.int64)
    lengths = np.diff(offsets)
    offsets = offsets[:-1, None]
    feature_example = np.asarray(features.example_index[start:stop])
    char_start, char_end = features.char_start, features.char_end
    n_rows, width = len(lengths), int(lengths.max())
    position = np.arange(width)
    inside = position < lengths[:, None]
    # Padding cells point at the feature's last token so that every index is in range; `inside` masks them.
    token = offsets + np.minimum(position, lengths[:, None] - 1)
    starts_grid = _padded_logits(start_logits, token, inside)
    ends_grid = _padded_logits(end_logits, token, inside)

    k = min(n_best_size, width)
    start_pos = _top_k_positions(starts_grid, k)
    end_pos = _top_k_positions(ends_grid, k)
    start_token = np.take_along_axis(token, start_pos, 1)
    end_token = np.take_along_axis(token, end_pos, 1)
    start_ok = (np.take_along_axis(inside, start_pos, 1) & (char_start[start_token] >= 0)
                & features.max_context[start_token])
    end_ok = np.take_along_axis(inside, end_pos, 1) & (char_start[end_token] >= 0)
    span_length = end_pos[:, None, :] - start_pos[:, :, None] + 1
    valid = (start_ok[:, :, None] & end_ok[:, None, :] & (span_length >= 1)
             & (span_length <= max_answer_length))
    start_logits_k = np.take_along_axis(starts_grid, start_pos, 1)
    end_logits_k = np.take_along_axis(ends_grid, end_pos, 1)
    pair_score = np.where(valid, start_logits_k[:, :, None].astype(np.float64) + end_logits_k[:, None, :],
                          -np.inf).reshape(n_rows, k * k)
    # An example's n_best_size best are among the n_best_size best of each of its features: drop the other pairs
    # (keeping ties with a feature's n_best_size-th score is harmless, the final ranking cuts them).
    enough = np.sort(pair_score, axis=1)[:, -min(n_best_size, k * k), None]
    # nonzero walks in (feature, start position, end position) order: the tie order of the candidates. (A pair's
    # flat index i * k + j orders pairs by start then end position, since both top-k lists are ascending.)
    row, pair = np.nonzero((pair_score >= enough) & valid.reshape(n_rows, k * k))
    i, j = np.divmod(pair, k)
    start_logit, end_logit = start_logits_k[row, i], end_logits_k[row, j]
    score = pair_score[row, pair]
    candidate_example = feature_example[row]
    # A stable sort by (example, -score) keeps the (feature, start, end) order among equal scores.
    order = np.lexsort((-score, candidate_example))
    kept = order[_rank_in_group(candidate_example[order]) < n_best_size]

    examples_here = feature_example[_group_starts(feature_example)]
    kept_example = candidate_example[kept]
    chunk = _Chunk(
        example=examples_here,
        span_splits=np.append(np.searchsorted(kept_example, examples_here), len(kept)),
        span_score=score[kept],
        span_start_logit=start_logit[kept],
        span_end_logit=end_logit[kept],
        span_char_start=char_start[start_token[row[kept], i[kept]]],
        span_char_end=char_end[end_token[row[kept], j[kept]]],
    )
    if with_null:
        rows = np.arange(n_rows)
        cls = np.asarray(features.cls_index[start:stop])
        null_start, null_end = starts_grid[rows, cls], ends_grid[rows, cls]
        feature_null = null_start.astype(np.float64) + null_end
        # Per example the first feature with the minimum CLS score: stable sort by (example, score).
        first = np.lexsort((feature_null, feature_example))[_group_starts(feature_example)]
        chunk.null_score = feature_null[first]
        chunk.null_start_logit = null_start[first]
        chunk.null_end_logit = null_end[first]
    return chunk


def _list_scores(chunk):
    """Softmax probabilities over each example's n-best list, and where the null answer goes in it.

    Returns (span probabilities, null probabilities, null places); the last two are None without null answers.
    The null answer's place is the number of the example's spans scoring at least as much as it.
    """
    n_examples = len(chunk.example)
    spans_per_example = np.diff(chunk.span_splits)
    span_group = np.repeat(np.arange(n_examples), spans_per_example)
    best = np.full(n_examples, -np.inf)
    has_spans = spans_per_example > 0
    best[has_spans] = chunk.span_score[chunk.span_splits[:-1][has_spans]]
    if chunk.null_score is not None:
        best = np.maximum(best, chunk.null_score)
    span_weight = np.exp(chunk.span_score - best[span_group])
    total = np.bincount(span_group, weights=span_weight, minlength=n_examples)
    if chunk.null_score is None:
        return span_weight / total[span_group], None, None
    null_weight = np.exp(chunk.null_score - best)
    total = total + null_weight  # (bincount of no spans is an integer array)
    at_least_null = chunk.span_score >= chunk.null_score[span_group]
    null_place = np.bincount(span_group, weights=at_least_null, minlength=n_examples).astype(np.int64)
    return span_weight / total[span_group], null_weight / total, null_place


def _span_entries(chunk, examples, span_probability):
    """The n-best dicts of all the chunk's spans, in (example, rank) order (one comprehension: the hot loop)."""
    contexts = [examples[e].context for e in chunk.example.tolist()]
    span_context = chain.from_iterable(map(repeat, contexts, np.diff(chunk.span_splits).tolist()))
    return [{"text": context[start:end], "probability": probability, "start_logit": start_logit,
             "end_logit": end_logit, "char_start": start, "char_end": end}
            for context, start, end, probability, start_logit, end_logit in zip(
                span_context, chunk.span_char_start.tolist(), chunk.span_char_end.tolist(),
                span_probability.tolist(), chunk.span_start_logit.tolist(), chunk.span_end_logit.tolist())]


def _collect(chunk, examples, null_score_diff_threshold, decoded):
    """Turn a chunk's arrays into the per-question texts, n-best dicts and null odds of `decoded`."""
    span_probability, null_probability, null_place = _list_scores(chunk)
    entries = _span_entries(chunk, examples, span_probability)
    splits, score = chunk.span_splits.tolist(), chunk.span_score.tolist()
    with_null = chunk.null_score is not None
    if with_null:
        null_score, null_prob, null_place = (chunk.null_score.tolist(), null_probability.tolist(),
                                             null_place.tolist())
        null_start, null_end = chunk.null_start_logit.tolist(), chunk.null_end_logit.tolist()
    for group, example_number in enumerate(chunk.example.tolist()):
        qid, first, last = examples[example_number].id, splits[group], splits[group + 1]
        nbest = entries[first:last]
        best_text = nbest[0]["text"] if nbest else ""
        decoded.best_non_null[qid] = best_text
        if with_null:
            odds = null_score[group] - score[first] if nbest else NO_SPAN_ODDS
            decoded.null_odds[qid] = odds
            decoded.predictions[qid] = "" if odds > null_score_diff_threshold else best_text
            nbest.insert(null_place[group], {"text": "", "probability": null_prob[group],
                                             "start_logit": null_start[group], "end_logit": null_end[group],
                                             "char_start": -1, "char_end": -1})
        else:
            decoded.predictions[qid] = best_text
        decoded.nbest[qid] = nbest


def tuned_thresholds(metric, golds, decoded):
    """A null-threshold metric's (SQuAD 2.0's) best_exact/best_f1 and their thresholds, the official way.

    Every question is answered with its best non-null span and the null odds serve as na-probs, so a threshold
    t means "answer when null odds <= t": exactly `--null_score_diff_threshold t`. `golds` maps id -> gold texts
    (empty list = unanswerable) as in korsquad.data.metrics.
    """
    if decoded.null_odds is None:
        raise ValueError("tuned thresholds need null odds: decode with with_null=True")
    result = metric.score(golds, decoded.best_non_null, na_probs=decoded.null_odds)
    tuned = {key: result[key] for key in metric.threshold_keys}
    # The official *_thresh is 0.0 when answering nothing is best, which `odds > 0.0` does not reproduce when
    # every null odds is negative: the threshold to give back is computed with decode's own rule.
    has_answer = {qid: bool(answers) for qid, answers in golds.items()}
    exact, f1s = metric.raw_scores(golds, decoded.best_non_null)
    for key, scores in ((metric.exact_key, exact), (metric.primary_key, f1s)):
        tuned[metric.tuned_flag_key(key)] = reproducing_threshold(
            scores, decoded.best_non_null, decoded.null_odds, has_answer)
    return tuned


def reproducing_threshold(scores, best_non_null, null_odds, has_answer):
    """The `null_score_diff_threshold` t whose predictions score best under decode's rule: a question is answered
    with its best span when its null odds <= t, else with no answer. Questions of equal null odds are answered
    together, as a threshold must; among thresholds of equal score the lowest wins, as in the official tuning, so
    t gives the official best score except where that falls between questions of exactly equal odds. t is the
    largest odds answered; when answering none is best, the official 0.0 if every odds is above it, else a round
    number below every odds. So t is the official threshold wherever that one reproduces the score."""
    running = best = sum(1 for qid in scores if not has_answer[qid])
    order = sorted(null_odds, key=null_odds.get)  # stable: ties in file order, as the official tuning walks them
    threshold = None
    for i, qid in enumerate(order):
        if has_answer[qid]:
            running += scores[qid]
        elif best_non_null[qid]:
            running -= 1
        last_of_its_odds = i + 1 == len(order) or null_odds[order[i + 1]] != null_odds[qid]
        if last_of_its_odds and running > best:
            best, threshold = running, null_odds[qid]
    if threshold is None:  # no answer anywhere: below the lowest odds
        lowest = null_odds[order[0]]
        threshold = 0.0 if lowest > 0.0 else float(np.floor(lowest) - 1.0)
        if not threshold < lowest:  # too large for floor - 1 to move it
            threshold = float(np.nextafter(lowest, -np.inf))
    return threshold


def write_outputs(folder, decoded, result, split="eval"):
    """Write the prediction, n-best, null-odds (with null answers) and result files of a RunFolder atomically;
    return their paths.

    The dev evaluation writes `*_eval.json` and result.json (the 2021 names); `--do_predict` (split "predict",
    result None) writes `*_predict.json` beside them, without touching the evaluation's files."""
    files = {folder.predictions(split): decoded.predictions, folder.nbest(split): decoded.nbest}
    if decoded.null_odds is not None:
        files[folder.null_odds(split)] = decoded.null_odds
    if result is not None:
        files[folder.result_json] = result
    for path, content in files.items():
        atomic_write_json(path, content)
    return list(files)
