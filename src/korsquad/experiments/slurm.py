"""`--launcher slurm`: each cell of the experiment a SLURM job, through submitit (`pip install 'korsquad[slurm]'`).

    slurm:                          # optional block of the experiment file; --slurm_<key> flags override it
      partition: gpu
      account: my-project
      time_min: 720                 # each job's time limit, minutes
      gpus_per_node: 8              # a node's GPUs: a cell of more GPUs spans several nodes; 0: CPU jobs
      cpus_per_task: 16
      array_parallelism: 8          # jobs of the array running at once
      cluster: slurm                # or local: submitit's LocalExecutor, the same code path on this machine

The cells that are not done, not running and not already queued are submitted as one job array per shape of job
(nodes x GPUs: the base cells in one array, the large ones in another). A job runs the cell exactly as the local
launcher does, through the core's runner (its lock, --resume of an interrupted run, retries, its record), so
running the command again, while the jobs run or after they ended, reads each cell's state from its run folder; the
job ids are kept in `<output_dir>/slurm/jobs.json`, and a cell whose job is still queued or running is not
submitted twice. submitit's files (the pickled call, stdout, stderr) are in `<output_dir>/slurm/`.

A cell of several GPUs is one task per node: its run_qa.py starts its own DDP processes (Lightning's launcher),
so the job's SLURM task variables are removed from its environment (Lightning would otherwise expect one srun
task per GPU). Across nodes, node 0's runner decides the command (fresh, --resume, a retry) and writes it to the
job's launch file; the other nodes run the same command with their NODE_RANK, MASTER_ADDR being node 0.
"""

import dataclasses
import os
import sys
import time
from pathlib import Path

from ._toolkit import UsageError, atomic_write_json, load_record

BLOCK_KEYS = ("partition", "account", "time_min", "gpus_per_node", "cpus_per_task", "array_parallelism", "cluster")
CLUSTERS = ("slurm", "local")
SLURM_DIR = "slurm"
DEFAULT_TIME_MIN = 24 * 60
POLL_S = 5  # how often the waiting command looks at its jobs
# SLURM's task variables: with them Lightning takes the job for srun's tasks and starts no DDP processes itself
TASK_VARIABLES = ("SLURM_NTASKS", "SLURM_NTASKS_PER_NODE", "SLURM_NPROCS", "SLURM_PROCID", "SLURM_LOCALID",
                  "SLURM_STEP_NUM_TASKS", "SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE")
ACTIVE_STATES = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING")
MASTER_PORT_BASE = 20000  # + the job id modulo MASTER_PORT_SPAN: the DDP rendezvous of a multi-node cell
MASTER_PORT_SPAN = 20000
FOLLOW_TIMEOUT_S = 30 * 60  # a node other than node 0 waits this long for node 0's command


@dataclasses.dataclass(frozen=True)
class SlurmSettings:
    partition: str = None
    account: str = None
    time_min: int = DEFAULT_TIME_MIN
    gpus_per_node: int = None  # None: each job one node with exactly the cell's GPUs
    cpus_per_task: int = None
    array_parallelism: int = 256
    cluster: str = "slurm"


def check_block(raw, where):
    """The SlurmSettings a `slurm:` block states; a bad block is one UsageError naming `where` and the key."""
    from .fields import check_keys, mapping

    block = mapping(raw, where)
    check_keys(block, BLOCK_KEYS, where, "the keys of slurm")
    for key, value in block.items():
        problem = field_problem(key, value)
        if problem:
            raise UsageError(f"{where}: key {key!r} {problem}, not {value!r}")
    return SlurmSettings(**block)


def field_problem(key, value):
    if key in ("partition", "account"):
        return None if isinstance(value, str) and value else "must be a name"
    if key == "cluster":
        return None if value in CLUSTERS else f"must be one of {', '.join(CLUSTERS)}"
    if not isinstance(value, int) or isinstance(value, bool):
        return "must be an integer"
    if key == "gpus_per_node":
        return None if value >= 0 else "must not be negative"
    return None if value > 0 else "must be positive"


