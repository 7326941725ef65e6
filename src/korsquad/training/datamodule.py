"""LightningDataModule: examples -> cached features -> padded batches.

`prepare_data` (one process per node under DDP) builds the feature caches; `setup` loads them on every process.
Batches are padded to the longest sequence in the batch, rounded up to a multiple of 8 (32 for bf16 on a CPU, see
korsquad.common.cpu), on the tokenizer's padding side. Evaluation batches are sorted by length and split between
processes without the duplicates a DistributedSampler would add, so every feature is scored exactly once; a process left
without features runs one padding batch, whose rows (feature_index PADDING_FEATURE) are not scored.
"""

import functools
import os

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_warn
from torch.utils.data import DataLoader

from ..data.datasets import split_file
from ..data.readers import data_files, read_split
from ..features import cache
from ..features.batching import FeatureBatcher, PaddingBatcher, length_sorted_shard
from ..features.windows import build_features
from .sampling import shuffled_sampler

# Examples per feature-building chunk: bounds memory on KorQuAD 2.x, where one question has dozens of windows.
CHUNK_EXAMPLES = int(os.environ.get("KORSQUAD_CHUNK_EXAMPLES", "2000"))


class QADataModule(pl.LightningDataModule):
    """`train`: whether it serves training batches (and the dev set for validation); `eval_split`: what
    validation serves, "dev" or "predict" (the questions of `predict_file`); `window`: the settings.WindowSettings
    of every split's windows; `examples`: the questions of splits already read (readers.read_split, with the sample
    limits applied), by split: those are not read again."""

    def __init__(self, spec, tokenizer, *, train, eval_split, data_dir, window, batch_size, eval_batch_size, seed,
                 negative_window_ratio, num_workers=0, max_train_samples=None,
                 max_eval_samples=None, overwrite_cache=False, train_file=None, dev_file=None, predict_file=None,
                 with_token_type_ids=True,
                 train_sampler_factory=None, pad_multiple=8, examples=None):
        super().__init__()
        if eval_split not in ("dev", "predict"):
            raise ValueError(f"eval_split must be 'dev' or 'predict', not {eval_split!r}")
        self.spec = spec
        self.tokenizer = tokenizer
        self.data_dir = data_dir
        self.window = window
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.negative_window_ratio = negative_window_ratio
        self.num_workers = num_workers
        self.max_samples = {"train": max_train_samples, "dev": max_eval_samples, "predict": max_eval_samples}
        self.overwrite_cache = overwrite_cache
        # a user's own files in place of the registry's (any SQuAD-format JSON, .jsonl, or KorQuAD 2.x folder)
        self.own_files = {"train": train_file, "dev": dev_file, "predict": predict_file}
        self.with_token_type_ids = with_token_type_ids
        # (features, batch_size, seed, rank, world) -> a sampling.EpochBatchSampler (default: shuffled batches)
        self.train_sampler_factory = train_sampler_factory
        self.pad_multiple = pad_multiple  # batch widths are multiples of it (korsquad.common.cpu.batch_width_multiple)
        self.splits = ("train", eval_split) if train else (eval_split,)
        self.eval_split = eval_split
        self.examples = dict(examples or {})
        self.features = {}
        self._cache_folders = {}
        self._train_loader = None
        self._train_position = None  # TrainLoader state from a checkpoint, for the next training loader

    # ---- files -------------------------------------------------------------------------------------------
    def split_source(self, split):
        return self.own_files[split] or split_file(self.spec, self.data_dir, split)

    def split_examples(self, split):
        """The split's questions (its first --max_*_samples), read once."""
        if split not in self.examples:
            self.examples[split] = read_split(self.split_source(split), self.spec, split, self.max_samples[split])
        return self.examples[split]

    def feature_params(self, split):
        """build_features' arguments besides the window and the reader (and the sample limit, for the cache key)."""
        params = dict(training=split == "train", limit=self.max_samples[split])
        if split == "train":
            params.update(negative_window_ratio=self.negative_window_ratio, seed=self.seed)
        return params

    def cache_folder(self, split):
        """Hashing the data files and the tokenizer is not free: once per split and process."""
        if split not in self._cache_folders:
            source = self.split_source(split)
            key = cache.cache_key(data_files(source, self.spec), self.tokenizer, self.window,
                                  dict(self.feature_params(split), reader=self.spec.reader.name))
            self._cache_folders[split] = self.spec.data_folder(self.data_dir) / "cache" / f"{split}-{key}"
        return self._cache_folders[split]

    # ---- Lightning hooks -----------------------------------------------------------------------------------
    def prepare_data(self):
        """Build missing caches (one process per node). Lightning calls this before fit and again before validate:
        splits already loaded are neither verified nor (with --overwrite_cache) rebuilt a second time."""
        self._load(rebuild=self.overwrite_cache)

    def setup(self, stage=None):
        self._load(rebuild=False)  # every process; the cache prepare_data built, or one it builds itself

    def _load(self, rebuild):
        for split in self.splits:
            if split in self.features:
                continue
            examples = self.split_examples(split)
            self.features[split] = cache.cached_features(self.cache_folder(split),
                                                         functools.partial(self._build_chunks, split, examples),
                                                         rebuild)

    def _build_chunks(self, split, examples):
        params = {k: v for k, v in self.feature_params(split).items() if k != "limit"}
        for number, first in enumerate(range(0, max(len(examples), 1), CHUNK_EXAMPLES)):
            chunk = examples[first:first + CHUNK_EXAMPLES]
            if "seed" in params:
                params["seed"] = self.seed + number
            yield first, build_features(chunk, self.tokenizer, self.window, reader=self.spec.reader, **params)

    # ---- loaders -------------------------------------------------------------------------------------------
    def batcher(self, features):
        return FeatureBatcher(features, self.tokenizer, self.with_token_type_ids, self.window.max_seq_length,
                              multiple=self.pad_multiple)

    def train_dataloader(self):
        features = self.features["train"]
        world, rank = self._world()
        factory = self.train_sampler_factory or shuffled_sampler
        batch_sampler = factory(features, self.batch_size, self.seed, rank, world)
        self._train_loader = TrainLoader(range(len(features)), batch_sampler=batch_sampler,
                                         collate_fn=self.batcher(features), num_workers=self.num_workers)
        position, self._train_position = self._train_position, None
        if position is not None:
            self._train_loader.load_state_dict(position)
        return self._train_loader

    # ---- resuming: the training loader's position in its epoch, in every checkpoint ---------------------------
    def state_dict(self):
        return {"train_loader": self._train_loader.state_dict()} if self._train_loader is not None else {}

    def load_state_dict(self, state_dict):
        """Lightning restores the data module before it builds the training loader. (It also hands the loader's
        own state back, through the fit loop, but drops it when configure_optimizers reads
        trainer.estimated_stepping_batches, as QAModule's does: Lightning issue #20550.)"""
        self._train_position = state_dict.get("train_loader")
        if self._train_position is not None and self._train_loader is not None:
            self._train_loader.load_state_dict(self._train_position)
            self._train_position = None

    def _eval_loader(self, split):
        """This process's share of the evaluation features. A process left without any (fewer features than
        processes) gets one padding batch instead: Lightning refuses an empty loader on one process, and in
        training the first validation forward of the DDP-wrapped model is a collective (it broadcasts buffers),
        so every process must run at least one batch. Its outputs are dropped before gathering."""
        features = self.features[split]
        world, rank = self._world()
        lengths = np.diff(features.row_splits)
        batches = length_sorted_shard(lengths, self.eval_batch_size, rank, world)
        batcher = self.batcher(features)
        if not batches and len(features):
            batches, batcher = [[int(np.argmin(lengths))]], PaddingBatcher(batcher)
        return DataLoader(range(len(features)), batch_sampler=batches, collate_fn=batcher,
                          num_workers=self.num_workers)

    def val_dataloader(self):
        return self._eval_loader(self.eval_split)

    def eval_data(self):
        """(examples, features) of the evaluated split, once set up."""
        return self.examples[self.eval_split], self.features[self.eval_split]

    def _world(self):
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)


