"""A training that is one trial of an Optuna study (korsquad.experiments.search): each validation score goes to the
trial, and when the study's median pruner judges the trial hopeless the training stops after that validation, its
best checkpoint kept and exported as usual, and run.json records the run as "pruned". Which trial it is comes from
the environment (korsquad.training.trial_link).

Optuna ships a Lightning callback, but for the `lightning.pytorch` package: this project trains with
`pytorch_lightning`, whose Trainer does not call another package's callbacks. So this one is written for it.
"""

import pytorch_lightning as pl

from .trial_link import TrialLink, TrialReport


class TrialPruning(pl.Callback):
    """Reports every validation's primary score (logged by korsquad.training.validation.ValidationCallback as
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
                from ..common.console import log

                log.info(f"trial {self.link.trial} of study {self.link.study!r} pruned at step {step} "
                         f"({self.metric} {score:.2f} is below the median of the finished trials)")


def trial_callbacks(metric, environ=None):
    """[TrialPruning] when this training is a trial of a study (the search worker set TRIAL_VARIABLE), else []."""
    link = TrialLink.from_env(environ)
    return [] if link is None else [TrialPruning(link, metric)]
