"""korsquad.common.console: a known library message is shown once at debug level, any other as before."""

import contextlib
import logging
import warnings

import pytest

from korsquad.common import console

LEAF_SPEC = "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec)` instead."


def process_logging_state():
    """What console.configure changes process-wide: the toolkit's and the libraries' loggers, Python's warning display
    and filters, transformers' verbosity."""
    from transformers.utils import logging as hf_logging

    loggers = tuple((name, tuple(logger.handlers), logger.level, logger.propagate)
                    for name, logger in ((n, logging.getLogger(n)) for n in ("korsquad", *console.LIBRARY_LOGGERS)))
    return loggers, warnings.showwarning, tuple(warnings.filters), hf_logging.get_verbosity()


@contextlib.contextmanager
def logging_put_back():
    """Undo console.configure on leaving, so that no later test in this process runs with loggers that write to a
    closed capture or do not propagate (pytest 9.2 also captures non-propagating loggers: a record would be
    captured twice once a test makes one propagate again)."""
    from transformers.utils import logging as hf_logging

    loggers, _, _, verbosity = process_logging_state()
    with warnings.catch_warnings():  # puts back warnings.showwarning and the filters
        yield
    for name, handlers, level, propagate in loggers:
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = list(handlers), propagate
        logger.setLevel(level)
    hf_logging.set_verbosity(verbosity)
    console._shown_once.clear()


@pytest.fixture
def configured(capsys):
    """console.configure binds the streams of the moment: call it in the test, where capsys captures them."""

    def configure(level):
        console.configure(level)
        console._shown_once.clear()
        return capsys

    with logging_put_back():
        yield configure


def test_what_configure_changes_is_put_back_after_a_test(capsys):
    before = process_logging_state()
    with logging_put_back():
        console.configure("error")
        assert process_logging_state() != before
    assert process_logging_state() == before


def test_known_noise_is_shown_once_at_debug_level(configured):
    capsys = configured("debug")
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn(LEAF_SPEC, FutureWarning)
        logging.getLogger("pytorch_lightning.utilities.rank_zero").info("💡 Tip: For seamless cloud logging, ...")
    out, err = capsys.readouterr()
    assert out.count("LeafSpec") == 1 and out.count("Tip: For seamless") == 1
    assert "LeafSpec" not in err and "Tip" not in err


def test_other_messages_still_reach_stderr(configured, monkeypatch):
    capsys = configured("info")
    shown = []  # Python's own showwarning (which prints to stderr; under pytest it records instead)
    monkeypatch.setattr(console, "_python_showwarning", lambda message, *args: shown.append(str(message)))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("a warning a user can act on", UserWarning)
        warnings.warn(LEAF_SPEC, FutureWarning)
    logging.getLogger("pytorch_lightning.trainer").warning("lightning says something")
    _, err = capsys.readouterr()
    assert shown == ["a warning a user can act on"] and "lightning says something" in err


def test_info_level_hides_the_noise_entirely(configured):
    capsys = configured("info")
    logging.getLogger("pytorch_lightning.trainer").info("Loading `train_dataloader` to estimate number of stepping "
                                                        "batches.")
    logging.getLogger("pytorch_lightning.trainer").info("GPU available: False, used: False")
    out, err = capsys.readouterr()
    assert "estimate" not in out + err and "GPU available" in err
