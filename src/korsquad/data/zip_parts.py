"""KorQuAD 2.x zip parts: every member checked before anything is written, the JSON members extracted flat into the
split's folder, and the completion marker that says a part is whole.

A member with an absolute path, a `..` or a symlink refuses the whole zip; the JSON members (not folders, not macOS
metadata) land flat in the split folder, where the readers look for `*.json`, each through a hidden temporary name,
so a failure leaves no half-written part. `.<zip name>.extracted`, written last by korsquad.data.download, lists the
members and their sizes: a folder with JSON parts but no marker is extracted again.
"""

import os
import re
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ..common.errors import UsageError
from ..common.jsonio import load_record


def marker_path(zip_path):
    return zip_path.with_name(f".{zip_path.name}.extracted")


def _is_unsafe(info):
    name = info.filename.replace("\\", "/")
    is_symlink = stat.S_ISLNK(info.external_attr >> 16)
    return (is_symlink or name.startswith("/") or re.match(r"[A-Za-z]:", name) is not None
            or ".." in name.split("/"))


def _is_json_part(info):
    """A JSON member, not a folder nor macOS metadata (`__MACOSX/`, `._name.json`)."""
    path = PurePosixPath(info.filename.replace("\\", "/"))
    return (not info.is_dir() and path.suffix == ".json" and "__MACOSX" not in path.parts
            and not path.name.startswith("._"))


def json_members(archive, zip_path, taken=None):
    """{file name in the split folder: ZipInfo} of the JSON members, after checking every member is safe.

    `taken` maps the names already extracted from other parts to their zip: a part must not overwrite them.
    """
    taken = taken or {}
    members = {}
    for info in archive.infolist():
        if _is_unsafe(info):
            raise UsageError(f"{zip_path}: unsafe member {info.filename!r} (absolute path, '..' or symlink); "
                             f"nothing was extracted")
        if _is_json_part(info):
            name = PurePosixPath(info.filename.replace("\\", "/")).name
            if name in members:
                raise UsageError(f"{zip_path}: two members are named {name!r}; nothing was extracted")
            if name in taken:
                raise UsageError(f"{zip_path}: member {name!r} would overwrite the part extracted from "
                                 f"{taken[name]}; nothing was extracted")
            members[name] = info
    if not members:
        raise UsageError(f"{zip_path}: holds no *.json part")
    return members


def extract_json_parts(zip_path, dest_dir, taken=None):
    """Extract the JSON members of `zip_path` flat into `dest_dir`; returns {file name: size}.

    Each member goes to a hidden temporary name first and all are renamed once every one is complete, so a failure
    leaves no half-written JSON part (the readers read every `*.json` in the folder).
    """
    dest_dir = Path(dest_dir)
    written = []
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = json_members(archive, zip_path, taken)
            needed = sum(info.file_size for info in members.values())
            free = shutil.disk_usage(dest_dir).free
            if needed > free:
                raise UsageError(f"{zip_path}: extracting needs {needed} bytes, {dest_dir} has {free} free")
            for name, info in members.items():
                tmp = dest_dir / f".{name}.tmp"
                written.append(tmp)
                with archive.open(info) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
        for name in members:
            os.replace(dest_dir / f".{name}.tmp", dest_dir / name)
        return {name: (dest_dir / name).stat().st_size for name in members}
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise UsageError(f"{zip_path}: not a valid zip archive ({err}); delete it and run again") from None
    except OSError as err:
        raise UsageError(f"cannot extract {zip_path} into {dest_dir}: {err.strerror or err}") from None
    finally:
        for tmp in written:
            tmp.unlink(missing_ok=True)


def is_extracted(zip_path, remote):
    """True when the marker of this part says extraction finished and every JSON part it lists is there."""
    record = load_record(marker_path(zip_path))
    if record is None or not isinstance(record.get("members"), dict):
        return False
    for key in ("size", "sha256"):
        if getattr(remote, key) is not None and record.get(key) != getattr(remote, key):
            return False
    folder = zip_path.parent
    return all((folder / name).is_file() and (folder / name).stat().st_size == size
               for name, size in record["members"].items())


def names_from_other_parts(zip_path):
    """{JSON file name: zip name} recorded by the markers of the other parts in the same folder."""
    taken = {}
    for marker in zip_path.parent.glob(".*.extracted"):
        record = load_record(marker)
        if marker != marker_path(zip_path) and record and isinstance(record.get("members"), dict):
            taken.update(dict.fromkeys(record["members"], marker.name[1:-len(".extracted")]))
    return taken
