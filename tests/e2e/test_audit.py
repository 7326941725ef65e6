"""The label audit: its counts, the reasons it gives for unlabeled questions, and its command line."""

import os
import subprocess
import sys

from audit_helpers import audit_argv
from conftest import ROOT


def test_audit_command_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "korsquad", "audit", *audit_argv(), "--no_such_flag"],
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "error: unknown flag --no_such_flag; see --help"]
