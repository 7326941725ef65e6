"""The two groups of settings that decide what a model is scored on, each a small frozen record with its own checks,
and the one place that resolves them.

    WindowSettings    max_seq_length, doc_stride, max_query_length: how questions and contexts become windows
    DecodingSettings  n_best_size, max_answer_length, null_score_diff_threshold: how logits become answers
    resolve_settings  both, from what was given, the training's record and the data set's defaults: run_qa.py
                      (korsquad.config.runconfig), the label audit and QuestionAnswerer all take theirs from it

korsquad.config.runconfig builds them once per run (RunConfig.window, RunConfig.decoding); whoever builds windows
(features, the data module, the cache key, the label audit) or turns logits into answers (validation.Evaluator,
QuestionAnswerer) takes the record whole. What an evaluation inherits from its training is read off the records'
fields (INHERITED), so a new setting in a record is inherited, recorded and checked without another list to edit.
"""

import dataclasses

from ..common.errors import UsageError


class InvalidSetting(UsageError):
    """A value a record refuses; str() is "NAME PROBLEM, not VALUE" (resolve_settings puts "--" before a flag's)."""

    def __init__(self, name, problem, value):
        super().__init__(f"{name} {problem}, not {value!r}")
        self.name, self.problem, self.value = name, problem, value


def positive_int(name, value):
    """`value` when it is a positive integer, else InvalidSetting naming `name`: every such check of the toolkit."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidSetting(name, "must be an integer", value)
    if value <= 0:
        raise InvalidSetting(name, "must be positive", value)
    return value


def _number(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidSetting(name, "must be a number", value)
    return float(value)


class _Record:
    """What both records share: building one from several sources, and their plain-JSON form."""

    CHECKS = {}  # field name -> (name, value) -> checked value

    def __post_init__(self):
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, self.CHECKS[field.name](field.name, getattr(self, field.name)))

    @classmethod
    def names(cls):
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def first_of(cls, *sources):
        """Each field from the first mapping that has it (not None): e.g. (flags, the training's, the data set's
        defaults)."""
        values = {}
        for name in cls.names():
            values[name] = next((source[name] for source in sources if source.get(name) is not None), None)
        return cls(**values)

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class WindowSettings(_Record):
    """How an example becomes windows (korsquad.features.windows): at most `max_seq_length` tokens each, the question
    cut to `max_query_length` tokens, consecutive windows starting `doc_stride` context tokens apart."""

    max_seq_length: int
    doc_stride: int
    max_query_length: int

    CHECKS = {"max_seq_length": positive_int, "doc_stride": positive_int, "max_query_length": positive_int}


@dataclasses.dataclass(frozen=True)
class DecodingSettings(_Record):
    """How a question's logits become its answer (korsquad.decoding.postprocess.decode)."""

    n_best_size: int
    max_answer_length: int
    null_score_diff_threshold: float

    CHECKS = {"n_best_size": positive_int, "max_answer_length": positive_int,
              "null_score_diff_threshold": _number}


RECORDS = (WindowSettings, DecodingSettings)
# What an evaluation takes from the training unless given: which windows the model sees and how its logits become
# answers; scoring with others measures a different model.
INHERITED = tuple(name for record in RECORDS for name in record.names())


def resolve_settings(explicit, trained, defaults, *, flags=True):
    """(WindowSettings, DecodingSettings, differ): the settings a model is scored on, each from the first of
    `explicit` (what was given: flags and a --config file, or keywords), `trained` (what its training recorded; {}
    for a model never trained here) and `defaults` (the data set's) that has it, not None; `differ` names each given
    setting that differs from the training's, "NAME VALUE (trained with VALUE)". A bad value is one UsageError
    naming the setting, as the flag `--NAME` when `flags`."""
    try:
        window, decoding = (record.first_of(explicit, trained, defaults) for record in RECORDS)
    except InvalidSetting as err:
        raise UsageError(f"--{err}" if flags else str(err)) from None
    differ = [f"{name} {explicit[name]} (trained with {trained[name]})" for name in INHERITED
              if explicit.get(name) is not None and trained.get(name) is not None and explicit[name] != trained[name]]
    return window, decoding, differ