def add_arguments(parser):
    group = parser.add_argument_group("--launcher slurm (override the file's slurm: block)")
    group.add_argument("--slurm_partition", help="the partition of the jobs")
    group.add_argument("--slurm_account", help="the account the jobs are charged to")
    group.add_argument("--slurm_time_min", type=int, help=f"each job's time limit in minutes (default "
                                                          f"{DEFAULT_TIME_MIN})")
    group.add_argument("--slurm_gpus_per_node", type=int, help="GPUs of a node: a cell of more spans several "
                                                               "nodes; 0: CPU jobs (default: the cell's GPUs)")
    group.add_argument("--slurm_cpus_per_task", type=int, help="CPUs of each job's task (one task per node)")
    group.add_argument("--slurm_array_parallelism", type=int, help="jobs of an array running at once (default 256)")
    group.add_argument("--slurm_cluster", choices=CLUSTERS, help="slurm, or local: submitit's LocalExecutor runs "
                                                                 "the jobs on this machine (tests, a dry run)")
    group.add_argument("--slurm_no_wait", action="store_true", help="submit and return: run the command again "
                                                                    "(or --status) to see the cells")


def settings_of(experiment, args):
    """The file's slurm: block, each key overridden by its --slurm_<key> flag."""
    where = f"{experiment.path}: slurm"
    settings = check_block(experiment.slurm, where) if experiment.slurm is not None else SlurmSettings()
    flags = {key: getattr(args, f"slurm_{key}", None) for key in BLOCK_KEYS}
    given = {key: value for key, value in flags.items() if value is not None}
    for key, value in given.items():
        problem = field_problem(key, value)
        if problem:
            raise UsageError(f"--slurm_{key} {problem}, not {value!r}")
    return dataclasses.replace(settings, **given)


def job_shape(gpus, settings):
    """(nodes, GPUs per node) of a job for a cell of `gpus` GPUs."""
    per_node = settings.gpus_per_node
    if per_node == 0:
        return 1, 0
    if per_node is None or gpus <= per_node:
        return 1, gpus
    if gpus % per_node:
        raise UsageError(f"a cell of {gpus} GPUs does not fill whole nodes of --slurm_gpus_per_node {per_node}")
    return gpus // per_node, per_node


def require_submitit():
    """submitit is an optional extra: its absence is one error line, before anything is read or written."""
    import importlib.util

    if importlib.util.find_spec("submitit") is None:
        raise UsageError("--launcher slurm needs submitit: pip install 'korsquad[slurm]'")


def slurm_dir(experiment):
    return Path(experiment.output_dir) / SLURM_DIR


# ---- submitting --------------------------------------------------------------------------------------------
def launch(experiment, cells, args):
    """Submit the cells that need a job, wait for them (unless --slurm_no_wait), print the table. Exit status 0
    when every cell is done, 1 otherwise (a summary names each cell not done with its error line)."""
    from .state import cell_state

    require_submitit()
    settings = settings_of(experiment, args)
    jobs = JobBook(slurm_dir(experiment), settings.cluster)
    todo, skipped = [], []
    for cell in cells:
        state = cell_state(cell).status
        if state in ("done", "running") or jobs.active(cell.label):
            skipped.append((cell, "queued" if state not in ("done", "running") else state))
        else:
            todo.append(cell)
    for cell, why in skipped:
        print(f"{cell.label}: {why}, not submitted")
    retries = getattr(args, "retries", 1)
    calls = [(cell.label, job_shape(cell.gpus, settings), run_cell_job, (cell, retries)) for cell in todo]
    submitted = submit(experiment, settings, calls, jobs)
    if args.slurm_no_wait:
        return print_status(experiment, cells)
    wait(submitted)
    return finish(experiment, cells)


