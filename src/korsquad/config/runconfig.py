"""The run's configuration: one frozen RunConfig, resolved once from flags, a config file, the training's record
and the defaults, with every value checked before any model loads.

Precedence, lowest first: the run defaults (korsquad.config.options.OPTIONS) and the data set's defaults
(korsquad.data.datasets), then, for an evaluation or prediction without --do_train, the settings the training used (its
run.json), then a --config file (YAML or JSON, keys are the flag names without dashes), then the command line.
"""

import dataclasses
import sys
from pathlib import Path
from types import MappingProxyType

from ..common.errors import UsageError
from ..data.datasets import REGISTRY, get_spec
from ..runs.folder import RunFolder
from ..runs.record import MODEL_PATH_KEY
from ..runs.settings import INHERITED as SCORED_SETTINGS
from ..runs.settings import DecodingSettings, WindowSettings, resolve_settings
from ..training.loggers import check_log_model
from .options import LARGE_HIDDEN_SIZE, OPTIONS, SETTINGS, parse_command_line, read_config_file

# An evaluation takes its model type from its model's training unless given (the window and decoding settings too:
# korsquad.runs.settings.resolve_settings), and reads the training's own dev file, unless given another.
INHERITED_SILENTLY = ("dev_file",)
# What is trained: --resume refuses any of these that differs from the run it continues (the checkpoint's weights,
# optimizer state, schedule and place in the epoch hold for these values only). The rest may change on resume:
# --max_steps / --num_train_epochs (the schedule is stretched to the new length), evaluation, logging, workers.
TRAINED_AS = ("model_type", "model_name_or_path", "attention_dropout", "data_dir", "train_file", "max_train_samples",
              "max_seq_length", "doc_stride", "max_query_length", "negative_window_ratio", "seed", "batch_size",
              "accumulate_grad_batches", "group_by_length", "learning_rate", "adam_epsilon", "weight_decay",
              "lr_scheduler", "warmup_ratio", "warmup_steps", "gradient_clip_val", "precision")
# What a resumed run does not take from the run it continues: where the run is found, and what this invocation
# is asked to do.
NOT_RESUMED = ("output_dir", "run_name", "resume", "overwrite_output_dir", "checkpoint", "do_eval", "do_predict",
               "predict_file", "push_to_hub", "overwrite_cache")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of a run, resolved and checked (`precision` too: --precision auto is resolved to the precision
    it chooses here; resolve_offline leaves that and the batch sizes to with_late_defaults); `trainer_devices`, `accelerator_kind` and `world_size` are
    derived from --gpu_ids / --accelerator / --devices / --num_nodes; `window` and `decoding` are the records of
    the window and decoding settings (korsquad.runs.settings), the only form in which they leave the configuration."""

    values: MappingProxyType
    trainer_devices: object  # what Lightning gets: a list of GPU ids or a process count
    accelerator_kind: str  # the Trainer's accelerator: cpu, gpu or auto
    world_size: int
    window: WindowSettings
    decoding: DecodingSettings
    model_source: object = None  # an evaluation's checkpoints.ModelSource: what it scores
    model_path: str = None  # --model_name_or_path resolved once: an absolute folder, or a Hub name
    precision_note: str = None  # with --precision auto, the line saying what it chose and why

    def __getattr__(self, name):
        if name in SCORED_SETTINGS:  # one owner each: read them from the records
            raise AttributeError(f"RunConfig.{name}: read it from config.window or config.decoding")
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def inherited_from(self):
        """Where an evaluation took its model's training settings from (a checkpoint, run.json or best_model/)."""
        source = self.model_source
        return source.origin if source is not None and source.settings is not None else None

    @property
    def spec(self):
        return get_spec(self.data_name)

    @property
    def model_files(self):
        """The folder or Hub name of the model's config and tokenizer: an evaluated model's own (a run's
        best_model/), else model_path."""
        source = self.model_source
        return source.tokenizer if source is not None and source.tokenizer is not None else self.model_path

    @property
    def folder(self):
        return RunFolder.of(self.output_dir, self.data_name, self.run_name)

    def record(self):
        """The settings as saved in run.json (a valid --config)."""
        return dict(self.values, devices_resolved=self.trainer_devices, world_size=self.world_size,
                    **{MODEL_PATH_KEY: self.model_path})


