"""Result tables and figures generated from run folders, so the published numbers are the runs' own.

`python -m korsquad.report [--model_dir ./model] [--out figs/]` walks every run folder
`<model_dir>/<data_name>/<run_name>/` (layout written by run_qa.py) and writes under --out:
- `<data_name>.md` for each data set with runs: the 2021 README's table (model type, model_name_or_path, size,
  EM, F1; best per column in bold), the settings that differ between its runs, wall time and hardware; for data
  sets scored by the SQuAD 2.0 metric also the HasAns/NoAns split and the tuned no-answer threshold with its best F1;
  runs that differ only in --seed (and their names) also as one row per group: each score's mean ± standard
  deviation over the seeds, and n; then the runs without results, each with the reason. A run evaluated more than
  once (its evaluations.json, see korsquad.evaluations) has a row per evaluation, labelled, each with the scores and
  the settings (dev file and its digest, questions, windows, decoding, checkpoint step) it was measured with;
- `results.md`: every data set's section in one file;
- `<data_name>_scores.png` (EM/F1 per run) and `<data_name>_curves.png` (train_loss and val_f1 by global step,
  read with TensorBoard's EventAccumulator from the run's `logs/`); `<data_name>_seeds.png` where runs differ only
  in --seed (each group's mean ± sd, every seed a point).

It prints the Markdown and the paths written. A missing --model_dir is an error (exit 2); a model_dir without any
run folder is not: the command says so, writes nothing and exits 0.
"""

import dataclasses
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .config import DEFAULT_OUTPUT_DIR
from .datasets import REGISTRY
from .errors import ArgumentParser, UsageError, exit_on_usage_error
from .evaluations import measured_settings
from .jsonio import atomic_write_bytes, load_json
from .runfolder import RunFolder

INDEX_FILE = "results.md"
CURVE_TAGS = ("train_loss", "val_f1")

# (column header, result.json key) of each metric's table; the first two (EM, F1) are required, the others shown
# as "—" when a run's result lacks them (e.g. best_* exist only when the run wrote null odds).
_SQUAD_V2_COLUMNS = (
    ("Exact Match (%)", "exact"), ("F1 Score (%)", "f1"),
    ("HasAns EM", "HasAns_exact"), ("HasAns F1", "HasAns_f1"),
    ("NoAns EM", "NoAns_exact"), ("NoAns F1", "NoAns_f1"),
    ("best F1", "best_f1"), ("best F1 threshold", "best_f1_thresh"),
)
_DEFAULT_COLUMNS = (("Exact Match (%)", "exact_match"), ("F1 Score (%)", "f1"))
# KLUE-MRC: ROUGE-W takes the F1 column's place (it ranks checkpoints), then both per question type.
_KLUE_MRC_COLUMNS = (
    ("Exact Match (%)", "exact_match"), ("ROUGE-W (%)", "rouge_w"),
    ("type 1 EM", "type1_exact_match"), ("type 1 ROUGE-W", "type1_rouge_w"),
    ("type 2 EM", "type2_exact_match"), ("type 2 ROUGE-W", "type2_rouge_w"),
    ("type 3 EM", "type3_exact_match"), ("type 3 ROUGE-W", "type3_rouge_w"),
)
_SCORE_COLUMNS = {"squad_v2": _SQUAD_V2_COLUMNS, "klue_mrc": _KLUE_MRC_COLUMNS}
# A threshold is a setting found by tuning, not a score: there is no "best" one to put in bold.
_NOT_RANKED = {"best_f1_thresh"}
# Config keys already shown as their own columns (run_name is the "Run" column: the run folder's name).
_COLUMN_KEYS = ("model_type", "model_name_or_path", "run_name")
_MISSING = "—"


@dataclass(frozen=True)
class Run:
    """One run folder. `problem` says why it has no usable result (None when `result` holds its scores)."""

    data_name: str
    run_name: str
    path: Path
    info: dict  # run.json ({} when unreadable)
    result: Optional[dict]  # result.json (None when the run has no usable result)
    problem: Optional[str]
    evaluation: Optional[str] = None  # the label of one of the run's evaluations (evaluations.json)

    @property
    def config(self):
        return self.info.get("config") or {}

    @property
    def name(self):
        """The run folder's name, and which of its evaluations this row is."""
        return self.run_name if self.evaluation is None else f"{self.run_name} ({self.evaluation})"


