"""The label audit: how well a tokenizer fits a data set, and the warning before a training it fits badly.

Three measures, each a pure function of tokens and spans:
- the labels (`audit_labels`): how many answers are labeled, cover their annotation and are spelled exactly by
  their tokens (`exact_text`), and why the others are not labeled;
- `unknown_share`: the share of the contexts' characters (whitespace aside) that the tokenizer turns into its
  unknown token or byte-fallback pieces (sentencepiece's <0xEA>): text the model cannot read. BERT's [UNK] stands
  for a whole word, so the share of characters says more than the share of tokens;
- `exact_share`: of the labeled answers, those whose tokens spell exactly the answer text.

`korsquad audit --data_name NAME --model_type T --model_name_or_path P FILE` reports them for a
data file; its last line is one JSON object. run_qa.py --do_train measures the last two on a sample of the training
questions (`measure`) and warns when they are below the bar (`fit_warning`), so that an English vocabulary on Korean
text (which trains without complaint and answers '는 서울이다') is named before the run spends its time.
all-MiniLM-L6-v2 (English WordPiece) on a KorQuAD 1.0 sample: 21-23% unknown, 91-94% exact; on SQuAD: below 0.01%
unknown, 99-100% exact.
"""

import json
import re
import shlex

import numpy as np

from ..common.errors import ArgumentParser, exit_on_usage_error
from ..data.codepoints import codepoints, whitespace_mask
from ..data.datasets import REGISTRY, get_spec
from ..data.readers import SQUAD_JSON, read_examples
from ..runs.checkpoints import locate, resolve_model_path
from ..runs.settings import WindowSettings, resolve_settings
from .model_types import MODEL_TYPES
from .pair_layout import pair_layout
from .tokenization import load_tokenizer, tokenize_with_offsets
from .windows import answer_text_span, build_features, check_parameters


# Why a question has no label in any window, in the order they are checked.
UNLABELED_REASONS = (
    "unanswerable",
    "answer_not_in_context",  # evaluation data: the reader found no occurrence of the answer text
    "empty_answer",  # whitespace only, or (html) markup that shows no text
    "no_token_covers_answer",  # the tokenizer dropped every annotated character
    "not_inside_any_window",  # longer than a window's context, or cut by every window
    "missed_by_labeler",  # a window holds the annotated characters but is not labeled: a bug
)


def audit_labels(examples, features, reader=SQUAD_JSON):
    """Counts over the questions of `examples`, given their `features` (build_features(..., training=True) with
    every window kept): `questions`; `labeled` (in some window); of those, `covering_annotation` (every labeled
    window's first token holds the first annotated character and its last token the last one) and `exact_text`
    (the labeled characters are the answer's text, without surrounding whitespace); and `unlabeled`, a count per
    reason of UNLABELED_REASONS. Characters are those of Example.context (html: what the reader sees of the
    annotation, mapped back into the HTML)."""
    bounds = np.searchsorted(features.example_index, np.arange(len(examples) + 1))
    annotated = _annotated_spans(examples, reader)
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


def _annotated_spans(examples, reader):
    """Per example, [start, end) in Example.context of what the reader sees of its first answer (None when it
    has none or it is not in its context)."""
    views = {}
    spans = []
    for example in examples:
        if not example.answers or example.answers[0].start < 0:
            spans.append(None)
            continue
        if example.context not in views:
            views[example.context] = reader.window_text(example.context)
        text, offsets = views[example.context]
        shown = answer_text_span(example.answers[0], text, offsets)
        if offsets is not None:
            starts, ends = reader.original_spans(example.context, offsets, np.array([shown[0]]), np.array([shown[1]]))
            shown = int(starts[0]), int(ends[0])
        spans.append(shown)
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
    parser = ArgumentParser(prog="korsquad audit",
                            description="Audit the training labels a tokenizer gives a data set: count labeled "
                                        "answers, whether they cover their annotation, and why others are not.")
    parser.add_argument("--data_name", required=True, choices=list(REGISTRY),
                        help="a data set of the registry (korsquad.data.datasets)")
    parser.add_argument("--model_type", required=True, choices=MODEL_TYPES)
    parser.add_argument("--model_name_or_path", required=True, help="the tokenizer's model name or folder")
    for flag in WindowSettings.names():
        parser.add_argument(f"--{flag}", type=int, help="default: the training's for a model this toolkit trained, "
                                                        "else the data set's, as run_qa.py resolves them")
    parser.add_argument("path", help="a data set JSON file (or a folder of KorQuAD 2.x parts)")
    return parser


