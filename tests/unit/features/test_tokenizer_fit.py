"""The tokenizer's fit to the training data, measured before training: the share of text it cannot represent, the
share of answers its tokens spell exactly, and the warning below the bar."""

import json
import shlex

import pytest
from conftest import FIXTURES, minilm_path

from korsquad.data.datasets import get_spec
from korsquad.data.readers import read_examples
from korsquad.features import audit
from korsquad.features.tokenization import load_tokenizer
from korsquad.features.tokenizer_fit import (MAX_UNKNOWN_SHARE, MIN_EXACT_SHARE, audit_command, fit_warning, measure,
                                             spread_sample)
from korsquad.runs.settings import WindowSettings

WINDOW = WindowSettings(max_seq_length=256, doc_stride=128, max_query_length=64)


@pytest.fixture(scope="module")
def minilm_tokenizer():
    return load_tokenizer("bert", str(minilm_path()))


def test_spread_sample_takes_items_across_the_whole_list():
    assert spread_sample(list(range(10)), 3) == [0, 4, 9]
    assert spread_sample([1, 2], 5) == [1, 2]


@pytest.mark.parametrize("data_name,fixture,warns", [
    ("korquad_v1.0", "korquad_tiny.json", True),  # English WordPiece on Korean: a fifth of the text is [UNK]
    ("squad_v1.1", "squad_v1_tiny.json", False),
])
def test_english_minilm_warns_on_korquad_and_not_on_squad(minilm_tokenizer, data_name, fixture, warns, capsys):
    spec = get_spec(data_name)
    examples = spread_sample(read_examples(FIXTURES / fixture, spec, training=True))
    fit = measure(examples, minilm_tokenizer, WINDOW, reader=spec.reader)
    command = audit_command(data_name, "bert", "sentence-transformers/all-MiniLM-L6-v2", FIXTURES / fixture, WINDOW)
    warning = fit_warning(fit, command)
    print(data_name, fit)
    assert fit["questions"] == len(examples)
    if warns:
        assert fit["unknown_share"] > 0.15 and warning is not None and "\n" not in warning
        assert f"{fit['unknown_share']:.1%}" in warning and f"{fit['exact_share']:.1%}" in warning
        assert warning.endswith(command)
        # the command it names runs, and reports the same unknown share over the file
        assert audit.main(shlex.split(command)[3:]) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["unknown_share"] == pytest.approx(
            fit["unknown_share"])
    else:
        assert fit["unknown_share"] < MAX_UNKNOWN_SHARE and fit["exact_share"] >= MIN_EXACT_SHARE
        assert warning is None


def test_answers_the_tokens_do_not_spell_warn_even_without_unknown_text():
    assert fit_warning({"questions": 9, "unknown_share": 0.0, "exact_share": MIN_EXACT_SHARE - 0.01}, "cmd")
    assert fit_warning({"questions": 9, "unknown_share": 0.0, "exact_share": MIN_EXACT_SHARE}, "cmd") is None
