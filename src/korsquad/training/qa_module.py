"""LightningModule around AutoModelForQuestionAnswering: the training step, AdamW with warm-up and a schedule,
and per-feature evaluation logits (korsquad.decoding.inference; korsquad.training.validation gathers and decodes
them)."""

import warnings

import pytorch_lightning as pl
from transformers import AutoConfig, AutoModelForQuestionAnswering

from ..decoding.inference import MODEL_INPUTS, feature_logits
from . import optim

# The config keys of the dropout on attention probabilities: BERT, RoBERTa, ELECTRA, ALBERT, XLM-R, DeBERTa, ...;
# DistilBERT, BART, Funnel, ...
ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")


class QAModule(pl.LightningModule):
    def __init__(self, model_name_or_path, *, learning_rate, adam_epsilon, weight_decay, warmup_ratio, warmup_steps,
                 lr_scheduler="linear", gradient_checkpointing=False, attention_dropout=None, hf_config=None,
                 settings=None):
        """`hf_config` (a config dict, saved in every checkpoint) builds the network without downloading the
        pre-trained weights: a checkpoint's own weights replace them anyway. `attention_dropout` replaces the
        model's dropout on attention probabilities (None: the model's own). `settings`: the run's resolved settings
        (plain JSON values), written into every checkpoint under checkpoints.SETTINGS_KEY. Every hyper-parameter is a
        plain value too: checkpoints load with weights_only=True."""
        super().__init__()
        self.save_hyperparameters(ignore=["settings"])
        self.settings = settings
        if hf_config is None:
            overrides = {} if attention_dropout is None else attention_dropout_overrides(
                AutoConfig.from_pretrained(model_name_or_path), attention_dropout)
            self.model = load_pretrained(model_name_or_path, **overrides)
            self.hparams.hf_config = self.model.config.to_dict()
        else:
            config = AutoConfig.for_model(**hf_config)
            self.model = AutoModelForQuestionAnswering.from_config(config)
        self.model.train()  # from_pretrained returns eval mode; Lightning 2.x leaves it so (dropout off)
        if gradient_checkpointing:
            # the non-reentrant form: checkpointed blocks see the same dropout masks again when recomputed
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    def on_save_checkpoint(self, checkpoint):
        from ..runs.checkpoints import SETTINGS_KEY

        if self.settings is not None:
            checkpoint[SETTINGS_KEY] = self.settings

    def forward(self, batch):
        keys = [*MODEL_INPUTS, "start_positions", "end_positions"]
        return self.model(**{k: batch[k] for k in keys if k in batch})

    # ---- training ------------------------------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        return self(batch).loss  # korsquad.training.progress.TrainingLog logs the loss of the window and the lr

    def configure_optimizers(self):
        hp = self.hparams
        trainer = self.trainer
        optimizer = optim.adamw(self.model, hp.learning_rate, hp.adam_epsilon, hp.weight_decay,
                                fused=optim.fused_allowed(str(trainer.precision), trainer.gradient_clip_val))
        total = int(trainer.estimated_stepping_batches)  # right under DDP and gradient accumulation
        warmup = optim.warmup_steps(total, hp.warmup_ratio, hp.warmup_steps)
        scheduler = optim.build_scheduler(hp.lr_scheduler, optimizer, warmup, total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ---- evaluation ----------------------------------------------------------------------------------------
    def validation_step(self, batch, batch_idx):
        """(feature indices, per-feature start logits, per-feature end logits) without padding, as numpy."""
        return feature_logits(self.model, batch)

def load_pretrained(model_name_or_path, **overrides):
    """AutoModelForQuestionAnswering.from_pretrained without transformers' "newly initialized" warning for the QA
    head, which fine-tuning always starts fresh; weights of the encoder missing from the checkpoint still warn."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, info = AutoModelForQuestionAnswering.from_pretrained(model_name_or_path, output_loading_info=True,
                                                                    **overrides)
    finally:
        hf_logging.set_verbosity(verbosity)
    encoder = [key for key in info["missing_keys"] if key.startswith(f"{model.base_model_prefix}.")]
    if encoder:
        warnings.warn(f"{model_name_or_path}: {len(encoder)} encoder weights are not in the checkpoint and start "
                      f"random (e.g. {', '.join(encoder[:3])}): is it the pre-trained model you meant?", stacklevel=2)
    return model


def attention_dropout_overrides(config, attention_dropout):
    """{config key: value} that sets a Hugging Face config's attention dropout; ValueError when the model has none
    of its own (XLNet's one `dropout` covers everything). Without dropout there, PyTorch's fused attention kernel
    (scaled_dot_product_attention) trains the model: on CPU it never holds the batch x heads x length x length
    attention matrices that dropout needs, far less memory and time."""
    if attention_dropout is None:
        return {}
    keys = [key for key in ATTENTION_DROPOUT_KEYS if isinstance(getattr(config, key, None), (int, float))]
    if not keys:
        raise ValueError(f"{config.model_type} models have no separate attention dropout")
    return {key: float(attention_dropout) for key in keys}


def compile_model(module, **options):
    """`--compile`: torch.compile the Hugging Face model of a QAModule in place (nn.Module.compile), so that state
    dicts, checkpoints and save_pretrained keep their names. Compilations in a training run with evaluation: the
    first batch; the first batch of another length (per-batch padding), which compiles for dynamic shapes, so no
    later length needs another; evaluation without gradients; evaluation under inference mode (Trainer.validate).
    Each costs from seconds to a minute or two, so --compile pays off on long GPU runs only."""
    module.model.compile(**options)
    return module
