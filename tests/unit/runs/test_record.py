"""korsquad.runs.record: run.json's record of an invocation (settings, status, timing, hardware) and the list of the
invocations that trained a run.

What each evaluation was measured on (korsquad.runs.record): the settings of an evaluation's row, and the dev
data the folder's predictions_eval.json answers.
"""

from report_runs import evaluation

from korsquad.config.runconfig import resolve
from korsquad.runs.record import RECORD_KEYS, RunRecord, evaluated_dev_data, evaluation_settings


BASE = ["--model_type", "bert", "--model_name_or_path", "some/model", "--data_name", "squad_v1.1", "--do_train",
        "--accelerator", "cpu"]


def test_a_training_records_its_settings_status_and_invocation(tmp_path):
    argv = [*BASE, "--output_dir", str(tmp_path)]
    config = resolve(argv)
    record = RunRecord(config, argv, first_process=True)
    record.write("running", num_parameters=10)
    running = config.folder.read_record()
    assert running["status"] == "running" and running["finished_at"] is None and running["wall_time_s"] is None
    assert running["config"] == config.record() and running["num_parameters"] == 10
    assert running["hardware"] == {"accelerator": "cpu", "devices": 1, "num_nodes": 1, "device_name": "cpu"}
    assert [i["argv"] for i in running["invocations"]] == [argv]
    record.train_steps = 7
    record.write("finished")
    finished = config.folder.read_record()
    assert finished["status"] == "finished" and finished["train_steps"] == 7 and finished["wall_time_s"] >= 0
    assert finished["num_parameters"] == 10  # what an earlier write added is kept
    assert set(finished) <= RECORD_KEYS  # so the record replays through --config


def test_a_resume_adds_its_invocation_and_the_settings_it_changed(tmp_path):
    first = [*BASE, "--output_dir", str(tmp_path), "--max_steps", "4"]
    RunRecord(resolve(first), first, first_process=True).write("finished")
    again = [*BASE, "--output_dir", str(tmp_path), "--resume", "--max_steps", "8"]
    config = resolve(again)
    RunRecord(config, again, first_process=True).write("finished")
    invocations = config.folder.read_record()["invocations"]
    assert [i["argv"] for i in invocations] == [first, again]
    assert invocations[1]["changed"] == {"max_steps": [4, 8], "resume": [False, True]}


def test_only_the_first_process_writes(tmp_path):
    argv = [*BASE, "--output_dir", str(tmp_path)]
    config = resolve(argv)
    RunRecord(config, argv, first_process=False).write("finished")
    assert not config.folder.run_json.exists()



def test_a_refusal_after_the_first_write_puts_back_the_record_it_found(tmp_path):
    """A UsageError raised once the invocation has written "running" leaves run.json as it found it (a finished
    run stays finished, without the refused invocation); any other error, or a refused new run, says "failed"."""
    from korsquad.common.errors import UsageError

    first = [*BASE, "--output_dir", str(tmp_path), "--max_steps", "4"]
    new_run = RunRecord(resolve(first), first, first_process=True)
    new_run.start()
    new_run.fail(UsageError("refused"))
    assert resolve(first).folder.read_record()["status"] == "failed"
    new_run.write("finished")
    found = resolve(first).folder.run_json.read_bytes()

    again = [*BASE, "--output_dir", str(tmp_path), "--resume", "--max_steps", "8"]
    refused = RunRecord(resolve(again), again, first_process=True)
    refused.start()
    assert resolve(again).folder.read_record()["status"] == "running"
    refused.fail(UsageError("refused"))
    assert resolve(again).folder.run_json.read_bytes() == found

    crashed = RunRecord(resolve(again), again, first_process=True)
    crashed.start()
    crashed.fail(RuntimeError("out of memory"))
    record = resolve(again).folder.read_record()
    assert record["status"] == "failed" and record["error"] == "RuntimeError: out of memory"
    assert len(record["invocations"]) == 2


# ---- evaluations.json: what each evaluation was measured on ----------------------------------------------------------
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

    from korsquad.runs.record import evaluation_entry

    monkeypatch.chdir(tmp_path)
    settings = SimpleNamespace(as_dict=dict)
    config = SimpleNamespace(window=settings, decoding=settings)
    entry = evaluation_entry(config, during="evaluation", dev_file="data/dev.json", dev_digest=DIGEST_A, questions=3,
                             checkpoint="best.ckpt", step=5, result={})
    assert entry["dev_file"] == str(tmp_path / "data" / "dev.json")