def score_columns(metric):
    return _SCORE_COLUMNS.get(metric, _DEFAULT_COLUMNS)


def _status_problem(info):
    status = info.get("status")
    if status == "finished":
        return None
    if status == "failed":
        return f"status failed: {info.get('error') or 'no error recorded'}"
    if status == "running":
        return "status running: still training, or stopped before it could record how it ended"
    return f"run.json status is {status!r}, not finished"


def _result_problem(result, metric):
    if not isinstance(result, dict):
        return "result.json is not a JSON object"
    for _, key in score_columns(metric)[:2]:
        if not isinstance(result.get(key), (int, float)):
            return f"result.json has no number {key!r} (the {metric} metric's key)"
    return None


def read_run(run_dir, data_name):
    """Read one run folder; anything wrong with it becomes `problem`, never an exception."""
    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    spec = REGISTRY.get(data_name)
    try:
        info = load_json(folder.run_json)
    except UsageError as err:
        return Run(data_name, run_dir.name, run_dir, {}, None, str(err))
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        return Run(data_name, run_dir.name, run_dir, {}, None, f"{folder.run_json.name} has no \"config\" object")
    problem = (f"data set {data_name!r} is not in the registry" if spec is None else _status_problem(info))
    if problem is None and not folder.result_json.is_file():
        problem = f"no {folder.result_json.name}"
    result = None
    if problem is None:
        try:
            result = load_json(folder.result_json)
        except UsageError as err:
            problem = str(err)
        else:
            problem = _result_problem(result, spec.metric)
    return Run(data_name, run_dir.name, run_dir, info, None if problem else result, problem)


def find_run_dirs(model_dir):
    """(data_name, run folder) pairs: every folder under a registry data set's folder, and any other
    `<model_dir>/<x>/<y>/` holding a run.json (reported as outside the registry rather than ignored)."""
    found = []
    for data_dir in sorted(p for p in Path(model_dir).iterdir() if p.is_dir()):
        known = data_dir.name in REGISTRY
        for run_dir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
            if known or RunFolder(run_dir).run_json.is_file():
                found.append((data_dir.name, run_dir))
    return found


def collect_runs(model_dir):
    return [row for data_name, run_dir in find_run_dirs(model_dir) for row in evaluation_rows(read_run(run_dir,
                                                                                                     data_name))]


def evaluation_rows(run):
    """One row per evaluation of the run (evaluations.json), each with its own scores and, in place of the
    training's, the settings it was measured with, labelled when there are several; the run itself when it
    recorded none (older runs)."""
    entries = RunFolder(run.path).read_evaluations() if run.problem is None else []
    metric = REGISTRY[run.data_name].metric if entries else None
    entries = [e for e in entries if _result_problem(e.get("result"), metric) is None]
    if not entries:
        return [run]
    rows = []
    for entry in entries:
        label = f"{entry.get('label', 'evaluation')}, {entry.get('during', '')}".rstrip(", ")
        config = dict(run.config, **measured_settings(entry))
        rows.append(dataclasses.replace(run, info=dict(run.info, config=config), result=entry["result"],
                                        evaluation=label if len(entries) > 1 else None))
    return rows


# ---- formatting (pure) ----

def format_size(num_parameters):
    """22_713_216 -> "22.7M"."""
    if not isinstance(num_parameters, int):
        return _MISSING
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if num_parameters >= scale:
            return f"{num_parameters / scale:.1f}{suffix}"
    return str(num_parameters)


