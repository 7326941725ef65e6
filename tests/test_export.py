"""best_model/ for the Hub: KoBERT's fast tokenizer (the same ids as KoBertTokenizer), the model card, the upload
(against a stub of the Hub's HTTP API on 127.0.0.1), and all three through run_qa.py."""

import base64
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import FIXTURES, data_dir_with, run_cli
from tiny_tokenizers import squad_contexts, train_kobert

from korsquad.datasets import get_spec
from korsquad.errors import UsageError

KORQUAD = FIXTURES / "korquad_tiny.json"
QUICK = ["--accelerator", "cpu", "--max_seq_length", "128", "--doc_stride", "64", "--max_query_length", "32",
         "--batch_size", "8", "--logging_steps", "1"]
# Text the normalizers must treat as KoBertTokenizer does: Python's whitespace (\x1c, \x85, U+3000 ...), `` and '',
# NFKD with the combining marks dropped (accents, a lone acute accent that NFKD turns into a space), full-width
# forms, zero-width and control characters, decomposed Hangul, special tokens inside the text.
EDGE_TEXTS = ["", " ", "  두  칸 \t 띄어\n쓰기  ", "``인용''", "Beyoncé’s naïve café", "a\u0301b ´ c",
              "ｆｕｌｌ　ｗｉｄｔｈ①", "x\u200by\x1cz\x85w\u2028v", "\u1100\u1161\u11a8 각", "가 [MASK] 나 [SEP]",
              "1,240미터 2011년", "ß ﬁ ㍿ Å"]


def questions(path):
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    return [(qa["question"], p["context"]) for a in data for p in a["paragraphs"] for qa in p["qas"]]


def train_kobert_unigram(folder, texts, vocab_size, pieces=()):
    """train_kobert with a Unigram sentencepiece model (sentencepiece's default) and a vocab.txt in another order
    than the sentencepiece ids (as KoBERT's)."""
    return train_kobert(folder, texts, vocab_size, pieces, algorithm="unigram", shuffle_vocab=True)


# sentencepiece user-defined pieces (matched whole wherever they occur): one a BPE's merges cannot build
GLUED = ("에는", "은하", "다리는")


@pytest.fixture(scope="module", params=["bpe", "unigram", "bpe+glued", "unigram+glued"])
def kobert(request, tmp_path_factory):
    """A KoBERT-style tokenizer (as run_qa.py loads it) over a sentencepiece model of each kind, trained on the
    Korean fixture, without and with user-defined pieces."""
    from korsquad.tokenization import load_tokenizer

    folder = tmp_path_factory.mktemp("kobert")
    texts = squad_contexts(KORQUAD) * 20
    pieces = GLUED if request.param.endswith("+glued") else ()
    if request.param.startswith("bpe"):
        train_kobert(folder, texts, vocab_size=300, pieces=pieces)
    else:
        train_kobert_unigram(folder, texts, vocab_size=300, pieces=pieces)
    return load_tokenizer("kobert", str(folder))


def random_texts(count, seed=0):
    """Strings of random code points (every plane) mixed with whitespace, quotes, digits, commas, accents, jamo."""
    rng = random.Random(seed)
    tricky = list(" \t\n\u00a0\u3000\u200b\x1c`'´,0123456789éÅﬁ①가각\u1100\u1161\u11a8\u0301")
    def char():
        if rng.random() < 0.5:
            return rng.choice(tricky)
        code = rng.randrange(0x20, 0x30000)
        return chr(code) if not 0xD800 <= code <= 0xDFFF else "a"
    return ["".join(char() for _ in range(rng.randint(1, 30))) for _ in range(count)]


