"""What tests/unit/cli/test_run.py and tests/e2e/test_run.py share."""

import json

import pytest
from conftest import FIXTURES, data_dir_with


@pytest.fixture(scope="module")
def squad_dir(tmp_path_factory):
    return data_dir_with(tmp_path_factory.mktemp("squad"), "squad_v1.1", FIXTURES / "squad_v1_tiny.json",
                         FIXTURES / "squad_v1_tiny.json")


def without_questions(tmp_path):
    """An empty data file, and one whose paragraph has no questions."""
    empty, no_qas = tmp_path / "empty.json", tmp_path / "no_qas.json"
    empty.write_text('{"data": []}')
    no_qas.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": []}]}]}))
    return empty, no_qas