def format_wall_time(seconds):
    if not isinstance(seconds, (int, float)):
        return _MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_hardware(hardware):
    """{"accelerator": "gpu", "devices": 2, "num_nodes": 1, "device_name": "NVIDIA H100"} -> "2× NVIDIA H100"."""
    if not isinstance(hardware, dict):
        return _MISSING
    name = hardware.get("device_name")
    devices, nodes = hardware.get("devices"), hardware.get("num_nodes", 1)
    count = devices * nodes if isinstance(devices, int) and isinstance(nodes, int) else None
    if hardware.get("accelerator") == "cpu":
        label = "CPU" if name in (None, "cpu") else f"CPU ({name})"
        return label if count in (None, 1) else f"{count}× {label}"
    label = name or str(hardware.get("accelerator", _MISSING))
    return label if count is None else f"{count}× {label}"


def format_setting(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _cell(text):
    """Markdown table cell: a "|" would end the cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_scores(values, ranked=True, digits=2):
    """Cells for one score column; the best (largest, as displayed) in bold when `ranked`."""
    cells = [_MISSING if v is None else f"{v:.{digits}f}" for v in values]
    present = [v for v in values if v is not None]
    if not ranked or not present:
        return cells
    best = f"{max(present):.{digits}f}"
    return [f"**{c}**" if c == best else c for c in cells]


def split_settings(configs):
    """(keys whose values differ between the configs, {key: value} shared by all), column keys left out.
    A key missing from some config counts as differing."""
    keys = sorted({k for config in configs for k in config} - set(_COLUMN_KEYS))
    differing, shared = [], {}
    for key in keys:
        values = [format_setting(config[key]) if key in config else None for config in configs]
        if len(set(values)) == 1 and values[0] is not None:
            shared[key] = configs[0][key]
        else:
            differing.append(key)
    return differing, shared


def _sort_key(run):
    return (str(run.config.get("model_type", "")), str(run.config.get("model_name_or_path", "")), run.run_name,
            run.name)


def results_table(metric, runs):
    """The Markdown table of the runs with results (sorted by model type, then name), or "" when there are none."""
    runs = sorted(runs, key=_sort_key)
    if not runs:
        return ""
    differing, _ = split_settings([run.config for run in runs])
    score_cols = score_columns(metric)
    header = (["Model Type", "model_name_or_path", "Size"] + [h for h, _ in score_cols] + differing
              + ["Wall time", "Hardware", "Run"])
    columns = []
    types = [format_setting(run.config.get("model_type", _MISSING)) for run in runs]
    # Like the 2021 README: the model type is written once for consecutive rows of the same type.
    columns.append([t if i == 0 or t != types[i - 1] else "" for i, t in enumerate(types)])
    columns.append([format_setting(run.config.get("model_name_or_path", _MISSING)) for run in runs])
    columns.append([format_size(run.info.get("num_parameters")) for run in runs])
    for _, key in score_cols:
        values = [run.result.get(key) if isinstance(run.result.get(key), (int, float)) else None for run in runs]
        digits = 3 if key in _NOT_RANKED else 2
        columns.append(format_scores(values, ranked=key not in _NOT_RANKED, digits=digits))
    for key in differing:
        columns.append([format_setting(run.config[key]) if key in run.config else _MISSING for run in runs])
    columns.append([format_wall_time(run.info.get("wall_time_s")) for run in runs])
    columns.append([format_hardware(run.info.get("hardware")) for run in runs])
    columns.append([run.name for run in runs])
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(col[i]) for col in columns) + " |" for i in range(len(runs))]
    return "\n".join(lines)


def shared_settings_block(runs):
    _, shared = split_settings([run.config for run in runs])
    if not shared:
        return ""
    items = ", ".join(f"`{key}={format_setting(value)}`" for key, value in shared.items())
    return f"<details><summary>Settings shared by every run above</summary>\n\n{items}\n\n</details>"


def failures_list(runs):
    if not runs:
        return ""
    lines = ["Runs without results:", ""]
    lines += [f"- `{run.data_name}/{run.run_name}`: {_cell(run.problem)}" for run in runs]
    return "\n".join(lines)


def data_set_section(spec, runs, figures, level=2):
    """Markdown for one data set: heading, table, shared settings, figures, runs without results."""
    scored = [run for run in runs if run.result is not None]
    parts = [f"{'#' * level} {spec.name}",
             f"Official `{spec.metric}` metric on the dev set; language `{spec.language}`; "
             f"{len(scored)} run(s) with results, {len(runs) - len(scored)} without."]
    parts += [results_table(spec.metric, scored), seed_section(spec.metric, seed_groups(scored)),
              shared_settings_block(scored)]
    parts += [f"![{title}]({path.name})" for title, path in figures]
    parts.append(failures_list([run for run in runs if run.result is None]))
    return "\n\n".join(part for part in parts if part)


# ---- runs that differ only in --seed ----

# Config keys that may differ between repeats of one setting: the run's name, the seed being varied, and the step of
# the best checkpoint each seed reached (an evaluation's checkpoint_step, korsquad.evaluations).
_REPEAT_KEYS = ("run_name", "seed", "checkpoint_step")


def seed_groups(runs):
    """Groups (tuples sorted by seed) of runs with results whose settings are equal except --seed and the run
    name, with at least two seeds; the groups sorted like the table's rows. Runs without a repeat are in none."""
    by_setting = {}
    for run in runs:
        setting = {key: value for key, value in run.config.items() if key not in _REPEAT_KEYS}
        by_setting.setdefault(json.dumps(setting, sort_keys=True, default=str), []).append(run)
    groups = [tuple(sorted(group, key=lambda run: (str(run.config.get("seed")), run.run_name)))
              for group in by_setting.values() if len({str(run.config.get("seed")) for run in group}) > 1]
    return sorted(groups, key=lambda group: _sort_key(group[0]))


def mean_sd(values):
    """(mean, sample standard deviation, n) of a group's scores."""
    import statistics

    return statistics.fmean(values), statistics.stdev(values), len(values)


def format_mean_sd(mean, sd, digits=2):
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def seed_table(metric, groups):
    """Markdown: one row per group, each score as mean ± standard deviation over its seeds (best mean in bold),
    then n, the seeds, the settings that differ between groups and the runs."""
    configs = [{k: v for k, v in group[0].config.items() if k != "seed"} for group in groups]
    differing, _ = split_settings(configs)
    score_cols = [(header, key) for header, key in score_columns(metric)
                  if all(isinstance(run.result.get(key), (int, float)) for group in groups for run in group)]
    header = (["Model Type", "model_name_or_path"] + [h for h, _ in score_cols] + ["n", "seeds"] + differing
              + ["Runs"])
    columns = [[format_setting(config.get("model_type", _MISSING)) for config in configs],
               [format_setting(config.get("model_name_or_path", _MISSING)) for config in configs]]
    for _, key in score_cols:
        stats = [mean_sd([run.result[key] for run in group]) for group in groups]
        digits = 3 if key in _NOT_RANKED else 2
        cells = [format_mean_sd(mean, sd, digits) for mean, sd, _ in stats]
        best = max(mean for mean, _, _ in stats)
        if key not in _NOT_RANKED and len(groups) > 1:
            cells = [f"**{c}**" if f"{mean:.{digits}f}" == f"{best:.{digits}f}" else c
                     for c, (mean, _, _) in zip(cells, stats)]
        columns.append(cells)
    columns.append([str(len(group)) for group in groups])
    columns.append([", ".join(format_setting(run.config.get("seed", _MISSING)) for run in group) for group in groups])
    for key in differing:
        columns.append([format_setting(config[key]) if key in config else _MISSING for config in configs])
    columns.append([", ".join(run.run_name for run in group) for group in groups])
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(col[i]) for col in columns) + " |" for i in range(len(groups))]
    return "\n".join(lines)


