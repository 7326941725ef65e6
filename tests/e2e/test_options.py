"""korsquad.config.options: the flag table, the parser and --help made from it, --config files (YAML, JSON, a run's
run.json replayed) read into typed settings, and the READMEs' flag tables."""

from options_helpers import BASE


def test_a_trainer_flag_without_equivalent_is_one_line_and_exit_2():
    from conftest import run_cli

    result = run_cli(*BASE, "--do_train", "--save_total_limit", "2")
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: --save_total_limit (a Hugging Face Trainer flag) has no equivalent "
                                     "here: a run keeps only last.ckpt (for --resume) and its best checkpoint")
