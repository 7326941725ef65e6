"""What a run folder records beside the model; korsquad.runs.folder.RunFolder reads and writes the files.

run.json          each invocation of run_qa.py: the settings, status, timing and hardware, and for a training
                  every invocation that trained the run (RunRecord)
evaluations.json  what each evaluation's scores were measured on (evaluation_entry): result.json holds the official
                  scores of the latest evaluation exactly as the official scripts compute them; beside it, every
                  evaluation of a run folder appends one entry (RunFolder.add_evaluation): the dev file and the
                  digest of its bytes, the number of questions scored, the window and decoding settings, the
                  checkpoint and its optimizer step, and its scores. korsquad.analysis.report shows each entry as
                  its own labelled row (evaluation_settings), so an evaluation is never shown under another's
                  settings. The latest entry is the evaluation that wrote the folder's predictions_eval.json:
                  korsquad.analysis.compare and korsquad.analysis.page read its dev data here
                  (evaluated_dev_data), since run.json's "evaluation" holds only the last invocation without
                  training, which may be a --do_predict.
"""

import time
from datetime import datetime, timezone
from pathlib import Path

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


# ---- evaluations.json: what each evaluation was measured on ----------------------------------------------------------
def evaluation_entry(config, *, during, dev_file, dev_digest, questions, checkpoint, step, result):
    """One evaluations.json entry. during: "training" (the best checkpoint's validation) or "evaluation" (a
    --do_eval without --do_train); dev_digest: readers.data_digest of the dev file (run.json's dev_data too)."""
    return {
        "at": datetime.now(timezone.utc).isoformat(),
        "during": during,
        "dev_file": str(Path(dev_file).resolve()),  # absolute: compare and inspect read it from any folder
        "dev_digest": dev_digest,
        "questions": questions,
        "window": config.window.as_dict(),
        "decoding": config.decoding.as_dict(),
        "checkpoint": str(checkpoint),
        "checkpoint_step": step,
        "result": result,
    }


# The training's settings that an entry's own record replaces: its sample limit by the count of questions it scored
# ("eval_questions"), which a later evaluation may have set otherwise.
REPLACED_SETTINGS = ("max_eval_samples",)


def measured_settings(entry):
    """An entry's settings as flat {setting: value}, the way run.json's "config" names them (the report's
    columns; the checkpoint by its step, its path being the run folder's own). An entry is an evaluation, so
    do_eval is true, whatever the training's own flags were."""
    return {"do_eval": True, "dev_file": entry.get("dev_file"), "dev_digest": entry.get("dev_digest"),
            "eval_questions": entry.get("questions"), **(entry.get("window") or {}), **(entry.get("decoding") or {}),
            "checkpoint_step": entry.get("checkpoint_step")}


def evaluation_settings(config, entry):
    """The settings one evaluation was measured with: the run's config (run.json) with the entry's own in place of
    the training's."""
    kept = {key: value for key, value in config.items() if key not in REPLACED_SETTINGS}
    return dict(kept, **measured_settings(entry))


def evaluated_dev_data(evaluations, record):
    """{"path", "sha256"} of the dev data the folder's predictions_eval.json answers, or None when nothing records
    it: the latest evaluation's (evaluations.json), with the absolute path run.json records for the same digest
    where there is one; a folder without evaluations.json (older runs): run.json's own, the evaluation's before the
    training's."""
    recorded = [part.get("dev_data") for part in (record.get("evaluation"), record) if isinstance(part, dict)]
    recorded = [dev for dev in recorded if isinstance(dev, dict) and isinstance(dev.get("sha256"), str)]
    if not evaluations:
        return recorded[0] if recorded else None
    latest = evaluations[-1]
    digest = latest.get("dev_digest")
    if not isinstance(digest, str):
        return None
    path = next((dev.get("path") for dev in recorded if dev["sha256"] == digest), latest.get("dev_file"))
    return {"path": path, "sha256": digest}
