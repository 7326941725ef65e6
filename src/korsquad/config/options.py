"""The settings of a run: every flag of run_qa.py (OPTIONS: its type, run default, help text and check), read
from the command line and from a --config file into typed values. `run_qa.py --help` and the READMEs' flag tables
are generated from them (`korsquad flags en|ko` prints a table). Each default has one owner: the
registry for data-set defaults, OPTIONS for run defaults. korsquad.config.runconfig resolves the settings into one
RunConfig.
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from ..common.errors import ArgumentParser, UsageError, exit_on_usage_error
from ..common.jsonio import load_json
from ..data.datasets import DEFAULT_DATA_DIR, REGISTRY
from ..features.model_types import MODEL_TYPES
from ..runs.folder import DEFAULT_OUTPUT_DIR
from ..runs.record import RECORD_KEYS, RESOLVED_KEYS
from ..training.loggers import check_logger_names
from ..training.optim import SCHEDULERS

STRATEGIES = ("ddp", "fsdp", "deepspeed")
LARGE_HIDDEN_SIZE = 1024  # models at least this wide train with the registry's batch_size_large
# Settings a replayed run.json never passes on: they act on the run folder it came from (delete it, continue it)
# or upload it again; a replay gives them itself if it wants them.
NOT_REPLAYED = ("overwrite_output_dir", "resume", "push_to_hub")


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
    Option("run_name", help="run folder name (one folder name: no /, not . or ..); with --do_eval or --do_predict "
                            "alone, the run to score (its best checkpoint, its settings)",
           derived="model_name_or_path with / replaced by -; for . or .. the name of that folder"),
    Option("overwrite_output_dir", bool, False, "train into a run folder that holds a run, removing that run "
                                                "folder (only a run folder a training made)", flag=True),
    Option("resume", bool, False, "continue the run's training where it stopped (its last.ckpt), with the settings "
                                  "in its run.json; only --max_steps, --num_train_epochs and settings that do not "
                                  "change what is trained may differ", flag=True),
    Option("checkpoint", help="evaluate this instead of the run folder's best checkpoint: a .ckpt, a run folder, a "
                              "model folder (a run's best_model/, or any Hugging Face question-answering model) or "
                              "a Hub model name; windows and decoding are the ones that trained it (the data set's "
                              "for a model never trained here); a run's model is scored into that run's folder"),
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
    # the window and decoding settings: their records (korsquad.runs.settings) check them
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
    # 0 is allowed: it trains nothing, the untrained model's scores under the training's own evaluation (a
    # baseline, or a search's control trial that its pruner stops)
    Option("learning_rate", float, help="peak learning rate of AdamW", check=non_negative, by_data_set=True),
    Option("adam_epsilon", float, help="AdamW epsilon", check=positive, derived="by data set and model type: "
                                                                              "{adam_epsilons}"),
    Option("weight_decay", float, help="AdamW weight decay (never on biases and LayerNorm weights)",
           check=non_negative, by_data_set=True),
    Option("lr_scheduler", default="linear", choices=SCHEDULERS, help="learning-rate schedule after the warm-up"),
    Option("warmup_ratio", float, 0.0, "fraction of the training steps for linear warm-up, rounded up to whole "
                                       "steps as the Hugging Face Trainer does", below_one),
    Option("warmup_steps", int, 0, "warm-up steps (overrides --warmup_ratio when > 0)", non_negative),
    Option("gradient_clip_val", float, 1.0, "gradient norm clipping (0: none)", non_negative),
    Option("accumulate_grad_batches", int, 1, "batches per optimizer step", positive),
    Option("precision", default="auto", choices=("auto", "32", "16-mixed", "bf16-mixed"),
           help="auto: bf16-mixed where the hardware computes bfloat16 natively (CUDA GPUs from Ampere on, CPUs "
                "with AVX512_BF16 or AMX on x86 or BF16 on Arm; `korsquad cpu` tells), 16-mixed on older "
                "CUDA GPUs, 32 otherwise; the run prints its choice and run.json records it (an evaluation alone, "
                "not given one: the training's). Or 32, 16-mixed (GPUs), bf16-mixed (emulated, slower than 32, on "
                "other CPUs)"),
    Option("num_workers", int, 0, "DataLoader worker processes", non_negative),
    Option("max_train_samples", int, help="use only the first N training questions", check=positive),
    Option("max_eval_samples", int, help="use only the first N evaluation questions", check=positive),
    Option("overwrite_cache", bool, False, "rebuild the cached features", flag=True),
    Option("save_steps", int, 500, "write last.ckpt every N optimizer steps (for --resume)", positive),
    Option("logging_steps", int, 10, "log training scalars every N steps", positive),
    Option("logger", default="tensorboard", check=check_logger_names,
           help="where training scalars and the settings go, comma-separated: tensorboard, csv, wandb (offline "
                "unless WANDB_MODE is set; pip install 'korsquad[wandb]'), mlflow (a file store in the run folder "
                "unless MLFLOW_TRACKING_URI is set; pip install 'korsquad[mlflow]'); none: no logger"),
    Option("log_level", default="info", choices=("debug", "info", "warning", "error"),
           help="what run_qa.py prints: info adds the progress (a bar on a terminal, otherwise one line every "
                "--logging_steps steps and at least one a minute) and the validation scores to warnings and errors; "
                "debug adds the library messages hidden as noise"),
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


# ---- Hugging Face Trainer names ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Alias:
    """A flag name of Hugging Face's Trainer (transformers.TrainingArguments) that means one of ours; recorded
    under ours. A switch alias (`sets` given) sets our flag to that value; like the Trainer's switches it takes an
    optional true/false (`--bf16 True`)."""

    name: str
    option: str  # our flag
    sets: object = None
    unset: object = None  # what the switch given false sets (None: nothing), unless another name sets it


ALIASES = (
    Alias("per_device_train_batch_size", "batch_size"),
    Alias("per_device_eval_batch_size", "eval_batch_size"),
    Alias("gradient_accumulation_steps", "accumulate_grad_batches"),
    Alias("max_grad_norm", "gradient_clip_val"),
    Alias("lr_scheduler_type", "lr_scheduler"),
    Alias("report_to", "logger"),
    Alias("dataloader_num_workers", "num_workers"),
    # the Trainer trains in fp32 unless --fp16 or --bf16 is true: `--bf16 False` is fp32 there, never auto's bf16
    Alias("fp16", "precision", "16-mixed", unset="32"),
    Alias("bf16", "precision", "bf16-mixed", unset="32"),
    Alias("use_cpu", "accelerator", "cpu"),
    Alias("torch_compile", "compile", True),
)
ALIAS_BY_NAME = {alias.name: alias for alias in ALIASES}
# The Trainer's flags users bring that nothing here means: each is one error line saying what to do instead.
# (--num_train_epochs, --learning_rate, --warmup_steps, --logging_steps, --save_steps, --eval_steps, --seed,
# --overwrite_output_dir, --gradient_checkpointing, --group_by_length, --push_to_hub and others share our names.)
_EVAL_STRATEGY = "validation runs at each epoch end, and every N steps with --eval_steps N"
NO_EQUIVALENT = {
    "evaluation_strategy": _EVAL_STRATEGY,
    "eval_strategy": _EVAL_STRATEGY,
    "save_strategy": "last.ckpt is written every --save_steps steps and at each epoch end",
    "logging_strategy": "training scalars are logged every --logging_steps steps",
    "save_total_limit": "a run keeps only last.ckpt (for --resume) and its best checkpoint",
    "load_best_model_at_end": "the best checkpoint is always kept and exported to best_model/",
    "metric_for_best_model": "the best checkpoint is the one with the best primary metric of --data_name",
    "logging_dir": "the loggers write into the run folder, OUTPUT_DIR/<data_name>/<run_name> (--output_dir, "
                   "--run_name)",
    "resume_from_checkpoint": "--resume continues the run folder's last.ckpt",
    "hub_model_id": "give the repository to --push_to_hub: --push_to_hub user/name",
    "optim": "the optimizer is AdamW (--learning_rate, --adam_epsilon, --weight_decay)",
    "deepspeed": "use --strategy deepspeed (ZeRO stage 2)",
    "fsdp": "use --strategy fsdp",
}


# ---- the parser --------------------------------------------------------------------------------------------
def build_parser():
    parser = ArgumentParser(prog="run_qa.py", description="Fine-tune and evaluate a question-answering model on a "
                                                          "registered data set.",
                            epilog="Defaults given by data set come from the registry (src/korsquad/data/datasets.py). "
                                   "Flags may be spelled with dashes too (--learning-rate), never abbreviated.")
    for option in OPTIONS:
        kwargs = dict(default=argparse.SUPPRESS, help=help_text(option))
        if option.flag:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(type=option.type, choices=option.choices)
        parser.add_argument(f"--{option.name}", **kwargs)
    for alias in ALIASES:  # shown once each, in the help of the flag they stand for
        kwargs = dict(dest=alias.name, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if alias.sets is not None:
            kwargs.update(nargs="?", const=True, type=true_or_false, metavar="true|false")
        else:
            kwargs.update(type=BY_NAME[alias.option].type, choices=BY_NAME[alias.option].choices)
        parser.add_argument(f"--{alias.name}", **kwargs)
    for name in NO_EQUIVALENT:
        parser.add_argument(f"--{name}", nargs="?", action=NoEquivalent, default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)
    return parser


def parse_command_line(argv=None):
    """The settings given on a command line, by our names (a Trainer alias under the flag it stands for)."""
    return under_our_names(vars(build_parser().parse_args(argv)), "--{}")


def true_or_false(text):
    """A switch alias's optional value, as the Trainer reads it."""
    lowered = text.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


