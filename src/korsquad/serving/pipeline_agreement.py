"""How far transformers' `pipeline("question-answering")` agrees with QuestionAnswerer on a run's best_model/,
measured when the model is exported, on a sample of the run's own dev questions; the model card says it
(korsquad.serving.model_card).

QuestionAnswerer answers as the evaluation does (the run's windows, decoding and no-answer threshold). The pipeline
windows and decodes its own way even when given the run's lengths (its `doc_stride` is an overlap, its windows and
candidate spans are not the evaluation's), so a user who loads the folder with it may get other answers: the card
says how many of the sample it changed rather than promising either.
"""

SAMPLE_SIZE = 20  # dev questions spread over the dev set: a few seconds for a base-size model on a CPU


def pipeline_arguments(settings, has_unanswerable):
    """The pipeline call's keyword arguments that the card shows and the measure uses: the run's window and answer
    lengths (`settings` holds the flag names), and the null answer allowed where the data set has unanswerable
    questions."""
    arguments = {"max_seq_len": settings["max_seq_length"], "max_question_len": settings["max_query_length"],
                 "max_answer_len": settings["max_answer_length"]}
    if has_unanswerable:
        arguments["handle_impossible_answer"] = True
    return arguments


def measure(model_dir, examples, sample_size=SAMPLE_SIZE):
    """{"same": N, "questions": M}: of M dev questions spread over `examples` (readers.Example), how many the
    pipeline answers with QuestionAnswerer's answer text, both on the same device."""
    from ..features.audit import spread_sample
    from .answerer import QuestionAnswerer

    sample = spread_sample(list(examples), sample_size)
    if not sample:
        return {"same": 0, "questions": 0}
    answerer = QuestionAnswerer(model_dir)
    expected = [answer["answer"] for answer in answerer.batch(
        {"id": example.id, "question": example.question, "context": example.context} for example in sample)]
    settings = {**answerer.window.as_dict(), **answerer.decoding.as_dict()}
    qa = quiet_pipeline(model_dir, answerer.model, answerer.device)
    outputs = qa(question=[example.question for example in sample], context=[example.context for example in sample],
                 **pipeline_arguments(settings, answerer.spec.has_unanswerable))
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return {"same": sum(output["answer"] == answer for output, answer in zip(outputs, expected)),
            "questions": len(sample)}


def quiet_pipeline(model_dir, model, device):
    """The question-answering pipeline a user gets from `model_dir` (its AutoTokenizer: for KoBERT the fast
    tokenizer.json), on `model` (the folder's weights, loaded once already), without its note of the device."""
    from transformers import AutoTokenizer, pipeline
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return pipeline("question-answering", model=model, tokenizer=AutoTokenizer.from_pretrained(str(model_dir)),
                        device=device)
    finally:
        hf_logging.set_verbosity(verbosity)
