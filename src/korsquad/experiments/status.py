"""What the experiment command prints about its cells: the plan (`--dry_run`: each cell's state and the exact
command it would run now), the status (`--status`, and before a run: each cell's state, scores and wall time), and
the end of a run (the table written, the summary and the exit status)."""

import shlex
import sys
from collections import Counter

from .runner import start_mode
from .state import STATUSES, cell_state
from .table import write_table


def summary_line(experiment, cells, states=None):
    """`FILE: 8 cells (1 data set x 8 models x 1 seed) in OUTPUT_DIR[: 3 done, 1 running, ...]`."""
    shape = [f"{len(experiment.data_sets)} data set{'s' * (len(experiment.data_sets) > 1)}",
             f"{len(experiment.models)} model{'s' * (len(experiment.models) > 1)}",
             *(f"{len(values)} {key}" for key, values in experiment.grid.items()),
             f"{len(experiment.seeds)} seed{'s' * (len(experiment.seeds) > 1)}"]
    line = f"{experiment.path}: {len(cells)} cells ({' x '.join(shape)}) in {experiment.output_dir}"
    if states is not None:
        counts = Counter(state.status for state in states.values())
        line += ": " + ", ".join(f"{counts[status]} {status}" for status in STATUSES if counts[status])
    return line


def status_lines(cells, states):
    """One line per cell: state, name, then scores and wall time, or what it is waiting for / failed with."""
    width = max(len(cell.label) for cell in cells)
    return [f"{states[cell].status:<8} {cell.label:<{width}}  {states[cell].describe()}".rstrip() for cell in cells]


def plan_lines(cells, states, gpu_ids=None):
    """--dry_run: each cell's state and the exact command the launcher would run for it now (none for a cell that
    is done or that another process is running)."""
    lines = []
    for i, cell in enumerate(cells, 1):
        state = states[cell]
        gpus = f"; {cell.gpus} GPU{'s' * (cell.gpus > 1)} of --gpu_ids (CUDA_VISIBLE_DEVICES)" if gpu_ids else ""
        lines.append(f"[{i}/{len(cells)}] {cell.label}: {state.status}"
                     + (f" ({state.detail})" if state.detail else "") + gpus)
        if state.status not in ("done", "running"):  # a running cell is another process's
            mode = start_mode(cell.folder)
            argv = cell.command(cell.gpus if gpu_ids else None, resume=mode == "resume", overwrite=mode == "restart")
            lines.append(f"  {shlex.join(argv)}")
    return lines


def finish(experiment, cells, failed):
    """Write the table; print it and the summary; the exit status."""
    states = {cell: cell_state(cell) for cell in cells}
    markdown, path = write_table(experiment, states)
    print(markdown)
    print(f"wrote {path}")
    print(summary_line(experiment, cells, states))
    if not failed:
        return 0
    print(f"{len(failed)} of {len(cells)} cells failed:", file=sys.stderr)
    for outcome in failed:
        print(f"  {outcome.cell.label}: {outcome.error or outcome.status}", file=sys.stderr)
    return 1
