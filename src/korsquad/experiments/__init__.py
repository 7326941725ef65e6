"""Experiments: a results table stated in one YAML file, run as cells (one run folder each) by one command,
`korsquad experiment FILE`.

    fields    the file's fields: mappings, strings, known keys and run_qa.py settings, checked
    spec      the file, read and checked into an Experiment (its search: and slurm: blocks raw)
    cells     its cells: deterministic names, run folders and exact run_qa.py commands
    lock      one cell, one trainer: a lock that a killed process does not keep
    record    each cell's record of attempts (exit status, error line, wall time)
    state     where a cell stands (done, running, failed, pending), read from disk
    runner    one attempt at a cell: run_qa.py in a process of its own
    launcher  the local launcher: cells one after another, or side by side on disjoint GPU groups
    status    the plan and status lines; the table, summary and exit status at the end
    table     the results table (mean ± sd over seeds, reference scores and differences)
    search    a search: block run as Optuna studies, one trial a run folder, by local or SLURM workers
    slurm     the SLURM launcher: the cells, or the search workers, as one job array
    cli       the command (the search: and slurm: blocks checked with the file)
"""

from .cells import Cell
from .spec import Experiment, load_experiment
from .state import CellState, cell_state

__all__ = ["Cell", "CellState", "Experiment", "cell_state", "load_experiment"]
