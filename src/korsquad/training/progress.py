"""The training's logging points and its progress output.

Every `--logging_steps` optimizer steps, TrainingLog logs one set of scalars, all at that step (one CSV row):
`train_loss`, the mean loss of the micro-batches since the last logging point (with gradient accumulation, of every
micro-batch of those steps; under DDP, of every process), as the Hugging Face Trainer logs it; `lr`, the learning
rate of that step; `samples_per_sec`, `tokens_per_sec` and, on GPU, `mfu` (korsquad.training.throughput); and `epoch`.

`epoch` is the fractional epoch of the step (1.5: half-way through the second epoch), as on the progress line.

Progress goes where it suits: a bar on a terminal; otherwise (nohup, SLURM, a pipe) one plain line per logging point
and one per validation, no carriage returns, and a line at least every LINE_INTERVAL_SECONDS between them (training
or validating), so a log file never goes silent on a slow machine; nothing at `--log_level warning` or `error`.
"""

import sys
import time
from datetime import timedelta

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar

from ..common.console import LEVELS, log
from .throughput import ThroughputWindow

# Off a terminal, the longest a training goes without a progress line.
LINE_INTERVAL_SECONDS = 60


def progress_mode(log_level, stdout=None):
    """"bar" on a terminal, "lines" elsewhere, None when info lines are not wanted."""
    if LEVELS[log_level] > LEVELS["info"]:
        return None
    stdout = stdout or sys.stdout
    return "bar" if stdout.isatty() else "lines"


class LossWindow:
    """The sum and count of the micro-batch losses since the last `take`. The sum stays on the device (no
    synchronization per step)."""

    def __init__(self):
        self._sum = None
        self._count = 0

    def add(self, loss):
        loss = loss.detach().float()
        self._sum = loss if self._sum is None else self._sum + loss
        self._count += 1

    def take(self, reduce=lambda totals: totals):
        """The mean loss of the window (`reduce` sums the (sum, count) pair across processes), and a new window;
        None when the window is empty everywhere."""
        local = torch.zeros(2, dtype=torch.float64) if self._sum is None else torch.stack(
            [self._sum.double(), self._sum.new_tensor(self._count, dtype=torch.float64)])
        total, count = reduce(local).tolist()
        self._sum, self._count = None, 0
        return total / count if count else None


def format_duration(seconds):
    return str(timedelta(seconds=round(seconds)))


def format_line(step, total_steps, epoch, metrics, elapsed, remaining):
    """One logging point as a plain line, e.g. `step 20/310 | epoch 0.13 | loss 4.5123 | lr 2.70e-05 |
    11.3 samples/s | elapsed 0:01:02 | remaining 0:14:55`."""
    parts = [f"step {step}/{total_steps}" if total_steps else f"step {step}", f"epoch {epoch:.2f}"]
    if metrics.get("train_loss") is not None:
        parts.append(f"loss {metrics['train_loss']:.4f}")
    if metrics.get("lr") is not None:
        parts.append(f"lr {metrics['lr']:.2e}")
    if metrics.get("samples_per_sec") is not None:
        parts.append(f"{metrics['samples_per_sec']:.1f} samples/s")
    parts.append(f"elapsed {format_duration(elapsed)}")
    if remaining is not None:
        parts.append(f"remaining {format_duration(remaining)}")
    return " | ".join(parts)


def format_validating(step, batch, total_batches, elapsed):
    """A line while the validation at `step` runs, e.g. `validating at step 174: batch 40/75 | elapsed 0:04:10`."""
    return f"validating at step {step}: batch {batch}/{total_batches} | elapsed {format_duration(elapsed)}"


class LineTimer:
    """Whether a plain progress line is due: `interval` seconds of `clock` since the last line (any line)."""

    def __init__(self, clock, interval=LINE_INTERVAL_SECONDS):
        self.clock = clock
        self.interval = interval
        self._last = None

    def printed(self):
        self._last = self.clock()

    def due(self):
        return self._last is not None and self.clock() - self._last >= self.interval


def format_validation(step, scores):
    return f"validation at step {step}: " + ", ".join(f"{name[4:]} {value:.2f}" for name, value in scores.items())