class NoEquivalent(argparse.Action):
    """A Trainer flag with nothing like it here: one error line saying what to do instead."""

    def __call__(self, parser, namespace, values, option_string=None):
        name = self.dest
        raise UsageError(f"--{name} (a Hugging Face Trainer flag) has no equivalent here: {NO_EQUIVALENT[name]}")


def under_our_names(given, spelling, where=""):
    """Settings by name, ours or the Trainer's (ALIASES), -> by our names. An alias and the flag it stands for (or
    two aliases of one flag) that disagree are one error line (`where` + names as `spelling` spells them); a switch
    alias given false sets its `unset` value where no other name sets the flag (`--fp16 True --bf16 False`:
    16-mixed), else nothing."""
    settings, said, unset = {}, {}, {}
    for name, value in given.items():
        alias = ALIAS_BY_NAME.get(name)
        option = name if alias is None else alias.option
        if alias is not None and alias.sets is not None:
            if not value:
                if alias.unset is not None:
                    unset[option] = alias.unset
                continue
            value = alias.sets
            saying = f"{spelling.format(name)} ({option} {value})"
        else:
            saying = f"{spelling.format(name)} {value}"
        if option in settings and settings[option] != value:
            raise UsageError(f"{where}{said[option]} and {saying} disagree: give one")
        settings[option], said[option] = value, saying
    return {**unset, **settings}


