"""The toolkit's modules this package uses, imported in this one place: when the modules move (stage packages),
only these lines change."""

from ..config import BY_NAME as OPTIONS_BY_NAME  # noqa: F401
from ..config import typed_settings  # noqa: F401
from ..datasets import REGISTRY  # noqa: F401
from ..errors import ArgumentParser, UsageError, exit_on_usage_error, first_line  # noqa: F401
from ..jsonio import atomic_write_bytes, atomic_write_json, load_record  # noqa: F401
from ..report import read_run  # noqa: F401
from ..report_tables import MISSING, format_mean_sd, format_wall_time, mean_sd, score_columns  # noqa: F401
from ..runconfig import default_run_name, is_plain_name  # noqa: F401
from ..runfolder import RunFolder  # noqa: F401

# The module that run_qa.py runs: each cell is `python -m RUN_QA_MODULE ...` in a process of its own.
RUN_QA_MODULE = "korsquad.cli"
