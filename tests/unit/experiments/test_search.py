"""korsquad.experiments.search: an experiment file's search: block, an Optuna study per cell whose trials are run
folders, shared by several workers, surviving a killed worker, ending in a best config that run_qa.py replays."""

import pytest

from experiments_search_helpers import GOOD, optuna, write_experiment
from korsquad.common.errors import UsageError
from korsquad.experiments.search import check_block, trials_table


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


def test_a_worker_telling_the_study_how_its_trial_ended_still_holds_the_trial(tmp_path, tiny_bert, monkeypatch):
    """Two workers: while the first tells the study its trial's end, the second must not take that trial over
    (it did when the run folder's lock was released before the telling: 'Cannot tell a COMPLETE trial')."""
    from korsquad.experiments import runner, search
    from korsquad.experiments.spec import load_experiment

    class FinishedRun:  # a trial's run_qa.py that has ended
        mode = "new"

        def __init__(self, *args, **kwargs):
            pass

        def start(self):
            return self

        def poll(self):
            return 0

        def finish(self, interrupted=False):
            pass

    monkeypatch.setattr(runner, "CellRun", FinishedRun)
    experiment = load_experiment(write_experiment(tmp_path, tiny_bert, dict(GOOD, n_trials=1)))
    block = search.check_block(experiment.search, "search")
    url = search.storage_url(experiment, None)
    (cell, study), = search.open_studies(experiment, block, url)
    folder = search.search_dir(experiment)
    other_worker = search.open_study(cell, block, url, create=False)
    seen_by_other_worker = []
    conclude = search.conclude

    def conclude_while_another_worker_looks(*args):
        seen_by_other_worker.append(search.claim_trial(other_worker, cell, block, folder))
        return conclude(*args)

    monkeypatch.setattr(search, "conclude", conclude_while_another_worker_looks)
    search.work_on(study, cell, block, url, folder)
    assert seen_by_other_worker == [None]
    assert [t.state.name for t in study.get_trials()] == ["FAIL"]  # no run record: told failed, once

    conclude(other_worker, 0, search.trial_cell(cell, 0, study.trials[0].params), folder)  # told already
    assert [t.state.name for t in study.get_trials()] == ["FAIL"]
