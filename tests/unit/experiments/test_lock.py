"""korsquad.experiments.lock: one holder at a time across processes, a lock whose holder was killed taken over with
a note naming it, and a holder on another machine (a shared file system whose locks stay local) respected while its
heartbeat is fresh."""

import json
import os
import signal
import subprocess
import sys
import time

from korsquad.experiments.lock import STALE_AFTER_S, CellLock, held_elsewhere

HOLD = """
import sys, time
from korsquad.experiments.lock import CellLock
lock = CellLock(sys.argv[1])
print(lock.acquire(), flush=True)
time.sleep(600)
"""


def holding_process(path):
    """A process that holds the lock at `path` (it printed True) until killed."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "True"
    return process


def test_a_lock_has_one_holder_and_a_killed_holders_lock_is_taken_over_with_a_note(tmp_path, capfd):
    path = tmp_path / "cells" / "a.lock"
    holder = holding_process(path)
    try:
        lock = CellLock(path)
        assert not lock.acquire()
        assert held_elsewhere(path).pid == holder.pid
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert held_elsewhere(path) is None  # the kernel released it with the process
    assert lock.acquire()
    assert lock.taken_over.pid == holder.pid
    err = capfd.readouterr().err
    assert f"took over the lock of pid {holder.pid} on " in err and "ended without releasing it" in err
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lock.release()
    assert path.read_text() == ""  # a free lock names no one: the next holder takes it without a note
    again = CellLock(path)
    assert again.acquire() and again.taken_over is None and "took over" not in capfd.readouterr().err
    again.release()


def test_a_holder_on_another_machine_counts_while_its_heartbeat_is_fresh(tmp_path, capfd):
    path = tmp_path / "b.lock"
    path.write_text(json.dumps({"host": "another-machine", "pid": 12, "token": "t", "since": "2026-01-01T00:00:00"}))
    lock = CellLock(path)
    assert not lock.acquire()
    assert held_elsewhere(path).host == "another-machine"
    stale = time.time() - STALE_AFTER_S - 5
    os.utime(path, (stale, stale))
    assert held_elsewhere(path) is None
    assert lock.acquire()
    assert "took over the lock of pid 12 on another-machine" in capfd.readouterr().err
    lock.heartbeat()
    assert time.time() - path.stat().st_mtime < 60
    lock.release()
