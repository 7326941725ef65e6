"""korsquad.runs.settings: the window and decoding records, their checks and wording, and the one resolver that takes
each setting from what was given, the training's record or the data set's defaults."""

import pytest

from korsquad.common.errors import UsageError
from korsquad.runs.settings import INHERITED, DecodingSettings, InvalidSetting, WindowSettings, resolve_settings

WINDOW = dict(max_seq_length=384, doc_stride=128, max_query_length=64)
DECODING = dict(n_best_size=20, max_answer_length=30, null_score_diff_threshold=0.0)


def test_the_records_hold_the_settings_an_evaluation_inherits():
    assert INHERITED == (*WINDOW, *DECODING)
    assert WindowSettings(**WINDOW).as_dict() == WINDOW
    assert DecodingSettings(**dict(DECODING, null_score_diff_threshold=1)).null_score_diff_threshold == 1.0


@pytest.mark.parametrize("record, values, message", [
    (WindowSettings, dict(WINDOW, max_seq_length=0), "max_seq_length must be positive, not 0"),
    (WindowSettings, dict(WINDOW, doc_stride=-8), "doc_stride must be positive, not -8"),
    (WindowSettings, dict(WINDOW, max_query_length=64.0), "max_query_length must be an integer, not 64.0"),
    (WindowSettings, dict(WINDOW, max_seq_length=True), "max_seq_length must be an integer, not True"),
    (WindowSettings, dict(WINDOW, doc_stride=None), "doc_stride must be an integer, not None"),
    (DecodingSettings, dict(DECODING, n_best_size="20"), "n_best_size must be an integer, not '20'"),
    (DecodingSettings, dict(DECODING, null_score_diff_threshold="0"),
     "null_score_diff_threshold must be a number, not '0'"),
])
def test_each_setting_is_checked_with_one_wording(record, values, message):
    with pytest.raises(InvalidSetting) as err:
        record(**values)
    assert str(err.value) == message and isinstance(err.value, UsageError)
    assert err.value.name == message.split()[0]


def test_first_of_takes_each_setting_from_the_first_source_that_has_it():
    explicit = {"doc_stride": 64, "max_seq_length": None}  # None: not given
    trained = {"max_seq_length": 256, "doc_stride": 100, "learning_rate": 1e-4}
    defaults = WINDOW
    assert WindowSettings.first_of(explicit, trained, defaults).as_dict() == dict(
        max_seq_length=256, doc_stride=64, max_query_length=64)


def test_records_are_frozen():
    window = WindowSettings(**WINDOW)
    with pytest.raises(AttributeError):
        window.doc_stride = 1


# ---- resolve_settings: the one resolver ----
TRAINED = dict(WINDOW, max_seq_length=128, doc_stride=64, n_best_size=10, learning_rate=1e-4)
DEFAULTS = dict(WINDOW, **DECODING)


def test_given_settings_come_first_then_the_trainings_then_the_data_sets():
    window, decoding, differ = resolve_settings({"doc_stride": 48, "n_best_size": None}, TRAINED, DEFAULTS)
    assert window.as_dict() == dict(max_seq_length=128, doc_stride=48, max_query_length=64)
    assert decoding.as_dict() == dict(n_best_size=10, max_answer_length=30, null_score_diff_threshold=0.0)
    assert differ == ["doc_stride 48 (trained with 64)"]


def test_a_model_never_trained_here_gets_the_data_sets_defaults_and_no_note():
    window, decoding, differ = resolve_settings({}, {}, DEFAULTS)
    assert window == WindowSettings(**WINDOW) and decoding.n_best_size == 20 and differ == []


def test_a_bad_value_is_one_error_named_as_a_flag_or_as_a_keyword():
    with pytest.raises(UsageError) as as_flag:
        resolve_settings({"max_seq_length": 0}, TRAINED, DEFAULTS)
    with pytest.raises(UsageError) as as_keyword:
        resolve_settings({"max_seq_length": 0}, TRAINED, DEFAULTS, flags=False)
    assert str(as_flag.value) == "--max_seq_length must be positive, not 0"
    assert str(as_keyword.value) == "max_seq_length must be positive, not 0"


def test_a_bad_value_recorded_by_a_training_is_refused_too():
    with pytest.raises(UsageError, match="^--doc_stride must be an integer, not '64'$"):
        resolve_settings({}, dict(TRAINED, doc_stride="64"), DEFAULTS)
