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

from conftest import ROOT, run_cli
from experiments_search_helpers import GOOD, optuna, write_experiment


def test_a_malformed_search_block_stops_the_command_before_anything_runs(tmp_path, tiny_bert):
    path = write_experiment(tmp_path, tiny_bert, {"n_trials": 2, "space": {"learning_rate": {"log_uniform": [1]}}})
    result = experiment_command(path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: search: space: learning_rate: log_uniform must be a list [low, high], not [1]"]
    assert not (tmp_path / "out").exists()


def test_a_dry_run_prints_the_space_and_a_trials_command_and_runs_nothing(tmp_path, tiny_bert):
    path = write_experiment(tmp_path, tiny_bert, GOOD)
    result = experiment_command(path, "--dry_run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("search: 4 trials per study over ")
    assert "learning_rate log_uniform [1e-05, 0.0001]" in result.stdout
    assert "study tiny-seed42 (maximize f1)" in result.stdout
    assert "--run_name tiny-seed42-trial0" in result.stdout and "korsquad.cli.run" in result.stdout
    assert not (tmp_path / "out").exists()


def experiment_process(path, *flags):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "korsquad", "experiment", str(path), *flags], cwd=ROOT, env=env,
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
