"""korsquad.config: the flag table, the parser and --help made from it, --config files (YAML, JSON, a run's
run.json replayed) read into typed settings, and the READMEs' flag tables."""

import json

import pytest

from korsquad.config import OPTIONS, build_parser, read_config_file
from korsquad.errors import UsageError
from korsquad.runconfig import resolve

BASE = ["--model_type", "bert", "--model_name_or_path", "some/model", "--data_name", "squad_v1.1"]


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

    from korsquad.config import flags_table

    assert flags_table(language) in (ROOT / readme).read_text(encoding="utf-8"), \
        f"regenerate the table in {readme} with `python -m korsquad.config {language}`"
