"""last.ckpt, the state `--resume` continues from, and the learning rate a resumed run starts at.

Lightning saves a checkpoint at the end of an epoch as "epoch finished", so a resumed run starts the next epoch.
A training stopped by --max_steps also ends its epoch early, with the same hooks: saved there, the rest of the
epoch would never be trained. So an epoch's end is saved only for an epoch that ran all its batches, and the step
that reaches --max_steps is saved as a step in the middle of its epoch (korsquad.training.datamodule.TrainLoader keeps
the place in the epoch): the resumed run trains the rest of it.

Dropout's randomness is a pure function of (seed, epoch, batch, rank), as the order of the batches is
(korsquad.training.sampling): ExactResume seeds torch's generator before every training batch, so a resumed run draws
the same dropout masks as an uninterrupted one (Lightning's checkpoints keep no random state).

Which settings may differ on resume, and which refuse, is korsquad.config.runconfig's (TRAINED_AS).
"""

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.optim.lr_scheduler import LambdaLR

from ..common.errors import UsageError
from ..runs.checkpoints import load_checkpoint


# What Lightning restores a training from besides the weights: without them a checkpoint holds weights only
# (best.ckpt), which --resume cannot continue.
TRAINING_STATE = ("optimizer_states", "lr_schedulers", "loops")


def check_resumable(path):
    """Refuse, before anything is written, a last.ckpt that --resume cannot continue: unreadable, holding pickled
    objects (korsquad.runs.checkpoints.load_checkpoint, weights_only), or weights without the training state."""
    checkpoint = load_checkpoint(path, mmap=True)
    missing = [key for key in TRAINING_STATE if key not in checkpoint] if isinstance(checkpoint, dict) else ["any"]
    if missing:
        raise UsageError(f"--resume: {path} holds no training state to continue (no {', '.join(missing)}): it is "
                         "not a last.ckpt that run_qa.py saved")


def last_checkpoints(dirpath, save_steps):
    """The callbacks that write `dirpath`/last.ckpt: every `save_steps` optimizer steps, at the end of every epoch
    that ran all its batches (after its validation), and at the step that reaches --max_steps."""
    return [StepCheckpoint(dirpath=dirpath, every_n_train_steps=save_steps, save_top_k=0, save_last=True,
                           enable_version_counter=False), EpochAndStopCheckpoint(dirpath, save_steps)]


class StepCheckpoint(ModelCheckpoint):
    """Lightning's last.ckpt every N steps, without its save at the end of training: that state counts the epoch
    as finished, also when --max_steps stopped it in the middle (EpochAndStopCheckpoint saves both ends)."""

    def on_train_end(self, trainer, pl_module):
        pass


class EpochAndStopCheckpoint(pl.Callback):
    """last.ckpt at the end of an epoch that ran all its batches, and right after the optimizer step that reaches
    --max_steps, before the epoch's end hooks: a state in the middle of the epoch, which --resume continues with the
    epoch's next batch."""

    def __init__(self, dirpath, save_steps):
        self.path = f"{dirpath}/last.ckpt"
        self.save_steps = save_steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if trainer.max_steps > 0 and step == trainer.max_steps and step % self.save_steps != 0:
            # the full state (--resume needs the optimizer); a multiple of save_steps StepCheckpoint saves
            trainer.save_checkpoint(self.path, weights_only=False)

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            trainer.save_checkpoint(self.path, weights_only=False)


class ResumedSchedule(pl.Callback):
    """A resumed run starts at its own schedule's learning rate. Lightning restores the optimizer's learning rate
    as the stopped run last set it, and the schedule, built anew for this run's length (QAModule.
    configure_optimizers), takes over only after the first step. With an unchanged length both are the same number;
    with a longer --max_steps or --num_train_epochs the first resumed step would run at the old schedule's rate (0
    at the end of a linear one). Every step from the resumed one on follows the schedule of the new length."""

    def on_train_start(self, trainer, pl_module):
        if trainer.global_step == 0:
            return
        for config in trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            if isinstance(scheduler, LambdaLR):  # every --lr_scheduler (transformers.get_scheduler)
                rates = [base * rate(scheduler.last_epoch) for rate, base in zip(scheduler.lr_lambdas,
                                                                                   scheduler.base_lrs)]
                for group, lr in zip(scheduler.optimizer.param_groups, rates):
                    group["lr"] = lr
                scheduler._last_lr = rates  # what get_last_lr() (the logged lr) reports, as step() would set it


def batch_seed(seed, epoch, batch, rank):
    """The seed of torch's generator for one training batch of one process."""
    return int(np.random.SeedSequence([seed % 2**64, epoch, batch, rank]).generate_state(1, np.uint64)[0])


class ExactResume(pl.Callback):
    """What a run resumed from a checkpoint needs, beyond the checkpoint and the training loader's position
    (korsquad.training.datamodule.TrainLoader), to go on exactly as an uninterrupted run would:

    - dropout: Lightning's checkpoints keep no random state, so torch's generator (CPU and GPUs) is seeded before
      every training batch from (seed, epoch, batch index in the epoch, rank): the masks of a batch are the same in
      both runs, and differ between the processes of one step.
    - gradient accumulation: a step-interval ModelCheckpoint forgets, on resume, that it saved the step resumed
      from, and would save again at the next batch, in the middle of an optimizer step, where the checkpoint cannot
      hold the gradients accumulated so far. It is told, as it would know in the uninterrupted run."""

    def __init__(self, seed):
        self.seed = seed

    def on_train_start(self, trainer, pl_module):
        step = trainer.global_step
        if step == 0:
            return
        for callback in trainer.checkpoint_callbacks:
            every = getattr(callback, "_every_n_train_steps", 0)
            if every and step % every == 0 and hasattr(callback, "_last_global_step_saved"):
                callback._last_global_step_saved = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        torch.manual_seed(batch_seed(self.seed, trainer.current_epoch, batch_idx, trainer.global_rank))
