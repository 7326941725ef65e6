"""The Markdown of the report (korsquad.analysis.report): one section per data set, with the table of its runs, the
seed groups' mean ± standard deviation, the settings its runs share, its figures and the runs without results.

Pure functions of the rows korsquad.analysis.report reads from run folders (`Run`: config, info, result, name); the
score columns come from the data set's metric record (korsquad.data.metrics), never from a metric's name.
"""

import json
import statistics

from ..data.metrics import TUNED_FLAG
from ..runs.record import MODEL_PATH_KEY

# The 2021 README's word for a headline column; other names are the metric record's ("ROUGE-W").
_HEADLINES = {"F1": "F1 Score"}
# Config keys already shown as their own columns (run_name is the "Run" column: the run folder's name; the model's
# absolute path is where model_name_or_path was found, machine-specific).
_COLUMN_KEYS = ("model_type", "model_name_or_path", MODEL_PATH_KEY, "run_name")
MISSING = "—"
THRESHOLD_FLAG = f"--{TUNED_FLAG}"


def score_columns(spec):
    """(column header, result.json key) of a data set's table: EM and the primary score (the two every result must
    hold), each category's pair (HasAns/NoAns, question types), then where the metric tunes a no-answer threshold
    the best primary score and the --null_score_diff_threshold that reproduces it (result.json's
    best_<key>_null_score_diff_threshold, korsquad.decoding.postprocess; the official best_<key>_thresh, which does not
    reproduce the score when every null score difference is negative, stays in result.json) (shown as "—" when a
    run's result lacks them, e.g. best_* exist only when the run wrote null odds)."""
    metric = spec.metric
    exact, primary = required_keys(spec)
    short = metric.key_name(primary)  # "F1", "ROUGE-W"
    columns = [(f"{metric.key_name(exact)} (%)", exact), (f"{_HEADLINES.get(short, short)} (%)", primary)]
    for category in metric.categories(spec.question_types):
        columns += [(f"{category.label} EM", category.key(exact)), (f"{category.label} {short}", category.key(primary))]
    if metric.null_threshold:
        best, _ = metric.best_keys(primary)
        columns += [(f"best {short}", best), (f"best {short} {THRESHOLD_FLAG}", metric.tuned_flag_key(primary))]
    return tuple(columns)


def required_keys(spec):
    """The keys a result must hold numbers for to be shown (korsquad.analysis.report): the table's first two columns."""
    return spec.metric.exact_key, spec.metric.primary_key


def format_size(num_parameters):
    """22_713_216 -> "22.7M"."""
    if not isinstance(num_parameters, int):
        return MISSING
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if num_parameters >= scale:
            return f"{num_parameters / scale:.1f}{suffix}"
    return str(num_parameters)


def format_wall_time(seconds):
    if not isinstance(seconds, (int, float)):
        return MISSING
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
        return MISSING
    name = hardware.get("device_name")
    devices, nodes = hardware.get("devices"), hardware.get("num_nodes", 1)
    count = devices * nodes if isinstance(devices, int) and isinstance(nodes, int) else None
    if hardware.get("accelerator") == "cpu":
        label = "CPU" if name in (None, "cpu") else f"CPU ({name})"
        return label if count in (None, 1) else f"{count}× {label}"
    label = name or str(hardware.get("accelerator", MISSING))
    return label if count is None else f"{count}× {label}"