def seed_section(metric, groups):
    if not groups:
        return ""
    return ("Runs that differ only in `--seed`: mean ± sample standard deviation over the n seeds (each run is "
            "also a row above).\n\n" + seed_table(metric, groups))


def seed_figure(spec, groups):
    """EM and F1 of each group: a bar at the mean, ± one standard deviation, and every seed as a point."""
    plt = _pyplot()
    (_, em_key), (_, f1_key) = score_columns(spec.metric)[:2]
    figure, axes = plt.subplots(figsize=(max(4.0, 1.6 * len(groups) + 2), 4))
    width = 0.38
    for number, (offset, key, label) in enumerate(((-width / 2, em_key, "EM"), (width / 2, f1_key, "F1"))):
        color = f"C{number}"
        stats = [mean_sd([run.result[key] for run in group]) for group in groups]
        axes.bar([i + offset for i in range(len(groups))], [mean for mean, _, _ in stats], width, alpha=0.35,
                 color=color, yerr=[sd for _, sd, _ in stats], capsize=4, label=f"{label} mean ± sd")
        xs = [i + offset for i, group in enumerate(groups) for _ in group]
        axes.scatter(xs, [run.result[key] for group in groups for run in group], color=color, s=18, zorder=3,
                     label=f"{label} of each seed")
    names = [f"{group[0].config.get('model_name_or_path', _MISSING)} (n={len(group)})" for group in groups]
    axes.set_xticks(list(range(len(groups))), names, rotation=20, ha="right")
    axes.set_ylabel("score (%)")
    axes.set_ylim(0, 105)
    axes.set_title(f"{spec.name} dev over seeds ({spec.metric} metric)")
    axes.legend(fontsize=8)
    return figure


