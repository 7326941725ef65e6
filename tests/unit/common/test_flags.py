"""korsquad.common.flags through run_qa.py's parser: dashed spellings, no prefix abbreviations, and one error line
naming the flag an unknown one most likely meant."""

import pytest

from korsquad.common.errors import UsageError
from korsquad.common.flags import suggestions, underscored
from korsquad.config.runconfig import resolve


BASE = ["--model_type", "bert", "--model_name_or_path", "some/model", "--data_name", "squad_v1.1", "--do_train",
        "--batch_size", "8", "--eval_batch_size", "16"]  # batch sizes given: no model config is looked for


def test_dashed_spellings_are_the_underscore_flags():
    config = resolve([*BASE, "--learning-rate", "3e-5", "--num-train-epochs=4", "--group-by-length"])
    assert (config.learning_rate, config.num_train_epochs, config.group_by_length) == (3e-5, 4, True)


def test_values_and_arguments_after_the_marker_are_left_alone():
    flags = {"--run_name", "--learning_rate"}
    assert underscored(["--run_name", "--not-a-flag-value", "--", "--learning-rate"], flags) == [
        "--run_name", "--not-a-flag-value", "--", "--learning-rate"]


@pytest.mark.parametrize("typo, meant", [
    ("--epochs", "--num_train_epochs"),
    ("--num_epochs", "--num_train_epochs"),
    ("--learn", "--learning_rate"),  # argparse's prefix abbreviation no longer takes it silently
    ("--lr", "--learning_rate"),
    ("--max_seq_len", "--max_seq_length"),
    ("--warmup_ration", "--warmup_ratio"),
])
def test_an_unknown_flag_names_what_it_may_have_meant(typo, meant):
    with pytest.raises(UsageError) as err:
        resolve([*BASE, typo, "1"])
    message = str(err.value)
    assert message.startswith(f"unknown flag {typo} (did you mean {meant}") and "\n" not in message


def test_suggestions_are_few_and_best_first():
    flags = ["--max_steps", "--eval_steps", "--save_steps", "--logging_steps", "--warmup_steps"]
    assert len(suggestions("--steps", flags)) == 3
    assert suggestions("--zzz", flags) == []
