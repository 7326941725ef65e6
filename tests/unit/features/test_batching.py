"""Batches of features as model inputs: padding widths and ids on either side, label positions that follow the
padding, and the length-sorted evaluation shards of several processes."""

import numpy as np
import pytest
from conftest import minilm_path
from feature_helpers import SMALL

from korsquad.features.batching import PADDING_FEATURE, FeatureBatcher, PaddingBatcher, length_sorted_shard
from korsquad.features.windows import build_features


@pytest.fixture(scope="module")
def features(fast, squad_tiny):
    """Windows of different lengths (SMALL cuts the fixture's paragraphs into many, the last of each shorter)."""
    built = build_features(squad_tiny, fast, SMALL, training=True)
    assert len(set(built.lengths.tolist())) > 3
    return built


def tokenizer_padding(side, pad_token="[PAD]"):
    from transformers import BertTokenizerFast

    return BertTokenizerFast(str(minilm_path() / "vocab.txt"), do_lower_case=True, padding_side=side,
                             pad_token=pad_token)


def test_right_padding_keeps_features_in_place_and_pads_with_the_pad_id(features):
    tokenizer = tokenizer_padding("right", pad_token="[UNK]")  # a pad id other than 0 shows in every padded cell
    indices = [0, 3, 7, 8]
    batch = FeatureBatcher(features, tokenizer, True, SMALL.max_seq_length, multiple=8)(indices)
    lengths = features.lengths[indices]
    width = batch["input_ids"].shape[1]
    assert width % 8 == 0 and lengths.max() <= width < lengths.max() + 8
    assert batch["feature_index"].tolist() == indices and batch["lengths"].tolist() == lengths.tolist()
    assert batch["token_offset"].tolist() == [0] * len(indices)
    for row, f in enumerate(indices):
        n = lengths[row]
        one = features.feature(f)
        assert batch["input_ids"][row, :n].tolist() == one["input_ids"].tolist()
        assert batch["input_ids"][row, n:].tolist() == [tokenizer.unk_token_id] * (width - n)
        assert batch["token_type_ids"][row, :n].tolist() == one["token_type_ids"].tolist()
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (width - n)
        assert int(batch["start_positions"][row]) == one["start_positions"]
        assert int(batch["end_positions"][row]) == one["end_positions"]


def test_left_padding_shifts_tokens_and_labels_by_the_token_offset(features):
    tokenizer = tokenizer_padding("left")
    labeled = np.flatnonzero(features.start_positions != features.cls_index)[:3].tolist()
    indices = sorted(labeled + [int(np.argmin(features.lengths))])  # a short feature: padded most
    batch = FeatureBatcher(features, tokenizer, True, SMALL.max_seq_length, multiple=8)(indices)
    width = batch["input_ids"].shape[1]
    for row, f in enumerate(indices):
        one, offset = features.feature(f), int(batch["token_offset"][row])
        n = len(one["input_ids"])
        assert offset == width - n
        assert batch["input_ids"][row, offset:].tolist() == one["input_ids"].tolist()
        assert batch["input_ids"][row, :offset].tolist() == [tokenizer.pad_token_id] * offset
        assert batch["attention_mask"][row].tolist() == [0] * offset + [1] * n
        # the labels still name the same tokens
        start, end = int(batch["start_positions"][row]), int(batch["end_positions"][row])
        assert int(batch["input_ids"][row, start]) == one["input_ids"][one["start_positions"]]
        assert (start - offset, end - offset) == (one["start_positions"], one["end_positions"])


@pytest.mark.parametrize("multiple", [1, 8, 32])
def test_width_is_a_multiple_unless_that_exceeds_max_seq_length(features, multiple):
    tokenizer = tokenizer_padding("right")
    longest = int(np.argmax(features.lengths))  # as long as max_seq_length allows
    assert features.lengths[longest] == SMALL.max_seq_length
    batcher = FeatureBatcher(features, tokenizer, True, SMALL.max_seq_length, multiple=multiple)
    shortest = int(np.argmin(features.lengths))
    alone = batcher([shortest])["input_ids"].shape[1]
    assert alone == -(-features.lengths[shortest] // multiple) * multiple
    # 64 is a multiple of 1, 8 and 32; a multiple of 48 would pad past it, and the width stops at max_seq_length
    assert batcher(sorted([shortest, longest]))["input_ids"].shape[1] == SMALL.max_seq_length
    capped = FeatureBatcher(features, tokenizer, True, SMALL.max_seq_length, multiple=48)
    assert capped(sorted([shortest, longest]))["input_ids"].shape[1] == SMALL.max_seq_length


def test_token_type_ids_only_for_models_that_take_them(features):
    batch = FeatureBatcher(features, tokenizer_padding("right"), False, SMALL.max_seq_length)([0, 1])
    assert "token_type_ids" not in batch and set(batch) >= {"input_ids", "attention_mask", "start_positions"}


def test_a_padding_batch_holds_real_tensors_but_no_feature_to_score(features):
    batcher = FeatureBatcher(features, tokenizer_padding("right"), True, SMALL.max_seq_length)
    real, padding = batcher([2]), PaddingBatcher(batcher)([2])
    assert padding["feature_index"].tolist() == [PADDING_FEATURE]
    assert padding["input_ids"].tolist() == real["input_ids"].tolist()


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shards_hold_every_feature_once_longest_first(world):
    lengths = np.random.default_rng(world).integers(5, 200, size=37)
    shards = [length_sorted_shard(lengths, 5, rank, world) for rank in range(world)]
    dealt = [f for shard in shards for batch in shard for f in batch]
    assert sorted(dealt) == list(range(len(lengths)))  # each feature in exactly one batch of one process
    for shard in shards:
        order = [f for batch in shard for f in batch]
        assert all(len(batch) == 5 for batch in shard[:-1]) and 1 <= len(shard[-1]) <= 5
        assert np.all(np.diff(lengths[order]) <= 0)  # longest first: batches of similar length
    assert max(map(len, shards)) - min(map(len, shards)) <= 1  # processes stay in step


def test_equal_lengths_keep_their_order_and_a_process_may_get_nothing():
    assert length_sorted_shard([3, 3, 9, 3], 2, 0, 1) == [[2, 0], [1, 3]]
    assert length_sorted_shard([4, 1], 8, 2, 3) == []
