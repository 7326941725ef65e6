"""Every saved model knows how it was trained: the README quick start's model trained, then evaluated again from
its run folder, its best.ckpt and its best_model/ folder (elsewhere, without --run_name) with the training's
windows and decoding; every evaluation recorded with what it was measured on; a checkpoint that would run code
refused."""

import json
import pickle
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, data_dir_with, run_cli

from korsquad.analysis import report
from korsquad.common.errors import UsageError
from korsquad.runs.checkpoints import SETTINGS_FILE, SETTINGS_KEY, load_checkpoint


QUICK_START_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # the README's name, not a resolved path
RUN_NAME = "sentence-transformers-all-MiniLM-L6-v2"
# Windows and decoding unlike every registry default, so only the training's own settings reproduce its answers.
TRAINED_WITH = ["--max_seq_length", "96", "--doc_stride", "32", "--max_query_length", "16", "--max_answer_length",
                "4", "--n_best_size", "5"]


def read_json(path):
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory):
    """The quick start's model trained for two steps, evaluated during training, then by a separate --do_eval of
    fewer questions (two evaluations of one run)."""
    root = tmp_path_factory.mktemp("quick_start")
    data = data_dir_with(root, "squad_v1.1", FIXTURES / "squad_v1_tiny.json", FIXTURES / "squad_v1_tiny.json")
    common = ["--model_name_or_path", QUICK_START_MODEL, "--data_name", "squad_v1.1", "--data_dir", data,
              "--output_dir", root / "model", "--accelerator", "cpu"]
    train = run_cli(*common, "--model_type", "bert", *TRAINED_WITH, "--do_train", "--do_eval", "--max_steps", "2",
                    "--max_train_samples", "8", "--max_eval_samples", "12", "--batch_size", "4")
    assert train.returncode == 0, train.stderr[-3000:]
    run_dir = root / "model" / "squad_v1.1" / RUN_NAME
    trained = read_json(run_dir / "predictions_eval.json")
    again = run_cli(*common, "--do_eval", "--max_eval_samples", "5")  # the README's second step
    return {"root": root, "data": data, "run_dir": run_dir, "trained": trained, "again": again}


@pytest.mark.slow
def test_the_quick_start_model_trains_then_evaluates_in_a_separate_do_eval(quick_start):
    again = quick_start["again"]
    assert again.returncode == 0, again.stderr[-3000:]
    assert "settings differ" not in again.stderr
    predictions = read_json(quick_start["run_dir"] / "predictions_eval.json")
    assert len(predictions) == 5 and predictions == {k: quick_start["trained"][k] for k in predictions}
    best = quick_start["run_dir"] / "checkpoints" / "best.ckpt"
    checkpoint = load_checkpoint(best)  # weights_only: every hyper-parameter a plain value
    assert isinstance(checkpoint["hyper_parameters"]["model_name_or_path"], str)
    assert checkpoint[SETTINGS_KEY]["model_name_or_path"] == QUICK_START_MODEL
    assert checkpoint[SETTINGS_KEY]["max_answer_length"] == 4
    exported = read_json(quick_start["run_dir"] / "best_model" / SETTINGS_FILE)
    assert exported == checkpoint[SETTINGS_KEY]


