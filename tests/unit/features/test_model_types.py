"""Which model types leave parameters without a gradient in a question-answering step (DDP's
find_unused_parameters), found by running one step of a tiny model of every type."""

import inspect

import pytest
from tiny_models import CONFIGS, qa_batch, tiny_qa_model

from korsquad.features.model_types import MODEL_TYPES, MODEL_TYPES_WITH_UNUSED_PARAMETERS


def unused_parameters(model_type):
    """Trainable parameters with no gradient after a training forward (with labels) and backward, given
    token_type_ids when the model's forward takes them, as the QA module does."""
    model = tiny_qa_model(model_type).train()
    batch = qa_batch(model.config)
    if "token_type_ids" not in inspect.signature(model.forward).parameters:
        del batch["token_type_ids"]
    model(**batch).loss.backward()
    return [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_unused_parameters_exactly_for_the_listed_types(model_type):
    unused = unused_parameters(model_type)
    assert bool(unused) == (model_type in MODEL_TYPES_WITH_UNUSED_PARAMETERS), unused


def test_xlnet_leaves_its_permutation_mask_embedding_unused():
    assert unused_parameters("xlnet") == ["transformer.mask_emb"]


def test_every_model_type_has_a_tiny_model():
    assert set(CONFIGS) == set(MODEL_TYPES)
    assert MODEL_TYPES_WITH_UNUSED_PARAMETERS <= set(MODEL_TYPES)
