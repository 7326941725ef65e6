#!/usr/bin/env python
"""Inference speed and agreement: QuestionAnswerer.batch against transformers.pipeline("question-answering") on the
same trained run and the same questions, in one process (same device, same thread count).

  answerer  QuestionAnswerer(run folder).batch(all questions): the run's window and decoding settings, batch size
            (eval_batch_size) and precision, so its batches are those of the run's evaluation
  pipeline  pipeline("question-answering", model=run's best_model/) on the lists of questions and contexts,
            batch_size=16, with the run's max_seq_length, max_question_len and max_answer_len (its doc_stride is
            the pipeline's own, an overlap); the model's own dtype (float32) unless --pipeline_dtype says otherwise

Each contender answers a few questions first (loading and first-call costs are not timed), then all of them, timed;
with --repeats N, the fastest of N (other programs on the machine only ever add time). Agreement: how many answers
equal the run's predictions_eval.json, by question id. The last line of the output is one JSON object.

Where the time goes: for each contender, the padded tokens its model ran on and the seconds inside the model's
forward (the rest is tokenizing, windowing and decoding); and the ceiling a precision sets, a matrix product of the
model's feed-forward shape timed in the answerer's precision and in float32 (`gemm_speedup`). The answerer's
advantage is at most about gemm_speedup x (pipeline tokens / answerer tokens) plus what it saves outside the model.

    python bench/bench_answerer.py --model ./model/squad_v1.1/sentence-transformers-all-MiniLM-L6-v2
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from korsquad import QuestionAnswerer  # noqa: E402
from korsquad.data.datasets import get_spec  # noqa: E402
from korsquad.data.readers import read_examples  # noqa: E402
from korsquad.runs.folder import RunFolder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_BATCH_SIZE = 16
WARMUP_QUESTIONS = 8


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(ROOT / "model" / "squad_v1.1" / "sentence-transformers-all-MiniLM-L6-v2"),
                   help="a trained run folder with best_model/, run.json and predictions_eval.json (default: the "
                        "README quick start's)")
    p.add_argument("--data_file", default=None, help="the questions (default: the run's dev file)")
    p.add_argument("--max_questions", type=int, help="first N questions (default: all)")
    p.add_argument("--pipeline_dtype", default=None, choices=("float32", "bfloat16"),
                   help="the pipeline model's dtype (default: the saved model's, float32)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs of each contender (default: 1)")
    args = p.parse_args(argv)
    folder = RunFolder(args.model)
    for needed in (folder.run_json, folder.best_model_dir, folder.predictions()):
        if not needed.exists():
            p.error(f"--model {args.model}: no {needed.name} (train with --do_train --do_eval first)")
    return args


def run_settings(folder):
    return json.loads(folder.run_json.read_text())["config"]


def dev_file(config):
    from korsquad.data.datasets import split_file

    return config.get("dev_file") or split_file(get_spec(config["data_name"]), config["data_dir"], "dev")


def questions(path, config, limit):
    """The questions in file order, as the evaluation reads them (its max_eval_samples included)."""
    examples = read_examples(path, get_spec(config["data_name"]), training=False)
    limit = limit or config.get("max_eval_samples")
    return [{"id": e.id, "question": e.question, "context": e.context} for e in examples[:limit]]


def fastest(work, repeats):
    best, result = None, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


class ForwardMeter:
    """Padded tokens fed to a model and seconds spent in its forward, from hooks on the model."""

    def __init__(self, model):
        self.tokens, self.seconds, self._start = 0, 0.0, None
        model.register_forward_pre_hook(self._before, with_kwargs=True)
        model.register_forward_hook(self._after)

    def _before(self, module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.tokens += int(ids.numel())
        self._start = time.perf_counter()

    def _after(self, module, args, output):
        self.seconds += time.perf_counter() - self._start

    def reset(self):
        self.tokens, self.seconds = 0, 0.0


def measured(work, meter, repeats):
    """fastest(work) with the meter's tokens and forward seconds of that fastest run."""
    best = None
    for _ in range(repeats):
        meter.reset()
        seconds, result = fastest(work, 1)
        if best is None or seconds < best[0]:
            best = (seconds, result, meter.tokens, meter.seconds)
    return best


def gemm_speedup(precision, hidden, intermediate, repeats=5):
    """float32 time / `precision` time of one feed-forward matrix product (8,192 tokens x hidden -> intermediate)."""
    x, w = torch.randn(8192, hidden), torch.randn(intermediate, hidden)
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)

    def best(a, b):
        torch.nn.functional.linear(a, b)
        return min(timed(lambda: torch.nn.functional.linear(a, b)) for _ in range(repeats))

    if dtype is None:
        return 1.0
    return round(best(x, w) / best(x.to(dtype), w.to(dtype)), 2)


def timed(work):
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def contender(seconds, n, tokens, forward_s, **extra):
    return {"seconds": round(seconds, 2), "questions_per_s": round(n / seconds, 1), **extra,
            "padded_tokens": tokens, "forward_seconds": round(forward_s, 2)}


def main(argv=None):
    args = parse_args(argv)
    folder = RunFolder(args.model)
    config = run_settings(folder)
    records = questions(args.data_file or dev_file(config), config, args.max_questions)
    expected = json.loads(folder.predictions().read_text())

    answerer = QuestionAnswerer(folder.root, device="cpu")
    answerer.batch(records[:WARMUP_QUESTIONS])
    answerer_meter = ForwardMeter(answerer.model)
    answerer_s, answers, answerer_tokens, answerer_forward = measured(lambda: answerer.batch(records),
                                                                      answerer_meter, args.repeats)
    answerer_agree = sum(a["answer"] == expected.get(r["id"]) for r, a in zip(records, answers))

    from transformers import pipeline

    dtype = getattr(torch, args.pipeline_dtype) if args.pipeline_dtype else None
    qa = pipeline("question-answering", model=str(folder.best_model_dir), device=-1, torch_dtype=dtype)
    options = dict(batch_size=PIPELINE_BATCH_SIZE, max_seq_len=config["max_seq_length"],
                   max_question_len=config["max_query_length"], max_answer_len=config["max_answer_length"])
    asked = {"question": [r["question"] for r in records], "context": [r["context"] for r in records]}
    qa(**{key: values[:WARMUP_QUESTIONS] for key, values in asked.items()}, **options)
    pipeline_meter = ForwardMeter(qa.model)
    pipeline_s, outputs, pipeline_tokens, pipeline_forward = measured(lambda: qa(**asked, **options),
                                                                      pipeline_meter, args.repeats)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    pipeline_agree = sum(o["answer"] == expected.get(r["id"]) for r, o in zip(records, outputs))

    n = len(records)
    print(json.dumps({
        "questions": n, "threads": torch.get_num_threads(), "run": str(folder.root),
        "answerer": contender(answerer_s, n, answerer_tokens, answerer_forward, batch_size=answerer.batch_size,
                              precision=answerer.precision, equal_to_predictions_eval=answerer_agree),
        "pipeline": contender(pipeline_s, n, pipeline_tokens, pipeline_forward, batch_size=PIPELINE_BATCH_SIZE,
                              dtype=str(qa.model.dtype).replace("torch.", ""),
                              equal_to_predictions_eval=pipeline_agree),
        "gemm_speedup": gemm_speedup(answerer.precision, qa.model.config.hidden_size,
                                     qa.model.config.intermediate_size),
        "speedup": round(pipeline_s / answerer_s, 2),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
