"""korsquad.training.pruning: a training that is a trial of an Optuna study reports each validation and stops when the
median pruner says so."""

from korsquad.training.pruning import trial_callbacks
from korsquad.training.trial_link import Pruning, TrialLink


def test_a_training_that_is_no_trial_gets_no_pruning_callback():
    assert trial_callbacks("f1", environ={}) == []


def test_a_training_that_is_a_trial_reports_its_primary_metric_to_it():
    link = TrialLink("sqlite:///x.db", "study", 7, Pruning(startup_trials=3, warmup_steps=10))
    (callback,) = trial_callbacks("f1", environ=link.to_env())
    assert callback.link == link and callback.metric == "f1"
