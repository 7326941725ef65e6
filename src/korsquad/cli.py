"""run_qa.py: fine-tune, evaluate and predict with a question-answering model on a registered data set.

Reads top to bottom like a training script: the resolved configuration (korsquad.config), the run folder
(korsquad.runfolder), the tokenizer, the model, then train / evaluate / predict, each with its own data module and
Trainer. The run's record (settings, status, wall time, hardware) is kept in run.json by the first process.
"""

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from .config import resolve, resolve_model_path
from .errors import UsageError, exit_on_usage_error

PREDICT = "predict"


@exit_on_usage_error
def main(argv=None):
    import pytorch_lightning as pl

    from .features import check_parameters, pair_layout
    from .tokenization import load_tokenizer

    config = resolve(argv)
    check_inputs(config)
    record = RunRecord(config)
    pl.seed_everything(config.seed, workers=True, verbose=False)
    tokenizer = load_tokenizer(config.model_type, tokenizer_source(config))
    # the window settings against this tokenizer's special tokens, before a large model is loaded
    check_parameters(tokenizer, pair_layout(tokenizer), config.max_seq_length, config.doc_stride,
                     config.max_query_length, config.negative_window_ratio)
    module = load_module(config)
    record.write("running", num_parameters=sum(p.numel() for p in module.model.parameters()))
    try:
        evaluated = config.do_train and train(config, tokenizer, module, record)
        if config.do_eval and not evaluated:
            evaluate(config, tokenizer, module, "dev")
        if config.do_predict:
            evaluate(config, tokenizer, module, PREDICT)
    except BaseException as err:
        record.write("failed", error=f"{type(err).__name__}: {err}")
        raise
    record.write("finished")
    return 0


def is_first_process():
    """Process 0 of the whole job: before Lightning starts the other processes, and in them (DDP relaunches this
    script with LOCAL_RANK set; torchrun and SLURM set RANK)."""
    return all(int(os.environ.get(name, "0")) == 0 for name in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def check_inputs(config):
    """Fail before any model is loaded: missing data files, nothing to evaluate, a folder holding another run."""
    from .datamodule import split_file

    needed = (["train", "dev"] if config.do_train else []) + (["dev"] if config.do_eval else [])
    for split in dict.fromkeys(needed):
        split_file(config.spec, config.data_dir, split)
    if config.predict_file and not Path(config.predict_file).is_file():
        raise UsageError(f"--predict_file {config.predict_file}: file not found")
    if config.checkpoint and not Path(config.checkpoint).is_file():
        raise UsageError(f"--checkpoint {config.checkpoint}: file not found")
    if config.do_train and is_first_process():
        config.folder.prepare_training(resume=config.resume, overwrite=config.overwrite_output_dir)
    if not config.do_train and not config.checkpoint:
        config.folder.best_checkpoint()


def tokenizer_source(config):
    """The pre-trained model's tokenizer to train; the run's exported one to evaluate its best checkpoint."""
    exported = config.folder.best_model_dir
    if config.do_train or config.checkpoint or not exported.is_dir():
        return resolve_model_path(config.model_name_or_path)
    return exported


def load_module(config):
    """Pre-trained weights to train; a checkpoint to evaluate."""
    from .model import QAModule

    if not config.do_train:
        return QAModule.load_from_checkpoint(config.checkpoint or config.folder.best_checkpoint(), map_location="cpu")
    try:
        return QAModule(resolve_model_path(config.model_name_or_path), learning_rate=config.learning_rate,
                        adam_epsilon=config.adam_epsilon, weight_decay=config.weight_decay,
                        warmup_ratio=config.warmup_ratio, warmup_steps=config.warmup_steps,
                        lr_scheduler=config.lr_scheduler)
    except OSError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"--model_name_or_path {config.model_name_or_path}: cannot load the model "
                         f"({reason})") from None


def data_module(config, tokenizer, module, *, train, eval_split):
    from .datamodule import QADataModule
    from .sampling import group_by_length_sampler

    return QADataModule(
        config.spec, tokenizer, train=train, eval_split=eval_split, data_dir=config.data_dir,
        max_seq_length=config.max_seq_length, doc_stride=config.doc_stride, max_query_length=config.max_query_length,
        batch_size=config.batch_size, eval_batch_size=config.eval_batch_size, seed=config.seed,
        negative_window_ratio=config.negative_window_ratio, num_workers=config.num_workers,
        max_train_samples=config.max_train_samples, max_eval_samples=config.max_eval_samples,
        overwrite_cache=config.overwrite_cache, predict_file=config.predict_file and Path(config.predict_file),
        with_token_type_ids=module.takes_token_type_ids and "token_type_ids" in tokenizer.model_input_names,
        train_sampler_factory=group_by_length_sampler if config.group_by_length else None)


def validation_callback(config, split, *, training):
    from .validation import Evaluator, ValidationCallback

    evaluator = Evaluator(config.spec, n_best_size=config.n_best_size, max_answer_length=config.max_answer_length,
                          null_score_diff_threshold=config.null_score_diff_threshold, labeled=split != PREDICT)
    return ValidationCallback(evaluator, config.folder, PREDICT if split == PREDICT else "eval",
                              write_files=config.do_eval or split == PREDICT, keep_best=training,
                              log_scores=training)