class TrainingLog(pl.Callback):
    """Logs the training scalars every `logging_steps` optimizer steps (module docstring); `lines`: also print them
    as a plain progress line, the validation scores as another, and a line whenever LINE_INTERVAL_SECONDS of `clock`
    passed without one. `latest` holds the last logged scalars (for the progress bar)."""

    def __init__(self, logging_steps, *, peak_tflops=None, lines=False, clock=time.perf_counter):
        super().__init__()
        self.logging_steps = logging_steps
        self.lines = lines
        self.clock = clock
        self.timer = LineTimer(clock)
        self.loss = LossWindow()
        self.throughput = ThroughputWindow(peak_tflops)
        self.latest = {}
        self._step_lr = None  # the learning rate of the latest optimizer step
        self._logged_step = None
        self._started = None
        self._first_step = 0
        self._validating_since = None
        self._validation_seconds = 0.0

    def setup(self, trainer, pl_module, stage):
        if stage == "fit":
            self.throughput.setup(trainer, pl_module)

    def on_train_start(self, trainer, pl_module):
        self.loss = LossWindow()  # a Trainer fitted again starts afresh
        self.throughput.reset(None)
        self._started = self.clock()
        self.timer.printed()
        self._first_step = trainer.global_step  # after --resume, the steps this process trains
        self._validation_seconds = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.throughput.start()

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        # by on_train_batch_end Lightning has stepped the schedule to the next step's rate
        self._step_lr = optimizer.param_groups[0]["lr"]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # Lightning divides the loss it hands callbacks by accumulate_grad_batches (for backward): undone here
        self.loss.add(outputs["loss"] * trainer.accumulate_grad_batches)
        self.throughput.add(batch)
        step = trainer.global_step
        if step > 0 and step % self.logging_steps == 0 and step != self._logged_step:
            self._logged_step = step  # the other micro-batches of an accumulated step find it logged
            self._log(trainer, pl_module, step, batch_idx)
        elif self.lines and trainer.is_global_zero and self.timer.due():
            # between logging points: where the run is, with nothing that needs the other processes
            self._print_line(trainer, step, {"lr": self._step_lr}, batch_idx)

    def _log(self, trainer, pl_module, step, batch_idx):
        reduce = lambda totals: trainer.strategy.reduce(totals.to(pl_module.device), reduce_op="sum").cpu()  # noqa: E731
        metrics = {"train_loss": self.loss.take(reduce), "lr": self._step_lr,
                   **self.throughput.take(trainer.strategy), "epoch": fractional_epoch(trainer, batch_idx)}
        self.latest = metrics
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
        if self.lines and trainer.is_global_zero:
            self._print_line(trainer, step, metrics, batch_idx)

    def _print_line(self, trainer, step, metrics, batch_idx):
        log.info(format_line(step, self._total_steps(trainer), fractional_epoch(trainer, batch_idx), metrics,
                             *self._times(step, trainer)))
        self.timer.printed()

    @staticmethod
    def _total_steps(trainer):
        total = trainer.estimated_stepping_batches
        return int(total) if total != float("inf") else None

    def _times(self, step, trainer):
        """(elapsed wall seconds, remaining seconds at this run's training pace, or None)."""
        elapsed = self.clock() - self._started
        total, done = self._total_steps(trainer), step - self._first_step
        if total is None or done <= 0:
            return elapsed, None
        return elapsed, (elapsed - self._validation_seconds) / done * (total - step)

    def on_validation_start(self, trainer, pl_module):
        if trainer.state.fn == "fit":
            self.throughput.pause()
            self._validating_since = self.clock()

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if self._validating_since is not None and self.lines and trainer.is_global_zero and self.timer.due():
            total = trainer.num_val_batches[dataloader_idx] if trainer.num_val_batches else "?"
            log.info(format_validating(trainer.global_step, batch_idx + 1, total, self.clock() - self._started))
            self.timer.printed()

    def on_validation_end(self, trainer, pl_module):
        if self._validating_since is None:
            return
        self.throughput.resume()
        self._validation_seconds += self.clock() - self._validating_since
        self._validating_since = None
        scores = {name: float(value) for name, value in trainer.callback_metrics.items() if name.startswith("val_")}
        if self.lines and trainer.is_global_zero and scores:
            log.info(format_validation(trainer.global_step, scores))
            self.timer.printed()


def fractional_epoch(trainer, batch_idx):
    """The epoch with the part of it done after batch `batch_idx` (0.5: half-way through the first)."""
    return trainer.current_epoch + (batch_idx + 1) / max(trainer.num_training_batches, 1)


class ProgressBar(TQDMProgressBar):
    """Lightning's bar, showing the last logged train_loss and lr (already on the host: no synchronization)."""

    def __init__(self, training_log=None):
        super().__init__()
        self.training_log = training_log

    def get_metrics(self, trainer, pl_module):
        metrics = super().get_metrics(trainer, pl_module)
        latest = self.training_log.latest if self.training_log is not None else {}
        if latest.get("train_loss") is not None:
            metrics["loss"] = f"{latest['train_loss']:.4f}"
        if "lr" in latest:
            metrics["lr"] = f"{latest['lr']:.2e}"
        return metrics