@pytest.mark.slow
def test_a_best_ckpt_evaluated_from_another_folder_uses_its_training_settings(quick_start, tmp_path):
    run_dir = Path(shutil.copytree(quick_start["run_dir"], tmp_path / "copy" / "squad_v1.1" / RUN_NAME))
    best = run_dir / "checkpoints" / "best.ckpt"
    (tmp_path / "elsewhere").mkdir()
    # no --run_name, no --model_type, no window or decoding flags, from another working directory: the
    # evaluation is the run's, written into its folder
    evaluate = run_cli("--model_name_or_path", QUICK_START_MODEL, "--data_name", "squad_v1.1", "--data_dir",
                       quick_start["data"], "--accelerator", "cpu", "--do_eval", "--max_eval_samples", "12",
                       "--checkpoint", best, cwd=tmp_path / "elsewhere")
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert read_json(run_dir / "predictions_eval.json") == quick_start["trained"]
    assert read_json(run_dir / "run.json")["evaluation"]["inherited_from"] == str(best)
    assert len(read_json(run_dir / "evaluations.json")) == 3 and not (tmp_path / "elsewhere" / "model").exists()

    differing = run_cli("--data_name", "squad_v1.1", "--data_dir", quick_start["data"], "--accelerator", "cpu",
                        "--do_eval", "--max_eval_samples", "2", "--checkpoint", best, "--max_answer_length", "9",
                        cwd=tmp_path)
    assert differing.returncode == 0, differing.stderr[-3000:]
    notes = [line for line in differing.stderr.splitlines() if "settings differ" in line]
    assert notes == [f"note: settings differ from the training's ({best}): max_answer_length 9 (trained with 4)"]


@pytest.mark.slow
def test_a_best_model_folder_evaluates_into_a_fresh_output_folder(quick_start, tmp_path):
    best_model = quick_start["run_dir"] / "best_model"
    evaluate = run_cli("--data_name", "squad_v1.1", "--data_dir", quick_start["data"], "--accelerator", "cpu",
                       "--do_eval", "--max_eval_samples", "12", "--checkpoint", best_model, "--output_dir",
                       tmp_path / "fresh")
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    (predictions,) = (tmp_path / "fresh" / "squad_v1.1").glob("*/predictions_eval.json")
    assert read_json(predictions) == quick_start["trained"]
    (entry,) = read_json(predictions.parent / "evaluations.json")
    assert entry["window"] == {"max_seq_length": 96, "doc_stride": 32, "max_query_length": 16}
    assert entry["checkpoint"] == str(best_model) and entry["questions"] == 12


@pytest.mark.slow
def test_the_report_shows_both_evaluations_of_a_run_each_with_its_settings(quick_start, tmp_path):
    assert quick_start["again"].returncode == 0
    _, written = report.write_report(quick_start["root"] / "model", tmp_path / "figs")
    markdown = (tmp_path / "figs" / "squad_v1.1.md").read_text()
    rows = {row[-1]: dict(zip(header, row)) for header, row in _table(markdown)}
    assert set(rows) == {f"{RUN_NAME} (evaluation 1, training)", f"{RUN_NAME} (evaluation 2, evaluation)"}
    first, second = rows[f"{RUN_NAME} (evaluation 1, training)"], rows[f"{RUN_NAME} (evaluation 2, evaluation)"]
    assert (first["eval_questions"], second["eval_questions"]) == ("12", "5")
    entries = read_json(quick_start["run_dir"] / "evaluations.json")
    assert [f"{e['result']['f1']:.2f}" for e in entries] == [row["F1 Score (%)"].strip("*") for row in (first, second)]


def _table(markdown):
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    return [(split[0], row) for row in split[2:]]


class WritesAFile:
    """Unpickling it opens (creates) a file: what any code in a pickled checkpoint could do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_a_checkpoint_holding_a_pickled_payload_is_refused_and_never_runs(tmp_path):
    import torch

    marker = tmp_path / "payload_ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "global_step": 1, "payload": WritesAFile(marker)}, evil)
    assert not marker.exists()
    with pytest.raises(UsageError, match="refused"):
        load_checkpoint(evil)
    run = run_cli("--data_name", "squad_v1.1", "--model_name_or_path", "m", "--do_eval", "--checkpoint", evil,
                  "--accelerator", "cpu", cwd=tmp_path)
    assert run.returncode == 2 and not marker.exists()
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused" in lines[0] and str(evil) in lines[0]
    with pytest.raises(pickle.UnpicklingError):  # what torch itself says: the payload was never unpickled
        torch.load(evil, weights_only=True)
    assert not marker.exists()
