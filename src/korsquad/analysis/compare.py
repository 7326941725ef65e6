"""Is run B really better than run A? Paired significance of two runs' dev predictions.

    korsquad compare RUN_A RUN_B [--resamples 10000] [--seed 0] [--dev_file FILE]

RUN_A and RUN_B are run folders (`<output_dir>/<data_name>/<run_name>/`) whose `predictions_eval.json` answer the
same dev file: the digest recorded in each run.json must be equal (exit 2 with one line otherwise). Every question
both runs answered is scored with the data set's official metric (EM and F1; KLUE-MRC: EM and ROUGE-W), and for
each score the command reports, overall and per category (answerable/unanswerable, question type):
- the mean difference B - A in percentage points, with a 95% confidence interval from a paired bootstrap over
  questions (the percentile interval of the resampled mean differences) and a two-sided p-value;
- an exact McNemar test on EM: of the questions exactly one run gets right, does each run get its share by chance?
It prints a Markdown table, and last one JSON line with the same numbers.
"""

import json
import math
from pathlib import Path

import numpy as np

from ..common.errors import ArgumentParser, UsageError, exit_on_usage_error
from ..common.jsonio import load_json
from ..data.datasets import get_spec
from ..data.metrics import KEY_NAMES
from ..data.readers import data_digest, read_examples
from ..data.scoring import check_predictions, gold_answers
from ..runs.folder import RunFolder
from ..runs.record import evaluated_dev_data

CONFIDENCE = 0.95
# Resamples drawn per numpy call: bounds the index matrix to about 20 MB on SQuAD's 10,570 dev questions.
_CHUNK_BYTES = 1 << 24


# ---- statistics (pure) ----

def bootstrap_means(differences, resamples, seed):
    """Means of `differences` (shape (k, n): k scores of n questions) over `resamples` bootstrap samples of the
    questions, shape (resamples, k). Every score is resampled with the same questions: the pairing across runs is
    in each difference, the one across scores in the shared draw."""
    differences = np.atleast_2d(np.asarray(differences, dtype=np.float64))
    n = differences.shape[1]
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_BYTES // (8 * n))
    means = []
    for start in range(0, resamples, per_chunk):
        rows = min(per_chunk, resamples - start)
        picks = rng.integers(0, n, size=(rows, n))
        # How often each question is drawn in each resample: a mean is then one matrix product, several times
        # faster than gathering the drawn values.
        counts = np.bincount((picks + n * np.arange(rows)[:, None]).ravel(), minlength=rows * n).reshape(rows, n)
        means.append(counts @ differences.T / n)
    return np.concatenate(means)


def percentile_interval(means, confidence=CONFIDENCE):
    """(low, high) per column: the central `confidence` share of the bootstrap means."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail], axis=0)
    return low, high


def bootstrap_p_value(means, observed):
    """Two-sided p-value per column for "the mean difference is 0". Shifting the bootstrap distribution to centre 0
    gives the distribution under that hypothesis; p is the share of it at least as far from 0 as the observed
    difference, counting the observed sample itself (so p is never 0 from finitely many resamples)."""
    means, observed = np.atleast_2d(means), np.atleast_1d(observed)
    # A resample exactly as far from 0 counts as extreme; the slack absorbs the rounding of two equal means.
    extreme = np.abs(means - observed) >= np.abs(observed) - 1e-12 * np.maximum(1.0, np.abs(observed))
    return (1 + extreme.sum(axis=0)) / (1 + means.shape[0])


def binomial_two_sided_p(k, n):
    """Exact two-sided p-value of k successes in n fair coin flips: twice the smaller tail, at most 1. Exact
    integer arithmetic: the tail's binomial coefficients are summed as integers, then divided by 2**n once."""
    if n == 0:
        return 1.0
    smaller = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(smaller + 1))
    return min(1.0, 2 * tail / 2 ** n)


def mcnemar_exact(correct_a, correct_b):
    """(questions only A gets right, questions only B gets right, exact McNemar p-value). Questions both runs get
    right or both wrong say nothing about which is better; under "equally good" each discordant question is a fair
    coin flip between the runs."""
    correct_a, correct_b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    a_only = int(np.sum(correct_a & ~correct_b))
    b_only = int(np.sum(correct_b & ~correct_a))
    return a_only, b_only, binomial_two_sided_p(b_only, a_only + b_only)