def format_setting(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _cell(text):
    """Markdown table cell: a "|" would end the cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_scores(values, ranked=True, digits=2):
    """Cells for one score column; the best (largest, as displayed) in bold when `ranked`."""
    cells = [MISSING if v is None else f"{v:.{digits}f}" for v in values]
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


def sort_key(run):
    return (str(run.config.get("model_type", "")), str(run.config.get("model_name_or_path", "")), run.run_name,
            run.name)


def results_table(spec, runs):
    """The Markdown table of the runs with results (sorted by model type, then name), or "" when there are none."""
    runs = sorted(runs, key=sort_key)
    if not runs:
        return ""
    differing, _ = split_settings([run.config for run in runs])
    score_cols = score_columns(spec)
    header = (["Model Type", "model_name_or_path", "Size"] + [h for h, _ in score_cols] + differing
              + ["Wall time", "Hardware", "Run"])
    columns = []
    types = [format_setting(run.config.get("model_type", MISSING)) for run in runs]
    # Like the 2021 README: the model type is written once for consecutive rows of the same type.
    columns.append([t if i == 0 or t != types[i - 1] else "" for i, t in enumerate(types)])
    columns.append([format_setting(run.config.get("model_name_or_path", MISSING)) for run in runs])
    columns.append([format_size(run.info.get("num_parameters")) for run in runs])
    for _, key in score_cols:
        values = [run.result.get(key) if isinstance(run.result.get(key), (int, float)) else None for run in runs]
        ranked = spec.metric.is_score(key)  # a threshold is a setting found by tuning: none is "best"
        columns.append(format_scores(values, ranked=ranked, digits=2 if ranked else 3))
    for key in differing:
        columns.append([format_setting(run.config[key]) if key in run.config else MISSING for run in runs])
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


def data_set_section(spec, runs, figures, model_dir):
    """Markdown for one data set's runs under model_dir: heading, table, shared settings, figures, runs without
    results."""
    scored = [run for run in runs if run.result is not None]
    intro = (f"Official `{spec.metric.name}` metric on the dev set; language `{spec.language}`; {len(scored)} run(s) "
             f"with results, {len(runs) - len(scored)} without, from the run folders under `{model_dir}`.")
    if spec.metric.null_threshold:
        best, official = spec.metric.best_keys(spec.metric.primary_key)
        intro += (f" `{THRESHOLD_FLAG}` is the value that, given back to run_qa.py, reproduces `{best}` "
                  f"(`{spec.metric.tuned_flag_key(spec.metric.primary_key)}`; the official `{official}` stays in "
                  "`result.json`).")
    parts = [f"# {spec.name}", intro]
    parts += [results_table(spec, scored), seed_section(spec, seed_groups(scored)),
              shared_settings_block(scored)]
    parts += [f"![{title}]({path.name})" for title, path in figures]
    parts.append(failures_list([run for run in runs if run.result is None]))
    return "\n\n".join(part for part in parts if part)


# ---- runs that differ only in --seed ----

# Config keys that may differ between repeats of one setting: the run's name, the seed being varied, and the step of
# the best checkpoint each seed reached (an evaluation's checkpoint_step, korsquad.runs.record).
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
    return sorted(groups, key=lambda group: sort_key(group[0]))


def mean_sd(values):
    """(mean, sample standard deviation, n) of a group's scores."""
    return statistics.fmean(values), statistics.stdev(values), len(values)


def format_mean_sd(mean, sd, digits=2):
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def seed_table(spec, groups):
    """Markdown: one row per group, each score as mean ± standard deviation over its seeds (best mean in bold),
    then n, the seeds, the settings that differ between groups and the runs."""
    configs = [{k: v for k, v in group[0].config.items() if k != "seed"} for group in groups]
    differing, _ = split_settings(configs)
    score_cols = [(header, key) for header, key in score_columns(spec)
                  if all(isinstance(run.result.get(key), (int, float)) for group in groups for run in group)]
    header = (["Model Type", "model_name_or_path"] + [h for h, _ in score_cols] + ["n", "seeds"] + differing
              + ["Runs"])
    columns = [[format_setting(config.get("model_type", MISSING)) for config in configs],
               [format_setting(config.get("model_name_or_path", MISSING)) for config in configs]]
    for _, key in score_cols:
        stats = [mean_sd([run.result[key] for run in group]) for group in groups]
        ranked = spec.metric.is_score(key)
        digits = 2 if ranked else 3
        cells = [format_mean_sd(mean, sd, digits) for mean, sd, _ in stats]
        best = max(mean for mean, _, _ in stats)
        if ranked and len(groups) > 1:
            cells = [f"**{c}**" if f"{mean:.{digits}f}" == f"{best:.{digits}f}" else c
                     for c, (mean, _, _) in zip(cells, stats)]
        columns.append(cells)
    columns.append([str(len(group)) for group in groups])
    columns.append([", ".join(format_setting(run.config.get("seed", MISSING)) for run in group) for group in groups])
    for key in differing:
        columns.append([format_setting(config[key]) if key in config else MISSING for config in configs])
    columns.append([", ".join(run.run_name for run in group) for group in groups])
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(col[i]) for col in columns) + " |" for i in range(len(groups))]
    return "\n".join(lines)


def seed_section(spec, groups):
    if not groups:
        return ""
    return ("Runs that differ only in `--seed`: mean ± sample standard deviation over the n seeds (each run is "
            "also a row above).\n\n" + seed_table(spec, groups))

