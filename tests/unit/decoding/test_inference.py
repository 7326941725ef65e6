"""korsquad.decoding.inference: which inputs a model is given, the per-feature logits of a padded batch (the same
whatever the padding and the batch's company, in float32), and their assembly into arrays aligned with the features'
tokens."""

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import FIXTURES
from tiny_models import tiny_qa_model

from korsquad.data.datasets import get_spec
from korsquad.data.readers import read_examples
from korsquad.decoding.inference import assemble_logits, feature_logits, uses_token_type_ids
from korsquad.features.batching import FeatureBatcher
from korsquad.features.windows import build_features
from korsquad.runs.settings import WindowSettings

# Short windows: the questions' contexts span windows of several lengths.
WINDOW = WindowSettings(max_seq_length=64, doc_stride=24, max_query_length=16)


@pytest.fixture(scope="module")
def tokenizer(bert_pair):
    return bert_pair[1]


@pytest.fixture(scope="module")
def features(tokenizer):
    examples = read_examples(FIXTURES / "squad_v1_tiny.json", get_spec("squad_v1.1"))[:4]
    features = build_features(examples, tokenizer, WINDOW, training=False)
    assert len(set(features.lengths.tolist())) > 2
    return features


@pytest.fixture(scope="module")
def model(tiny_bert):
    from transformers import AutoModelForQuestionAnswering

    return AutoModelForQuestionAnswering.from_pretrained(tiny_bert).eval()


def alone(model, features, f):
    """Start and end logits of feature f run by itself, unpadded."""
    lo, hi = features.row_splits[f], features.row_splits[f + 1]
    ids = torch.from_numpy(features.input_ids[lo:hi].astype(np.int64))[None]
    types = torch.from_numpy(features.token_type_ids[lo:hi].astype(np.int64))[None]
    with torch.inference_mode():
        out = model(input_ids=ids, token_type_ids=types, attention_mask=torch.ones_like(ids))
    return out.start_logits[0].numpy(), out.end_logits[0].numpy()


def test_each_feature_gets_its_own_logits_whatever_the_batch(model, tokenizer, features):
    batcher = FeatureBatcher(features, tokenizer, True, WINDOW.max_seq_length)
    order = np.argsort(features.lengths)[::-1][[2, 0, -1]].tolist()  # a long, the longest and the shortest
    with torch.inference_mode():
        indices, starts, ends = feature_logits(model, batcher(order))
    assert indices.tolist() == order
    for f, start, end in zip(order, starts, ends):
        assert start.dtype == end.dtype == np.float32 and len(start) == len(end) == features.lengths[f]
        expected_start, expected_end = alone(model, features, f)
        np.testing.assert_allclose(start, expected_start, atol=1e-5)
        np.testing.assert_allclose(end, expected_end, atol=1e-5)


class EchoModel(torch.nn.Module):
    """A QA "model" whose logits at a position are the token id there (start) and its negative (end)."""

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return SimpleNamespace(start_logits=input_ids.to(torch.bfloat16), end_logits=-input_ids.to(torch.bfloat16))


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_the_padding_is_cut_on_the_tokenizers_padding_side(tokenizer, features, padding_side):
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.padding_side = padding_side
    batcher = FeatureBatcher(features, tokenizer, False, WINDOW.max_seq_length)
    order = np.argsort(features.lengths).tolist()
    indices, starts, ends = feature_logits(EchoModel(), batcher(order))
    splits = features.row_splits
    for f, start, end in zip(indices, starts, ends):
        ids = features.input_ids[splits[f]:splits[f + 1]].astype(np.float32)
        assert start.dtype == np.float32  # bf16 logits come back as float32
        np.testing.assert_array_equal(start, torch.tensor(ids).to(torch.bfloat16).float().numpy())
        np.testing.assert_array_equal(end, -start)


def test_assembled_logits_line_up_with_the_tokens_and_every_feature_is_needed_once(features):
    splits = features.row_splits
    token_number = np.arange(features.num_tokens, dtype=np.float32)

    def batch(indices):
        return (np.asarray(indices), [token_number[splits[f]:splits[f + 1]] for f in indices],
                [-token_number[splits[f]:splits[f + 1]] for f in indices])

    everything = list(range(len(features)))
    batches = [batch(everything[1::2]), batch(everything[::2][::-1])]
    start, end = assemble_logits(features, batches)
    assert batches == []  # consumed as copied: the logits are not held twice
    np.testing.assert_array_equal(start, token_number)
    np.testing.assert_array_equal(end, -token_number)

    with pytest.raises(RuntimeError, match="covered 1 features never and 0 twice"):
        assemble_logits(features, [batch(everything[1:])])
    with pytest.raises(RuntimeError, match="covered 0 features never and 1 twice"):
        assemble_logits(features, [batch(everything), batch([0])])


def test_token_type_ids_only_for_a_model_and_tokenizer_that_both_use_them(model, tokenizer):
    assert uses_token_type_ids(model, tokenizer)
    assert not uses_token_type_ids(tiny_qa_model("distilbert"), tokenizer)  # DistilBERT has no segment embeddings
    without = copy.deepcopy(tokenizer)
    without.model_input_names = ["input_ids", "attention_mask"]  # RoBERTa-like tokenizers make none
    assert not uses_token_type_ids(model, without)
