"""Resuming mid-epoch: a run killed after a mid-epoch save and continued with --resume trains on exactly the batches
(and draws exactly the dropout masks) of an uninterrupted run with the same seed, continues its learning-rate schedule
where it stopped, and ends with the same weights."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import FIXTURES, ROOT, data_dir_with, run_cli


# ---- run_qa.py, killed with SIGKILL right after a mid-epoch save -------------------------------------------------
TINY = ["--accelerator", "cpu", "--max_seq_length", "128", "--doc_stride", "64", "--max_query_length", "32",
        "--batch_size", "4", "--logging_steps", "1", "--num_train_epochs", "2", "--save_steps", "2", "--seed", "7",
        "--max_train_samples", "16", "--max_eval_samples", "8"]
# one thread a process: a tiny model trains several times faster so, above all on a shared machine
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def squad_dir(tmp_path_factory):
    return data_dir_with(tmp_path_factory.mktemp("squad"), "squad_v1.1", FIXTURES / "squad_v1_tiny.json",
                         FIXTURES / "squad_v1_tiny.json")


def train_features(data_dir):
    (manifest,) = (data_dir / "squad_v1.1" / "cache").glob("train-*/manifest.json")
    return len(np.load(manifest.parent / "example_index.npy"))


def kill_after_save(args, step, marker, timeout=300):
    """Run the CLI until it has written last.ckpt at global step `step`, then SIGKILL it (all its processes)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", KORSQUAD_HALT_AT_STEP=str(step), KORSQUAD_HALT_MARKER=str(marker),
               **ONE_THREAD)
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "halting_run_qa.py"), *map(str, args)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + timeout
    try:
        while not marker.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
    assert marker.exists(), f"the run did not reach step {step}: {stderr.decode()[-3000:]}"


def last_checkpoint(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)