# ---- the fast tokenizer ------------------------------------------------------------------------------------------
def test_fast_tokenizer_gives_kobert_tokenizers_ids(kobert):
    from korsquad.export import kobert_fast_tokenizer

    fast, report = kobert_fast_tokenizer(kobert)
    assert report.problems() == [] and report.vocab_not_in_model == []
    pairs = questions(KORQUAD)
    glued = ["은하에는 다리는", "x에는y", " 에는 ", "은하다리는에는", "다리는?"]
    singles = squad_contexts(KORQUAD) + [q for q, _ in pairs] + EDGE_TEXTS + glued + random_texts(300)
    for text in singles:
        assert fast(text).data == kobert(text).data, text
    contexts = squad_contexts(KORQUAD)
    for question, _ in pairs:
        for context in contexts:  # question with every context: token types, [CLS] A [SEP] B [SEP]
            slow = kobert(question, context)
            assert fast(question, context).data == slow.data
            assert set(slow["token_type_ids"]) == {0, 1}
    encoded = fast(pairs[0][0], pairs[0][1], truncation="only_second", max_length=64, stride=16,
                   return_overflowing_tokens=True, return_offsets_mapping=True)
    assert len(encoded["input_ids"]) > 1 and all(len(ids) <= 64 for ids in encoded["input_ids"])


def test_digit_comma_rule_is_approximated_and_reported(tmp_path):
    """KoBertTokenizer re-splits a piece like "0," into the digits' pieces and ","; no tokenizers component does
    that after segmenting. The conversion names such pieces and keeps them out of the segmentation, so the fast
    tokenizer also never emits one; text whose segmentation does not produce one gets the same ids."""
    from korsquad.export import kobert_fast_tokenizer

    rng = random.Random(1)
    numbers = [f"{rng.randint(0, 10 ** rng.randint(1, 7)):,}," for _ in range(300)]
    texts = [" ".join(numbers[i:i + 8]) + " 명이 모였다." for i in range(0, 300, 8)] * 5
    slow = train_kobert_unigram(tmp_path, texts + squad_contexts(KORQUAD) * 5, vocab_size=400)
    fast, report = kobert_fast_tokenizer(slow)
    assert report.digit_comma_pieces, "the corpus should make pieces ending in a digit and a comma"
    assert any("end in a digit and a comma" in line for line in report.problems())  # printed as a note on export
    pieces = set(report.digit_comma_pieces)
    probe = [f"인구는 {rng.randint(0, 10 ** 6):,}, 면적은 {rng.randint(0, 999)}, {rng.randint(0, 9999)}명"
             for _ in range(200)]
    agree = 0
    for text in probe:
        tokens = fast.tokenize(text)
        assert not pieces & set(tokens)
        raw = slow.sp_model.encode(slow.preprocess_text(text), out_type=str)
        if not pieces & set(raw):  # the rule did not apply: exactly the same ids
            assert fast(text)["input_ids"] == slow(text)["input_ids"], text
        agree += fast(text)["input_ids"] == slow(text)["input_ids"]
    # Measured 100/200: a worst case, 66 such pieces and every probe full of numbers with commas (a vocabulary with
    # two such pieces agreed on 1987/2000 number-heavy texts); none at all on the fixtures' tokenizers above.
    assert agree >= 0.4 * len(probe)


