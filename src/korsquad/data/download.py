"""Download the official data set files: streamed, retried, resumed, verified, and renamed only when complete.

A file is fetched into `<final name>.part` in its final folder. An interrupted download resumes from there with
an HTTP Range request where the server answers 206 (206 Partial Content), and starts again where it does not. The
size and sha256 are checked where the registry knows them; only a verified file is renamed to its final name, so
the final name never holds a partial or wrong file. A file without a known checksum gets a small
`.<name>.verified` sidecar (size and sha256 at download time) so a later run recognizes it.

KorQuAD 2.x parts are zips, extracted into the split's folder by korsquad.data.zip_parts; the `.<zip name>.extracted`
marker, written here last and atomically, records that the part is complete, and the zip is then deleted.

What is fetched or skipped is said on stdout; retries and progress bars go to stderr. Every failure is a
UsageError with one line: the command-line tools exit with status 2.
"""

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass

import requests
from tqdm import tqdm

from ..common.errors import UsageError, exit_on_usage_error
from ..common.jsonio import atomic_write_json, file_digest, load_record
from .datasets import DEFAULT_DATA_DIR, REGISTRY, get_spec, names
from .zip_parts import extract_json_parts, is_extracted, marker_path, names_from_other_parts

CHUNK_BYTES = 1 << 16
USER_AGENT = "korsquad-download/1.0"
# Statuses that say "try again later"; any other 4xx/5xx will not change on a retry.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRYABLE_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError)
MAX_RETRY_WAIT = 60.0


@dataclass(frozen=True)
class DownloadOptions:
    timeout: float = 60.0  # seconds to connect, and seconds without a byte while reading
    retries: int = 4  # further attempts after the first one fails
    retry_wait: float = 1.0  # wait before retry k is retry_wait * 2**k seconds (capped at a minute)
    progress: bool = True  # a tqdm bar on stderr per file


class _Retryable(Exception):
    """A failed attempt that another attempt may fix (a dropped connection, a busy server)."""


def file_url(remote, mirror=None):
    """The official address, or `<mirror>/<last part of the official address>`."""
    if mirror is None:
        return remote.url
    if not re.match(r"https?://", mirror):
        raise UsageError(f"--mirror {mirror!r} must be an http:// or https:// address")
    return f"{mirror.rstrip('/')}/{remote.url.rsplit('/', 1)[-1]}"


def part_path(path):
    return path.with_name(path.name + ".part")


def sidecar_path(path):
    return path.with_name(f".{path.name}.verified")


def mismatch(path, remote):
    """Why `path` is not the file the registry describes, or None when its size and sha256 (where known) match."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        return f"size mismatch: got {size} bytes, expected {remote.size}"
    if remote.sha256 is not None:
        got = file_digest(path)
        if got != remote.sha256:
            return f"sha256 mismatch: got {got}, expected {remote.sha256}"
    return None


def is_verified(path, remote):
    """True when `path` is complete: it matches the registry's size+sha256, or (no checksum known) its sidecar."""
    if not path.is_file():
        return False
    if remote.sha256 is not None:
        return mismatch(path, remote) is None
    record = load_record(sidecar_path(path))
    return (record is not None and mismatch(path, remote) is None
            and record.get("size") == path.stat().st_size and record.get("sha256") == file_digest(path))


