"""Batches of features as model inputs, without Lightning: padded tensors (per batch, to a multiple of 8, on the
tokenizer's padding side) and the length-sorted evaluation batches of one process. Used by the data module and by
korsquad.serving.answerer, which answers questions without loading Lightning."""

import numpy as np
import torch


def length_sorted_shard(lengths, batch_size, rank, world):
    """This process's evaluation batches: features sorted longest first, dealt round-robin so that every feature
    goes to exactly one process (no padding duplicates), then cut into batches of similar length."""
    order = np.argsort(-np.asarray(lengths), kind="stable")[rank::world]
    return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]


# feature_index of a padding row: a row that only keeps a process in step with the others, never scored
PADDING_FEATURE = -1


class PaddingBatcher:
    """collate_fn of a padding batch: real features' tensors, each row's feature_index PADDING_FEATURE."""

    def __init__(self, batcher):
        self.batcher = batcher

    def __call__(self, indices):
        batch = self.batcher(indices)
        batch["feature_index"] = torch.full_like(batch["feature_index"], PADDING_FEATURE)
        return batch


class FeatureBatcher:
    """collate_fn: feature indices -> padded tensors (input_ids, attention_mask, token_type_ids, labels)."""

    def __init__(self, features, tokenizer, with_token_type_ids, max_seq_length, multiple=8):
        self.features = features
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.pad_type_id = getattr(tokenizer, "pad_token_type_id", 0)
        self.left = tokenizer.padding_side == "left"
        self.with_token_type_ids = with_token_type_ids
        self.max_seq_length = max_seq_length
        self.multiple = multiple

    def __call__(self, indices):
        f = self.features
        indices = np.asarray(indices, dtype=np.int64)
        starts, ends = f.row_splits[indices], f.row_splits[indices + 1]
        lengths = (ends - starts).astype(np.int64)
        width = int(min(-(-lengths.max() // self.multiple) * self.multiple, max(self.max_seq_length, lengths.max())))
        input_ids = np.full((len(indices), width), self.pad_id, dtype=np.int64)
        token_types = np.full((len(indices), width), self.pad_type_id, dtype=np.int64)
        mask = np.zeros((len(indices), width), dtype=np.int64)
        shift = width - lengths if self.left else np.zeros_like(lengths)
        for row, (s, e, off) in enumerate(zip(starts, ends, shift)):
            input_ids[row, off:off + e - s] = f.input_ids[s:e]
            token_types[row, off:off + e - s] = f.token_type_ids[s:e]
            mask[row, off:off + e - s] = 1
        batch = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(mask),
            "start_positions": torch.from_numpy(f.start_positions[indices].astype(np.int64) + shift),
            "end_positions": torch.from_numpy(f.end_positions[indices].astype(np.int64) + shift),
            "feature_index": torch.from_numpy(indices),
            "lengths": torch.from_numpy(lengths),
            "token_offset": torch.from_numpy(shift.astype(np.int64)),
        }
        if self.with_token_type_ids:
            batch["token_type_ids"] = torch.from_numpy(token_types)
        return batch