def launch_workers(experiment, args, count, gpus, function, arguments):
    """Submit `count` jobs of `function(*arguments)` (a search's workers) as one array, wait unless told not to."""
    require_submitit()
    settings = settings_of(experiment, args)
    jobs = JobBook(slurm_dir(experiment), settings.cluster)
    calls = [(f"worker {index}", job_shape(gpus, settings), function, arguments) for index in range(count)]
    submitted = submit(experiment, settings, calls, jobs)
    if not args.slurm_no_wait:
        wait(submitted)
    return submitted


def submit(experiment, settings, calls, jobs):
    """[(label, job)] of `calls` (label, (nodes, gpus per node), function, arguments): one array per shape."""
    import submitit

    submitted = []
    for shape in dict.fromkeys(shape for _, shape, _, _ in calls):
        group = [(label, fn, fn_args) for label, s, fn, fn_args in calls if s == shape]
        executor = submitit.AutoExecutor(folder=str(slurm_dir(experiment) / "%j"), cluster=settings.cluster)
        executor.update_parameters(**executor_parameters(settings, shape, len(group)))
        with executor.batch():
            handles = [executor.submit(fn, *fn_args) for _, fn, fn_args in group]
        for (label, _, _), job in zip(group, handles):
            print(f"{label}: job {job.job_id} ({shape[0]} node(s), {shape[1]} GPU(s) per node)")
            submitted.append((label, job))
    jobs.add({label: job.job_id for label, job in submitted})
    placeholder = slurm_dir(experiment) / "%j"  # submitit leaves the folder pattern itself as an empty folder
    if placeholder.is_dir() and not any(placeholder.iterdir()):
        placeholder.rmdir()
    return submitted


def executor_parameters(settings, shape, count):
    nodes, gpus_per_node = shape
    parameters = dict(name="korsquad", timeout_min=settings.time_min, nodes=nodes, tasks_per_node=1,
                      slurm_array_parallelism=min(count, settings.array_parallelism))
    if gpus_per_node:
        parameters["gpus_per_node"] = gpus_per_node
    if settings.cpus_per_task:
        parameters["cpus_per_task"] = settings.cpus_per_task
    if settings.partition:
        parameters["slurm_partition"] = settings.partition
    if settings.account:
        parameters["slurm_account"] = settings.account
    return parameters


def wait(submitted):
    """Until every job ended, a line as each ends."""
    pending = list(submitted)
    while pending:
        still = []
        for label, job in pending:
            if job.done():
                print(f"{label}: job {job.job_id} ended ({job.state})")
            else:
                still.append((label, job))
        pending = still
        if pending:
            time.sleep(POLL_S)


def finish(experiment, cells):
    """After the jobs ended: the table and the summary as the local launcher ends (korsquad.experiments.cli); a
    cell not done then failed (its error line from its record)."""
    from .status import finish as write_table_and_summary
    from .runner import Outcome
    from .state import cell_state

    states = {cell: cell_state(cell) for cell in cells}
    failed = [Outcome(cell, "failed", error=states[cell].detail) for cell in cells if states[cell].status != "done"]
    return write_table_and_summary(experiment, cells, failed)


def print_status(experiment, cells):
    """--slurm_no_wait: where every cell stands now (the jobs go on without this command)."""
    from .state import cell_state
    from .status import status_lines, summary_line

    states = {cell: cell_state(cell) for cell in cells}
    print(summary_line(experiment, cells, states))
    print("\n".join(status_lines(cells, states)))
    return 0


class JobBook:
    """`<output_dir>/slurm/jobs.json`: the job id last submitted for each label (a cell), to know a cell that is
    still queued when the command runs again."""

    def __init__(self, folder, cluster):
        self.path = Path(folder) / "jobs.json"
        self.folder = Path(folder)
        self.cluster = cluster

    def read(self):
        return load_record(self.path) or {}

    def add(self, job_ids):
        if job_ids:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.path, dict(self.read(), **{label: {"job_id": job_id, "cluster": self.cluster}
                                                             for label, job_id in job_ids.items()}))

    def active(self, label):
        entry = self.read().get(label)
        if not isinstance(entry, dict) or "job_id" not in entry:
            return False
        return job_active(self.folder, str(entry["job_id"]), entry.get("cluster", "slurm"))


