"""The strict readers on KLUE-MRC files (guid, question types, unanswerable questions) and on JSON Lines files in
the Hugging Face layout; every malformed input is one error naming the file and the line, field or question. A data
set registered with a layout of its own is read, windowed and decoded through the usual path."""

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES
from readers_helpers import GOOD, KLUE_TINY, klue_file, write_json, write_lines

from korsquad.common.errors import UsageError
from korsquad.data.datasets import REGISTRY, RemoteFile, get_spec
from korsquad.data.readers import (Answer, Example, Reader, data_digest, data_files, read_dataset, read_examples,
                                   read_split)
from korsquad.decoding.postprocess import decode
from korsquad.runs.settings import WindowSettings
from korsquad.training.datamodule import QADataModule


KLUE = get_spec("klue_mrc")
HF_TINY = FIXTURES / "hf_squad_tiny.jsonl"


# --- KLUE-MRC ------------------------------------------------------------------------------------------------------

def test_klue_questions_are_named_by_guid_and_typed():
    examples, stats = read_dataset(KLUE_TINY, KLUE)
    assert [ex.id for ex in examples] == [f"klue-mrc-tiny_0000{i}" for i in range(1, 7)]
    assert [ex.question_type for ex in examples] == [1, 2, 3, 1, 2, 3]
    assert [ex.is_impossible for ex in examples] == [False, False, True, False, False, True]
    assert examples[0].title == "서울 지하철 1호선 개통"
    assert examples[0].answers == (Answer("1974년 8월 15일", 0),)
    assert [a.text for a in examples[3].answers] == ["세종", "조선의 제4대 임금 세종"]
    assert stats == {"articles": 2, "questions": 6, "unanswerable": 2, "answer_start_fixed": 0,
                     "answers_not_found": 0, "question_types": {"1": 2, "2": 2, "3": 2}}


def test_klue_plausible_answers_are_never_gold_answers():
    examples = read_examples(KLUE_TINY, KLUE, training=True)
    unanswerable = [ex for ex in examples if ex.is_impossible]
    assert [ex.answers for ex in unanswerable] == [(), ()]  # the file gives plausible answers for both


def test_klue_question_may_be_named_id_in_a_users_own_file(tmp_path):
    examples, _ = read_dataset(klue_file(tmp_path, guid=None, id="mine-1"), KLUE)
    assert examples[0].id == "mine-1"


def test_untyped_data_sets_keep_no_question_type(tmp_path):
    examples, stats = read_dataset(klue_file(tmp_path, id="q1"), get_spec("korquad_v1.0"))
    assert examples[0].id == "q1" and examples[0].question_type is None  # korquad reads "id", not "guid"
    assert "question_types" not in stats


@pytest.mark.parametrize("fields, fragments", [
    ({"guid": None}, ["data[0].paragraphs[0].qas[0]", "without an id ('guid' or 'id')"]),
    ({"question_type": 4}, ["(id g1)", "'question_type' must be one of 1, 2, 3, not 4"]),
    ({"question_type": "1"}, ["(id g1)", "'question_type'", "not '1'"]),
    ({"is_impossible": "no"}, ["(id g1)", "'is_impossible' must be true or false"]),
    ({"answers": {"text": "서울"}}, ["(id g1)", "'answers' must be a list"]),
])
def test_malformed_klue_question_is_one_error_naming_file_and_field(tmp_path, fields, fragments):
    path = klue_file(tmp_path, **fields)
    with pytest.raises(UsageError) as err:
        read_dataset(path, KLUE)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


# --- JSON Lines ----------------------------------------------------------------------------------------------------

