"""DDP end to end on CPU (gloo, two processes) and the evaluation sharding behind it: every model type trains
(XLNet leaves a parameter unused), fewer evaluation windows than processes, an error on process 0 that must end
every process at once. Each run goes in a process group of its own, so a hang is killed whole and fails the test
instead of leaving processes behind."""

from types import SimpleNamespace

import numpy as np
import pytest
from ddp_helpers import squad_dir


# ---- 2. fewer evaluation windows than processes ------------------------------------------------------------------
def eval_module(tiny_bert, data_dir, max_eval_samples):
    from transformers import AutoTokenizer

    from korsquad.data.datasets import get_spec
    from korsquad.runs.settings import WindowSettings
    from korsquad.training.datamodule import QADataModule

    dm = QADataModule(get_spec("squad_v1.1"), AutoTokenizer.from_pretrained(str(tiny_bert)), train=False,
                      eval_split="dev", data_dir=data_dir,
                      window=WindowSettings(max_seq_length=256, doc_stride=128, max_query_length=32),
                      batch_size=2, eval_batch_size=2, seed=42, negative_window_ratio=1.0,
                      max_eval_samples=max_eval_samples)
    dm.prepare_data()
    dm.setup("validate")
    return dm


def shard_indices(dm, world):
    """Each process's evaluation batches' feature_index arrays."""
    shards = []
    for rank in range(world):
        dm.trainer = SimpleNamespace(world_size=world, global_rank=rank)
        shards.append([batch["feature_index"].numpy() for batch in dm.val_dataloader()])
    dm.trainer = None
    return shards


@pytest.mark.parametrize("samples, world", [(1, 2), (1, 3), (5, 4), (5, 2)])
def test_every_process_gets_a_batch_and_every_feature_is_scored_once(tiny_bert, squad_dir, samples, world):
    from korsquad.features.batching import PADDING_FEATURE
    from korsquad.training.validation import without_padding

    dm = eval_module(tiny_bert, squad_dir, samples)
    n = len(dm.eval_data()[1])
    assert n == samples  # one window per question
    shards = shard_indices(dm, world)
    assert all(len(batches) >= 1 for batches in shards)  # Lightning refuses an empty loader on one process
    kept = []
    for batches in shards:
        for indices in batches:
            outputs = without_padding((indices, [np.zeros(3)] * len(indices), [np.ones(3)] * len(indices)))
            assert len(outputs[0]) == len(outputs[1]) == len(outputs[2])
            assert PADDING_FEATURE not in outputs[0]
            kept += outputs[0].tolist()
    assert sorted(kept) == list(range(n))
