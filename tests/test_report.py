"""The results report command: run folders in run_qa.py's documented layout read, and its Markdown and figures
written (the tables' and figures' own rules: test_report_tables, test_report_figures)."""

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, ROOT, data_dir_with, run_cli
from report_runs import CURVES, assert_png, data_name, evaluation, make_run, run_config, table_rows

from korsquad import report, report_figures, report_tables
from korsquad.datasets import REGISTRY
from korsquad.metrics import SQUAD_V1, SQUAD_V2


@pytest.fixture
def model_dir(tmp_path):
    """Two finished SQuAD 1.1-style runs, one failed, one still running, one without result.json, one with a
    broken run.json, and a SQuAD 2.0-style data set with one run."""
    squad1, squad2 = data_name(SQUAD_V1), data_name(SQUAD_V2)
    root = tmp_path / "model"
    make_run(root, squad1, "bert-base-cased", run_config(squad1), {"exact_match": 80.123, "f1": 88.456},
             curves=CURVES)
    make_run(root, squad1, "electra-small", run_config(squad1, model_type="electra",
                                                    model_name_or_path="google/electra-small-discriminator",
                                                    learning_rate=1e-4),
             {"exact_match": 81.5, "f1": 87.0}, num_parameters=13_483_522, wall_time_s=42.0,
             curves=CURVES, hardware={"accelerator": "cpu", "devices": 1, "num_nodes": 1, "device_name": "cpu"})
    make_run(root, squad1, "crashed", run_config(squad1), status="failed", error="CUDA out of memory",
             curves={"train_loss": [(1, 6.0)]})
    make_run(root, squad1, "unfinished", run_config(squad1), status="running")
    make_run(root, squad1, "no-result", run_config(squad1))
    broken = root / squad1 / "broken"
    broken.mkdir()
    (broken / "run.json").write_text('{"config": ')
    make_run(root, squad2, "bert-base-cased", run_config(squad2),
             {"exact": 70.0, "f1": 73.25, "total": 10, "HasAns_exact": 60.0, "HasAns_f1": 66.5,
              "HasAns_total": 5, "NoAns_exact": 80.0, "NoAns_f1": 80.0, "NoAns_total": 5,
              "best_exact": 71.0, "best_exact_thresh": -1.5, "best_f1": 74.75, "best_f1_thresh": 0.0,
              "best_exact_null_score_diff_threshold": -1.5, "best_f1_null_score_diff_threshold": -2.25},
             curves=CURVES)
    return root


def test_tables_hold_result_json_numbers_with_best_in_bold(model_dir, tmp_path):
    squad1 = data_name(SQUAD_V1)
    index, written = report.write_report(model_dir, tmp_path / "figs")
    markdown = (tmp_path / "figs" / f"{squad1}.md").read_text()
    rows = table_rows(markdown)
    assert set(rows) == {"bert-base-cased", "electra-small"}
    for run_name in rows:
        result = json.loads((model_dir / squad1 / run_name / "result.json").read_text())
        for header, key in (("Exact Match (%)", "exact_match"), ("F1 Score (%)", "f1")):
            assert rows[run_name][header].strip("*") == f"{result[key]:.2f}"
    # electra has the best EM, bert the best F1: each is bold in its own column only
    assert rows["electra-small"]["Exact Match (%)"] == "**81.50**"
    assert rows["bert-base-cased"]["Exact Match (%)"] == "80.12"
    assert rows["bert-base-cased"]["F1 Score (%)"] == "**88.46**"
    assert rows["electra-small"]["F1 Score (%)"] == "87.00"
    assert rows["bert-base-cased"]["Size"] == "22.7M"
    assert rows["electra-small"]["model_name_or_path"] == "google/electra-small-discriminator"
    # only the setting that differs gets a column; the shared ones are listed once
    assert rows["electra-small"]["learning_rate"] == "0.0001"
    assert "batch_size" not in rows["electra-small"]
    assert "`batch_size=16`" in markdown
    assert rows["bert-base-cased"]["Hardware"] == "1× NVIDIA H100 80GB HBM3"
    assert rows["electra-small"]["Hardware"] == "CPU"
    assert rows["bert-base-cased"]["Wall time"] == "12 min 34 s"
    assert rows["electra-small"]["Wall time"] == "42.0 s"
    # the index carries every data set's table
    assert markdown.split("\n", 1)[1] in index
    assert (tmp_path / "figs" / "results.md").read_text() == index
    assert all(path.exists() for path in written)


