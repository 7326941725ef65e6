"""A training that is one trial of an Optuna study (korsquad.experiments.search): each validation score goes to the
trial, and when the study's median pruner judges the trial hopeless the training stops after that validation, its
best checkpoint kept and exported as usual, and run.json records the run as "pruned".

The search worker names the trial in the environment of the run_qa.py it starts (TRIAL_VARIABLE: the storage URL,
the study, the trial number and the pruner's settings), not in a flag: a trial's settings stay the ones a replay
with --config gives, and a replay reports to no study. optuna is an optional extra (`pip install
'korsquad[search]'`); it is imported only by a run that is a trial.

Optuna ships a Lightning callback, but for the `lightning.pytorch` package: this project trains with
`pytorch_lightning`, whose Trainer does not call another package's callbacks. So this one is written for it.
"""

import dataclasses
import json
import os

import pytorch_lightning as pl

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


class TrialPruning(pl.Callback):
    """Reports every validation's primary score (logged by korsquad.validation.ValidationCallback as
    val_<metric>) to the trial at the optimizer step it was measured at; stops the training when the pruner says
    so. Process 0 talks to the study and every process learns its answer, so all of them stop together.
    `pruned` is {"step", "score"} of the validation that stopped it, else None."""

    def __init__(self, link, metric):
        self.link = link
        self.metric = metric
        self.pruned = None
        self._report = None

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        score = trainer.callback_metrics.get(f"val_{self.metric}")
        if score is None:
            return
        step, score = trainer.global_step, float(score)
        stop = None
        if trainer.is_global_zero:
            if self._report is None:
                self._report = TrialReport(self.link)
            stop = bool(self._report.should_stop(step, score))
        stop = trainer.strategy.broadcast(stop, src=0)
        if stop:
            self.pruned = {"step": step, "score": score}
            trainer.should_stop = True
            if trainer.is_global_zero:
                from .logs import log

                log.info(f"trial {self.link.trial} of study {self.link.study!r} pruned at step {step} "
                         f"({self.metric} {score:.2f} is below the median of the finished trials)")


def trial_callbacks(metric, environ=None):
    """[TrialPruning] when this training is a trial of a study (the search worker set TRIAL_VARIABLE), else []."""
    link = TrialLink.from_env(environ)
    return [] if link is None else [TrialPruning(link, metric)]
