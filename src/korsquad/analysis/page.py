"""The evaluation page of a run: one self-contained HTML file to read its predictions question by question.

    korsquad inspect RUN_FOLDER [--split eval|predict] [--data_file FILE] [--out FILE]

Reads the run folder's files of the split (predictions_<split>.json, nbest_predictions_<split>.json,
null_odds_<split>.json where the data set has unanswerable questions, result.json for the dev evaluation) and the
data file those predictions answer: the one its run.json names (the dev data's recorded path, --dev_file or the
data set's dev file under --data_dir; --predict_file), or --data_file. Writes RUN_FOLDER/inspect_<split>.html
unless --out says otherwise: no network, scripts and styles inline, opens from disk in any browser. The page's content is built by the pure
functions of korsquad.analysis.page_content. Bad input is one `error:` line and exit status 2; the page is written under
a temporary name and renamed when complete.
"""

import gc
import json
from pathlib import Path

from ..common.errors import ArgumentParser, UsageError, exit_on_usage_error
from ..common.jsonio import atomic_write_bytes, load_json
from ..data.datasets import DEFAULT_DATA_DIR, get_spec
from ..data.readers import read_examples
from ..data.scoring import check_na_probs, check_predictions
from ..runs.folder import EVAL_SPLIT, PREDICT_SPLIT, RunFolder
from ..runs.record import evaluated_dev_data
from .page_content import PageSettings, build_page, render_page

SPLIT_FLAG = {EVAL_SPLIT: "do_eval", PREDICT_SPLIT: "do_predict"}


