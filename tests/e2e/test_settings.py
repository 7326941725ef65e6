"""One resolver for the window and decoding settings: run_qa.py, the label audit and QuestionAnswerer give the same
settings for one trained run (given > the training's > the data set's), and word a bad value the same way."""

import re

import pytest
from conftest import FIXTURES, SQUAD_RUN_WINDOW

from korsquad import QuestionAnswerer
from korsquad.common.errors import UsageError
from korsquad.config.runconfig import resolve
from korsquad.features import audit


def through_run_qa(run_dir, **given):
    argv = ["--data_name", "squad_v1.1", "--do_eval", "--output_dir", str(run_dir.parent.parent), "--run_name",
            run_dir.name, *(f"--{name}={value}" for name, value in given.items())]
    config = resolve(argv)
    return config.window.as_dict(), config.decoding.as_dict()


def through_the_audit(run_dir, capsys, **given):
    """The window the audit of the run's model folder says it used (its summary line)."""
    argv = ["--data_name", "squad_v1.1", "--model_type", "bert", "--model_name_or_path", str(run_dir / "best_model"),
            *(f"--{name}={value}" for name, value in given.items()), str(FIXTURES / "squad_v1_tiny.json")]
    assert audit.main(argv) == 0
    summary = capsys.readouterr().out.splitlines()[0]
    values, names = re.search(r"\(([\d/]+) ([\w/]+)\)", summary).groups()
    return dict(zip(names.split("/"), map(int, values.split("/"))))


def through_question_answerer(run_dir, **given):
    qa = QuestionAnswerer(run_dir, device="cpu", **given)
    return qa.window.as_dict(), qa.decoding.as_dict()


@pytest.mark.slow
@pytest.mark.parametrize("given", [{}, {"doc_stride": 48, "n_best_size": 5}], ids=["trained", "given"])
def test_run_qa_the_audit_and_question_answerer_resolve_one_run_alike(squad_run, capsys, given):
    _, run_dir = squad_run
    window, decoding = through_run_qa(run_dir, **given)
    assert window == dict(SQUAD_RUN_WINDOW, **{k: v for k, v in given.items() if k in window})
    assert decoding["n_best_size"] == given.get("n_best_size", 10)  # the training's --n_best_size 10
    assert through_the_audit(run_dir, capsys, **{k: v for k, v in given.items() if k in window}) == window
    assert through_question_answerer(run_dir, **given) == (window, decoding)


@pytest.mark.slow
def test_a_bad_value_is_worded_alike(squad_run, capsys):
    _, run_dir = squad_run
    with pytest.raises(UsageError, match="^--max_seq_length must be positive, not 0$"):
        through_run_qa(run_dir, max_seq_length=0)
    with pytest.raises(SystemExit):
        through_the_audit(run_dir, capsys, max_seq_length=0)
    assert capsys.readouterr().err == "error: --max_seq_length must be positive, not 0\n"
    with pytest.raises(UsageError, match="^max_seq_length must be positive, not 0$"):
        through_question_answerer(run_dir, max_seq_length=0)