def compare_scores(scores_a, scores_b, resamples, seed, confidence=CONFIDENCE):
    """Scores of both runs on the same questions, {name: array of per-question values in [0, 1]} with "em" first
    -> {"questions", name: {"a", "b", "diff", "ci", "p"} in percentage points, "mcnemar": {...}}."""
    names = list(scores_a)
    a = np.array([scores_a[name] for name in names], dtype=np.float64)
    b = np.array([scores_b[name] for name in names], dtype=np.float64)
    observed = (b - a).mean(axis=1)
    means = bootstrap_means(b - a, resamples, seed)
    low, high = percentile_interval(means, confidence)
    p = bootstrap_p_value(means, observed)
    group = {"questions": int(a.shape[1])}
    for i, name in enumerate(names):
        group[name] = {"a": 100 * a[i].mean(), "b": 100 * b[i].mean(), "diff": 100 * observed[i],
                       "ci": [100 * low[i], 100 * high[i]], "p": float(p[i])}
    a_only, b_only, p_mcnemar = mcnemar_exact(scores_a["em"] == 1, scores_b["em"] == 1)
    group["mcnemar"] = {"a_only": a_only, "b_only": b_only, "p": p_mcnemar}
    return group


# ---- the questions (pure) ----

def question_scores(metric, golds, predictions, qids):
    """(EM, F1) arrays over `qids` by the official metric's record (F1 is ROUGE-W for KLUE-MRC)."""
    pairs = [metric.question_scores(predictions[qid], golds[qid]) for qid in qids]
    return np.array([em for em, _ in pairs], dtype=np.float64), np.array([f1 for _, f1 in pairs], dtype=np.float64)


def categories(spec, examples):
    """{category name: set of question ids} of the examples: answerable/unanswerable where the data set has
    unanswerable questions, and each question type where it types its questions. Empty categories are left out."""
    groups = {}
    if spec.has_unanswerable:
        groups["answerable"] = {ex.id for ex in examples if ex.answers}
        groups["unanswerable"] = {ex.id for ex in examples if not ex.answers}
    for qtype, meaning in spec.question_types.items():
        groups[f"type {qtype} ({meaning})"] = {ex.id for ex in examples if ex.question_type == qtype}
    return {name: ids for name, ids in groups.items() if ids}


def compare_predictions(spec, examples, pred_a, pred_b, resamples, seed):
    """{category: compare_scores(...)} of two prediction dicts answering every one of `examples`, "all" first."""
    golds = gold_answers(examples)
    f1_name = spec.metric.primary_key  # "f1", or "rouge_w" for KLUE-MRC
    scores = {}
    for side, predictions in (("a", pred_a), ("b", pred_b)):
        em, f1 = question_scores(spec.metric, golds, predictions, list(golds))
        scores[side] = {"em": em, f1_name: f1}
    ids = np.array(list(golds))
    groups = {"all": compare_scores(scores["a"], scores["b"], resamples, seed)}
    for name, members in categories(spec, examples).items():
        mask = np.isin(ids, list(members))
        groups[name] = compare_scores({k: v[mask] for k, v in scores["a"].items()},
                                      {k: v[mask] for k, v in scores["b"].items()}, resamples, seed)
    return groups


# ---- the runs ----

def load_run(path):
    """(data_name, dev data {"path", "sha256"}, predictions) of a run folder: the dev data of its latest evaluation
    (korsquad.runs.record.evaluated_dev_data), whatever ran in the folder since (a --do_predict, a refused
    command)."""
    folder = RunFolder(path)
    record = folder.required_record()
    dev = evaluated_dev_data(folder.read_evaluations(), record)
    if dev is None:
        raise UsageError(f"{folder.root} records no digest of its dev file (evaluations.json or run.json's "
                         "\"dev_data\"); evaluate the run again with --do_eval to record it")
    predictions = check_predictions(load_json(folder.predictions()), folder.predictions())
    return record["config"].get("data_name"), dev, predictions


def check_same_dev(run_a, dev_a, run_b, dev_b):
    if dev_a["sha256"] != dev_b["sha256"]:
        raise UsageError(f"{run_a} and {run_b} were scored on different dev files: {dev_a.get('path')} "
                         f"(sha256 {dev_a['sha256'][:12]}) and {dev_b.get('path')} (sha256 {dev_b['sha256'][:12]})")


