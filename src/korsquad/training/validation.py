"""The end of every validation pass: the logits of every process, gathered on process 0, become predictions,
official scores and files there; the scores reach every process, and during training the best checkpoint and the
dev files follow the data set's primary metric.

`Evaluator` is plain numpy over examples and features (korsquad.decoding.inference assembles the logits,
korsquad.decoding.postprocess decodes, korsquad.data.scoring scores); `ValidationCallback` wires it into Lightning: it
collects what `QAModule.validation_step` returns, gathers (korsquad.training.distributed), evaluates, broadcasts, logs
and keeps the best checkpoint.
"""

import os
import shutil

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_info

from ..data.scoring import evaluate_predictions, gold_answers
from ..decoding import postprocess
from ..decoding.inference import assemble_logits
from ..features.batching import PADDING_FEATURE
from .distributed import gather_to_first, on_first_process
from .loggers import log_best_score


def without_padding(outputs):
    """A validation step's (feature indices, starts, ends) without the padding rows that keep a process with no
    features of its own in step with the others (korsquad.features.batching.PADDING_FEATURE)."""
    indices, starts, ends = outputs
    keep = np.asarray(indices) != PADDING_FEATURE
    if keep.all():
        return outputs
    rows = np.flatnonzero(keep)
    return np.asarray(indices)[rows], [starts[i] for i in rows], [ends[i] for i in rows]


class Evaluator:
    """(examples, features, gathered batches) -> (Decoded, official result; {} for unlabeled questions)."""

    def __init__(self, spec, decoding, *, labeled):
        """decoding: the settings.DecodingSettings that turn logits into answers."""
        self.spec = spec
        self.decoding = decoding
        self.labeled = labeled

    def __call__(self, examples, features, batches):
        start, end = assemble_logits(features, batches)
        decoded = postprocess.decode(features, examples, start, end, with_null=self.spec.has_unanswerable,
                                     **self.decoding.as_dict())
        return decoded, self.score(examples, decoded) if self.labeled else {}

    def score(self, examples, decoded):
        metric = self.spec.metric
        result = evaluate_predictions(examples, decoded.predictions, metric)
        # the tuned thresholds are those of a metric that scores no-answer probabilities (SQuAD 2.0's script)
        if decoded.null_odds is not None and metric.null_threshold:
            result.update(postprocess.tuned_thresholds(metric, gold_answers(examples), decoded))
        return result