class TrainLoader(DataLoader):
    """The training DataLoader, resumable mid-epoch: a run resumed from a checkpoint saved in the middle of an
    epoch trains on the rest of that epoch's batches, exactly those an uninterrupted run would have trained on.

    `batch_sampler` is a sampling.EpochBatchSampler: its batches are a pure function of (seed, epoch, rank).
    `state_dict()` is {"epoch", "batches_done"} (the batches of the epoch handed out so far) and what decides the
    batches (`layout`: resuming with others is warned about). Every checkpoint holds
    it (QADataModule.state_dict; Lightning's fit loop saves it too, as it does for any loader with `state_dict` and
    `load_state_dict`); on resume, `load_state_dict` gets it before the first epoch runs, and Lightning's own batch
    counters continue from the same count. The next iteration, if of the same epoch, then starts at batch
    `batches_done`: the batches before it are skipped as indices (no feature is read or collated for them). The
    state does not depend on the rank (every process has as many batches), so the one checkpoint, written by
    process 0, resumes every process.

    Lightning checkpoints only between optimizer steps (ModelCheckpoint; see resume.ExactResume), so under
    --accumulate_grad_batches the batches done are whole optimizer steps' worth and no accumulated gradient is
    lost.

    Counting happens here, where batches are handed to the training loop, not in the batch sampler, which worker
    processes run ahead of. The real iterator is made at the first batch, after Lightning's `set_epoch`."""

    def __init__(self, dataset, batch_sampler, **kwargs):
        super().__init__(dataset, batch_sampler=batch_sampler, **kwargs)
        self._epoch = 0  # of the iteration under way (or last finished)
        self._batches_done = 0
        self._resume_at = None  # (epoch, batches_done) of a loaded state, for the next iteration

    def state_dict(self):
        return {"epoch": self._epoch, "batches_done": self._batches_done, **self.layout()}

    def load_state_dict(self, state_dict):
        self._resume_at = (state_dict["epoch"], state_dict["batches_done"])
        saved = {key: state_dict[key] for key in self.layout() if key in state_dict}
        now = {key: self.layout()[key] for key in saved}
        if saved != now:
            rank_zero_warn(f"resuming with other training batches than the checkpoint's ({now} instead of {saved}): "
                           f"the rest of epoch {state_dict['epoch']} will not be what the interrupted run would "
                           "have trained on")

    def layout(self):
        """What decides the batches of an epoch, besides the epoch."""
        sampler = self.batch_sampler
        return {"sampler": type(sampler).__name__, "features": sampler.size, "batch_size": sampler.batch_size,
                "world": sampler.world, "seed": sampler.seed}

    def __iter__(self):
        return self._counted_batches()

    def _counted_batches(self):
        sampler = self.batch_sampler
        resume_at, self._resume_at = self._resume_at, None
        start = resume_at[1] if resume_at is not None and resume_at[0] == sampler.epoch else 0
        self._epoch = sampler.epoch
        sampler.start = self._batches_done = start
        for batch in super().__iter__():
            self._batches_done += 1
            yield batch
