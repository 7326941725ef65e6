"""Score a prediction file exactly like the official leaderboard script of its data set.

    korsquad score --data_name NAME DATASET PREDICTIONS [--na_prob_file F] [--out_file F]

DATASET is the data set JSON, a .jsonl file (one question per line, Hugging Face layout) or a KorQuAD 2.x folder of
*.json parts; PREDICTIONS a JSON object mapping question id -> answer text. The last line on stdout is one JSON
object with the official keys.
"""

import json
import math
import sys

from ..common.errors import ArgumentParser, UsageError, exit_on_usage_error
from ..common.jsonio import atomic_write_json, load_json
from .datasets import REGISTRY, get_spec
from .readers import read_examples


def gold_answers(examples):
    """Question id -> gold answer texts in data-set order (empty for an unanswerable question)."""
    return {ex.id: [answer.text for answer in ex.answers] for ex in examples}


def question_types(examples):
    """Question id -> type number of the typed questions (KLUE-MRC); empty for untyped data sets."""
    return {ex.id: ex.question_type for ex in examples if ex.question_type is not None}


def evaluate_predictions(examples, predictions, metric, na_probs=None):
    """The official result dict for in-memory predictions (id -> text) of `examples`, under `metric` (a
    korsquad.data.metrics record; with per-question-type figures where it has them and the examples are typed)."""
    return metric.score(gold_answers(examples), predictions, na_probs, question_types(examples))


def check_predictions(obj, source):
    """A prediction file must be one JSON object mapping question ids to answer strings."""
    if not isinstance(obj, dict):
        raise UsageError(f"{source}: predictions must be a JSON object mapping question id -> answer text, "
                         f"not a {type(obj).__name__}")
    for qid, text in obj.items():
        if not isinstance(text, str):
            raise UsageError(f"{source}: the prediction for id {qid!r} must be a string, "
                             f"not {type(text).__name__}")
    return obj


def check_na_probs(obj, source):
    """An na-prob file maps question ids to finite numbers; its order is kept (it breaks ties in best_*)."""
    if not isinstance(obj, dict):
        raise UsageError(f"{source}: na-probs must be a JSON object mapping question id -> probability, "
                         f"not a {type(obj).__name__}")
    probs = {}
    for qid, value in obj.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"{source}: the na-prob for id {qid!r} must be a finite number, not {value!r}")
        probs[qid] = value
    return probs


def parse_args(argv):
    parser = ArgumentParser(prog="korsquad score", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_name", required=True, help=f"one of {', '.join(REGISTRY)}")
    parser.add_argument("dataset", help="data set JSON file, .jsonl file, or KorQuAD 2.x folder of *.json parts")
    parser.add_argument("predictions", help="JSON object: question id -> predicted answer text")
    parser.add_argument("--na_prob_file", help="SQuAD 2.0 only: JSON object question id -> probability of no "
                                               "answer; adds best_exact/best_f1 and their thresholds")
    parser.add_argument("--out_file", help="also write the result JSON here")
    return parser.parse_args(argv)


@exit_on_usage_error
def main(argv=None):
    args = parse_args(argv)
    spec = get_spec(args.data_name)
    if args.na_prob_file and not spec.metric.null_threshold:
        takers = [other for other in REGISTRY.values() if other.metric.null_threshold]
        scorers = ", ".join(dict.fromkeys(other.metric.name for other in takers))
        raise UsageError(f"--na_prob_file applies only to data sets scored by the {scorers} metric "
                         f"({', '.join(other.name for other in takers)}), not {args.data_name}")
    examples = read_examples(args.dataset, spec, training=False)
    predictions = check_predictions(load_json(args.predictions), args.predictions)
    na_probs = check_na_probs(load_json(args.na_prob_file), args.na_prob_file) if args.na_prob_file else None
    unanswered = sum(1 for ex in examples if ex.id not in predictions)
    if unanswered and not spec.metric.every_prediction:  # where it does, scoring says which are missing
        print(f"note: {unanswered} of {len(examples)} questions have no prediction in {args.predictions} "
              "and score 0", file=sys.stderr)
    result = evaluate_predictions(examples, predictions, spec.metric, na_probs)
    if args.out_file:
        atomic_write_json(args.out_file, result)
    print(json.dumps(result))
    return 0
