"""One clear error line and exit status 2 for bad input, shared by every command-line entry point."""

import argparse
import contextlib
import functools
import sys


class UsageError(Exception):
    """Bad input from the user: a missing file, malformed data or an impossible flag value.

    The message names the file, field or flag and is printed as a single line.
    """


def exit_on_usage_error(main):
    """Wrap a command's main(): a UsageError becomes `error: <message>` on stderr and exit status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UsageError as err:
            message = " ".join(str(err).split())
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)

    return wrapper


# The command the user typed while a `korsquad COMMAND` runs (korsquad.cli.commands): every parser of that run
# names it in its usage and --help (`korsquad run`, not the name run_qa.py gives its own parser).
_program = None


@contextlib.contextmanager
def program_name(name):
    """Within the block, every ArgumentParser is the program `name`."""
    global _program
    previous, _program = _program, name
    try:
        yield
    finally:
        _program = previous


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one `error:` line (exit 2) instead of usage + error, names the
    flags an unknown one may have meant, takes `--dashed-spellings` of its flags, and accepts no prefix
    abbreviations (korsquad.common.flags)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        if _program is not None:
            kwargs["prog"] = _program
        super().__init__(*args, **kwargs)

    def flags(self):
        return {option for action in self._actions for option in action.option_strings}

    def parse_known_args(self, args=None, namespace=None):
        from .flags import underscored

        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(underscored(args, self.flags()), namespace)

    def parse_args(self, args=None, namespace=None):
        from .flags import unknown_message

        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            raise UsageError(unknown_message(extras, self.flags()))
        return parsed

    def error(self, message):
        raise UsageError(message)


def first_line(err):
    """The first line of an exception's message (its type's name when it has none): what a one-line UsageError
    quotes of a library's failure to load a file, whose further lines are hints and tracebacks."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
