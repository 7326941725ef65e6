"""korsquad.training.trial_link: which trial of which study a training is, through the environment, and the study's
storages."""

import pytest

from korsquad.training.trial_link import TRIAL_VARIABLE, Pruning, TrialLink, TrialReport, open_storage

optuna = pytest.importorskip("optuna")


def test_the_link_travels_through_the_environment_and_is_absent_without_it():
    link = TrialLink("sqlite:///x.db", "study", 7, Pruning(startup_trials=3, warmup_steps=10))
    assert TrialLink.from_env(link.to_env()) == link
    assert TrialLink.from_env({}) is None and TrialLink.from_env({TRIAL_VARIABLE: ""}) is None


@pytest.mark.parametrize("name", ["study.db", "study.log"])
def test_a_trial_asked_in_one_process_is_reported_to_from_another(tmp_path, name):
    """A SQLite URL or a journal file (.log: several machines on a shared file system): the worker asks, the
    training (here another storage object, as in its own process) reports and is pruned below the median."""
    url = f"sqlite:///{tmp_path / name}" if name.endswith(".db") else str(tmp_path / name)
    study = optuna.create_study(study_name="s", storage=open_storage(url), direction="maximize")
    for _ in range(2):
        study.add_trial(optuna.trial.create_trial(value=80.0, intermediate_values={1: 80.0, 2: 80.0}))
    trial = study.ask()
    report = TrialReport(TrialLink(url, "s", trial.number, Pruning(startup_trials=2)))
    assert report.should_stop(1, 10.0)
    assert optuna.load_study(study_name="s", storage=open_storage(url)).trials[-1].intermediate_values == {1: 10.0}
