"""On-disk feature cache: plain .npy arrays (no pickle, so loading cannot run code), verified before use.

A cache folder is keyed by a hash of the data files' content, the tokenizer's files, every feature parameter, the
source of the modules that build features and the tokenizers/transformers versions (the way Hugging Face
`datasets` fingerprints its transforms), so a change in any of them builds anew (a cache of older code is never
reused), and the separate evaluation run finds the features training built.
Features are built in chunks of examples and merged into one memory-mapped array per column, so building
KorQuAD 2.x does not hold every feature in memory at once. A folder counts as complete only when its manifest,
written last, lists every file with its size and sha256; anything truncated or corrupt is rebuilt, never loaded.
Several builders of one folder (a process per node on a shared file system) never write into the same folder, and
a complete folder, which another process may have memory-mapped, is never deleted in favour of an equal one.
"""

import errno
import functools
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..common.jsonio import atomic_write_json, file_digest, ordinary_folder_mode
from .featureset import FeatureSet

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# The modules whose code decides the features: reading examples, mapping HTML to text, tokenizing with offsets (fast
# or aligned for slow tokenizers), the feature columns, the pair layout, building windows and labels. Their source
# is part of the cache key; each is named by its path in the package (korsquad.<name>).
FEATURE_MODULES = ("data.readers", "data.html_text", "data.codepoints", "features.tokenization",
                   "features.slow_alignment", "features.featureset", "features.pair_layout", "features.windows")


def tokenizer_digest(tokenizer):
    """Hash of the files the tokenizer saves, without the path it happened to be loaded from."""
    digest = hashlib.sha256(type(tokenizer).__name__.encode())
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        for path in sorted(Path(tmp).iterdir()):
            data = path.read_bytes()
            if path.suffix == ".json":
                data = _without_paths(data)
            digest.update(path.name.encode() + b"\0" + data)
    return digest.hexdigest()


def _without_paths(data):
    try:
        obj = json.loads(data)
    except ValueError:
        return data
    if isinstance(obj, dict):
        obj.pop("name_or_path", None)
        obj.pop("tokenizer_file", None)
    return json.dumps(obj, sort_keys=True).encode()


def code_fingerprint(sources, versions):
    """Hash of the feature-building code: {module name: source bytes} and {library: version}."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name] + b"\0")
    digest.update(json.dumps(versions, sort_keys=True).encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def installed_code_fingerprint():
    """code_fingerprint of this installation: FEATURE_MODULES' source files and the tokenizer libraries."""
    import tokenizers
    import transformers

    package = Path(__file__).resolve().parents[1]  # src/korsquad: the names are relative to it
    sources = {name: (package / f"{name.replace('.', '/')}.py").read_bytes() for name in FEATURE_MODULES}
    return code_fingerprint(sources, {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__})


