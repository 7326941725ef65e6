"""korsquad.experiments.state: where a cell stands, read from its run folder, its lock and its record of attempts
by any process."""

import json

from korsquad.experiments.lock import CellLock
from korsquad.experiments.record import finish_attempt, start_attempt
from korsquad.experiments.spec import load_experiment
from korsquad.experiments.state import cell_state


def one_cell(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(f"output_dir: {tmp_path / 'out'}\ndata_sets: [squad_v2.0]\nsettings: {{learning_rate: 5e-5}}\n"
                    "models: [{model_type: bert, model_name_or_path: m}]\n")
    return load_experiment(path).cells[0]


def write_run(cell, status, config=None, result=None, last_checkpoint=False):
    folder = cell.folder
    folder.root.mkdir(parents=True, exist_ok=True)
    folder.run_json.write_text(json.dumps({"config": dict(cell.settings, **(config or {})), "status": status,
                                           "wall_time_s": 12.5, "error": "ValueError: boom"}))
    if result is not None:
        folder.result_json.write_text(json.dumps(result))
    if last_checkpoint:
        folder.checkpoints_dir.mkdir(exist_ok=True)
        folder.last_checkpoint.write_bytes(b"state")


def test_a_cell_is_pending_until_it_runs_and_done_with_its_scores(tmp_path):
    cell = one_cell(tmp_path)
    assert (cell_state(cell).status, cell_state(cell).detail) == ("pending", "not started")
    write_run(cell, "finished", result={"exact": 70.0, "f1": 73.5, "HasAns_f1": 60.0})
    state = cell_state(cell)
    assert (state.status, state.scores, state.wall_time_s, state.detail) == ("done", {"exact": 70.0, "f1": 73.5},
                                                                            12.5, "")


def test_a_done_cell_trained_with_other_settings_than_the_file_says_so(tmp_path):
    cell = one_cell(tmp_path)
    write_run(cell, "finished", config={"learning_rate": 3e-5}, result={"exact": 1.0, "f1": 2.0})
    state = cell_state(cell)
    assert state.status == "done"
    assert state.detail == "trained with learning_rate 3e-05 (file: 5e-05): the file says otherwise now"


def test_an_interrupted_cell_is_pending_and_a_failed_one_shows_its_error(tmp_path):
    cell = one_cell(tmp_path)
    write_run(cell, "running", last_checkpoint=True)  # killed in the middle of its training
    assert cell_state(cell).detail == "interrupted: continues from its last.ckpt (--resume)"
    cell.folder.last_checkpoint.unlink()
    assert cell_state(cell).detail == "interrupted before its first checkpoint: starts again"
    write_run(cell, "failed")
    assert (cell_state(cell).status, cell_state(cell).detail) == ("failed", "ValueError: boom")
    index = start_attempt(cell, ["python"], None, "new")
    finish_attempt(cell, index, 1, "error: the attempt's own line", 3.0)
    assert cell_state(cell).detail == "error: the attempt's own line"
    start_attempt(cell, ["python"], None, "resume")  # then its launcher was killed: pending again
    assert cell_state(cell).status == "pending"


def test_a_cell_whose_lock_another_process_holds_is_running(tmp_path):
    import subprocess
    import sys

    cell = one_cell(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom korsquad.experiments.lock import "
                               "CellLock\nprint(CellLock(sys.argv[1]).acquire(), flush=True)\ntime.sleep(60)",
                               str(CellLock.of(cell).path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "True"
        state = cell_state(cell)
        assert state.status == "running" and state.detail.startswith(f"pid {holder.pid} on ")
        assert cell_state(cell, held_here=True).status == "pending"  # the holder itself does not look
    finally:
        holder.kill()
        holder.wait()


def test_a_resumed_cell_is_done_in_the_time_of_all_its_attempts(tmp_path):
    cell = one_cell(tmp_path)
    for mode, wall_time_s in (("new", 30.0), ("resume", 12.5)):  # interrupted, then resumed to its end
        finish_attempt(cell, start_attempt(cell, ["python"], None, mode), 0 if mode == "resume" else None, None,
                       wall_time_s, interrupted=mode == "new")
    write_run(cell, "finished", result={"exact": 70.0, "f1": 73.5})
    state = cell_state(cell)
    assert (state.status, state.wall_time_s, state.detail) == ("done", 42.5, "2 attempts")
    assert state.describe() == "exact 70.00  f1 73.50  42.5 s  2 attempts"
