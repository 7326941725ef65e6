"""The Lightning side: the QA module, the data module and its batch samplers, optimizer and schedules, the Trainer,
exact resume, validation, DDP collectives, progress, throughput, loggers.

    qa_module    `QAModule`, the LightningModule around the QA model: training step, `--compile`, per-feature
                 evaluation logits
    datamodule   the LightningDataModule: cached features -> padded batches
    sampling     training batches per process, a pure function of (seed, epoch); `--group_by_length`
    optim        AdamW parameter groups and learning-rate schedules
    trainer      the Trainer of every stage: devices, strategy, precision, when to validate
    resume       `last.ckpt` and an exact `--resume` (mid-epoch saves, the schedule, dropout seeds)
    trial_link   a training's link to the Optuna trial it is (korsquad.experiments' search starts it): study,
                 storage, trial, pruning
    pruning      a training that is one trial of a study: each validation reported, stopped when the pruner judges
                 it hopeless
    validation   each validation pass: gathered logits -> predictions, scores, files, best checkpoint
    distributed  which process this is; work on process 0 with its outcome everywhere, gather, broadcast
    progress     the logging points (window-mean loss, lr, throughput), the bar or plain progress lines
    throughput   samples/s, tokens/s and MFU of a window of steps
    loggers      `--logger`: TensorBoard, CSV, W&B, MLflow, and what each receives
"""

from ..common.exports import lazy_exports

# The names other stages and users import, each loaded with its module on first use (importing the package
# alone loads none of its modules).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "datamodule": ["CHUNK_EXAMPLES", "QADataModule"],
    "distributed": ["is_first_on_machine", "is_first_process", "on_first_process"],
    "loggers": ["build_loggers", "check_installed", "check_log_model", "check_logger_names", "log_run_files",
                "log_settings"],
    "optim": ["SCHEDULERS"],
    "progress": ["TrainingLog", "progress_mode"],
    "pruning": ["TrialPruning", "trial_callbacks"],
    "qa_module": ["QAModule", "compile_model"],
    "resume": ["ExactResume", "ResumedSchedule", "check_resumable", "last_checkpoints"],
    "sampling": ["group_by_length_sampler"],
    "throughput": ["TokenCounter", "layers_and_hidden", "lookup_peak_tflops", "non_embedding_parameters",
                   "number_format", "training_flops"],
    "trainer": ["make_trainer"],
    "trial_link": ["Pruning", "TrialLink", "open_storage"],
    "validation": ["Evaluator", "ValidationCallback", "save_best_checkpoint"],
})
