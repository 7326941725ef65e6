"""korsquad.experiments.slurm: `--launcher slurm`, each cell a job through submitit; CI runs the jobs with
submitit's LocalExecutor (`--slurm_cluster local`), the same code path without a cluster."""

import sys
import threading
import time
from argparse import Namespace

import pytest
import yaml

from korsquad.common.errors import UsageError
from korsquad.experiments.slurm import (Publisher, SlurmSettings, check_block, executor_parameters, follow,
                                        job_shape, settings_of)


submitit = pytest.importorskip("submitit")


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