def _content_range(response):
    """(first byte, total) of a 206 or 416 answer's Content-Range; None for a part that is absent or unknown."""
    match = re.fullmatch(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", response.headers.get("Content-Range", "").strip())
    if not match:
        return None, None
    first, total = match.groups()
    return (int(first) if first else None), (int(total) if total != "*" else None)


def _offered_total(response, offset):
    """The full file size the server is sending (None when it does not say)."""
    if response.status_code == 206:
        total = _content_range(response)[1]
        if total is not None:
            return total
    length = response.headers.get("Content-Length")
    if length is None or not length.isdigit():
        return None
    return int(length) + (offset if response.status_code == 206 else 0)


def _attempt(session, url, part, expected_size, options):
    """One request: append the rest of the file to `part`. Returns True when it resumed a partial file."""
    offset = part.stat().st_size if part.exists() else 0
    if expected_size is not None and offset > expected_size:
        part.unlink()
        offset = 0
    if expected_size is not None and offset == expected_size:
        return True  # a previous run got every byte but stopped before verifying
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with session.get(url, headers=headers, stream=True, timeout=options.timeout) as response:
        if response.status_code == 416 and offset:
            if _content_range(response)[1] == offset:
                return True  # nothing after the partial file: it is the whole file
            part.unlink()
            raise _Retryable("the server refused to resume the partial file; starting again")
        resumed, total = _accept(response, url, part, offset, expected_size)
        _stream(response, part, offset if resumed else 0, total, options)
    return resumed


def _accept(response, url, part, offset, expected_size):
    """Check the answer's status and size: (whether it resumes at `offset`, the file's full size or None)."""
    status = response.status_code
    if status in RETRYABLE_STATUS:
        raise _Retryable(f"HTTP {status} {response.reason}")
    if status not in (200, 206):
        raise UsageError(f"{url}: HTTP {status} {response.reason}")
    if status == 206 and _content_range(response)[0] != offset:
        part.unlink(missing_ok=True)
        raise _Retryable("the server answered a different byte range; starting again")
    resumed = status == 206 and offset > 0
    total = _offered_total(response, offset if resumed else 0)
    if expected_size is not None and total is not None and total != expected_size:
        part.unlink(missing_ok=True)
        raise UsageError(f"{url}: size mismatch: the server offers {total} bytes, expected {expected_size}")
    return resumed, total


def _stream(response, part, start, total, options):
    """Write the body to `part` from byte `start` (0: a fresh file), with a progress bar on stderr."""
    with open(part, "ab" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=part.name[:-len(".part")],
            file=sys.stderr, disable=not options.progress) as bar:
        for chunk in response.iter_content(CHUNK_BYTES):
            out.write(chunk)
            bar.update(len(chunk))
    received = part.stat().st_size
    if total is not None and received != total:
        raise _Retryable(f"the connection closed after {received} of {total} bytes")


def _short(err):
    """A one-line reason: requests' messages repeat the URL and the connection pool's state around the cause."""
    text = " ".join(str(err).split())
    os_error = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    if os_error:
        return os_error.group(0).strip()
    wrapped = re.match(r"\('([^']*)'", text)  # ('Connection broken: IncompleteRead(...)', IncompleteRead(...))
    return wrapped.group(1) if wrapped else f"{type(err).__name__}: {text[:200]}"


def fetch(session, url, part, expected_size, options):
    """Stream `url` into `part`, resuming and retrying with exponential back-off. Returns True if it resumed."""
    last_error = None
    for attempt in range(options.retries + 1):
        if attempt:
            wait = min(options.retry_wait * 2 ** (attempt - 1), MAX_RETRY_WAIT)
            print(f"retrying {url} in {wait:g}s ({last_error})", file=sys.stderr)
            time.sleep(wait)
        try:
            return _attempt(session, url, part, expected_size, options)
        except _Retryable as err:
            last_error = str(err)
        except RETRYABLE_ERRORS as err:
            last_error = _short(err)
        except requests.RequestException as err:  # a malformed address: retrying cannot help
            raise UsageError(f"{url}: {_short(err)}") from None
        except OSError as err:  # requests' errors are OSErrors too, so this comes last: the disk, not the net
            raise UsageError(f"cannot write {part}: {err.strerror or err}") from None
    raise UsageError(f"could not download {url} after {options.retries + 1} attempts: {last_error}")


def download_file(session, url, path, remote, options):
    """Make `path` a verified copy of `remote` (fetched from `url`); a verified file is not fetched again."""
    if is_verified(path, remote):
        print(f"{path}: already downloaded and verified")
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create {path.parent}: {err.strerror or err}") from None
    part = part_path(path)
    print(f"downloading {url} -> {path}")
    resumed = fetch(session, url, part, remote.size, options)
    problem = mismatch(part, remote)
    if problem and resumed:  # the partial file may be from an older version of the file: start from zero once
        print(f"{url}: {problem} after resuming; downloading again from the start", file=sys.stderr)
        part.unlink()
        fetch(session, url, part, remote.size, options)
        problem = mismatch(part, remote)
    if problem:
        part.unlink()
        raise UsageError(f"{url}: {problem}; the download was removed")
    try:
        os.replace(part, path)
        if remote.sha256 is None:
            atomic_write_json(sidecar_path(path), {"url": url, "size": path.stat().st_size,
                                                   "sha256": file_digest(path)})
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def download_zip_part(session, url, zip_path, remote, options):
    """Download (unless already there) and extract one KorQuAD 2.x zip part, then delete the zip."""
    if is_extracted(zip_path, remote):
        print(f"{zip_path.name}: already downloaded and extracted")
        return
    download_file(session, url, zip_path, remote, options)
    members = extract_json_parts(zip_path, zip_path.parent, names_from_other_parts(zip_path))
    record = {"url": url, "size": zip_path.stat().st_size, "sha256": file_digest(zip_path), "members": members}
    try:
        atomic_write_json(marker_path(zip_path), record)  # last: only now is the part complete
        zip_path.unlink()
        sidecar_path(zip_path).unlink(missing_ok=True)
    except OSError as err:
        raise UsageError(f"cannot finish extracting {zip_path}: {err.strerror or err}") from None


def _new_session():
    session = requests.Session()
    # identity: byte sizes, Range offsets and checksums all refer to the file itself, not a gzip encoding of it.
    session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    return session


def download_dataset(spec, data_dir, mirror=None, splits=None, options=DownloadOptions(), session=None):
    """Download (and for KorQuAD 2.x extract) the files of `spec`; returns {split: spec.split_path(...)}.

    `splits` picks some of the spec's splits (default all); `mirror` replaces the official host.
    """
    available = list(dict.fromkeys(f.split for f in spec.files))
    splits = available if splits is None else list(splits)
    unknown = [s for s in splits if s not in available]
    if unknown:
        raise UsageError(f"--split {unknown[0]!r}: {spec.name} has {', '.join(available)}")
    own_session = session is None
    session = _new_session() if own_session else session
    try:
        for split in splits:
            for remote in spec.files_for(split):
                url, path = file_url(remote, mirror), spec.file_path(data_dir, remote)
                if remote.is_zip:
                    download_zip_part(session, url, path, remote, options)
                else:
                    download_file(session, url, path, remote, options)
    finally:
        if own_session:
            session.close()
    return {split: spec.split_path(data_dir, split) for split in splits}


def resolve_names(family, requested):
    """The data sets to fetch: those asked for (checked against the family), else the family's defaults."""
    family_names = names(family)
    if not requested:
        return [name for name in family_names if REGISTRY[name].download_by_default]
    for name in requested:
        if family is not None and get_spec(name).family != family:
            raise UsageError(f"--data_name {name!r} is not a {family} data set; choose from {', '.join(family_names)}")
    return list(dict.fromkeys(requested))


def build_parser(family, prog=None):
    family_names = names(family)
    defaults = resolve_names(family, None)
    parser = argparse.ArgumentParser(
        prog=prog, description=f"Download the {family or 'registered'} data sets into "
                               "DOWNLOAD_DIR/<data_name>/, verified.")
    parser.add_argument("--download_dir", default=DEFAULT_DATA_DIR,
                        help="where the data sets land (default %(default)s)")
    parser.add_argument("--data_name", nargs="+", metavar="NAME",
                        help=f"any of {', '.join(family_names)} (default: {', '.join(defaults)})")
    parser.add_argument("--split", nargs="+", metavar="SPLIT", help="only these splits, e.g. dev (default: all)")
    parser.add_argument("--mirror", metavar="URL",
                        help="fetch every file from URL/<file name> instead of the official host")
    parser.add_argument("--retries", type=int, default=DownloadOptions.retries,
                        help="further attempts after a failed one (default %(default)s)")
    parser.add_argument("--retry_wait", type=float, default=DownloadOptions.retry_wait,
                        help="seconds before the first retry, doubled each time (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=DownloadOptions.timeout,
                        help="seconds to connect and seconds without data before an attempt fails "
                             "(default %(default)s)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars on stderr")
    return parser


@exit_on_usage_error
def main(argv=None):
    """`korsquad download`: any registered data set (--data_name), by default those that every family's script
    fetches by default."""
    return run_cli(None, argv, "korsquad download")


def run_cli(family, argv=None, prog=None):
    """The body of download_squad.py / download_korquad.py; prints where each split landed."""
    args = build_parser(family, prog).parse_args(argv)
    if args.retries < 0 or args.retry_wait < 0 or args.timeout <= 0:
        raise UsageError("--retries and --retry_wait must be >= 0 and --timeout > 0")
    options = DownloadOptions(args.timeout, args.retries, args.retry_wait, not args.no_progress)
    for name in resolve_names(family, args.data_name):
        landed = download_dataset(get_spec(name), args.download_dir, args.mirror, args.split, options)
        for split, path in landed.items():
            print(f"{name} {split}: {path}")
    return 0
