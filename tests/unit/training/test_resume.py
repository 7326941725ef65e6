"""Resuming mid-epoch: a run killed after a mid-epoch save and continued with --resume trains on exactly the batches
(and draws exactly the dropout masks) of an uninterrupted run with the same seed, continues its learning-rate schedule
where it stopped, and ends with the same weights."""

from types import SimpleNamespace

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from korsquad.features.featureset import FeatureSet
from korsquad.runs.settings import WindowSettings
from korsquad.training.datamodule import QADataModule, TrainLoader
from korsquad.training.resume import ExactResume, batch_seed
from korsquad.training.sampling import GroupedBatchSampler, ShuffledBatchSampler, group_by_length_sampler


# ---- the training loader on its own ----------------------------------------------------------------------------
@pytest.mark.parametrize("num_workers", [0, 1])
def test_loader_state_resumes_its_epoch_at_the_next_batch(num_workers):
    def loader():
        return TrainLoader(range(30), batch_sampler=GroupedBatchSampler(np.arange(30) % 7, 4, seed=3),
                           num_workers=num_workers)

    first = loader()
    first.batch_sampler.set_epoch(1)
    whole = [b.tolist() for b in first]
    batches = iter(first)
    seen = [next(batches).tolist() for _ in range(3)]
    state = first.state_dict()
    assert state["epoch"] == 1 and state["batches_done"] == 3 and seen == whole[:3]

    second = loader()
    second.load_state_dict(state)
    second.batch_sampler.set_epoch(1)
    assert [b.tolist() for b in second] == whole[3:]
    assert second.state_dict() == dict(state, batches_done=len(whole))
    assert [b.tolist() for b in second] == whole  # the skip is for the resumed iteration only

    other_epoch = loader()
    other_epoch.load_state_dict(state)
    other_epoch.batch_sampler.set_epoch(2)  # e.g. resumed from the end of epoch 1
    assert len(list(other_epoch)) == len(whole)

    with pytest.warns(UserWarning, match="other training batches"):
        TrainLoader(range(30), batch_sampler=ShuffledBatchSampler(30, 4, seed=3)).load_state_dict(state)


# ---- the dropout seeds -----------------------------------------------------------------------------------------
def test_batch_seeds_differ_by_epoch_batch_and_rank():
    seeds = {batch_seed(7, e, b, r) for e in range(3) for b in range(50) for r in range(4)}
    assert len(seeds) == 600 and batch_seed(7, 1, 2, 3) == batch_seed(7, 1, 2, 3)
    assert batch_seed(-1, 0, 0, 0) != batch_seed(1, 0, 0, 0)


# ---- Lightning, in process: the real data module, resumed from checkpoints saved mid-epoch ------------------------
def fake_features(n, seed=0):
    lengths = np.random.default_rng(seed).integers(3, 12, size=n)
    splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    tokens = int(splits[-1])
    zeros = np.zeros(n, dtype=np.int32)
    return FeatureSet(example_index=np.arange(n, dtype=np.int32), row_splits=splits,
                      input_ids=(np.arange(tokens) % 50).astype(np.int32), token_type_ids=np.zeros(tokens, np.int8),
                      char_start=np.zeros(tokens, np.int32), char_end=np.zeros(tokens, np.int32),
                      max_context=np.ones(tokens, bool), cls_index=zeros, start_positions=zeros, end_positions=zeros)


def data_module(group_by_length, num_workers, n=26):
    tokenizer = SimpleNamespace(pad_token_id=0, pad_token_type_id=0, padding_side="right")
    dm = QADataModule(None, tokenizer, train=True, eval_split="dev", data_dir=None,
                      window=WindowSettings(max_seq_length=16, doc_stride=8, max_query_length=4), batch_size=4, eval_batch_size=4, seed=11, negative_window_ratio=None,
                      num_workers=num_workers,
                      train_sampler_factory=group_by_length_sampler if group_by_length else None)
    dm.features = {"train": fake_features(n), "dev": fake_features(4)}  # setup() loads nothing more
    return dm


class Recorder(pl.LightningModule):
    """Embedding, dropout, linear; configure_optimizers reads estimated_stepping_batches (as QAModule does)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(50, 8)
        self.drop = torch.nn.Dropout(0.5)
        self.out = torch.nn.Linear(8, 1)
        self.seen = []

    def training_step(self, batch, batch_idx):
        self.seen.append((self.current_epoch, batch_idx, batch["feature_index"].tolist()))
        hidden = self.drop(self.embed(batch["input_ids"])) * batch["attention_mask"][..., None]
        return self.out(hidden).pow(2).mean()

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=0.05)
        total = self.trainer.estimated_stepping_batches
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / (total + 1))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def fit(folder, group_by_length, num_workers, accumulate, ckpt_path=None):
    from pytorch_lightning.callbacks import ModelCheckpoint

    module = Recorder()
    every_step = ModelCheckpoint(dirpath=folder, filename="{step}", every_n_train_steps=1, save_top_k=-1)
    trainer = pl.Trainer(max_epochs=3, accumulate_grad_batches=accumulate, limit_val_batches=0, logger=False,
                         enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
                         default_root_dir=folder, callbacks=[every_step, ExactResume(11)])
    trainer.fit(module, datamodule=data_module(group_by_length, num_workers), ckpt_path=ckpt_path)
    return module, trainer


@pytest.mark.parametrize("group_by_length, num_workers, accumulate", [
    (False, 0, 1), (True, 0, 1), (False, 1, 3), (True, 0, 3)])
def test_resumed_fit_sees_the_batches_of_an_uninterrupted_one(tmp_path, group_by_length, num_workers, accumulate):
    # 26 features, batch size 4: 7 batches an epoch; with 3 batches a step: steps after batches 3, 6 and 7
    whole, trainer = fit(tmp_path / "whole", group_by_length, num_workers, accumulate)
    steps_per_epoch = -(-7 // accumulate)
    assert trainer.global_step == 3 * steps_per_epoch
    epochs = [[b for e, _, b in whole.seen if e == epoch] for epoch in range(3)]
    assert epochs[0] != epochs[1] != epochs[2]
    # from the end of the first epoch, the middle of the second, the middle of the third
    for step in (steps_per_epoch, steps_per_epoch + 1, 3 * steps_per_epoch - 1):
        (checkpoint,) = (tmp_path / "whole").glob(f"step={step}.ckpt")
        state = torch.load(checkpoint, weights_only=False)
        done = state["QADataModule"]["train_loader"]["batches_done"]
        assert done % accumulate == 0 or done == 7  # saved between optimizer steps
        resumed, again = fit(tmp_path / f"from{step}", group_by_length, num_workers, accumulate, checkpoint)
        assert resumed.seen == whole.seen[-len(resumed.seen):]
        assert len(whole.seen) - len(resumed.seen) == state["QADataModule"]["train_loader"]["epoch"] * 7 + done
        assert again.global_step == trainer.global_step
        for name, tensor in whole.state_dict().items():
            assert torch.equal(resumed.state_dict()[name], tensor), name
        # no checkpoint in the middle of an optimizer step after resuming (it would lose the accumulated gradients)
        for saved in (tmp_path / f"from{step}").glob("*.ckpt"):
            after = torch.load(saved, weights_only=False)["QADataModule"]["train_loader"]["batches_done"]
            assert after % accumulate == 0 or after == 7