def help_text(option):
    return f"{_own_help_text(option)}{alias_text(option)}"


def _own_help_text(option):
    if option.by_data_set:
        return f"{option.help} (default by data set: {registry_defaults_text(option.name)})"
    if option.derived:
        return f"{option.help} (default: {option.derived.format(**_derived_texts())})"
    if option.flag or option.default is None:
        return option.help
    return f"{option.help} (default: {option.default})"


def alias_text(option):
    """' (also --fp16 for 16-mixed, --bf16 for bf16-mixed: Hugging Face's names)', or ''."""
    names = [f"--{alias.name}" if alias.sets is None or option.flag else f"--{alias.name} for {alias.sets}"
             for alias in ALIASES if alias.option == option.name]
    if not names:
        return ""
    return f" (also {', '.join(names)}: Hugging Face's name{'s' if len(names) > 1 else ''})"


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


# ---- --config files ----------------------------------------------------------------------------------------
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
        dropped = [name for name in NOT_REPLAYED if data["config"].get(name)]
        if dropped:
            print(f"note: --config {path} is a run's record: not replaying {', '.join('--' + n for n in dropped)} "
                  "(give them on the command line to use them)", file=sys.stderr)
        data = replay_settings(data["config"])
    return typed_settings(data, f"--config {path}")


def typed_settings(data, where):
    """{setting: value} of a config file's object (or an experiment file's, korsquad.experiments) by our names,
    each value typed and checked against its option; an unknown key or a wrong type is one UsageError starting with
    `where`."""
    settings = {}
    for key, value in data.items():
        settings[key] = _typed(_config_key_option(key, where), value, f"{where}: key {key!r}")
    return under_our_names(settings, "key '{}'", where=f"{where}: ")


def _config_key_option(key, where):
    """The Option a --config key sets (for a switch alias, a true/false one), or one error line."""
    alias = ALIAS_BY_NAME.get(key)
    if alias is not None:
        return BY_NAME[alias.option] if alias.sets is None else Option(key, bool, flag=True)
    if key in NO_EQUIVALENT:
        raise UsageError(f"{where}: key {key!r} (a Hugging Face Trainer setting) has no equivalent here: "
                         f"{NO_EQUIVALENT[key]}")
    option = BY_NAME.get(key)
    if option is None or key == "config":
        from ..common.flags import suggestions

        meant = [flag[2:] for flag in suggestions(str(key), [f"--{name}" for name in SETTINGS])]
        raise UsageError(f"{where}: unknown key {key!r} (keys are run_qa.py flag names without dashes"
                         + (f"; did you mean {', '.join(map(repr, meant))}?)" if meant else ")"))
    return option


def replay_settings(config):
    """The settings a run's record ("config" of its run.json) replays: every flag's value, without what the flags
    were resolved to (RESOLVED_KEYS), without what acts on the run it came from (NOT_REPLAYED: a replay of a run
    trained with --overwrite_output_dir must not remove that run, nor --push_to_hub upload it again) and without the
    unset ones. `--config run.json` and the model card's YAML block (korsquad.serving.model_card, which works as
    --config) both take exactly these."""
    return {k: v for k, v in config.items() if k not in (*RESOLVED_KEYS, *NOT_REPLAYED) and v is not None}


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


@exit_on_usage_error
def main(argv=None):
    parser = ArgumentParser(prog="korsquad flags", description="The README's table of run_qa.py's flags.")
    parser.add_argument("language", nargs="?", default="en", choices=sorted(TABLE_WORDS))
    print(flags_table(parser.parse_args(argv).language))
    return 0
