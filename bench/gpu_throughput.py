#!/usr/bin/env python
"""Training throughput on one GPU: a BERT-base-shaped question-answering model (random weights from a config, no
download), 384 tokens, batch 32, bf16-mixed, for

  bare             a plain PyTorch loop (autocast, AdamW with QAModule's groups, clipping, schedule)
  toolkit          Trainer + QAModule as run_qa.py configures them on a GPU (logger, throughput monitor, progress
                   bar refreshed every logging step, learning rate logged as a CPU tensor: no per-step sync)
  toolkit_compile  the toolkit with --compile (torch.compile of the model)

Samples/s and MFU (FLOPs of the real tokens, 6 x non-embedding parameters + 12 x layers x hidden x 384 per token,
over the GPU's dense bf16 peak; korsquad.training.throughput) of each, a table, and one JSON object on the last line.
Runs are interleaved (all variants, then all again; the fastest round of each counts) and the first steps of each
run, where compilation happens, are not timed. Planned for about 3 minutes on an H100, most of it compilation (not
yet run on one); `--smoke` runs tiny shapes on CPU in seconds (a check that the script works, not a measurement).

    python bench/gpu_throughput.py              # on the GPU machine
    python bench/gpu_throughput.py --smoke      # anywhere
"""

import argparse
import copy
import json
import os
import sys
import time
import warnings
from pathlib import Path

import torch
from transformers import AutoModelForQuestionAnswering, BertConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import MetricsCapture, run_bare, run_toolkit, synthetic_batches  # noqa: E402

from korsquad.training.throughput import (  # noqa: E402
    layers_and_hidden, lookup_peak_tflops, non_embedding_parameters, number_format, training_flops)

VARIANTS = ("bare", "toolkit", "toolkit_compile", "toolkit_fsdp")
GPU_ONLY = ("toolkit_fsdp",)  # Lightning's FSDP strategy refuses CPUs
GOAL_MFU = 0.45
DISTINCT_BATCHES = 8  # the steps cycle through these (random tokens: the cost does not depend on them)


def bert_base_config(smoke):
    if smoke:
        return BertConfig(vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=512)
    return BertConfig()  # bert-base-uncased's shape: 12 layers, hidden 768, 12 heads, 3072, vocabulary 30522