def test_jsonl_reads_like_the_same_questions_in_squad_json(tmp_path):
    records = [json.loads(line) for line in HF_TINY.read_text(encoding="utf-8").splitlines()]
    squad = {"data": [{"title": "Eiffel Tower", "paragraphs": [{"context": records[0]["context"], "qas": [
        {"id": r["id"], "question": r["question"],
         "answers": [{"text": t, "answer_start": s} for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])]}
        for r in records]}]}]}
    spec = get_spec("squad_v2.0")
    from_jsonl, stats = read_dataset(HF_TINY, spec)
    assert from_jsonl == read_dataset(write_json(tmp_path / "same.json", squad), spec)[0]
    assert [ex.answers for ex in from_jsonl] == [(Answer("1889", 34), Answer("in 1889", 31)),
                                                 (Answer("330 metres", 76),), ()]
    assert [ex.is_impossible for ex in from_jsonl] == [False, False, True]
    assert stats == {"articles": 1, "questions": 3, "unanswerable": 1, "answer_start_fixed": 0,
                     "answers_not_found": 0}


def test_jsonl_of_a_klue_export_keeps_guid_type_and_impossibility(tmp_path):
    path = write_lines(tmp_path / "klue.jsonl",
                       {"guid": "k1", "title": "t", "context": "서울은 수도다.", "question": "수도는?", "question_type": 1,
                        "is_impossible": False, "answers": {"text": ["서울"], "answer_start": [0]}},
                       "",  # blank lines are skipped
                       {"guid": "k2", "context": "서울은 수도다.", "question": "인구는?", "question_type": 3,
                        "is_impossible": True, "answers": {"text": [], "answer_start": []}})
    assert read_dataset(path, KLUE)[0] == [
        Example("k1", "수도는?", "서울은 수도다.", (Answer("서울", 0),), False, "t", 1),
        Example("k2", "인구는?", "서울은 수도다.", (), True, "", 3),
    ]


def test_jsonl_counts_each_distinct_context_as_an_article(tmp_path):
    line = {"context": "서울은 수도다.", "question": "수도는?", "answers": {"text": ["서울"], "answer_start": [0]}}
    path = write_lines(tmp_path / "a.jsonl", dict(line, id="1"), dict(line, id="2", context="부산은 항구다."),
                       dict(line, id="3"))
    assert read_dataset(path, get_spec("korquad_v1.0"))[1]["articles"] == 2


def test_jsonl_with_a_byte_order_mark_and_unlabeled_lines(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "1", "context": "c", "question": "q?"}).encode() + b"\n")
    examples, _ = read_dataset(path, get_spec("squad_v1.1"), labeled=False)
    assert examples == [Example("1", "q?", "c", (), False)]


@pytest.mark.parametrize("bad_line, fragment", [
    ('{"id": "q2", "context": ', "line 3: not valid JSON"),
    ('["q2"]', "line 3: expected one JSON object per line"),
    (dict(GOOD, id="q2", answers={"text": ["France"]}), "line 3 (id q2): 'answers' must be an object of 'text' and "
                                                        "'answer_start' lists of equal length"),
    (dict(GOOD, id="q2", answers=["France"]), "line 3 (id q2): 'answers'"),
    (dict(GOOD, id="q2", answers={"text": ["France", "Europe"], "answer_start": [12]}), "line 3 (id q2): 'answers'"),
    ({k: v for k, v in GOOD.items() if k != "context"}, "line 3: missing or non-string 'context'"),
    (dict(GOOD, id=None), "line 3: question without an id ('id')"),
    (dict(GOOD, title=7), "line 3: 'title' must be a string"),
    (GOOD, "line 3 (id q1): duplicate question id, first seen at"),
    (dict(GOOD, id="q2", answers={"text": [], "answer_start": []}), "line 3 (id q2): no answers, and squad_v1.1 has "
                                                                    "no unanswerable questions"),
    (dict(GOOD, id="q2", answers={"text": ["Spain"], "answer_start": [0]}), "line 3 (id q2): answer 'Spain' does "
                                                                            "not occur in its context"),
])
def test_malformed_jsonl_line_is_one_error_naming_file_and_line(tmp_path, bad_line, fragment):
    path = write_lines(tmp_path / "bad.jsonl", GOOD, "   ", bad_line)
    with pytest.raises(UsageError) as err:
        read_dataset(path, get_spec("squad_v1.1"), training=True)
    message = str(err.value)
    assert message.startswith(f"{path}: line 3") and fragment in message and "\n" not in message, message


