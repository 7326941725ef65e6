"""The `korsquad` command: one subcommand per job, each the `main(argv)` of the module that does it.

    korsquad --help              the subcommands
    korsquad COMMAND --help      a subcommand's flags
    python -m korsquad ...       the same command without the installed script

A subcommand's module is imported only when it runs, so `korsquad --help` and a mistyped command answer at once.
"""

import difflib
import sys
from importlib import import_module

from ..common.errors import UsageError, exit_on_usage_error, program_name

# subcommand -> (its module, what it does): the order of `korsquad --help`, a run's life from data to analysis
COMMANDS = {
    "download": ("korsquad.data.download", "download data sets' official files, verified"),
    "check": ("korsquad.data.datasets", "read a data file as training would, and print its counts"),
    "audit": ("korsquad.features.audit", "how well a tokenizer fits a data set: labels and unknown text"),
    "run": ("korsquad.cli.run", "fine-tune, evaluate and predict, as run_qa.py (--do_train, --do_eval, --do_predict)"),
    "score": ("korsquad.data.scoring", "score a prediction file exactly like the official script of its data set"),
    "predict": ("korsquad.serving.predict", "answer questions with a trained model (JSON lines in and out)"),
    "report": ("korsquad.analysis.report", "tables and figures of the runs under a folder"),
    "compare": ("korsquad.analysis.compare", "is run B better than run A? paired tests on the same dev questions"),
    "inspect": ("korsquad.analysis.page", "the evaluation page of a run: its answers question by question"),
    "experiment": ("korsquad.experiments.cli", "run an experiment file's cells or search, then its results table"),
    "flags": ("korsquad.config.options", "the table of run_qa.py's flags, in English or Korean (en, ko)"),
    "cpu": ("korsquad.common.cpu", "whether this CPU computes bfloat16 natively, as one JSON object"),
}


def usage():
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name.ljust(width)}  {what}" for name, (_, what) in COMMANDS.items())
    return (f"usage: korsquad COMMAND [FLAGS]   (python -m korsquad COMMAND [FLAGS] is the same)\n\n"
            f"Fine-tune and officially score question-answering models on KorQuAD and SQuAD.\n\ncommands:\n{rows}\n\n"
            f"`korsquad COMMAND --help` lists a command's flags.")


@exit_on_usage_error
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        print(usage(), file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(f"unknown command {name!r}{hint}; `korsquad --help` lists them")
    module = import_module(COMMANDS[name][0])
    with program_name(f"korsquad {name}"):  # every usage line and --help of the command says what was typed
        return module.main(rest)
