"""The model types the command line accepts, and what training needs to know about each."""

import json
from pathlib import Path

# Only kobert/distilkobert need a tokenizer class of their own (KoBertTokenizer); every other type is loaded with
# AutoTokenizer, and every model with AutoModelForQuestionAnswering.
MODEL_TYPES = (
    "bert",
    "kobert",
    "distilbert",
    "distilkobert",
    "electra",
    "koelectra",
    "albert",
    "roberta",
    "xlm-roberta",
    "camembert",
    "deberta",
    "deberta-v2",
    "mpnet",
    "xlnet",
    "funnel",
    "bart",
    "longformer",
    "bigbird",
)
KOBERT_MODEL_TYPES = frozenset({"kobert", "distilkobert"})
# Types whose question-answering forward leaves parameters without a gradient (XLNet's `mask_emb`, used only for
# permutation language modelling): DDP must run with find_unused_parameters=True for them, or its second step fails
# with "Expected to have finished reduction in the prior iteration". Every other type keeps it off, since the search
# costs time every step. tests/test_model_types.py checks this set against a forward and backward of each type.
MODEL_TYPES_WITH_UNUSED_PARAMETERS = frozenset({"xlnet"})


# KoBertTokenizer's sentencepiece file (kobert_transformers' VOCAB_FILES_NAMES). A trained KoBERT's best_model/ holds
# it beside the tokenizer.json that AutoTokenizer loads, its tokenizer_config.json naming PreTrainedTokenizerFast
# (korsquad.serving.export).
KOBERT_SENTENCEPIECE_FILE = "tokenizer_78b3253a26.model"


def infer_model_type(model_dir):
    """"kobert" for a folder of KoBertTokenizer's files (its tokenizer_config.json names KoBertTokenizer, or it holds
    KoBERT's sentencepiece model), else "bert" (AutoTokenizer reads the rest)."""
    try:
        tokenizer_class = json.loads((Path(model_dir) / "tokenizer_config.json").read_text()).get("tokenizer_class")
    except (OSError, ValueError, AttributeError):
        tokenizer_class = None
    if tokenizer_class == "KoBertTokenizer" or (Path(model_dir) / KOBERT_SENTENCEPIECE_FILE).is_file():
        return "kobert"
    return "bert"
