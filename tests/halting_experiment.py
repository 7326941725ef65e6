"""`python halting_experiment.py ARGS`: the experiment command (korsquad.experiments) whose cells run
tests/halting_run_qa.py in place of run_qa.py, so that a test can SIGKILL it right after a known cell's mid-epoch
save (that file's $KORSQUAD_HALT_* variables say which cell and step)."""

import os
import sys
from pathlib import Path

from korsquad.experiments import cells
from korsquad.experiments.cli import main

TESTS = str(Path(__file__).resolve().parent)
os.environ["PYTHONPATH"] = os.pathsep.join([TESTS, *filter(None, [os.environ.get("PYTHONPATH")])])
cells.RUN_QA_MODULE = "halting_run_qa"  # `python -m halting_run_qa`, found on the cells' PYTHONPATH
sys.exit(main())
