"""The toolkit's modules this package uses, imported in this one place: when the modules move (stage packages),
only these lines change."""

from ..analysis.report import read_run
from ..analysis.report_tables import MISSING, format_mean_sd, format_wall_time, mean_sd, score_columns
from ..common.errors import ArgumentParser, UsageError, exit_on_usage_error
from ..common.jsonio import atomic_write_bytes, atomic_write_json, load_record
from ..config.options import BY_NAME as OPTIONS_BY_NAME
from ..config.options import typed_settings
from ..config.runconfig import default_run_name, is_plain_name
from ..data.datasets import REGISTRY
from ..runs.folder import RunFolder
from ..training.trial_link import Pruning, TrialLink, open_storage

# The module that run_qa.py runs: each cell is `python -m RUN_QA_MODULE ...` in a process of its own.
RUN_QA_MODULE = "korsquad.cli.run"

__all__ = ["MISSING", "OPTIONS_BY_NAME", "REGISTRY", "RUN_QA_MODULE", "ArgumentParser", "Pruning", "RunFolder",
           "TrialLink", "UsageError", "atomic_write_bytes", "atomic_write_json", "default_run_name",
           "exit_on_usage_error", "format_mean_sd", "format_wall_time", "is_plain_name", "load_record", "mean_sd",
           "open_storage", "read_run", "score_columns", "typed_settings"]
