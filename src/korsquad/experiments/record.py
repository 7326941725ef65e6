"""A cell's record of attempts, `<state_dir>/<cell>.json`: when each attempt of training the cell started, on which
machine and GPUs, with which command, and how it ended (exit status, error line, wall time). Only the process
holding the cell's lock writes it, each time whole (atomically). An attempt without an end was killed with its
launcher."""

import shlex
import socket
import time
from datetime import datetime, timezone

from ._toolkit import atomic_write_json, load_record

# Exit status 2 is bad input (run_qa.py's one-line UsageError: a missing model folder, a refused --resume): running
# it again gives the same error, so it is not retried.
BAD_INPUT = 2


def record_path(cell):
    return cell.state_dir / f"{cell.name}.json"


def log_path(cell):
    return cell.state_dir / f"{cell.name}.log"


def read_attempts(cell):
    record = load_record(record_path(cell))
    attempts = record.get("attempts") if record else None
    return [a for a in attempts if isinstance(a, dict)] if isinstance(attempts, list) else []


def start_attempt(cell, argv, gpu_ids, mode):
    """Append an attempt that starts now; its index."""
    attempts = read_attempts(cell)
    attempts.append({"started_at": datetime.now(timezone.utc).isoformat(), "started": time.time(),
                     "host": socket.gethostname(), "gpus": gpu_ids, "mode": mode, "command": shlex.join(argv)})
    atomic_write_json(record_path(cell), {"cell": cell.name, "data_name": cell.data_name, "attempts": attempts})
    return len(attempts) - 1


def finish_attempt(cell, index, exit_code, error, wall_time_s, interrupted=False):
    attempts = read_attempts(cell)
    attempts[index].update(finished_at=datetime.now(timezone.utc).isoformat(), exit_code=exit_code, error=error,
                           wall_time_s=round(wall_time_s, 1), interrupted=interrupted)
    atomic_write_json(record_path(cell), {"cell": cell.name, "data_name": cell.data_name, "attempts": attempts})


def was_interrupted(attempt):
    """Whether an attempt was stopped with its experiment command (stopped, or killed: it has no end) rather than
    ending on its own: the cell is then pending, to be continued."""
    return bool(attempt.get("interrupted")) or "exit_code" not in attempt


def failures_since(cell, since):
    """The attempts that started at or after `since` (a time.time()), by any process, and failed on their own."""
    return [a for a in read_attempts(cell) if isinstance(a.get("started"), (int, float)) and a["started"] >= since
            and not was_interrupted(a) and a["exit_code"] != 0]


def retryable(exit_code):
    return exit_code not in (0, BAD_INPUT)
