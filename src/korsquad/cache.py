"""On-disk feature cache: plain .npy arrays (no pickle, so loading cannot run code), verified before use.

A cache folder is keyed by a hash of the data files' content, the tokenizer's files and every feature parameter,
so a change in any of them builds anew, and the separate evaluation run finds the features training built.
Features are built in chunks of examples and merged into one memory-mapped array per column, so building
KorQuAD 2.x does not hold every feature in memory at once. A folder counts as complete only when its manifest,
written last, lists every file with its size and sha256; anything truncated or corrupt is rebuilt, never loaded.
"""

import hashlib
import json
import shutil
import tempfile
from dataclasses import fields
from pathlib import Path

import numpy as np

from .features import FeatureSet
from .jsonio import atomic_write_json

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def file_digest(path, chunk_size=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


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


def cache_key(data_files, tokenizer, params):
    """Key over the data files' bytes, the tokenizer's files and every feature parameter."""
    parts = {
        "format": FORMAT_VERSION,
        "data": [file_digest(p) for p in data_files],
        "tokenizer": tokenizer_digest(tokenizer),
        "params": params,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def load_features(folder):
    """The cached FeatureSet (arrays memory-mapped), or None when the folder is missing, incomplete or corrupt."""
    folder = Path(folder)
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
        return FeatureSet(**arrays)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_features(chunks, folder):
    """Write FeatureSet chunks (each over its own slice of examples, given as (first_example, FeatureSet))
    into `folder`, merging them column by column; the folder appears under its final name only when complete."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        parts = _write_chunks(chunks, work)
        _merge_chunks(parts, work)
        if folder.exists():
            shutil.rmtree(folder)
        work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _write_chunks(chunks, work):
    parts = []
    for number, (first_example, chunk) in enumerate(chunks):
        part = work / f"part{number:05d}"
        part.mkdir()
        for name, array in chunk.arrays().items():
            if name == "example_index":
                array = array + first_example
            np.save(part / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        parts.append(part)
    return parts


def _merge_chunks(parts, work):
    names = [f.name for f in fields(FeatureSet)]
    manifest = {"format": FORMAT_VERSION, "arrays": {}}
    for name in names:
        pieces = [np.load(part / f"{name}.npy", mmap_mode="r") for part in parts]
        merged = _concatenate_to_file(name, pieces, work / f"{name}.npy")
        manifest["arrays"][name] = {"size": merged.stat().st_size, "sha256": file_digest(merged)}
    for part in parts:
        shutil.rmtree(part)
    atomic_write_json(work / MANIFEST, manifest)


def _concatenate_to_file(name, pieces, path):
    """Concatenate chunk arrays into one .npy without holding them all in memory."""
    if name == "row_splits":  # per-chunk offsets restart at 0: shift each by the tokens before it
        total = sum(len(p) - 1 for p in pieces) + 1
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.int64, shape=(total,))
        out[0], pos, base = 0, 1, 0
        for piece in pieces:
            out[pos:pos + len(piece) - 1] = piece[1:] + base
            pos += len(piece) - 1
            base += int(piece[-1])
    else:
        dtype = pieces[0].dtype if pieces else np.int32
        out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(sum(len(p) for p in pieces),))
        pos = 0
        for piece in pieces:
            out[pos:pos + len(piece)] = piece
            pos += len(piece)
    out.flush()
    del out
    return path
