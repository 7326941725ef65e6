"""`--log_level`: what run_qa.py says, and where.

The toolkit's own lines (progress, validation scores) go through the `korsquad` logger: debug and info to stdout,
warnings and errors to stderr. Lightning's messages keep going to stderr, filtered at the same level. Library
messages that no user can act on (KNOWN_NOISE: Lightning's advertisement, a deprecation inside Lightning) are shown
once at debug level instead of on every run. At `error`, Python warnings are not shown either.
"""

import logging
import re
import sys
import warnings

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
LIBRARY_LOGGERS = ("pytorch_lightning", "lightning_fabric", "lightning")
KNOWN_NOISE = tuple(re.compile(pattern) for pattern in (
    # Lightning advertises its LitLogger on every Trainer built without one
    r"Tip: For seamless cloud logging",
    # Lightning says so whenever a learning-rate schedule asks for the number of steps
    r"Loading `train_dataloader` to estimate number of stepping batches",
    # torch 2.13 deprecates LeafSpec, which Lightning's CombinedLoader (every dataloader) still builds
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
))

log = logging.getLogger("korsquad")
_shown_once = set()
_python_showwarning = warnings.showwarning


def is_known_noise(message):
    return any(pattern.search(message) for pattern in KNOWN_NOISE)


def debug_once(message):
    if message not in _shown_once:
        _shown_once.add(message)
        log.debug(message)


class KnownNoise(logging.Filter):
    """Drops a library's known-noise record from its handler; it is shown once at debug level instead."""

    def filter(self, record):
        message = record.getMessage()
        if is_known_noise(message):
            debug_once(message)
            return False
        return True


def show_warning(message, category, filename, lineno, file=None, line=None):
    """warnings.showwarning: known noise once at debug level; every other warning as Python shows it."""
    text = str(message)
    if is_known_noise(text):
        debug_once(f"{category.__name__}: {text}")
        return
    _python_showwarning(message, category, filename, lineno, file, line)


def configure(level_name):
    """Apply --log_level to the toolkit's lines, Lightning's and transformers' messages, and Python warnings."""
    level = LEVELS[level_name]
    log.handlers = [_handler(sys.stdout, below=logging.WARNING), _handler(sys.stderr, at_least=logging.WARNING)]
    log.setLevel(level)
    log.propagate = False
    import pytorch_lightning  # noqa: F401  (its import sets its own logger's level and handler: ours replace them)
    from transformers.utils import logging as hf_logging

    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(KnownNoise())
        library.handlers = [handler]
        library.setLevel(level)
        library.propagate = False
    # transformers' info level prints every config it reads: warnings are its most useful level, even at debug
    hf_logging.set_verbosity(max(level, logging.WARNING))
    warnings.showwarning = show_warning
    if level >= logging.ERROR:
        warnings.simplefilter("ignore")


def _handler(stream, *, below=None, at_least=None):
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    if below is not None:
        handler.addFilter(lambda record: record.levelno < below)
    if at_least is not None:
        handler.setLevel(at_least)
    return handler
