"""A QA model on padded batches of features, shared by the dev evaluation (QAModule.validation_step and
korsquad.training.validation) and korsquad.serving.answerer: which inputs the model is given, the per-feature start and
end logits of one batch, and their assembly into ragged arrays aligned with the features' tokens.

Both callers batch the features the same way (korsquad.features.batching), so the answerer reproduces the evaluation's
logits bit for bit: under bf16 autocast a logit depends on the batch's width and company, not only on its window.
"""

import inspect

import numpy as np

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def uses_token_type_ids(model, tokenizer):
    """Whether batches carry token_type_ids: the model's forward takes them and the tokenizer makes them (RoBERTa,
    DistilBERT, BART... have no segment embeddings; a BERT tokenizer would still make them)."""
    return ("token_type_ids" in inspect.signature(model.forward).parameters
            and "token_type_ids" in tokenizer.model_input_names)


def feature_logits(model, batch):
    """Run a Hugging Face QA model on a batch of korsquad.features.batching.FeatureBatcher (its tensors on the model's
    device) -> (feature indices, per-feature start logits, per-feature end logits) as float32 numpy, each feature's
    logits without the batch's padding, one per token of the feature."""
    out = model(**{key: batch[key] for key in MODEL_INPUTS if key in batch})
    offsets = batch["token_offset"].cpu().numpy()
    lengths = batch["lengths"].cpu().numpy()
    start = out.start_logits.float().cpu().numpy()
    end = out.end_logits.float().cpu().numpy()
    rows = [slice(o, o + n) for o, n in zip(offsets, lengths)]
    return (batch["feature_index"].cpu().numpy(), [start[i, r] for i, r in enumerate(rows)],
            [end[i, r] for i, r in enumerate(rows)])


def assemble_logits(features, batches):
    """Per-feature logits from any number of batches (feature_logits' triples) -> ragged start/end arrays aligned
    with the feature tokens.

    The list of batches is consumed (emptied) as it is copied, so the logits are not held twice. Every feature
    must be present exactly once: a missing or repeated feature is a bug in the sharding."""
    start = np.empty(features.num_tokens, dtype=np.float32)
    end = np.empty(features.num_tokens, dtype=np.float32)
    seen = np.zeros(len(features), dtype=np.int32)
    splits = features.row_splits
    while batches:
        indices, starts, ends = batches.pop()
        for f, s, e in zip(indices, starts, ends):
            start[splits[f]:splits[f + 1]] = s
            end[splits[f]:splits[f + 1]] = e
        np.add.at(seen, indices, 1)
    if not np.all(seen == 1):
        raise RuntimeError(f"evaluation covered {np.sum(seen == 0)} features never and {np.sum(seen > 1)} twice")
    return start, end
