from types import SimpleNamespace

import numpy as np
import pytest

from korsquad.training.sampling import (GroupedBatchSampler, ShuffledBatchSampler, group_by_length_sampler,
                                        shuffled_sampler)


def random_lengths(n, seed=0):
    return np.random.default_rng(seed).integers(20, 385, size=n)


def epoch_batches(lengths, batch_size, epoch, *, seed=42, world=1, pool_batches=4):
    """Every process's batches of one epoch: list (per rank) of lists of index lists."""
    samplers = [GroupedBatchSampler(lengths, batch_size, seed=seed, rank=r, world=world, pool_batches=pool_batches)
                for r in range(world)]
    for s in samplers:
        s.set_epoch(epoch)
    return [list(s) for s in samplers]


def test_every_feature_exactly_once_per_epoch():
    lengths = random_lengths(1003)
    for epoch in range(3):
        (batches,) = epoch_batches(lengths, 16, epoch)
        flat = np.concatenate(batches)
        assert sorted(flat.tolist()) == list(range(1003))
        assert sum(len(b) < 16 for b in batches) <= 1


def test_same_seed_same_batches_other_seed_or_epoch_other_batches():
    lengths = random_lengths(500)
    first = epoch_batches(lengths, 8, epoch=0, seed=1)
    assert epoch_batches(lengths, 8, epoch=0, seed=1) == first
    assert epoch_batches(lengths, 8, epoch=0, seed=2) != first
    assert epoch_batches(lengths, 8, epoch=1, seed=1) != first


def test_batches_are_tighter_in_length_than_random_batches():
    lengths = random_lengths(2000)
    (batches,) = epoch_batches(lengths, 16, epoch=0, pool_batches=50)
    grouped_padding = sum(lengths[b].max() * len(b) - lengths[b].sum() for b in batches)
    shuffled = np.random.default_rng(0).permutation(len(lengths))
    random_padding = sum(lengths[b].max() * len(b) - lengths[b].sum()
                         for b in np.array_split(shuffled, len(batches)))
    assert grouped_padding < 0.25 * random_padding


def test_longest_feature_comes_in_the_first_batch():
    lengths = random_lengths(300)
    lengths[137] = 1000
    for epoch in range(3):
        (batches,) = epoch_batches(lengths, 8, epoch)
        assert 137 in batches[0]


def test_ddp_shares_are_disjoint_cover_everything_and_have_equal_batch_counts():
    lengths = random_lengths(1000)  # divisible by 4: every feature exactly once across processes
    per_rank = epoch_batches(lengths, 8, epoch=2, world=4)
    counts = {len(batches) for batches in per_rank}
    assert counts == {len(GroupedBatchSampler(lengths, 8, seed=0, rank=0, world=4))}
    shares = [set(np.concatenate(batches).tolist()) for batches in per_rank]
    assert sum(map(len, shares)) == 1000
    assert set.union(*shares) == set(range(1000))
    # one step = the i-th batch of every process: features of about the same length, so no process waits long
    spread = np.mean([np.ptp(lengths[np.concatenate(step)]) for step in zip(*per_rank)])
    assert spread < 0.25 * np.ptp(lengths)


def test_ddp_remainder_repeats_fewer_than_world_features():
    lengths = random_lengths(1001)
    per_rank = epoch_batches(lengths, 8, epoch=0, world=4)
    assert len({len(b) for b in per_rank}) == 1
    assert len({sum(map(len, batches)) for batches in per_rank}) == 1  # same number of features on every process
    flat = np.concatenate([np.concatenate(batches) for batches in per_rank])
    assert set(flat.tolist()) == set(range(1001))
    assert len(flat) == 1004  # 3 features repeated to fill the last step


def test_fewer_features_than_processes():
    per_rank = epoch_batches(np.array([5, 7]), 4, epoch=0, world=3)
    assert [len(b) for b in per_rank] == [1, 1, 1]
    assert set(np.concatenate([b[0] for b in per_rank]).tolist()) == {0, 1}


