"""The pair layout of BERT, RoBERTa and XLNet style tokenizers, seen in the features they build."""

import numpy as np
from conftest import FIXTURES
from feature_helpers import SMALL, context_part, recoverability
from tiny_tokenizers import squad_contexts, train_byte_bpe, train_sentencepiece_pair

from korsquad.features.pair_layout import pair_layout
from korsquad.features.windows import build_features


def test_bert_layout_question_first_with_segments(fast, squad_tiny):
    features = build_features(squad_tiny[:1], fast, SMALL, training=False)
    ids = features.input_ids[:features.row_splits[1]]
    types = features.token_type_ids[:features.row_splits[1]]
    question = fast(squad_tiny[0].question, add_special_tokens=False)["input_ids"]
    n_q = len(question)
    assert ids[0] == fast.cls_token_id and features.cls_index[0] == 0
    assert ids[1:1 + n_q].tolist() == question and ids[1 + n_q] == fast.sep_token_id and ids[-1] == fast.sep_token_id
    assert types[:n_q + 2].tolist() == [0] * (n_q + 2) and set(types[n_q + 2:].tolist()) == {1}
    assert context_part(features, 0).tolist() == list(range(n_q + 2, len(ids) - 1))


def test_roberta_style_layout_and_spans(tmp_path, squad_tiny):
    slow, fast = train_byte_bpe(tmp_path / "bpe", squad_contexts(FIXTURES / "squad_tiny.json"))
    layout = pair_layout(fast)
    assert [p[0] for p in layout.parts] == ["special", "question", "special", "context", "special"]
    for tokenizer in (fast, slow):
        features = build_features(squad_tiny, tokenizer, SMALL, training=True)
        ids = features.input_ids[:features.row_splits[1]]
        n_q = len(tokenizer(squad_tiny[0].question, add_special_tokens=False)["input_ids"])
        assert ids[0] == tokenizer.bos_token_id and features.cls_index[0] == 0
        assert ids[n_q + 1:n_q + 3].tolist() == [tokenizer.eos_token_id] * 2 and ids[-1] == tokenizer.eos_token_id
        assert not features.token_type_ids.any()
        assert context_part(features, 0)[0] == n_q + 3
        assert recoverability(features, squad_tiny)[0] == 1.0


def test_xlnet_style_puts_context_first_and_cls_last(tmp_path, squad_tiny):
    tokenizer, _ = train_sentencepiece_pair(tmp_path, squad_contexts(FIXTURES / "squad_tiny.json"), "xlnet", 300)
    assert tokenizer.padding_side == "left"
    features = build_features(squad_tiny, tokenizer, SMALL, training=True)
    for f in range(len(features)):
        lo, hi = features.row_splits[f], features.row_splits[f + 1]
        assert features.cls_index[f] == hi - lo - 1 and features.input_ids[hi - 1] == tokenizer.cls_token_id
        part = context_part(features, f)
        assert part[0] == 0 and np.all(features.token_type_ids[lo:hi][part] == 0)
        assert features.token_type_ids[hi - 1] == 2  # XLNet's CLS segment
    assert recoverability(features, squad_tiny)[0] > 0.9