# ---- resolving ---------------------------------------------------------------------------------------------
def resolve(argv=None):
    """Flags (and --config file, and an evaluation's training record) -> RunConfig, or UsageError."""
    return with_late_defaults(resolve_offline(argv))


def resolve_offline(argv=None):
    """resolve() without the defaults that need the model's config.json or torch (with_late_defaults: the batch
    sizes not given are left None, --precision auto is left auto unless a --resume compares it): it asks no network
    and, for a training, imports no torch, so run_qa.py checks its data files and run folder at once."""
    given = parse_command_line(argv)
    from_file = read_config_file(given.pop("config")) if "config" in given else {}
    explicit = dict(from_file, **given)
    if explicit.get("data_name") is None:
        raise UsageError("--data_name is required")
    data_name = explicit["data_name"]
    if data_name not in REGISTRY:
        raise UsageError(f"--data_name {data_name!r} is unknown; choose one of {', '.join(REGISTRY)}")
    values = {option.name: option.default for option in OPTIONS if option.name != "config"}
    values.update(explicit)
    check_actions(values)
    source = resumed = None
    differ = []
    if not values["do_train"]:
        source = scored_model(values)
        differ = inherit_training_settings(values, explicit, source)
    if values["model_name_or_path"] is None:
        raise UsageError("--model_name_or_path is required")
    if values["do_train"]:
        values["run_name"] = run_name(values, explicit)
        if values["resume"]:
            resumed = inherit_resumed_settings(values, explicit)
        model_path = trained_model_path(values, resumed)
    else:
        model_path = evaluated_model_path(values, explicit, source)
        folder = evaluation_folder(values, explicit, source, model_path)
        values["run_name"] = folder.run_name
        if folder.output_dir != Path(values["output_dir"]):
            values["output_dir"] = str(folder.output_dir)
    fill_data_set_defaults(values)
    check_values(values)
    trained = resumed or (source.settings if source is not None else None) or {}
    window, decoding, scored_differ = resolve_settings(explicit, trained, get_spec(data_name).defaults)
    values.update(window.as_dict(), **decoding.as_dict())
    if source is not None and differ + scored_differ:
        print(f"note: settings differ from the training's ({source.origin}): {', '.join(differ + scored_differ)}",
              file=sys.stderr)
    accelerator, devices, world = resolve_devices(values)
    precision_note = None
    if source is not None and "precision" not in explicit:
        precision_note = inherit_precision(values, source.settings or {}, accelerator)
    if resumed is not None:  # compared as the precision it chooses here (otherwise with_late_defaults chooses)
        precision_note = resolve_precision(values, accelerator, devices)
        refuse_resume_changes(resumed, explicit, world, values)
    return RunConfig(MappingProxyType(values), devices, accelerator, world, window, decoding, source, model_path,
                     precision_note)


# ---- the run folder's name ---------------------------------------------------------------------------------
def run_name(values, explicit):
    """The run folder's name: one path component, so the folder is strictly inside OUTPUT_DIR/<data_name>/ and
    --overwrite_output_dir can only ever remove that one folder. A --run_name that would leave it is refused."""
    given = explicit.get("run_name")
    return checked_run_name(given) if given is not None else default_run_name(values["model_name_or_path"])


def checked_run_name(given):
    if not is_plain_name(given):
        raise UsageError(f"--run_name {given!r} must be a plain folder name (not empty, '.' or '..', no / or \\ "
                         "and not absolute): the run folder is OUTPUT_DIR/<data_name>/<run_name>")
    return given


def default_run_name(model, resolved=None):
    """--model_name_or_path with / replaced by -; `.` or `..` (and the like) give the name of the folder they
    mean (`resolved`, when it was resolved before, else against the working directory)."""
    if all(part in (".", "..") for part in Path(model).parts):
        name = Path(resolved or model).resolve().name  # `.` -> the current folder's name, `..` -> its parent's
    else:
        name = model.strip("/").replace("/", "-").replace("\\", "-")
    if not is_plain_name(name):
        raise UsageError(f"--model_name_or_path {model!r} gives no run folder name: give --run_name")
    return name