def flops_per_sample(model, seq_len):
    layers, hidden = layers_and_hidden(model.config)
    return training_flops(non_embedding_parameters(model), layers, hidden, seq_len, seq_len * seq_len)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny model and shapes on CPU: checks that the script works")
    p.add_argument("--batch_size", type=int)
    p.add_argument("--seq_len", type=int)
    p.add_argument("--steps", type=int, help="steps per run, warm-up included (default 120; smoke 4)")
    p.add_argument("--warmup", type=int, help="untimed first steps of each run (default 20; smoke 1)")
    p.add_argument("--repeats", type=int, default=2, help="rounds of the variants (default: 2)")
    p.add_argument("--precision", default="bf16-mixed", choices=["bf16-mixed", "16-mixed", "32"])
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {','.join(VARIANTS)}")
    p.add_argument("--peak_tflops", type=float, help="peak TFLOP/s of the GPU (default: looked up from its name)")
    p.add_argument("--compile_backend", help="torch.compile backend (default inductor; smoke: eager, which checks "
                                             "the wiring without minutes of C++ compilation)")
    args = p.parse_args(argv)
    small = {"batch_size": 4, "seq_len": 32, "steps": 4, "warmup": 1, "compile_backend": "eager"}
    full = {"batch_size": 32, "seq_len": 384, "steps": 120, "warmup": 20, "compile_backend": "inductor"}
    for name, value in (small if args.smoke else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown or not args.variants:
        p.error(f"--variants: choose from {', '.join(VARIANTS)}")
    if args.smoke or not torch.cuda.is_available():
        args.variants = [v for v in args.variants if v not in GPU_ONLY]
    if not 0 <= args.warmup < args.steps:
        p.error("--warmup must be smaller than --steps")
    if not args.smoke and not torch.cuda.is_available():
        p.error("no GPU here: this benchmark is for a GPU machine (--smoke runs it in miniature on CPU)")
    return args


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = args.peak_tflops
    if peak is None and device.type == "cuda":
        peak = lookup_peak_tflops(device_name, number_format(args.precision, False))

    torch.manual_seed(0)
    template = AutoModelForQuestionAnswering.from_config(bert_base_config(args.smoke))
    distinct = synthetic_batches(DISTINCT_BATCHES, args.batch_size, args.seq_len, template.config.vocab_size)
    batches = [distinct[i % DISTINCT_BATCHES] for i in range(args.steps)]
    # The throughput monitor logs every `warmup` steps: its first window is the warm-up, the others are compared.
    captures = {name: MetricsCapture() for name in VARIANTS if name != "bare"}
    toolkit = dict(logging_steps=args.warmup or 1)
    runners = {
        "bare": lambda: run_bare(copy.deepcopy(template), batches, device, args.precision, args.warmup),
        "toolkit": lambda: run_toolkit(template, batches, device, args.precision, args.warmup,
                                       capture=captures["toolkit"], **toolkit),
        "toolkit_compile": lambda: run_toolkit(template, batches, device, args.precision, args.warmup,
                                               compile_options={"backend": args.compile_backend},
                                               capture=captures["toolkit_compile"], **toolkit),
        # --strategy fsdp on one GPU: checks that the FSDP path trains (sharding pays off only across GPUs)
        "toolkit_fsdp": lambda: run_toolkit(template, batches, device, args.precision, args.warmup,
                                            capture=captures["toolkit_fsdp"], extra_flags=["--strategy", "fsdp"],
                                            **toolkit),
    }
    started = time.perf_counter()
    runs = {name: [] for name in args.variants}
    for r in range(args.repeats):
        for name in args.variants:
            seconds, _ = runners[name]()
            runs[name].append(seconds)
            print(f"  round {r + 1}/{args.repeats} {name:<16} {seconds:8.3f} s", file=sys.stderr, flush=True)

    wall = {name: min(seconds) for name, seconds in runs.items()}  # the fastest round of each
    samples = (args.steps - args.warmup) * args.batch_size
    per_sample = flops_per_sample(template, args.seq_len)
    results = {}
    for name in args.variants:
        rate = samples / wall[name]
        mfu = rate * per_sample / (peak * 1e12) if peak else None
        results[name] = {"samples_per_sec": round(rate, 2), "mfu": None if mfu is None else round(mfu, 4)}
        if name in captures:
            results[name]["monitor"] = monitor_summary(captures[name].logged, args.warmup)
    report = {
        "device": device_name, "smoke": args.smoke, "precision": args.precision, "batch_size": args.batch_size,
        "seq_len": args.seq_len, "timed_steps_per_run": args.steps - args.warmup, "repeats": args.repeats,
        "non_embedding_parameters": non_embedding_parameters(template),
        "tflops_per_sample": round(per_sample / 1e12, 6), "peak_tflops": peak, "results": results,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if "bare" in results:
        report["overhead_vs_bare_pct"] = {name: round(100 * (wall[name] / wall["bare"] - 1), 2)
                                          for name in results if name != "bare"}
    if "toolkit" in results and "toolkit_compile" in results:
        report["compile_speedup"] = round(wall["toolkit"] / wall["toolkit_compile"], 3)
    if "toolkit" in results and results["toolkit"]["mfu"] is not None:
        report["goal_mfu_met"] = results["toolkit"]["mfu"] >= GOAL_MFU
    print_table(report)
    print(json.dumps(report))
    return 0


def monitor_summary(logged, warmup):
    """Mean of what TrainingLog logged after the warm-up window of each run: a check on the GPU that the
    TensorBoard scalars (and the peak it looked up from the GPU's name) agree with the benchmark's own timing."""
    windows = [m for step, m in logged if "samples_per_sec" in m and step > warmup]
    return {key: round(sum(m[key] for m in windows) / len(windows), 4) if windows and key in windows[0] else None
            for key in ("samples_per_sec", "mfu")}


def print_table(report):
    print(f"{report['device']}, {report['precision']}, batch {report['batch_size']} x {report['seq_len']} tokens")
    print(f"{'variant':<16} {'samples/s':>10} {'MFU':>7}   {'monitor samples/s':>17} {'monitor MFU':>11}")
    for name, r in report["results"].items():
        monitor = r.get("monitor", {})
        print(f"{name:<16} {r['samples_per_sec']:>10.2f} {percent(r['mfu']):>7}   "
              f"{rate(monitor.get('samples_per_sec')):>17} {percent(monitor.get('mfu')):>11}")


def rate(value):
    return "-" if value is None else f"{value:.2f}"


def percent(fraction):
    return "-" if fraction is None else f"{100 * fraction:.1f}%"


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
