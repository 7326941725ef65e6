"""`korsquad experiment FILE` end to end on tiny models and the SQuAD 1.1 fixture: a 2-model x 2-seed
file killed with SIGKILL during its third cell and run again (four run folders, a mean ± sd row per model, the
first two cells untouched, the third resumed to the weights of an uninterrupted run), two experiment processes on
one file, and a failing cell."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch
from conftest import FIXTURES, ROOT, data_dir_with

from korsquad.experiments.lock import CellLock, held_elsewhere
from korsquad.experiments.record import read_attempts
from korsquad.experiments.spec import load_experiment

# 16 questions (32 windows) in batches of 4: 8 steps, last.ckpt every 2 (the third cell is killed after step 2's)
TINY_SETTINGS = {"accelerator": "cpu", "max_seq_length": 128, "doc_stride": 64, "max_query_length": 32,
                 "batch_size": 4, "num_train_epochs": 1, "save_steps": 2, "max_train_samples": 16,
                 "max_eval_samples": 8, "logger": "none"}
ONE_THREAD = {"OMP_NUM_THREADS": "1"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def squad_dir(tmp_path_factory):
    tiny = FIXTURES / "squad_v1_tiny.json"
    return data_dir_with(tmp_path_factory.mktemp("squad"), "squad_v1.1", tiny, tiny)


@pytest.fixture(scope="module")
def tiny_distilbert(tiny_bert, tmp_path_factory):
    """A tiny randomly initialised DistilBERT beside tiny_bert's tokenizer: the second model of the table."""
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForQuestionAnswering

    folder = tmp_path_factory.mktemp("tiny_distilbert")
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    config = DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64)
    torch.manual_seed(0)
    DistilBertForQuestionAnswering(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def experiment_file(path, models, seeds, data_dir):
    """models: (model_type, folder, name) each."""
    text = {"output_dir": str(path.parent / "out"), "data_sets": ["squad_v1.1"], "seeds": list(seeds),
            "settings": dict(TINY_SETTINGS, data_dir=str(data_dir)),
            "models": [{"model_type": t, "model_name_or_path": str(folder), "name": name, "size": "base"}
                       for t, folder, name in models],
            "sizes": {"base": {"gpus": 1}}}
    path.write_text(json.dumps(text))  # JSON is YAML
    return path


def run_experiment(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "korsquad", "experiment", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **ONE_THREAD))


def folder_digest(root):
    """{relative path: sha256} of every file under `root`."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def invocations(cell):
    return json.loads(cell.folder.run_json.read_text())["invocations"]


@pytest.fixture(scope="module")
def killed_and_rerun(tiny_bert, tiny_distilbert, squad_dir, tmp_path_factory):
    """The 2 x 2 experiment SIGKILLed right after its third cell's mid-epoch save, then run again to its end."""
    tmp = tmp_path_factory.mktemp("killed")
    path = experiment_file(tmp / "exp.yaml", [("bert", tiny_bert, "tiny-bert"),
                                              ("distilbert", tiny_distilbert, "tiny-distilbert")], [1, 2], squad_dir)
    cells = load_experiment(path).cells
    third, marker = cells[2], tmp / "halted"
    env = dict(os.environ, KORSQUAD_HALT_AT_STEP="2", KORSQUAD_HALT_MARKER=str(marker),
               KORSQUAD_HALT_RUN_NAME=third.name, **ONE_THREAD)
    first = subprocess.Popen([sys.executable, str(ROOT / "tests" / "halting_experiment.py"), str(path)], cwd=ROOT,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    try:
        while not marker.exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.2)
    finally:
        os.kill(first.pid, signal.SIGKILL)  # the experiment command only: its cell must die with it
        out, err = first.communicate()
    assert marker.exists(), f"the third cell did not reach step 2:\n{out[-2000:]}\n{err[-2000:]}"
    lock = CellLock.of(third).path
    while held_elsewhere(lock) is not None and time.time() < deadline + 60:  # its process holds the lock with it
        time.sleep(0.2)
    killed = SimpleNamespace(out=out, lock_free=held_elsewhere(lock) is None,
                             digests=[folder_digest(cell.folder.root) for cell in cells[:2]])
    return SimpleNamespace(path=path, cells=cells, killed=killed, rerun=run_experiment(path), tmp=tmp)


