"""korsquad.serving.pipeline_agreement: transformers' pipeline against QuestionAnswerer on a run's best_model/, measured
when the model is exported and stated by its model card."""

from korsquad.serving.pipeline_agreement import pipeline_arguments


def test_the_pipeline_gets_the_runs_lengths_and_the_null_answer_where_there_is_one():
    settings = {"max_seq_length": 128, "max_query_length": 32, "max_answer_length": 30, "doc_stride": 64}
    assert pipeline_arguments(settings, has_unanswerable=False) == {"max_seq_len": 128, "max_question_len": 32,
                                                                    "max_answer_len": 30}
    assert pipeline_arguments(settings, has_unanswerable=True)["handle_impossible_answer"] is True