def test_jsonl_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(GOOD).encode()[:-2] + b'\xe9"}\n')
    with pytest.raises(UsageError, match="latin1.jsonl: line 1: not UTF-8 text"):
        read_dataset(path, get_spec("squad_v1.1"))


# --- which files a path stands for ---------------------------------------------------------------------------------

@pytest.mark.parametrize("split, use", [("train", "nothing to train on"), ("dev", "nothing to evaluate"),
                                        ("predict", "nothing to answer")])
def test_a_split_without_questions_is_one_error_naming_the_file(tmp_path, split, use):
    squad = get_spec("squad_v1.1")
    empty = write_json(tmp_path / "empty.json", {"data": []})
    no_qas = write_json(tmp_path / "no_qas.json", {"data": [{"title": "t", "paragraphs": [{"context": "c",
                                                                                            "qas": []}]}]})
    blank = write_lines(tmp_path / "blank.jsonl", "")
    for path in (empty, no_qas, blank):
        for limit in (None, 3):  # --max_*_samples leaves none of none
            with pytest.raises(UsageError, match=f"^{path}: holds no questions: {use}$"):
                read_split(path, squad, split, limit)
    tiny = FIXTURES / "squad_v1_tiny.json"
    assert [e.id for e in read_split(tiny, squad, split, 2)] == [e.id for e in read_examples(tiny, squad)][:2]


def test_data_files_of_a_file_a_jsonl_file_and_a_korquad2_folder(tmp_path):
    assert data_files(KLUE_TINY, KLUE) == [KLUE_TINY]
    assert data_files(HF_TINY, KLUE) == [HF_TINY]
    folder = tmp_path / "dev"
    folder.mkdir()
    (folder / "b.json").write_text("{}")
    (folder / "a.json").write_text("{}")
    assert data_files(folder, get_spec("korquad_v2.1")) == [folder / "a.json", folder / "b.json"]
    with pytest.raises(UsageError, match="is a folder; klue_mrc is read from one JSON file"):
        data_files(folder, KLUE)
    with pytest.raises(UsageError, match="nope.jsonl: file not found"):
        data_files(tmp_path / "nope.jsonl", KLUE)


def test_data_digest_is_the_file_sha256_and_covers_every_part_of_a_folder(tmp_path):
    squad = FIXTURES / "squad_v1_tiny.json"
    spec_name = next(name for name, spec in REGISTRY.items() if spec.metric.name == "squad_v1")
    assert data_digest(squad, REGISTRY[spec_name]) == hashlib.sha256(squad.read_bytes()).hexdigest()
    korquad2 = REGISTRY[next(name for name, spec in REGISTRY.items() if spec.multi_part)]
    folder = tmp_path / "dev"
    folder.mkdir()
    for part in ("part_00.json", "part_01.json"):
        shutil.copy(FIXTURES / "korquad2_tiny.json", folder / part)
    before = data_digest(folder, korquad2)
    (folder / "part_01.json").write_bytes((folder / "part_01.json").read_bytes() + b"\n")
    assert data_digest(folder, korquad2) != before


# --- a data set that brings its own layout -------------------------------------------------------------------------

TSV_ESCAPES = {"t": "\t", "n": "\n", "\\": "\\"}


