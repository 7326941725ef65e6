"""run_qa.py: fine-tune, evaluate and predict with a question-answering model on a registered data set.

Reads top to bottom like a training script: the resolved configuration (korsquad.config.runconfig), the run folder
(korsquad.runs.folder), the tokenizer, the model, then train / evaluate / predict, each with its own data module and
Trainer (korsquad.training.trainer). The run's record (settings, status, wall time, hardware; korsquad.runs.record) is
kept in run.json by the first process.
"""

import json
import sys
from pathlib import Path

from ..common import cpu
from ..common.errors import UsageError, exit_on_usage_error, first_line
from ..config.runconfig import resolve_offline, with_late_defaults
from ..runs.folder import EVAL_SPLIT, PREDICT_SPLIT
from ..training.distributed import is_first_on_machine, is_first_process, on_first_process


@exit_on_usage_error
def main(argv=None):
    # Every check first, then the first write: a refused command (exit 2) leaves the run folder as it found it.
    config = resolve_offline(argv)  # no network, no torch: the checks below answer at once
    cpu.warn_if_bf16_emulated(config)
    replaces_old_run = check_inputs(config)
    questions = read_questions(config)
    config = with_late_defaults(config)  # the first step that may ask the Hub (the model's config.json)
    # torch, Lightning and transformers load only now: a bad flag or a missing file is reported at once
    import pytorch_lightning as pl

    from ..common import console
    from ..features.pair_layout import pair_layout
    from ..features.tokenization import load_tokenizer
    from ..features.windows import check_parameters
    from ..runs.record import RunRecord

    console.configure(config.log_level)
    if config.precision_note and is_first_process():
        console.log.info(config.precision_note)
    record = RunRecord(config, sys.argv[1:] if argv is None else list(argv), first_process=is_first_process())
    pl.seed_everything(config.seed, workers=True, verbose=False)
    # the pre-trained model's tokenizer to train; to evaluate, the scored model's own (a model folder, a run's
    # exported best_model/), else the one its training started from, where the training found it
    tokenizer = load_tokenizer(config.model_type, config.model_files)
    # the window settings against this tokenizer's special tokens, before a large model is loaded
    check_parameters(tokenizer, pair_layout(tokenizer), config.window)
    module = load_module(config)
    if config.do_train and config.resume:
        from ..training.resume import check_resumable

        check_resumable(config.folder.last_checkpoint)
    if config.do_eval and is_first_process():
        record.extra["dev_data"] = dev_data(config)
    if replaces_old_run:  # --overwrite_output_dir, now that nothing can refuse the run
        config.folder.clear()
    record.start(num_parameters=sum(p.numel() for p in module.model.parameters()))
    loggers = []
    try:
        loggers = training_loggers(config)
        evaluated = config.do_train and train(config, tokenizer, module, record, loggers, questions)
        if config.do_eval and not evaluated:
            evaluate(config, tokenizer, module, "dev", questions)
        if config.do_predict:
            evaluate(config, tokenizer, module, "predict", questions)
    except BaseException as err:
        record.fail(err)
        raise
    record.write("pruned" if record.extra.get("pruned") else "finished")
    if config.do_train and is_first_process():
        from ..serving.hub import push_to_hub
        from ..serving.model_card import write_model_card

        write_model_card(config.folder, config.spec)
        if config.log_model:
            from ..training.loggers import log_run_files

            log_run_files(loggers, config.folder)
        if config.push_to_hub:
            url = push_to_hub(config.push_to_hub, config.folder.best_model_dir)
            print(f"uploaded {config.folder.best_model_dir} to {url}")
    return 0


def check_inputs(config):
    """Fail before the Hub is asked or any model loaded: missing data files, nothing to evaluate, a folder holding
    another run, a --logger whose package is not installed, an upload that cannot happen. True when the run folder
    holds an old training that this one replaces (--overwrite_output_dir): it is removed only once every check has
    passed."""
    from ..data.datasets import split_file
    from ..training.loggers import check_installed

    needed = (["train", "dev"] if config.do_train else []) + (["dev"] if config.do_eval else [])
    for split in dict.fromkeys(needed):
        if not getattr(config, f"{split}_file"):
            split_file(config.spec, config.data_dir, split)
    for flag in ("train_file", "dev_file", "predict_file"):
        if getattr(config, flag) and not Path(getattr(config, flag)).exists():
            raise UsageError(f"--{flag} {getattr(config, flag)}: file not found")
    if config.do_train:
        check_installed(config.logger)
    from ..serving.hub import check_push

    check_push(config)
    if config.do_train and is_first_process():
        return config.folder.check_training(resume=config.resume, overwrite=config.overwrite_output_dir)
    return False


