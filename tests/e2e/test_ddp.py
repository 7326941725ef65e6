"""DDP end to end on CPU (gloo, two processes) and the evaluation sharding behind it: every model type trains
(XLNet leaves a parameter unused), fewer evaluation windows than processes, an error on process 0 that must end
every process at once. Each run goes in a process group of its own, so a hang is killed whole and fails the test
instead of leaving processes behind."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, ROOT
from ddp_helpers import squad_dir


# One window per question of the first paragraph (about 150 WordPiece tokens) for the tiny BERT
ONE_WINDOW = ["--max_seq_length", "256", "--doc_stride", "128", "--max_query_length", "32"]
COMMON = ["--accelerator", "cpu", "--batch_size", "4", "--logging_steps", "1", "--max_train_samples", "4"]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def run_group(*args, timeout):
    """`python run_qa.py ARGS` as the leader of a new process group (DDP's other processes join it). Past `timeout`
    seconds every process of the group is killed and the test fails; a run that ends leaves none behind."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_qa.py"), *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        # the pipes close when the last process holding them (any rank) ends
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"run_qa.py {' '.join(map(str, args))} still running after {timeout} s:\n{stderr[-3000:]}")
    seconds = time.monotonic() - started
    left = living_members(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"processes {left} of the run were left running"
    return Run(proc.returncode, stdout, stderr, seconds)


def living_members(group, grace=10.0):
    """Pids of the process group still running (zombies aside) after up to `grace` seconds."""
    deadline = time.monotonic() + grace
    while True:
        members = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended meanwhile
                continue
            if int(fields[2]) == group and fields[0] != "Z":
                members.append(int(stat.parent.name))
        if not members or time.monotonic() > deadline:
            return members
        time.sleep(0.2)


def read_json(path):
    return json.loads(Path(path).read_text())


def dev_feature_count(data_dir):
    manifests = list((data_dir / "squad_v1.1" / "cache").glob("dev-*/manifest.json"))
    assert len(manifests) == 1
    return len(np.load(manifests[0].parent / "example_index.npy"))


# ---- 1. every model type trains under DDP ----------------------------------------------------------------------
def tiny_xlnet(folder):
    """A randomly initialised tiny XLNet QA model beside an XLNet tokenizer (slow and fast) over a sentencepiece
    model trained on the fixture's contexts, with XLNet's special tokens inside its 100 pieces."""
    import sentencepiece as spm
    from tiny_models import VOCAB_SIZE, tiny_qa_model
    from tiny_tokenizers import squad_contexts
    from transformers import XLNetTokenizer, XLNetTokenizerFast

    folder.mkdir(parents=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(squad_contexts(FIXTURES / "squad_v1_tiny.json")),
                                   model_writer=model, vocab_size=VOCAB_SIZE, hard_vocab_limit=False,
                                   num_threads=1, minloglevel=2,
                                   user_defined_symbols=["<sep>", "<pad>", "<cls>", "<mask>", "<eop>", "<eod>"])
    (folder / "spiece.model").write_bytes(model.getvalue())
    slow = XLNetTokenizer(str(folder / "spiece.model"))
    fast = XLNetTokenizerFast(vocab_file=str(folder / "spiece.model"))
    assert len(slow) == len(fast) == VOCAB_SIZE and fast.padding_side == "left"
    fast.save_pretrained(folder)  # tokenizer.json beside spiece.model: AutoTokenizer loads the fast one
    tiny_qa_model("xlnet").save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_xlnet_trains_and_evaluates_under_ddp(squad_dir, tmp_path):
    """XLNet's mask_emb gets no gradient in a QA step: without find_unused_parameters the second step fails
    ("Expected to have finished reduction in the prior iteration")."""
    model_dir = tiny_xlnet(tmp_path / "xlnet")
    out = tmp_path / "model"
    run = run_group("--model_type", "xlnet", "--model_name_or_path", model_dir, "--data_name", "squad_v1.1",
                    "--data_dir", squad_dir, "--output_dir", out, "--run_name", "x", *COMMON,
                    "--max_seq_length", "64", "--doc_stride", "32", "--max_query_length", "16", "--batch_size", "2",
                    "--max_steps", "3", "--max_eval_samples", "2", "--devices", "2", "--do_train", "--do_eval",
                    timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = out / "squad_v1.1" / "x"
    info = read_json(run_dir / "run.json")
    assert info["status"] == "finished" and info["hardware"]["devices"] == 2
    assert info["train_steps"] == 3  # past the second step, where it used to fail
    assert set(read_json(run_dir / "predictions_eval.json")) == {"56be85543aeaaa14008c9063",
                                                                  "56be85543aeaaa14008c9065"}


@pytest.mark.slow
def test_one_window_on_two_processes_predicts_as_one_process(tiny_bert, squad_dir, tmp_path):
    """The second process has no window: it must neither fail Lightning's length check nor leave the first
    waiting in a collective (the first validation forward of the DDP-wrapped model broadcasts its buffers)."""
    out = tmp_path / "model"
    common = ["--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
              "--data_dir", squad_dir, "--output_dir", out, "--run_name", "one", *COMMON, *ONE_WINDOW,
              "--max_eval_samples", "1"]
    ddp = run_group(*common, "--do_train", "--do_eval", "--num_train_epochs", "1", "--devices", "2", timeout=240)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert dev_feature_count(squad_dir) == 1
    run_dir = out / "squad_v1.1" / "one"
    ddp_predictions = read_json(run_dir / "predictions_eval.json")
    ddp_result = read_json(run_dir / "result.json")
    assert set(ddp_predictions) == {"56be85543aeaaa14008c9063"}
    single = run_group(*common, "--do_eval", "--devices", "1", timeout=240)
    assert single.returncode == 0, single.stderr[-3000:]
    assert read_json(run_dir / "predictions_eval.json") == ddp_predictions
    assert read_json(run_dir / "result.json") == ddp_result


# ---- 3. an error on process 0 ends every process -----------------------------------------------------------------
@pytest.mark.slow
def test_failure_to_write_predictions_on_process_0_ends_every_process(tiny_bert, squad_dir, tmp_path):
    """Only process 0 writes the prediction files; when that fails the other process, already waiting for the
    outcome, must fail too, in seconds rather than at the process group's 30-minute timeout."""
    out = tmp_path / "model"
    run_dir = out / "squad_v1.1" / "fail"
    (run_dir / "predictions_eval.json").mkdir(parents=True)  # the atomic rename onto it fails
    run = run_group("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
                    "--data_dir", squad_dir, "--output_dir", out, "--run_name", "fail", *COMMON, *ONE_WINDOW,
                    "--max_eval_samples", "3", "--num_train_epochs", "1", "--devices", "2", "--do_train",
                    "--do_eval", timeout=90)
    assert run.returncode != 0
    assert "IsADirectoryError" in run.stderr and "predictions_eval.json" in run.stderr, run.stderr[-3000:]
    assert "process 0 failed while evaluating: IsADirectoryError" in run.stderr  # the other process's error
    info = read_json(run_dir / "run.json")
    assert info["status"] == "failed" and info["error"].startswith("IsADirectoryError")
