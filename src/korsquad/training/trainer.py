"""The Lightning Trainer of every stage of run_qa.py (and of bench/bench_train.py): devices, strategy, precision,
limits, clipping, when to validate."""

from .progress import ProgressBar, TrainingLog, progress_mode


def make_trainer(config, *, callbacks, logger, model=None):
    """The Trainer for `config` (a korsquad RunConfig) with these callbacks and logger; `model` (the Hugging Face
    model) gives FSDP its wrapping units."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    bar = progress_mode(config.log_level) == "bar"
    training_log = next((c for c in callbacks if isinstance(c, TrainingLog)), None)
    # --eval_steps counts optimizer steps; Lightning's val_check_interval counts batches
    steps = config.eval_steps and config.eval_steps * config.accumulate_grad_batches
    trainer = pl.Trainer(
        val_check_interval=steps or None, check_val_every_n_epoch=None if steps else 1,
        accelerator=config.accelerator_kind, devices=config.trainer_devices, num_nodes=config.num_nodes,
        strategy=strategy(config, model), precision=config.precision,
        max_epochs=config.num_train_epochs, max_steps=config.max_steps,
        gradient_clip_val=config.gradient_clip_val or None, accumulate_grad_batches=config.accumulate_grad_batches,
        logger=logger, callbacks=[*callbacks, *([ProgressBar(training_log)] if bar else [])], enable_progress_bar=bar,
        # TrainingLog logs the step scalars every --logging_steps; Lightning's own interval only decides when it
        # forwards what a module self.logs (nothing, here) and warns when an epoch is shorter than it
        log_every_n_steps=1, num_sanity_val_steps=0, use_distributed_sampler=False,
        default_root_dir=str(config.folder.root), enable_model_summary=False,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks))
    if steps:
        validate_at_epoch_end_too(trainer)
    return trainer


def validate_at_epoch_end_too(trainer):
    """With a step interval, Lightning validates only at multiples of it; the end of every epoch is wanted too
    (the per-epoch curve, and the last steps of an epoch are not left unvalidated).

    Why a private hook: Lightning (2.x, up to 2.6) has no public setting for both. `val_check_interval` with
    `check_val_every_n_epoch=None` validates every N batches across epochs and never at an epoch's end; with
    `check_val_every_n_epoch=1` it counts batches within each epoch instead of optimizer steps (so --eval_steps would
    restart at every epoch) and still skips the end of an epoch that is not a multiple. So the epoch loop's own
    decision (`_should_check_val_fx`) is widened here, and only here: tests/unit/training/test_trainer.py checks
    that a fit validates at the steps and at each epoch's end, so a Lightning that renames it fails there."""
    loop = trainer.fit_loop.epoch_loop
    by_steps = loop._should_check_val_fx

    def at_steps_or_epoch_end(data_fetcher):
        return by_steps(data_fetcher) or (loop.batch_progress.is_last_batch and loop._should_check_val_epoch())

    loop._should_check_val_fx = at_steps_or_epoch_end


def strategy(config, model=None):
    """DDP across processes; it looks for parameters a step left unused (a cost) only for model types whose QA
    forward has some (XLNet's mask_emb), which would otherwise stop the second step. FSDP wraps each of the
    model's own unsplittable blocks (its transformer layers) and saves full state dicts, so checkpoints load as
    with DDP."""
    if config.strategy == "fsdp":
        from pytorch_lightning.strategies import FSDPStrategy

        return FSDPStrategy(auto_wrap_policy=layer_classes(model), state_dict_type="full")
    if config.strategy == "deepspeed":
        from pytorch_lightning.strategies import DeepSpeedStrategy

        return DeepSpeedStrategy(stage=2)
    if config.world_size == 1:
        return "auto"
    from pytorch_lightning.strategies import DDPStrategy

    from ..features.model_types import MODEL_TYPES_WITH_UNUSED_PARAMETERS

    return DDPStrategy(find_unused_parameters=config.model_type in MODEL_TYPES_WITH_UNUSED_PARAMETERS)


def layer_classes(model):
    """The classes of a Hugging Face model's transformer blocks (its `_no_split_modules`), FSDP's wrapping units."""
    names = set(getattr(model, "_no_split_modules", None) or ())
    return {type(m) for m in model.modules() if type(m).__name__ in names} if model is not None else None
