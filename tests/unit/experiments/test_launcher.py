"""korsquad.experiments.launcher and runner: which cells run side by side on which GPUs, the environment and flags
each cell's process gets, retries, and the error line of a failed attempt. The processes are stand-ins that end
after a few polls and leave a finished run folder (the real ones: tests/test_experiments_run.py)."""

import json
from pathlib import Path

import pytest

from korsquad.common.errors import UsageError
from korsquad.experiments.launcher import GpuPool, LocalLauncher, parse_gpu_ids
from korsquad.experiments.record import read_attempts
from korsquad.experiments.runner import TOKEN_VARIABLE, error_line, visible_devices
from korsquad.experiments.spec import load_experiment
from korsquad.runs.folder import RunFolder


def experiment(tmp_path, sizes):
    """One model per entry of `sizes` (base: 1 GPU, large: 4), one seed."""
    models = "\n".join(f"  - {{model_type: bert, model_name_or_path: m{i}, size: {size}}}"
                       for i, size in enumerate(sizes))
    path = tmp_path / "exp.yaml"
    path.write_text(f"output_dir: {tmp_path / 'out'}\ndata_sets: [squad_v1.1]\nseeds: [1]\n"
                    "sizes: {base: {gpus: 1}, large: {gpus: 4}}\n" f"models:\n{models}\n")
    return load_experiment(path)


