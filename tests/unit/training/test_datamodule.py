"""The data module without a Trainer: what setup builds from the data files, what its loaders serve, and the
feature cache it reuses."""

import numpy as np
import pytest
from conftest import FIXTURES, data_dir_with

from korsquad.data.datasets import get_spec
from korsquad.data.readers import read_examples
from korsquad.features.batching import FeatureBatcher
from korsquad.features.tokenization import load_tokenizer
from korsquad.features.windows import build_features
from korsquad.runs.settings import WindowSettings
from korsquad.training import datamodule
from korsquad.training.datamodule import QADataModule

SPEC = get_spec("squad_v1.1")
TRAIN = FIXTURES / "squad_v1_tiny.json"
DEV = FIXTURES / "squad_tiny.json"  # SQuAD 2.0 questions, read as 1.1 evaluation reads them
WINDOW = WindowSettings(max_seq_length=96, doc_stride=32, max_query_length=24)  # several windows per paragraph


@pytest.fixture(scope="module")
def tokenizer(tiny_bert):
    return load_tokenizer("bert", str(tiny_bert))


def data_module(tokenizer, data_dir, **changed):
    params = dict(train=True, eval_split="dev", data_dir=data_dir, window=WINDOW, batch_size=4, eval_batch_size=8,
                  seed=3, negative_window_ratio=1.0)
    return QADataModule(SPEC, tokenizer, **dict(params, **changed))


def set_up(dm):
    dm.prepare_data()
    dm.setup("fit")
    return dm


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return data_dir_with(tmp_path_factory.mktemp("datamodule"), "squad_v1.1", train=TRAIN, dev=DEV)


@pytest.fixture(scope="module")
def prepared(tokenizer, data_dir):
    return set_up(data_module(tokenizer, data_dir))


def same_features(a, b):
    return all(np.array_equal(getattr(b, name), array) for name, array in a.arrays().items())


def test_setup_builds_each_splits_features_from_its_file(prepared, tokenizer, data_dir):
    for split, path, training in (("train", TRAIN, True), ("dev", DEV, False)):
        examples = read_examples(path, SPEC, training=training)
        assert prepared.examples[split] == examples
        assert same_features(prepared.features[split], build_features(examples, tokenizer, WINDOW, training=training))
        folder = prepared.cache_folder(split)
        assert folder.parent == data_dir / "squad_v1.1" / "cache" and (folder / "manifest.json").is_file()
    assert prepared.eval_data() == (prepared.examples["dev"], prepared.features["dev"])


def test_training_batches_serve_every_feature_once_an_epoch(prepared):
    features = prepared.features["train"]
    batches = list(prepared.train_dataloader())
    served = np.concatenate([batch["feature_index"].numpy() for batch in batches])
    assert sorted(served.tolist()) == list(range(len(features)))
    assert all(len(batch["feature_index"]) == 4 for batch in batches[:-1])
    for batch in batches:
        width = batch["input_ids"].shape[1]
        assert width % 8 == 0 and width <= WINDOW.max_seq_length
        assert batch["token_type_ids"].shape == batch["attention_mask"].shape == batch["input_ids"].shape
        assert batch["attention_mask"].sum(1).tolist() == features.lengths[batch["feature_index"].numpy()].tolist()


def test_evaluation_batches_are_length_sorted_and_serve_every_feature_once(prepared):
    features = prepared.features["dev"]
    batches = list(prepared.val_dataloader())
    served = np.concatenate([batch["feature_index"].numpy() for batch in batches])
    assert sorted(served.tolist()) == list(range(len(features)))
    assert all(len(batch["feature_index"]) <= 8 for batch in batches)
    assert np.all(np.diff(features.lengths[served]) <= 0)  # longest first: little padding
    assert max(batch["input_ids"].shape[1] for batch in batches) == WINDOW.max_seq_length


def test_a_second_setup_reuses_the_cache(prepared, tokenizer, data_dir, monkeypatch):
    monkeypatch.setattr(datamodule, "build_features", lambda *a, **k: pytest.fail("features built again"))
    again = set_up(data_module(tokenizer, data_dir))
    for split in ("train", "dev"):
        assert again.cache_folder(split) == prepared.cache_folder(split)
        assert same_features(prepared.features[split], again.features[split])


def test_other_settings_build_other_features_beside_the_cached_ones(prepared, tokenizer, data_dir):
    fewer = set_up(data_module(tokenizer, data_dir, max_train_samples=5, train=True))
    assert fewer.cache_folder("train") != prepared.cache_folder("train")
    assert fewer.cache_folder("dev") == prepared.cache_folder("dev")
    first_five = prepared.features["train"].select_examples(0, 5)
    assert len(fewer.examples["train"]) == 5 and same_features(first_five, fewer.features["train"])
    assert prepared.cache_folder("train").is_dir()  # the other cache stays


def test_features_built_in_chunks_equal_one_build(prepared, tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(datamodule, "CHUNK_EXAMPLES", 7)  # the cache joins the chunks' columns
    chunked = set_up(data_module(tokenizer, data_dir_with(tmp_path, "squad_v1.1", train=TRAIN, dev=DEV)))
    for split in ("train", "dev"):
        assert same_features(prepared.features[split], chunked.features[split])


def test_batches_follow_the_model_and_the_padding_multiple(prepared, tokenizer, data_dir):
    dm = data_module(tokenizer, data_dir, with_token_type_ids=False, pad_multiple=32)
    batcher = dm.batcher(prepared.features["dev"])
    assert isinstance(batcher, FeatureBatcher)
    batch = batcher([0])
    assert "token_type_ids" not in batch and batch["input_ids"].shape[1] % 32 == 0
