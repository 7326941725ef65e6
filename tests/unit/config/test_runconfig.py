"""korsquad.config.runconfig: one resolved, checked configuration from flags, config files, the training's record and
the registry (no model is loaded here: these run in milliseconds)."""

import json
import shutil

import pytest

from korsquad.common.errors import UsageError
from korsquad.config.runconfig import resolve
from korsquad.data.datasets import REGISTRY
from korsquad.runs.checkpoints import SETTINGS_KEY
from korsquad.runs.folder import RunFolder
from korsquad.runs.settings import WindowSettings

BASE = ["--model_type", "bert", "--model_name_or_path", "some/model", "--data_name", "squad_v1.1"]


def test_registry_defaults_fill_unset_settings():
    config = resolve([*BASE, "--do_train"])
    spec = REGISTRY["squad_v1.1"]
    assert config.window.max_seq_length == spec.defaults["max_seq_length"] == 384
    assert config.weight_decay == spec.defaults["weight_decay"]
    assert config.adam_epsilon == 1e-8 and config.batch_size == 16 and config.eval_batch_size == 32
    assert config.run_name == "some-model" and config.world_size == 1
    assert resolve([*BASE, "--do_train", "--model_type", "roberta"]).adam_epsilon == 1e-6


def test_large_models_get_the_large_batch_size(tmp_path):
    from transformers import BertConfig

    BertConfig(hidden_size=1024, num_attention_heads=16).save_pretrained(tmp_path)
    config = resolve(["--model_type", "bert", "--model_name_or_path", str(tmp_path), "--data_name", "korquad_v1.0",
                      "--do_train"])
    assert config.batch_size == REGISTRY["korquad_v1.0"].defaults["batch_size_large"] == 4
    assert config.eval_batch_size == 8


def test_the_config_is_frozen():
    config = resolve([*BASE, "--do_train"])
    with pytest.raises((TypeError, AttributeError)):
        config.values["batch_size"] = 3
    with pytest.raises(AttributeError):
        config.batch_size = 3


@pytest.mark.parametrize("flag, value", [
    ("--batch_size", "-3"), ("--learning_rate", "-1"), ("--warmup_ratio", "2"), ("--num_train_epochs", "0"),
    ("--max_steps", "0"), ("--doc_stride", "0"), ("--n_best_size", "0"), ("--max_answer_length", "-5"),
    ("--negative_window_ratio", "1.5"), ("--adam_epsilon", "0"), ("--weight_decay", "-0.1"),
    ("--save_steps", "0"), ("--devices", "0"), ("--peak_tflops", "-2"), ("--eval_batch_size", "0"),
])
def test_out_of_range_values_name_the_flag(flag, value):
    with pytest.raises(UsageError, match=f"^{flag} "):
        resolve([*BASE, "--do_train", flag, value])


@pytest.mark.parametrize("name", [".", "..", "", "a/b", "../x", "/abs", "a\\b"])
def test_a_run_name_that_would_leave_the_data_set_folder_is_refused(name):
    with pytest.raises(UsageError, match="--run_name .* must be a plain folder name"):
        resolve([*BASE, "--do_train", "--run_name", name])


def test_a_model_path_dot_or_dot_dot_names_the_run_after_that_folder(tmp_path, monkeypatch):
    inner = tmp_path / "models" / "mine"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    for model, name in ((".", "mine"), ("..", "models"), ("./", "mine"), ("../..", tmp_path.name)):
        config = resolve(["--model_type", "bert", "--model_name_or_path", model, "--data_name", "squad_v1.1",
                          "--do_train"])
        assert config.run_name == name
        assert config.folder.root.parent == config.folder.root.parent.parent / "squad_v1.1"


def trained_record(tmp_path, *flags):
    """A training's run.json in its folder, as run_qa.py leaves it."""
    trained = resolve([*BASE, "--do_train", "--output_dir", str(tmp_path), *flags])
    trained.folder.root.mkdir(parents=True)
    trained.folder.run_json.write_text(json.dumps({"config": trained.record(), "status": "failed"}))
    return trained


def test_resume_continues_with_the_runs_settings_and_may_extend_it(tmp_path):
    trained = trained_record(tmp_path, "--learning_rate", "3e-4", "--max_steps", "2", "--seed", "7",
                             "--batch_size", "4", "--max_seq_length", "128")
    resumed = resolve([*BASE, "--do_train", "--output_dir", str(tmp_path), "--resume", "--max_steps", "4",
                       "--learning_rate", "0.0003", "--eval_batch_size", "64"])
    assert (resumed.learning_rate, resumed.seed, resumed.batch_size, resumed.window.max_seq_length) == (3e-4, 7, 4, 128)
    assert (resumed.max_steps, resumed.eval_batch_size, resumed.resume) == (4, 64, True)
    assert resumed.folder.root == trained.folder.root


