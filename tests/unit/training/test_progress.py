"""korsquad.training.progress: the window-mean loss against hand computations, the plain progress line, and two short
run_qa.py trainings read back as a user sees them: one MiniLM run at the default level with stdout in a file (plain
lines, no carriage returns, no library noise on stderr, one CSV row per logging point, hp_metric), one with
`--logger none --log_level warning` (no logger folder, no info lines)."""

import csv
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from conftest import FIXTURES, data_dir_with, run_cli, scalars

from korsquad.training import progress
from korsquad.training.progress import LineTimer, LossWindow, TrainingLog, format_line, progress_mode

STEP_SCALARS = {"train_loss", "lr", "samples_per_sec", "tokens_per_sec", "epoch"}
# the library messages every run used to print on stderr (see korsquad.common.console)
NOISE = ("litlogger", "_pytree", "LeafSpec", "weights_only", "log_every_n_steps", "newly initialized")


def test_the_window_mean_is_the_mean_of_the_micro_batches_since_the_last_take():
    window = LossWindow()
    losses = [[4.0, 2.0, 3.0, 1.0], [0.5, 1.5], [2.0, 2.0, 5.0, 3.0]]  # 3 logging points, micro-batch losses
    means = []
    for chunk in losses:
        for loss in chunk:
            window.add(torch.tensor(loss))
        means.append(window.take())
    assert means == [pytest.approx(10 / 4), pytest.approx(2 / 2), pytest.approx(12 / 4)]
    assert window.take() is None  # an empty window logs no loss


def test_the_window_mean_covers_every_process():
    """Under DDP `reduce` sums (sum, count) across processes: 2 processes, one with twice the loss."""
    window = LossWindow()
    for loss in (1.0, 3.0):
        window.add(torch.tensor(loss))
    other = torch.tensor([5.0 + 7.0, 2.0], dtype=torch.float64)
    assert window.take(lambda totals: totals + other) == pytest.approx((1 + 3 + 5 + 7) / 4)


def recording_logger():
    """A Lightning logger keeping what it is given."""
    from pytorch_lightning.loggers import Logger

    class Kept(Logger):
        name, version = "kept", 0

        def __init__(self):
            super().__init__()
            self.logged = []

        def log_metrics(self, metrics, step=None):
            self.logged.append((step, dict(metrics)))

        def log_hyperparams(self, *args, **kwargs):
            pass

    return Kept()


def test_a_tiny_fit_logs_the_window_mean_of_accumulated_micro_batches(tmp_path):
    """6 optimizer steps of 2 micro-batches, logged every 2 steps: 3 logging points, each the mean of its 4
    micro-batch losses, with the learning rate of that step; every scalar of a point in one call at that step."""
    import pytorch_lightning as pl
    from tiny_models import padded_batches, tiny_module
    from torch.utils.data import DataLoader

    seen = []

    class Recorded(type(tiny_module())):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            seen.append((loss.item(), self.trainer.optimizers[0].param_groups[0]["lr"]))
            return loss

    module = Recorded("tiny", learning_rate=1e-3, adam_epsilon=1e-8, weight_decay=0.0, warmup_ratio=0.0,
                      warmup_steps=0, hf_config=tiny_module().hparams.hf_config)
    logger = recording_logger()
    batches, _ = padded_batches(12)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, logger=logger, callbacks=[TrainingLog(2)],
                         accumulate_grad_batches=2, log_every_n_steps=1, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(module, DataLoader(batches, batch_size=None))
    assert [step for step, _ in logger.logged] == [2, 4, 6]
    for n, (step, metrics) in enumerate(logger.logged):
        micro = seen[4 * n:4 * n + 4]
        assert set(metrics) == STEP_SCALARS
        assert metrics["train_loss"] == pytest.approx(sum(loss for loss, _ in micro) / 4, rel=1e-6)
        assert metrics["lr"] == pytest.approx(micro[-1][1])  # the rate the step's optimizer update used
    assert logger.logged[0][1]["lr"] != logger.logged[-1][1]["lr"]  # the linear schedule moved


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_line_is_due_a_minute_after_the_last_one():
    clock = FakeClock()
    timer = LineTimer(clock)
    assert not timer.due()  # nothing started
    timer.printed()
    clock.now += 59.9
    assert not timer.due()
    clock.now += 0.1
    assert timer.due()
    timer.printed()  # any line restarts the minute
    clock.now += 30
    assert not timer.due()