def build_parser():
    parser = ArgumentParser(prog="korsquad inspect", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_folder", help="a run folder written by run_qa.py (run.json and prediction files)")
    parser.add_argument("--split", choices=(EVAL_SPLIT, PREDICT_SPLIT), default=EVAL_SPLIT,
                        help="eval: the dev evaluation (--do_eval); predict: --do_predict's answers (default: eval)")
    parser.add_argument("--data_file", help="the data file the predictions answer (default: the one run.json names)")
    parser.add_argument("--out", help="the HTML file to write (default: RUN_FOLDER/inspect_<split>.html)")
    return parser


def split_record(record, split, run_json, evaluations=()):
    """The part of run.json of the invocation that wrote the split's files: an evaluation's own ("evaluation") when
    it did this split, else the training's. The dev predictions of an evaluation that a later invocation (a
    --do_predict) replaced in run.json are still the folder's: evaluations.json records it, and the training's part
    names the data set."""
    flag = SPLIT_FLAG[split]
    for part in (record.get("evaluation"), record):
        if isinstance(part, dict) and isinstance(part.get("config"), dict) and part["config"].get(flag):
            return part
    if split == EVAL_SPLIT and evaluations:
        return record
    raise UsageError(f"{run_json}: no run of this folder did --{flag}, so it has no {split} predictions")


def data_source(config, spec, split, run_json, recorded=None):
    """The data file (or KorQuAD 2.x folder) the run's predictions of `split` answer: the dev data's absolute path
    that the run recorded (`recorded`: korsquad.runs.record.evaluated_dev_data's), else the file its settings
    name."""
    if split == PREDICT_SPLIT:
        named = [config.get("predict_file")]
    else:
        named = [recorded, config.get("dev_file") or spec.split_path(config.get("data_dir") or DEFAULT_DATA_DIR, "dev")]
    for path in filter(None, named):
        if Path(path).exists():
            return Path(path)
    shown = next(filter(None, named), None)
    raise UsageError(f"the data file {shown} that {run_json} names is not here (a relative path is read from the "
                     "current folder): give --data_file")


def read_nbest(path):
    """The n-best file as id -> list of entries; {} when the run has none."""
    if not path.is_file():
        return {}
    nbest = load_json(path)
    if not isinstance(nbest, dict) or not all(isinstance(entries, list) and all(isinstance(e, dict) for e in entries)
                                              for entries in nbest.values()):
        raise UsageError(f"{path}: expected a JSON object mapping question id -> list of n-best answers")
    return nbest


def questions_answered(examples, predictions, source, predictions_path):
    """The examples the run answered, in data-set order; a prediction for a question the data lacks is an error
    (the predictions answer another file)."""
    known = {example.id for example in examples}
    stray = [qid for qid in predictions if qid not in known]
    if stray:
        raise UsageError(f"{predictions_path}: {len(stray)} predicted ids are not questions of {source} (e.g. "
                         f"{stray[0]}): give the data file these predictions answer with --data_file")
    return [example for example in examples if example.id in predictions]


def load_run(run_folder, split, data_file=None):
    """Everything the page needs from a run folder: (examples, predictions, nbest, null_odds, spec, settings,
    notes)."""
    folder = RunFolder(run_folder)
    record = folder.required_record()
    evaluations = folder.read_evaluations() if split == EVAL_SPLIT else []
    part = split_record(record, split, folder.run_json, evaluations)
    config = part["config"]
    spec = get_spec(config.get("data_name"))
    predictions_path = folder.predictions(split)
    if not predictions_path.is_file():
        raise UsageError(f"{predictions_path}: not found: run run_qa.py with --{SPLIT_FLAG[split]} first")
    predictions = check_predictions(load_json(predictions_path), predictions_path)
    recorded = (evaluated_dev_data(evaluations, record) or {}).get("path") if split == EVAL_SPLIT else None
    source = Path(data_file) if data_file else data_source(config, spec, split, folder.run_json, recorded)
    examples = read_examples(source, spec, training=False, labeled=split == EVAL_SPLIT)
    shown = questions_answered(examples, predictions, source, predictions_path)
    notes = []
    if len(shown) < len(examples):
        notes.append(f"{len(examples) - len(shown)} of the {len(examples)} questions of {source} have no prediction "
                     "(not evaluated, e.g. --max_eval_samples) and are not shown")
    nbest = read_nbest(folder.nbest(split))
    if not nbest:
        notes.append(f"no {folder.nbest(split).name}: no n-best lists, and predictions are not highlighted")
    null_odds = None
    if spec.has_unanswerable and folder.null_odds(split).is_file():
        null_odds = check_na_probs(load_json(folder.null_odds(split)), folder.null_odds(split))
    official = None
    if split == EVAL_SPLIT and folder.result_json.is_file():
        official = load_json(folder.result_json)
    settings = PageSettings(
        title=folder.root.name, data_name=spec.name, split=split, model=str(config.get("model_name_or_path") or ""),
        data_file=str(source), official=official if isinstance(official, dict) else None,
        threshold=decoding_threshold(config, evaluations) if spec.has_unanswerable else None)
    return shown, predictions, nbest, null_odds, spec, settings, notes


def decoding_threshold(config, evaluations):
    """The --null_score_diff_threshold the predictions were decoded with: the latest evaluation's (evaluations.json),
    else the settings' (--do_predict, older runs)."""
    decoding = evaluations[-1].get("decoding") if evaluations else None
    if isinstance(decoding, dict) and "null_score_diff_threshold" in decoding:
        return decoding["null_score_diff_threshold"]
    return config.get("null_score_diff_threshold")


@exit_on_usage_error
def main(argv=None):
    # The files become about a million small objects and none of them form cycles: without the collector walking
    # them again and again while they are made, the page takes a fifth less time.
    gc.disable()
    try:
        return write_page(build_parser().parse_args(argv))
    finally:
        gc.enable()


def write_page(args):
    """Read the run, build the page, write it; print where, and one JSON line."""
    examples, predictions, nbest, null_odds, spec, settings, notes = load_run(args.run_folder, args.split,
                                                                              args.data_file)
    page = build_page(examples, predictions, nbest, null_odds, spec, settings, notes)
    out = Path(args.out) if args.out else Path(args.run_folder) / f"inspect_{args.split}.html"
    data = render_page(page).encode("utf-8")
    atomic_write_bytes(out, data)
    print(f"{out}: {len(page['questions'])} questions, {len(data) / 1e6:.1f} MB")
    print(json.dumps({"out": str(out), "questions": len(page["questions"]), "bytes": len(data)}))
    return 0
