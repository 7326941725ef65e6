"""An experiment's `search:` block: an Optuna study per cell of the file, whose trials are run folders like any cell.

    search:
      n_trials: 20
      space:                                       # run_qa.py settings, each a distribution
        learning_rate: {log_uniform: [1.0e-5, 1.0e-4]}
        num_train_epochs: {choices: [2, 3]}
        batch_size: {choices: [16, 32]}
        warmup_ratio: {uniform: [0.0, 0.1]}        # also {int: [low, high]}
      pruner: {startup_trials: 2, warmup_steps: 0} # the median pruner (korsquad.training.trial_link.Pruning)

Each cell the file gives becomes a study named after it that maximizes the data set's primary metric (the
registry's Metric record: larger is better), sampled by TPE and pruned by the median pruner, which every trial's
training feeds with its validations (--eval_steps; korsquad.training.pruning). Trial N of a study is the cell with the
trial's settings, `<cell>-trial<N>`, run by the core's runner like any cell (its lock, its --resume, its
retries), with the trial named in its environment.

The study is kept in `<output_dir>/search/study.db` (SQLite) unless --storage names another (a database URL, or a
journal file on a shared file system): several workers, on one machine or many (a SLURM job array), share it.
A worker (one `korsquad experiment FILE` process) loops: under the study's lock it takes over a trial whose
worker died (its run folder's lock is free) or asks the study for a new one while it has fewer than n_trials;
it runs the trial and tells the study its score (the run's best validation score), "pruned" or "failed". So a
killed worker loses nothing: the finished trials stay in the study, and the interrupted trial is resumed by the
next worker. At the end each study writes `<output_dir>/search/<study>/trials.md` and `best_config.yaml`, the best
trial's settings as a file that `run_qa.py --config` replays.
"""

import contextlib
import dataclasses
import sys
import time

from ._toolkit import Pruning, TrialLink, UsageError, atomic_write_bytes, open_storage

SPACE_KINDS = ("log_uniform", "uniform", "int", "choices")
BLOCK_KEYS = ("n_trials", "space", "pruner")
PRUNER_KEYS = ("startup_trials", "warmup_steps")
TRIAL_PREFIX = "trial"
SEARCH_DIR = "search"  # under the experiment's output folder: the study file, the locks, the tables
# run_qa.py settings a replayed best config leaves to the replay: where its run folder goes
NOT_IN_BEST_CONFIG = ("output_dir", "run_name")
STUDY_LOCK_POLL_S = 0.2
TRIAL_POLL_S = 0.5


# ---- the block ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Param:
    """One searched setting: a distribution over its values."""

    name: str
    kind: str  # one of SPACE_KINDS
    values: tuple  # (low, high) or the choices

    def suggest(self, trial):
        if self.kind == "choices":
            return trial.suggest_categorical(self.name, list(self.values))
        if self.kind == "int":
            return trial.suggest_int(self.name, *self.values)
        return trial.suggest_float(self.name, *self.values, log=self.kind == "log_uniform")


@dataclasses.dataclass(frozen=True)
class Search:
    n_trials: int
    space: tuple  # of Param
    pruning: object  # korsquad.training.trial_link.Pruning


def check_block(raw, where, grid_keys=()):
    """The Search a `search:` block states; a bad block is one UsageError naming `where` and the key."""
    from .fields import check_keys, mapping

    block = mapping(raw, where)
    check_keys(block, BLOCK_KEYS, where, "the keys of search")
    n_trials = block.get("n_trials")
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
        raise UsageError(f"{where}: key 'n_trials' must be a positive integer, not {n_trials!r}")
    space = mapping(block.get("space"), f"{where}: space")
    if not space:
        raise UsageError(f"{where}: key 'space' must name at least one setting to search")
    params = tuple(read_param(name, entry, f"{where}: space", grid_keys) for name, entry in space.items())
    pruner = mapping(block.get("pruner"), f"{where}: pruner")
    check_keys(pruner, PRUNER_KEYS, f"{where}: pruner", "the keys of pruner")
    for key, value in pruner.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UsageError(f"{where}: pruner: key {key!r} must be an integer >= 0, not {value!r}")
    return Search(n_trials, params, Pruning(**pruner))


