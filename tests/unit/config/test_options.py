"""korsquad.config.options: the flag table, the parser and --help made from it, --config files (YAML, JSON, a run's
run.json replayed) read into typed settings, and the READMEs' flag tables."""

import json

import pytest

from options_helpers import BASE

from korsquad.common.errors import UsageError
from korsquad.config.options import BY_NAME, OPTIONS, build_parser, read_config_file
from korsquad.config.runconfig import resolve


def test_help_texts_come_from_the_owners():
    text = " ".join(build_parser().format_help().split())
    assert "384 for squad_v1.1, squad_v2.0" in text  # the registry's max_seq_length
    assert "1e-6 for albert, electra, roberta, xlm-roberta on squad_v1.1, squad_v2.0" in text  # the registry's eps rule
    assert "(default: 500)" in text  # --save_steps, the run default


def test_config_file_values_and_flags_override_them(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model_type: bert\nmodel_name_or_path: some/model\ndata_name: squad_v1.1\ndo_train: true\n"
                    "batch_size: 8\nlearning_rate: 1e-4\nprecision: 32\n")
    config = resolve(["--config", str(path)])
    assert config.batch_size == 8 and config.do_train and config.precision == "32"
    assert resolve(["--config", str(path), "--batch_size", "4"]).batch_size == 4
    (tmp_path / "run.json").write_text(json.dumps({"model_type": "bert", "model_name_or_path": "m",
                                                   "data_name": "korquad_v1.0", "do_eval": True, "doc_stride": 64}))
    assert read_config_file(tmp_path / "run.json")["doc_stride"] == 64


@pytest.mark.parametrize("content, message", [
    ("batch_sise: 8\n", "unknown key 'batch_sise'"),
    ("batch_size: eight\n", "key 'batch_size' must be an integer"),
    ("do_train: 1\n", "key 'do_train' must be true or false"),
    ("data_name: squad_v3\n", "key 'data_name' must be one of"),
    ("- a\n- b\n", "expected an object of settings"),
])
def test_bad_config_files_are_one_error_naming_the_key(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        resolve(["--config", str(path), *BASE, "--do_train"])


def test_a_run_record_is_a_valid_config(tmp_path):
    config = resolve([*BASE, "--do_train", "--doc_stride", "96"])
    record = {"config": config.record(), "status": "finished", "wall_time_s": 12.5, "train_steps": 7,
              "hardware": {"accelerator": "cpu"}, "num_parameters": 10, "started_at": "x", "finished_at": "y",
              "invocations": [{"started_at": "x", "argv": ["--do_train"]}], "dev_data": {"path": "d", "sha256": "0"}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(record))
    replay = resolve(["--config", str(path)])
    assert replay.values == config.values


def test_a_replayed_run_record_never_deletes_continues_or_uploads_its_run(tmp_path, capsys):
    config = resolve([*BASE, "--do_train", "--overwrite_output_dir"])
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"config": dict(config.record(), push_to_hub="me/model"), "status": "finished"}))
    replay = resolve(["--config", str(path)])
    assert not replay.overwrite_output_dir and replay.push_to_hub is None and not replay.resume
    assert capsys.readouterr().err.strip().splitlines() == [
        f"note: --config {path} is a run's record: not replaying --overwrite_output_dir, --push_to_hub (give them "
        "on the command line to use them)"]
    assert resolve(["--config", str(path), "--overwrite_output_dir"]).overwrite_output_dir  # asked for: given
    settings = tmp_path / "settings.json"  # a settings file of one's own keeps them
    settings.write_text(json.dumps({**dict(zip(BASE[::2], BASE[1::2])), "overwrite_output_dir": True}
                                   ).replace('"--', '"'))
    assert resolve(["--config", str(settings), "--do_train"]).overwrite_output_dir


def test_every_option_is_a_flag():
    text = build_parser().format_help()
    assert all(f"--{option.name}" in text for option in OPTIONS)


@pytest.mark.parametrize("readme, language", [("README.md", "en"), ("README_ko.md", "ko")])
def test_the_readme_flag_tables_are_the_generated_ones(readme, language):
    from conftest import ROOT

    from korsquad.config.options import flags_table

    assert flags_table(language) in (ROOT / readme).read_text(encoding="utf-8"), \
        f"regenerate the table in {readme} with `korsquad flags {language}`"


# ---- Hugging Face Trainer names ----------------------------------------------------------------------------
# A value each alias takes on a command line, and what our flag then holds.
ALIAS_VALUES = {"per_device_train_batch_size": ("8", 8), "per_device_eval_batch_size": ("3", 3),
                "gradient_accumulation_steps": ("4", 4), "max_grad_norm": ("0.5", 0.5),
                "lr_scheduler_type": ("cosine", "cosine"), "report_to": ("csv", "csv"),
                "dataloader_num_workers": ("2", 2), "fp16": (None, "16-mixed"), "bf16": (None, "bf16-mixed"),
                "use_cpu": (None, "cpu"), "torch_compile": (None, True)}


def test_every_alias_has_a_test_value():
    from korsquad.config.options import ALIASES

    assert sorted(ALIAS_VALUES) == sorted(alias.name for alias in ALIASES)


