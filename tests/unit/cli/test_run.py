"""run_qa.py end to end on CPU: train, evaluate from a saved checkpoint in a second process, DDP, resume, errors."""

import subprocess
import sys

import pytest
from conftest import FIXTURES
from run_helpers import squad_dir, without_questions


def test_a_missing_data_file_is_reported_before_torch_loads(tiny_bert, tmp_path):
    """Importing torch, Lightning and transformers takes seconds; a mistyped path should not wait for them. With the
    default flags: --accelerator auto and --precision auto need torch (is there CUDA?), the default batch size the
    model's config.json."""
    probe = ("import sys\nfrom korsquad.cli import run\ntry:\n    run.main(sys.argv[1:])\nexcept SystemExit as e:\n"
             "    print(e.code, 'torch' in sys.modules, 'pytorch_lightning' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe, "--model_type", "bert", "--model_name_or_path",
                             str(tiny_bert), "--data_name", "squad_v1.1", "--data_dir", str(tmp_path / "none"),
                             "--do_train"],
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["2", "False", "False"], result.stderr
    assert "download_squad.py" in result.stderr


@pytest.mark.parametrize("flags, named, use", [
    (["--do_train", "--train_file", "empty.json"], "empty.json", "nothing to train on"),
    (["--do_train", "--max_train_samples", "4", "--train_file", "no_qas.json"], "no_qas.json", "nothing to train on"),
    (["--do_train", "--do_eval", "--dev_file", "no_qas.json"], "no_qas.json", "nothing to evaluate"),
    (["--do_train", "--do_eval", "--max_eval_samples", "2", "--dev_file", "empty.json"], "empty.json",
     "nothing to evaluate"),
])
def test_a_data_file_without_questions_is_one_line_before_any_model_loads(tiny_bert, squad_dir, tmp_path, flags,
                                                                          named, use):
    """Not 0 training steps and an untrained best_model/, nor a result of null: refused before Lightning (and
    with it the model) loads, and nothing is written."""
    without_questions(tmp_path)
    probe = ("import sys\nfrom korsquad.cli import run\ntry:\n    run.main(sys.argv[1:])\nexcept SystemExit as e:\n"
             "    print(e.code, 'pytorch_lightning' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe, "--model_type", "bert", "--model_name_or_path",
                             str(tiny_bert), "--data_name", "squad_v1.1", "--data_dir", str(squad_dir),
                             "--output_dir", "out", "--accelerator", "cpu", "--batch_size", "4", *flags],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["2", "False"], result.stderr[-3000:]
    assert result.stderr.splitlines() == [f"error: {named}: holds no questions: {use}"]
    assert not (tmp_path / "out").exists()


def test_a_pipeline_that_cannot_be_compared_is_one_warning_and_an_error_for_the_card(tmp_path, caplog):
    """The comparison comes after the model is trained and exported: its failure must not fail the run."""
    from korsquad.cli import run
    from korsquad.data.datasets import get_spec
    from korsquad.data.readers import read_examples
    from korsquad.runs.folder import RunFolder

    folder = RunFolder(tmp_path / "run")
    (folder.best_model_dir).mkdir(parents=True)  # exported without its config.json: nothing loads it
    examples = read_examples(FIXTURES / "squad_v1_tiny.json", get_spec("squad_v1.1"))
    agreement = run.pipeline_agreement(folder, examples)
    assert agreement["error"].startswith("UsageError: ") and "config.json" in agreement["error"]
    (warning,) = [r for r in caplog.records if r.name == "korsquad"]  # stderr once logs.configure ran
    assert warning.levelname == "WARNING" and "\n" not in warning.getMessage()
    assert warning.getMessage().startswith("warning: transformers' pipeline could not be compared")