def test_len_matches_iteration():
    for n, batch_size, world in [(1, 4, 1), (17, 4, 1), (100, 7, 3), (64, 8, 8), (2, 4, 3)]:
        for sampler in (GroupedBatchSampler(random_lengths(n), batch_size, seed=0, world=world, rank=world - 1),
                        ShuffledBatchSampler(n, batch_size, seed=0, world=world, rank=world - 1)):
            assert len(list(sampler)) == len(sampler)


def shuffled_epoch(n, batch_size, epoch, *, seed=42, world=1):
    samplers = [ShuffledBatchSampler(n, batch_size, seed=seed, rank=r, world=world) for r in range(world)]
    for s in samplers:
        s.set_epoch(epoch)
    return [list(s) for s in samplers]


def test_shuffled_batches_are_a_function_of_seed_and_epoch_only():
    first = shuffled_epoch(103, 8, epoch=1, seed=1)
    assert shuffled_epoch(103, 8, epoch=1, seed=1) == first
    assert shuffled_epoch(103, 8, epoch=0, seed=1) != first
    assert shuffled_epoch(103, 8, epoch=1, seed=2) != first
    used = ShuffledBatchSampler(103, 8, seed=1)
    for epoch in (0, 3, 1):  # whatever came before
        used.set_epoch(epoch)
        batches = list(used)
    assert [batches] == first
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert [len(b) for b in batches] == [8] * 12 + [7]


def test_shuffled_ddp_shares_follow_the_remainder_rule():
    per_rank = shuffled_epoch(1001, 8, epoch=0, world=4)
    assert len({len(b) for b in per_rank}) == 1
    flat = [i for batches in per_rank for b in batches for i in b]
    assert set(flat) == set(range(1001)) and len(flat) == 1004  # 3 features repeated to fill the last step
    shares = [{i for b in batches for i in b} for batches in shuffled_epoch(1000, 8, epoch=5, world=4)]
    assert sum(map(len, shares)) == 1000 and set.union(*shares) == set(range(1000))


def test_start_begins_the_epoch_at_a_later_batch():
    for sampler in (ShuffledBatchSampler(50, 4, seed=3), GroupedBatchSampler(random_lengths(50), 4, seed=3)):
        sampler.set_epoch(2)
        whole = list(sampler)
        sampler.start = 5
        assert list(sampler) == whole[5:] and len(sampler) == len(whole)


def test_default_factory_shuffles_the_features_of_a_feature_set():
    sampler = shuffled_sampler([None] * 10, 4, 0, 1, 2)  # anything with a length
    assert (sampler.size, sampler.batch_size, sampler.rank, sampler.world) == (10, 4, 1, 2)


def test_factory_reads_lengths_from_row_splits():
    features = SimpleNamespace(row_splits=np.array([0, 10, 15, 45, 46]))
    sampler = group_by_length_sampler(features, 2, 0, 0, 1)
    assert list(sampler.lengths) == [10, 5, 30, 1]
    assert sorted(i for b in sampler for i in b) == [0, 1, 2, 3]


def test_bad_rank_is_refused():
    with pytest.raises(ValueError):
        GroupedBatchSampler([1, 2], 2, seed=0, rank=2, world=2)


def test_lightning_reshuffles_the_batch_sampler_every_epoch(tmp_path):
    """Lightning calls set_epoch on `batch_sampler.sampler` only: the sampler must be reachable there."""
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader

    lengths = random_lengths(40)
    sampler = GroupedBatchSampler(lengths, 4, seed=3)
    seen = []

    class Recorder(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def training_step(self, batch, batch_idx):
            seen.append((self.current_epoch, batch.tolist()))
            return (self.w * 0).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    loader = DataLoader(range(40), batch_sampler=sampler)
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, use_distributed_sampler=False, default_root_dir=tmp_path)
    trainer.fit(Recorder(), loader)
    epochs = [[b for e, b in seen if e == epoch] for epoch in (0, 1)]
    assert all(sorted(i for b in batches for i in b) == list(range(40)) for batches in epochs)
    assert epochs[0] != epochs[1]
