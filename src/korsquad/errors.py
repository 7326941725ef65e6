"""One clear error line and exit status 2 for bad input, shared by every command-line entry point."""

import argparse
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


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one `error:` line (exit 2) instead of usage + error."""

    def error(self, message):
        raise UsageError(message)
