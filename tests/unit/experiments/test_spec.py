"""korsquad.experiments.spec and cells: the experiment file read and checked into cells with deterministic names
and exact run_qa.py commands; the shipped files state the 2021 tables; a malformed file is one line, exit 2,
nothing run."""

import textwrap
from pathlib import Path

import pytest
from conftest import ROOT

from korsquad.common.errors import UsageError
from korsquad.experiments.cli import main
from korsquad.experiments.spec import load_experiment

EXPERIMENTS = ROOT / "experiments"


def write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


TWO_BY_TWO = """
    output_dir: {out}
    data_sets: [squad_v1.1]
    seeds: [1, 2]
    settings: {{learning_rate: 3e-5, max_seq_length: 128}}
    sizes:
      base: {{gpus: 1, batch_size: 16}}
      large: {{gpus: 4, batch_size: 4}}
    models:
      - {{model_type: bert, model_name_or_path: org/bert-base, size: base}}
      - {{model_type: roberta, model_name_or_path: org/roberta-large, size: large, adam_epsilon: 1e-6,
         learning_rate: 1e-5}}
"""


def test_cells_have_deterministic_names_folders_and_settings(tmp_path):
    path = write(tmp_path, TWO_BY_TWO.format(out=tmp_path / "out"))
    cells = load_experiment(path).cells
    assert [c.name for c in cells] == ["org-bert-base-seed1", "org-bert-base-seed2", "org-roberta-large-seed1",
                                       "org-roberta-large-seed2"]
    assert [c.name for c in load_experiment(path).cells] == [c.name for c in cells]
    assert cells[0].folder.root == tmp_path / "out" / "squad_v1.1" / "org-bert-base-seed1"
    large = cells[3].settings
    # the model's own settings override the shared ones and its size's
    assert (large["learning_rate"], large["batch_size"], large["adam_epsilon"], large["seed"]) == (1e-5, 4, 1e-6, 2)
    assert cells[0].settings["learning_rate"] == 3e-5 and cells[0].settings["batch_size"] == 16
    assert [c.gpus for c in cells] == [1, 1, 4, 4]


def test_a_cells_command_is_run_qa_with_its_settings(tmp_path):
    cell = load_experiment(write(tmp_path, TWO_BY_TWO.format(out=tmp_path / "out"))).cells[2]
    argv = cell.command()
    assert argv[1:3] == ["-m", "korsquad.cli.run"]
    flags = " ".join(argv[3:])
    for expected in ("--model_type roberta", "--model_name_or_path org/roberta-large", "--data_name squad_v1.1",
                     "--do_train", "--do_eval", f"--output_dir {tmp_path / 'out'}",
                     "--run_name org-roberta-large-seed1", "--batch_size 4", "--learning_rate 1e-05",
                     "--adam_epsilon 1e-06", "--seed 1", "--devices 4"):
        assert expected in flags
    assert cell.command(4)[-2:] == ["--gpu_ids", "0,1,2,3"] and "--devices" not in cell.command(4)
    assert cell.command(4, resume=True)[-1] == "--resume"
    assert cell.command(4, overwrite=True)[-1] == "--overwrite_output_dir"
    # the command is what run_qa.py accepts
    from korsquad.config.options import build_parser

    build_parser().parse_args(cell.command(4, resume=True)[3:])


def test_a_grid_gives_a_cell_per_combination_and_seed(tmp_path):
    path = write(tmp_path, """
        data_sets: {squad_v1.1: {num_train_epochs: 2}, squad_v2.0: {}}
        seeds: 7
        grid: {learning_rate: [3e-5, 5e-5], warmup_ratio: [0.0, 0.1]}
        models: [{model_type: bert, model_name_or_path: m, name: tiny}]
    """)
    experiment = load_experiment(path)
    cells = experiment.cells
    assert experiment.output_dir == Path("runs") / "exp"
    assert len(cells) == 8
    assert cells[0].name == "tiny-learning_rate3e-05-warmup_ratio0.0-seed7"
    assert len({(c.data_name, c.name) for c in cells}) == 8
    assert cells[0].settings["num_train_epochs"] == 2 and "num_train_epochs" not in cells[4].settings


