"""What each evaluation was measured on (korsquad.runs.evaluations): the settings of an evaluation's row, and the dev
data the folder's predictions_eval.json answers."""

from report_runs import evaluation

from korsquad.runs.evaluations import evaluated_dev_data, evaluation_settings

DIGEST_A, DIGEST_B = "a" * 64, "b" * 64


def test_an_evaluation_row_has_its_own_count_and_do_eval_in_place_of_the_trainings():
    config = {"do_train": True, "do_eval": False, "max_eval_samples": 60, "learning_rate": 3e-5,
              "null_score_diff_threshold": 0.0}
    settings = evaluation_settings(config, evaluation({"f1": 1.0}, 30, null_score_diff_threshold=-2.0))
    assert settings["do_eval"] is True and settings["eval_questions"] == 30
    assert "max_eval_samples" not in settings  # the training's limit, not what this evaluation scored
    assert settings["null_score_diff_threshold"] == -2.0 and settings["learning_rate"] == 3e-5


def test_the_dev_data_is_the_latest_evaluations_whatever_ran_since():
    training = {"config": {"do_train": True, "do_eval": True}, "dev_data": {"path": "/data/a.json", "sha256": DIGEST_A}}
    first = dict(evaluation({}, 10), dev_file="data/a.json", dev_digest=DIGEST_A)
    second = dict(evaluation({}, 10), dev_file="data/b.json", dev_digest=DIGEST_B)
    # the latest evaluation, on another file, then a --do_predict that took "evaluation" in run.json
    predicted = dict(training, evaluation={"config": {"do_predict": True}})
    assert evaluated_dev_data([first, second], predicted) == {"path": "data/b.json", "sha256": DIGEST_B}
    # the absolute path run.json records for the same digest in place of the entry's relative one
    assert evaluated_dev_data([second, first], predicted) == {"path": "/data/a.json", "sha256": DIGEST_A}
    evaluated = dict(training, evaluation={"config": {"do_eval": True},
                                           "dev_data": {"path": "/data/b.json", "sha256": DIGEST_B}})
    assert evaluated_dev_data([first, second], evaluated) == {"path": "/data/b.json", "sha256": DIGEST_B}


def test_a_folder_without_evaluations_json_reads_run_json():
    training = {"config": {}, "dev_data": {"path": "/data/a.json", "sha256": DIGEST_A}}
    assert evaluated_dev_data([], training) == training["dev_data"]
    later = dict(training, evaluation={"config": {}, "dev_data": {"path": "/data/b.json", "sha256": DIGEST_B}})
    assert evaluated_dev_data([], later) == later["evaluation"]["dev_data"]
    assert evaluated_dev_data([], {"config": {}}) is None


def test_an_entry_names_its_dev_file_by_absolute_path(tmp_path, monkeypatch):
    """compare and inspect read the entry from any folder: a relative --dev_file is resolved when it is recorded."""
    from types import SimpleNamespace

    from korsquad.runs.evaluations import evaluation_entry

    monkeypatch.chdir(tmp_path)
    settings = SimpleNamespace(as_dict=dict)
    config = SimpleNamespace(window=settings, decoding=settings)
    entry = evaluation_entry(config, during="evaluation", dev_file="data/dev.json", dev_digest=DIGEST_A, questions=3,
                             checkpoint="best.ckpt", step=5, result={})
    assert entry["dev_file"] == str(tmp_path / "data" / "dev.json")