def test_resume_refuses_what_changes_what_is_trained_naming_each(tmp_path):
    trained_record(tmp_path, "--learning_rate", "3e-4", "--seed", "7")
    with pytest.raises(UsageError) as refused:
        resolve([*BASE, "--do_train", "--output_dir", str(tmp_path), "--resume", "--learning_rate", "1e-4",
                 "--seed", "8", "--devices", "2", "--max_steps", "9"])
    message = str(refused.value)
    assert "\n" not in message and "--max_steps" not in message
    for part in ("--learning_rate 0.0001 (trained with 0.0003)", "--seed 8 (trained with 7)",
                 "2 processes (trained with 1"):
        assert part in message


def test_resume_compares_precision_auto_as_the_precision_it_chooses(tmp_path, monkeypatch):
    from cpu_samples import SKYLAKE, ZEN4

    from korsquad.common import cpu

    monkeypatch.setattr(cpu, "read_cpu_flags", lambda: cpu.cpu_flags(ZEN4))
    trained = trained_record(tmp_path, "--accelerator", "cpu", "--precision", "auto")
    assert trained.record()["precision"] == "bf16-mixed"
    again = [*BASE, "--do_train", "--output_dir", str(tmp_path), "--resume", "--accelerator", "cpu"]
    assert resolve(again + ["--precision", "auto"]).precision == "bf16-mixed"  # the same choice here
    monkeypatch.setattr(cpu, "read_cpu_flags", lambda: cpu.cpu_flags(SKYLAKE))  # continued on another CPU
    assert resolve(again).precision == "bf16-mixed"  # not given: the run's own
    with pytest.raises(UsageError, match=r"--precision auto \(32 here\) \(trained with bf16-mixed\)"):
        resolve(again + ["--precision", "auto"])


def fake_best_checkpoint(folder, settings=None):
    """A run folder's best checkpoint holding only what settings are read from (no weights)."""
    import torch

    folder.checkpoints_dir.mkdir(parents=True)
    torch.save({"global_step": 3} if settings is None else {"global_step": 3, SETTINGS_KEY: settings},
               folder.best_checkpoint_file)
    folder.record_best(folder.best_checkpoint_file, "f1", 1.0, 0, 3)
    return folder.best_checkpoint_file


def test_evaluation_inherits_the_training_settings(tmp_path, capsys):
    trained = resolve([*BASE, "--do_train", "--output_dir", str(tmp_path), "--max_seq_length", "256",
                       "--doc_stride", "64", "--n_best_size", "5"])
    folder = trained.folder
    fake_best_checkpoint(folder)  # saved before checkpoints carried settings: its run.json's are taken
    folder.run_json.write_text(json.dumps({"config": trained.record(), "status": "finished"}))
    evaluation = resolve(["--model_name_or_path", "some/model", "--data_name", "squad_v1.1", "--do_eval",
                          "--output_dir", str(tmp_path)])
    assert (evaluation.model_type, evaluation.window, evaluation.decoding.n_best_size) == \
           ("bert", WindowSettings(256, 64, 64), 5)
    assert evaluation.inherited_from == str(folder.run_json)
    assert capsys.readouterr().err == ""
    differing = resolve(["--model_name_or_path", "some/model", "--data_name", "squad_v1.1", "--do_eval",
                         "--output_dir", str(tmp_path), "--max_seq_length", "384", "--doc_stride", "64"])
    assert differing.window.max_seq_length == 384
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"note: settings differ from the training's ({folder.run_json}): max_seq_length 384 "
                     "(trained with 256)"]


def test_a_checkpoint_brings_its_own_settings_whatever_the_run_name(tmp_path, capsys):
    trained = resolve([*BASE, "--do_train", "--output_dir", str(tmp_path / "a"), "--max_seq_length", "128",
                       "--doc_stride", "32", "--max_answer_length", "7"])
    checkpoint = fake_best_checkpoint(trained.folder, trained.record())
    elsewhere = resolve(["--data_name", "squad_v1.1", "--do_eval", "--checkpoint", str(checkpoint),
                         "--run_name", "other", "--output_dir", str(tmp_path / "b")])
    assert (elsewhere.window, elsewhere.decoding.max_answer_length) == (trained.window, 7)
    assert elsewhere.model_name_or_path == "some/model" and elsewhere.model_type == "bert"
    assert elsewhere.inherited_from == str(checkpoint) and capsys.readouterr().err == ""
    # the run folder itself, given as --checkpoint, is the same model
    assert resolve(["--data_name", "squad_v1.1", "--do_eval", "--checkpoint", str(trained.folder.root)]).window == \
           trained.window


