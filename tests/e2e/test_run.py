"""run_qa.py end to end on CPU: train, evaluate from a saved checkpoint in a second process, DDP, resume, errors."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (FIXTURES, QUICK, copy_run, data_dir_with, kobert_qa_model, minilm_path, run_cli, scalars,
                      shared_file, squad_run_stdout, train_on_korquad_tiny, tree_bytes, wrong_modes)
from run_helpers import squad_dir, without_questions


OFFICIAL_V1_KEYS = {"exact_match", "f1"}


def read_json(path):
    return json.loads(Path(path).read_text())


@pytest.mark.slow
def test_train_then_evaluate_in_a_second_process(tiny_bert, squad_run, tmp_path):
    data_dir, trained = squad_run
    out = tmp_path / "model"
    run_dir = copy_run(trained, out)
    common = ["--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
              "--data_dir", data_dir, "--output_dir", out, "--run_name", "tiny", *QUICK]
    info = read_json(run_dir / "run.json")
    assert info["status"] == "finished" and info["config"]["max_answer_length"] == 30  # registry default
    assert info["config"]["adam_epsilon"] == 1e-8 and info["train_steps"] > 0
    best = read_json(run_dir / "checkpoints" / "best_checkpoint.json")
    assert (run_dir / best["path"]).is_file() and best["metric"] == "f1" and best["score"] is not None
    assert best["epoch"] in (0, 1) and best["step"] > 0
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert scalars(run_dir, "train_loss") and scalars(run_dir, "val_f1") and scalars(run_dir, "lr")

    for name in ("result.json", "predictions_eval.json", "nbest_predictions_eval.json"):
        (run_dir / name).unlink()  # the training evaluated too: the second process writes them anew
    evaluate = run_cli(*common, "--do_eval")
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    result = read_json(run_dir / "result.json")
    assert set(result) == OFFICIAL_V1_KEYS
    assert json.loads(evaluate.stdout.strip().splitlines()[-1]) == result
    # one spelling of the result line: the training's (of the same checkpoint) and the evaluation's, as printed by
    # korsquad.data.scoring
    assert squad_run_stdout(data_dir).strip().splitlines()[-1] == evaluate.stdout.strip().splitlines()[-1] \
        == json.dumps(result)
    predictions = read_json(run_dir / "predictions_eval.json")
    tiny = read_json(FIXTURES / "squad_v1_tiny.json")
    ids = {qa["id"] for article in tiny["data"] for p in article["paragraphs"] for qa in p["qas"]}
    assert set(predictions) == ids
    assert set(read_json(run_dir / "nbest_predictions_eval.json")) == ids

    unlabeled = tmp_path / "questions.json"
    for article in tiny["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                del qa["answers"]
    unlabeled.write_text(json.dumps(tiny))
    predict = run_cli(*common, "--do_predict", "--predict_file", unlabeled)
    assert predict.returncode == 0, predict.stderr[-3000:]
    assert read_json(run_dir / "predictions_predict.json") == predictions  # same checkpoint, same questions
    assert read_json(run_dir / "result.json") == result  # the evaluation's files are left alone

    from transformers import pipeline

    qa = pipeline("question-answering", model=str(run_dir / "best_model"), device=-1)
    answer = qa(question="Who wrote it?", context="The book was written by Jane Austen in 1813.")
    assert isinstance(answer["answer"], str)


@pytest.mark.slow
def test_evaluation_under_ddp_matches_one_process(tiny_bert, squad_dir, tmp_path):
    out = tmp_path / "model"
    common = ["--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
              "--data_dir", squad_dir, "--output_dir", out, *QUICK]
    train = run_cli(*common, "--run_name", "ddp", "--do_train", "--do_eval", "--num_train_epochs", "1",
                    "--devices", "2")
    assert train.returncode == 0, train.stderr[-3000:]
    run_dir = out / "squad_v1.1" / "ddp"
    ddp_predictions = read_json(run_dir / "predictions_eval.json")
    ddp_result = read_json(run_dir / "result.json")
    single = run_cli(*common, "--run_name", "ddp", "--do_eval", "--devices", "1")
    assert single.returncode == 0, single.stderr[-3000:]
    assert read_json(run_dir / "predictions_eval.json") == ddp_predictions
    assert read_json(run_dir / "result.json") == ddp_result
    info = read_json(run_dir / "run.json")
    assert info["hardware"]["devices"] == 2 and info["config"]["do_train"]  # the training's record is kept
    assert info["evaluation"]["hardware"]["devices"] == 1 and info["evaluation"]["status"] == "finished"


def count_features(data_dir):
    import numpy as np

    manifests = list((data_dir / "squad_v1.1" / "cache").glob("train-*/manifest.json"))
    assert manifests
    return len(np.load(manifests[0].parent / "example_index.npy"))


@pytest.mark.parametrize("flags, message", [
    (["--data_name", "squad_v3"], "--data_name"),
    (["--model_type", "gpt9"], "--model_type"),
    (["--max_seq_length", "40", "--max_query_length", "64"], "--max_seq_length"),
    (["--doc_stride", "400"], "--doc_stride"),
    (["--gpu_ids", "7"], "--gpu_ids"),
    (["--data_dir", "/nonexistent"], "download_squad.py"),
    (["--batch_size", "-3"], "--batch_size must be positive"),
    (["--learning_rate", "-1"], "--learning_rate must not be negative"),
    (["--warmup_ratio", "2"], "--warmup_ratio must be"),
    (["--num_train_epochs", "0"], "--num_train_epochs must be positive"),
])
def test_bad_input_is_one_line_and_exit_2(tiny_bert, squad_dir, flags, message):
    base = {"--model_type": "bert", "--model_name_or_path": str(tiny_bert), "--data_name": "squad_v1.1",
            "--data_dir": str(squad_dir)}
    for flag, value in zip(flags[::2], flags[1::2]):
        base[flag] = value
    args = [x for pair in base.items() for x in pair] + ["--do_train", "--accelerator", "cpu"]
    result = run_cli(*args, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr


def closed_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("case, flags, message", [
    ("data file", ["--do_train"], "train.json not found"),
    ("dev file of an evaluation", ["--do_eval", "--checkpoint", "bert-base-uncased"], "dev.json not found"),
    ("flag", ["--do_train", "--data_dir", "DATA", "--learning_rate", "-1"], "--learning_rate must not be negative"),
    ("run folder", ["--do_train", "--data_dir", "DATA", "--output_dir", "USED"], "already holds a training run"),
])
def test_every_check_without_network_comes_before_the_hub_is_asked(squad_dir, tmp_path, case, flags, message):
    """A Hub model name with no network (HF_ENDPOINT on a closed port): the Hub would retry for half a minute, so
    a mistake that needs no network is told first."""
    import time

    used = tmp_path / "used" / "squad_v1.1" / "bert-base-uncased"
    used.mkdir(parents=True)
    (used / "run.json").write_text(json.dumps({"config": {"do_train": True}, "status": "finished"}))
    flags = [{"DATA": squad_dir, "USED": tmp_path / "used"}.get(flag, flag) for flag in flags]
    start = time.monotonic()
    result = run_cli("--model_type", "bert", "--model_name_or_path", "bert-base-uncased", "--data_name",
                     "squad_v1.1", "--data_dir", tmp_path / "none", "--output_dir", tmp_path / "model", *flags,
                     env={"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0",
                          "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}, timeout=120)
    seconds = time.monotonic() - start
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert seconds < 5, f"{case}: {seconds:.1f} s"


def test_evaluating_or_answering_no_questions_leaves_the_run_folder_as_it_was(squad_run, tmp_path):
    data_dir, trained = squad_run
    run_dir = copy_run(trained, tmp_path / "model")
    before = tree_bytes(run_dir)
    empty, no_qas = without_questions(tmp_path)
    common = ["--data_name", "squad_v1.1", "--data_dir", data_dir, "--output_dir", tmp_path / "model", "--run_name",
              "tiny", "--checkpoint", run_dir, "--accelerator", "cpu"]
    for flags, named, use in ((["--do_eval", "--dev_file", empty], empty, "nothing to evaluate"),
                              (["--do_predict", "--predict_file", no_qas], no_qas, "nothing to answer")):
        refused = run_cli(*common, *flags, timeout=120)
        assert refused.returncode == 2
        assert refused.stderr.splitlines() == [f"error: {named}: holds no questions: {use}"]
    assert tree_bytes(run_dir) == before


def test_a_refused_overwrite_removes_nothing(squad_run, tmp_path):
    """--overwrite_output_dir removes the old run only once every check has passed: a model that cannot be
    loaded leaves it whole."""
    data_dir, trained = squad_run
    run_dir = copy_run(trained, tmp_path / "model")
    before = tree_bytes(run_dir)
    refused = run_cli("--model_type", "bert", "--model_name_or_path", tmp_path / "no_model", "--data_name",
                      "squad_v1.1", "--data_dir", data_dir, "--output_dir", tmp_path / "model", "--run_name", "tiny",
                      "--accelerator", "cpu", "--batch_size", "4", "--do_train", "--overwrite_output_dir",
                      timeout=120)
    assert refused.returncode == 2
    assert len(refused.stderr.splitlines()) == 1 and "no_model" in refused.stderr, refused.stderr
    assert tree_bytes(run_dir) == before


def test_every_output_has_the_mode_the_umask_gives(tiny_bert, tmp_path, umask):
    """A training that evaluates and predicts, and its evaluation page, run under umask 022 (a teammate on a
    shared machine reads every file: 0644, folders 0755) and 077 (nobody else: 0600, 0700): every file and folder of
    the output folder and of the feature caches has the mode an ordinary open() or mkdir gives."""
    tiny = FIXTURES / "squad_v1_tiny.json"
    data_dir = data_dir_with(tmp_path, "squad_v1.1", tiny, tiny)
    run = run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
                  "--data_dir", data_dir, "--output_dir", tmp_path / "model", "--run_name", "r", *QUICK,
                  "--max_steps", "1", "--max_eval_samples", "2", "--logger", "csv,tensorboard", "--do_train",
                  "--do_eval", "--do_predict", "--predict_file", tiny)
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = tmp_path / "model" / "squad_v1.1" / "r"
    page = subprocess.run([sys.executable, "-m", "korsquad", "inspect", run_dir], capture_output=True, text=True,
                          timeout=120)
    assert page.returncode == 0, page.stderr[-3000:]
    written = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")}
    assert {"run.json", "result.json", "evaluations.json", "predictions_eval.json", "predictions_predict.json",
            "inspect_eval.html", "best_model/model.safetensors", "best_model/README.md",
            "best_model/training_settings.json", "checkpoints/best_checkpoint.json", "checkpoints/last.ckpt",
            "csv_logs/version_0/hparams.yaml"} <= written
    cache = data_dir / "squad_v1.1" / "cache"
    assert list(cache.glob("train-*/manifest.json"))
    assert wrong_modes(tmp_path / "model", umask) == {} and wrong_modes(cache, umask) == {}


def test_eval_without_checkpoint_is_a_clear_error(tiny_bert, squad_dir, tmp_path):
    result = run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
                     "--data_dir", squad_dir, "--output_dir", tmp_path, "--do_eval", "--accelerator", "cpu")
    assert result.returncode == 2 and "no trained checkpoint" in result.stderr


@pytest.mark.slow
def test_minilm_learns_on_a_real_sample(tmp_path):
    """Loss goes down and F1 goes up: a broken label or a frozen model fails this. Trained as the quick start
    trains (--precision auto: bf16 autocast only where the CPU computes bfloat16 natively, fp32 elsewhere, where
    emulated bf16 took ten times as long and hit the timeout; no attention dropout: the fused attention kernel)."""
    train = shared_file("squad_v1.1/train.sample.json")
    data = data_dir_with(tmp_path, "squad_v1.1", train, train)
    run = run_cli("--model_type", "bert", "--model_name_or_path", minilm_path(), "--data_name", "squad_v1.1",
                  "--data_dir", data, "--output_dir", tmp_path / "model", "--run_name", "minilm", "--accelerator",
                  "cpu", "--max_seq_length", "192", "--doc_stride", "128", "--max_query_length", "32",
                  "--batch_size", "16", "--learning_rate", "3e-4", "--warmup_ratio", "0.1", "--logging_steps", "1",
                  "--max_train_samples", "64", "--max_eval_samples", "64", "--num_train_epochs", "3", "--do_train",
                  "--precision", "auto", "--attention_dropout", "0")
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = tmp_path / "model" / "squad_v1.1" / "minilm"
    loss = [v for _, v in sorted(scalars(run_dir, "train_loss"))]
    f1 = [v for _, v in sorted(scalars(run_dir, "val_f1"))]
    print("loss first/last", loss[:3], loss[-3:], "val_f1 by epoch", f1)
    assert sum(loss[-5:]) / 5 < 0.7 * sum(loss[:5]) / 5
    assert f1[-1] > f1[0] + 3 and f1[-1] > 15


@pytest.mark.slow
@pytest.mark.parametrize("model_type", ["kobert", "distilkobert"])
def test_kobert_models_train_and_evaluate_on_korean(model_type, request, tmp_path):
    """The slow KoBertTokenizer path end to end; DistilKoBERT takes no token_type_ids. (KoBERT's run is conftest's
    kobert_run, which test_answerer reads too.)"""
    from tiny_tokenizers import squad_contexts

    korquad = FIXTURES / "korquad_tiny.json"
    if model_type == "kobert":
        _, run_dir = request.getfixturevalue("kobert_run")
    else:
        run_dir = train_on_korquad_tiny(tmp_path, model_type, kobert_qa_model(tmp_path / model_type, model_type))
    assert set(read_json(run_dir / "result.json")) == OFFICIAL_V1_KEYS
    contexts = "".join(squad_contexts(korquad))
    predictions = read_json(run_dir / "predictions_eval.json")
    assert len(predictions) == 17 and all(text in contexts for text in predictions.values())


@pytest.mark.slow
def test_evaluation_inherits_the_training_settings_and_survives_a_moved_folder(tiny_bert, squad_run, tmp_path):
    squad_dir, first = squad_run  # trained with --n_best_size 10
    trained = read_json(first / "predictions_eval.json")
    moved = tmp_path / "moved"
    run_dir = copy_run(first, moved)
    (run_dir / "predictions_eval.json").unlink()
    # no --model_type, no window or decoding flags: all from the training's run.json
    evaluate = run_cli("--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1", "--data_dir", squad_dir,
                       "--output_dir", moved, "--run_name", "tiny", "--accelerator", "cpu", "--do_eval")
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert "settings differ" not in evaluate.stderr
    assert read_json(run_dir / "predictions_eval.json") == trained
    record = read_json(run_dir / "run.json")
    assert record["config"]["do_train"] and record["evaluation"]["config"]["max_seq_length"] == 128
    assert record["evaluation"]["config"]["n_best_size"] == 10

    differing = run_cli("--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1", "--data_dir", squad_dir,
                        "--output_dir", moved, "--run_name", "tiny", "--accelerator", "cpu", "--do_eval",
                        "--max_seq_length", "112")
    assert differing.returncode == 0, differing.stderr[-3000:]
    notes = [line for line in differing.stderr.splitlines() if "settings differ" in line]
    assert notes == [f"note: settings differ from the training's ({run_dir / 'checkpoints' / 'best.ckpt'}): "
                     "max_seq_length 112 (trained with 128)"]
    assert read_json(run_dir / "run.json")["evaluation"]["config"]["max_seq_length"] == 112


@pytest.mark.slow
def test_a_finished_run_folder_is_kept_unless_overwritten_and_run_json_replays(tiny_bert, squad_dir, tmp_path):
    out = tmp_path / "model"
    args = ["--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1", "--data_dir",
            squad_dir, "--output_dir", out, "--run_name", "r", *QUICK, "--max_steps", "2", "--do_train"]
    assert run_cli(*args).returncode == 0
    run_dir = out / "squad_v1.1" / "r"
    best = run_dir / "checkpoints" / "best.ckpt"
    stamp = best.stat().st_mtime_ns
    again = run_cli(*args)
    assert again.returncode == 2
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "already holds a training run" in lines[0] and "--overwrite_output_dir" in lines[0]
    assert best.stat().st_mtime_ns == stamp  # nothing of the finished run was touched

    replay = run_cli("--config", run_dir / "run.json", "--run_name", "replayed")
    assert replay.returncode == 0, replay.stderr[-3000:]
    original, replayed = read_json(run_dir / "run.json")["config"], read_json(out / "squad_v1.1" / "replayed" /
                                                                             "run.json")["config"]
    assert {k: v for k, v in replayed.items() if k != "run_name"} == \
           {k: v for k, v in original.items() if k != "run_name"}

    overwrite = run_cli(*args, "--overwrite_output_dir", "--max_steps", "1")
    assert overwrite.returncode == 0, overwrite.stderr[-3000:]
    assert read_json(run_dir / "run.json")["train_steps"] == 1
    assert read_json(run_dir / "checkpoints" / "best_checkpoint.json")["step"] == 1

    # replaying the run.json of a run trained with --overwrite_output_dir does not remove that run
    stamp = best.stat().st_mtime_ns
    replay = run_cli("--config", run_dir / "run.json")
    assert replay.returncode == 2
    lines = replay.stderr.strip().splitlines()
    assert lines[0].startswith(f"note: --config {run_dir / 'run.json'} is a run's record: not replaying "
                               "--overwrite_output_dir") and "already holds a training run" in lines[1]
    assert best.stat().st_mtime_ns == stamp and read_json(run_dir / "run.json")["train_steps"] == 1


@pytest.mark.slow
def test_model_path_dot_dot_with_overwrite_replaces_only_its_own_run(tiny_bert, squad_dir, tmp_path):
    """--model_name_or_path .. names the run after that folder; --overwrite_output_dir then removes that run's
    folder only, never OUTPUT_DIR (and every other run in it)."""
    out, model = tmp_path / "model", tmp_path / "mymodel"
    shutil.copytree(tiny_bert, model)
    (model / "inner").mkdir()
    beside = out / "squad_v1.1" / "other"
    beside.mkdir(parents=True)
    (beside / "run.json").write_text(json.dumps({"config": {"do_train": True, "run_name": "other",
                                                            "data_name": "squad_v1.1"}}))
    args = ["--model_type", "bert", "--model_name_or_path", "..", "--data_name", "squad_v1.1", "--data_dir",
            squad_dir, "--output_dir", out, *QUICK, "--max_steps", "1", "--max_eval_samples", "2", "--do_train",
            "--overwrite_output_dir"]
    for _ in range(2):
        trained = run_cli(*args, cwd=model / "inner")
        assert trained.returncode == 0, trained.stderr[-3000:]
    assert read_json(beside / "run.json")["config"]["run_name"] == "other"
    assert read_json(out / "squad_v1.1" / "mymodel" / "run.json")["config"]["run_name"] == "mymodel"
    assert sorted(p.name for p in out.iterdir()) == ["squad_v1.1"]


def test_a_config_file_with_an_unknown_key_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model_type: bert\nmodel_name_or_path: m\ndata_name: squad_v1.1\ndo_train: true\nlr: 1\n")
    result = run_cli("--config", config, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown key 'lr'" in lines[0], result.stderr


@pytest.mark.slow
def test_own_files_train_and_evaluate_and_never_share_a_cache(tiny_bert, tmp_path):
    """--train_file/--dev_file replace the registry's files; --data_name keeps choosing reader, metric, defaults."""
    tiny = read_json(FIXTURES / "squad_v1_tiny.json")
    rows = [{"id": qa["id"], "question": qa["question"], "context": p["context"],
             "answers": {"text": [a["text"] for a in qa["answers"]],
                         "answer_start": [a["answer_start"] for a in qa["answers"]]}}
            for article in tiny["data"] for p in article["paragraphs"] for qa in p["qas"]]
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps(row) + "\n" for row in rows))
    data_dir = tmp_path / "data"  # holds no registry file at all
    common = ["--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1", "--data_dir",
              data_dir, "--output_dir", tmp_path / "model", *QUICK, "--num_train_epochs", "1"]
    run = run_cli(*common, "--run_name", "own", "--train_file", FIXTURES / "squad_v1_tiny.json", "--dev_file", dev,
                  "--do_train", "--do_eval")
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = tmp_path / "model" / "squad_v1.1" / "own"
    assert set(read_json(run_dir / "predictions_eval.json")) == {row["id"] for row in rows}
    assert set(read_json(run_dir / "result.json")) == OFFICIAL_V1_KEYS

    fewer = tmp_path / "fewer.jsonl"
    fewer.write_text("".join(json.dumps(row) + "\n" for row in rows[:3]))
    evaluate = run_cli("--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1", "--data_dir", data_dir,
                       "--output_dir", tmp_path / "model", "--run_name", "own", "--accelerator", "cpu",
                       "--dev_file", fewer, "--do_eval")
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert set(read_json(run_dir / "predictions_eval.json")) == {row["id"] for row in rows[:3]}
    assert len(list((data_dir / "squad_v1.1" / "cache").glob("dev-*"))) == 2  # one cache per file content

    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(rows[0]) + "\n{not json\n")
    bad = run_cli(*common, "--run_name", "bad", "--train_file", broken, "--dev_file", dev, "--do_train")
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and "line 2" in lines[0], bad.stderr