def read_param(name, entry, where, grid_keys):
    """A Param from `{kind: values}`; its values typed and range-checked as the setting's own (spec.read_settings)."""
    from .fields import check_keys, mapping, read_settings

    if name in grid_keys:
        raise UsageError(f"{where}: key {name!r} is both searched and in grid: (give it in one of them)")
    here = f"{where}: {name}"
    entry = mapping(entry, here)
    check_keys(entry, SPACE_KINDS, here, "the kinds of a search space")
    if len(entry) != 1:
        raise UsageError(f"{here}: give one of {', '.join(SPACE_KINDS)}, e.g. {{log_uniform: [1.0e-5, 1.0e-4]}}")
    (kind, values), = entry.items()
    if not isinstance(values, list) or not values or (kind != "choices" and len(values) != 2):
        wanted = "a non-empty list of values" if kind == "choices" else "a list [low, high]"
        raise UsageError(f"{here}: {kind} must be {wanted}, not {values!r}")
    typed = tuple(read_settings({name: value}, here)[name] for value in values)
    if kind == "choices":
        if len(set(map(repr, typed))) != len(typed):
            raise UsageError(f"{here}: choices give a value twice")
        return Param(name, kind, typed)
    numeric = int if kind == "int" else float
    if not all(isinstance(v, numeric) and not isinstance(v, bool) for v in typed):
        raise UsageError(f"{here}: {kind} needs a setting of {'integers' if kind == 'int' else 'numbers'}, and "
                         f"{name} takes {type(typed[0]).__name__} values")
    low, high = typed
    if not low < high:
        raise UsageError(f"{here}: {kind} must be [low, high] with low < high, not {values!r}")
    if kind == "log_uniform" and low <= 0:
        raise UsageError(f"{here}: log_uniform needs low > 0, not {low!r}")
    return Param(name, kind, typed)


# ---- where the study is ------------------------------------------------------------------------------------
def search_dir(experiment):
    return experiment.output_dir / SEARCH_DIR


def storage_url(experiment, args):
    """--storage, else the SQLite file in the experiment's folder (embedded: nothing to start)."""
    if getattr(args, "storage", None):
        return args.storage
    return f"sqlite:///{(search_dir(experiment) / 'study.db').resolve()}"


def trial_cell(cell, number, params):
    return cell.variant(f"{TRIAL_PREFIX}{number}", dict(params))


# ---- the command ---------------------------------------------------------------------------------------------
def main(experiment, args):
    """`korsquad experiment FILE` for a file with a search: block (korsquad.experiments.cli)."""
    if args.dry_run:
        return dry_run(experiment, args)
    require_optuna()
    if args.status:
        return status(experiment, args)
    if args.launcher == "slurm":
        return run_on_slurm(experiment, args)
    from .runner import interrupt_on_sigterm

    try:
        with interrupt_on_sigterm():
            return run(experiment, args)
    except KeyboardInterrupt:
        print("interrupted: the trial in flight stays in the study and is continued by the next worker (run the "
              "same command again)", file=sys.stderr)
        return 130


def require_optuna():
    """optuna is an optional extra: its absence is one error line, before anything is read or written."""
    import importlib.util

    if importlib.util.find_spec("optuna") is None:
        raise UsageError("a search: block needs optuna: pip install 'korsquad[search]'")


def run_on_slurm(experiment, args):
    """--workers search workers as one SLURM job array, each working on the studies until they are done."""
    from .slurm import launch_workers

    if args.workers < 1:
        raise UsageError(f"--workers must be positive, not {args.workers}")
    search_dir(experiment).mkdir(parents=True, exist_ok=True)
    url = storage_url(experiment, args)
    gpus = max(cell.gpus for cell in experiment.cells)
    launch_workers(experiment, args, args.workers, gpus, worker_job,
                   (str(experiment.path), str(experiment.output_dir), url))
    if args.slurm_no_wait:
        return 0
    search = check_block(experiment.search, f"{experiment.path}: search", tuple(experiment.grid))
    return report(experiment, search, url)