def test_evaluation_without_a_training_record_needs_the_model_type(tmp_path):
    checkpoint = fake_best_checkpoint(RunFolder(tmp_path / "bare"))
    with pytest.raises(UsageError, match="--model_type is required"):
        resolve(["--model_name_or_path", "m", "--data_name", "squad_v1.1", "--do_eval", "--checkpoint",
                 str(checkpoint)])
    with pytest.raises(UsageError, match="no trained checkpoint"):
        resolve(["--model_name_or_path", "m", "--data_name", "squad_v1.1", "--do_eval", "--output_dir",
                 str(tmp_path)])


@pytest.mark.parametrize("flags, message", [
    ([], "nothing to do"),
    (["--do_predict"], "--do_predict needs --predict_file"),
    (["--do_train", "--resume", "--overwrite_output_dir"], "give one"),
    (["--do_train", "--checkpoint", "x.ckpt"], "--checkpoint"),
    (["--do_train", "--gpu_ids", "a,b"], "--gpu_ids"),
    (["--do_train", "--strategy", "fsdp", "--accelerator", "cpu"], "--strategy fsdp runs on GPUs only"),
    (["--do_train", "--strategy", "deepspeed"], "pip install 'korsquad\\[deepspeed\\]'"),
])
def test_inconsistent_flags(flags, message):
    with pytest.raises(UsageError, match=message):
        resolve([*BASE, *flags])


def readme_quick_start(readme):
    """The argv of the first `python run_qa.py` command in a README's quick-start section."""
    import shlex

    from conftest import ROOT

    text = (ROOT / readme).read_text(encoding="utf-8")
    block = text[text.index("```bash\npython run_qa.py", text.index("## ")):]
    command = block[len("```bash\n"):block.index("```", 3)].replace("\\\n", " ")
    words = shlex.split(command)
    assert words[:2] == ["python", "run_qa.py"]
    return words[2:]


def test_the_readme_quick_start_is_one_command_in_both_languages_and_resolves():
    argv = readme_quick_start("README.md")
    assert readme_quick_start("README_ko.md") == argv
    config = resolve(argv)
    # the measured settings: the precision this machine computes natively and the fused attention kernel on the
    # 2,300-question sample
    from korsquad.common import cpu

    assert argv[argv.index("--precision") + 1] == "auto" and config.attention_dropout == 0.0
    assert config.precision == cpu.auto_precision(True, cpu.read_cpu_flags())[0]
    assert config.max_train_samples == 2300 and config.num_train_epochs == 1 and config.accelerator_kind == "cpu"


# ---- a run folder has one owner; paths are resolved once ---------------------------------------------------------
def evaluate(*flags):
    return resolve(["--data_name", "squad_v1.1", "--do_eval", *map(str, flags)])


def two_runs_of_one_model(out):
    """Two trainings of some/model in one output folder: the first in the folder named after the model, the
    second named "second"; each with its best checkpoint (settings, no weights)."""
    runs = []
    for name in (None, "second"):
        trained = resolve([*BASE, "--do_train", "--output_dir", str(out), *(["--run_name", name] if name else [])])
        fake_best_checkpoint(trained.folder, trained.record())
        trained.folder.run_json.write_text(json.dumps({"config": trained.record(), "status": "finished"}))
        runs.append(trained.folder)
    return runs


def test_a_runs_checkpoint_is_evaluated_into_that_run_not_another_run_of_its_model(tmp_path, monkeypatch):
    first, second = two_runs_of_one_model(tmp_path / "out")
    assert first.run_name == "some-model"
    by_checkpoint = evaluate("--output_dir", tmp_path / "out", "--checkpoint", second.best_checkpoint_file)
    assert by_checkpoint.folder.is_same(second)
    monkeypatch.chdir(tmp_path)  # no --output_dir (./model): the run folder given is still the one written
    assert evaluate("--checkpoint", second.root).folder.is_same(second)
    assert evaluate("--checkpoint", "out/squad_v1.1/second/checkpoints/best.ckpt").folder.is_same(second)
    exported = second.best_model_dir
    exported.mkdir()
    (exported / "config.json").write_text("{}")
    assert evaluate("--checkpoint", exported, "--model_type", "bert").folder.is_same(second)
    # --output_dir or --run_name naming another place: a folder of its own there
    elsewhere = evaluate("--checkpoint", second.best_checkpoint_file, "--output_dir", tmp_path / "evals")
    assert elsewhere.folder.root == tmp_path / "evals" / "squad_v1.1" / "second"


