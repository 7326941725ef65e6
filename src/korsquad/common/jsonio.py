"""Files on disk: reading JSON with errors that name the file, writes that never leave a half-written file,
the sha256 of a file's bytes, and the modes the user's umask gives new files and folders."""

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from .errors import UsageError


def load_json(path):
    """Parse a JSON file; a missing or malformed file raises UsageError naming it."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: file not found")
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not valid JSON ({err})") from None


def load_record(path):
    """The JSON object a file holds, or None when it is missing, unreadable or not an object (a marker or sidecar
    this project wrote, which a crash may have left out)."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def jsonl_objects(lines, name):
    """(line number, object) of each non-blank line of a JSON Lines stream, read as it streams; a line that is not
    one JSON object raises UsageError naming `name` and the line."""
    number = 0
    try:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise UsageError(f"{name}: line {number}: not valid JSON ({err.msg}, column {err.colno})") from None
            if not isinstance(record, dict):
                raise UsageError(f"{name}: line {number}: expected one JSON object per line")
            yield number, record
    except UnicodeDecodeError as err:
        raise UsageError(f"{name}: line {number + 1}: not UTF-8 text ({err.reason})") from None


def umask():
    """The process's umask, read without changing it where Linux shows it (/proc/self/status), else by setting and
    restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def ordinary_file_mode():
    """The mode open(path, "w") gives a new file: 0o666 less the umask (0o644 under umask 022, 0o600 under 077)."""
    return 0o666 & ~umask()


def ordinary_folder_mode():
    """The mode os.mkdir gives a new folder: 0o777 less the umask."""
    return 0o777 & ~umask()


@contextlib.contextmanager
def atomic_file(path, mode="wb", encoding=None):
    """A file open for writing under a temporary name in `path`'s folder: fsynced and renamed over `path` when the
    block ends, removed (and `path` left as it was) when the block raises. The file gets the mode an ordinary
    open(path, "w") would give it (mkstemp's own is 0o600, whatever the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            os.chmod(f.fileno(), ordinary_file_mode())
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data):
    with atomic_file(path) as f:
        f.write(data)


def atomic_write_json(path, obj, indent=2):
    text = json.dumps(obj, ensure_ascii=False, indent=indent) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def file_digest(path, chunk_size=1 << 20):
    """sha256 of a file's bytes (what `sha256sum` prints), read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def write_json_lines(objects, output):
    """`objects` as JSON Lines (one object a line, as they come) to stdout, or to the file `output`, written
    atomically: it appears, complete, only once every object is written."""
    if output is None:
        for obj in objects:
            sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    with atomic_file(output, "w", encoding="utf-8") as f:
        for obj in objects:
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
