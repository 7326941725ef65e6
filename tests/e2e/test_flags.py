"""korsquad.common.flags through run_qa.py's parser: dashed spellings, no prefix abbreviations, and one error line
naming the flag an unknown one most likely meant."""

from conftest import run_cli


def test_a_typo_is_one_line_and_exit_2_from_the_command_line():
    result = run_cli("--model_type", "bert", "--model_name_or_path", "x", "--data_name", "squad_v1.1",
                     "--do_train", "--epochs", "1")
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: unknown flag --epochs (did you mean --num_train_epochs?); see --help")