@pytest.mark.parametrize("model_type", ["kobert", "distilkobert"])
def test_exported_kobert_folder_loads_with_auto_tokenizer_and_pipeline(model_type, tmp_path):
    from transformers import (AutoTokenizer, BertConfig, BertForQuestionAnswering, DistilBertConfig,
                              DistilBertForQuestionAnswering, PreTrainedTokenizerFast, pipeline)

    from korsquad.export import export_model
    from korsquad.tokenization import load_tokenizer

    train_kobert(tmp_path / "pretrained", squad_contexts(KORQUAD) * 20, vocab_size=300)
    tokenizer = load_tokenizer(model_type, str(tmp_path / "pretrained"))  # as run_qa.py loads it
    if model_type == "kobert":
        model = BertForQuestionAnswering(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=2, intermediate_size=64))
    else:
        model = DistilBertForQuestionAnswering(DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2,
                                                                n_heads=2, hidden_dim=64))
    best = tmp_path / "best_model"
    export_model(model, tokenizer, best, model_type)
    assert {"tokenizer.json", "tokenizer_78b3253a26.model", "vocab.txt", "model.safetensors"} <= \
        {p.name for p in best.iterdir()}

    auto = AutoTokenizer.from_pretrained(best)
    slow = load_tokenizer(model_type, str(best))
    assert isinstance(auto, PreTrainedTokenizerFast) and type(slow).__name__ == "KoBertTokenizer"
    assert auto.model_max_length == 512
    question, context = questions(KORQUAD)[0]
    assert auto(question, context).data == slow(question, context).data  # both take the model's inputs
    assert auto(question, context)["input_ids"] == tokenizer(question, context)["input_ids"]
    assert ("token_type_ids" in auto(question)) == (model_type == "kobert")  # DistilBERT takes none

    answer = pipeline("question-answering", model=str(best))(question=question, context=context)
    assert answer["answer"] and answer["answer"] == context[answer["start"]:answer["end"]]
    assert not answer["answer"][0].isspace()


def test_other_model_types_export_as_before(tiny_bert, tmp_path):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from korsquad.export import export_model

    model = AutoModelForQuestionAnswering.from_pretrained(tiny_bert)
    export_model(model, AutoTokenizer.from_pretrained(tiny_bert), tmp_path, "bert")
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "BertTokenizer" and (tmp_path / "model.safetensors").is_file()


