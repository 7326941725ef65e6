"""LightningModule around AutoModelForQuestionAnswering: AdamW, linear warm-up and decay, and evaluation logits
gathered from every process (each feature once) for the post-processing on process 0."""

import inspect

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from transformers import AutoConfig, AutoModelForQuestionAnswering, get_linear_schedule_with_warmup

NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias", "layer_norm.bias")


class QAModule(pl.LightningModule):
    def __init__(self, model_name_or_path, *, learning_rate=5e-5, adam_epsilon=1e-8, weight_decay=0.0,
                 warmup_ratio=0.0, warmup_steps=0, hf_config=None):
        """`hf_config` (a config dict, saved in every checkpoint) builds the network without downloading the
        pre-trained weights: a checkpoint's own weights replace them anyway."""
        super().__init__()
        self.save_hyperparameters()
        if hf_config is None:
            self.model = AutoModelForQuestionAnswering.from_pretrained(model_name_or_path)
            self.hparams.hf_config = self.model.config.to_dict()
        else:
            config = AutoConfig.for_model(**hf_config)
            self.model = AutoModelForQuestionAnswering.from_config(config)
        self.model.train()  # from_pretrained returns eval mode; Lightning 2.x leaves it so (dropout off)
        self.evaluator = None  # set by the caller: gathered batches -> metrics dict, on process 0
        self.log_eval_metrics = True  # off for the final evaluation, so the learning curve holds epochs only
        self._eval_batches = []

    @property
    def takes_token_type_ids(self):
        return "token_type_ids" in inspect.signature(self.model.forward).parameters

    def forward(self, batch, with_labels=True):
        keys = ["input_ids", "attention_mask", "token_type_ids"]
        if with_labels:
            keys += ["start_positions", "end_positions"]
        return self.model(**{k: batch[k] for k in keys if k in batch})

    # ---- training ------------------------------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        loss = self(batch).loss
        self.log("train_loss", loss, prog_bar=True)
        # a CPU tensor: logging a Python float would copy it to the GPU and block every step
        self.log("lr", torch.tensor(self.lr_schedulers().get_last_lr()[0]))
        return loss

    def configure_optimizers(self):
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        groups = [
            {"params": [p for n, p in named if not n.endswith(NO_DECAY)], "weight_decay": self.hparams.weight_decay},
            {"params": [p for n, p in named if n.endswith(NO_DECAY)], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=self.hparams.learning_rate, eps=self.hparams.adam_epsilon)
        total = int(self.trainer.estimated_stepping_batches)  # right under DDP and gradient accumulation
        warmup = self.hparams.warmup_steps or int(self.hparams.warmup_ratio * total)
        scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ---- evaluation ----------------------------------------------------------------------------------------
    def validation_step(self, batch, batch_idx):
        out = self(batch, with_labels=False)
        self._eval_batches.append((
            batch["feature_index"].cpu().numpy(),
            batch["token_offset"].cpu().numpy(),
            batch["lengths"].cpu().numpy(),
            out.start_logits.float().cpu().numpy(),
            out.end_logits.float().cpu().numpy(),
        ))

    def on_validation_epoch_end(self):
        local, self._eval_batches = [_trim(b) for b in self._eval_batches], []
        gathered = gather_to_first(local)
        metrics = self.evaluator(gathered) if self.global_rank == 0 and self.evaluator else None
        metrics = broadcast_from_first(metrics) or {}
        for name in ("em", "f1") if self.log_eval_metrics else ():
            if name in metrics:
                self.log(f"val_{name}", float(metrics[name]), prog_bar=True, sync_dist=False)


def _trim(batch):
    """Drop padding (on either side): one logits array per feature."""
    indices, offsets, lengths, start, end = batch
    rows = [slice(o, o + n) for o, n in zip(offsets, lengths)]
    return indices, [start[i, r] for i, r in enumerate(rows)], [end[i, r] for i, r in enumerate(rows)]


def gather_to_first(local):
    """All processes' evaluation outputs on process 0 (a list of per-batch tuples); None elsewhere."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local
    everything = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(local, everything, dst=0)
    return [batch for part in everything for batch in part] if everything is not None else None


def broadcast_from_first(obj):
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