@exit_on_usage_error
def main(argv=None):
    args = _audit_parser().parse_args(argv)
    spec = get_spec(args.data_name)
    model = locate(args.model_name_or_path, None, exported=True, flag="--model_name_or_path")
    given = {name: getattr(args, name) for name in WindowSettings.names()}
    window, _, _ = resolve_settings(given, model.settings or {}, spec.defaults)  # as run_qa.py resolves them
    tokenizer = load_tokenizer(args.model_type, resolve_model_path(model.tokenizer))
    # Bad window flags are reported before the data set is read.
    check_parameters(tokenizer, pair_layout(tokenizer), window)
    examples = read_examples(args.path, spec, training=True)
    features = build_features(examples, tokenizer, window, training=True, reader=spec.reader)
    counts = audit_labels(examples, features, spec.reader)
    counts["unknown_share"] = context_unknown_share(examples, tokenizer, spec.reader)
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


# ---- text the tokenizer cannot read ----------------------------------------------------------------------------------
_BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def unknown_token_ids(tokenizer):
    """The ids that stand for text the vocabulary lacks: the unknown token and byte-fallback pieces."""
    ids = {tokenizer.unk_token_id} if tokenizer.unk_token_id is not None else set()
    return ids | {i for token, i in tokenizer.get_vocab().items() if _BYTE_PIECE.fullmatch(token)}


def unknown_share(texts, tokenized, unknown_ids):
    """Share of the non-whitespace characters of `texts` inside tokens whose id is in `unknown_ids`; `tokenized`
    is (ids, char starts, char ends) per text, as tokenization.tokenize_with_offsets gives."""
    unknown = np.fromiter(unknown_ids, dtype=np.int64, count=len(unknown_ids))
    covered = total = 0
    for text, (ids, starts, ends) in zip(texts, tokenized):
        visible = ~whitespace_mask(codepoints(text))
        total += int(visible.sum())
        hit = np.isin(ids, unknown)
        if hit.any():
            depth = np.zeros(len(text) + 1, dtype=np.int64)  # +1 where an unknown token starts, -1 where it ends
            np.add.at(depth, starts[hit], 1)
            np.add.at(depth, ends[hit], -1)
            covered += int(np.sum(visible & (np.cumsum(depth[:-1]) > 0)))
    return covered / total if total else 0.0


def context_unknown_share(examples, tokenizer, reader):
    """unknown_share of the examples' contexts as the model reads them: the text their data set's reader gives."""
    contexts = [reader.window_text(context)[0] for context in dict.fromkeys(example.context for example in examples)]
    return unknown_share(contexts, tokenize_with_offsets(tokenizer, contexts), unknown_token_ids(tokenizer))


# ---- the warning before training -------------------------------------------------------------------------------------
SAMPLE_SIZE = 300  # questions, spread over the training set: a second or two of tokenizing
MAX_UNKNOWN_SHARE = 0.01
MIN_EXACT_SHARE = 0.8


def spread_sample(items, size=SAMPLE_SIZE):
    """At most `size` items taken evenly across `items` (the first ones are often a single article)."""
    if len(items) <= size:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, size).round().astype(int)]


def exact_share(counts):
    """Of audit_labels' counts: the share of labeled answers spelled exactly by their tokens (1.0 with none)."""
    return counts["exact_text"] / counts["labeled"] if counts["labeled"] else 1.0


def measure(examples, tokenizer, window, reader):
    """{"questions", "unknown_share", "exact_share"} of the tokenizer on `examples` (take a spread_sample), windowed
    by `window` (a settings.WindowSettings)."""
    features = build_features(examples, tokenizer, window, training=True, reader=reader)
    counts = audit_labels(examples, features, reader)
    return {"questions": len(examples), "unknown_share": context_unknown_share(examples, tokenizer, reader),
            "exact_share": exact_share(counts)}


def fit_warning(fit, audit_command):
    """One warning line when the tokenizer fits badly (unknown share above MAX_UNKNOWN_SHARE or exact share below
    MIN_EXACT_SHARE), else None."""
    if fit["unknown_share"] <= MAX_UNKNOWN_SHARE and fit["exact_share"] >= MIN_EXACT_SHARE:
        return None
    return (f"warning: the tokenizer does not fit this data: on {fit['questions']} training questions "
            f"{fit['unknown_share']:.1%} of the context characters are unknown tokens ([UNK] or byte fallback; "
            f"at most {MAX_UNKNOWN_SHARE:.0%} expected) and its tokens spell {fit['exact_share']:.1%} of the answers "
            f"exactly (at least {MIN_EXACT_SHARE:.0%} expected); a model for this language fits better. "
            f"Details: {audit_command}")


def audit_command(data_name, model_type, model_name_or_path, path, window):
    """The label audit's command line for this data and tokenizer (`window`: a settings.WindowSettings)."""
    flags = [f"--data_name={data_name}", f"--model_type={model_type}", f"--model_name_or_path={model_name_or_path}"]
    flags += [f"--{name}={value}" for name, value in window.as_dict().items()]
    return shlex.join(["korsquad", "audit", *flags, str(path)])