# ---- the model card ----------------------------------------------------------------------------------------------
def front_matter(card):
    assert card.startswith("---\n")
    head, body = card[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def record_for(data_name, model="monologg/kobert", **config):
    return {"config": dict(model_type="kobert", model_name_or_path=model, data_name=data_name, do_train=True,
                           do_eval=True, run_name="kobert", output_dir="./model", data_dir="./data",
                           max_seq_length=512, learning_rate=5e-5, precision="32", resume=False,
                           push_to_hub="me/kobert-qa", devices_resolved=1, world_size=1, **config),
            "status": "finished", "wall_time_s": 3723.4, "train_steps": 1200, "train_tokens": 9876543,
            "num_parameters": 92186880,
            "hardware": {"accelerator": "gpu", "devices": 1, "num_nodes": 1, "device_name": "NVIDIA H200"}}


def test_model_card_of_a_korquad_run(tmp_path):
    from korsquad.config import read_config_file
    from korsquad.export import model_card

    best = {"path": "checkpoints/best.ckpt", "metric": "f1", "score": 88.25, "epoch": 1, "step": 800}
    card = model_card(record_for("korquad_v1.0"), {"exact_match": 80.5, "f1": 88.25}, best, get_spec("korquad_v1.0"))
    meta, body = front_matter(card)
    assert meta["language"] == ["ko"] and meta["pipeline_tag"] == "question-answering"
    assert "question-answering" in meta["tags"] and meta["datasets"] == ["KorQuAD/squad_kor_v1"]
    assert meta["base_model"] == "monologg/kobert"
    assert (meta["license"], meta["license_name"]) == ("other", "cc-by-nd-2.0-kr")
    assert meta["license_link"] == "https://creativecommons.org/licenses/by-nd/2.0/kr/"
    index = meta["model-index"][0]
    assert index["name"] == "me/kobert-qa"
    result = index["results"][0]
    assert result["task"]["type"] == "question-answering" and result["dataset"]["type"] == "KorQuAD/squad_kor_v1"
    assert result["metrics"] == [{"type": "f1", "value": 88.25, "name": "F1"},
                                 {"type": "exact_match", "value": 80.5, "name": "Exact Match"}]
    assert "ranked by **F1** (`f1`)" in body and "| Exact Match | `exact_match` | 80.50 |" in body
    assert "epoch 1, step 800" in body and "CC BY-ND 2.0 KR" in body
    assert "9,876,543" in body and "NVIDIA H200" in body and "1 h 02 min" in body and "1,200" in body
    command = body.split("```bash\n")[1].split("\n```")[0]
    assert command.startswith("python run_qa.py --model_type kobert") and "--do_train" in command
    assert "--push_to_hub" not in command and "--resume" not in command
    settings = body.split("```yaml\n")[1].split("\n```")[0]
    (tmp_path / "settings.yaml").write_text(settings, encoding="utf-8")
    replayed = read_config_file(tmp_path / "settings.yaml")  # a valid --config
    assert replayed["learning_rate"] == 5e-5 and replayed["data_name"] == "korquad_v1.0"


def test_model_card_names_klue_mrcs_rouge_w_and_squad_v2s_keys():
    from korsquad.export import model_card

    spec = get_spec("klue_mrc")
    result = {"exact_match": 60.0, "rouge_w": 70.25, "total": 5, "type1_exact_match": 50.0, "type1_rouge_w": 55.5,
              "type1_total": 2}
    best = {"metric": "rouge_w", "score": 70.25, "epoch": 0, "step": 10}
    meta, body = front_matter(model_card(record_for("klue_mrc"), result, best, spec))
    assert meta["license"] == "cc-by-sa-4.0" and meta["datasets"] == ["klue/klue"]
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert metrics[0] == {"type": "rouge_w", "value": 70.25, "name": "ROUGE-W"}
    assert "total" not in {m["type"] for m in metrics}
    assert "type 1 (paraphrase) ROUGE-W" in body and "ranked by **ROUGE-W**" in body

    result = {"exact": 70.0, "f1": 73.5, "total": 10, "best_f1": 74.0, "best_f1_thresh": -1.25}
    meta, body = front_matter(model_card(record_for("squad_v2.0"), result, dict(best, metric="f1"),
                                         get_spec("squad_v2.0")))
    assert meta["language"] == ["en"] and meta["license"] == "cc-by-sa-4.0"
    types = [m["type"] for m in meta["model-index"][0]["results"][0]["metrics"]]
    assert types == ["f1", "exact", "best_f1"]
    assert "no-answer threshold of the best F1 | `best_f1_thresh` | -1.25" in body


def test_model_card_without_evaluation_or_hub_names(tmp_path):
    """Only --do_train: the primary metric from best_checkpoint.json; a local base model is no base_model; a
    --max_eval_samples subset is said."""
    from korsquad.export import model_card

    record = record_for("korquad_v1.0", model=str(tmp_path), max_eval_samples=50)
    record["config"].update(do_eval=False, push_to_hub=None)
    del record["train_tokens"]
    meta, body = front_matter(model_card(record, None, {"metric": "f1", "score": 12.5, "step": 3, "epoch": 0},
                                         get_spec("korquad_v1.0")))
    assert "base_model" not in meta and meta["model-index"][0]["name"] == "kobert"
    assert meta["model-index"][0]["results"][0]["metrics"] == [{"type": "f1", "value": 12.5, "name": "F1"}]
    assert "first 50 questions" in body and "did not evaluate" in body and "Tokens seen: not counted" in body


def test_token_counter_sums_real_tokens_and_survives_a_resume():
    import torch

    from korsquad.throughput import TokenCounter

    trainer = SimpleNamespace(world_size=1, strategy=SimpleNamespace(reduce=lambda t, reduce_op: t))
    module = SimpleNamespace(device=torch.device("cpu"))
    counter = TokenCounter()
    counter.setup(trainer, module, "fit")
    for mask in ([[1, 1, 1, 0], [1, 1, 0, 0]], [[1, 1, 1, 1]]):
        counter.on_train_batch_end(trainer, module, None, {"attention_mask": torch.tensor(mask)}, 0)
    state = counter.state_dict()
    counter.on_train_end(trainer, module)
    assert counter.total == 9 and state == {"tokens": 9}
    resumed = TokenCounter()
    resumed.load_state_dict(state)
    resumed.on_train_batch_end(trainer, module, None, {"attention_mask": torch.ones(2, 3, dtype=torch.long)}, 0)
    resumed.on_train_end(trainer, module)
    assert resumed.total == 15
    empty = TokenCounter()
    empty.on_train_end(trainer, module)
    assert empty.total == 0


# ---- the Hub -----------------------------------------------------------------------------------------------------
class StubHub:
    """The endpoints HfApi.create_repo and upload_folder call (huggingface_hub 0.36): repos/create, validate-yaml,
    preupload (every file "regular", so no LFS transfer), commit (NDJSON, base64 contents). `reject` answers every
    request with that HTTP status instead."""

    def __init__(self, reject=None):
        self.requests, self.files, self.repos = [], {}, []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.split("?")[0]
                hub.requests.append((path, self.headers.get("authorization")))
                if reject:
                    return self.reply(reject, {"error": "Invalid credentials in Authorization header"})
                if path == "/api/repos/create":
                    request = json.loads(body)
                    repo = "/".join(filter(None, (request.get("organization"), request["name"])))
                    hub.repos.append(repo)
                    return self.reply(200, {"url": f"{hub.url}/{repo}"})
                if path == "/api/validate-yaml":
                    return self.reply(200, {"errors": [], "warnings": []})
                parts = path.split("/")  # /api/models/<namespace>/<name>/(preupload|commit)/<revision>
                if len(parts) == 7 and parts[5] == "preupload":
                    files = json.loads(body)["files"]
                    return self.reply(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                       "shouldIgnore": False} for f in files]})
                if len(parts) == 7 and parts[5] == "commit":
                    for line in body.splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            hub.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    oid = "0" * 40
                    return self.reply(200, {"commitUrl": f"{hub.url}/{parts[3]}/{parts[4]}/commit/{oid}",
                                            "commitOid": oid, "pullRequestUrl": None})
                return self.reply(404, {"error": f"the stub has no {path}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub_env(monkeypatch):
    """huggingface_hub in this process pointed at an endpoint (set by the test) with a token, online."""
    from huggingface_hub import constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    reset_sessions()
    yield lambda endpoint: monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    reset_sessions()


def unused_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_push_to_hub_creates_the_repo_and_uploads_the_folder(hub_env, tmp_path):
    from korsquad.export import push_to_hub

    (tmp_path / "best_model").mkdir()
    (tmp_path / "best_model" / "README.md").write_text("---\nlicense: cc-by-sa-4.0\n---\n# m\n")
    (tmp_path / "best_model" / "config.json").write_text("{}")
    hub = StubHub()
    try:
        hub_env(hub.url)
        url = push_to_hub("me/model", tmp_path / "best_model")
    finally:
        hub.close()
    assert url == f"{hub.url}/me/model" and hub.repos == ["me/model"]
    assert set(hub.files) == {"README.md", "config.json"} and hub.files["config.json"] == b"{}"
    assert {auth for _, auth in hub.requests} == {"Bearer hf_test_token"}


def test_push_to_hub_failures_are_one_line_and_keep_the_files(hub_env, tmp_path):
    from korsquad.export import push_to_hub

    folder = tmp_path / "best_model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    port = unused_port()
    hub_env(f"http://127.0.0.1:{port}")
    with pytest.raises(UsageError) as refused:
        push_to_hub("me/model", folder)
    message = str(refused.value)
    assert message.startswith(f"--push_to_hub me/model: cannot reach http://127.0.0.1:{port} (")
    assert "\n" not in message and str(folder.parent) in message and "hf upload me/model" in message
    hub = StubHub(reject=401)
    try:
        hub_env(hub.url)
        with pytest.raises(UsageError, match=r"--push_to_hub me/model: 401 Client Error"):
            push_to_hub("me/model", folder)
    finally:
        hub.close()
    assert (folder / "config.json").read_text() == "{}"


def test_push_to_hub_is_checked_before_training(monkeypatch, tmp_path):
    from huggingface_hub import constants

    from korsquad.config import resolve
    from korsquad.export import check_push

    with pytest.raises(UsageError, match="--push_to_hub must be a Hub repository id like user/name"):
        resolve(["--model_type", "bert", "--model_name_or_path", str(tmp_path), "--data_name", "squad_v1.1",
                 "--do_train", "--push_to_hub", "not a repo"])
    config = SimpleNamespace(push_to_hub="me/model", do_train=True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UsageError, match="HF_HUB_OFFLINE is set"):
        check_push(config)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no_token"))
    with pytest.raises(UsageError, match="no Hugging Face token"):
        check_push(config)
    with pytest.raises(UsageError, match="give it with --do_train"):
        check_push(SimpleNamespace(push_to_hub="me/model", do_train=False))
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    check_push(config)


# ---- run_qa.py ---------------------------------------------------------------------------------------------------
def test_training_exports_a_loadable_kobert_with_its_card_and_pushes_it(tmp_path):
    """KoBERT end to end: best_model/ loads with AutoTokenizer and pipeline, README.md is the card with the run's
    scores and tokens, and --push_to_hub uploads the folder to the (stub) Hub; then an unreachable Hub is one error
    line, exit 2, with every file kept."""
    from transformers import BertConfig, BertForQuestionAnswering, pipeline

    model_dir = tmp_path / "kobert"
    tokenizer = train_kobert(model_dir, squad_contexts(KORQUAD) * 20, vocab_size=300)
    BertForQuestionAnswering(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, intermediate_size=64)).save_pretrained(model_dir)
    data = data_dir_with(tmp_path, "korquad_v1.0", KORQUAD, KORQUAD)
    common = ["--model_type", "kobert", "--model_name_or_path", model_dir, "--data_name", "korquad_v1.0",
              "--data_dir", data, "--output_dir", tmp_path / "model", *QUICK, "--num_train_epochs", "2",
              "--do_train", "--push_to_hub", "me/kobert-korquad"]
    hub = StubHub()
    try:
        env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_test_token", "HF_HUB_OFFLINE": "0"}
        run = run_cli(*common, "--run_name", "k", "--do_eval", env=env)
    finally:
        hub.close()
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = tmp_path / "model" / "korquad_v1.0" / "k"
    best = run_dir / "best_model"
    assert f"uploaded {best} to {hub.url}/me/kobert-korquad" in run.stdout
    assert set(hub.files) == {p.name for p in best.iterdir()} and "tokenizer.json" in hub.files
    assert hub.files["README.md"] == (best / "README.md").read_bytes()

    record = json.loads((run_dir / "run.json").read_text())
    result = json.loads((run_dir / "result.json").read_text())
    tokens = record["train_tokens"]
    assert isinstance(tokens, int) and tokens > 0 and tokens % 2 == 0  # two epochs over the same features
    meta, body = front_matter((best / "README.md").read_text(encoding="utf-8"))
    metrics = {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert metrics == {key: round(value, 4) for key, value in result.items()}
    assert meta["license"] == "other" and f"{tokens:,}" in body and "--push_to_hub" not in body

    answer = pipeline("question-answering", model=str(best))(question=questions(KORQUAD)[0][0],
                                                             context=questions(KORQUAD)[0][1])
    assert answer["answer"]

    failed = run_cli(*common, "--run_name", "unreachable", "--max_steps", "1",
                     env={"HF_ENDPOINT": f"http://127.0.0.1:{unused_port()}", "HF_TOKEN": "hf_test_token",
                          "HF_HUB_OFFLINE": "0"})
    assert failed.returncode == 2
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --push_to_hub me/kobert-korquad: cannot reach http://127.0.0.1:")
    kept = tmp_path / "model" / "korquad_v1.0" / "unreachable"
    assert json.loads((kept / "run.json").read_text())["status"] == "finished"
    assert (kept / "best_model" / "README.md").is_file() and (kept / "best_model" / "tokenizer.json").is_file()
