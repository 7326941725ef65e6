"""korsquad.experiments.table: the results table in the 2021 layout, a mean ± sd row per model over its seeds, the
reference scores and the difference, and the cells without results."""

import statistics

from korsquad.experiments.spec import load_experiment
from korsquad.experiments.state import CellState
from korsquad.experiments.table import experiment_markdown, write_table


def two_models(tmp_path, extra=""):
    path = tmp_path / "exp.yaml"
    path.write_text(f"output_dir: {tmp_path / 'out'}\ndata_sets: [korquad_v1.0]\nseeds: [1, 2, 3]\n{extra}"
                    "sizes: {small: {gpus: 1}, base: {gpus: 1}}\nmodels:\n"
                    "  - {model_type: koelectra, model_name_or_path: org/koelectra-base, size: base,\n"
                    "     reference: {exact_match: 83.92, f1: 92.92}}\n"
                    "  - {model_type: koelectra, model_name_or_path: org/koelectra-small, size: small}\n")
    return load_experiment(path)


def table_rows(markdown):
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown.splitlines()
            if line.startswith("| ")]


def test_a_row_per_model_with_mean_and_sd_over_seeds_beside_its_reference(tmp_path):
    experiment = two_models(tmp_path)
    cells = experiment.cells
    scores = [(83.0, 92.0), (84.0, 93.5), (84.5, 93.0)]
    states = {cell: CellState("done", {"exact_match": em, "f1": f1}, 60.0)
              for cell, (em, f1) in zip(cells[:3], scores)}
    states[cells[3]] = CellState("done", {"exact_match": 80.0, "f1": 89.0}, 30.0)
    states[cells[4]] = CellState("failed", detail="error: out of memory")
    states[cells[5]] = CellState("pending", detail="not started")
    markdown = experiment_markdown(experiment, states)
    header, base, small = table_rows(markdown)
    assert header == ["Model Type", "model_name_or_path", "Size", "Exact Match (%)", "F1 Score (%)", "n",
                      "reference Exact Match (%)",
                      "reference F1 Score (%)", "Δ Exact Match", "Δ F1 Score"]
    em_mean, em_sd = statistics.fmean([s[0] for s in scores]), statistics.stdev([s[0] for s in scores])
    f1_mean = statistics.fmean([s[1] for s in scores])
    assert base == ["koelectra", "org/koelectra-base", "Base", f"{em_mean:.2f} ± {em_sd:.2f}",
                    f"{f1_mean:.2f} ± {statistics.stdev([s[1] for s in scores]):.2f}", "3", "83.92", "92.92",
                    f"{em_mean - 83.92:+.2f}", f"{f1_mean - 92.92:+.2f}"]
    # one seed of three with results: its score, and n says so; no reference, no difference
    assert small == ["", "org/koelectra-small", "Small", "80.00", "89.00", "1 of 3", "—", "—", "—", "—"]
    assert "- `org-koelectra-small-seed2`: failed: error: out of memory" in markdown
    assert "- `org-koelectra-small-seed3`: pending: not started" in markdown


def test_the_table_is_written_to_the_output_folder_with_the_grid_values(tmp_path):
    experiment = two_models(tmp_path, "grid: {learning_rate: [3e-5, 5e-5]}\n")
    states = {cell: CellState("done", {"exact_match": 1.0, "f1": 2.0}) for cell in experiment.cells}
    markdown, path = write_table(experiment, states)
    assert path == tmp_path / "out" / "results.md" and path.read_text() == markdown
    header, *rows = table_rows(markdown)
    assert header[:5] == ["Model Type", "model_name_or_path", "Size", "learning_rate", "Exact Match (%)"]
    assert [row[3] for row in rows] == ["3e-05", "5e-05", "3e-05", "5e-05"]
    assert all(row[6] == "3" for row in rows) and rows[0][4] == "1.00 ± 0.00"
