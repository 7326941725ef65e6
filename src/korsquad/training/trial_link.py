"""A training's link to the Optuna trial it is (korsquad.experiments.search starts such trainings): which study,
where it is stored, which trial, and how it is pruned; the study's side of a report. The search worker names the
trial in the environment of the run_qa.py it starts (TRIAL_VARIABLE), not in a flag: a trial's settings stay the
ones a replay with --config gives, and a replay reports to no study.

optuna is an optional extra (`pip install 'korsquad[search]'`), imported only by what talks to a study. Nothing here
loads torch or Lightning: the experiment command reads it too (korsquad.training.pruning is the training's side).
"""

import dataclasses
import json
import os

TRIAL_VARIABLE = "KORSQUAD_OPTUNA_TRIAL"
JOURNAL_SUFFIXES = (".log", ".journal")  # a --storage path with these endings is an Optuna journal file
SQLITE_TIMEOUT_S = 60  # workers and their trainings share one SQLite file: wait for its lock instead of failing


@dataclasses.dataclass(frozen=True)
class Pruning:
    """The median pruner's settings: a trial is compared with the median of the finished trials' scores at the
    same step once `startup_trials` trials have finished and it has trained `warmup_steps` optimizer steps."""

    startup_trials: int = 2
    warmup_steps: int = 0

    def pruner(self):
        import optuna

        return optuna.pruners.MedianPruner(n_startup_trials=self.startup_trials, n_warmup_steps=self.warmup_steps)


@dataclasses.dataclass(frozen=True)
class TrialLink:
    """Which trial of which study a training reports to."""

    storage: str
    study: str
    trial: int  # the trial's number in its study
    pruning: Pruning = Pruning()

    def to_env(self):
        return {TRIAL_VARIABLE: json.dumps(dict(dataclasses.asdict(self)))}

    @classmethod
    def from_env(cls, environ=None):
        """The trial this process trains, or None when it is no trial (the variable is not set)."""
        text = (os.environ if environ is None else environ).get(TRIAL_VARIABLE)
        if not text:
            return None
        fields = json.loads(text)
        return cls(fields["storage"], fields["study"], int(fields["trial"]), Pruning(**fields.get("pruning", {})))


def open_storage(url):
    """An Optuna storage: a database URL (sqlite:///..., postgresql://..., mysql://...) or, for a path ending in
    .log or .journal, a journal file (on a shared file system, several machines' workers)."""
    import optuna

    if url.endswith(JOURNAL_SUFFIXES) and "://" not in url:
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url))
    engine = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite") else None
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


class TrialReport:
    """The study's side of one trial: report a score at a step, and ask the pruner whether to stop."""

    def __init__(self, link):
        import optuna

        self.storage = open_storage(link.storage)
        self.study = optuna.load_study(study_name=link.study, storage=self.storage, pruner=link.pruning.pruner())
        self.trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study._study_id, link.trial)

    def should_stop(self, step, score):
        # Trial.report and Trial.should_prune do the same two steps, from the process that asked for the trial
        self.storage.set_trial_intermediate_value(self.trial_id, step, score)
        return self.study.pruner.prune(self.study, self.storage.get_trial(self.trial_id))