def read_questions(config):
    """The questions of every split the run reads (its first --max_*_samples), by split, read once here: a
    malformed file, or one without questions, is one error line before any model loads or anything is written."""
    from ..data.readers import read_split

    splits = (["train", "dev"] if config.do_train else []) + (["dev"] if config.do_eval else []) \
        + (["predict"] if config.do_predict else [])
    limits = {"train": config.max_train_samples, "dev": config.max_eval_samples, "predict": config.max_eval_samples}
    return {split: read_split(split_source(config, split), config.spec, split, limits[split])
            for split in dict.fromkeys(splits)}


def split_source(config, split):
    """The file (or KorQuAD 2.x folder) of a split: the user's own --train_file / --dev_file / --predict_file, else
    the data set's in --data_dir."""
    from ..data.datasets import split_file

    return getattr(config, f"{split}_file") or split_file(config.spec, config.data_dir, split)


def dev_data(config):
    """The dev data this run's predictions_eval.json answers, for run.json: its absolute path and digest, so that
    korsquad.analysis.compare pairs two runs' predictions only on the same questions."""
    from ..data.readers import data_digest

    source = split_source(config, "dev")
    return {"path": str(Path(source).resolve()), "sha256": data_digest(source, config.spec)}


def load_module(config):
    """Pre-trained weights to train; to evaluate, a checkpoint (read with weights_only=True: it cannot run code) or
    a model folder or Hub name. The module carries the run's settings into every checkpoint it saves."""
    from ..runs.checkpoints import older_checkpoint_types, plain_json
    from ..training.qa_module import QAModule

    settings = plain_json(config.record())
    source = config.model_source
    if source is not None and source.kind == "checkpoint":  # checkpoints.locate has read it (weights_only) already
        with older_checkpoint_types():
            module = QAModule.load_from_checkpoint(source.path, map_location="cpu", weights_only=True)
        module.settings = settings
        return module
    name, flag = (source.path, "--checkpoint") if source is not None else (config.model_name_or_path,
                                                                           "--model_name_or_path")
    try:
        return QAModule(config.model_path, learning_rate=config.learning_rate,
                        adam_epsilon=config.adam_epsilon, weight_decay=config.weight_decay,
                        warmup_ratio=config.warmup_ratio, warmup_steps=config.warmup_steps,
                        lr_scheduler=config.lr_scheduler, gradient_checkpointing=config.gradient_checkpointing,
                        attention_dropout=config.attention_dropout, settings=settings)
    except OSError as err:
        reason = first_line(err)
        raise UsageError(f"{flag} {name}: cannot load the model ({reason})") from None
    except ValueError as err:
        if config.gradient_checkpointing and "gradient checkpointing" in str(err):
            raise UsageError(f"--gradient_checkpointing: {config.model_type} models do not support it") from None
        if config.attention_dropout is not None and "attention dropout" in str(err):
            raise UsageError(f"--attention_dropout: {err}") from None
        raise


def data_module(config, tokenizer, module, questions, *, train, eval_split):
    """The data module of one stage, on the questions read_questions read, its caches built on the first process
    of each machine before the Trainer starts."""
    from ..decoding.inference import uses_token_type_ids
    from ..training.datamodule import QADataModule
    from ..training.sampling import group_by_length_sampler

    dm = QADataModule(
        config.spec, tokenizer, train=train, eval_split=eval_split, data_dir=config.data_dir,
        window=config.window, batch_size=config.batch_size, eval_batch_size=config.eval_batch_size, seed=config.seed,
        negative_window_ratio=config.negative_window_ratio, num_workers=config.num_workers,
        max_train_samples=config.max_train_samples, max_eval_samples=config.max_eval_samples,
        overwrite_cache=config.overwrite_cache, train_file=config.train_file, dev_file=config.dev_file,
        predict_file=config.predict_file,
        with_token_type_ids=uses_token_type_ids(module.model, tokenizer),
        train_sampler_factory=group_by_length_sampler if config.group_by_length else None,
        pad_multiple=cpu.batch_width_multiple(config),
        examples={split: questions[split] for split in (("train", eval_split) if train else (eval_split,))})
    if is_first_on_machine():
        dm.prepare_data()
    return dm


