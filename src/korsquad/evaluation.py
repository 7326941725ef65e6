"""From gathered evaluation logits to predictions, official scores and output files (process 0 only)."""

import numpy as np

from . import postprocess
from .evaluate import evaluate_predictions, gold_answers


def assemble_logits(features, batches):
    """Per-feature logits from any number of batches -> ragged start/end arrays aligned with the feature tokens.

    The list of batches is consumed (emptied) as it is copied, so the logits are not held twice. Every feature
    must be present exactly once: a missing or repeated feature is a bug in the sharding."""
    start = np.empty(features.num_tokens, dtype=np.float32)
    end = np.empty(features.num_tokens, dtype=np.float32)
    seen = np.zeros(len(features), dtype=np.int32)
    splits = features.row_splits
    while batches:
        indices, starts, ends = batches.pop()
        for f, s, e in zip(indices, starts, ends):
            start[splits[f]:splits[f + 1]] = s
            end[splits[f]:splits[f + 1]] = e
        np.add.at(seen, indices, 1)
    if not np.all(seen == 1):
        raise RuntimeError(f"evaluation covered {np.sum(seen == 0)} features never and {np.sum(seen > 1)} twice")
    return start, end


class Evaluator:
    """Called with the gathered batches at the end of each evaluation: decodes, scores and writes the files.

    `only_when_best` (during training): write only when the F1 beats every earlier evaluation of this run, the
    same rule by which the best checkpoint is kept, so the files then hold the best checkpoint's predictions and
    a final evaluation of it need not run again."""

    def __init__(self, spec, data, *, n_best_size, max_answer_length, null_score_diff_threshold,
                 labeled=True):
        self.spec = spec
        self.data = data  # () -> (examples, features): known only once the DataModule is set up in each process
        self.decode_settings = dict(n_best_size=n_best_size, max_answer_length=max_answer_length,
                                    null_score_diff_threshold=null_score_diff_threshold,
                                    with_null=spec.has_unanswerable)
        self.labeled = labeled
        self.output_dir = None  # where the files go; None: nowhere
        self.only_when_best = False
        self.best_f1 = None  # the best F1 written so far (with only_when_best)
        self.result = None

    def __call__(self, batches):
        examples, features = self.data()
        start, end = assemble_logits(features, batches)
        decoded = postprocess.decode(features, examples, start, end, **self.decode_settings)
        self.result = self.score(examples, decoded) if self.labeled else {}
        if self.output_dir is not None and self._worth_writing():
            postprocess.write_outputs(self.output_dir, decoded, self.result if self.labeled else None,
                                      split="eval" if self.labeled else "predict")
        em = self.result.get("exact_match", self.result.get("exact"))
        return {"em": em, "f1": self.result["f1"]} if self.labeled else {}

    def _worth_writing(self):
        if not self.only_when_best:
            return True
        if self.best_f1 is not None and self.result["f1"] <= self.best_f1:
            return False
        self.best_f1 = self.result["f1"]
        return True

    def score(self, examples, decoded):
        result = evaluate_predictions(examples, decoded.predictions, self.spec.metric)
        if decoded.null_odds is not None:
            result.update(postprocess.tuned_thresholds(gold_answers(examples), decoded))
        return result
