"""Training batches: which features each process trains on, in which order, epoch after epoch.

Every training batch sampler here draws the batches of an epoch as a pure function of (seed, epoch) and the
process's rank: no random state is carried from one epoch to the next, so a restarted run (`--resume`) draws the
same batches as an uninterrupted one, and `start` begins an epoch at any of its batches (what the training loader
uses to skip the batches a resumed run already trained on; korsquad.training.datamodule.TrainLoader).

`ShuffledBatchSampler` (the default): each epoch, the features are shuffled (seed, epoch) and cut into batches;
under DDP, the process of rank j takes features j, j + world, j + 2 world, ... of the shuffled order (as
DistributedSampler does).

`GroupedBatchSampler` (`--group_by_length`): training batches of features of similar length, so per-batch padding
pays off in training. Each epoch, all features are shuffled (seed, epoch), the shuffled order is cut into pools of
`pool_batches` global batches, each pool is sorted by length (longest first) and cut into global batches of
`world x batch_size` features, and the global batches are shuffled again. The randomness of training is kept (what
lands in a pool is random; which batch comes when is random) while the features of one batch have about the same
length. Under DDP every process builds the same global batches (same seed, same epoch) and takes its own share of
each: features j, j + world, j + 2 world, ... of the global batch for the process of rank j. The processes of one
step thus get features of about the same length and wait little for each other. The global batch with the longest
feature is put first, so that a batch size too large for the device fails on the first step, not hours into the run.

Remainder rule (both): when the number of features is not a multiple of `world`, the first features of the epoch's
shuffled order are repeated to fill up to a multiple of `world` (at most world - 1 repeats per epoch; as
DistributedSampler does, so that no process runs a step the others do not). Otherwise every feature is used exactly
once per epoch, across processes. Every process has the same number of batches, and only its last one of the epoch
(for GroupedBatchSampler: the one cut from the last global batch of the epoch's length order) may be smaller than
`batch_size`.

Dropout's randomness, too, is a pure function of (seed, epoch, batch, rank): korsquad.training.resume.ExactResume.
"""

from itertools import islice

import numpy as np

# Global batches per sorted pool: large enough that a pool's batches are much tighter in length than random ones,
# small enough that the order of the epoch stays random (the choice of Hugging Face's LengthGroupedSampler too).
POOL_BATCHES = 50


class EpochBatchSampler:
    """Batch sampler (lists of feature indices) for one process: `set_epoch` chooses the epoch, whose batches
    `epoch_batches` returns (index arrays, a pure function of the seed, the epoch and the process's rank).

    `start`: the batch of the epoch iterations begin at (the training loader sets it before each)."""

    def __init__(self, size, batch_size, *, seed, rank=0, world=1):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not in 0..{world - 1}")
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world = world
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    @property
    def sampler(self):
        """Lightning calls `set_epoch` on `dataloader.batch_sampler.sampler`, never on the batch sampler itself:
        this makes it find the batch sampler's own."""
        return self

    def __len__(self):
        per_process = -(-self.size // self.world)
        return -(-per_process // self.batch_size)

    def __iter__(self):
        # a generator: the epoch's batches are drawn at the first batch, after Lightning's set_epoch
        for batch in islice(self.epoch_batches(), self.start, None):
            yield batch.tolist()

    def epoch_batches(self):
        raise NotImplementedError


class ShuffledBatchSampler(EpochBatchSampler):
    """Shuffled batches of `size` features (rank j of `world` takes every world-th feature of the shuffled order)."""

    def epoch_batches(self):
        order = seeded_rng(self.seed, self.epoch).permutation(self.size)
        order = np.resize(order, -(-self.size // self.world) * self.world)  # the remainder rule
        share = order[self.rank::self.world]
        return [share[i:i + self.batch_size] for i in range(0, len(share), self.batch_size)]


class GroupedBatchSampler(EpochBatchSampler):
    """Batches of features of similar `lengths` (`--group_by_length`)."""

    def __init__(self, lengths, batch_size, *, seed, rank=0, world=1, pool_batches=POOL_BATCHES):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        super().__init__(len(self.lengths), batch_size, seed=seed, rank=rank, world=world)
        self.pool_batches = pool_batches

    def epoch_batches(self):
        global_batches = grouped_global_batches(self.lengths, self.batch_size * self.world, self.world,
                                                self.pool_batches, seed=self.seed, epoch=self.epoch)
        return [batch[self.rank::self.world] for batch in global_batches]


def grouped_global_batches(lengths, global_batch_size, world, pool_batches, *, seed, epoch):
    """The epoch's global batches (index arrays), each a multiple of `world` long, longest-feature batch first."""
    n = len(lengths)
    if n == 0:
        return []
    rng = seeded_rng(seed, epoch)
    order = rng.permutation(n)
    order = np.resize(order, -(-n // world) * world)  # the remainder rule: repeats from the start, cyclically
    pool_size = global_batch_size * pool_batches
    batches = []
    for first in range(0, len(order), pool_size):
        pool = order[first:first + pool_size]
        pool = pool[np.argsort(-lengths[pool], kind="stable")]
        batches.extend(pool[i:i + global_batch_size] for i in range(0, len(pool), global_batch_size))
    batches = [batches[i] for i in rng.permutation(len(batches))]
    longest = max(range(len(batches)), key=lambda i: lengths[batches[i]].max())
    batches.insert(0, batches.pop(longest))
    return batches


def shuffled_sampler(features, batch_size, seed, rank, world):
    """QADataModule's default `train_sampler_factory`."""
    return ShuffledBatchSampler(len(features), batch_size, seed=seed, rank=rank, world=world)


def group_by_length_sampler(features, batch_size, seed, rank, world):
    """QADataModule's `train_sampler_factory` for `--group_by_length`: lengths from the FeatureSet's row_splits."""
    return GroupedBatchSampler(np.diff(features.row_splits), batch_size, seed=seed, rank=rank, world=world)


def seeded_rng(seed, *keys):
    """A numpy generator drawn from (seed, keys); any integer seed (numpy's seeds are non-negative)."""
    return np.random.default_rng([seed % 2**64, *keys])