def test_off_a_terminal_a_line_comes_at_least_every_minute_training_and_validating(tmp_path, monkeypatch):
    """12 steps of 25 s (fake clock), logged every 5 steps, then a validation of 4 batches of 25 s: a line at each
    logging point, one whenever a minute passed since the last line (without the loss, which would need every
    process), and the validation scores."""
    import pytorch_lightning as pl
    from tiny_models import padded_batches, tiny_module
    from torch.utils.data import DataLoader

    clock = FakeClock()

    class Timed(type(tiny_module())):
        def training_step(self, batch, batch_idx):
            clock.now += 25
            return super().training_step(batch, batch_idx)

        def validation_step(self, batch, batch_idx):
            clock.now += 25
            self.log("val_f1", 50.0)

    lines = []
    monkeypatch.setattr(progress, "log", type("Lines", (), {"info": staticmethod(lines.append)}))
    module = Timed("tiny", learning_rate=1e-3, adam_epsilon=1e-8, weight_decay=0.0, warmup_ratio=0.0,
                   warmup_steps=0, hf_config=tiny_module().hparams.hf_config)
    batches, _ = padded_batches(12)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, logger=False,
                         callbacks=[TrainingLog(5, lines=True, clock=clock)], log_every_n_steps=1, num_sanity_val_steps=0,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path)
    trainer.fit(module, DataLoader(batches, batch_size=None), DataLoader(batches[:4], batch_size=None))
    # lines at 75 s (a minute after the start), 125 (logging point), 200 (75 after it), 250 (logging point); then
    # validating batches end at 325, 350, 375, 400 s: lines at 325 and 400, and the scores
    assert [line.split(" | ")[0] for line in lines] == [
        "step 3/12", "step 5/12", "step 8/12", "step 10/12", "validating at step 12: batch 1/4",
        "validating at step 12: batch 4/4", "validation at step 12: f1 50.00"]
    assert "loss " not in lines[0] and "loss " in lines[1] and "loss " not in lines[2]
    assert "epoch 0.25 | lr " in lines[0] and "elapsed 0:01:15 | remaining 0:03:45" in lines[0]
    assert lines[4].endswith("elapsed 0:05:25")


def test_the_plain_line_says_where_the_run_is():
    line = format_line(20, 310, 0.1333, {"train_loss": 4.51234, "lr": 2.7e-5, "samples_per_sec": 11.34}, 62.4,
                       895.0)
    assert line == ("step 20/310 | epoch 0.13 | loss 4.5123 | lr 2.70e-05 | 11.3 samples/s | elapsed 0:01:02 | "
                    "remaining 0:14:55")


class Stream:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_suits_where_it_goes():
    assert progress_mode("info", Stream(True)) == "bar"
    assert progress_mode("debug", Stream(False)) == "lines"
    assert progress_mode("warning", Stream(True)) is None and progress_mode("error", Stream(False)) is None