# ---- figures ----

def _event_dir(logs_dir):
    """The folder of the newest TensorBoard run (`version_N` with the largest N), which is the one the current
    run.json describes; an older version_N is a previous attempt in the same run folder."""
    dirs = {p.parent for p in Path(logs_dir).rglob("events.out.tfevents.*") if p.is_file()}
    if not dirs:
        return None

    def version(path):
        match = re.fullmatch(r"version_(\d+)", path.name)
        return int(match.group(1)) if match else -1

    return max(dirs, key=lambda p: (version(p), str(p)))


def read_curves(run_dir, tags=CURVE_TAGS):
    """{tag: (steps, values)} of the scalars present in the run's newest TensorBoard log ({} when none)."""
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    logs = RunFolder(run_dir).logs_dir
    event_dir = _event_dir(logs) if logs.is_dir() else None
    if event_dir is None:
        return {}
    accumulator = EventAccumulator(str(event_dir), size_guidance={SCALARS: 0})  # 0: keep every point
    accumulator.Reload()
    available = set(accumulator.Tags().get("scalars", ()))
    curves = {}
    for tag in tags:
        if tag in available:
            events = accumulator.Scalars(tag)
            curves[tag] = ([e.step for e in events], [e.value for e in events])
    return curves


def _png_bytes(figure):
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _pyplot():
    """pyplot on the Agg backend: files only, no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_scores(spec, runs):
    """PNG bytes: EM and F1 side by side for each run with results."""
    plt = _pyplot()
    (_, em_key), (_, f1_key) = score_columns(spec.metric)[:2]
    runs = sorted(runs, key=_sort_key)
    figure, axes = plt.subplots(figsize=(max(4.0, 1.2 * len(runs) + 2), 4))
    positions = range(len(runs))
    width = 0.38
    for offset, key, label in ((-width / 2, em_key, "EM"), (width / 2, f1_key, "F1")):
        values = [run.result[key] for run in runs]
        bars = axes.bar([p + offset for p in positions], values, width, label=label)
        axes.bar_label(bars, fmt="%.1f", fontsize=8)
    axes.set_xticks(list(positions), [run.name for run in runs], rotation=20, ha="right")
    axes.set_ylabel("score (%)")
    axes.set_ylim(0, 105)
    axes.set_title(f"{spec.name} dev ({spec.metric} metric)")
    axes.legend()
    return _png_bytes(figure)


def plot_curves(spec, curves_by_run):
    """PNG bytes: one panel per tag in CURVE_TAGS, one line per run. `curves_by_run`: {label: read_curves(...)}."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(1, len(CURVE_TAGS), figsize=(5 * len(CURVE_TAGS), 3.6))
    # One color per run in every panel, also when a run lacks one of the tags.
    colors = {label: f"C{i % 10}" for i, label in enumerate(curves_by_run)}
    for ax, tag in zip(axes, CURVE_TAGS):
        for label, curves in curves_by_run.items():
            if tag in curves:
                steps, values = curves[tag]
                ax.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=label,
                        color=colors[label])
        ax.set_xlabel("global step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(tag)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{spec.name}: learning curves")
    return _png_bytes(figure)