class ValidationCallback(pl.Callback):
    """Evaluates every validation pass of the Trainer it is given to.

    folder, split: the RunFolder and the file suffix ("eval" or "predict") of the prediction files, written when
    `write_files`. keep_best (training): the files are written, and the weights saved as the folder's best checkpoint,
    only when the primary metric beats every earlier validation of the run (the state survives --resume), so the
    files always hold the best checkpoint's predictions. log_scores: log val_em and val_<primary metric> for the
    learning curves. `result` holds the last official result on process 0. measured_on: what the scores are
    measured on (dev features, decoding; korsquad.cli.run.measured_on), kept with the best score: a run resumed with
    another one starts its best score anew, with a note, instead of comparing scores of two different measures.

    An error while decoding or scoring on process 0 reaches every process at once (they would otherwise wait in
    the next collective until the process-group timeout)."""

    def __init__(self, evaluator, folder, split, *, write_files, keep_best, log_scores, measured_on=None):
        self.evaluator = evaluator
        self.measured_on = measured_on
        self.folder = folder
        self.split = split
        self.write_files = write_files
        self.keep_best = keep_best
        self.log_scores = log_scores
        self.metric = evaluator.spec.metric.primary_key
        self.result = None
        self.best = {"score": None, "epoch": None, "step": None, "files_step": None}
        self._batches = []
        self._new_best = False

    @property
    def state_key(self):
        return f"ValidationCallback[{self.split}]"

    def state_dict(self):
        return dict(self.best, measured_on=self.measured_on)

    def load_state_dict(self, state_dict):
        saved = state_dict.get("measured_on")
        if saved is not None and self.measured_on is not None and saved != self.measured_on:
            changed = [key for key in self.measured_on if saved.get(key) != self.measured_on[key]]
            rank_zero_info(f"note: the best score so far ({self.metric} {state_dict.get('score')} at step "
                           f"{state_dict.get('step')}) was measured with another {', '.join(changed)}; this run's "
                           "best score starts anew")
            return
        self.best.update({key: value for key, value in state_dict.items() if key in self.best})

    @property
    def files_hold_best(self):
        """Whether the dev files were written for the best checkpoint (so it need not be evaluated again)."""
        return self.best["step"] is not None and self.best["files_step"] == self.best["step"]

    def on_validation_epoch_start(self, trainer, pl_module):
        self._batches = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        outputs = without_padding(outputs)
        if len(outputs[0]):
            self._batches.append(outputs)

    def on_validation_epoch_end(self, trainer, pl_module):
        local, self._batches = self._batches, []
        gathered = gather_to_first(local)
        outcome = on_first_process(lambda: self._evaluate(trainer, gathered), "evaluating")
        self._new_best = outcome["new_best"]
        if self._new_best:
            self.best.update(score=outcome["score"], epoch=trainer.current_epoch, step=trainer.global_step)
            if self.write_files:
                self.best["files_step"] = trainer.global_step
        if self.log_scores:
            scores = {f"val_{name}": float(value) for name, value in outcome["scores"].items()}
            for name, value in scores.items():  # for the progress bar and EarlyStopping
                pl_module.log(name, value, prog_bar=True, logger=False, sync_dist=False)
            # Lightning would log these at the step count before this step's increment: name the step itself
            for logger in trainer.loggers if trainer.is_global_zero else ():
                logger.log_metrics(scores, step=trainer.global_step)
            if trainer.is_global_zero and self.best["score"] is not None:
                log_best_score(trainer.loggers, self.best["score"], trainer.global_step)

    def _evaluate(self, trainer, gathered):
        examples, features = trainer.datamodule.eval_data()
        decoded, result = self.evaluator(examples, features, gathered)
        self.result = result
        if not self.evaluator.labeled:
            if self.write_files:
                postprocess.write_outputs(self.folder, decoded, None, split=self.split)
            return {"scores": {}, "new_best": False, "score": None}
        score = float(result[self.metric])
        new_best = self.keep_best and (self.best["score"] is None or score > self.best["score"])
        if self.write_files and (new_best or not self.keep_best):
            postprocess.write_outputs(self.folder, decoded, result, split=self.split)
        scores = {"em": result[self.evaluator.spec.metric.exact_key], self.metric: score}
        return {"scores": scores, "new_best": new_best, "score": score}

    def on_validation_end(self, trainer, pl_module):
        if self._new_best:
            self._new_best = False
            save_best_checkpoint(trainer, self.folder, self.metric, self.best)


def save_best_checkpoint(trainer, folder, metric, best):
    """Every process takes part (saving is a collective); process 0 moves the file into place, then points the
    record at it, so the record never names weights of another run or a half-written file."""
    tmp, best_file = folder.checkpoints_dir / ".best.ckpt.tmp", folder.best_checkpoint_file
    save_weights_checkpoint(trainer, tmp, dict(metric=metric, **{k: best[k] for k in ("score", "epoch", "step")}))

    def move_into_place():
        if best_file.is_dir():  # DeepSpeed saves a folder of shards, which os.replace cannot put over another
            shutil.rmtree(best_file)
        os.replace(tmp, best_file)
        folder.record_best(folder.best_checkpoint_file, metric, best["score"], best["epoch"], best["step"])

    on_first_process(move_into_place, "saving the best checkpoint")


def save_weights_checkpoint(trainer, path, best):
    """What evaluation and export read: the weights, the settings (the module's hyper-parameters), the step, and
    `best` (metric, score, epoch, step) under "best". Not the optimizer's and the scheduler's state, twice the
    weights' size under AdamW, which only --resume needs (last.ckpt holds it). Trainer.save_checkpoint(path,
    weights_only=True) writes the same, less `best`: its three steps are taken here to add it."""
    checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=True)
    checkpoint["best"] = best
    trainer.strategy.save_checkpoint(checkpoint, path)
    trainer.strategy.barrier("save_weights_checkpoint")
