"""A trained model in use: QuestionAnswerer and its command, best_model/ and its model card, the Hub.

    answerer            `QuestionAnswerer`: a run's model answers questions exactly as its evaluation does
    predict             questions from the shell or a JSON lines file, answers out
    export              best_model/ (and KoBERT's fast tokenizer)
    pipeline_agreement  how far transformers' pipeline agrees with QuestionAnswerer on the exported model
    model_card          best_model/'s model card
    hub                 `--push_to_hub`: the checks before training and the upload
"""

from ..common.exports import lazy_exports

# The names other stages and users import, each loaded with its module on first use (importing the package
# alone loads none of its modules).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "export": ["export_model"],
    "hub": ["check_push", "push_to_hub"],
    "model_card": ["write_model_card"],
    "pipeline_agreement": ["measure"],
})
