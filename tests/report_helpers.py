"""What tests/unit/analysis/test_report.py and tests/e2e/test_report.py share."""

import pytest
from report_runs import CURVES, data_name, make_run, run_config

from korsquad.data.metrics import SQUAD_V1, SQUAD_V2


@pytest.fixture
def model_dir(tmp_path):
    """Two finished SQuAD 1.1-style runs, one failed, one still running, one without result.json, one with a
    broken run.json, and a SQuAD 2.0-style data set with one run."""
    squad1, squad2 = data_name(SQUAD_V1), data_name(SQUAD_V2)
    root = tmp_path / "model"
    make_run(root, squad1, "bert-base-cased", run_config(squad1), {"exact_match": 80.123, "f1": 88.456},
             curves=CURVES)
    make_run(root, squad1, "electra-small", run_config(squad1, model_type="electra",
                                                    model_name_or_path="google/electra-small-discriminator",
                                                    learning_rate=1e-4),
             {"exact_match": 81.5, "f1": 87.0}, num_parameters=13_483_522, wall_time_s=42.0,
             curves=CURVES, hardware={"accelerator": "cpu", "devices": 1, "num_nodes": 1, "device_name": "cpu"})
    make_run(root, squad1, "crashed", run_config(squad1), status="failed", error="CUDA out of memory",
             curves={"train_loss": [(1, 6.0)]})
    make_run(root, squad1, "unfinished", run_config(squad1), status="running")
    make_run(root, squad1, "no-result", run_config(squad1))
    broken = root / squad1 / "broken"
    broken.mkdir()
    (broken / "run.json").write_text('{"config": ')
    make_run(root, squad2, "bert-base-cased", run_config(squad2),
             {"exact": 70.0, "f1": 73.25, "total": 10, "HasAns_exact": 60.0, "HasAns_f1": 66.5,
              "HasAns_total": 5, "NoAns_exact": 80.0, "NoAns_f1": 80.0, "NoAns_total": 5,
              "best_exact": 71.0, "best_exact_thresh": -1.5, "best_f1": 74.75, "best_f1_thresh": 0.0,
              "best_exact_null_score_diff_threshold": -1.5, "best_f1_null_score_diff_threshold": -2.25},
             curves=CURVES)
    return root

