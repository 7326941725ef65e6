"""AdamW, its parameter groups and learning-rate schedules, for the QA module's configure_optimizers."""

# torch and transformers are imported where used: the config imports SCHEDULERS, and resolving a command line
# (and reporting a bad flag) should not wait for them.

# The --lr_scheduler choices, all with linear warm-up first: names of transformers.get_scheduler, which builds them.
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant_with_warmup")
# Norm layers that do not subclass torch.nn.LayerNorm go by class name: DeBERTa's DebertaLayerNorm, and RMS norms.
NORM_CLASS_SUFFIXES = ("LayerNorm", "RMSNorm")


def parameter_groups(model, weight_decay):
    """AdamW groups of the trainable parameters of `model`: `weight_decay` for weights, none for biases and for
    every parameter of a normalization layer. Decided by module type, not parameter name, which misses
    layers such as BART's `layernorm_embedding`."""
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        norm = is_norm(module)
        for name, param in module.named_parameters(recurse=False):
            if param.requires_grad and id(param) not in seen:  # a tied weight is listed under each of its modules
                seen.add(id(param))
                (no_decay if norm or is_bias(name) else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def adamw(model, learning_rate, adam_epsilon, weight_decay, *, fused=True):
    """AdamW over `parameter_groups(model, weight_decay)`; fused, one kernel per parameter tensor doing the whole
    update (the Hugging Face Trainer's default optimizer on torch >= 2.8, "adamw_torch_fused"), unless told not to:
    then torch's default for the device. On a CPU that default is a loop of a dozen operations over every parameter
    tensor: with MiniLM's parameters the fused update took 0.17 to 0.53 of its time, with the same parameters after
    it (bench/bench_optimizer.py; tests/unit/training/test_optim.py). (foreach, one operation over all the tensors
    at a time, was no faster than the loop there.)"""
    import torch

    return torch.optim.AdamW(parameter_groups(model, weight_decay), lr=learning_rate, eps=adam_epsilon,
                             **({"fused": True} if fused else {}))


def fused_allowed(precision, gradient_clip_val):
    """Whether Lightning (2.x) accepts a fused optimizer: not with gradient clipping under mixed precision, where
    it refuses it (its fp16 loss scaling would need the gradients unscaled before clipping; bf16 is refused alike),
    so there training keeps torch's default AdamW.
    `precision` as Lightning names it: 32-true, bf16-mixed, 16-mixed."""
    return not (precision.endswith("-mixed") and gradient_clip_val)


def is_norm(module):
    import torch

    return isinstance(module, torch.nn.LayerNorm) or type(module).__name__.endswith(NORM_CLASS_SUFFIXES)


def is_bias(name):
    """`bias`, or a named attention bias of its module: XLNet's and Funnel's r_w_bias, r_r_bias, r_s_bias,
    DeBERTa's q_bias and v_bias."""
    return name == "bias" or name.endswith("_bias")


def build_scheduler(name, optimizer, num_warmup_steps, num_training_steps):
    """The learning-rate schedule `name` (one of SCHEDULERS) over `num_training_steps` optimizer steps, the first
    `num_warmup_steps` of them rising linearly from 0; to be stepped once per optimizer step."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown learning-rate schedule {name!r}; choose one of {', '.join(SCHEDULERS)}")
    from transformers import get_scheduler

    return get_scheduler(name, optimizer, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps)


def warmup_steps(total, warmup_ratio, warmup_steps):
    """Warm-up length: `warmup_steps` when > 0, else that fraction of the `total` optimizer steps rounded up, as
    the Hugging Face Trainer computes it (TrainingArguments.get_warmup_steps): 0.1 of 174 steps is 18, so the two
    give the same learning rates step by step."""
    import math

    return warmup_steps or math.ceil(total * warmup_ratio)