def is_plain_name(name):
    return bool(name) and name not in (".", "..") and not any(sep in name for sep in "/\\") \
        and not Path(name).is_absolute()


# ---- what an evaluation or a resumed run takes from its training ---------------------------------------------
def scored_model(values):
    """What an evaluation without --do_train scores (checkpoints.ModelSource): --checkpoint, else the best
    checkpoint of the run folder that --run_name (or the name --model_name_or_path gives a run) names."""
    from ..runs.checkpoints import locate

    if values["checkpoint"] is not None:
        return locate(values["checkpoint"], None)
    if values["run_name"] is None and values["model_name_or_path"] is None:
        raise UsageError("nothing to evaluate: give --run_name (a run folder under --output_dir), --checkpoint or "
                         "--model_name_or_path")
    given = values["run_name"]
    name = checked_run_name(given) if given is not None else default_run_name(values["model_name_or_path"])
    return locate(None, RunFolder.of(values["output_dir"], values["data_name"], name))


def inherit_training_settings(values, explicit, source):
    """An evaluation uses the model type its model was trained with, whatever --run_name says, unless given (and
    the training's dev file); a model never trained here gets its model type from its folder. Returns the given
    model type when it differs from the training's, for the note (with the window and decoding settings')."""
    training = source.settings or {}
    if values["model_name_or_path"] is None:  # the weights' own name: the tokenizer to load, the run folder's name
        values["model_name_or_path"] = source.path if source.kind == "model" else training.get("model_name_or_path")
    for name in INHERITED_SILENTLY:
        if name not in explicit and training.get(name):
            values[name] = training[name]
    differ = []
    if "model_type" in training:
        if "model_type" not in explicit:
            values["model_type"] = training["model_type"]
        elif explicit["model_type"] != training["model_type"]:
            differ.append(f"model_type {explicit['model_type']} (trained with {training['model_type']})")
    if values["model_type"] is None and source.kind == "model":
        from ..features.model_types import infer_model_type

        values["model_type"] = infer_model_type(source.path)
    return differ


def inherit_precision(values, training, accelerator):
    """An evaluation not given --precision computes in its training's, so that its predictions are the training's
    (as its window and decoding settings are), except 16-mixed on a CPU (Lightning would run bf16-mixed instead):
    then, and for a model never trained here, auto chooses. The line saying so, or None."""
    precision = training.get("precision")
    if precision not in ("32", "bf16-mixed", "16-mixed") or (precision == "16-mixed" and accelerator == "cpu"):
        return None
    values["precision"] = precision
    return f"precision {precision} (the training's; --precision auto chooses for this machine instead)"


def evaluated_model_path(values, explicit, source):
    """The model an evaluation's tokenizer falls back on (checkpoints.ModelSource.tokenizer comes first): a model
    folder or Hub name itself; a --model_name_or_path given now; else the path its training recorded. One error
    line when the scored model has no tokenizer to load."""
    from ..runs.checkpoints import recorded_model_path, resolve_model_path

    if source.kind == "model":
        return resolve_model_path(source.path)
    if "model_name_or_path" in explicit:
        return resolve_model_path(explicit["model_name_or_path"])
    path = recorded_model_path(source.settings or {})
    if path is None and source.tokenizer is None:
        typed = (source.settings or {}).get("model_name_or_path")
        recorded = (source.settings or {}).get(MODEL_PATH_KEY) or "no absolute path recorded"
        raise UsageError(f"{source.path}: no tokenizer to evaluate with: no exported best_model/ beside it, and the "
                         f"model its training started from ({typed}: {recorded}) is not there; give "
                         "--model_name_or_path")
    return path


