"""korsquad.experiments.search: an experiment file's search: block, an Optuna study per cell whose trials are run
folders, shared by several workers, surviving a killed worker, ending in a best config that run_qa.py replays."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import FIXTURES, ROOT, data_dir_with, run_cli
from korsquad.errors import UsageError
from korsquad.experiments.search import check_block, trials_table

optuna = pytest.importorskip("optuna")

TINY_SETTINGS = {"accelerator": "cpu", "max_seq_length": 128, "doc_stride": 64, "max_query_length": 32,
                 "batch_size": 8, "eval_steps": 1, "logger": "none", "logging_steps": 1}


# ---- the block ---------------------------------------------------------------------------------------------
GOOD = {"n_trials": 4, "space": {"learning_rate": {"log_uniform": [1e-5, 1e-4]}, "num_train_epochs": {
    "choices": [2, 3]}, "batch_size": {"choices": [16, 32]}, "warmup_ratio": {"uniform": [0.0, 0.1]}}}


def test_a_search_block_gives_its_distributions_typed_as_the_settings():
    search = check_block(GOOD, "f.yaml: search")
    space = {p.name: (p.kind, p.values) for p in search.space}
    assert search.n_trials == 4
    assert space == {"learning_rate": ("log_uniform", (1e-5, 1e-4)), "num_train_epochs": ("choices", (2, 3)),
                     "batch_size": ("choices", (16, 32)), "warmup_ratio": ("uniform", (0.0, 0.1))}


@pytest.mark.parametrize("block, message", [
    (dict(GOOD, n_trials=0), "key 'n_trials' must be a positive integer"),
    (dict(GOOD, trials=3), "unknown key 'trials'"),
    ({"n_trials": 2, "space": {"learning_rat": {"log_uniform": [1e-5, 1e-4]}}}, "did you mean 'learning_rate'"),
    ({"n_trials": 2, "space": {"learning_rate": {"loguniform": [1e-5, 1e-4]}}}, "did you mean 'log_uniform'"),
    ({"n_trials": 2, "space": {"learning_rate": {"log_uniform": [0, 1e-4]}}}, "log_uniform needs low > 0"),
    ({"n_trials": 2, "space": {"learning_rate": {"uniform": [1e-4, 1e-5]}}}, "low < high"),
    ({"n_trials": 2, "space": {"batch_size": {"choices": [16, "big"]}}}, "key 'batch_size' must be an integer"),
    ({"n_trials": 2, "space": {"batch_size": {"choices": [16, -2]}}}, "key 'batch_size' must be positive"),
    ({"n_trials": 2, "space": {"seed": {"choices": [1, 2]}}}, "set by the experiment"),
    ({"n_trials": 2, "space": {}}, "key 'space' must name at least one setting"),
    (dict(GOOD, pruner={"startup_trials": -1}), "pruner: key 'startup_trials' must be an integer >= 0"),
])
def test_a_bad_search_block_is_one_error_naming_the_key(block, message):
    with pytest.raises(UsageError) as err:
        check_block(block, "f.yaml: search")
    assert str(err.value).startswith("f.yaml: search") and message in str(err.value), str(err.value)


def test_a_setting_both_searched_and_in_the_grid_is_refused():
    with pytest.raises(UsageError, match="'learning_rate' is both searched and in grid"):
        check_block(GOOD, "f.yaml: search", grid_keys=("learning_rate",))


def test_a_malformed_search_block_stops_the_command_before_anything_runs(tmp_path, tiny_bert):
    path = write_experiment(tmp_path, tiny_bert, {"n_trials": 2, "space": {"learning_rate": {"log_uniform": [1]}}})
    result = experiment_command(path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: search: space: learning_rate: log_uniform must be a list [low, high], not [1]"]
    assert not (tmp_path / "out").exists()


def test_without_optuna_a_search_is_one_error_line_naming_the_extra(tmp_path, tiny_bert, monkeypatch, capsys):
    import importlib.util

    from korsquad.experiments.cli import main

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else find_spec(name, *a))
    path = write_experiment(tmp_path, tiny_bert, GOOD)
    with pytest.raises(SystemExit) as end:
        main([str(path)])
    assert end.value.code == 2
    assert capsys.readouterr().err == "error: a search: block needs optuna: pip install 'korsquad[search]'\n"
    assert not (tmp_path / "out").exists()


def test_a_dry_run_prints_the_space_and_a_trials_command_and_runs_nothing(tmp_path, tiny_bert):
    path = write_experiment(tmp_path, tiny_bert, GOOD)
    result = experiment_command(path, "--dry_run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("search: 4 trials per study over ")
    assert "learning_rate log_uniform [1e-05, 0.0001]" in result.stdout
    assert "study tiny-seed42 (maximize f1)" in result.stdout
    assert "--run_name tiny-seed42-trial0" in result.stdout and "korsquad.cli" in result.stdout
    assert not (tmp_path / "out").exists()


def test_the_trials_table_marks_the_best_trial_and_shows_a_pruned_ones_last_score():
    study = optuna.create_study(direction="maximize")
    distribution = optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)
    for lr, value, state, steps in [(1e-4, 50.0, "COMPLETE", {1: 40.0}), (3e-4, 70.0, "COMPLETE", {1: 60.0}),
                                    (1e-5, None, "PRUNED", {1: 5.0})]:
        study.add_trial(optuna.trial.create_trial(params={"learning_rate": lr}, distributions={
            "learning_rate": distribution}, value=value, state=getattr(optuna.trial.TrialState, state),
            intermediate_values=steps))

    class Cell:
        data_name = "squad_v1.1"

    rows = trials_table(study, Cell, check_block({"n_trials": 3, "space": {"learning_rate": {
        "log_uniform": [1e-5, 1e-3]}}}, "x")).splitlines()
    assert rows[0] == "| trial | state | learning_rate | f1 | run folder |"
    assert rows[2:] == ["| 0 | complete | 0.0001 | 50.00 | — |", "| 1 | complete (best) | 0.0003 | 70.00 | — |",
                        "| 2 | pruned | 1e-05 | 5.00 | — |"]


# ---- running a search --------------------------------------------------------------------------------------
def write_experiment(tmp_path, model, search, **settings):
    squad = FIXTURES / "squad_v1_tiny.json"
    data_dir = data_dir_with(tmp_path, "squad_v1.1", squad, squad)
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "output_dir": str(tmp_path / "out"), "data_sets": ["squad_v1.1"],
        "settings": dict(TINY_SETTINGS, data_dir=str(data_dir), **settings),
        "models": [{"name": "tiny", "model_type": "bert", "model_name_or_path": str(model)}], "search": search}))
    return path


def experiment_process(path, *flags):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "korsquad.experiments", str(path), *flags], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def experiment_command(path, *flags, timeout=600):
    with experiment_process(path, *flags) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def load_study(tmp_path):
    return optuna.load_study(study_name="tiny-seed42", storage=f"sqlite:///{tmp_path / 'out' / 'search' / 'study.db'}")


def invocations(run_dir):
    return json.loads((run_dir / "run.json").read_text())["invocations"]


def trial_dir(tmp_path, number):
    return tmp_path / "out" / "squad_v1.1" / f"tiny-seed42-trial{number}"


@pytest.mark.slow
def test_two_workers_share_one_study_and_its_best_config_replays_to_the_same_score(tiny_bert, tmp_path):
    path = write_experiment(tmp_path, tiny_bert, {"n_trials": 4, "space": {"learning_rate": {
        "log_uniform": [1e-4, 1e-2]}}}, max_steps=2)
    workers = [experiment_process(path) for _ in range(2)]
    outputs = [worker.communicate(timeout=900) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err[-3000:] for _, err in outputs]
    study = load_study(tmp_path)
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)
    assert all(sorted(t.intermediate_values) == [1, 2] for t in study.trials if t.state.name == "COMPLETE")
    assert len({t.params["learning_rate"] for t in study.trials}) == 4  # distinct trials
    started = sum(out.count(": started (new)") for out, _ in outputs)
    assert started == 4  # no trial run twice, by one worker or by both
    for number in range(4):
        assert len(invocations(trial_dir(tmp_path, number))) == 1

    best = tmp_path / "out" / "search" / "tiny-seed42" / "best_config.yaml"
    assert yaml.safe_load(best.read_text())["learning_rate"] == study.best_params["learning_rate"]
    replay = run_cli("--config", best, "--output_dir", tmp_path / "replay", "--run_name", "replay")
    assert replay.returncode == 0, replay.stderr[-3000:]
    record = json.loads((tmp_path / "replay" / "squad_v1.1" / "replay" / "checkpoints" / "best_checkpoint.json")
                        .read_text())
    assert record["score"] == study.best_value
    table = (tmp_path / "out" / "search" / "tiny-seed42" / "trials.md").read_text().splitlines()
    assert len(table) == 2 + 4 and sum("(best)" in row for row in table) == 1


def digest_files(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def wait_for_last_checkpoint(worker, run_dir, timeout=600):
    deadline = time.monotonic() + timeout
    while not (run_dir / "checkpoints" / "last.ckpt").is_file():
        assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()
        time.sleep(0.1)


@pytest.mark.slow
def test_a_stopped_or_killed_worker_loses_no_finished_trial_and_the_next_one_resumes_its_trial(tiny_bert, tmp_path):
    path = write_experiment(tmp_path, tiny_bert, {"n_trials": 2, "space": {"learning_rate": {
        "log_uniform": [1e-4, 1e-2]}}}, max_steps=6, save_steps=1)
    # SIGTERM (a scheduler's time limit, `kill`) during trial 0: its training is stopped and recorded as interrupted
    worker = experiment_process(path)
    wait_for_last_checkpoint(worker, trial_dir(tmp_path, 0))
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=120)
    assert worker.returncode == 130, stderr[-3000:]
    assert [t.state.name for t in load_study(tmp_path).trials] == ["RUNNING"]
    # SIGKILL during trial 1, after the next worker continued trial 0 to its end
    worker = experiment_process(path)
    wait_for_last_checkpoint(worker, trial_dir(tmp_path, 1))
    os.killpg(worker.pid, signal.SIGKILL)
    _, stderr = worker.communicate()
    assert "trial 0 lost its worker: continuing it" in stderr
    finished = digest_files(trial_dir(tmp_path, 0))
    assert [t.state.name for t in load_study(tmp_path).trials] == ["COMPLETE", "RUNNING"]
    status = experiment_command(path, "--status")
    assert status.returncode == 0 and "tiny-seed42: 2 of 2 trials" in status.stdout
    assert "| 0 | complete (best) |" in status.stdout and "| 1 | running |" in status.stdout

    again = experiment_command(path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [t.number for t in load_study(tmp_path).trials] == [0, 1]  # the stopped trials went on, no new one
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in load_study(tmp_path).trials)
    assert digest_files(trial_dir(tmp_path, 0)) == finished  # byte for byte
    for number in (0, 1):
        resumed = invocations(trial_dir(tmp_path, number))
        assert len(resumed) == 2 and "--resume" in resumed[1]["argv"]
    assert "trial 1 lost its worker: continuing it" in again.stderr