class TsvReader(Reader):
    """A layout of our own: a header line, then one question per line: id, question, context, answer_start, answer
    text. A tab, line break or backslash inside a field is written \\t, \\n or \\\\; answer starts index the field as
    written, and windows are built on the unescaped text."""

    name = "tsv"

    def read(self, path, collector):
        contexts = set()
        _, *rows = Path(path).read_text(encoding="utf-8").splitlines()
        for number, row in enumerate(rows, 2):
            qid, question, context, start, text = row.split("\t")
            answer = [{"text": text, "answer_start": int(start)}]
            collector.add({"id": qid, "question": question}, context, "", lambda qa, where: answer,
                          f"{path}: line {number}")
            if context not in contexts:
                contexts.add(context)
                collector.add_article()

    def window_text(self, context):
        text, offsets, i = [], [], 0
        while i < len(context):
            escaped = context[i] == "\\" and context[i + 1:i + 2] in TSV_ESCAPES
            text.append(TSV_ESCAPES[context[i + 1]] if escaped else context[i])
            offsets.append(i)
            i += 2 if escaped else 1
        return "".join(text), np.array(offsets, dtype=np.int64)

    def original_spans(self, context, offsets, starts, ends):
        original_starts = np.append(offsets, len(context))[starts]
        last = offsets[np.maximum(ends - 1, 0)]
        width = np.where(np.array([context[i] == "\\" for i in last.tolist()], dtype=bool), 2, 1)
        return original_starts, np.where(ends > starts, last + width, original_starts)


def tsv_file(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id\tquestion\tcontext\tanswer_start\tanswer\n" + "".join("\t".join(map(str, row)) + "\n"
                                                                          for row in rows), encoding="utf-8")
    return path


def test_a_data_set_with_its_own_layout_is_read_windowed_and_decoded_through_the_usual_path(tmp_path, bert_pair):
    context = "Seoul is the capital.\\nBusan is a port on the sea.\\tIncheon has the airport."
    answers = {"q-capital": "Seoul", "q-port": "Busan", "q-airport": "the airport", "q-two": "sea.\\tIncheon"}
    questions = {"q-capital": "What is the capital?", "q-port": "Which city is a port?",
                 "q-airport": "What does Incheon have?", "q-two": "What lies between Busan and Incheon?"}
    rows = [(qid, questions[qid], context, context.index(text), text) for qid, text in answers.items()]
    spec = dataclasses.replace(get_spec("squad_v1.1"), name="tiny_tsv", reader=TsvReader(), files=(
        RemoteFile("https://example.org/tiny/train.tsv", "train.tsv", "train"),
        RemoteFile("https://example.org/tiny/dev.tsv", "dev.tsv", "dev")))
    with pytest.MonkeyPatch.context() as registration:
        registration.setitem(REGISTRY, spec.name, spec)
        dev = tsv_file(get_spec("tiny_tsv").split_path(tmp_path, "dev"), rows)
        assert dev == tmp_path / "tiny_tsv" / "dev.tsv"
        examples, stats = read_dataset(dev, spec)
        assert [(e.id, e.context, e.answers[0]) for e in examples] == [
            (qid, context, Answer(text, context.index(text))) for qid, text in answers.items()]
        assert (stats["articles"], stats["questions"]) == (1, 4)

        tokenizer = bert_pair[1]
        dm = QADataModule(spec, tokenizer, train=False, eval_split="dev", data_dir=tmp_path, batch_size=4,
                          eval_batch_size=4, seed=0, negative_window_ratio=None,
                          window=WindowSettings(max_seq_length=48, doc_stride=16, max_query_length=16))
        dm.prepare_data()
        dm.setup()
        features = dm.features["dev"]
        assert dm.cache_folder("dev").parent == tmp_path / "tiny_tsv" / "cache"
        backslash = tokenizer.convert_tokens_to_ids("\\")
        assert backslash not in np.asarray(features.input_ids)  # windows hold the text, not its escapes
        start_logits = np.zeros(len(features.input_ids), dtype=np.float32)
        end_logits = np.zeros_like(start_logits)
        for i in np.flatnonzero(features.start_positions != features.cls_index):  # the labels as logits
            start_logits[features.row_splits[i] + features.start_positions[i]] = 10.0
            end_logits[features.row_splits[i] + features.end_positions[i]] = 10.0
        decoded = decode(features, dm.examples["dev"], start_logits, end_logits, n_best_size=5, max_answer_length=16)
        assert decoded.predictions == answers  # spans of the file's own text, escapes and all
    assert "tiny_tsv" not in REGISTRY
