"""The report's Markdown (korsquad.analysis.report_tables): columns from the data set's metric record, formatting, seed
groups."""

import pytest
from report_runs import data_name, run_config, table_rows

from korsquad.analysis import report_tables
from korsquad.analysis.report import Run
from korsquad.data.datasets import REGISTRY
from korsquad.data.metrics import KLUE_MRC, SQUAD_V1, SQUAD_V2


def scored_run(spec_name, run_name, result, **config):
    return Run(spec_name, run_name, None, {"config": run_config(spec_name, run_name=run_name, **config)}, result,
               None)


def test_score_columns_of_every_data_set_start_with_em_and_the_primary_key():
    for spec in REGISTRY.values():
        (_, em_key), (_, second_key) = report_tables.score_columns(spec)[:2]
        assert (em_key, second_key) == report_tables.required_keys(spec), spec.name
        assert second_key == spec.metric.primary_key, spec.name
        assert em_key in spec.metric.score({"q": ["x"]}, {"q": "x"}), spec.name


def test_score_columns_name_each_category_of_the_metric():
    klue = REGISTRY[data_name(KLUE_MRC)]
    assert report_tables.score_columns(klue) == (
        ("Exact Match (%)", "exact_match"), ("ROUGE-W (%)", "rouge_w"),
        ("type 1 EM", "type1_exact_match"), ("type 1 ROUGE-W", "type1_rouge_w"),
        ("type 2 EM", "type2_exact_match"), ("type 2 ROUGE-W", "type2_rouge_w"),
        ("type 3 EM", "type3_exact_match"), ("type 3 ROUGE-W", "type3_rouge_w"))
    squad2 = REGISTRY[data_name(SQUAD_V2)]
    assert [header for header, _ in report_tables.score_columns(squad2)] == [
        "Exact Match (%)", "F1 Score (%)", "HasAns EM", "HasAns F1", "NoAns EM", "NoAns F1", "best F1",
        "best F1 --null_score_diff_threshold"]
    # every column is a key the evaluation's result holds: the metric's own scores (best_* given na-probs) and the
    # threshold that reproduces best F1 (korsquad.decoding.postprocess)
    result = SQUAD_V2.score({"a": ["x"], "b": []}, {"a": "x", "b": ""}, {"a": 0.1, "b": 0.9})
    result[SQUAD_V2.tuned_flag_key("f1")] = 0.1
    assert {key for _, key in report_tables.score_columns(squad2)} <= set(result)


def test_results_table_bolds_the_best_score_but_never_a_threshold():
    squad2 = data_name(SQUAD_V2)
    base = {"exact": 70.0, "f1": 73.0, "total": 2, "best_f1": 74.0}
    runs = [scored_run(squad2, "low", dict(base, best_f1_null_score_diff_threshold=-1.0), seed=1),
            scored_run(squad2, "high", dict(base, f1=75.0, best_f1_null_score_diff_threshold=-2.0), seed=2)]
    rows = table_rows(report_tables.results_table(REGISTRY[squad2], runs))
    assert (rows["high"]["F1 Score (%)"], rows["low"]["F1 Score (%)"]) == ("**75.00**", "73.00")
    column = "best F1 --null_score_diff_threshold"
    assert rows["low"][column] == "-1.000" and rows["high"][column] == "-2.000"
    assert rows["low"]["HasAns EM"] == "—"  # a key this result lacks
    assert rows["low"]["seed"] == "1"  # the setting that differs gets a column


def test_seed_groups_keep_runs_alike_but_for_the_seed():
    squad1 = data_name(SQUAD_V1)
    runs = [scored_run(squad1, f"s{seed}", {"exact_match": 10.0 * seed, "f1": 20.0 * seed}, seed=seed)
            for seed in (1, 2, 3)]
    other = scored_run(squad1, "other", {"exact_match": 1.0, "f1": 2.0}, seed=1, learning_rate=1e-4)
    (group,) = report_tables.seed_groups(runs + [other])
    assert [run.run_name for run in group] == ["s1", "s2", "s3"]
    (row,) = table_rows(report_tables.seed_table(REGISTRY[squad1], [group])).values()
    assert row["Exact Match (%)"] == "20.00 ± 10.00" and row["F1 Score (%)"] == "40.00 ± 20.00"
    assert (row["n"], row["seeds"]) == ("3", "1, 2, 3")


@pytest.mark.parametrize("num_parameters, text", [(22_713_216, "22.7M"), (335_141_888, "335.1M"),
                                                  (1_500_000_000, "1.5B"), (980_000, "980.0K"), (12, "12")])
def test_format_size(num_parameters, text):
    assert report_tables.format_size(num_parameters) == text


def test_format_hardware_counts_devices_over_nodes():
    hardware = {"accelerator": "gpu", "devices": 4, "num_nodes": 2, "device_name": "NVIDIA H100 80GB HBM3"}
    assert report_tables.format_hardware(hardware) == "8× NVIDIA H100 80GB HBM3"


def test_format_scores_bolds_every_tie_as_displayed():
    assert report_tables.format_scores([80.001, 80.004, 79.0, None]) == ["**80.00**", "**80.00**", "79.00", "—"]


def test_split_settings_treats_a_missing_key_as_differing():
    differing, shared = report_tables.split_settings([{"a": 1, "b": 2, "model_type": "bert"},
                                                      {"a": 1, "model_type": "electra"}])
    assert differing == ["b"]
    assert shared == {"a": 1}