def worker_job(path, output_dir, url):
    """One search worker in a SLURM job: the studies of the file at `path`, on the job's GPUs."""
    from .slurm import TASK_VARIABLES, visible_gpus
    from .spec import load_experiment

    experiment = load_experiment(path, output_dir)
    search = check_block(experiment.search, f"{experiment.path}: search", tuple(experiment.grid))
    for cell, study in open_studies(experiment, search, url):
        work_on(study, cell, search, url, search_dir(experiment), visible_gpus(), dict.fromkeys(TASK_VARIABLES))


# ---- the worker ----------------------------------------------------------------------------------------------
def run(experiment, args):
    """Work on every study of the file until each has n_trials trials that ended, then write their tables and
    best configs. Exit status: 0, or 1 when a study has no finished trial."""
    search = check_block(experiment.search, f"{experiment.path}: search", tuple(experiment.grid))
    url = storage_url(experiment, args)
    for cell, study in open_studies(experiment, search, url):
        work_on(study, cell, search, url, search_dir(experiment), worker_gpus(cell, args))
    return report(experiment, search, url)


def open_studies(experiment, search, url):
    """(cell, its study) of each cell, the studies created when missing. One worker at a time: workers that
    start together would otherwise each create the storage's tables in a new database, and all but one fail."""
    search_dir(experiment).mkdir(parents=True, exist_ok=True)
    with study_lock(search_dir(experiment) / "storage.lock"):
        return [(cell, open_study(cell, search, url)) for cell in experiment.cells]


def open_study(cell, search, url, create=True):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the trials table says what its per-trial lines say
    storage = open_storage(url)
    if not create:
        return optuna.load_study(study_name=cell.name, storage=storage)
    return optuna.create_study(study_name=cell.name, storage=storage, direction="maximize", load_if_exists=True,
                               sampler=optuna.samplers.TPESampler(), pruner=search.pruning.pruner())


def work_on(study, cell, search, url, folder, gpu_ids=None, env=None):
    """Run trials of `study` until it has n_trials of them and none is left without a worker; `folder` holds the
    study's lock, `gpu_ids` are the trials' GPUs, `env` more environment for their run_qa.py."""
    from .state import cell_state

    while True:
        claimed = claim_trial(study, cell, search, folder)
        if claimed is None:
            return
        number, trial, lock = claimed
        # the run folder's lock is held until the study is told: a trial whose lock is free while the study still
        # says RUNNING is one whose worker died, never one whose worker is about to tell the study how it ended
        try:
            if cell_state(trial, held_here=True).status != "done":  # "done": its worker died before telling
                link = TrialLink(url, study.study_name, number, search.pruning)
                run_trial(trial, lock, gpu_ids, dict(env or {}, **link.to_env()))
            conclude(study, number, trial, folder)
        finally:
            lock.release()


def worker_gpus(cell, args):
    """The GPUs of this worker's trials: the first `gpus` (the cell's size) of --gpu_ids, or None (run_qa.py's
    --accelerator decides)."""
    text = getattr(args, "gpu_ids", None)
    if not text:
        return None
    from .launcher import parse_gpu_ids

    ids = parse_gpu_ids(text)
    if cell.gpus > len(ids):
        raise UsageError(f"cell {cell.label} needs {cell.gpus} GPUs (its size's gpus:), --gpu_ids gives {len(ids)}")
    return ids[:cell.gpus]


def run_trial(trial, lock, gpu_ids, env):
    """One attempt at the trial's run folder (a new one, or --resume of a trial whose worker died), this process
    holding its lock (its caller releases it), recorded by the runner."""
    from .lock import HEARTBEAT_S
    from .record import log_path
    from .runner import CellRun

    run = CellRun(trial, lock, gpu_ids, env=env).start()
    print(f"{trial.label}: started ({run.mode}); log {log_path(trial)}", flush=True)
    beat = time.monotonic()
    try:
        while run.poll() is None:
            time.sleep(TRIAL_POLL_S)
            if time.monotonic() - beat > HEARTBEAT_S:
                lock.heartbeat()
                beat = time.monotonic()
    except BaseException:  # the worker interrupted (Ctrl-C, SIGTERM): the trial stays RUNNING for the next one
        run.stop()
        run.finish(interrupted=True)
        raise
    run.finish()


def claim_trial(study, cell, search, folder):
    """(number, trial cell, its held lock) of the trial this worker runs next, or None when the study is done.
    Under the study's lock: a RUNNING trial whose run folder's lock is free lost its worker (killed): it is taken
    over and resumed; else a new trial is asked while the study has fewer than n_trials."""
    import optuna

    from .lock import CellLock
    from .runner import end_leftovers

    with study_lock(folder / f"{study.study_name}.lock"):
        for frozen in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            trial = trial_cell(cell, frozen.number, frozen.params)
            lock = CellLock.of(trial)
            if lock.acquire():
                print(f"{study.study_name}: trial {frozen.number} lost its worker: continuing it", file=sys.stderr)
                if lock.taken_over is not None and lock.taken_over.on_this_host:
                    end_leftovers(lock.taken_over.token)  # DDP processes of the killed worker's training
                return frozen.number, trial, lock
        if len(study.get_trials(deepcopy=False)) >= search.n_trials:
            return None
        asked = study.ask()
        params = {param.name: param.suggest(asked) for param in search.space}
        trial = trial_cell(cell, asked.number, params)
        asked.set_user_attr("run_folder", str(trial.folder.root))
        lock = CellLock.of(trial)
        if not lock.acquire():  # a folder of this name held by a process outside this study
            study.tell(asked.number, state=optuna.trial.TrialState.FAIL)
            raise UsageError(f"{trial.folder.root} is locked by another process: a trial's run folder must be "
                             "the study's own")
        return asked.number, trial, lock


@contextlib.contextmanager
def study_lock(path):
    """The study's lock (the cells' kind: a killed holder's lock is free), waited for: its holders keep it only
    while they look at the study and ask it for a trial."""
    from .lock import CellLock

    lock = CellLock(path)
    while not lock.acquire():
        time.sleep(STUDY_LOCK_POLL_S)
    try:
        yield
    finally:
        lock.release()


def conclude(study, number, trial, folder):
    """Tell the study how the trial's run ended, read from its run folder: its best validation score, or pruned,
    or failed (the error line from its record of attempts). Under the study's lock, and only while the study still
    says RUNNING: a trial told by another worker is left as it was told."""
    with study_lock(folder / f"{study.study_name}.lock"):
        if still_running(study, number):
            tell(study, number, trial)


def still_running(study, number):
    import optuna

    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    return any(frozen.number == number for frozen in running)


def tell(study, number, trial):
    import optuna

    from .state import cell_state

    record = trial.folder.read_record() or {}
    best = trial.folder.read_best()
    if record.get("status") == "pruned":
        study.tell(number, state=optuna.trial.TrialState.PRUNED)
        print(f"{trial.label}: pruned at step {record['pruned']['step']} ({primary_key(trial)} "
              f"{record['pruned']['score']:.2f})")
    elif record.get("status") == "finished" and best is not None:
        study.tell(number, float(best["score"]))
        print(f"{trial.label}: {primary_key(trial)} {best['score']:.2f} (best validation, step {best['step']})")
    else:
        study.tell(number, state=optuna.trial.TrialState.FAIL)
        print(f"{trial.label}: failed: {cell_state(trial).detail}", file=sys.stderr)


# ---- the end: trials table, best config ---------------------------------------------------------------------
def report(experiment, search, url):
    status = 0
    for cell in experiment.cells:
        study = open_study(cell, search, url, create=False)
        table = trials_table(study, cell, search)
        folder = search_dir(experiment) / cell.name
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / "trials.md", (table + "\n").encode())
        print(f"\n{cell.name}: {len(study.trials)} trials ({url})\n{table}")
        best = best_trial(study)
        if best is None:
            print(f"{cell.name}: no trial finished, so no best config", file=sys.stderr)
            status = 1
            continue
        trial = trial_cell(cell, best.number, best.params)
        path = write_best_config(folder / "best_config.yaml", trial, best, cell)
        print(f"best: trial {best.number}, {primary_key(cell)} {best.value:.2f}; run folder {trial.folder.root}; "
              f"settings {path} (replay: run_qa.py --config {path} --output_dir DIR)")
    return status


def best_trial(study):
    import optuna

    finished = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    return max(finished, key=lambda t: (t.value, -t.number)) if finished else None


def primary_key(cell):
    from ._toolkit import REGISTRY

    return REGISTRY[cell.data_name].metric.primary_key


def trials_table(study, cell, search):
    """Markdown: a row per trial, its number, state, searched settings, score and run folder; the best marked."""
    best = best_trial(study)
    names = [param.name for param in search.space]
    rows = [f"| trial | state | {' | '.join(names)} | {primary_key(cell)} | run folder |",
            "|" + "---|" * (len(names) + 4)]
    for trial in study.get_trials(deepcopy=False):
        state = trial.state.name.lower() + (" (best)" if best is not None and trial.number == best.number else "")
        score = trial.value if trial.value is not None else last_intermediate(trial)
        values = [format_value(trial.params.get(name)) for name in names]
        rows.append(f"| {trial.number} | {state} | {' | '.join(values)} | "
                    f"{'—' if score is None else f'{score:.2f}'} | {trial.user_attrs.get('run_folder', '—')} |")
    return "\n".join(rows)


def last_intermediate(trial):
    """A pruned trial's score: its last reported validation."""
    steps = trial.intermediate_values
    return steps[max(steps)] if steps else None


def format_value(value):
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_best_config(path, trial, frozen, cell):
    """The best trial's settings as a run_qa.py --config file: every setting of its run but where the run folder
    goes (a replay gives --output_dir / --run_name itself)."""
    import yaml

    settings = {k: v for k, v in trial.settings.items() if k not in NOT_IN_BEST_CONFIG}
    header = (f"# best trial of study {cell.name!r}: trial {frozen.number}, {primary_key(cell)} "
              f"{frozen.value:.4f}\n# its run folder: {trial.folder.root}\n"
              f"# replay: python run_qa.py --config {path} --output_dir DIR\n")
    text = header + yaml.safe_dump(settings, sort_keys=False, allow_unicode=True)
    atomic_write_bytes(path, text.encode())
    return path


# ---- --status and --dry_run ---------------------------------------------------------------------------------
def status(experiment, args):
    """Every study's trials table, nothing run (a study not started yet says so)."""
    search = check_block(experiment.search, f"{experiment.path}: search", tuple(experiment.grid))
    url = storage_url(experiment, args)
    if url.startswith("sqlite:///") and not (search_dir(experiment) / "study.db").is_file() \
            and not getattr(args, "storage", None):
        print(f"no study yet ({url}): {len(experiment.cells)} studies of {search.n_trials} trials pending")
        return 0
    for cell in experiment.cells:
        try:
            study = open_study(cell, search, url, create=False)
        except KeyError:
            print(f"{cell.name}: not started ({search.n_trials} trials pending)")
            continue
        print(f"{cell.name}: {len(study.trials)} of {search.n_trials} trials\n{trials_table(study, cell, search)}")
    return 0


def dry_run(experiment, args):
    search = check_block(experiment.search, f"{experiment.path}: search", tuple(experiment.grid))
    space = ", ".join(f"{p.name} {p.kind} {list(p.values)}" for p in search.space)
    print(f"search: {search.n_trials} trials per study over {space}; median pruner "
          f"({search.pruning.startup_trials} startup trials, {search.pruning.warmup_steps} warm-up steps); "
          f"study in {storage_url(experiment, args)}")
    for cell in experiment.cells:
        example = {p.name: p.values[0] for p in search.space}
        command = trial_cell(cell, 0, example).command()
        print(f"\nstudy {cell.name} (maximize {primary_key(cell)}): trial N runs\n  {' '.join(command)}\n"
              f"  with {', '.join(p.name for p in search.space)} drawn for it")
    return 0


def add_arguments(parser):
    parser.add_argument("--storage", help="the Optuna study of a search: a database URL (sqlite:///..., "
                                          "postgresql://..., mysql://...) or a journal file path ending in .log on "
                                          "a shared file system (default: sqlite in OUTPUT_DIR/search/study.db)")
    parser.add_argument("--workers", type=int, default=1,
                        help="--launcher slurm with a search: the search workers submitted as one job array")