def validation_callback(config, split, *, training, measured_on=None):
    from ..training.validation import Evaluator, ValidationCallback

    predict = split == "predict"
    evaluator = Evaluator(config.spec, config.decoding, labeled=not predict)
    return ValidationCallback(evaluator, config.folder, PREDICT_SPLIT if predict else EVAL_SPLIT,
                              write_files=config.do_eval or predict, keep_best=training,
                              log_scores=training, measured_on=measured_on)


def measured_on(config, dm):
    """What a training's validation scores are measured on: the dev features (their cache key covers the files'
    bytes, --max_eval_samples, the windows and the code that builds them) and the decoding. A resumed run compares
    its best score only with scores measured on the same (korsquad.training.validation.ValidationCallback)."""
    return {"dev_features": dm.cache_folder("dev").name, "max_eval_samples": config.max_eval_samples,
            **config.decoding.as_dict()}


def training_callbacks(config, validation):
    from ..training.progress import TrainingLog, progress_mode
    from ..training.pruning import trial_callbacks
    from ..training.resume import ExactResume, ResumedSchedule, last_checkpoints

    # last.ckpt, the newest state for --resume: every --save_steps steps, at each finished epoch, at --max_steps
    callbacks = [validation, *last_checkpoints(config.folder.checkpoints_dir, config.save_steps),
                 TrainingLog(config.logging_steps, peak_tflops=config.peak_tflops,
                             lines=progress_mode(config.log_level) == "lines"),
                 ExactResume(config.seed), ResumedSchedule(),  # --resume trains on as an uninterrupted run would
                 *trial_callbacks(validation.metric)]  # a trial of a search (korsquad.experiments.search)
    if config.early_stopping_patience:
        from pytorch_lightning.callbacks import EarlyStopping

        callbacks.append(EarlyStopping(monitor=f"val_{validation.metric}", mode="max",
                                       patience=config.early_stopping_patience, check_on_train_epoch_end=False))
    return callbacks


def training_loggers(config):
    """The training's loggers (none without --do_train): built here, as --log_model hands them the run's files
    once the evaluation and the model card are written."""
    if not config.do_train:
        return []
    from ..training.loggers import build_loggers

    return build_loggers(config)


def train(config, tokenizer, module, record, loggers, questions):
    """Fit, keep the best checkpoint, export it. True when the dev files already hold its predictions."""
    from ..runs.checkpoints import older_checkpoint_types
    from ..serving.export import export_model
    from ..training.loggers import log_settings
    from ..training.pruning import TrialPruning
    from ..training.qa_module import compile_model
    from ..training.throughput import TokenCounter
    from ..training.trainer import make_trainer
    from ..training.validation import save_best_checkpoint

    folder = config.folder
    dm = data_module(config, tokenizer, module, questions, train=True, eval_split="dev")
    if is_first_process():
        warn_if_tokenizer_misfits(config, tokenizer, dm)
    validation = validation_callback(config, "dev", training=True, measured_on=measured_on(config, dm))
    if is_first_process():
        log_settings(loggers, config)  # the full settings, not Lightning's choice (the module's init arguments)
    tokens = TokenCounter()
    trainer = make_trainer(config, callbacks=[*training_callbacks(config, validation), tokens],
                           logger=loggers or False, model=module.model)
    if config.compile:
        compile_model(module)
    with older_checkpoint_types():
        trainer.fit(module, datamodule=dm, ckpt_path=folder.last_checkpoint if config.resume else None,
                    weights_only=True)
    record.train_steps = trainer.global_step
    record.extra["train_tokens"] = tokens.total
    pruned = next((c.pruned for c in trainer.callbacks if isinstance(c, TrialPruning) and c.pruned), None)
    if pruned:
        record.extra["pruned"] = pruned  # run.json's status becomes "pruned"
    if validation.best["step"] is None:  # no validation ran (e.g. --max_steps ended training first)
        validation.best.update(epoch=trainer.current_epoch, step=trainer.global_step)
        save_best_checkpoint(trainer, folder, validation.metric, validation.best)
    module.load_state_dict(checkpoint_state_dict(folder.best_checkpoint()))

    def export():
        export_model(module.model, tokenizer, folder.best_model_dir, config.model_type, settings=module.settings)
        record.extra["pipeline_agreement"] = pipeline_agreement(folder, dm.examples["dev"])
        if config.do_eval and validation.files_hold_best:
            result = json.loads(folder.result_json.read_text())
            print(result_line(result))
            record_evaluation(config, dm, result)

    on_first_process(export, "exporting the best model")
    return validation.files_hold_best