def test_squad_v2_table_shows_split_and_tuned_threshold(model_dir, tmp_path):
    squad2 = data_name(SQUAD_V2)
    report.write_report(model_dir, tmp_path / "figs")
    row = table_rows((tmp_path / "figs" / f"{squad2}.md").read_text())["bert-base-cased"]
    assert row["Exact Match (%)"] == "**70.00**"
    assert row["F1 Score (%)"] == "**73.25**"
    assert row["HasAns F1"] == "**66.50**"
    assert row["NoAns EM"] == "**80.00**"
    assert row["best F1"] == "**74.75**"
    # the value that reproduces best F1 when given back to run_qa.py, not the official best_f1_thresh (0.0 where
    # every null score difference is negative, which answers every question)
    assert row["best F1 --null_score_diff_threshold"] == "-2.250"


def test_each_evaluation_row_shows_its_own_question_count_and_do_eval(tmp_path):
    """A run trained without --do_eval on 60 questions' limit, then evaluated twice (60 and 30 questions): both rows
    say do_eval true, and each its own count; no single max_eval_samples is claimed for both."""
    squad1 = data_name(SQUAD_V1)
    scores = {"exact_match": 10.0, "f1": 20.0}
    make_run(tmp_path / "model", squad1, "later", run_config(squad1, do_train=True, do_eval=False,
                                                             max_eval_samples=60),
             evaluations=[evaluation(scores, 60), evaluation(dict(scores, f1=25.0), 30)])
    index, _ = report.write_report(tmp_path / "model", tmp_path / "out")
    rows = table_rows(index)
    assert {name: row["eval_questions"] for name, row in rows.items()} == {
        "later (evaluation 1, evaluation)": "60", "later (evaluation 2, evaluation)": "30"}
    assert "`do_eval=true`" in index and "do_eval=false" not in index
    assert "max_eval_samples" not in index


