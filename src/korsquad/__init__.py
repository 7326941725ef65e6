"""KorSQuAD-pl: fine-tune and score question-answering models on KorQuAD 1.0/2.x and SQuAD 1.1/2.0."""

__version__ = "1.0.0"