def job_active(folder, job_id, cluster):
    """Whether a job submitted earlier (by another run of the command) is still queued or running."""
    if cluster == "local":  # a local job's id is its controller's pid
        try:
            os.kill(int(job_id.split("_")[0]), 0)
        except (OSError, ValueError):
            return False
        return True
    import submitit

    return submitit.SlurmJob(folder=str(folder / "%j"), job_id=job_id).state in ACTIVE_STATES


# ---- in the job ------------------------------------------------------------------------------------------
def run_cell_job(cell, retries):
    """What a cell's job runs on its node(s): the local launcher with the job's GPUs on node 0 (the cell's lock,
    --resume of an interrupted run, retries, its record), the same commands on the other nodes."""
    import submitit

    from .launcher import run_cell

    job = submitit.JobEnvironment()
    env = dict.fromkeys(TASK_VARIABLES)  # None: removed from run_qa.py's environment
    publish = None
    if job.num_nodes > 1:
        port = MASTER_PORT_BASE + int(str(job.job_id).split("_")[0]) % MASTER_PORT_SPAN
        env.update(MASTER_ADDR=job.hostnames[0], MASTER_PORT=str(port), NODE_RANK=str(job.node))
        launch_file = Path(cell.state_dir) / f"{cell.name}.launch-{job.job_id}.json"
        if job.node > 0:
            return follow(launch_file, env)
        publish = Publisher(launch_file)
        gpus_per_node = cell.gpus // job.num_nodes
        cell = dataclasses.replace(cell, gpus=gpus_per_node, settings=dict(cell.settings, num_nodes=job.num_nodes))
    try:
        outcome = run_cell(cell, visible_gpus(), retries, env=env, on_launch=publish)
    finally:
        if publish is not None:
            publish.end()
    return {"cell": cell.label, "status": outcome.status, "error": outcome.error}


def visible_gpus():
    """The GPUs SLURM (or the local executor) gave this job, for the runner (indices into CUDA_VISIBLE_DEVICES:
    all of them), or None for a CPU job."""
    count = len([x for x in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if x.strip()])
    return list(range(count)) or None


class Publisher:
    """Node 0's side of a multi-node cell: each attempt's command, numbered, in the job's launch file, for the
    other nodes to run with their own NODE_RANK; then that it ended."""

    def __init__(self, path):
        self.path = Path(path)
        self.attempt = 0

    def __call__(self, argv):
        self.attempt += 1
        atomic_write_json(self.path, {"attempt": self.attempt, "argv": argv, "ended": False})

    def end(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, dict(load_record(self.path) or {}, ended=True))


def follow(launch_file, env):
    """A node other than node 0: run every attempt node 0 publishes, with this node's rank, until it says it
    ended."""
    import subprocess

    done, waited = 0, 0.0
    child_env = {**os.environ, **{name: value for name, value in env.items() if value is not None}}
    for name in [name for name, value in env.items() if value is None]:
        child_env.pop(name, None)
    while True:
        record = load_record(launch_file) or {}
        if record.get("attempt", 0) > done:
            done = record["attempt"]
            subprocess.run(record["argv"], env=child_env, check=False)
            waited = 0.0
            continue
        if record.get("ended"):
            return {"status": "follower", "error": None}
        if waited > FOLLOW_TIMEOUT_S:
            print(f"{launch_file}: node 0 published no command in {FOLLOW_TIMEOUT_S} s", file=sys.stderr)
            return {"status": "failed", "error": "node 0 published no command"}
        time.sleep(1.0)
        waited += 1.0
