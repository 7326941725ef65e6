"""One attempt at a cell: run_qa.py in a process of its own, started the way the cell's run folder asks (new, or
continued with --resume, or started again when a training left no checkpoint), its output appended to the cell's
log, its end recorded with the error line.

The process runs in a session of its own (its DDP processes with it, so stopping a cell stops all of them), holds
the cell's lock with its launcher (so the lock outlives neither), and on Linux dies with its launcher
(PR_SET_PDEATHSIG): `kill -9` of the experiment command leaves no training behind. Every process of the cell
carries the lock's token in its environment (KORSQUAD_CELL_TOKEN), so the next launcher that takes the stale lock
over ends what is left of it (DDP processes whose process 0 was killed).
"""

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from .record import finish_attempt, log_path, start_attempt
from .state import cell_state

TOKEN_VARIABLE = "KORSQUAD_CELL_TOKEN"
STOP_GRACE_S = 30  # how long a stopped cell's processes get to end after SIGTERM, before SIGKILL


@dataclasses.dataclass(frozen=True)
class Outcome:
    cell: object
    status: str  # done, failed, or interrupted (stopped with the experiment command)
    exit_code: Optional[int] = None
    error: str = ""
    wall_time_s: Optional[float] = None
    scores: Optional[dict] = None  # when done: the data set's exact and primary scores


def start_mode(folder):
    """How a cell whose run folder is not done starts: "resume" from its last.ckpt, "restart" a training that
    left no checkpoint (--overwrite_output_dir; the lock says no one is training it), or "new"."""
    if folder.last_checkpoint.is_file():
        return "resume"
    if folder.holds_training():
        return "restart"
    return "new"


def visible_devices(gpu_ids, environ):
    """CUDA_VISIBLE_DEVICES for a cell given `gpu_ids`: indices into the launcher's own visible devices when it
    has some (a SLURM allocation), else the ids themselves."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        own = [d.strip() for d in visible.split(",") if d.strip()]
        return ",".join(own[i] for i in gpu_ids)
    return ",".join(str(i) for i in gpu_ids)


def cell_environment(environ, gpu_ids, token, extra=None):
    """The environment of a cell's process: the launcher's, its GPUs (CUDA_VISIBLE_DEVICES), its token, then
    `extra` (a launcher's own variables; None removes a variable)."""
    env = dict(environ, PYTHONUNBUFFERED="1", **{TOKEN_VARIABLE: token})
    if gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = visible_devices(gpu_ids, environ)
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class CellRun:
    """One attempt of a cell in flight. The caller holds `lock` (acquired), calls `lock.heartbeat()` while it
    runs and releases the lock after finish(). `env`: variables for the cell's process (None removes one);
    `on_launch(argv)` is called with the exact command just before it starts."""

    def __init__(self, cell, lock, gpu_ids=None, spawn=subprocess.Popen, env=None, on_launch=None):
        self.cell, self.lock, self.gpu_ids, self.spawn = cell, lock, gpu_ids or None, spawn
        self.env, self.on_launch = env, on_launch
        self.process = self.index = self.started = self.log_offset = None
        self.mode = None

    @property
    def argv(self):
        return self.cell.command(len(self.gpu_ids) if self.gpu_ids else None, resume=self.mode == "resume",
                                 overwrite=self.mode == "restart")

    def start(self):
        self.mode = start_mode(self.cell.folder)
        argv = self.argv
        log = log_path(self.cell)
        log.parent.mkdir(parents=True, exist_ok=True)
        self.index = start_attempt(self.cell, argv, self.gpu_ids, self.mode)
        if self.on_launch is not None:
            self.on_launch(argv)
        with open(log, "ab") as out:
            self.log_offset = out.tell()
            out.write(f"==== attempt {self.index + 1} ({self.mode}) {time.strftime('%Y-%m-%d %H:%M:%S')}: "
                      f"{' '.join(argv)}\n".encode())
            out.flush()
            self.started = time.monotonic()
            self.process = self.spawn(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=cell_environment(os.environ, self.gpu_ids, self.lock.holder.token,
                                                           self.env),
                                      start_new_session=True, pass_fds=(self.lock.fd,),
                                      preexec_fn=die_with_parent(os.getpid()))
        return self

    def poll(self):
        return self.process.poll()

    def stop(self):
        """SIGTERM to every process of the cell, SIGKILL after STOP_GRACE_S."""
        if self.process.poll() is not None:
            return
        signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def finish(self, interrupted=False):
        """Record how the attempt ended (`interrupted`: stopped with the experiment command, to be continued); the
        Outcome."""
        exit_code = self.process.wait()
        wall = time.monotonic() - self.started
        end_leftovers(self.lock.holder.token)  # DDP processes that its process 0 left behind
        state = cell_state(self.cell, held_here=True)
        if state.status == "done":
            error = ""
        elif interrupted:
            error = "interrupted: the experiment command was stopped"
        else:
            error = error_line(self.log_tail(), exit_code, self.cell.folder)
            if exit_code == 0:
                exit_code, error = 1, state.detail
        finish_attempt(self.cell, self.index, exit_code, error, wall, interrupted)
        status = "done" if state.status == "done" else "interrupted" if interrupted else "failed"
        return Outcome(self.cell, status, exit_code, error, wall, state.scores)

    def log_tail(self, limit=1 << 16):
        with open(log_path(self.cell), "rb") as f:
            f.seek(max(self.log_offset, f.seek(0, os.SEEK_END) - limit))
            return f.read().decode("utf-8", "replace")


def error_line(log_text, exit_code, folder):
    """What went wrong, in one line: run_qa.py's `error:` line, else the error run.json recorded, else the log's last
    line (a traceback's exception), else how the process ended."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    if errors:
        return errors[-1]
    record = folder.read_record() or {}
    if record.get("status") == "failed" and record.get("error"):
        return f"error: {record['error']}"
    if exit_code is not None and exit_code < 0:
        return f"killed by {signal.Signals(-exit_code).name}"
    if lines and not lines[-1].startswith("===="):
        return lines[-1]
    return f"exit status {exit_code}"


def signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def die_with_parent(parent_pid):
    """preexec_fn: the child gets SIGKILL when its launcher dies (Linux), and gives up at once when the launcher
    died before this was set."""
    prctl = _prctl()
    if prctl is None:
        return None

    def arm():
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent_pid:
            os._exit(1)

    return arm


def _prctl():
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def end_leftovers(token):
    """SIGKILL every process of this machine whose environment carries the cell token `token` (what a killed
    launcher's cell left running); how many there were. Linux only (reads /proc)."""
    marker = f"{TOKEN_VARIABLE}={token}".encode()
    ended = 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                ended += 1
            except (ProcessLookupError, PermissionError):
                pass
    return ended


class interrupt_on_sigterm:
    """SIGTERM (a scheduler's, `kill`'s) stops the experiment as Ctrl-C does: the cells in flight are stopped and
    recorded (korsquad.experiments.launcher)."""

    def __enter__(self):
        self.previous = signal.signal(signal.SIGTERM, self.raise_interrupt)

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self.previous)

    @staticmethod
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt
