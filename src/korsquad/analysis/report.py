"""Result tables and figures generated from run folders, so the published numbers are the runs' own.

`korsquad report [--model_dir ./model] [--out DIR]` walks every run folder
`<model_dir>/<data_name>/<run_name>/` (layout written by run_qa.py) and writes under --out (default
`<model_dir>/report/`, beside the runs it reports: never into the folder the command is run from):
- `<data_name>.md` for each data set with runs: the 2021 README's table (model type, model_name_or_path, size,
  EM, F1; best per column in bold), the settings that differ between its runs, wall time and hardware; for data
  sets scored by the SQuAD 2.0 metric also the HasAns/NoAns split and the best F1 with the
  --null_score_diff_threshold that reproduces it; runs that differ only in --seed (and their names) also as one row
  per group: each score's mean ± standard deviation over the seeds, and n; then the runs without results, each with
  the reason. A run evaluated more than once (its evaluations.json, see korsquad.runs.record) has a row per
  evaluation, labelled, each with the scores and the settings (dev file and its digest, questions, windows,
  decoding, checkpoint step) it was measured with;
- `other_folders.md` when `<model_dir>` holds run folders of data sets outside the registry;
- `results.md`: the sections of every `<data_name>.md` (and `other_folders.md`) in --out, the ones written now and
  those an earlier report left there (from other run folders: each section names its own), so reporting one
  model_dir into a shared folder never drops another's section;
- `<data_name>_scores.png` (EM/F1 per run) and `<data_name>_curves.png` (train_loss and val_f1 by global step,
  read with TensorBoard's EventAccumulator from the run's `logs/`); `<data_name>_seeds.png` where runs differ only
  in --seed (each group's mean ± sd, every seed a point).

This module reads the run folders and writes the files: the Markdown comes from korsquad.analysis.report_tables, the
figures from korsquad.analysis.report_figures. It prints the Markdown and the paths written and kept. A missing
--model_dir is an error (exit 2); a model_dir without any run folder is not: the command says so, writes nothing and
exits 0.
"""

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..common.errors import ArgumentParser, UsageError, exit_on_usage_error
from ..common.jsonio import atomic_write_bytes, load_json
from ..data.datasets import REGISTRY
from ..runs.folder import DEFAULT_OUTPUT_DIR, RunFolder, run_folders
from ..runs.record import evaluation_settings
from .report_figures import write_figures
from .report_tables import data_set_section, failures_list, required_keys


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


def _status_problem(info):
    status = info.get("status")
    if status == "finished":
        return None
    if status == "failed":
        return f"status failed: {info.get('error') or 'no error recorded'}"
    if status == "running":
        return "status running: still training, or stopped before it could record how it ended"
    return f"run.json status is {status!r}, not finished"


def _result_problem(result, spec):
    if not isinstance(result, dict):
        return "result.json is not a JSON object"
    for key in required_keys(spec):
        if not isinstance(result.get(key), (int, float)):
            return f"result.json has no number {key!r} (the {spec.metric.name} metric's key)"
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
            problem = _result_problem(result, spec)
    return Run(data_name, run_dir.name, run_dir, info, None if problem else result, problem)


def find_run_dirs(model_dir):
    """(data_name, run folder) pairs: every folder under a registry data set's folder, and any other
    `<model_dir>/<x>/<y>/` holding a run.json (reported as outside the registry rather than ignored)."""
    return [(folder.data_name, folder.root) for folder in run_folders(model_dir)
            if folder.data_name in REGISTRY or folder.run_json.is_file()]


def collect_runs(model_dir):
    return [row for data_name, run_dir in find_run_dirs(model_dir) for row in evaluation_rows(read_run(run_dir,
                                                                                                     data_name))]


def evaluation_rows(run):
    """One row per evaluation of the run (evaluations.json), each with its own scores and, in place of the
    training's, the settings it was measured with, labelled when there are several; the run itself when it
    recorded none (older runs)."""
    entries = RunFolder(run.path).read_evaluations() if run.problem is None else []
    entries = [e for e in entries if _result_problem(e.get("result"), REGISTRY[run.data_name]) is None]
    if not entries:
        return [run]
    rows = []
    for entry in entries:
        label = f"{entry.get('label', 'evaluation')}, {entry.get('during', '')}".rstrip(", ")
        config = evaluation_settings(run.config, entry)
        rows.append(dataclasses.replace(run, info=dict(run.info, config=config), result=entry["result"],
                                        evaluation=label if len(entries) > 1 else None))
    return rows


# ---- the report ----

INDEX_FILE = "results.md"
OTHER_FOLDERS_FILE = "other_folders.md"  # the run folders of data sets outside the registry
DEFAULT_OUT = "report"  # the report's folder inside --model_dir


def section_files(out_dir):
    """The report's section files in out_dir, in the order results.md shows them: each registry data set's
    `<data_name>.md`, then other_folders.md."""
    names = [f"{name}.md" for name in REGISTRY] + [OTHER_FOLDERS_FILE]
    return [Path(out_dir) / name for name in names if (Path(out_dir) / name).is_file()]


def demote_headings(markdown):
    """A section file as a part of results.md: every heading one level down ("# squad_v1.1" -> "## ...")."""
    return re.sub(r"^(#+ )", r"#\1", markdown, flags=re.MULTILINE)


def index_markdown(sections):
    parts = ["# Results",
             "Generated by `korsquad report`: each section is its file in this folder "
             "(`<data_name>.md`), made from the run folders it names. Every score is the run's own (each "
             "evaluation's `evaluations.json` entry, else its `result.json`), sizes, settings, wall time and hardware "
             "its `run.json`; an evaluation's row shows the settings it was measured with."]
    parts += [demote_headings(section).strip() for section in sections]
    return "\n\n".join(parts) + "\n"


def other_folders_markdown(model_dir, runs):
    return (f"# Other folders\n\nRun folders under `{model_dir}` of data sets outside the registry.\n\n"
            + failures_list(runs) + "\n")


def write_report(model_dir, out_dir):
    """Write every data set's Markdown and figures and the index; returns (index markdown, paths written).
    Returns (None, []) when model_dir holds no run folder. Files of data sets without runs under model_dir (an
    earlier report's) are left as they are, and results.md keeps their sections."""
    runs = collect_runs(model_dir)
    if not runs:
        return None, []
    out_dir = Path(out_dir)
    written = []
    for spec in REGISTRY.values():
        data_runs = [run for run in runs if run.data_name == spec.name]
        if not data_runs:
            continue
        figures = write_figures(spec, data_runs, out_dir)
        written += [path for _, path in figures]
        path = out_dir / f"{spec.name}.md"
        atomic_write_bytes(path, (data_set_section(spec, data_runs, figures, model_dir) + "\n").encode("utf-8"))
        written.append(path)
    unregistered = [run for run in runs if run.data_name not in REGISTRY]
    if unregistered:
        path = out_dir / OTHER_FOLDERS_FILE
        atomic_write_bytes(path, other_folders_markdown(model_dir, unregistered).encode("utf-8"))
        written.append(path)
    index = index_markdown([path.read_text(encoding="utf-8") for path in section_files(out_dir)])
    atomic_write_bytes(out_dir / INDEX_FILE, index.encode("utf-8"))
    written.append(out_dir / INDEX_FILE)
    return index, written


@exit_on_usage_error
def main(argv=None):
    parser = ArgumentParser(
        prog="korsquad report", description=__doc__.split("\n\n")[0],
        epilog="Writes <data_name>.md, <data_name>_scores.png, <data_name>_curves.png and results.md under --out; "
               "results.md also keeps the sections of data sets an earlier report wrote there. A model_dir without "
               "run folders is reported and exits 0 with nothing written.")
    parser.add_argument("--model_dir", default=DEFAULT_OUTPUT_DIR,
                        help="the output_dir of run_qa.py, holding <data_name>/<run_name>/ (default %(default)s)")
    parser.add_argument("--out", help=f"folder for the Markdown and PNG files (default: MODEL_DIR/{DEFAULT_OUT}/)")
    args = parser.parse_args(argv)
    if not Path(args.model_dir).is_dir():
        raise UsageError(f"--model_dir {args.model_dir}: folder not found")
    out = Path(args.out) if args.out else Path(args.model_dir) / DEFAULT_OUT
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    index, written = write_report(args.model_dir, out)
    if index is None:
        print(f"no run folders found under {args.model_dir} (expected {args.model_dir}/<data_name>/<run_name>/"
              "run.json); nothing written")
        return 0
    print(index)
    for path in written:
        print(f"wrote {path}")
    for path in section_files(out):
        if path not in written:
            print(f"kept {path}: an earlier report's, of a data set without runs under {args.model_dir}")
    return 0
