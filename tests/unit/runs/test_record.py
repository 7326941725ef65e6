"""korsquad.runs.record: run.json's record of an invocation (settings, status, timing, hardware) and the list of the
invocations that trained a run."""

from korsquad.config.runconfig import resolve
from korsquad.runs.record import RECORD_KEYS, RunRecord

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
