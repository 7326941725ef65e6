"""The results report command: run folders in run_qa.py's documented layout read, and its Markdown and figures
written (the tables' and figures' own rules: test_report_tables, test_report_figures)."""

import json
import re

import pytest
from report_helpers import model_dir
from report_runs import assert_png, data_name, evaluation, make_run, run_config, table_rows

from korsquad.analysis import report, report_figures
from korsquad.data.metrics import SQUAD_V1, SQUAD_V2


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


def test_cli_unknown_flag_is_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        report.main(["--model_dirs", "x"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: unknown flag --model_dirs (did you mean --model_dir?); see --help\n"
