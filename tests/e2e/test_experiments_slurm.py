"""korsquad.experiments.slurm: `--launcher slurm`, each cell a job through submitit; CI runs the jobs with
submitit's LocalExecutor (`--slurm_cluster local`), the same code path without a cluster."""

import json
import subprocess
import sys

import pytest
import yaml

from conftest import FIXTURES, ROOT, data_dir_with


TINY_SETTINGS = {"accelerator": "cpu", "max_seq_length": 128, "doc_stride": 64, "max_query_length": 32,
                 "batch_size": 8, "max_steps": 1, "logger": "none"}


def experiment_command(path, *flags):
    return subprocess.run([sys.executable, "-m", "korsquad", "experiment", str(path), *flags], cwd=ROOT, text=True,
                          capture_output=True, timeout=600)


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
