"""KorQuAD 2.x end to end: HTML documents through run_qa.py, answers recoverable through the features, labels and
decoded spans on tables, lists, nested tags and entities, and seeded negative-window sampling."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from korquad2_helpers import (SAMPLES_ABSENT, SAMPLE_FILES, SPEC, TINY, WINDOWS, kobert, minilm, rail_examples,
                              sample_examples, tokenizer)

from korsquad.data import metrics
from korsquad.data.readers import read_examples
from korsquad.data.scoring import evaluate_predictions
from korsquad.features.cache import load_features
from korsquad.features.tokenization import load_tokenizer
from korsquad.features.windows import build_features


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --- acceptance: run_qa.py on HTML documents ------------------------------------------------------------------


def korquad2_data_dir(tmp_path, with_samples):
    """--data_dir with korquad_v2.1/train/ and dev/ folders of parts: the shipped fixture, plus the real sample
    documents when asked."""
    root = tmp_path / "data"
    for split in ("train", "dev"):
        folder = root / SPEC.name / split
        folder.mkdir(parents=True)
        shutil.copy(TINY, folder / f"korquad2_tiny_{split}.json")
        if with_samples:
            shutil.copy(SAMPLE_FILES[split], folder / f"KorQuAD_2.1_{split}_sample.json")
    return root


def cached_features(data_dir, split):
    (folder,) = (data_dir / SPEC.name / "cache").glob(f"{split}-*")
    return load_features(folder)


@pytest.mark.slow
def test_run_qa_trains_and_evaluates_html_documents(tiny_bert, tmp_path, sample_examples):
    """The shipped fixture always, with the real sample documents added when they are here."""
    data_dir = korquad2_data_dir(tmp_path, with_samples=sample_examples is not None)
    out = tmp_path / "model"
    proc = run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", SPEC.name,
                   "--data_dir", data_dir, "--output_dir", out, "--run_name", "tiny", "--do_train", "--do_eval",
                   "--accelerator", "cpu", *(f"--{k}={v}" for k, v in WINDOWS.as_dict().items()),
                   "--batch_size", 16,
                   "--num_train_epochs", 1, "--logging_steps", 1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = out / SPEC.name / "tiny"
    config = read_json(run_dir / "run.json")["config"]
    assert (config["max_answer_length"], config["negative_window_ratio"]) == (256, 0.1)  # the 2.x defaults

    dev = read_examples(data_dir / SPEC.name / "dev", SPEC)
    contexts = {ex.id: ex.context for ex in dev}
    predictions = read_json(run_dir / "predictions_eval.json")
    nbest = read_json(run_dir / "nbest_predictions_eval.json")
    assert set(predictions) == set(nbest) == set(contexts)
    for qid, entries in nbest.items():
        assert entries and predictions[qid] == entries[0]["text"]
        for entry in entries:  # every candidate is a span of the original HTML, not of the text the model read
            assert entry["text"] == contexts[qid][entry["char_start"]:entry["char_end"]] and entry["text"]

    result = read_json(run_dir / "result.json")
    assert set(result) == {"exact_match", "f1"} and 0 <= result["exact_match"] <= result["f1"] <= 100
    assert result == evaluate_predictions(dev, predictions, metrics.KORQUAD_V2)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == result

    # Training read every window holding an answer and a sample of the others; evaluation read every window.
    train = read_examples(data_dir / SPEC.name / "train", SPEC, training=True)
    tokenizer = load_tokenizer("bert", str(tiny_bert))
    every_window = build_features(train, tokenizer, WINDOWS, training=True, reader=SPEC.reader)
    trained_on = cached_features(data_dir, "train")
    labeled = trained_on.start_positions != trained_on.cls_index
    assert set(trained_on.example_index[labeled].tolist()) == set(range(len(train)))
    assert np.sum(labeled) < len(trained_on) < len(every_window)
    evaluated = cached_features(data_dir, "dev")
    assert len(evaluated) == len(build_features(dev, tokenizer, WINDOWS, training=False, reader=SPEC.reader))
    if sample_examples is None:
        pytest.skip(f"shipped fixture passed; {SAMPLES_ABSENT}")