def evaluation_folder(values, explicit, source, model_path):
    """The run folder an evaluation writes into: the folder of the run whose model it scores (a run folder, a
    checkpoint in its checkpoints/, its best_model/), unless --output_dir or --run_name name another place. A model
    of no run, or one placed elsewhere, gets a folder of its own that never holds another run's training: a name
    that does gets a suffix (-2, -3, ...) and one note line."""
    owner = source.run_folder
    output_dir = explicit.get("output_dir") or (owner.output_dir if owner is not None else values["output_dir"])
    if explicit.get("run_name") is not None:
        name = checked_run_name(explicit["run_name"])
    else:
        name = owner.run_name if owner is not None else default_run_name(values["model_name_or_path"], model_path)
    folder = RunFolder.of(output_dir, values["data_name"], name)
    if owner is not None and folder.is_same(owner):
        return owner
    return unclaimed_folder(folder)


def unclaimed_folder(folder):
    """`folder`, or when it holds a training the first of `<name>-2`, `<name>-3`, ... that does not."""
    chosen, number = folder, 1
    while chosen.holds_training():
        number += 1
        chosen = RunFolder(folder.root.with_name(f"{folder.run_name}-{number}"))
    if chosen is not folder:
        print(f"note: {folder.root} holds another run's training; this evaluation is recorded in {chosen.root}",
              file=sys.stderr)
    return chosen


def trained_model_path(values, resumed):
    """--model_name_or_path resolved once: now, or for --resume of the same name, as the run recorded it."""
    from ..runs.checkpoints import resolve_model_path

    if resumed is not None and resumed.get(MODEL_PATH_KEY) and \
            resumed.get("model_name_or_path") == values["model_name_or_path"]:
        return resumed[MODEL_PATH_KEY]
    return resolve_model_path(values["model_name_or_path"])


def inherit_resumed_settings(values, explicit):
    """--resume continues the run with the settings it was trained with (its run.json): every setting not given
    on the command line is the run's. Returns that record's settings, or None when there is none to check against
    (a folder without run.json: the checkpoint alone is continued)."""
    recorded = RunFolder.of(values["output_dir"], values["data_name"], values["run_name"]).training_settings()
    if recorded is None:
        return None
    for name in SETTINGS:
        if name in recorded and name not in explicit and name not in NOT_RESUMED:
            values[name] = recorded[name]
    return recorded


def refuse_resume_changes(recorded, explicit, world, values):
    """One error line naming every setting given on resume that changes what is trained (TRAINED_AS, and the
    number of processes, which decides the batches). A setting is compared as resolved (--precision auto as the
    precision it chose here)."""
    differ = [f"--{name} {given_text(explicit[name], values[name])} (trained with {recorded[name]})"
              for name in TRAINED_AS
              if name in explicit and name in recorded and values[name] != recorded[name]]
    if recorded.get("world_size") not in (None, world):
        differ.append(f"{world} processes (trained with {recorded['world_size']}; --gpu_ids/--devices/--num_nodes)")
    if differ:
        folder = RunFolder.of(values["output_dir"], values["data_name"], values["run_name"]).root
        raise UsageError(f"--resume continues {folder} exactly as it was trained, but {', '.join(differ)}: drop "
                         "these flags to continue it, or train a new run (--run_name)")


def given_text(given, resolved):
    """A given value, with what it resolved to when that differs: `auto (bf16-mixed here)`."""
    return f"{given}" if given == resolved else f"{given} ({resolved} here)"


# ---- defaults and checks -------------------------------------------------------------------------------------
def fill_data_set_defaults(values):
    spec = get_spec(values["data_name"])
    if values["model_type"] is None:
        raise UsageError("--model_type is required (no training settings to take it from)")
    for option in OPTIONS:
        if option.by_data_set and values[option.name] is None:
            values[option.name] = spec.defaults[option.name]
    if values["adam_epsilon"] is None:
        values["adam_epsilon"] = spec.adam_epsilon(values["model_type"])