def write_figures(spec, runs, out_dir):
    """Write the data set's figures; returns [(title, path)]. TensorBoard's reader skips damaged event records
    itself, so a broken log only loses its curve."""
    figures = []
    scored = [run for run in runs if run.result is not None]
    if scored:
        path = Path(out_dir) / f"{spec.name}_scores.png"
        atomic_write_bytes(path, plot_scores(spec, scored))
        figures.append((f"{spec.name} EM/F1", path))
    groups = seed_groups(scored)
    if groups:
        path = Path(out_dir) / f"{spec.name}_seeds.png"
        atomic_write_bytes(path, _png_bytes(seed_figure(spec, groups)))
        figures.append((f"{spec.name} EM/F1 over seeds", path))
    curves_by_run = {}
    for run in sorted({run.path: run for run in runs}.values(), key=_sort_key):  # a run evaluated twice: once
        curves = read_curves(run.path)
        if curves:
            curves_by_run[run.run_name + ("" if run.result is not None else " (no result)")] = curves
    if curves_by_run:
        path = Path(out_dir) / f"{spec.name}_curves.png"
        atomic_write_bytes(path, plot_curves(spec, curves_by_run))
        figures.append((f"{spec.name} learning curves", path))
    return figures


# ---- the report ----

def index_markdown(model_dir, sections, unregistered):
    parts = ["# Results",
             f"Generated by `python -m korsquad.report` from the run folders under `{model_dir}`: every score is "
             "the run's own (each evaluation's `evaluations.json` entry, else its `result.json`), sizes, settings, wall time "
             "and hardware its `run.json`; an evaluation's row shows the settings it was measured with."]
    parts += sections
    if unregistered:
        parts.append("## Other folders\n\n" + failures_list(unregistered))
    return "\n\n".join(parts) + "\n"


def write_report(model_dir, out_dir):
    """Write every data set's Markdown and figures and the index; returns (index markdown, paths written).
    Returns (None, []) when model_dir holds no run folder."""
    runs = collect_runs(model_dir)
    if not runs:
        return None, []
    out_dir = Path(out_dir)
    written, sections = [], []
    for spec in REGISTRY.values():
        data_runs = [run for run in runs if run.data_name == spec.name]
        if not data_runs:
            continue
        figures = write_figures(spec, data_runs, out_dir)
        written += [path for _, path in figures]
        path = out_dir / f"{spec.name}.md"
        atomic_write_bytes(path, (data_set_section(spec, data_runs, figures, level=1) + "\n").encode("utf-8"))
        written.append(path)
        sections.append(data_set_section(spec, data_runs, figures, level=2))
    unregistered = [run for run in runs if run.data_name not in REGISTRY]
    index = index_markdown(model_dir, sections, unregistered)
    atomic_write_bytes(out_dir / INDEX_FILE, index.encode("utf-8"))
    written.append(out_dir / INDEX_FILE)
    return index, written


@exit_on_usage_error
def main(argv=None):
    parser = ArgumentParser(
        prog="python -m korsquad.report", description=__doc__.split("\n\n")[0],
        epilog="Writes <data_name>.md, <data_name>_scores.png, <data_name>_curves.png and results.md under --out. "
               "A model_dir without run folders is reported and exits 0 with nothing written.")
    parser.add_argument("--model_dir", default=DEFAULT_OUTPUT_DIR,
                        help="the output_dir of run_qa.py, holding <data_name>/<run_name>/ (default %(default)s)")
    parser.add_argument("--out", default="figs/", help="folder for the Markdown and PNG files (default figs/)")
    args = parser.parse_args(argv)
    if not Path(args.model_dir).is_dir():
        raise UsageError(f"--model_dir {args.model_dir}: folder not found")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: exists and is not a folder")
    index, written = write_report(args.model_dir, args.out)
    if index is None:
        print(f"no run folders found under {args.model_dir} (expected {args.model_dir}/<data_name>/<run_name>/"
              "run.json); nothing written")
        return 0
    print(index)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