def scalars_by_step(run_dir, tag):
    """Process 0's scalar `tag` by step, from the TensorBoard files of every invocation of the run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values = {}
    for events in sorted((run_dir / "logs").rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        if tag in accumulator.Tags()["scalars"]:
            values.update((e.step, e.value) for e in accumulator.Scalars(tag))
    return values


def losses_by_step(run_dir):
    return scalars_by_step(run_dir, "train_loss")


# each sampler once, and each process count once (the four pairs took 2.5 minutes of the suite)
@pytest.mark.slow
@pytest.mark.parametrize("group_by_length, devices", [(False, 1), (True, 2)])
def test_killed_and_resumed_run_trains_as_an_uninterrupted_one(tiny_bert, tmp_path, group_by_length, devices):
    """An uninterrupted run; the same run killed right after its mid-epoch save in the second epoch, then resumed:
    same final weights (tiny BERT, with dropout), same steps, same per-step losses after the kill, and a learning
    rate that goes on decaying from where it stopped."""
    # a data folder of its own: the module's squad_dir holds the caches of every test that ran before (in a random
    # order, other window settings), and train_features counts this run's one cache
    squad_dir = data_dir_with(tmp_path / "own", "squad_v1.1", FIXTURES / "squad_v1_tiny.json",
                              FIXTURES / "squad_v1_tiny.json")
    args = ["--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
            "--data_dir", squad_dir, *TINY, "--devices", devices, "--run_name", "run", "--do_train",
            *(["--group_by_length"] if group_by_length else [])]
    whole = run_cli(*args, "--output_dir", tmp_path / "whole", env=ONE_THREAD)
    assert whole.returncode == 0, whole.stderr[-3000:]
    per_process = -(-train_features(squad_dir) // devices)
    steps_per_epoch = -(-per_process // 4)
    halt = 2 * (3 * steps_per_epoch // 4)  # a --save_steps step in the middle of the second epoch
    assert steps_per_epoch < halt < 2 * steps_per_epoch

    kill_after_save([*args, "--output_dir", tmp_path / "resumed"], halt, tmp_path / "halted")
    run_dir = tmp_path / "resumed" / "squad_v1.1" / "run"
    killed = last_checkpoint(run_dir)
    assert killed["global_step"] == halt
    position = killed["QADataModule"]["train_loader"]
    assert (position["epoch"], position["batches_done"]) == (1, halt - steps_per_epoch)
    resumed = run_cli(*args, "--output_dir", tmp_path / "resumed", "--resume", env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    expected, got = last_checkpoint(tmp_path / "whole" / "squad_v1.1" / "run"), last_checkpoint(run_dir)
    assert got["global_step"] == expected["global_step"] == 2 * steps_per_epoch
    assert json.loads((run_dir / "run.json").read_text())["train_steps"] == got["global_step"]
    for name, tensor in expected["state_dict"].items():
        assert torch.allclose(got["state_dict"][name], tensor, rtol=0, atol=1e-6), name
    # the same batches, step by step, after the kill (the loss of step N is logged at step N)
    losses, whole_losses = losses_by_step(run_dir), losses_by_step(tmp_path / "whole" / "squad_v1.1" / "run")
    after = [step for step in losses if step > halt]
    assert len(after) == 2 * steps_per_epoch - halt
    assert all(abs(losses[step] - whole_losses[step]) < 1e-5 for step in after)
    # the linear decay continues from where it stopped instead of starting again at the peak (5e-5, the default)
    lrs = scalars_by_step(run_dir, "lr")
    first_resumed = min(step for step in lrs if step > halt)
    assert lrs[first_resumed] < 5e-5 * (1 - (halt - 1) / got["global_step"]) + 1e-12


# ---- a --max_steps stop, resumed with a larger --max_steps --------------------------------------------------------
@pytest.mark.slow
def test_a_max_steps_stop_resumes_the_rest_of_its_epoch_at_the_schedules_rate(tiny_bert, squad_dir, tmp_path):
    """--max_steps 2 then --resume --max_steps 4: steps 3 and 4 train epoch 0's batches 3 and 4 (not a new
    epoch) at the non-zero learning rate of the 4-step schedule; a --resume with another --learning_rate is
    refused in one line naming it, and touches nothing."""
    args = ["--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
            "--data_dir", squad_dir, "--output_dir", tmp_path, "--run_name", "run", "--do_train", "--accelerator",
            "cpu", "--max_seq_length", "128", "--doc_stride", "64", "--max_query_length", "32", "--batch_size", "4",
            "--max_train_samples", "16", "--max_eval_samples", "2", "--logging_steps", "1", "--logger", "csv",
            "--learning_rate", "1e-3", "--save_steps", "1"]
    run_dir = tmp_path / "squad_v1.1" / "run"
    first = run_cli(*args, "--max_steps", "2", env=ONE_THREAD)
    assert first.returncode == 0, first.stderr[-3000:]
    position = last_checkpoint(run_dir)["QADataModule"]["train_loader"]
    assert (position["epoch"], position["batches_done"]) == (0, 2) and position["features"] > 4 * 4  # > 4 batches

    resumed = run_cli(*args, "--resume", "--max_steps", "4", env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = last_checkpoint(run_dir)
    position = final["QADataModule"]["train_loader"]
    assert (final["global_step"], position["epoch"], position["batches_done"]) == (4, 0, 4)
    import csv

    rows = [row for row in csv.DictReader((run_dir / "csv_logs" / "version_1" / "metrics.csv").open()) if row["lr"]]
    # linear decay over 4 steps from 1e-3: steps 3 and 4 at 5e-4 and 2.5e-4, in epoch 0
    assert [(int(r["step"]), int(float(r["epoch"]))) for r in rows] == [(3, 0), (4, 0)]
    assert [float(r["lr"]) for r in rows] == pytest.approx([5e-4, 2.5e-4])
    record = json.loads((run_dir / "run.json").read_text())
    assert record["config"]["max_steps"] == 4 and len(record["invocations"]) == 2
    assert record["invocations"][1]["changed"]["max_steps"] == [2, 4]

    stamp = (run_dir / "checkpoints" / "last.ckpt").stat().st_mtime_ns
    refused = run_cli(*args, "--resume", "--max_steps", "6", "--learning_rate", "2e-3")
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: --resume") and "--learning_rate 0.002 (trained with 0.001)" in line
    assert (run_dir / "checkpoints" / "last.ckpt").stat().st_mtime_ns == stamp
    assert json.loads((run_dir / "run.json").read_text()) == record


# ---- a refused --resume changes nothing --------------------------------------------------------------------------
@pytest.mark.parametrize("last", ["unreadable", "weights only"])
def test_a_refused_resume_leaves_every_file_of_the_finished_run_as_it_was(tiny_bert, squad_run, tmp_path, last):
    """A last.ckpt that is not a checkpoint, or holds weights without the training state (best.ckpt copied over
    it): one error line naming it, exit 2, and every file of the run byte for byte as it was (run.json still says
    "finished", with no extra invocation)."""
    from conftest import copy_run, tree_bytes

    data_dir, trained = squad_run
    run_dir = copy_run(trained, tmp_path / "model")
    last_ckpt = run_dir / "checkpoints" / "last.ckpt"
    if last == "unreadable":
        last_ckpt.write_bytes(b"not a checkpoint")
    else:
        last_ckpt.write_bytes((run_dir / "checkpoints" / "best.ckpt").read_bytes())
    before = tree_bytes(run_dir)
    refused = run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
                      "--data_dir", data_dir, "--output_dir", tmp_path / "model", "--run_name", "tiny",
                      "--accelerator", "cpu", "--do_train", "--do_eval", "--resume", "--num_train_epochs", "2",
                      env=ONE_THREAD, timeout=300)
    assert refused.returncode == 2, refused.stderr[-3000:]
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: {last_ckpt}") or line.startswith(f"error: --resume: {last_ckpt}"), line
    assert tree_bytes(run_dir) == before
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
