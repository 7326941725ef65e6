"""What tests/unit/serving/test_answerer.py and tests/e2e/test_answerer.py share."""

from korsquad.data.datasets import get_spec
from korsquad.data.readers import read_examples


# A window unlike every registry default, so only settings taken from run.json reproduce the evaluation.
WINDOW = {"max_seq_length": 128, "doc_stride": 64, "max_query_length": 32}


def dev_records(fixture, data_name):
    return [{"id": e.id, "question": e.question, "context": e.context}
            for e in read_examples(fixture, get_spec(data_name))]