def test_a_two_by_two_file_gives_four_run_folders_and_a_mean_sd_row_per_model(killed_and_rerun):
    rerun, cells = killed_and_rerun.rerun, killed_and_rerun.cells
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert all(json.loads(cell.folder.run_json.read_text())["status"] == "finished" for cell in cells)
    assert sorted(p.name for p in cells[0].folder.root.parent.iterdir()) == sorted(cell.name for cell in cells)
    table = (cells[0].output_dir / "results.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "model_name_or_path" not in line]
    assert len(rows) == 2
    for row, model in zip(rows, ("tiny_bert", "tiny_distilbert")):
        cells_text = [c.strip() for c in row.strip("|").split("|")]
        assert model in cells_text[1] and " ± " in cells_text[3] and " ± " in cells_text[4] and cells_text[5] == "2"
    assert table in rerun.stdout  # printed at the end too


def test_killed_during_its_third_cell_then_run_again_trains_only_the_rest(killed_and_rerun):
    """kill -9 of the experiment command during its third cell: the cell's process dies with it (its lock is free);
    run again, the first two cells are skipped and left byte for byte as they were, the third continues with
    --resume, the fourth starts; no cell trains twice."""
    run, cells = killed_and_rerun, killed_and_rerun.cells
    assert run.killed.lock_free
    assert run.rerun.returncode == 0, run.rerun.stderr[-3000:]
    out = run.rerun.stdout
    assert f"[1/4] {cells[0].label}: done (already)" in out and f"[2/4] {cells[1].label}: done (already)" in out
    assert f"[3/4] {cells[2].label}: started (resume)" in out and f"[4/4] {cells[3].label}: started (new)" in out
    assert [folder_digest(cell.folder.root) for cell in cells[:2]] == run.killed.digests
    assert [len(invocations(cell)) for cell in cells] == [1, 1, 2, 1]
    assert "--resume" in invocations(cells[2])[1]["argv"]
    attempts = read_attempts(cells[2])
    assert [a["mode"] for a in attempts] == ["new", "resume"]
    assert "exit_code" not in attempts[0] and attempts[1]["exit_code"] == 0  # the first was killed with its launcher


def test_the_resumed_cell_ends_with_the_weights_of_an_uninterrupted_run(killed_and_rerun):
    third = killed_and_rerun.cells[2]
    whole = load_experiment(killed_and_rerun.path, output_dir=killed_and_rerun.tmp / "whole").cells[2]
    done = subprocess.run(whole.command(), cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, **ONE_THREAD))
    assert done.returncode == 0, done.stderr[-3000:]
    expected = torch.load(whole.folder.last_checkpoint, map_location="cpu", weights_only=False)
    got = torch.load(third.folder.last_checkpoint, map_location="cpu", weights_only=False)
    assert got["global_step"] == expected["global_step"] > 2  # it went on after the kill at step 2
    for name, tensor in expected["state_dict"].items():
        assert torch.allclose(got["state_dict"][name], tensor, rtol=0, atol=1e-6), name


def test_two_experiment_processes_started_together_train_each_cell_once(tiny_bert, squad_dir, tmp_path):
    path = experiment_file(tmp_path / "exp.yaml", [("bert", tiny_bert, "tiny-bert")], [1, 2], squad_dir)
    command = [sys.executable, "-m", "korsquad", "experiment", str(path)]
    env = dict(os.environ, **ONE_THREAD)
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    cells = load_experiment(path).cells
    assert [len(invocations(cell)) for cell in cells] == [1, 1]
    assert [len(read_attempts(cell)) for cell in cells] == [1, 1]
    started = [line for out, _ in outputs for line in out.splitlines() if ": started (" in line]
    assert sorted(line.split(":")[0] for line in started) == [f"[{i}/2] {cell.label}" for i, cell in
                                                              enumerate(cells, 1)]
    for out, _ in outputs:  # each ends with the whole table: the model's row over both seeds
        assert " ± " in out


def test_a_failing_cell_is_recorded_with_its_error_line_and_the_others_finish(tiny_bert, squad_dir, tmp_path):
    missing = tmp_path / "no_such_model"
    path = experiment_file(tmp_path / "exp.yaml", [("bert", missing, "missing"), ("bert", tiny_bert, "tiny-bert")],
                           [1], squad_dir)
    run = run_experiment(path)
    assert run.returncode == 1, run.stderr[-3000:]
    failed, done = load_experiment(path).cells
    assert f"1 of 2 cells failed:\n  {failed.label}: error: --model_name_or_path '{missing}'" in run.stderr
    assert json.loads(done.folder.run_json.read_text())["status"] == "finished"
    (attempt,) = read_attempts(failed)  # bad input (exit status 2) is not tried again
    assert attempt["exit_code"] == 2 and attempt["error"].startswith(f"error: --model_name_or_path '{missing}'")
    status = run_experiment(path, "--status")
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert any(line.startswith("failed ") and failed.label in line and line.endswith(attempt["error"])
               for line in lines)
    assert any(line.startswith("done ") and done.label in line and "exact_match " in line for line in lines)
    assert f"- `{failed.name}`: failed: {attempt['error']}" in (done.output_dir / "results.md").read_text()
