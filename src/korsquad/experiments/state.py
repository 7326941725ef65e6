"""Where a cell stands, read from disk by any process on any machine: its run folder (run_qa.py's run.json and
result.json, as korsquad.analysis.report reads them), its lock and its record of attempts.

- done: run.json says finished and result.json holds the data set's scores;
- running: another process holds its lock (this one's cells are known to the launcher);
- failed: its last attempt ended with an error (the error line), or run.json says failed;
- pending: not started, or interrupted (continued with --resume from its last.ckpt, or started again when a
  training left no checkpoint).
"""

import dataclasses
import time
from datetime import datetime
from typing import Optional

from ._toolkit import REGISTRY, format_wall_time, load_record, read_run
from .lock import CellLock, held_elsewhere
from .record import read_attempts, was_interrupted

STATUSES = ("done", "running", "failed", "pending")


@dataclasses.dataclass(frozen=True)
class CellState:
    status: str  # one of STATUSES
    scores: Optional[dict] = None  # {result key: number}: the data set's exact and primary scores, when done
    wall_time_s: Optional[float] = None  # when done: its attempts' together (a resumed cell's whole time)
    detail: str = ""  # failed: the error line; running: who holds it; pending: interrupted or not

    def describe(self):
        """The state as the status lines show it: scores and wall time, or what is going on."""
        if self.status == "done":
            return f"{format_scores(self.scores)}  {format_wall_time(self.wall_time_s)}  {self.detail}".rstrip()
        return self.detail


def cell_state(cell, held_here=False):
    """`held_here`: this process holds the cell's lock (so it is not looked at: see korsquad.experiments.lock)."""
    run = read_run(cell.folder.root, cell.data_name)
    if run.problem is None:
        metric = REGISTRY[cell.data_name].metric
        scores = {key: run.result[key] for key in (metric.exact_key, metric.primary_key)}
        drift = settings_drift(cell, run.config)
        wall_time_s, attempts = total_wall_time(cell, run.info)
        notes = [f"{attempts} attempts" if attempts > 1 else "",
                 f"trained with {drift}: the file says otherwise now" if drift else ""]
        return CellState("done", scores, wall_time_s, "; ".join(note for note in notes if note))
    if run.info.get("status") == "pruned":  # a search's trial that its pruner stopped: ended, never continued
        return CellState("done", best_scores(cell), total_wall_time(cell, run.info)[0], detail="pruned")
    holder = None if held_here else held_elsewhere(CellLock.of(cell).path)
    if holder is not None:
        return CellState("running", detail=f"{holder.describe()}{elapsed(holder.since)}")
    attempts = read_attempts(cell)
    last = attempts[-1] if attempts else None
    if last is None or not was_interrupted(last):
        if last is not None and last.get("exit_code") not in (None, 0):
            return CellState("failed", detail=last.get("error") or f"exit status {last['exit_code']}")
        if run.info.get("status") == "failed":
            return CellState("failed", detail=run.info.get("error") or "run.json says failed")
    folder = cell.folder
    if folder.last_checkpoint.is_file():
        return CellState("pending", detail="interrupted: continues from its last.ckpt (--resume)")
    if folder.holds_training():
        return CellState("pending", detail="interrupted before its first checkpoint: starts again")
    if last is not None and last.get("exit_code") == 0:
        return CellState("failed", detail=f"ended without a result: {run.problem}")
    return CellState("pending", detail="not started")


def total_wall_time(cell, info):
    """(seconds, attempts): the wall time of the cell's attempts that ended, summed (run.json's wall time is its
    last invocation's only), else run.json's when the cell ran outside the experiment command."""
    times = [a["wall_time_s"] for a in read_attempts(cell) if isinstance(a.get("wall_time_s"), (int, float))]
    return (round(sum(times), 1), len(times)) if times else (info.get("wall_time_s"), 1)


def best_scores(cell):
    """A pruned trial's scores: result.json holds its best validation's (korsquad.training.pruning), else None."""
    metric = REGISTRY[cell.data_name].metric
    result = load_record(cell.folder.result_json) or {}
    keys = (metric.exact_key, metric.primary_key)
    return {key: result[key] for key in keys} if all(isinstance(result.get(k), (int, float)) for k in keys) else None


def settings_drift(cell, trained):
    """The cell's settings that its finished run was trained with other values of ("learning_rate 3e-05 (file:
    5e-05)"), "" when none: a file edited after its cells ran. Where the folder is is not compared."""
    differ = [f"{key} {trained[key]} (file: {value})" for key, value in cell.settings.items()
              if key != "output_dir" and key in trained and trained[key] != value]
    return ", ".join(differ)


def format_scores(scores):
    return "  ".join(f"{key} {value:.2f}" for key, value in (scores or {}).items())


def elapsed(since):
    try:
        seconds = time.time() - datetime.fromisoformat(since).timestamp()
    except (TypeError, ValueError):
        return ""
    return f" ({format_wall_time(seconds)})"
