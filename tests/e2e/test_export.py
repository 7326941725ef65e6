"""best_model/ (korsquad.serving.export): KoBERT's fast tokenizer (the same ids as KoBertTokenizer), the exported
folders, and through run_qa.py the folder with its model card (korsquad.serving.model_card) uploaded to a stub of the
Hub (korsquad.serving.hub)."""

import json

import pytest
from conftest import data_dir_with, run_cli
from export_helpers import KORQUAD, kobert, questions
from hub_stub import StubHub, front_matter, unused_port
from tiny_tokenizers import squad_contexts, train_kobert


QUICK = ["--accelerator", "cpu", "--max_seq_length", "128", "--doc_stride", "64", "--max_query_length", "32",
         "--batch_size", "8", "--logging_steps", "1"]


# ---- run_qa.py ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
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
