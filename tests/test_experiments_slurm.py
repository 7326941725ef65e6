"""korsquad.experiments.slurm: `--launcher slurm`, each cell a job through submitit; CI runs the jobs with
submitit's LocalExecutor (`--slurm_cluster local`), the same code path without a cluster."""

import json
import subprocess
import sys
import threading
import time
from argparse import Namespace

import pytest
import yaml

from conftest import FIXTURES, ROOT, data_dir_with
from korsquad.errors import UsageError
from korsquad.experiments.slurm import (Publisher, SlurmSettings, check_block, executor_parameters, follow,
                                        job_shape, settings_of)

submitit = pytest.importorskip("submitit")

TINY_SETTINGS = {"accelerator": "cpu", "max_seq_length": 128, "doc_stride": 64, "max_query_length": 32,
                 "batch_size": 8, "max_steps": 1, "logger": "none"}


def experiment_command(path, *flags):
    return subprocess.run([sys.executable, "-m", "korsquad.experiments", str(path), *flags], cwd=ROOT, text=True,
                          capture_output=True, timeout=600)


@pytest.mark.parametrize("block, message", [
    ({"partiton": "gpu"}, "unknown key 'partiton'"),
    ({"time_min": "12h"}, "key 'time_min' must be an integer"),
    ({"gpus_per_node": -1}, "key 'gpus_per_node' must not be negative"),
    ({"cluster": "pbs"}, "key 'cluster' must be one of slurm, local"),
])
def test_a_bad_slurm_block_is_one_error_naming_the_key(block, message):
    with pytest.raises(UsageError) as err:
        check_block(block, "f.yaml: slurm")
    assert str(err.value).startswith("f.yaml: slurm") and message in str(err.value), str(err.value)


def test_flags_override_the_files_slurm_block():
    class Experiment:
        path = "f.yaml"
        slurm = {"partition": "gpu", "time_min": 60, "gpus_per_node": 8}

    args = Namespace(slurm_partition="big", slurm_time_min=None, slurm_gpus_per_node=None, slurm_cluster="local")
    assert settings_of(Experiment, args) == SlurmSettings(partition="big", time_min=60, gpus_per_node=8,
                                                          cluster="local")


@pytest.mark.parametrize("gpus, per_node, shape", [
    (1, None, (1, 1)), (4, None, (1, 4)), (4, 8, (1, 4)), (16, 8, (2, 8)), (32, 4, (8, 4)), (1, 0, (1, 0))])
def test_a_cell_of_more_gpus_than_a_node_spans_whole_nodes(gpus, per_node, shape):
    assert job_shape(gpus, SlurmSettings(gpus_per_node=per_node)) == shape


def test_a_cell_that_would_leave_a_node_part_empty_is_refused():
    with pytest.raises(UsageError, match="12 GPUs does not fill whole nodes of --slurm_gpus_per_node 8"):
        job_shape(12, SlurmSettings(gpus_per_node=8))


def test_one_task_per_node_with_the_nodes_gpus_and_the_files_partition():
    settings = SlurmSettings(partition="gpu", account="lab", time_min=90, cpus_per_task=16, array_parallelism=4)
    assert executor_parameters(settings, (2, 8), count=3) == dict(
        name="korsquad", timeout_min=90, nodes=2, tasks_per_node=1, slurm_array_parallelism=3, gpus_per_node=8,
        cpus_per_task=16, slurm_partition="gpu", slurm_account="lab")


def wait_until(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_the_other_nodes_run_each_command_node_0_publishes_until_it_ends(tmp_path):
    """A multi-node cell: node 0 publishes each attempt's argv; another node runs them in order, with its rank."""
    launch_file, ran = tmp_path / "cell.launch-7.json", tmp_path / "ran.txt"
    script = "import os, sys; open(sys.argv[1], 'a').write(os.environ['NODE_RANK'] + sys.argv[2] + '\\n')"
    result = []
    follower = threading.Thread(target=lambda: result.append(follow(launch_file, {"NODE_RANK": "1"})))
    follower.start()
    publish = Publisher(launch_file)
    publish([sys.executable, "-c", script, str(ran), "first"])
    wait_until(lambda: ran.is_file())
    publish([sys.executable, "-c", script, str(ran), "second"])
    wait_until(lambda: ran.read_text().count("\n") == 2)
    publish.end()
    follower.join(timeout=60)
    assert ran.read_text().splitlines() == ["1first", "1second"]
    assert result == [{"status": "follower", "error": None}]


def test_without_submitit_the_slurm_launcher_is_one_error_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    import importlib.util

    from korsquad.experiments.cli import main

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "submitit" else find_spec(name, *a))
    path = tmp_path / "table.yaml"
    path.write_text(yaml.safe_dump({"output_dir": str(tmp_path / "out"), "data_sets": ["squad_v1.1"],
                                    "models": [{"model_type": "bert", "model_name_or_path": "m"}]}))
    with pytest.raises(SystemExit) as end:
        main([str(path), "--launcher", "slurm"])
    assert end.value.code == 2
    assert capsys.readouterr().err == "error: --launcher slurm needs submitit: pip install 'korsquad[slurm]'\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_cells_run_as_jobs_and_a_second_run_reads_their_state_from_the_run_folders(tiny_bert, tmp_path):
    squad = FIXTURES / "squad_v1_tiny.json"
    data_dir = data_dir_with(tmp_path, "squad_v1.1", squad, squad)
    path = tmp_path / "table.yaml"
    path.write_text(yaml.safe_dump({
        "output_dir": str(tmp_path / "out"), "data_sets": ["squad_v1.1"], "seeds": [1, 2],
        "settings": dict(TINY_SETTINGS, data_dir=str(data_dir)),
        "models": [{"name": "tiny", "model_type": "bert", "model_name_or_path": str(tiny_bert)}],
        "slurm": {"cluster": "local", "gpus_per_node": 0, "time_min": 20}}))
    first = experiment_command(path, "--launcher", "slurm")
    assert first.returncode == 0, first.stderr[-3000:]
    jobs = json.loads((tmp_path / "out" / "slurm" / "jobs.json").read_text())
    assert sorted(jobs) == ["squad_v1.1/tiny-seed1", "squad_v1.1/tiny-seed2"]
    for cell, entry in jobs.items():
        job = tmp_path / "out" / "slurm" / entry["job_id"]
        assert (job / f"{entry['job_id']}_0_result.pkl").is_file()  # submitit ran it as a job
        assert cell in (job / f"{entry['job_id']}_0_log.out").read_text()  # the runner in the job said so
        run = json.loads((tmp_path / "out" / cell / "run.json").read_text())
        assert run["status"] == "finished" and len(run["invocations"]) == 1
    rows = [line for line in first.stdout.splitlines() if line.startswith("| bert |")]
    assert len(rows) == 1 and rows[0].endswith("| 2 |")  # the results table: the model's row over both seeds

    again = experiment_command(path, "--launcher", "slurm")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("done, not submitted") == 2
    assert json.loads((tmp_path / "out" / "slurm" / "jobs.json").read_text()) == jobs
