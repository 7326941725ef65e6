"""`--group_by_length`: training batches of features of similar length, so per-batch padding pays off in training.

Each epoch, all features are shuffled (seed, epoch), the shuffled order is cut into pools of `pool_batches` global
batches, each pool is sorted by length (longest first) and cut into global batches of `world x batch_size`
features, and the global batches are shuffled again. The randomness of training is kept (what lands in a pool is
random; which batch comes when is random) while the features of one batch have about the same length.

Distributed training (DDP): every process builds the same global batches (same seed, same epoch) and takes its own
share of each: features j, j + world, j + 2 world, ... of the global batch for the process of rank j. The processes
of one step thus get features of about the same length and wait little for each other, and every process has the
same number of batches.

Remainder rule: when the number of features is not a multiple of `world`, the first features of the epoch's
shuffled order are repeated to fill the last global batch up to a multiple of `world` (at most world - 1 repeats
per epoch; as DistributedSampler does, so that no process runs a step the others do not). Otherwise every feature
is used exactly once per epoch, across processes. Only one batch per process per epoch, the last global batch of
the epoch's length order, may be smaller than `batch_size`.

The global batch with the longest feature is put first, so that a batch size too large for the device fails on the
first step, not hours into the run.
"""

import numpy as np

# Global batches per sorted pool: large enough that a pool's batches are much tighter in length than random ones,
# small enough that the order of the epoch stays random (the choice of Hugging Face's LengthGroupedSampler too).
POOL_BATCHES = 50


class GroupedBatchSampler:
    """Batch sampler (lists of feature indices) for one process; `set_epoch` reshuffles."""

    def __init__(self, lengths, batch_size, *, seed, rank=0, world=1, pool_batches=POOL_BATCHES):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not in 0..{world - 1}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world = world
        self.pool_batches = pool_batches
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    @property
    def sampler(self):
        """Lightning calls `set_epoch` on `dataloader.batch_sampler.sampler`, never on the batch sampler itself:
        this makes it find the batch sampler's own."""
        return self

    def __len__(self):
        per_process = -(-len(self.lengths) // self.world)
        return -(-per_process // self.batch_size)

    def __iter__(self):
        global_batches = grouped_global_batches(self.lengths, self.batch_size * self.world, self.world,
                                                self.pool_batches, seed=self.seed, epoch=self.epoch)
        for batch in global_batches:
            yield batch[self.rank::self.world].tolist()


def grouped_global_batches(lengths, global_batch_size, world, pool_batches, *, seed, epoch):
    """The epoch's global batches (index arrays), each a multiple of `world` long, longest-feature batch first."""
    n = len(lengths)
    if n == 0:
        return []
    rng = np.random.default_rng([seed, epoch])
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


def group_by_length_sampler(features, batch_size, seed, rank, world):
    """QADataModule's `train_sampler_factory` for `--group_by_length`: lengths from the FeatureSet's row_splits."""
    return GroupedBatchSampler(np.diff(features.row_splits), batch_size, seed=seed, rank=rank, world=world)
