"""The results report command: run folders in run_qa.py's documented layout read, and its Markdown and figures
written (the tables' and figures' own rules: test_report_tables, test_report_figures)."""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, ROOT, data_dir_with, run_cli
from report_helpers import model_dir
from report_runs import assert_png, data_name, table_rows

from korsquad.analysis import report, report_figures, report_tables
from korsquad.data.datasets import REGISTRY
from korsquad.data.metrics import SQUAD_V1, SQUAD_V2


def test_report_from_a_clone_writes_beside_the_runs_and_leaves_git_status_clean(model_dir, tmp_path):
    """The command run from a clone of the project (tracked figs/ and .gitignore): nothing in the clone changes;
    the report is in <model_dir>/report/, for a model_dir outside the clone and for its ./model."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    clone = tmp_path / "clone"
    shutil.copytree(ROOT / "figs", clone / "figs")
    shutil.copy(ROOT / ".gitignore", clone / ".gitignore")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "figs"]):
        subprocess.run([git, *command], cwd=clone, env=env, check=True)
    figs = {path.name: path.read_bytes() for path in (clone / "figs").iterdir()}
    shutil.copytree(model_dir, clone / "model")
    for runs in (model_dir, clone / "model", "model"):
        done = subprocess.run([sys.executable, "-m", "korsquad", "report", "--model_dir", str(runs)], cwd=clone,
                              env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        status = subprocess.run([git, "status", "--porcelain", "--untracked-files=all"], cwd=clone, env=env,
                                capture_output=True, text=True, check=True).stdout
        assert status == "", status
        assert {path.name: path.read_bytes() for path in (clone / "figs").iterdir()} == figs
        results = clone / runs / "report" / "results.md"
        assert f"wrote {Path(runs) / 'report' / 'results.md'}" in done.stdout
        assert f"## {data_name(SQUAD_V1)}" in results.read_text() and f"## {data_name(SQUAD_V2)}" in results.read_text()


@pytest.mark.slow
def test_report_on_real_cpu_runs_of_run_qa(tiny_bert, tmp_path):
    """Two short real runs of run_qa.py (tiny BERT, CPU) and a broken run folder beside them."""
    squad1 = data_name(SQUAD_V1)
    tiny = FIXTURES / "squad_v1_tiny.json"
    model_dir = tmp_path / "model"

    def train_and_evaluate(run_name, learning_rate):
        # A data folder per run: the two runs go side by side and each builds its own feature cache.
        data_dir = data_dir_with(tmp_path / run_name, squad1, train=tiny, dev=tiny)
        return run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", squad1,
                       "--data_dir", data_dir, "--output_dir", model_dir, "--run_name", run_name,
                       "--do_train", "--do_eval", "--accelerator", "cpu", "--num_train_epochs", "1",
                       "--max_train_samples", "8", "--max_eval_samples", "8", "--batch_size", "4",
                       "--max_seq_length", "128", "--doc_stride", "64", "--max_query_length", "32",
                       "--logging_steps", "1", "--learning_rate", learning_rate)

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(train_and_evaluate, ("tiny-a", "tiny-b"), ("1e-3", "3e-4")))
    for done in runs:
        assert done.returncode == 0, done.stderr[-3000:]
    broken = model_dir / squad1 / "tiny-broken"
    broken.mkdir()
    (broken / "run.json").write_text("{")

    out = tmp_path / "figs"
    _, written = report.write_report(model_dir, out)
    markdown = (out / f"{squad1}.md").read_text()
    rows = table_rows(markdown)
    assert set(rows) == {"tiny-a", "tiny-b"}
    for run_name, row in rows.items():
        result = json.loads((model_dir / squad1 / run_name / "result.json").read_text())
        assert row["Exact Match (%)"].strip("*") == f"{result['exact_match']:.2f}"
        assert row["F1 Score (%)"].strip("*") == f"{result['f1']:.2f}"
        info = json.loads((model_dir / squad1 / run_name / "run.json").read_text())
        assert row["Size"] == report_tables.format_size(info["num_parameters"])
        assert row["Hardware"] == "CPU"
        assert row["learning_rate"] == json.dumps(info["config"]["learning_rate"])
    assert f"`{squad1}/tiny-broken`" in markdown
    for suffix in ("scores", "curves"):
        assert_png(out / f"{squad1}_{suffix}.png")
    curves = report_figures.read_curves(model_dir / squad1 / "tiny-a")
    assert set(curves) == set(report_figures.CURVE_TAGS)
    assert all(written_path.exists() for written_path in written)


@pytest.mark.slow
def test_runs_differing_only_in_seed_are_grouped(tiny_bert, tmp_path):
    """Three real runs of run_qa.py (tiny BERT, CPU) alike but for --seed: one row of mean ± sd and n, every seed a
    point of the seeds figure; the per-run table keeps a row per seed."""
    squad1 = data_name(SQUAD_V1)
    tiny = FIXTURES / "squad_v1_tiny.json"
    model_dir = tmp_path / "model"
    seeds = (1, 2, 3)
    data_dir = data_dir_with(tmp_path, squad1, train=tiny, dev=tiny)  # one, as a shell loop over seeds has

    def train_and_evaluate(seed):
        return run_cli("--model_type", "bert", "--model_name_or_path", tiny_bert, "--data_name", squad1,
                       "--data_dir", data_dir, "--output_dir", model_dir, "--run_name", f"tiny-seed{seed}",
                       "--seed", seed, "--do_train", "--do_eval", "--accelerator", "cpu", "--num_train_epochs", "1",
                       "--max_train_samples", "8", "--max_eval_samples", "8", "--batch_size", "4",
                       "--max_seq_length", "128", "--doc_stride", "64",
                       "--max_query_length", "32", "--learning_rate", "3e-3", "--logging_steps", "1")

    with ThreadPoolExecutor(len(seeds)) as pool:
        runs = list(pool.map(train_and_evaluate, seeds))
    for done in runs:
        assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads((model_dir / squad1 / f"tiny-seed{seed}" / "result.json").read_text()) for seed in seeds]

    out = tmp_path / "figs"
    report.write_report(model_dir, out)
    markdown = (out / f"{squad1}.md").read_text()
    grouped_at = markdown.index("Runs that differ only in `--seed`")
    assert set(table_rows(markdown[:grouped_at])) == {f"tiny-seed{seed}" for seed in seeds}
    grouped = markdown[grouped_at:]
    (row,) = table_rows(grouped).values()
    for header, key in (("Exact Match (%)", "exact_match"), ("F1 Score (%)", "f1")):
        values = np.array([result[key] for result in results])
        assert row[header] == f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"
    assert row["n"] == "3" and row["seeds"] == "1, 2, 3"
    assert row["Runs"] == "tiny-seed1, tiny-seed2, tiny-seed3"
    assert "seed" not in row  # the varied setting is the group's, not a differing column

    groups = report_tables.seed_groups(report.collect_runs(model_dir))
    figure = report_figures.seed_figure(REGISTRY[squad1], groups)
    from matplotlib.collections import PathCollection

    points = sorted(tuple(xy) for collection in figure.axes[0].collections if isinstance(collection, PathCollection)
                    for xy in collection.get_offsets())
    expected = sorted((offset, result[key]) for offset, key in ((-0.19, "exact_match"), (0.19, "f1"))
                      for result in results)
    assert np.allclose(points, expected)
    assert_png(out / f"{squad1}_seeds.png")
    assert f"({squad1}_seeds.png)" in markdown
