"""Examples -> model features: tokenizers with exact character spans, doc_stride windows and labels, the feature cache,
batches, and the audit of how well a tokenizer fits a data set.

    model_types     the accepted model types and the tokenizer class of each
    tokenization    tokenizer loading; token ids with exact character spans, whitespace trimmed
    slow_alignment  character spans of slow tokenizers' tokens: normalization with a character map, token alignment
    pair_layout     where a tokenizer puts its special tokens and token types around a (question, context) pair
    windows         `doc_stride` windows, labels, max-context flags: `build_features`
    featureset      `FeatureSet`: the features as ragged numpy columns, their checks, taking, slicing and joining
                    chunks
    cache           the feature cache (plain `.npy`, verified), keyed by the code that builds features
    batching        batches of features as padded tensors, and one process's evaluation batches
    audit           the label audit: how well a tokenizer fits a data set (labels, unknown text), and the warning
                    before a training it fits badly
"""

from ..common.exports import lazy_exports

# The names other stages and users import, each loaded with its module on first use (importing the package
# alone loads none of its modules).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "audit": ["audit_command", "fit_warning", "measure", "spread_sample"],
    "batching": ["FeatureBatcher", "PADDING_FEATURE", "PaddingBatcher", "length_sorted_shard"],
    "cache": ["load_features", "save_features"],
    "model_types": ["KOBERT_MODEL_TYPES", "MODEL_TYPES", "MODEL_TYPES_WITH_UNUSED_PARAMETERS", "infer_model_type"],
    "pair_layout": ["pair_layout"],
    "tokenization": ["load_tokenizer"],
    "windows": ["build_features", "check_parameters"],
})
