"""korsquad.serving.pipeline_agreement: transformers' pipeline against QuestionAnswerer on a run's best_model/, measured
when the model is exported and stated by its model card."""

import json

import pytest
from conftest import FIXTURES

from korsquad.data.datasets import get_spec
from korsquad.data.readers import read_examples
from korsquad.features.audit import spread_sample
from korsquad.serving.pipeline_agreement import SAMPLE_SIZE, measure, pipeline_arguments


SQUAD1 = get_spec("squad_v1.1")


def pipeline_answers(model_dir, examples, settings):
    from transformers import pipeline

    qa = pipeline("question-answering", model=str(model_dir), device="cpu")
    outputs = qa(question=[e.question for e in examples], context=[e.context for e in examples],
                 **pipeline_arguments(settings, has_unanswerable=False))
    return [output["answer"] for output in outputs]


@pytest.mark.slow
def test_the_export_measures_the_agreement_on_a_sample_of_the_dev_set_and_the_card_states_it(squad_run):
    """squad_run's export measured it; counted again here against predictions_eval.json (which QuestionAnswerer
    reproduces), on the same spread sample of its 44 dev questions."""
    _, run_dir = squad_run
    record = json.loads((run_dir / "run.json").read_text())
    examples = read_examples(FIXTURES / "squad_v1_tiny.json", SQUAD1)
    sample = spread_sample(examples, SAMPLE_SIZE)
    assert len(examples) > SAMPLE_SIZE == len(sample)
    predictions = json.loads((run_dir / "predictions_eval.json").read_text())
    answers = pipeline_answers(run_dir / "best_model", sample, record["config"])
    same = sum(answer == predictions[example.id] for answer, example in zip(answers, sample))
    assert record["pipeline_agreement"] == {"same": same, "questions": SAMPLE_SIZE}
    card = (run_dir / "best_model" / "README.md").read_text(encoding="utf-8")
    assert f"it gave `QuestionAnswerer`'s answer on {same} of {SAMPLE_SIZE} dev questions" in " ".join(card.split())


@pytest.mark.slow
def test_a_smaller_sample_is_counted_the_same_way(squad_run):
    _, run_dir = squad_run
    examples = read_examples(FIXTURES / "squad_v1_tiny.json", SQUAD1)
    predictions = json.loads((run_dir / "predictions_eval.json").read_text())
    config = json.loads((run_dir / "run.json").read_text())["config"]
    sample = spread_sample(examples, 5)
    answers = pipeline_answers(run_dir / "best_model", sample, config)
    same = sum(answer == predictions[example.id] for answer, example in zip(answers, sample))
    assert measure(run_dir / "best_model", examples, sample_size=5) == {"same": same, "questions": 5}
    assert measure(run_dir / "best_model", [], sample_size=5) == {"same": 0, "questions": 0}
