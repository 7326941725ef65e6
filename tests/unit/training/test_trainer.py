"""korsquad.training.trainer: the Trainer a RunConfig asks for, and the private Lightning hook behind --eval_steps
that also validates at the end of every epoch."""

import warnings
from types import SimpleNamespace

import pytest
from tiny_models import TINY_SETTINGS, padded_batches, tiny_module

from korsquad.training.trainer import make_trainer, strategy


def config(tmp_path, **changed):
    """The RunConfig fields make_trainer reads: a one-process CPU run."""
    values = dict(log_level="warning", eval_steps=None, accumulate_grad_batches=1, accelerator_kind="cpu",
                  trainer_devices=1, num_nodes=1, strategy="ddp", world_size=1, model_type="bert", precision="32-true",
                  num_train_epochs=2, max_steps=-1, gradient_clip_val=1.0, folder=SimpleNamespace(root=tmp_path))
    return SimpleNamespace(**dict(values, **changed))


def validation_steps(tmp_path, batches_per_epoch, **changed):
    """The optimizer steps at which a tiny fit of two epochs validates."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    steps = []

    class Validating(type(tiny_module())):
        def validation_step(self, batch, batch_idx):
            pass

        def on_validation_epoch_end(self):
            steps.append(self.trainer.global_step)

    trainer = make_trainer(config(tmp_path, **changed), callbacks=[], logger=False)
    module = Validating("tiny", **TINY_SETTINGS, hf_config=tiny_module().hparams.hf_config)
    batches, _ = padded_batches(batches_per_epoch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, DataLoader(batches, batch_size=None), DataLoader(batches[:1], batch_size=None))
    assert isinstance(trainer, pl.Trainer)
    return steps


def test_eval_steps_validates_at_every_nth_optimizer_step_and_at_each_epoch_end(tmp_path):
    """5 batches an epoch, --eval_steps 2: steps 2 and 4, the epoch's end at 5, then 6 and 8 (multiples of 2 over
    the whole run, not restarted each epoch), and the end at 10. Lightning alone gives either the steps or the ends."""
    assert validation_steps(tmp_path, 5, eval_steps=2) == [2, 4, 5, 6, 8, 10]


def test_eval_steps_counts_optimizer_steps_under_accumulation(tmp_path):
    """6 batches an epoch, 2 per optimizer step (3 steps an epoch), --eval_steps 2: steps 2, 3 (end), 4, 6 (end)."""
    assert validation_steps(tmp_path, 6, eval_steps=2, accumulate_grad_batches=2) == [2, 3, 4, 6]


def test_without_eval_steps_it_validates_at_each_epoch_end_only(tmp_path):
    assert validation_steps(tmp_path, 5) == [5, 10]


@pytest.mark.parametrize("model_type, unused", [("bert", False), ("xlnet", True)])
def test_ddp_looks_for_unused_parameters_only_for_the_types_that_have_them(tmp_path, model_type, unused):
    chosen = strategy(config(tmp_path, world_size=2, model_type=model_type))
    assert chosen._ddp_kwargs.get("find_unused_parameters", False) is unused
    assert strategy(config(tmp_path, model_type=model_type)) == "auto"  # one process: no DDP