def test_results_file_keeps_the_sections_of_data_sets_reported_before(tmp_path):
    """Two model_dirs, one data set each, reported into one folder: the second report adds its section to
    results.md and leaves the first's files as they were."""
    squad1, squad2 = data_name(SQUAD_V1), data_name(SQUAD_V2)
    make_run(tmp_path / "a", squad1, "r1", run_config(squad1), {"exact_match": 80.0, "f1": 88.0})
    make_run(tmp_path / "b", squad2, "r2", run_config(squad2),
             {"exact": 70.0, "f1": 73.0, "total": 2, "HasAns_exact": 60.0, "HasAns_f1": 66.0, "HasAns_total": 1,
              "NoAns_exact": 80.0, "NoAns_f1": 80.0, "NoAns_total": 1})
    out = tmp_path / "out"
    report.write_report(tmp_path / "a", out)
    first = {path.name: path.read_bytes() for path in out.iterdir() if path.name != "results.md"}
    index, written = report.write_report(tmp_path / "b", out)
    assert {path.name: path.read_bytes() for path in out.iterdir() if path.name in first} == first
    assert not any(path.name in first for path in written)
    assert table_rows(index[index.index(f"## {squad1}"):])["r1"]["F1 Score (%)"] == "**88.00**"
    assert table_rows(index[index.index(f"## {squad2}"):])["r2"]["F1 Score (%)"] == "**73.00**"
    assert f"under `{tmp_path / 'a'}`" in index and f"under `{tmp_path / 'b'}`" in index
    assert (out / "results.md").read_text() == index


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
        done = subprocess.run([sys.executable, "-m", "korsquad.report", "--model_dir", str(runs)], cwd=clone, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        status = subprocess.run([git, "status", "--porcelain", "--untracked-files=all"], cwd=clone, env=env,
                                capture_output=True, text=True, check=True).stdout
        assert status == "", status
        assert {path.name: path.read_bytes() for path in (clone / "figs").iterdir()} == figs
        results = clone / runs / "report" / "results.md"
        assert f"wrote {Path(runs) / 'report' / 'results.md'}" in done.stdout
        assert f"## {data_name(SQUAD_V1)}" in results.read_text() and f"## {data_name(SQUAD_V2)}" in results.read_text()


def test_runs_without_results_are_listed_with_their_reason(model_dir, tmp_path):
    squad1 = data_name(SQUAD_V1)
    index, _ = report.write_report(model_dir, tmp_path / "figs")
    markdown = (tmp_path / "figs" / f"{squad1}.md").read_text()
    failures = {m.group(1): m.group(2) for m in re.finditer(rf"^- `{re.escape(squad1)}/(\S+)`: (.*)$", markdown,
                                                             re.MULTILINE)}
    assert set(failures) == {"crashed", "unfinished", "no-result", "broken"}
    assert "CUDA out of memory" in failures["crashed"]
    assert "running" in failures["unfinished"]
    assert "no result.json" in failures["no-result"]
    assert "run.json" in failures["broken"] and "not valid JSON" in failures["broken"]
    assert "`" + squad1 + "/crashed`" in index


def test_result_json_without_the_metric_keys_is_a_reported_problem(tmp_path):
    squad2 = data_name(SQUAD_V2)
    make_run(tmp_path, squad2, "wrong-keys", run_config(squad2), {"exact_match": 1.0, "f1": 2.0})
    (run,) = report.collect_runs(tmp_path)
    assert run.result is None
    assert "'exact'" in run.problem


def test_figures_are_png_files_and_curves_come_from_event_files(model_dir, tmp_path):
    squad1 = data_name(SQUAD_V1)
    _, written = report.write_report(model_dir, tmp_path / "figs")
    for spec_name in (squad1, data_name(SQUAD_V2)):
        for suffix in ("scores", "curves"):
            path = tmp_path / "figs" / f"{spec_name}_{suffix}.png"
            assert path in written
            assert_png(path)
    curves = report_figures.read_curves(model_dir / squad1 / "bert-base-cased")
    assert curves["train_loss"][0] == [1, 2, 3]
    assert curves["train_loss"][1] == pytest.approx([5.0, 4.1, 3.2])
    assert curves["val_f1"] == ([2, 3], pytest.approx([40.0, 55.5]))
    assert report_figures.read_curves(model_dir / squad1 / "unfinished") == {}
    # the figures are linked from the Markdown
    assert f"]({squad1}_curves.png)" in (tmp_path / "figs" / f"{squad1}.md").read_text()


def test_damaged_event_file_loses_only_its_curve(tmp_path):
    squad1 = data_name(SQUAD_V1)
    run_dir = make_run(tmp_path / "model", squad1, "damaged", run_config(squad1), {"exact_match": 1.0, "f1": 2.0})
    (run_dir / "logs" / "version_0").mkdir(parents=True)
    (run_dir / "logs" / "version_0" / "events.out.tfevents.0.host").write_bytes(b"not a TFRecord" * 20)
    index, _ = report.write_report(tmp_path / "model", tmp_path / "out")
    assert table_rows(index)["damaged"]["F1 Score (%)"] == "**2.00**"
    assert not (tmp_path / "out" / f"{squad1}_curves.png").exists()


def test_cli_prints_tables_and_paths(model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert report.main(["--model_dir", str(model_dir), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "| Model Type | model_name_or_path | Size | Exact Match (%) | F1 Score (%) |" in stdout
    assert f"wrote {out / 'results.md'}" in stdout
    assert f"wrote {out / (data_name(SQUAD_V1) + '_scores.png')}" in stdout


def test_cli_missing_model_dir_is_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        report.main(["--model_dir", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --model_dir") and err.count("\n") == 1


def test_cli_without_runs_says_so_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    assert report.main(["--model_dir", str(tmp_path / "model"), "--out", str(tmp_path / "out")]) == 0
    assert "no run folders found" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_folder_outside_the_registry_is_reported_not_dropped(tmp_path):
    make_run(tmp_path / "model", "not_a_dataset", "run", run_config("not_a_dataset"), {"f1": 1.0})
    index, _ = report.write_report(tmp_path / "model", tmp_path / "out")
    assert "`not_a_dataset/run`: data set 'not_a_dataset' is not in the registry" in index


def test_cli_out_that_is_a_file_is_one_line_error(model_dir, tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        report.main(["--model_dir", str(model_dir), "--out", str(tmp_path / "taken")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: --out")


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


def test_cli_unknown_flag_is_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        report.main(["--model_dirs", "x"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: unknown flag --model_dirs (did you mean --model_dir?); see --help\n"


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