def test_a_run_is_evaluated_by_its_name_alone(tmp_path, capsys):
    _, second = two_runs_of_one_model(tmp_path / "out")
    config = evaluate("--output_dir", tmp_path / "out", "--run_name", "second")
    assert config.folder.is_same(second) and config.model_source.path == str(second.best_checkpoint_file)
    assert (config.model_type, config.model_name_or_path) == ("bert", "some/model")
    assert capsys.readouterr().err == ""
    with pytest.raises(UsageError, match="nothing to evaluate: give --run_name"):
        evaluate("--output_dir", tmp_path / "out")


def test_a_model_of_no_run_gets_a_folder_of_its_own_never_another_runs(tmp_path, capsys):
    first, _ = two_runs_of_one_model(tmp_path / "out")  # out/squad_v1.1/some-model: a training of some/model
    hub = evaluate("--output_dir", tmp_path / "out", "--checkpoint", "some/model", "--model_type", "bert")
    assert hub.folder.root == first.root.with_name("some-model-2")
    assert capsys.readouterr().err.splitlines() == [
        f"note: {first.root} holds another run's training; this evaluation is recorded in {hub.folder.root}"]
    # its second evaluation goes to the same folder; a checkpoint copied out of its run is a model of no run
    stray = tmp_path / "stray.ckpt"
    stray.write_bytes(first.best_checkpoint_file.read_bytes())
    for checkpoint in ("some/model", stray):
        again = evaluate("--output_dir", tmp_path / "out", "--checkpoint", checkpoint, "--model_type", "bert")
        assert again.folder.root == hub.folder.root
    # a --run_name taken by another run gets the suffix too
    named = evaluate("--output_dir", tmp_path / "out", "--checkpoint", "some/model", "--model_type", "bert",
                     "--run_name", "second")
    assert named.folder.run_name == "second-2"


def test_a_relative_model_path_is_resolved_once_when_given(tmp_path, monkeypatch):
    from korsquad.runs.record import MODEL_PATH_KEY

    model = tmp_path / "mymodel"
    (model / "inner").mkdir(parents=True)
    monkeypatch.chdir(model / "inner")
    trained = resolve(["--model_type", "bert", "--model_name_or_path", "..", "--data_name", "squad_v1.1",
                       "--do_train", "--output_dir", str(tmp_path / "out"), "--run_name", "rel"])
    record = trained.record()
    assert (record["model_name_or_path"], record[MODEL_PATH_KEY]) == ("..", str(model))
    fake_best_checkpoint(trained.folder, record)
    trained.folder.run_json.write_text(json.dumps({"config": record, "status": "finished"}))
    for other in ("other", "third"):  # `..` there is another folder: never read
        (tmp_path / other / "inner").mkdir(parents=True)
        monkeypatch.chdir(tmp_path / other / "inner")
        config = evaluate("--checkpoint", trained.folder.best_checkpoint_file)
        assert config.model_files == str(model) and config.folder.is_same(trained.folder)
        resumed = resolve(["--model_name_or_path", "..", "--data_name", "squad_v1.1", "--do_train", "--resume",
                           "--output_dir", str(tmp_path / "out"), "--run_name", "rel"])
        assert resumed.model_path == str(model)
    model.rename(tmp_path / "gone")
    with pytest.raises(UsageError) as refused:
        evaluate("--checkpoint", trained.folder.best_checkpoint_file)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 400 and "give --model_name_or_path" in message
    assert str(model) in message


def test_an_evaluation_computes_in_its_trainings_precision_unless_given_one(tmp_path, monkeypatch):
    from korsquad.common import cpu

    monkeypatch.setattr(cpu, "read_cpu_flags", lambda: frozenset({"amx_bf16"}))  # auto would pick bf16-mixed here
    trained = resolve([*BASE, "--do_train", "--output_dir", str(tmp_path), "--precision", "32"])
    fake_best_checkpoint(trained.folder, trained.record())
    trained.folder.run_json.write_text(json.dumps({"config": trained.record(), "status": "finished"}))
    again = evaluate("--output_dir", tmp_path, "--model_name_or_path", "some/model", "--accelerator", "cpu")
    assert again.precision == "32" and again.folder.is_same(trained.folder)
    assert again.precision_note == "precision 32 (the training's; --precision auto chooses for this machine instead)"
    assert evaluate("--output_dir", tmp_path, "--model_name_or_path", "some/model", "--accelerator", "cpu", "--precision", "auto").precision == "bf16-mixed"
    # 16-mixed (a GPU's) is not the training's on a CPU: auto chooses there
    record = dict(trained.record(), precision="16-mixed")
    trained.folder.run_json.write_text(json.dumps({"config": record, "status": "finished"}))
    shutil.rmtree(trained.folder.checkpoints_dir)
    fake_best_checkpoint(trained.folder, record)
    assert evaluate("--output_dir", tmp_path, "--model_name_or_path", "some/model", "--accelerator", "cpu").precision == "bf16-mixed"
