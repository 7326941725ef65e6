"""run.json's record of an invocation of run_qa.py: the settings, status, timing and hardware, and for a training
every invocation that trained the run. korsquad.runs.folder.RunFolder reads and writes the file."""

import time
from datetime import datetime, timezone

from ..common.errors import UsageError
from ..common.jsonio import atomic_write_bytes

# The keys of run.json beside "config": the run's record, not settings (so a run.json replays through --config:
# korsquad.config.options.read_config_file).
RECORD_KEYS = frozenset({"config", "status", "started_at", "finished_at", "wall_time_s", "hardware", "train_steps",
                         "train_tokens", "num_parameters", "error", "evaluation", "inherited_from", "invocations",
                         "dev_data", "pipeline_agreement", "pruned"})
# run.json's "config" (and a checkpoint's settings) holds, beside the settings, what they were resolved to: the
# Lightning devices, the number of processes, and the absolute path of --model_name_or_path, resolved once against
# the working directory of the command that was given it (korsquad.runs.checkpoints.recorded_model_path). A replay
# through --config leaves them aside.
MODEL_PATH_KEY = "model_name_or_path_resolved"
RESOLVED_KEYS = ("devices_resolved", "world_size", MODEL_PATH_KEY)


class RunRecord:
    """run.json, written by the first process only (`first_process`): the settings, status, timing and hardware of
    this invocation, and for a training every invocation that trained the run (`invocations`: when, the command
    line, and for a --resume the settings it changed), so the settings in `config` are always the ones in use."""

    def __init__(self, config, argv, *, first_process):
        self.config = config
        self.first_process = first_process
        self.started = time.time()
        self.extra = {}
        self.train_steps = None
        self.found = None  # run.json's bytes before this invocation wrote it (`start`)
        if config.do_train and first_process:
            self.extra["invocations"] = training_invocations(config, argv, self.started)

    def start(self, **extra):
        """The invocation's first write into the run folder: "running". What run.json held before is kept for
        `fail`."""
        run_json = self.config.folder.run_json
        self.found = run_json.read_bytes() if self.first_process and run_json.is_file() else None
        self.write("running", **extra)

    def fail(self, err):
        """After an error: "failed", with the error. A refusal (UsageError) puts back the record this invocation
        found instead: refused input never rewrites a run's record (a new run's says "failed")."""
        if isinstance(err, UsageError) and self.found is not None:
            atomic_write_bytes(self.config.folder.run_json, self.found)
            return
        self.write("failed", error=f"{type(err).__name__}: {err}")

    def write(self, status, **extra):
        if not self.first_process:
            return
        self.extra.update(extra)
        finished = status != "running"
        config = self.config
        record = dict(
            self.extra,
            config=config.record(),
            status=status,
            started_at=datetime.fromtimestamp(self.started, timezone.utc).isoformat(),
            finished_at=datetime.now(timezone.utc).isoformat() if finished else None,
            wall_time_s=round(time.time() - self.started, 1) if finished else None,
            hardware=hardware(config),
            train_steps=self.train_steps,
        )
        if config.inherited_from:
            record["inherited_from"] = config.inherited_from
        config.folder.write_record(record, evaluation_only=not config.do_train)


def training_invocations(config, argv, started):
    """The run's invocations so far and this one: a new training starts the list, a --resume adds to it."""
    when = datetime.fromtimestamp(started, timezone.utc).isoformat()
    previous = config.folder.read_record() if config.resume else None
    if previous is None:
        return [{"started_at": when, "argv": argv}]
    earlier = previous.get("invocations") or [{"started_at": previous.get("started_at"), "argv": None}]
    before, now = previous.get("config") or {}, config.record()
    changed = {name: [before[name], now[name]] for name in now if name in before and before[name] != now[name]}
    return [*earlier, {"started_at": when, "argv": argv, "changed": changed}]


def hardware(config):
    import torch

    devices = config.trainer_devices
    count = len(devices) if isinstance(devices, list) else devices
    accelerator = config.accelerator_kind
    gpu = accelerator == "gpu" or (accelerator == "auto" and torch.cuda.is_available())
    name = torch.cuda.get_device_name(devices[0] if isinstance(devices, list) else 0) if gpu else "cpu"
    return {"accelerator": "gpu" if gpu else "cpu", "devices": count, "num_nodes": config.num_nodes,
            "device_name": name}
