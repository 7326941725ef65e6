"""Run folders as run_qa.py writes them, for the report's tests (test_report, test_report_tables,
test_report_figures)."""

import json
from pathlib import Path

from korsquad.data.datasets import REGISTRY

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def data_name(metric):
    """A registry data set scored by `metric` (names come from the registry, never typed here)."""
    return next(name for name, spec in REGISTRY.items() if spec.metric is metric)


def run_config(data_name, **overrides):
    config = dict(model_type="bert", model_name_or_path="bert-base-cased", data_name=data_name,
                  max_seq_length=384, doc_stride=128, batch_size=16, learning_rate=3e-5, num_train_epochs=3,
                  precision="32-true", seed=42)
    config.update(overrides)
    return config


def make_run(model_dir, data_name, run_name, config, result=None, status="finished", error=None,
             num_parameters=22_713_216, wall_time_s=754.2, curves=None, hardware=None, evaluations=None):
    """A run folder as run_qa.py writes it; `curves` {tag: [(step, value), ...]} go into a real event file,
    `evaluations` (evaluation_entry's) into evaluations.json, the last one's result also into result.json."""
    run_dir = Path(model_dir) / data_name / run_name
    run_dir.mkdir(parents=True)
    info = {"config": config, "status": status, "error": error, "started_at": "2025-01-01T00:00:00",
            "finished_at": None if status == "running" else "2025-01-01T00:12:34",
            "wall_time_s": wall_time_s,
            "hardware": hardware or {"accelerator": "gpu", "devices": 1, "num_nodes": 1,
                                     "device_name": "NVIDIA H100 80GB HBM3"},
            "num_parameters": num_parameters, "train_steps": 100}
    (run_dir / "run.json").write_text(json.dumps(info))
    if evaluations:
        entries = [dict(entry, label=f"evaluation {number}") for number, entry in enumerate(evaluations, 1)]
        (run_dir / "evaluations.json").write_text(json.dumps(entries))
        result = evaluations[-1]["result"]
    if result is not None:
        (run_dir / "result.json").write_text(json.dumps(result))
    if curves:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(run_dir / "logs" / "version_0"))
        for tag, points in curves.items():
            for step, value in points:
                writer.add_scalar(tag, value, step)
        writer.close()
    return run_dir


def evaluation(result, questions, during="evaluation", null_score_diff_threshold=0.0, step=100):
    """An evaluations.json entry as korsquad.runs.record.evaluation_entry writes it."""
    return {"at": "2025-01-02T00:00:00+00:00", "during": during, "dev_file": "/data/dev.json", "dev_digest": "ab" * 32,
            "questions": questions, "window": {"max_seq_length": 384, "doc_stride": 128, "max_query_length": 64},
            "decoding": {"n_best_size": 20, "max_answer_length": 30,
                         "null_score_diff_threshold": null_score_diff_threshold},
            "checkpoint": "/runs/x/checkpoints/best.ckpt", "checkpoint_step": step, "result": result}


def table_rows(markdown):
    """{run name (last column): {header: cell}} of the first table in the Markdown."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    header, rows = split[0], split[2:]
    return {row[-1]: dict(zip(header, row)) for row in rows}


def assert_png(path):
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE


CURVES = {"train_loss": [(1, 5.0), (2, 4.1), (3, 3.2)], "val_f1": [(2, 40.0), (3, 55.5)]}
