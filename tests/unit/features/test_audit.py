"""The label audit: its counts, the reasons it gives for unlabeled questions, and its command line."""

import json

import numpy as np
import pytest
from audit_helpers import audit_argv
from conftest import FIXTURES
from feature_helpers import LONG, SQUAD, one_example

import korsquad.features.audit as audit_module
from korsquad.data.datasets import get_spec
from korsquad.data.readers import KORQUAD2_PAGES, Example, read_examples
from korsquad.features.windows import build_features
from korsquad.runs.settings import WindowSettings


def test_audit_counts_labels_and_why_others_have_none(fast):
    context = ("The Calder River rises in the hills above Riverton and runs east for forty miles through farmland, "
               "woods and three small towns before it reaches the sea at Calder Bay.")
    long_answer = context[context.index("runs"):context.index("Calder Bay")]
    examples = [
        one_example(context, "Riverton", context.index("Riverton"), "labeled"),
        one_example(context, long_answer, context.index("runs"), "longer-than-a-window"),
        one_example(context, " ", context.index(" "), "empty"),
        Example("unanswerable", "Why?", context, (), True),
        one_example(context, "Calder", -1, "not-found"),  # as evaluation data keeps an answer it cannot find
        one_example("a \x07 b", "\x07", 2, "dropped"),  # BERT deletes control characters
    ]
    features = build_features(examples, fast, WindowSettings(max_seq_length=24, doc_stride=4, max_query_length=8),
                              training=True)
    assert audit_module.audit_labels(examples, features) == {
        "questions": 6, "labeled": 1, "covering_annotation": 1, "exact_text": 1,
        "unlabeled": {"unanswerable": 1, "answer_not_in_context": 1, "empty_answer": 1,
                      "no_token_covers_answer": 1, "not_inside_any_window": 1, "missed_by_labeler": 0}}


def test_audit_sees_labels_moved_off_their_annotation_or_missing(fast, squad_tiny):
    features = build_features(squad_tiny, fast, SQUAD, training=True)
    honest = audit_module.audit_labels(squad_tiny, features)
    answerable = sum(not ex.is_impossible for ex in squad_tiny)
    assert honest["labeled"] == honest["covering_annotation"] == honest["exact_text"] == answerable
    assert honest["unlabeled"]["unanswerable"] == len(squad_tiny) - answerable

    labeled = np.flatnonzero(features.start_positions != features.cls_index)
    moved = features.take(np.arange(len(features)))  # a copy
    f = next(f for f in labeled if moved.char_start[moved.row_splits[f] + moved.end_positions[f] + 1] >= 0)
    moved.start_positions[f] += 1
    moved.end_positions[f] += 1
    audit = audit_module.audit_labels(squad_tiny, moved)
    assert audit["labeled"] == honest["labeled"] and audit["covering_annotation"] == honest["labeled"] - 1

    missing = features.take(np.arange(len(features)))
    f = next(f for f in labeled if np.sum(labeled_windows_of(features, features.example_index[f])) == 1)
    missing.start_positions[f] = missing.end_positions[f] = missing.cls_index[f]
    audit = audit_module.audit_labels(squad_tiny, missing)
    assert audit["labeled"] == honest["labeled"] - 1 and audit["unlabeled"]["missed_by_labeler"] == 1


def labeled_windows_of(features, example):
    return (features.example_index == example) & (features.start_positions != features.cls_index)


def test_audit_of_html_contexts_reads_the_annotation_the_reader_sees(fast):
    examples = read_examples(FIXTURES / "korquad2_tiny.json", get_spec("korquad_v2.1"), training=True)
    features = build_features(examples, fast, LONG, training=True, reader=KORQUAD2_PAGES)
    audit = audit_module.audit_labels(examples, features, KORQUAD2_PAGES)
    assert audit["labeled"] == audit["covering_annotation"] == audit["exact_text"] == len(examples)


def test_audit_command_prints_a_summary_and_one_json_object_last(capsys):
    assert audit_module.main(audit_argv()) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    counts = json.loads(lines[-1])
    assert counts["questions"] == counts["labeled"] == counts["covering_annotation"] == 44
    assert counts["exact_text"] == 44 and not any(counts["unlabeled"].values())
    assert "squad_v1_tiny.json" in lines[0] and "160/64/64" in lines[0]  # --max_query_length from the registry


@pytest.mark.parametrize("changed,named", [
    (dict(doc_stride="0"), "--doc_stride"),
    (dict(max_seq_length="many"), "--max_seq_length"),
    (dict(data_name="squad_v3"), "--data_name"),
    (dict(model_type="gpt9"), "--model_type"),
    (dict(path=FIXTURES / "no_such_file.json"), "no_such_file.json"),
])
def test_audit_command_bad_input_is_one_error_line_and_exit_2(capsys, changed, named):
    with pytest.raises(SystemExit) as exit_info:
        audit_module.main(audit_argv(**changed))
    error = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(error) == 1 and named in error[0]
