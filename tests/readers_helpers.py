"""What tests/unit/data/test_readers.py and tests/e2e/test_readers.py share."""

import json

from conftest import FIXTURES


KLUE_TINY = FIXTURES / "klue_mrc_tiny.json"


def write_json(path, obj):
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def write_lines(path, *lines):
    """Each line: an object (written as JSON) or a string written as is."""
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
                            for line in lines), encoding="utf-8")
    return path


def klue_file(tmp_path, **qa_fields):
    """A KLUE-MRC file of one answerable question, with the question's fields replaced (None: removed)."""
    qa = {"question": "수도는?", "guid": "g1", "answers": [{"text": "서울", "answer_start": 0}],
          "question_type": 1, "is_impossible": False, "plausible_answers": []}
    qa.update(qa_fields)
    qa = {key: value for key, value in qa.items() if value is not None}
    data = {"data": [{"title": "t", "source": "wikipedia", "paragraphs": [{"context": "서울은 수도다.", "qas": [qa]}]}]}
    return write_json(tmp_path / "klue.json", data)


GOOD = {"id": "q1", "context": "Paris is in France.", "question": "Where is Paris?",
        "answers": {"text": ["France"], "answer_start": [12]}}