def with_late_defaults(config):
    """The config with what resolve_offline leaves: --precision auto's choice (torch, seconds to import, tells
    whether CUDA runs it) and the batch sizes not given, the data set's by the model's width (its config.json,
    which may come from the Hub)."""
    if config.precision != "auto" and config.batch_size is not None and config.eval_batch_size is not None:
        return config
    values = dict(config.values)
    precision_note = config.precision_note
    if values["precision"] == "auto":
        precision_note = resolve_precision(values, config.accelerator_kind, config.trainer_devices)
    if values["batch_size"] is None:
        large = model_hidden_size(config.model_files) >= LARGE_HIDDEN_SIZE
        values["batch_size"] = config.spec.defaults["batch_size_large" if large else "batch_size"]
    if values["eval_batch_size"] is None:
        values["eval_batch_size"] = 2 * values["batch_size"]
    return dataclasses.replace(config, values=MappingProxyType(values), precision_note=precision_note)


def model_hidden_size(model_files):
    """The model's hidden size from its config.json (cheap: no weights); 0 when it cannot be read here (the
    model load reports that properly later)."""
    if model_files is None:
        return 0
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model_files)
    except (OSError, ValueError):
        return 0
    return getattr(config, "hidden_size", 0) or getattr(config, "d_model", 0) or 0


def check_values(values):
    """Every range check of the run, once: one line naming the flag."""
    for option in OPTIONS:
        value = values.get(option.name)
        if option.check is not None and value is not None:
            problem = option.check(value)
            if problem:
                raise UsageError(f"--{option.name} {problem}, not {value}")
    if values["resume"] and values["overwrite_output_dir"]:
        raise UsageError("--resume continues the run in the folder; --overwrite_output_dir removes it: give one")
    check_strategy(values)


def check_actions(values):
    """What to do, checked before an evaluation looks for its model."""
    if not (values["do_train"] or values["do_eval"] or values["do_predict"]):
        raise UsageError("nothing to do: give --do_train, --do_eval and/or --do_predict")
    if values["do_predict"] and not values["predict_file"]:
        raise UsageError("--do_predict needs --predict_file")
    if values["do_train"] and values["checkpoint"]:
        raise UsageError("--checkpoint selects weights to evaluate; it does not apply to --do_train")
    problem = values["do_train"] and check_log_model(values["logger"], values["log_model"])
    if problem:
        raise UsageError(problem)


def check_strategy(values):
    """FSDP and DeepSpeed are Lightning's GPU strategies: refused here rather than after the model loads."""
    strategy = values["strategy"]
    if strategy == "ddp":
        return
    import importlib.util

    if strategy == "deepspeed" and importlib.util.find_spec("deepspeed") is None:
        raise UsageError("--strategy deepspeed needs the deepspeed package: pip install 'korsquad[deepspeed]'")
    import torch

    wants_gpu = values["gpu_ids"] is not None or values["accelerator"] == "gpu"
    if not torch.cuda.is_available() or not (wants_gpu or values["accelerator"] == "auto"):
        raise UsageError(f"--strategy {strategy} runs on GPUs only (Lightning's {strategy} strategy); use "
                         "--strategy ddp on CPUs")


def resolve_precision(values, accelerator, devices):
    """--precision auto -> the precision for the hardware the run trains on (korsquad.common.cpu.precision_here), in
    `values` (so run.json records it and --resume compares it); returns the line saying what it chose and why, or
    None when a precision was given."""
    if values["precision"] != "auto":
        return None
    from ..common.cpu import precision_here, precision_line

    values["precision"], why = precision_here(accelerator, devices)
    return precision_line(values["precision"], why)


def resolve_devices(values):
    """(accelerator, devices for Lightning, world size): --gpu_ids 0,3 means exactly GPUs 0 and 3."""
    if values["gpu_ids"] is None:
        return values["accelerator"], values["devices"], values["devices"] * values["num_nodes"]
    try:
        ids = [int(x) for x in values["gpu_ids"].split(",") if x.strip() != ""]
    except ValueError:
        raise UsageError(f"--gpu_ids {values['gpu_ids']!r}: expected comma-separated integers like 0,1") from None
    import torch

    available = torch.cuda.device_count()
    missing = [i for i in ids if i < 0 or i >= available]
    if not ids or missing or len(set(ids)) != len(ids):
        raise UsageError(f"--gpu_ids {values['gpu_ids']}: this machine has {available} GPU(s)"
                         + (f" (ids 0..{available - 1})" if available else "; use --accelerator cpu"))
    return "gpu", ids, len(ids) * values["num_nodes"]
