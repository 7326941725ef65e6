"""korsquad.logs: a known library message is shown once at debug level, any other as before."""

import logging
import warnings

import pytest

from korsquad import logs

LEAF_SPEC = "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec)` instead."


@pytest.fixture
def configured(capsys):
    """logs.configure binds the streams of the moment: call it in the test, where capsys captures them."""

    def configure(level):
        logs.configure(level)
        logs._shown_once.clear()
        return capsys

    yield configure
    logs.configure("info")


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
    monkeypatch.setattr(logs, "_python_showwarning", lambda message, *args: shown.append(str(message)))
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