# ---- two short trainings through run_qa.py -----------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tiny_bert, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("progress")
    common = ["--model_type", "bert", "--data_name", "squad_v1.1", "--output_dir", tmp / "model",
              "--do_train", "--accelerator", "cpu", "--max_seq_length", "64", "--doc_stride", "32",
              "--max_query_length", "24", "--batch_size", "4", "--max_train_samples", "4", "--max_eval_samples", "4",
              "--num_train_epochs", "1", "--max_steps", "4", "--logging_steps", "2", "--eval_steps", "2"]
    tiny = FIXTURES / "squad_v1_tiny.json"
    data = {name: data_dir_with(tmp / name, "squad_v1.1", tiny, tiny) for name in ("minilm", "quiet")}
    # stdout and stderr are pipes, as under nohup or SLURM; the two runs side by side (a data folder each), a core each
    with ThreadPoolExecutor(2) as pool:
        minilm = pool.submit(run_cli, *common, "--model_name_or_path", "sentence-transformers/all-MiniLM-L6-v2",
                             "--data_dir", data["minilm"], "--run_name", "minilm", "--logger", "tensorboard,csv")
        quiet = pool.submit(run_cli, *common, "--model_name_or_path", tiny_bert, "--data_dir", data["quiet"],
                            "--run_name", "quiet", "--logger", "none", "--log_level", "warning", "--do_eval")
        minilm, quiet = minilm.result(), quiet.result()
    assert minilm.returncode == 0, minilm.stderr[-3000:]
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    return {"minilm": (minilm, tmp / "model" / "squad_v1.1" / "minilm"),
            "quiet": (quiet, tmp / "model" / "squad_v1.1" / "quiet")}


@pytest.mark.slow
def test_off_a_terminal_progress_is_plain_lines(runs):
    result, _ = runs["minilm"]
    assert "\r" not in result.stdout and "\r" not in result.stderr
    lines = result.stdout.splitlines()
    steps = [line for line in lines if line.startswith("step ")]
    assert [line.split(" | ")[0] for line in steps] == ["step 2/4", "step 4/4"]
    for line in steps:
        assert all(part in line for part in ("epoch ", "loss ", "lr ", "samples/s", "elapsed ", "remaining ")), line
    assert [line.split(":")[0] for line in lines if line.startswith("validation")] == [
        "validation at step 2", "validation at step 4"]


@pytest.mark.slow
def test_a_fresh_minilm_run_prints_no_library_noise(runs):
    result, _ = runs["minilm"]
    for noise in NOISE:
        assert noise not in result.stderr, result.stderr


@pytest.mark.slow
def test_one_csv_row_per_logging_point_with_every_step_scalar(runs):
    _, run_dir = runs["minilm"]
    (version,) = (run_dir / "csv_logs").iterdir()
    with open(version / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    training = [row for row in rows if row["train_loss"]]
    assert [int(row["step"]) for row in training] == [2, 4]
    for row in training:
        assert all(row[name] for name in STEP_SCALARS), row
    assert [int(row["step"]) for row in rows if row["val_f1"]] == [2, 4]


@pytest.mark.slow
def test_hp_metric_is_the_best_f1(runs):
    _, run_dir = runs["minilm"]
    best = json.loads((run_dir / "checkpoints" / "best_checkpoint.json").read_text())
    f1 = [value for _, value in scalars(run_dir, "val_f1")]
    hp_metric = [value for _, value in scalars(run_dir, "hp_metric")]
    assert len(f1) == 2 and hp_metric[-1] == pytest.approx(max(f1)) == pytest.approx(best["score"])
    assert -1 not in hp_metric and hp_metric == sorted(hp_metric)  # the best so far, never Lightning's -1


@pytest.mark.slow
def test_logger_none_trains_and_writes_no_logger_folder(runs):
    _, run_dir = runs["quiet"]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
    assert (run_dir / "checkpoints" / "best.ckpt").is_file() and (run_dir / "best_model").is_dir()
    assert (run_dir / "result.json").is_file()
    assert not any((run_dir / name).exists() for name in ("logs", "csv_logs", "lightning_logs", "mlruns", "wandb"))


@pytest.mark.slow
def test_log_level_warning_prints_no_info_lines(runs):
    result, run_dir = runs["quiet"]
    # only the command's result: the official scores
    assert result.stdout.strip().splitlines() == [json.dumps(json.loads((run_dir / "result.json").read_text()))]
    assert "GPU available" not in result.stderr and "Trainer.fit" not in result.stderr, result.stderr
