"""What tests/unit/serving/test_predict.py and tests/e2e/test_predict.py share."""

import json
import shutil

import pytest
from conftest import FIXTURES

from korsquad.data.datasets import get_spec
from korsquad.data.readers import read_examples


SETTINGS = {"data_name": "squad_v2.0", "model_type": "bert", "max_seq_length": 128, "doc_stride": 64,
            "max_query_length": 32, "n_best_size": 20, "max_answer_length": 30, "null_score_diff_threshold": -0.5,
            "eval_batch_size": 4, "do_train": True}


@pytest.fixture(scope="module")
def run_dir(tiny_bert, tmp_path_factory):
    """A run folder as training leaves it (run.json's "config", best_model/), without the training."""
    folder = tmp_path_factory.mktemp("model") / "squad_v2.0" / "run"
    shutil.copytree(tiny_bert, folder / "best_model")
    (folder / "run.json").write_text(json.dumps({"config": SETTINGS, "status": "finished"}))
    return folder


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    """The SQuAD 2.0 fixture as JSON Lines, every other line without an id, and a blank line."""
    examples = read_examples(FIXTURES / "squad_tiny.json", get_spec("squad_v2.0"))
    records = [{"question": e.question, "context": e.context, **({"id": e.id} if i % 2 else {})}
               for i, e in enumerate(examples)]
    path = tmp_path_factory.mktemp("in") / "questions.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines[:3] + [""] + lines[3:]) + "\n", encoding="utf-8")
    return path, records

