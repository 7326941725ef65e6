"""korsquad.validation: the best score a resumed training compares with is one measured the same way."""

import logging

from korsquad.datasets import get_spec
from korsquad.logs import LIBRARY_LOGGERS
from korsquad.runfolder import RunFolder
from korsquad.settings import DecodingSettings
from korsquad.validation import Evaluator, ValidationCallback

MEASURED_ON = {"dev_features": "dev-0123", "max_eval_samples": 100, "n_best_size": 20, "max_answer_length": 30,
               "null_score_diff_threshold": 0.0}


def callback(tmp_path, measured_on):
    evaluator = Evaluator(get_spec("squad_v2.0"), DecodingSettings(n_best_size=20, max_answer_length=30,
                                                                   null_score_diff_threshold=0.0), labeled=True)
    return ValidationCallback(evaluator, RunFolder(tmp_path), "eval", write_files=True, keep_best=True,
                              log_scores=True, measured_on=measured_on)


def test_a_resumed_best_score_is_kept_only_when_measured_the_same_way(tmp_path, caplog, monkeypatch):
    # The note goes through Lightning's rank-zero logger; an earlier in-process run (logs.configure) gives it its own
    # handlers, level and no propagation, so caplog (on the root logger) would never see it.
    for name in LIBRARY_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
    stopped = callback(tmp_path, MEASURED_ON)
    stopped.best.update(score=61.5, epoch=0, step=40, files_step=40)
    state = stopped.state_dict()

    same = callback(tmp_path, dict(MEASURED_ON))
    same.load_state_dict(state)
    assert same.best == {"score": 61.5, "epoch": 0, "step": 40, "files_step": 40}

    other = callback(tmp_path, dict(MEASURED_ON, dev_features="dev-4567", max_eval_samples=200))
    with caplog.at_level(logging.INFO, logger="pytorch_lightning"):
        other.load_state_dict(state)
    assert other.best == {"score": None, "epoch": None, "step": None, "files_step": None}
    (note,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("note:")]
    assert "f1 61.5 at step 40" in note and "dev_features, max_eval_samples" in note and "starts anew" in note
