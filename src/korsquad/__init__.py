"""KorSQuAD-pl: fine-tune and score question-answering models on KorQuAD 1.0/2.x and SQuAD 1.1/2.0."""

__version__ = "1.0.0"
__all__ = ["QuestionAnswerer", "__version__"]


def __getattr__(name):
    """`from korsquad import QuestionAnswerer` loads torch and transformers only when it is asked for."""
    if name == "QuestionAnswerer":
        from .serving.answerer import QuestionAnswerer

        return QuestionAnswerer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
