"""The report's figures (korsquad.analysis.report), PNG files beside its Markdown: each data set's EM and primary score
per run, the same over the seeds of a seed group, and the learning curves read from the runs' TensorBoard logs.
matplotlib and TensorBoard are imported only when a figure is drawn.
"""

import io
import re
from pathlib import Path

from ..common.jsonio import atomic_write_bytes
from ..runs.folder import RunFolder
from .report_tables import MISSING, mean_sd, required_keys, seed_groups, sort_key

CURVE_TAGS = ("train_loss", "val_f1")


def seed_figure(spec, groups):
    """EM and F1 of each group: a bar at the mean, ± one standard deviation, and every seed as a point."""
    plt = _pyplot()
    em_key, f1_key = required_keys(spec)
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
    names = [f"{group[0].config.get('model_name_or_path', MISSING)} (n={len(group)})" for group in groups]
    axes.set_xticks(list(range(len(groups))), names, rotation=20, ha="right")
    axes.set_ylabel("score (%)")
    axes.set_ylim(0, 105)
    axes.set_title(f"{spec.name} dev over seeds ({spec.metric.name} metric)")
    axes.legend(fontsize=8)
    return figure


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
    em_key, f1_key = required_keys(spec)
    runs = sorted(runs, key=sort_key)
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
    axes.set_title(f"{spec.name} dev ({spec.metric.name} metric)")
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
    for run in sorted({run.path: run for run in runs}.values(), key=sort_key):  # a run evaluated twice: once
        curves = read_curves(run.path)
        if curves:
            curves_by_run[run.run_name + ("" if run.result is not None else " (no result)")] = curves
    if curves_by_run:
        path = Path(out_dir) / f"{spec.name}_curves.png"
        atomic_write_bytes(path, plot_curves(spec, curves_by_run))
        figures.append((f"{spec.name} learning curves", path))
    return figures