@pytest.mark.parametrize("alias", sorted(ALIAS_VALUES))
def test_a_trainer_flag_is_its_alias_recorded_under_our_name(alias):
    from korsquad.config.options import ALIAS_BY_NAME

    given, expected = ALIAS_VALUES[alias]
    option = ALIAS_BY_NAME[alias].option
    flag = [f"--{alias}"] + ([given] if given is not None else [])
    record = resolve([*BASE, "--do_train", *flag]).record()
    assert record[option] == expected and alias not in record
    assert resolve([*BASE, "--do_train", f"--{alias.replace('_', '-')}", *flag[1:]]).record()[option] == expected
    if given is None:  # a switch takes the Trainer's optional true/false
        assert resolve([*BASE, "--do_train", f"--{alias}", "True"]).record()[option] == expected
        # false: the Trainer's fp32 for --fp16/--bf16 (never auto's bf16), else as without the flag
        unset = ALIAS_BY_NAME[alias].unset
        assert resolve([*BASE, "--do_train", f"--{alias}", "false"]).record()[option] == \
            (unset if unset is not None else resolve([*BASE, "--do_train"]).record()[option])


def test_fp16_or_bf16_given_false_trains_in_fp32_unless_the_other_is_true(monkeypatch):
    from korsquad.common import cpu

    monkeypatch.setattr(cpu, "read_cpu_flags", lambda: frozenset({"avx512_bf16"}))  # auto would pick bf16-mixed
    assert resolve([*BASE, "--do_train"]).precision == "bf16-mixed"
    assert resolve([*BASE, "--do_train", "--bf16", "False"]).precision == "32"
    assert resolve([*BASE, "--do_train", "--fp16", "false", "--bf16", "false"]).precision == "32"
    assert resolve([*BASE, "--do_train", "--bf16", "False", "--fp16", "True"]).precision == "16-mixed"
    assert resolve([*BASE, "--do_train", "--bf16", "False", "--precision", "auto"]).precision == "bf16-mixed"


@pytest.mark.parametrize("alias", sorted(ALIAS_VALUES))
def test_help_shows_each_alias_once_beside_its_flag(alias):
    import re

    from korsquad.config.options import ALIAS_BY_NAME, help_text

    text = build_parser().format_help()
    assert len(re.findall(rf"--{alias}\b", text)) == 1
    assert f"--{alias}" in help_text(BY_NAME[ALIAS_BY_NAME[alias].option])


def test_aliases_work_in_config_files_and_flags_override_them(tmp_path):
    path = tmp_path / "hf.yaml"
    path.write_text("per_device_train_batch_size: 6\nfp16: true\ngradient_accumulation_steps: 2\n")
    config = resolve([*BASE, "--do_train", "--config", str(path)])
    assert (config.batch_size, config.precision, config.accumulate_grad_batches) == (6, "16-mixed", 2)
    assert "per_device_train_batch_size" not in config.record() and "fp16" not in config.record()
    assert resolve([*BASE, "--do_train", "--config", str(path), "--precision", "32"]).precision == "32"
    path.write_text("fp16: yes please\n")
    with pytest.raises(UsageError, match="key 'fp16' must be true or false"):
        resolve([*BASE, "--do_train", "--config", str(path)])


@pytest.mark.parametrize("argv, message", [
    (["--fp16", "--precision", "32"], "--fp16 (precision 16-mixed) and --precision 32 disagree: give one"),
    (["--bf16", "--fp16"], "--bf16 (precision bf16-mixed) and --fp16 (precision 16-mixed) disagree: give one"),
    (["--batch_size", "4", "--per_device_train_batch_size", "8"],
     "--batch_size 4 and --per_device_train_batch_size 8 disagree: give one"),
])
def test_an_alias_and_its_flag_that_disagree_are_refused(argv, message):
    with pytest.raises(UsageError) as err:
        resolve([*BASE, "--do_train", *argv])
    assert str(err.value) == message
    assert resolve([*BASE, "--do_train", "--fp16", "--precision", "16-mixed"]).precision == "16-mixed"


@pytest.mark.parametrize("flag", ["evaluation_strategy", "eval_strategy", "save_strategy", "logging_strategy",
                                  "save_total_limit", "load_best_model_at_end", "metric_for_best_model",
                                  "logging_dir", "resume_from_checkpoint", "hub_model_id", "optim", "deepspeed",
                                  "fsdp"])
def test_a_trainer_flag_without_equivalent_says_what_to_use_instead(flag, tmp_path):
    from korsquad.config.options import NO_EQUIVALENT

    with pytest.raises(UsageError) as err:
        resolve([*BASE, "--do_train", f"--{flag}", "x", "--seed", "1"])
    assert str(err.value) == f"--{flag} (a Hugging Face Trainer flag) has no equivalent here: {NO_EQUIVALENT[flag]}"
    path = tmp_path / "hf.json"
    path.write_text(json.dumps({flag: "x"}))
    with pytest.raises(UsageError, match=f"key '{flag}' \\(a Hugging Face Trainer setting\\) has no equivalent"):
        resolve([*BASE, "--do_train", "--config", str(path)])