def flag(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


class FakeProcess:
    def __init__(self, runs, argv, env):
        self.runs, self.argv, self.env, self.polls, self.pid = runs, argv, env, 0, None
        self.gpus = set(env.get("CUDA_VISIBLE_DEVICES", "").split(",")) - {""}
        self.code = None

    def poll(self):
        if self.code is None:
            self.polls += 1
            if self.polls >= self.runs.polls:
                self.code = self.runs.exit_codes.pop(0) if self.runs.exit_codes else 0
                self.runs.running.remove(self)
                if self.code == 0:
                    finished_run_folder(self.argv)
                else:
                    print(f"error: made to fail with {self.code}", file=self.runs.log_of(self))
        return self.code

    def wait(self, timeout=None):
        while self.poll() is None:
            pass
        return self.code


class FakeRuns:
    """`spawn` for the launcher: records every process it starts, checks that no GPU is in two running cells."""

    def __init__(self, polls=3, exit_codes=()):
        self.polls, self.exit_codes = polls, list(exit_codes)
        self.started, self.running, self.most_at_once = [], [], 0
        self.running_at_start = []  # how many cells were running when each started

    def __call__(self, argv, *, env, stdout, **kwargs):
        process = FakeProcess(self, argv, env)
        process.log = stdout.name
        for other in self.running:
            assert not (other.gpus & process.gpus), f"GPUs {other.gpus & process.gpus} in two cells"
        self.started.append(process)
        self.running_at_start.append(len(self.running))
        self.running.append(process)
        self.most_at_once = max(self.most_at_once, len(self.running))
        return process

    @staticmethod
    def log_of(process):
        return open(process.log, "a")


def finished_run_folder(argv):
    folder = RunFolder.of(flag(argv, "--output_dir"), flag(argv, "--data_name"), flag(argv, "--run_name"))
    folder.root.mkdir(parents=True)
    folder.run_json.write_text(json.dumps({"config": {"do_train": True}, "status": "finished", "wall_time_s": 1.0}))
    folder.result_json.write_text(json.dumps({"exact_match": 50.0, "f1": 60.0}))


def test_eight_base_cells_run_side_by_side_on_eight_gpus_one_each(tmp_path):
    cells = experiment(tmp_path, ["base"] * 8).cells
    runs = FakeRuns()
    outcomes = LocalLauncher(list(range(8)), spawn=runs, say=lambda line: None, poll_s=0).run(cells)
    assert [o.status for o in outcomes] == ["done"] * 8
    assert runs.most_at_once == 8
    assert sorted(p.env["CUDA_VISIBLE_DEVICES"] for p in runs.started) == [str(i) for i in range(8)]
    assert all(flag(p.argv, "--gpu_ids") == "0" for p in runs.started)
    # every process of a cell carries its lock's token, each cell its own
    assert len({p.env[TOKEN_VARIABLE] for p in runs.started}) == 8


def test_large_cells_take_four_gpus_and_base_cells_wait_their_turn(tmp_path):
    cells = experiment(tmp_path, ["large", "large", "base", "large", "base"]).cells
    runs = FakeRuns()
    LocalLauncher(list(range(8)), spawn=runs, say=lambda line: None, poll_s=0).run(cells)
    first, second = runs.started[:2]
    assert (first.env["CUDA_VISIBLE_DEVICES"], second.env["CUDA_VISIBLE_DEVICES"]) == ("0,1,2,3", "4,5,6,7")
    assert flag(first.argv, "--gpu_ids") == flag(second.argv, "--gpu_ids") == "0,1,2,3"
    assert [flag(p.argv, "--run_name") for p in runs.started] == [c.name for c in cells]  # in the plan's order
    # the two large cells fill the eight GPUs; the base cell starts once they end, then the large and the base one
    # beside it (6 GPUs); no GPU ever in two cells (checked at each start)
    assert runs.running_at_start == [0, 1, 0, 1, 2]


def test_without_gpus_cells_run_one_after_another_with_their_own_devices(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    cells = experiment(tmp_path, ["base", "large"]).cells
    runs = FakeRuns()
    LocalLauncher(None, spawn=runs, say=lambda line: None, poll_s=0).run(cells)
    assert runs.most_at_once == 1
    assert all("CUDA_VISIBLE_DEVICES" not in p.env and "--gpu_ids" not in p.argv for p in runs.started)
    assert flag(runs.started[1].argv, "--devices") == "4"  # the large cell keeps its batches: DDP on 4 devices


def test_a_cell_needing_more_gpus_than_given_is_refused_before_anything_runs(tmp_path):
    cells = experiment(tmp_path, ["base", "large"]).cells
    runs = FakeRuns()
    with pytest.raises(UsageError, match=r"cell squad_v1.1/m1-seed1 needs 4 GPUs \(size large\) and --gpu_ids gives 2"):
        LocalLauncher([0, 1], spawn=runs).run(cells)
    assert runs.started == []
    finished_run_folder(cells[1].command())  # trained before, on four GPUs: the two GPUs left do for the rest
    LocalLauncher([0, 1], spawn=runs, say=lambda line: None, poll_s=0).run(cells)
    assert [flag(p.argv, "--run_name") for p in runs.started] == [cells[0].name]


def test_a_cells_gpus_are_picked_from_the_launchers_own_visible_devices():
    assert visible_devices([1, 2], {"CUDA_VISIBLE_DEVICES": "4,5,6,7"}) == "5,6"
    assert visible_devices([1, 2], {}) == "1,2"
    pool = GpuPool([3, 1, 2])
    assert pool.take(2) == [3, 1] and pool.take(2) is None
    pool.give([3])
    assert pool.take(2) == [3, 2]
    assert parse_gpu_ids("0,1, 2") == [0, 1, 2]
    for bad in ("0,0", "a", ""):
        with pytest.raises(UsageError, match="--gpu_ids"):
            parse_gpu_ids(bad)


def test_a_failed_attempt_is_retried_unless_it_failed_on_bad_input(tmp_path):
    cells = experiment(tmp_path, ["base", "base"]).cells
    runs = FakeRuns(exit_codes=[1, 0, 2])  # the first cell fails once then trains; the second fails on bad input
    lines = []
    outcomes = LocalLauncher(None, retries=1, spawn=runs, say=lines.append, poll_s=0).run(cells)
    assert [o.status for o in outcomes] == ["done", "failed"]
    assert [len(read_attempts(c)) for c in cells] == [2, 1]
    assert outcomes[1].exit_code == 2 and outcomes[1].error == "error: made to fail with 2"
    assert read_attempts(cells[1])[0]["error"] == "error: made to fail with 2"
    assert any("failed (exit status 1): error: made to fail with 1; trying again (2 of 2)" in line for line in lines)
    # run again: the failed cell is tried again (its record keeps both runs' attempts), the done one is not
    runs = FakeRuns(exit_codes=[1, 1])
    outcomes = LocalLauncher(None, retries=1, spawn=runs, say=lines.append, poll_s=0).run(cells)
    assert [flag(p.argv, "--run_name") for p in runs.started] == [cells[1].name] * 2
    assert [o.status for o in outcomes] == ["done", "failed"] and len(read_attempts(cells[1])) == 3


def test_the_error_line_is_run_qas_error_else_the_last_line(tmp_path):
    folder = RunFolder(tmp_path / "run")
    log = "==== attempt 1\nsome progress\nerror: --model_name_or_path /x: cannot load the model (no folder)\nbye\n"
    assert error_line(log, 2, folder) == "error: --model_name_or_path /x: cannot load the model (no folder)"
    assert error_line("==== attempt 1\nTraceback ...\nRuntimeError: CUDA out of memory\n", 1, folder) == \
        "RuntimeError: CUDA out of memory"
    assert error_line("==== attempt 1\n", -9, folder) == "killed by SIGKILL"
    folder.root.mkdir()
    folder.run_json.write_text(json.dumps({"config": {}, "status": "failed", "error": "ValueError: bad"}))
    assert error_line("==== attempt 1\nlast words\n", 1, folder) == "error: ValueError: bad"


def test_log_of_each_attempt_is_kept(tmp_path):
    cells = experiment(tmp_path, ["base"]).cells
    LocalLauncher(None, spawn=FakeRuns(exit_codes=[1, 0]), say=lambda line: None, poll_s=0).run(cells)
    log = Path(cells[0].state_dir / f"{cells[0].name}.log").read_text()
    assert log.count("==== attempt") == 2 and "==== attempt 2 (new)" in log


def test_run_cell_trains_one_cell_with_the_launchers_variables(tmp_path, monkeypatch):
    """run_cell (what a SLURM job runs): the cell's process gets the given variables (None removes one), and
    on_launch sees the exact command before it starts; a cell found done is not run again."""
    from korsquad.experiments import launcher

    monkeypatch.setenv("SLURM_NTASKS", "4")
    (cell,) = experiment(tmp_path, ["base"]).cells
    runs, launched = FakeRuns(), []
    outcome = launcher.run_cell(cell, [0], env={"SLURM_NTASKS": None, "EXTRA": "1"}, on_launch=launched.append,
                                spawn=runs, say=lambda line: None, poll_s=0)
    assert outcome.status == "done" and outcome.scores == {"exact_match": 50.0, "f1": 60.0}
    (process,) = runs.started
    assert "SLURM_NTASKS" not in process.env and process.env["EXTRA"] == "1"
    assert launched == [process.argv]
    assert launcher.run_cell(cell, [0], spawn=runs, say=lambda line: None).status == "done"
    assert len(runs.started) == 1


def test_an_interrupted_launcher_stops_its_cell_and_leaves_it_pending(tmp_path):
    """Ctrl-C or SIGTERM (the command turns it into KeyboardInterrupt): the cell's processes get SIGTERM, the
    attempt is recorded as interrupted, the lock is free, and the cell is pending, to be continued."""
    import signal
    import subprocess
    import sys

    from korsquad.experiments.lock import CellLock, held_elsewhere
    from korsquad.experiments.state import cell_state

    def sleeper(argv, **kwargs):  # a cell that trains for a minute
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], **kwargs)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    (cell,) = experiment(tmp_path, ["base"]).cells
    lines = []
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            LocalLauncher(None, spawn=sleeper, say=lines.append, poll_s=0.05).run([cell])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    (attempt,) = read_attempts(cell)
    assert attempt["interrupted"] and attempt["exit_code"] == -signal.SIGTERM and attempt["wall_time_s"] < 30
    assert lines[-1].endswith(": stopped (continues when the command runs again)")
    assert held_elsewhere(CellLock.of(cell).path) is None
    assert cell_state(cell).status == "pending"