def make_trainer(config, *, callbacks, logger):
    """The Trainer of every stage (and of bench/bench_train.py): devices, precision, limits, clipping."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar

    # the bar reads train_loss when it refreshes, a GPU sync: not every step on a GPU
    refresh = config.logging_steps if hardware(config)["accelerator"] == "gpu" else 1
    return pl.Trainer(
        accelerator=config.accelerator_kind, devices=config.trainer_devices, num_nodes=config.num_nodes,
        strategy=strategy(config), precision=config.precision,
        max_epochs=config.num_train_epochs, max_steps=config.max_steps,
        gradient_clip_val=config.gradient_clip_val or None, accumulate_grad_batches=config.accumulate_grad_batches,
        logger=logger, callbacks=[*callbacks, TQDMProgressBar(refresh_rate=refresh)],
        log_every_n_steps=config.logging_steps, num_sanity_val_steps=0, use_distributed_sampler=False,
        default_root_dir=str(config.folder.root), enable_model_summary=False,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks))


def strategy(config):
    """DDP across processes; it looks for parameters a step left unused (a cost) only for model types whose QA
    forward has some (XLNet's mask_emb), which would otherwise stop the second step."""
    if config.world_size == 1:
        return "auto"
    from pytorch_lightning.strategies import DDPStrategy

    from .model_types import MODEL_TYPES_WITH_UNUSED_PARAMETERS

    return DDPStrategy(find_unused_parameters=config.model_type in MODEL_TYPES_WITH_UNUSED_PARAMETERS)


def training_callbacks(config, validation):
    from pytorch_lightning.callbacks import ModelCheckpoint

    from .sampling import ExactResume
    from .throughput import ThroughputMonitor

    folder = config.folder
    # Both write last.ckpt, the newest state for --resume: every --save_steps steps and after each validation.
    last = dict(dirpath=folder.checkpoints_dir, save_top_k=0, save_last=True, enable_version_counter=False)
    return [validation, ModelCheckpoint(every_n_train_steps=config.save_steps, **last),
            ModelCheckpoint(every_n_epochs=1, **last), ThroughputMonitor(peak_tflops=config.peak_tflops),
            ExactResume(config.seed)]  # --resume trains on as an uninterrupted run would


def train(config, tokenizer, module, record):
    """Fit, keep the best checkpoint, export it. True when the dev files already hold its predictions."""
    import torch
    from pytorch_lightning.loggers import TensorBoardLogger

    from .throughput import compile_model
    from .validation import save_best_checkpoint

    folder = config.folder
    validation = validation_callback(config, "dev", training=True)
    trainer = make_trainer(config, callbacks=training_callbacks(config, validation),
                           logger=TensorBoardLogger(str(folder.root), name=folder.logs_dir.name))
    if config.compile:
        compile_model(module)
    dm = data_module(config, tokenizer, module, train=True, eval_split="dev")
    trainer.fit(module, datamodule=dm, ckpt_path=folder.last_checkpoint if config.resume else None)
    record.train_steps = trainer.global_step
    if validation.best["step"] is None:  # no validation ran (e.g. --max_steps ended training first)
        validation.best.update(epoch=trainer.current_epoch, step=trainer.global_step)
        save_best_checkpoint(trainer, folder, validation.metric, validation.best)
    trainer.strategy.barrier("best checkpoint recorded")
    module.load_state_dict(torch.load(folder.best_checkpoint(), map_location="cpu", weights_only=False)["state_dict"])
    if trainer.is_global_zero:
        module.model.save_pretrained(folder.best_model_dir)
        tokenizer.save_pretrained(folder.best_model_dir)
        if config.do_eval and validation.files_hold_best:
            print(folder.result_json.read_text().strip().replace("\n", ""))
    return validation.files_hold_best


def evaluate(config, tokenizer, module, split):
    validation = validation_callback(config, split, training=False)
    trainer = make_trainer(config, callbacks=[validation], logger=False)
    dm = data_module(config, tokenizer, module, train=False, eval_split=split)
    trainer.validate(module, datamodule=dm, verbose=False)
    if trainer.is_global_zero:
        if split == PREDICT:
            print(f"predictions written to {config.folder.predictions(PREDICT)}")
        else:
            print(json.dumps(validation.result))


class RunRecord:
    """run.json, written by the first process: the settings, status, timing and hardware of this invocation."""

    def __init__(self, config):
        self.config = config
        self.started = time.time()
        self.extra = {}
        self.train_steps = None

    def write(self, status, **extra):
        if not is_first_process():
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


def hardware(config):
    import torch

    devices = config.trainer_devices
    count = len(devices) if isinstance(devices, list) else devices
    accelerator = config.accelerator_kind
    gpu = accelerator == "gpu" or (accelerator == "auto" and torch.cuda.is_available())
    name = torch.cuda.get_device_name(devices[0] if isinstance(devices, list) else 0) if gpu else "cpu"
    return {"accelerator": "gpu" if gpu else "cpu", "devices": count, "num_nodes": config.num_nodes,
            "device_name": name}


if __name__ == "__main__":
    sys.exit(main())
