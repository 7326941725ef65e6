"""The label audit: its counts, the reasons it gives for unlabeled questions, and its command line.

The share of text a tokenizer cannot read: its unknown token and byte-fallback pieces, counted in characters.

The tokenizer's fit to the training data, measured before training: the share of text it cannot represent, the
share of answers its tokens spell exactly, and the warning below the bar.
"""

import json
import shlex

import numpy as np
import pytest
from audit_helpers import audit_argv
from conftest import FIXTURES, minilm_path
from feature_helpers import LONG, SQUAD, one_example

from korsquad.data.datasets import get_spec
from korsquad.data.readers import Example, KORQUAD2_PAGES, read_examples
from korsquad.features import audit
import korsquad.features.audit as audit_module
from korsquad.features.audit import (MAX_UNKNOWN_SHARE, MIN_EXACT_SHARE, audit_command, fit_warning, measure,
                                     spread_sample, unknown_share, unknown_token_ids)
from korsquad.features.tokenization import load_tokenizer
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


# ---- text the tokenizer cannot read ----------------------------------------------------------------------------------
def test_unknown_share_counts_the_visible_characters_inside_unknown_tokens():
    text = "ab  cdé fg"  # 7 visible characters
    # "ab", "cdé", "f", "g", "cd" (byte pieces overlap): unknown (0) "cdé" and "g", "cd" counted once
    ids = np.array([5, 0, 7, 0, 0])
    starts, ends = np.array([0, 4, 8, 9, 4]), np.array([2, 7, 9, 10, 6])
    assert unknown_share([text], [(ids, starts, ends)], {0}) == pytest.approx(4 / 7)
    assert unknown_share([text], [(ids, starts, ends)], {9}) == 0.0
    assert unknown_share([], [], {0}) == 0.0


def test_unknown_ids_are_the_unknown_token_and_byte_fallback_pieces():
    class Vocab:
        unk_token_id = 0

        def get_vocab(self):
            return {"<unk>": 0, "<0xEA>": 3, "<0x0a>": 4, "▁서울": 5, "<0xZZ>": 6}

    assert unknown_token_ids(Vocab()) == {0, 3, 4}


# ---- the warning before training -------------------------------------------------------------------------------------
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
        assert audit.main(shlex.split(command)[2:]) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["unknown_share"] == pytest.approx(
            fit["unknown_share"])
    else:
        assert fit["unknown_share"] < MAX_UNKNOWN_SHARE and fit["exact_share"] >= MIN_EXACT_SHARE
        assert warning is None


def test_answers_the_tokens_do_not_spell_warn_even_without_unknown_text():
    assert fit_warning({"questions": 9, "unknown_share": 0.0, "exact_share": MIN_EXACT_SHARE - 0.01}, "cmd")
    assert fit_warning({"questions": 9, "unknown_share": 0.0, "exact_share": MIN_EXACT_SHARE}, "cmd") is None
