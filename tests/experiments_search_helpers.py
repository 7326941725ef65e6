"""What tests/unit/experiments/test_search.py and tests/e2e/test_experiments_search.py share."""

import pytest
import yaml

from conftest import FIXTURES, data_dir_with


optuna = pytest.importorskip("optuna")

TINY_SETTINGS = {"accelerator": "cpu", "max_seq_length": 128, "doc_stride": 64, "max_query_length": 32,
                 "batch_size": 8, "eval_steps": 1, "logger": "none", "logging_steps": 1}


# ---- the block ---------------------------------------------------------------------------------------------
GOOD = {"n_trials": 4, "space": {"learning_rate": {"log_uniform": [1e-5, 1e-4]}, "num_train_epochs": {
    "choices": [2, 3]}, "batch_size": {"choices": [16, 32]}, "warmup_ratio": {"uniform": [0.0, 0.1]}}}


# ---- running a search --------------------------------------------------------------------------------------
def write_experiment(tmp_path, model, search, **settings):
    squad = FIXTURES / "squad_v1_tiny.json"
    data_dir = data_dir_with(tmp_path, "squad_v1.1", squad, squad)
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "output_dir": str(tmp_path / "out"), "data_sets": ["squad_v1.1"],
        "settings": dict(TINY_SETTINGS, data_dir=str(data_dir), **settings),
        "models": [{"name": "tiny", "model_type": "bert", "model_name_or_path": str(model)}], "search": search}))
    return path

