"""KorSQuAD-pl: fine-tune and score question-answering models on KorQuAD 1.0/2.x and SQuAD 1.1/2.0.

The package is one folder per stage, each importing only the ones before it: common, data, runs, features, decoding,
training, config, serving, analysis, cli (README: Project layout). `korsquad --help` lists the commands.
"""

import sys

__version__ = "1.0.0"
__all__ = ["QuestionAnswerer", "__version__"]

# The modules that were commands before the stage packages (python -m korsquad.audit, ...): the command now.
MOVED_COMMANDS = {"audit": "audit", "compare": "compare", "cpu": "cpu", "datasets": "check", "evaluate": "score",
                  "inspect": "inspect", "predict": "predict", "report": "report"}


def __getattr__(name):
    """`from korsquad import QuestionAnswerer` loads torch and transformers only when it is asked for."""
    if name == "QuestionAnswerer":
        from .serving.answerer import QuestionAnswerer

        return QuestionAnswerer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _MovedCommands:
    """Answers an import of a former command module with one line naming its command (`python -m korsquad.evaluate`
    prints it as its only line), instead of a bare "No module named"."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        package, _, module = name.partition(".")
        if package == __name__ and module in MOVED_COMMANDS:
            command = MOVED_COMMANDS[module]
            raise ModuleNotFoundError(f"{name} is now the command `korsquad {command}` (or `python -m korsquad "
                                      f"{command}`)", name=name)
        return None


if not any(isinstance(finder, _MovedCommands) for finder in sys.meta_path):
    sys.meta_path.insert(0, _MovedCommands())
