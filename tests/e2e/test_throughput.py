import json
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_gpu_benchmark_smoke_run_on_cpu():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_throughput.py"), "--smoke", "--repeats", "1",
                          "--steps", "2"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(report["results"]) == {"bare", "toolkit", "toolkit_compile"}
    assert all(r["samples_per_sec"] > 0 and r["mfu"] is None for r in report["results"].values())
    assert "variant" in out.stdout  # the table


@pytest.mark.slow
def test_run_qa_logs_throughput_with_group_by_length(squad_run):
    """conftest's shared run: trained with --group_by_length, logged every 2 steps."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir = squad_run
    assert json.loads((run_dir / "run.json").read_text())["config"]["group_by_length"]
    (events,) = (run_dir / "logs").rglob("events.out.tfevents.*")
    acc = EventAccumulator(str(events))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"samples_per_sec", "tokens_per_sec", "train_loss"} <= tags and "mfu" not in tags
    assert [e.step for e in acc.Scalars("samples_per_sec")][:2] == [2, 4]
