"""Answer questions with a trained model from the command line (korsquad.serving.answerer.QuestionAnswerer).

    korsquad predict --model RUN_OR_BEST_MODEL --question Q --context C
    korsquad predict --model RUN_OR_BEST_MODEL --input questions.jsonl [--output answers.jsonl]

Input: JSON Lines, one {"question", "context", "id"?} object a line (blank lines are skipped; "-" reads stdin).
Output: JSON Lines in input order, {"id", "answer", "char_start", "char_end", "score"} (see korsquad.serving.answerer;
"id" defaults to the line number, or null for --question), to --output or stdout. The file is read and answered
in chunks, so memory stays bounded; an input file is checked whole before the model loads, and --output is
written under a temporary name and renamed when complete. Bad input is one `error:` line and exit status 2.
"""

import sys
from pathlib import Path

from ..common.errors import ArgumentParser, UsageError, exit_on_usage_error
from ..common.jsonio import jsonl_objects, write_json_lines
from ..runs.checkpoints import locate
from ..runs.settings import positive_int
from .answerer import DEFAULT_CHUNK_SIZE, check_record


def build_parser():
    parser = ArgumentParser(prog="korsquad predict",
                            description="Answer questions with a trained model, decoded as its dev evaluation was.")
    parser.add_argument("--model", required=True,
                        help="a run folder (run.json, best_model/) or a model folder (e.g. its best_model/)")
    parser.add_argument("--question", help="one question (with --context)")
    parser.add_argument("--context", help="the context of --question")
    parser.add_argument("--input", help="JSON Lines file of {\"question\", \"context\", \"id\"?} objects; - for stdin")
    parser.add_argument("--output", help="JSON Lines file of answers (default: stdout)")
    parser.add_argument("--batch_size", type=int, help="windows per forward pass (default: the run's "
                                                       "eval_batch_size, else 32)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
    parser.add_argument("--data_name", help="data set of a model folder without a run.json (its registry "
                                            "defaults and whether answers may be empty)")
    parser.add_argument("--chunk_size", type=int, default=DEFAULT_CHUNK_SIZE,
                        help=f"questions answered at once (default: {DEFAULT_CHUNK_SIZE})")
    return parser


@exit_on_usage_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.input is not None and (args.question is not None or args.context is not None):
        raise UsageError("give --input, or --question and --context, not both")
    if args.input is None and (args.question is None or args.context is None):
        raise UsageError("give --question and --context, or --input FILE.jsonl")
    for flag in ("batch_size", "chunk_size"):
        if getattr(args, flag) is not None:
            positive_int(f"--{flag}", getattr(args, flag))
    if args.output is not None and not Path(args.output).resolve().parent.is_dir():
        raise UsageError(f"--output {args.output}: folder {Path(args.output).parent} not found")
    # a missing model folder is reported before the input is read or torch loads
    locate(args.model, None, exported=True, flag="--model")
    if args.input is not None:
        records, total = file_records(args.input)
    else:
        records, total = [{"id": None, "question": args.question, "context": args.context}], None
        check_record(records[0], "--question/--context")

    from .answerer import QuestionAnswerer

    qa = QuestionAnswerer(args.model, data_name=args.data_name, batch_size=args.batch_size, device=args.device)
    answers = qa.stream(records, chunk_size=args.chunk_size)
    if args.input is not None:
        answers = progress(answers, total)
    write_json_lines(answers, args.output)
    return 0


def file_records(path):
    """(records iterator, count or None): a file is checked whole first (so errors come before the model loads and
    before any output); stdin is checked as it streams."""
    if path == "-":
        return read_jsonl(sys.stdin, "<stdin>"), None
    if not Path(path).is_file():
        raise UsageError(f"--input {path}: file not found")
    with open(path, encoding="utf-8") as f:
        total = sum(1 for _ in read_jsonl(f, path))
    if total == 0:
        raise UsageError(f"--input {path}: no questions in the file")

    def records():
        with open(path, encoding="utf-8") as f:
            yield from read_jsonl(f, path)

    return records(), total


def read_jsonl(lines, name):
    """Records of a JSON Lines stream, each checked; "id" defaults to the line number."""
    for number, record in jsonl_objects(lines, name):
        check_record(record, f"{name}: line {number}")
        yield record if "id" in record else dict(record, id=number)


def progress(answers, total):
    from tqdm import tqdm

    with tqdm(answers, total=total, unit="q", file=sys.stderr, dynamic_ncols=True, desc="answering") as bar:
        yield from bar