def dev_examples(spec, dev, dev_file=None):
    """The dev questions, from --dev_file or the recorded path, checked against the recorded digest."""
    path = Path(dev_file or dev.get("path") or "")
    flag = "--dev_file" if dev_file else "the recorded dev file"
    if not path.exists():
        raise UsageError(f"{flag} {path}: not found; give the dev file's current place with --dev_file")
    digest = data_digest(path, spec)
    if digest != dev["sha256"]:
        raise UsageError(f"{flag} {path}: sha256 {digest[:12]} is not the {dev['sha256'][:12]} the runs were "
                         "scored on")
    return read_examples(path, spec, training=False)


def compare_runs(run_a, run_b, resamples, seed, dev_file=None):
    """The comparison of two run folders: a JSON-ready dict (see the module docstring)."""
    data_a, dev_a, pred_a = load_run(run_a)
    data_b, dev_b, pred_b = load_run(run_b)
    if data_a != data_b:
        raise UsageError(f"{run_a} is a {data_a} run and {run_b} a {data_b} run; compare runs of one data set")
    check_same_dev(run_a, dev_a, run_b, dev_b)
    spec = get_spec(data_a)
    examples = [ex for ex in dev_examples(spec, dev_a, dev_file) if ex.id in pred_a and ex.id in pred_b]
    if not examples:
        raise UsageError(f"{run_a} and {run_b} answered no question in common")
    groups = compare_predictions(spec, examples, pred_a, pred_b, resamples, seed)
    return {"run_a": str(run_a), "run_b": str(run_b), "data_name": spec.name, "metric": spec.metric.name,
            "dev_file": dev_a.get("path"), "dev_sha256": dev_a["sha256"],
            "answered": {"a": len(pred_a), "b": len(pred_b), "both": len(examples)},
            "resamples": resamples, "seed": seed, "confidence": CONFIDENCE, "groups": groups}


# ---- output ----

def _signed(value):
    return f"{value:+.2f}"


def format_table(comparison):
    """Markdown: one row per category, for each score A, B, B - A [95% CI] and p, then McNemar on EM."""
    f1_name = next(key for key in comparison["groups"]["all"] if key not in ("questions", "em", "mcnemar"))
    label = {"em": "EM", f1_name: KEY_NAMES.get(f1_name, f1_name)}  # "F1", or "ROUGE-W" for KLUE-MRC
    header = ["questions", "n"]
    for name in ("em", f1_name):
        header += [f"{label[name]} A", f"{label[name]} B", f"{label[name]} B−A [95% CI]", "p"]
    header += ["EM: only A right", "EM: only B right", "McNemar p"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for category, group in comparison["groups"].items():
        cells = [category, str(group["questions"])]
        for name in ("em", f1_name):
            score = group[name]
            low, high = score["ci"]
            cells += [f"{score['a']:.2f}", f"{score['b']:.2f}",
                      f"{_signed(score['diff'])} [{_signed(low)}, {_signed(high)}]", f"{score['p']:.4f}"]
        test = group["mcnemar"]
        cells += [str(test["a_only"]), str(test["b_only"]), f"{test['p']:.4f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_lines(comparison):
    answered = comparison["answered"]
    return [f"A = {comparison['run_a']}", f"B = {comparison['run_b']}",
            f"{comparison['data_name']} dev {comparison['dev_file']} (sha256 {comparison['dev_sha256'][:12]}): "
            f"{answered['both']} questions answered by both runs (A answered {answered['a']}, B {answered['b']})",
            f"paired bootstrap over questions: {comparison['resamples']:,} resamples, seed {comparison['seed']}; "
            "p-values two-sided; McNemar: exact binomial test on the questions exactly one run gets right"]


def parse_args(argv):
    parser = ArgumentParser(prog="korsquad compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_a", help="run folder A (<output_dir>/<data_name>/<run_name>)")
    parser.add_argument("run_b", help="run folder B, scored on the same dev file")
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default 10,000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap's random draws (default 0)")
    parser.add_argument("--dev_file", help="the dev file's place when it moved since the runs (checked against "
                                           "the recorded digest)")
    args = parser.parse_args(argv)
    if args.resamples < 1:
        raise UsageError(f"--resamples {args.resamples}: must be at least 1")
    return args


@exit_on_usage_error
def main(argv=None):
    args = parse_args(argv)
    comparison = compare_runs(args.run_a, args.run_b, args.resamples, args.seed, args.dev_file)
    print("\n".join(summary_lines(comparison)))
    print()
    print(format_table(comparison))
    print(json.dumps(comparison, ensure_ascii=False))
    return 0
