"""Model outputs -> answers: the model on padded batches, logits -> answer texts, n-best lists, null odds and their
files.

    inference    the model on padded batches, one path for the evaluation and `QuestionAnswerer`: its inputs, per-
                 feature logits, their assembly
    postprocess  n-best span decoding, null threshold, output files
"""

from ..common.exports import lazy_exports

# The names other stages and users import, each loaded with its module on first use (importing the package
# alone loads none of its modules).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "inference": ["MODEL_INPUTS", "assemble_logits", "feature_logits", "uses_token_type_ids"],
    "postprocess": ["decode"],
})