def pipeline_agreement(folder, dev_examples):
    """For the model card: how many of a sample of dev questions transformers' pipeline answers as
    QuestionAnswerer does (korsquad.serving.pipeline_agreement). A comparison that fails leaves the trained run as it
    is, with one warning line, and the card says why there is no number."""
    from ..serving.pipeline_agreement import measure

    try:
        return measure(folder.best_model_dir, dev_examples)
    except BaseException as err:  # the model is trained and exported: only this comparison is lost
        # tokenizers' Rust panics (e.g. a window the pipeline's stride does not fit) arrive as pyo3's
        # PanicException, a BaseException: caught too, while Ctrl-C and SystemExit still end the run
        if not isinstance(err, Exception) and type(err).__name__ != "PanicException":
            raise
        from ..common.console import log

        reason = f"{type(err).__name__}: {first_line(err)}"
        log.warning(f"warning: transformers' pipeline could not be compared with QuestionAnswerer on "
                    f"{folder.best_model_dir} ({reason}); the model card says so")
        return {"error": reason}


def warn_if_tokenizer_misfits(config, tokenizer, dm):
    """One warning line, before training, when the tokenizer fits the training data badly (measured on
    a sample of the questions the data module read: korsquad.features.audit)."""
    from ..features.audit import audit_command, fit_warning, measure, spread_sample

    fit = measure(spread_sample(dm.examples["train"]), tokenizer, config.window, config.spec.reader)
    command = audit_command(config.data_name, config.model_type, config.model_name_or_path, dm.split_source("train"),
                            config.window)
    warning = fit_warning(fit, command)
    if warning:
        from ..common.console import log

        log.warning(warning)  # stderr, unless --log_level error


def checkpoint_state_dict(path):
    """The module's weights from a checkpoint file, or from the folder of shards DeepSpeed writes instead."""
    from ..runs.checkpoints import load_checkpoint

    if Path(path).is_dir():
        import tempfile

        from pytorch_lightning.utilities.deepspeed import convert_zero_checkpoint_to_fp32_state_dict

        with tempfile.TemporaryDirectory() as tmp:
            convert_zero_checkpoint_to_fp32_state_dict(str(path), f"{tmp}/weights.pt")
            return load_checkpoint(f"{tmp}/weights.pt")["state_dict"]
    return load_checkpoint(path)["state_dict"]


def evaluate(config, tokenizer, module, split, questions):
    """Score the dev set (`split` "dev") or answer --predict_file ("predict") into the run folder."""
    from ..training.trainer import make_trainer

    dm = data_module(config, tokenizer, module, questions, train=False, eval_split=split)
    validation = validation_callback(config, split, training=False)
    trainer = make_trainer(config, callbacks=[validation], logger=False, model=module.model)
    trainer.validate(module, datamodule=dm, verbose=False)
    if trainer.is_global_zero:
        if split == "predict":
            print(f"predictions written to {config.folder.predictions(PREDICT_SPLIT)}")
        else:
            print(result_line(validation.result))
            record_evaluation(config, dm, validation.result)


def result_line(result):
    """The scores as run_qa.py's last line, the same after a training and an evaluation: one JSON object as
    result.json holds it (unrounded) and as korsquad.data.scoring and the official scripts print it."""
    return json.dumps(result)


def record_evaluation(config, dm, result):
    """evaluations.json: these dev scores beside what they were measured on (korsquad.runs.record)."""
    from ..data.readers import data_digest
    from ..runs.record import evaluation_entry

    source = config.model_source
    if source is not None:
        checkpoint, step = source.path, source.step
    else:  # the training's own best checkpoint
        best = config.folder.read_best()
        checkpoint, step = best["path"], best["step"]
    dev_file = dm.split_source("dev")
    config.folder.add_evaluation(evaluation_entry(
        config, during="training" if config.do_train else "evaluation", dev_file=dev_file,
        dev_digest=data_digest(dev_file, config.spec), questions=len(dm.examples["dev"]), checkpoint=checkpoint,
        step=step, result=result))


if __name__ == "__main__":
    sys.exit(main())
