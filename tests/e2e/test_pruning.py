"""korsquad.training.pruning: a training that is a trial of an Optuna study reports each validation and stops when the
median pruner says so."""

import json

import pytest

from conftest import FIXTURES, data_dir_with, run_cli
from korsquad.training.trial_link import TrialLink


optuna = pytest.importorskip("optuna")

QUICK = ["--accelerator", "cpu", "--max_seq_length", "128", "--doc_stride", "64", "--max_query_length", "32",
         "--batch_size", "8", "--logging_steps", "1", "--logger", "none"]
STEPS = 3  # one validation after each of them (--eval_steps 1)


def study_with_finished_trials(tmp_path, score):
    """A SQLite study holding two finished trials that scored `score` at every step, and a new trial: its link."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    for _ in range(2):
        study.add_trial(optuna.trial.create_trial(value=score, intermediate_values={
            step: score for step in range(1, STEPS + 1)}))
    return TrialLink(storage, "s", study.ask().number)


def train_trial(tiny_bert, tmp_path, link, learning_rate):
    squad = FIXTURES / "squad_v1_tiny.json"
    data_dir = data_dir_with(tmp_path, "squad_v1.1", squad, squad)
    run = run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
                  "--data_dir", data_dir, "--output_dir", tmp_path / "model", "--run_name", "trial", *QUICK,
                  "--learning_rate", learning_rate, "--max_steps", STEPS, "--eval_steps", "1", "--do_train",
                  env=link.to_env())
    assert run.returncode == 0, run.stderr[-3000:]
    study = optuna.load_study(study_name=link.study, storage=link.storage)
    return json.loads((tmp_path / "model" / "squad_v1.1" / "trial" / "run.json").read_text()), study.trials[-1]


@pytest.mark.slow
def test_a_trial_that_learns_nothing_is_stopped_at_its_first_validation(tiny_bert, tmp_path):
    """Learning rate 0 keeps the untrained model's scores, below the finished trials' (100 at every step)."""
    link = study_with_finished_trials(tmp_path, 100.0)
    record, trial = train_trial(tiny_bert, tmp_path, link, "0")
    assert record["status"] == "pruned" and record["pruned"]["step"] == 1
    assert record["train_steps"] == 1 < STEPS  # stopped before its last validation
    assert list(trial.intermediate_values) == [1]
    assert (tmp_path / "model" / "squad_v1.1" / "trial" / "best_model").is_dir()  # a clean end: exported
