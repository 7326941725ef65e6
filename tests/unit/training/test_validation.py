"""korsquad.training.validation: padding rows never reach the evaluation, gathered logits are decoded and scored
officially, and the best score a resumed training compares with is one measured the same way."""

import logging

import numpy as np
from conftest import FIXTURES

from korsquad.data.datasets import get_spec
from korsquad.data.readers import read_examples
from korsquad.features.batching import PADDING_FEATURE
from korsquad.features.windows import build_features
from korsquad.runs.folder import RunFolder
from korsquad.runs.settings import DecodingSettings, WindowSettings
from korsquad.training.validation import Evaluator, ValidationCallback, without_padding

MEASURED_ON = {"dev_features": "dev-0123", "max_eval_samples": 100, "n_best_size": 20, "max_answer_length": 30,
               "null_score_diff_threshold": 0.0}


def callback(tmp_path, measured_on):
    evaluator = Evaluator(get_spec("squad_v2.0"), DecodingSettings(n_best_size=20, max_answer_length=30,
                                                                   null_score_diff_threshold=0.0), labeled=True)
    return ValidationCallback(evaluator, RunFolder(tmp_path), "eval", write_files=True, keep_best=True,
                              log_scores=True, measured_on=measured_on)


def test_a_resumed_best_score_is_kept_only_when_measured_the_same_way(tmp_path, caplog):
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


def test_padding_rows_are_dropped_before_gathering():
    starts, ends = [np.full(3, i, np.float32) for i in range(3)], [np.full(3, -i, np.float32) for i in range(3)]
    indices, kept_starts, kept_ends = without_padding((np.array([PADDING_FEATURE, 7, PADDING_FEATURE]), starts, ends))
    assert indices.tolist() == [7] and [s[0] for s in kept_starts] == [1] and [e[0] for e in kept_ends] == [-1]
    real = (np.array([4, 5]), starts[:2], ends[:2])
    assert without_padding(real) is real


def labelled_logits(features, batch_size):
    """Batches of (feature indices, starts, ends), in reverse order, whose best span in every window holding the
    answer is its label."""
    batches = []
    for first in range(0, len(features), batch_size):
        indices = np.arange(first, min(first + batch_size, len(features)))
        starts, ends = [], []
        for f in indices:
            start, end = np.zeros((2, features.lengths[f]), np.float32)
            if features.start_positions[f] != features.cls_index[f]:
                start[features.start_positions[f]] = end[features.end_positions[f]] = 10.0
            starts.append(start)
            ends.append(end)
        batches.append((indices, starts, ends))
    return batches[::-1]


def test_the_evaluator_decodes_gathered_logits_and_scores_them_officially(bert_pair):
    spec = get_spec("squad_v1.1")
    examples = read_examples(FIXTURES / "squad_v1_tiny.json", spec)[:6]
    features = build_features(examples, bert_pair[1], WindowSettings(max_seq_length=64, doc_stride=24,
                                                                       max_query_length=16), training=False)
    assert len(features) > len(examples)  # answers in some windows, not in others
    decoding = DecodingSettings(n_best_size=20, max_answer_length=30, null_score_diff_threshold=0.0)

    decoded, result = Evaluator(spec, decoding, labeled=True)(examples, features, labelled_logits(features, 4))
    assert list(decoded.predictions) == [e.id for e in examples]
    assert all(decoded.predictions[e.id] in e.context for e in examples)
    assert result["exact_match"] == result["f1"] == 100.0

    unlabeled, none = Evaluator(spec, decoding, labeled=False)(examples, features, labelled_logits(features, 3))
    assert none == {} and unlabeled.predictions == decoded.predictions
