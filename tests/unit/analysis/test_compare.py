"""Paired significance of two runs: the statistics against SciPy on two real MiniLM runs, and the refusals."""

import numpy as np
import pytest
from compare_helpers import _data_name, stats
from conftest import FIXTURES

from korsquad.analysis import compare
from korsquad.data.datasets import REGISTRY
from korsquad.data.readers import read_examples
from korsquad.data.scoring import gold_answers, question_types


# ---- statistics ----

@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (3, 10), (5, 10), (7, 10), (0, 25), (12, 40), (40, 100),
                                 (61, 137), (1, 2000), (980, 2000)])
def test_binomial_p_equals_scipy_binomtest(k, n):
    assert compare.binomial_two_sided_p(k, n) == pytest.approx(stats.binomtest(k, n, 0.5).pvalue, rel=1e-12)


def test_mcnemar_counts_only_the_questions_one_run_gets_right():
    a = [1, 1, 0, 0, 1, 0, 1]
    b = [1, 0, 1, 1, 1, 0, 1]
    assert compare.mcnemar_exact(a, b) == (1, 2, stats.binomtest(2, 3, 0.5).pvalue)
    assert compare.mcnemar_exact(a, a) == (0, 0, 1.0)


def test_bootstrap_p_value_bounds():
    means = np.array([[0.3], [0.5], [0.7], [0.4]])
    assert compare.bootstrap_p_value(means, 0.0)[0] == 1.0  # no difference observed: nothing to reject
    assert compare.bootstrap_p_value(means, 5.0)[0] == 1 / 5  # every resample closer to 0 than observed
    assert compare.bootstrap_means(np.arange(6.0), 50, seed=3).tolist() == \
        compare.bootstrap_means(np.arange(6.0), 50, seed=3).tolist()


def test_categories_follow_the_registry_and_match_official_per_type_scores():
    spec = REGISTRY[_data_name("klue_mrc")]
    examples = read_examples(FIXTURES / "klue_mrc_tiny.json", spec)
    golds = gold_answers(examples)
    right = {ex.id: (ex.answers[0].text if ex.answers else "") for ex in examples}  # every answer right
    first_word = {qid: text.split()[0] if text else "답" for qid, text in right.items()}
    groups = compare.compare_predictions(spec, examples, first_word, right, 100, seed=0)
    official = spec.metric.score(golds, first_word, question_types=question_types(examples))
    types = sorted({ex.question_type for ex in examples})
    assert list(groups) == ["all", "answerable", "unanswerable"] + [
        f"type {t} ({spec.question_types[t]})" for t in types]
    assert groups["all"]["em"]["a"] == pytest.approx(official["exact_match"])
    assert groups["all"]["rouge_w"]["a"] == pytest.approx(official["rouge_w"])
    assert groups["all"]["em"]["b"] == 100.0
    for t in types:
        group = groups[f"type {t} ({spec.question_types[t]})"]
        assert group["questions"] == official[f"type{t}_total"]
        assert group["rouge_w"]["a"] == pytest.approx(official[f"type{t}_rouge_w"])
    assert groups["answerable"]["questions"] + groups["unanswerable"]["questions"] == len(examples)


def test_compare_cli_errors_are_one_line(tmp_path, capsys):
    for argv, expected in (([str(tmp_path / "a"), str(tmp_path / "b")], "run folder not found"),
                           (["a", "b", "--resamples", "0"], "--resamples 0")):
        with pytest.raises(SystemExit) as exit_info:
            compare.main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err