def cache_key(data_files, tokenizer, window, params):
    """Key over the data files' bytes, the tokenizer's files, the window settings (a settings.WindowSettings), every
    other feature parameter and the code that builds features."""
    parts = {
        "format": FORMAT_VERSION,
        "data": [file_digest(p) for p in data_files],
        "tokenizer": tokenizer_digest(tokenizer),
        "params": dict(window.as_dict(), **params),
        "code": installed_code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


class CacheError(RuntimeError):
    """Features were built, but their cache folder does not load back."""


def cached_features(folder, build, rebuild=False):
    """The FeatureSet cached in `folder`, first built from `build()` (an iterable of (first_example, FeatureSet)
    chunks) when the folder is missing, incomplete or corrupt, or when `rebuild` (--overwrite_cache) is set.
    Never None: features that do not load back after building raise CacheError."""
    folder = Path(folder)
    features = None if rebuild else load_features(folder)
    if features is None:
        save_features(build(), folder, replace=rebuild)
        features = load_features(folder)
    if features is None:
        raise CacheError(f"{folder}: the features were just built but do not load back (disk full, or columns that "
                         "fail FeatureSet's consistency check); remove the folder and run again")
    return features


def load_features(folder):
    """The cached FeatureSet (arrays memory-mapped), or None when the folder is missing, incomplete or corrupt."""
    loaded = _load(Path(folder))
    return None if loaded is None else loaded[1]


def _load(folder):
    """(manifest, FeatureSet) of a complete folder: every file of the manifest with its size and sha256, and
    columns that pass FeatureSet's own checks. None otherwise."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        if manifest.get("format") != FORMAT_VERSION:
            return None
        arrays = {}
        for name, entry in manifest["arrays"].items():
            path = folder / f"{name}.npy"
            if path.stat().st_size != entry["size"] or file_digest(path) != entry["sha256"]:
                return None
            arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
        return manifest, FeatureSet.from_arrays(arrays)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_features(chunks, folder, replace=False):
    """Write FeatureSet chunks (each over its own slice of examples, given as (first_example, FeatureSet))
    into `folder`, merging them column by column.

    Several processes (one per node on a shared file system) may build the same folder at once: each builds in a
    work folder of its own and renames it into place, atomically. When `folder` already holds a complete cache
    (another builder was first), that one is kept, since others may have it memory-mapped, and the work folder is
    deleted. `replace` keeps it only when its content is the new build's; anything else is moved aside and
    replaced."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.work."))
    try:
        os.chmod(work, ordinary_folder_mode())  # mkdtemp's 0o700 would keep the cache from the user's group
        manifest = _merge_chunks(_write_chunks(chunks, work), work)
        installed = _install(work, folder, manifest if replace else None)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if not installed:
        shutil.rmtree(work)


def _install(work, folder, new_manifest):
    """Rename `work` to `folder`: True when done, False when `folder` is a complete cache to keep instead (of the
    same content as `new_manifest`, when given)."""
    while True:
        try:
            os.rename(work, folder)  # atomic; fails when another folder already holds the name
            return True
        except OSError as err:
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        try:
            inode = folder.stat().st_ino  # taken before the check, to notice a folder swapped in meanwhile
        except FileNotFoundError:
            continue  # another builder moved it aside: try the rename again
        existing = _load(folder)
        if existing is not None and (new_manifest is None or existing[0] == new_manifest):
            return False
        _discard(folder, inode)


def _discard(folder, inode):
    """Remove the incomplete or stale folder `folder` whose inode was `inode`: renamed aside first, so that no
    process ever finds a half-deleted folder under the final name. When another builder installed a complete folder
    between our check and the rename (another inode), that one goes back in place and nothing is deleted."""
    aside = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old."))
    try:
        os.rename(folder, aside)  # replaces the empty placeholder mkdtemp made
    except FileNotFoundError:  # another builder moved it aside first
        aside.rmdir()
        return
    if aside.stat().st_ino == inode:
        shutil.rmtree(aside)
        return
    try:
        os.rename(aside, folder)
    except OSError:
        pass  # a third folder took the name: leave this complete one aside, readers may still have it mapped


def _write_chunks(chunks, work):
    """Save each (first_example, FeatureSet) chunk in a part folder of its own: [(part, first_example)]."""
    parts = []
    for number, (first_example, chunk) in enumerate(chunks):
        part = work / f"part{number:05d}"
        part.mkdir()
        for name, array in chunk.arrays().items():
            np.save(part / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        parts.append((part, first_example))
    return parts


def _merge_chunks(parts, work):
    """Join the parts column by column (FeatureSet.join_column) into one memory-mapped .npy file per column."""
    manifest = {"format": FORMAT_VERSION, "arrays": {}}
    first_examples = [first for _, first in parts]
    for name in FeatureSet.DTYPES:
        path = work / f"{name}.npy"
        pieces = [np.load(part / f"{name}.npy", mmap_mode="r") for part, _ in parts]
        merged = FeatureSet.join_column(name, pieces, first_examples, functools.partial(_open_column, path))
        merged.flush()
        del merged  # unmapped before the next column: one column in memory at a time
        manifest["arrays"][name] = {"size": path.stat().st_size, "sha256": file_digest(path)}
    for part, _ in parts:
        shutil.rmtree(part)
    atomic_write_json(work / MANIFEST, manifest)
    return manifest


def _open_column(path, length, dtype):
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(length,))