@pytest.mark.slow
def test_eval_steps_validate_at_steps_and_epoch_ends_and_early_stopping_stops(tiny_bert, squad_dir, tmp_path):
    out = tmp_path / "model"
    common = ["--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "squad_v1.1",
              "--data_dir", squad_dir, "--output_dir", out, *QUICK, "--batch_size", "4", "--do_train"]
    run = run_cli(*common, "--run_name", "steps", "--num_train_epochs", "2", "--eval_steps", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = out / "squad_v1.1" / "steps"
    steps_per_epoch = -(-count_features(squad_dir) // 4)
    total = 2 * steps_per_epoch
    expected = sorted(set(range(2, total + 1, 2)) | {steps_per_epoch, total})
    f1 = scalars(run_dir, "val_f1")
    assert [step for step, _ in f1] == expected
    best = read_json(run_dir / "checkpoints" / "best_checkpoint.json")
    first_best = next(step for step, value in f1 if value == max(v for _, v in f1))
    assert best["step"] == first_best and best["score"] == pytest.approx(max(v for _, v in f1), abs=1e-4)

    # a learning rate too small to change anything: the F1 never improves after the first validation
    stop = run_cli(*common, "--run_name", "stop", "--num_train_epochs", "5", "--eval_steps", "1",
                   "--early_stopping_patience", "2", "--learning_rate", "1e-12")
    assert stop.returncode == 0, stop.stderr[-3000:]
    assert read_json(out / "squad_v1.1" / "stop" / "run.json")["train_steps"] == 3
    assert len(scalars(out / "squad_v1.1" / "stop", "val_f1")) == 3


@pytest.fixture(scope="module")
def english_vocab_on_korean(tiny_bert, tmp_path_factory):
    """One short training of a model with MiniLM's English WordPiece vocabulary on the KorQuAD sample."""
    tmp = tmp_path_factory.mktemp("misfit")
    data = data_dir_with(tmp, "korquad_v1.0", FIXTURES / "korquad_tiny.json", FIXTURES / "korquad_tiny.json")
    common = ["--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", "korquad_v1.0",
              "--data_dir", data, "--output_dir", tmp / "model", "--run_name", "misfit", *QUICK]
    run = run_cli(*common, "--do_train", "--do_eval", "--num_train_epochs", "1")
    assert run.returncode == 0, run.stderr[-3000:]
    return common, tmp / "model" / "korquad_v1.0" / "misfit", run


@pytest.mark.slow
def test_a_tokenizer_that_does_not_fit_the_data_is_one_warning_line(english_vocab_on_korean):
    _, _, run = english_vocab_on_korean
    (line,) = [line for line in run.stderr.splitlines() if "the tokenizer does not fit" in line]
    assert line.startswith("warning: ") and "% of the context characters are unknown tokens" in line
    assert "korsquad audit --data_name=korquad_v1.0" in line


@pytest.mark.slow
def test_best_checkpoint_holds_the_weights_not_the_optimizer_and_an_old_one_still_evaluates(english_vocab_on_korean):
    import torch

    common, run_dir, _ = english_vocab_on_korean
    best, last = run_dir / "checkpoints" / "best.ckpt", run_dir / "checkpoints" / "last.ckpt"
    weights = (run_dir / "best_model" / "model.safetensors").stat().st_size
    assert best.stat().st_size <= 1.1 * weights < last.stat().st_size / 2  # AdamW's two moments stay in last.ckpt
    saved = torch.load(best, map_location="cpu", weights_only=True)
    assert "optimizer_states" not in saved and "lr_schedulers" not in saved and saved["hyper_parameters"]["hf_config"]
    record = read_json(run_dir / "checkpoints" / "best_checkpoint.json")
    assert saved["best"] == {key: record[key] for key in ("metric", "score", "epoch", "step")}
    assert saved["global_step"] == record["step"]

    # the previous layout: best.ckpt with the whole training state, as last.ckpt (the same step here) holds it
    full = torch.load(last, map_location="cpu", weights_only=False)
    assert full["global_step"] == saved["global_step"] and "optimizer_states" in full
    assert all(torch.equal(full["state_dict"][key], value) for key, value in saved["state_dict"].items())
    predictions = read_json(run_dir / "predictions_eval.json")
    shutil.copy(last, best)
    evaluate = run_cli(*common, "--do_eval")
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert read_json(run_dir / "predictions_eval.json") == predictions


def files_of(folder):
    """Every file of a folder and its bytes."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.mark.slow
def test_each_run_of_one_model_keeps_its_own_evaluations(tiny_bert, squad_run, tmp_path):
    """Two runs of one model in one output folder: the second's checkpoint evaluated without --run_name, then the
    second evaluated by its name alone, each into the second's folder; the first's files stay byte for byte."""
    from korsquad.config.runconfig import default_run_name

    data_dir, trained = squad_run
    out = tmp_path / "out"
    first = Path(shutil.copytree(trained, out / "squad_v1.1" / default_run_name(str(tiny_bert))))
    second = Path(shutil.copytree(trained, out / "squad_v1.1" / "res"))
    before = files_of(first)
    by_checkpoint = run_cli("--data_name", "squad_v1.1", "--data_dir", data_dir, "--output_dir", out, "--do_eval",
                            "--checkpoint", second / "checkpoints" / "best.ckpt", "--accelerator", "cpu",
                            "--max_eval_samples", "5")
    assert by_checkpoint.returncode == 0, by_checkpoint.stderr[-3000:]
    assert len(read_json(second / "predictions_eval.json")) == 5
    by_name = run_cli("--data_name", "squad_v1.1", "--data_dir", data_dir, "--output_dir", out, "--run_name", "res",
                      "--do_eval", "--accelerator", "cpu", "--max_eval_samples", "3")
    assert by_name.returncode == 0, by_name.stderr[-3000:]
    assert [entry["questions"] for entry in read_json(second / "evaluations.json")][-2:] == [5, 3]
    record = read_json(second / "run.json")
    assert record["config"]["do_train"] and record["evaluation"]["config"]["run_name"] == "res"
    assert record["evaluation"]["config"]["max_eval_samples"] == 3
    assert files_of(first) == before
    assert sorted(path.name for path in (out / "squad_v1.1").iterdir()) == sorted([first.name, "res"])


def reversed_vocabulary_tokenizer(folder):
    """A WordPiece tokenizer of MiniLM's tokens numbered backwards: every id differs from the tiny BERT's."""
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True)
    words = (minilm_path() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (folder / "vocab.txt").write_text("\n".join(reversed(words)) + "\n", encoding="utf-8")
    BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)


@pytest.mark.slow
def test_a_run_trained_with_a_relative_model_path_evaluates_alike_from_any_folder(tiny_bert, squad_dir, tmp_path):
    """--model_name_or_path .. is resolved once, when given: evaluated from folders where `..` is another model or
    nothing, the run gives its training's predictions, with its best_model/ and then without it (the recorded
    absolute path); with neither, one short error line and exit 2."""
    model = Path(shutil.copytree(tiny_bert, tmp_path / "mymodel"))
    (model / "inner").mkdir()
    out = tmp_path / "out"
    common = ["--data_name", "squad_v1.1", "--data_dir", squad_dir, "--output_dir", out, "--max_eval_samples", "6",
              "--accelerator", "cpu"]
    train = run_cli("--model_type", "bert", "--model_name_or_path", "..", *common, *QUICK, "--run_name", "rel",
                    "--max_steps", "1", "--do_train", "--do_eval", cwd=model / "inner")
    assert train.returncode == 0, train.stderr[-3000:]
    run_dir = out / "squad_v1.1" / "rel"
    trained = read_json(run_dir / "predictions_eval.json")
    reversed_vocabulary_tokenizer(tmp_path / "other")
    (tmp_path / "other" / "inner").mkdir()
    (tmp_path / "third" / "inner").mkdir(parents=True)
    for cwd in ("other", "third"):
        if cwd == "third":
            shutil.rmtree(run_dir / "best_model")  # the tokenizer from the path the training recorded
        (run_dir / "predictions_eval.json").unlink()
        evaluate = run_cli(*common, "--do_eval", "--checkpoint", run_dir / "checkpoints" / "best.ckpt",
                           cwd=tmp_path / cwd / "inner")
        assert evaluate.returncode == 0, evaluate.stderr[-3000:]
        assert read_json(run_dir / "predictions_eval.json") == trained
    assert read_json(run_dir / "run.json")["config"]["model_name_or_path_resolved"] == str(model)
    model.rename(tmp_path / "moved")
    before = files_of(run_dir)
    missing = run_cli(*common, "--do_eval", "--checkpoint", run_dir / "checkpoints" / "best.ckpt",
                      cwd=tmp_path / "third" / "inner")
    lines = missing.stderr.strip().splitlines()
    assert missing.returncode == 2 and len(lines) == 1 and len(lines[0]) < 400, missing.stderr[-3000:]
    assert str(model) in lines[0] and "give --model_name_or_path" in lines[0]
    assert files_of(run_dir) == before
