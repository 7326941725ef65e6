"""korsquad.common.errors: bad input is one `error:` line and exit status 2, from the commands and their parsers."""

import pytest

from korsquad.common.errors import ArgumentParser, UsageError, exit_on_usage_error, first_line


def test_a_usage_error_is_one_error_line_on_stderr_and_exit_2(capsys):
    @exit_on_usage_error
    def main():
        raise UsageError("data/dev.json: line 3:\n  not a JSON object")

    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert not out and err == "error: data/dev.json: line 3: not a JSON object\n"


def test_a_command_that_succeeds_returns_its_status_and_other_errors_pass_through():
    assert exit_on_usage_error(lambda value: value)(0) == 0
    with pytest.raises(KeyError):
        exit_on_usage_error(lambda: {}["missing"])()


def parser():
    parser = ArgumentParser(prog="korsquad test")
    parser.add_argument("--learning_rate", type=float)
    parser.add_argument("--data_name", required=True)
    return parser


def test_the_parser_takes_dashed_spellings_and_no_abbreviations():
    assert parser().parse_args(["--data-name", "squad_v1.1", "--learning-rate", "3e-5"]).learning_rate == 3e-5
    with pytest.raises(UsageError, match=r"^unknown flag --learn \(did you mean --learning_rate\?\); see --help$"):
        parser().parse_args(["--data_name", "squad_v1.1", "--learn", "1"])


def test_the_parsers_own_errors_are_usage_errors_not_usage_text(capsys):
    with pytest.raises(UsageError, match="the following arguments are required: --data_name"):
        parser().parse_args([])
    with pytest.raises(UsageError, match="argument --learning_rate: invalid float value: 'fast'"):
        parser().parse_args(["--data_name", "x", "--learning_rate", "fast"])
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("err, line", [
    (OSError("Can't load tokenizer for 'x'.\n\nIf you were trying to load it from the Hub, make sure..."),
     "Can't load tokenizer for 'x'."),
    (ValueError("  one line  "), "one line"),
    (RuntimeError(), "RuntimeError"),
])
def test_first_line_keeps_a_library_errors_first_line(err, line):
    assert first_line(err) == line
