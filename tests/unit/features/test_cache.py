"""Feature cache: verified loads, builders racing on one folder (as the nodes of a run on a shared file system), and
a key that covers the code that builds features."""

import threading

import numpy as np
import pytest
from conftest import ROOT
from source_imports import reached

from korsquad.features import cache
from korsquad.features.cache import CacheError, cached_features, load_features, save_features
from korsquad.features.featureset import FeatureSet


def example_features(n_examples, first_length=3):
    """One feature per example, example i with first_length + i tokens; example_index counted from 0."""
    lengths = np.arange(n_examples) + first_length
    row_splits = np.concatenate([[0], np.cumsum(lengths)])
    n_tokens = int(row_splits[-1])
    return FeatureSet.from_arrays({
        "example_index": np.arange(n_examples), "row_splits": row_splits,
        "input_ids": np.arange(n_tokens) + first_length, "token_type_ids": np.zeros(n_tokens, dtype=np.int8),
        "char_start": np.arange(n_tokens), "char_end": np.arange(n_tokens) + 1,
        "max_context": np.ones(n_tokens, dtype=bool), "cls_index": np.zeros(n_examples, dtype=np.int32),
        "start_positions": np.ones(n_examples, dtype=np.int32), "end_positions": lengths - 1,
    })


def two_chunks(first_length=3, pause=None):
    """Examples 0-1 and 2-4 as two chunks; `pause()` runs between them (to hold a builder mid-build)."""
    yield 0, example_features(2, first_length)
    if pause:
        pause()
    yield 2, example_features(3, first_length)


def assert_same(features, expected):
    for name, array in expected.arrays().items():
        np.testing.assert_array_equal(getattr(features, name), array, err_msg=name)


def leftovers(folder):
    """Everything beside the final folder: work folders and folders moved aside."""
    return sorted(p.name for p in folder.parent.iterdir() if p != folder)


@pytest.fixture
def expected(tmp_path):
    folder = tmp_path / "reference"
    save_features(two_chunks(), folder)
    return load_features(folder)


def test_chunks_merge_into_one_set_with_example_indices_counted_from_the_first_chunk(expected):
    np.testing.assert_array_equal(expected.example_index, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(expected.lengths, [3, 4, 3, 4, 5])
    assert not expected.input_ids.flags.owndata  # mapped from the file, not read into memory


def test_columns_that_fail_featuresets_check_are_not_loaded(tmp_path):
    """The manifest's hashes match, yet a start position points past its feature: from_arrays rejects it."""
    bad = example_features(2).arrays()
    bad["start_positions"] = np.asarray([1, 99], dtype=np.int32)
    folder = tmp_path / "cache" / "train-key"
    save_features([(0, FeatureSet(**bad))], folder)
    assert (folder / cache.MANIFEST).exists()
    assert load_features(folder) is None


def test_features_that_do_not_load_back_after_building_raise(tmp_path):
    bad = example_features(2).arrays()
    bad["cls_index"] = np.asarray([0, -1], dtype=np.int32)
    with pytest.raises(CacheError, match="do not load back"):
        cached_features(tmp_path / "train-key", lambda: [(0, FeatureSet(**bad))])


def test_a_complete_folder_is_loaded_without_building(tmp_path, expected):
    folder = tmp_path / "cache" / "train-key"
    save_features(two_chunks(), folder)
    assert_same(cached_features(folder, build=pytest.fail), expected)


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "no manifest"])
def test_a_corrupt_or_incomplete_folder_is_rebuilt(tmp_path, expected, damage):
    folder = tmp_path / "cache" / "train-key"
    save_features(two_chunks(), folder)
    if damage == "flip a byte":
        data = bytearray((folder / "input_ids.npy").read_bytes())
        data[-1] ^= 1
        (folder / "input_ids.npy").write_bytes(bytes(data))
    elif damage == "truncate":
        (folder / "char_end.npy").write_bytes((folder / "char_end.npy").read_bytes()[:-4])
    else:
        (folder / cache.MANIFEST).unlink()
    assert load_features(folder) is None
    assert_same(cached_features(folder, two_chunks), expected)
    assert leftovers(folder) == []


def test_a_second_builder_keeps_the_complete_folder_a_reader_has_mapped(tmp_path, expected):
    folder = tmp_path / "cache" / "train-key"
    save_features(two_chunks(), folder)
    reader = load_features(folder)
    inodes = {p.name: p.stat().st_ino for p in [folder, *folder.iterdir()]}
    save_features(two_chunks(), folder)  # lost the race: finds the folder complete
    save_features(two_chunks(), folder, replace=True)  # --overwrite_cache with the same content
    assert {p.name: p.stat().st_ino for p in [folder, *folder.iterdir()]} == inodes
    assert_same(reader, expected)
    assert leftovers(folder) == []


