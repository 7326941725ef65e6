"""The model types the command line accepts, and what training needs to know about each."""

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