@pytest.mark.parametrize("name, count, models", [
    ("korquad_v1.0", 8, ["bert-base-multilingual-cased", "monologg/kobert", "distilbert-base-multilingual-cased",
                         "monologg/distilkobert", "monologg/koelectra-small-v2-discriminator",
                         "monologg/koelectra-base-v2-discriminator", "monologg/koelectra-small-v3-discriminator",
                         "monologg/koelectra-base-v3-discriminator"]),
    ("squad_v1.1", 12, None),
    ("squad_v2.0", 11, None),
])
def test_the_shipped_files_state_the_2021_tables(name, count, models, tmp_path, capsys):
    """--dry_run of each shipped file prints its cells with the 2021 settings: batch size 16 on one GPU for small
    and base models, 4 per GPU on four for large ones; adam_epsilon 1e-6 for ELECTRA-family models (and, on SQuAD,
    ALBERT and RoBERTa, as the 2021 settings table says); the data set's 2021 learning rate and windows; the 2021
    README's reference scores."""
    assert main([str(EXPERIMENTS / f"{name}.yaml"), "--dry_run", "--gpu_ids", "0,1,2,3,4,5,6,7",
                 "--output_dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert f": {count} cells (1 data set x {count} models x 1 seed)" in out
    commands = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert len(commands) == count and sum(line.startswith("[") for line in out.splitlines()) == count
    assert not (tmp_path / "out").exists()  # a dry run writes nothing
    experiment = load_experiment(EXPERIMENTS / f"{name}.yaml")
    korquad = name.startswith("korquad")
    eps_types = {"koelectra"} if korquad else {"albert", "roberta", "electra"}
    for cell, command in zip(experiment.cells, commands):
        large = cell.model.size == "large"
        s = cell.settings
        assert (s["batch_size"], cell.gpus) == ((4, 4) if large else (16, 1))
        assert f"--gpu_ids {'0,1,2,3' if large else '0'}" in command
        assert s["adam_epsilon"] == (1e-6 if cell.model.model_type in eps_types else 1e-8)
        assert (s["learning_rate"], s["max_seq_length"]) == ((5e-5, 512) if korquad else (3e-5, 384))
        assert (s["num_train_epochs"], s["doc_stride"], s["max_query_length"], s["weight_decay"]) == (3, 128, 64, 0.01)
        assert f"--model_name_or_path {cell.model.model_name_or_path} " in command
        assert set(cell.model.reference[cell.data_name]) == {"exact_match" if name != "squad_v2.0" else "exact", "f1"}
    if models:
        assert [m.model_name_or_path for m in experiment.models] == models
    references = {m.model_name_or_path: m.reference[experiment.cells[0].data_name] for m in experiment.models}
    if name == "korquad_v1.0":
        assert references["monologg/koelectra-base-v3-discriminator"] == {"exact_match": 83.92, "f1": 92.92}
    if name == "squad_v2.0":
        assert "google/electra-large-discriminator" not in references
        assert references["roberta-large"] == {"exact": 80.83, "f1": 84.29}


@pytest.mark.parametrize("text, message", [
    ("data_sets: [squad_v1.1]\nmodel: []\n", "exp.yaml: unknown key 'model' (the keys of an experiment file are "),
    ("data_sets: [squad_v1.1]\nsettings: {learnig_rate: 3e-5}\nmodels: [{model_type: bert, model_name_or_path: m}]\n",
     "exp.yaml: settings: unknown key 'learnig_rate' (keys are run_qa.py flag names without dashes; did you mean "
     "'learning_rate'"),
    ("data_sets: [squad_v1.1]\nmodels: [{model_type: bert, model_name_or_path: m, num_train_epochs: two}]\n",
     "exp.yaml: models[0]: key 'num_train_epochs' must be an integer, not 'two'"),
    ("data_sets: [squad_v1.1]\nmodels: [{model_type: bert, model_name_or_path: m, learning_rate: -1}]\n",
     "exp.yaml: models[0]: key 'learning_rate' must not be negative, not -1.0"),
    ("data_sets: [squad_v1.3]\nmodels: [{model_type: bert, model_name_or_path: m}]\n",
     "exp.yaml: data_sets: unknown data set 'squad_v1.3' (choose from "),
    ("data_sets: [squad_v1.1]\nmodels: [{model_type: bort, model_name_or_path: m}]\n",
     "exp.yaml: models[0]: key 'model_type' must be one of bert, "),
    ("data_sets: [squad_v1.1]\nsettings: {seed: 3}\nmodels: [{model_type: bert, model_name_or_path: m}]\n",
     "exp.yaml: settings: key 'seed' is set by the experiment (seeds come from seeds:)"),
    ("data_sets: [squad_v1.1]\nsizes: {base: {gpus: 1}}\nmodels: [{model_type: bert, model_name_or_path: m, "
     "size: bigg}]\n", "exp.yaml: models[0]: size 'bigg' is not one of the file's sizes (base)"),
    ("data_sets: [squad_v2.0]\nmodels: [{model_type: bert, model_name_or_path: m, reference: {exact_match: 1}}]\n",
     "exp.yaml: models[0]: reference: unknown key 'exact_match' (squad_v2.0's scores are exact, f1)"),
    ("data_sets: [squad_v1.1]\nmodels: [{model_type: bert, model_name_or_path: m}, {model_type: bert, "
     "model_name_or_path: m}]\n", "give the same cell name 'm-seed42'"),
    ("data_sets: [squad_v1.1]\nseeds: [1, 1]\nmodels: [{model_type: bert, model_name_or_path: m}]\n",
     "exp.yaml: seeds: a seed is given twice"),
    ("data_sets: [squad_v1.1]\nmodels: [{model_type: bert}]\n", "exp.yaml: models[0]: key 'model_name_or_path' is "
                                                                "required"),
    ("data_sets: [squad_v1.1\n", "exp.yaml: not valid YAML"),
])
def test_a_malformed_file_is_one_line_exit_2_and_nothing_run(tmp_path, capsys, text, message):
    path = write(tmp_path, f"output_dir: {tmp_path / 'out'}\n{text}")
    with pytest.raises(SystemExit) as exited:
        main([str(path)])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"error: {path}") and message in captured.err
    assert not (tmp_path / "out").exists()


def test_a_reference_is_given_per_data_set_when_there_are_several(tmp_path):
    text = ("data_sets: [squad_v1.1, squad_v2.0]\nmodels: [{model_type: bert, model_name_or_path: m, reference: "
            "{squad_v1.1: {exact_match: 80, f1: 88}, squad_v2.0: {exact: 70, f1: 73}}}]\n")
    model = load_experiment(write(tmp_path, text)).models[0]
    assert model.reference == {"squad_v1.1": {"exact_match": 80, "f1": 88}, "squad_v2.0": {"exact": 70, "f1": 73}}
    flat = text.replace("{squad_v1.1: {exact_match: 80, f1: 88}, squad_v2.0: {exact: 70, f1: 73}}", "{f1: 88}")
    with pytest.raises(UsageError, match="give the reference scores by data set"):
        load_experiment(write(tmp_path, flat))


def test_the_cpu_sample_needs_nothing_but_the_install_and_sample_data():
    from korsquad.runs.checkpoints import resolve_model_path

    experiment = load_experiment(EXPERIMENTS / "cpu_sample.yaml")
    cells = experiment.cells
    assert len(cells) == 2 and {c.settings["accelerator"] for c in cells} == {"cpu"}
    assert (ROOT / cells[0].settings["data_dir"] / "squad_v1.1" / "train.json").is_file()
    assert Path(resolve_model_path(cells[0].model.model_name_or_path)).is_dir()  # MiniLM from PyPI, no download