def test_overwrite_replaces_a_folder_of_other_content_by_moving_it_aside(tmp_path, expected):
    folder = tmp_path / "cache" / "train-key"
    save_features(two_chunks(first_length=6), folder)
    reader = load_features(folder)
    old_ids = np.array(reader.input_ids)
    save_features(two_chunks(), folder, replace=True)
    assert_same(load_features(folder), expected)
    np.testing.assert_array_equal(reader.input_ids, old_ids)  # a local mapping outlives the deleted file
    assert leftovers(folder) == []


def test_discard_puts_back_a_folder_another_builder_swapped_in(tmp_path, expected):
    """Between checking a corrupt folder and moving it aside, another builder may have installed a complete
    one (another inode): that one must go back, not be deleted."""
    folder = tmp_path / "cache" / "train-key"
    save_features(two_chunks(), folder)
    inode = folder.stat().st_ino
    cache._discard(folder, inode + 1)  # the inode seen at the check: not this folder's
    assert folder.stat().st_ino == inode
    assert_same(load_features(folder), expected)
    assert leftovers(folder) == []


@pytest.mark.parametrize("start", ["empty", "corrupt"])
def test_racing_builders_end_with_one_complete_folder(tmp_path, expected, start):
    """Two builders of the same folder, each held mid-build until both have a work folder of their own."""
    folder = tmp_path / "cache" / "train-key"
    if start == "corrupt":
        save_features(two_chunks(first_length=6), folder)
        (folder / "row_splits.npy").write_bytes(b"garbage")
    barrier = threading.Barrier(2, timeout=20)
    work_folders = []

    def pause():
        barrier.wait()
        work_folders.append(len([p for p in leftovers(folder) if ".work." in p]))

    results, errors = [None, None], []

    def builder(i):
        try:
            results[i] = cached_features(folder, lambda: two_chunks(pause=pause))
        except BaseException as err:  # reported below, from the test's own thread
            errors.append(err)

    threads = [threading.Thread(target=builder, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert work_folders[0] == 2  # both were building at once
    for features in results:
        assert_same(features, expected)
    assert leftovers(folder) == []


# ---- the key: the code that builds features is part of it -----------------------------------------------------
def test_the_code_fingerprint_changes_with_any_feature_module_and_the_tokenizer_libraries():
    sources = {name: f"# {name}\n".encode() for name in cache.FEATURE_MODULES}
    versions = {"tokenizers": "0.22.2", "transformers": "4.57.6"}
    base = cache.code_fingerprint(sources, versions)
    for name in cache.FEATURE_MODULES:
        assert cache.code_fingerprint(dict(sources, **{name: sources[name] + b"x = 1\n"}), versions) != base, name
    assert cache.code_fingerprint(sources, dict(versions, transformers="4.58.0")) != base
    assert cache.installed_code_fingerprint() == cache.installed_code_fingerprint()  # read once, stable


def test_a_cache_built_by_other_feature_code_is_rebuilt_not_reused(tmp_path, bert_pair, monkeypatch):
    from conftest import FIXTURES, data_dir_with

    from korsquad.data.datasets import get_spec
    from korsquad.runs.settings import WindowSettings
    from korsquad.training.datamodule import QADataModule

    data_dir = data_dir_with(tmp_path, "squad_v1.1", dev=FIXTURES / "squad_v1_tiny.json")

    def prepared():
        dm = QADataModule(get_spec("squad_v1.1"), bert_pair[1], train=False, eval_split="dev", data_dir=data_dir,
                          window=WindowSettings(max_seq_length=64, doc_stride=32, max_query_length=16),
                          batch_size=4, eval_batch_size=4,
                          seed=0, negative_window_ratio=None, max_eval_samples=3)
        dm.prepare_data()
        return dm.cache_folder("dev")

    old = prepared()
    monkeypatch.setattr(cache, "installed_code_fingerprint", lambda: "the fingerprint of other code")
    built = []
    save = cache.save_features
    monkeypatch.setattr(cache, "save_features", lambda *a, **k: built.append(a[1]) or save(*a, **k))
    new = prepared()
    assert new != old and built == [new] and (new / cache.MANIFEST).is_file()


# Modules that building features reaches but that decide nothing of a feature's value, and why.
NOT_FEATURE_CODE = {
    "common.errors": "error messages",
    "common.flags": "flag spellings in error messages",
    "common.jsonio": "reading files, whose bytes are part of the key",
    "features.model_types": "which tokenizer class loads: the tokenizer's class and files are part of the key",
}


def test_the_code_fingerprint_covers_every_module_that_building_features_reaches():
    """Every module that build_features (windows, readers and what they import, inside functions too) runs is in
    FEATURE_MODULES, by its path in the package: moving or renaming one, or putting feature code in a new module,
    fails here instead of leaving the fingerprint blind to it."""
    root = ROOT / "src" / "korsquad"
    building = {name.removeprefix("korsquad.") for name in reached("korsquad.features.windows", root)}
    building -= {"korsquad"} | {name for name in building if "." not in name}  # the package faces
    assert sorted(building - set(NOT_FEATURE_CODE)) == sorted(cache.FEATURE_MODULES)
    for name in cache.FEATURE_MODULES:
        assert (root / f"{name.replace('.', '/')}.py").is_file(), name
