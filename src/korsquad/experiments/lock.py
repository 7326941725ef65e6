"""One cell, one trainer: a lock per cell that two launchers, workers or machines respect, and that a killed
process does not leave behind for ever.

The lock is an flock(2) on `<state_dir>/<cell>.lock`: the kernel (or, on NFS, the server's lock manager: Linux maps
flock to its byte-range locks there) releases it when the process that holds it dies, whatever killed it. The file
also names its holder (host, pid, a token its processes carry in their environment, since when), and the holder
touches it every HEARTBEAT_S seconds:
- a lock file that still names a holder once the lock is free was left by a process that ended without releasing
  it: it is taken over, with a note naming the dead holder (and its leftover processes on this machine are ended:
  korsquad.experiments.runner);
- on a shared file system whose locks do not reach other machines (Lustre's localflock, some FUSE file systems),
  a holder on another machine whose heartbeat is younger than STALE_AFTER_S still counts as holding the lock.

Within one process a held lock is never opened a second time (NFS's byte-range locks are released by closing any
descriptor of the file in the process that holds them): the launcher knows the cells it runs.
"""

import dataclasses
import errno
import fcntl
import json
import os
import socket
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from ._toolkit import UsageError

HEARTBEAT_S = 60
STALE_AFTER_S = 10 * 60


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock: what its file says."""

    host: str
    pid: int
    token: str
    since: str

    @classmethod
    def me(cls):
        return cls(socket.gethostname(), os.getpid(), uuid.uuid4().hex,
                   datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @classmethod
    def parse(cls, text):
        try:
            data = json.loads(text)
            return cls(str(data["host"]), int(data["pid"]), str(data["token"]), str(data["since"]))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self):
        return f"pid {self.pid} on {self.host} since {self.since}"

    @property
    def on_this_host(self):
        return self.host == socket.gethostname()


class CellLock:
    """The lock of one cell. `acquire()` never waits: False when another process holds it."""

    def __init__(self, path):
        self.path = Path(path)
        self.fd = None
        self.holder = None  # this process's Holder while it holds the lock
        self.taken_over = None  # the Holder of a stale lock this process took over

    @classmethod
    def of(cls, cell):
        return cls(cell.state_dir / f"{cell.name}.lock")

    def acquire(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not try_flock(fd, fcntl.LOCK_EX, self.path):
            os.close(fd)
            return False
        previous = Holder.parse(read_all(fd))
        if previous is not None and not previous.on_this_host and heartbeat_age(fd) < STALE_AFTER_S:
            os.close(fd)  # held on a machine whose locks this file system does not share
            return False
        self.fd, self.holder = fd, Holder.me()
        write_all(fd, json.dumps(dataclasses.asdict(self.holder)))
        if previous is not None:
            self.taken_over = previous
            print(f"note: {self.path}: took over the lock of {previous.describe()}, which ended without "
                  "releasing it", file=sys.stderr)
        return True

    def heartbeat(self):
        if self.fd is not None:
            os.utime(self.fd)

    def release(self):
        """Empty the file (a free lock names no one), then unlock. The file stays: removing it would let a process
        that opened it just before lock a file no one else sees."""
        if self.fd is None:
            return
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = self.holder = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def held_elsewhere(path):
    """The Holder of the lock at `path` when another process (here or on another machine) holds it, else None.
    Never creates the file; never call it for a lock this process holds."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        holder = Holder.parse(read_all(fd))
        if not try_flock(fd, fcntl.LOCK_SH, path, tries=1):
            return holder or Holder("?", 0, "", "?")
        fcntl.flock(fd, fcntl.LOCK_UN)
        if holder is not None and not holder.on_this_host and heartbeat_age(fd) < STALE_AFTER_S:
            return holder
        return None
    finally:
        os.close(fd)


def try_flock(fd, kind, path, tries=3):
    """flock without waiting, tried a few times a tenth of a second apart (another process may hold the lock only
    to look at it); a file system without locks is one UsageError."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < tries:
                time.sleep(0.1)
        except OSError as err:
            if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise UsageError(f"{path}: this file system cannot lock files ({os.strerror(err.errno)}); put the "
                                 "experiment's output_dir on one that can") from None
            raise
    return False


def heartbeat_age(fd):
    return time.time() - os.fstat(fd).st_mtime


def read_all(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def write_all(fd, text):
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    data = text.encode("utf-8")
    while data:
        data = data[os.write(fd, data):]
    os.fsync(fd)

