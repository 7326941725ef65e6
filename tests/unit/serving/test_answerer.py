"""QuestionAnswerer: the answers of a trained run equal its dev evaluation's predictions_eval.json (with the run's
own window and decoding settings), "" where the null rule says so, KoBERT runs load, and bad input is a UsageError."""

import pytest
from answerer_helpers import WINDOW, dev_records
from conftest import FIXTURES

from korsquad import QuestionAnswerer
from korsquad.common.errors import UsageError


def test_html_contexts_answer_with_spans_of_the_html(tiny_bert):
    records = dev_records(FIXTURES / "korquad2_tiny.json", "korquad_v2.1")
    qa = QuestionAnswerer(tiny_bert, data_name="korquad_v2.1", device="cpu", **WINDOW)
    assert qa.decoding.max_answer_length == 256 and qa.run_folder is None
    for answer, record in zip(qa.batch(records), records):
        assert answer["answer"] and record["context"][answer["char_start"]:answer["char_end"]] == answer["answer"]
        assert 0 < answer["score"] <= 1


@pytest.mark.parametrize("kwargs, message", [
    ({}, "pass data_name"),
    ({"data_name": "squad_v9"}, "squad_v9"),
    ({"data_name": "squad_v1.1", "device": "tpu"}, "device 'tpu'"),
    ({"data_name": "squad_v1.1", "device": "cuda:7"}, "GPU"),
    ({"data_name": "squad_v1.1", "doc_stride": 0}, "doc_stride"),
    ({"data_name": "squad_v1.1", "batch_size": 0}, "batch_size"),
])
def test_bad_settings_are_usage_errors(tiny_bert, kwargs, message):
    with pytest.raises(UsageError, match=message):
        QuestionAnswerer(tiny_bert, **kwargs)


def test_bad_folders_and_records_are_usage_errors(tiny_bert, tmp_path):
    with pytest.raises(UsageError, match="not found"):
        QuestionAnswerer(tmp_path / "nowhere", data_name="squad_v1.1")
    with pytest.raises(UsageError, match="neither a run folder"):
        QuestionAnswerer(tmp_path, data_name="squad_v1.1")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text('{"config": {"data_name": "squad_v1.1"}}')
    with pytest.raises(UsageError, match="no trained model"):
        QuestionAnswerer(tmp_path / "run")
    qa = QuestionAnswerer(tiny_bert, data_name="squad_v1.1", device="cpu")
    with pytest.raises(UsageError, match='record 1: "context" is missing'):
        qa.batch([{"question": "q?", "context": "c."}, {"question": "q?"}])
    with pytest.raises(UsageError, match='record 0: "question" is empty'):
        qa.batch([{"question": " ", "context": "c."}])
    with pytest.raises(TypeError, match="unknown settings"):
        QuestionAnswerer(tiny_bert, data_name="squad_v1.1", max_seq_len=128)


def test_import_stays_light():
    """`import korsquad` (and the predict CLI's argument checks) load neither torch nor transformers."""
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys, korsquad, korsquad.serving.predict; heavy = {'torch', 'transformers', 'pytorch_lightning'}; "
            "print(sorted(heavy & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize("prediction, nbest, with_null, expected", [
    ("Paris", [{"text": "Paris", "char_start": 3, "char_end": 8, "probability": 0.7}], False, (3, 8, 0.7)),
    ("Paris", [{"text": "", "char_start": -1, "char_end": -1, "probability": 0.8},
               {"text": "Paris", "char_start": 3, "char_end": 8, "probability": 0.1}], True, (3, 8, 0.1)),
    ("", [{"text": "Paris", "char_start": 3, "char_end": 8, "probability": 0.1},
          {"text": "", "char_start": -1, "char_end": -1, "probability": 0.05}], True, (-1, -1, 0.05)),
    ("", [], False, (-1, -1, 0.0)),  # no valid span in any window
    ("", [{"text": "", "char_start": 4, "char_end": 4, "probability": 0.9}], False, (-1, -1, 0.0)),
])
def test_the_chosen_answer_is_the_decoded_prediction_with_its_entry_offsets_and_probability(
        prediction, nbest, with_null, expected):
    from korsquad.serving.answerer import chosen_answer

    answer = chosen_answer("q", prediction, nbest, with_null)
    assert (answer["answer"], answer["char_start"], answer["char_end"], answer["score"]) == (prediction, *expected)


def test_precision_auto_is_what_run_qa_picks_for_the_device_and_a_bad_value_is_one_error(tiny_bert, monkeypatch):
    from korsquad.common import cpu

    for flags, expected in ((frozenset({"avx512_bf16"}), "bf16-mixed"), (frozenset({"avx2"}), "32")):
        monkeypatch.setattr(cpu, "read_cpu_flags", lambda flags=flags: flags)
        qa = QuestionAnswerer(tiny_bert, data_name="squad_v1.1", device="cpu", precision="auto", **WINDOW)
        assert qa.precision == expected
    with pytest.raises(UsageError, match="precision must be 32, bf16-mixed, 16-mixed or auto, not 'fp32'"):
        QuestionAnswerer(tiny_bert, data_name="squad_v1.1", device="cpu", precision="fp32")
