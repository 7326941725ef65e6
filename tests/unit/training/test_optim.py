"""AdamW groups by module type, and the learning-rate schedules (values and resuming from a checkpoint)."""

import math

import pytest
import torch
from tiny_models import tiny_qa_model

from korsquad.training.optim import SCHEDULERS, adamw, build_scheduler, parameter_groups, warmup_steps

BASE_LR, WARMUP, TOTAL = 0.1, 2, 10
LR_END = 1e-7  # transformers' polynomial default, reached at the last step (power 1)


def no_decay_names(model, weight_decay=0.01):
    """Names of the parameters in the group without weight decay; checks that every trainable parameter is in
    exactly one group."""
    groups = parameter_groups(model, weight_decay)
    assert [g["weight_decay"] for g in groups] == [weight_decay, 0.0]
    ids = [id(p) for g in groups for p in g["params"]]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert len(ids) == len(set(ids)) and set(ids) == trainable
    no_decay = {id(p) for p in groups[1]["params"]}
    return {name for name, p in model.named_parameters() if id(p) in no_decay}


def test_bert_groups_biases_and_layernorms_without_decay_and_everything_else_with():
    model = tiny_qa_model("bert")
    model.bert.embeddings.token_type_embeddings.weight.requires_grad_(False)  # frozen: in no group
    no_decay = no_decay_names(model)
    assert "bert.embeddings.LayerNorm.weight" in no_decay and "bert.embeddings.LayerNorm.bias" in no_decay
    assert "bert.encoder.layer.1.output.LayerNorm.weight" in no_decay
    assert "bert.encoder.layer.0.attention.self.query.bias" in no_decay and "qa_outputs.bias" in no_decay
    assert no_decay == {n for n, _ in model.named_parameters() if n.endswith("bias") or ".LayerNorm." in n}
    decay = {n for n, p in model.named_parameters() if p.requires_grad} - no_decay
    assert {"bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
            "bert.encoder.layer.0.intermediate.dense.weight", "qa_outputs.weight"} <= decay


def test_bart_layernorm_embedding_gets_no_decay():
    """Named neither `LayerNorm` nor `layer_norm`: the old name-suffix rule decayed it."""
    no_decay = no_decay_names(tiny_qa_model("bart"))
    assert {"model.encoder.layernorm_embedding.weight", "model.decoder.layernorm_embedding.weight",
            "model.encoder.layernorm_embedding.bias", "model.encoder.layers.0.final_layer_norm.weight"} <= no_decay
    assert "model.shared.weight" not in no_decay  # shared with both embed_tokens: listed once, with decay


def test_norms_that_do_not_subclass_layernorm_and_named_attention_biases_get_no_decay():
    deberta = tiny_qa_model("deberta")
    norm = deberta.deberta.embeddings.LayerNorm
    assert not isinstance(norm, torch.nn.LayerNorm)  # DebertaLayerNorm
    no_decay = no_decay_names(deberta)
    assert {"deberta.embeddings.LayerNorm.weight", "deberta.encoder.layer.0.attention.self.q_bias"} <= no_decay
    assert "transformer.layer.0.rel_attn.r_w_bias" in no_decay_names(tiny_qa_model("xlnet"))


def test_the_optimizer_is_fused_adamw_and_updates_as_torchs_default_adamw():
    import copy

    model = tiny_qa_model("bert")
    twin = copy.deepcopy(model)
    fused = adamw(model, 1e-3, 1e-8, 0.01)
    default = torch.optim.AdamW(parameter_groups(twin, 0.01), lr=1e-3, eps=1e-8)  # a loop over the tensors on CPU
    assert fused.defaults["fused"] and [g["weight_decay"] for g in fused.param_groups] == [0.01, 0.0]
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        for a, b in zip(model.parameters(), twin.parameters()):
            a.grad = torch.randn(a.shape, generator=generator)
            b.grad = a.grad.clone()
        fused.step()
        default.step()
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-6), name
    assert not torch.equal(model.qa_outputs.weight, tiny_qa_model("bert").qa_outputs.weight)  # it moved


@pytest.mark.parametrize("precision, clip, fused", [("32-true", 1.0, True), ("bf16-mixed", 0.0, True),
                                                   ("bf16-mixed", 1.0, False), ("16-mixed", 1.0, False)])
def test_fused_only_where_lightning_accepts_it(tmp_path, precision, clip, fused):
    """Lightning refuses to clip the gradients of a fused optimizer under mixed precision: torch's default there, and a
    step of each trains (16-mixed runs as bf16-mixed on a CPU)."""
    import pytorch_lightning as pl
    from tiny_models import padded_batches, tiny_module
    from torch.utils.data import DataLoader

    from korsquad.training.optim import fused_allowed

    assert fused_allowed(precision, clip) is fused
    module = tiny_module()
    trainer = pl.Trainer(accelerator="cpu", precision=precision, gradient_clip_val=clip or None, max_steps=1,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(module, DataLoader(padded_batches(1)[0], batch_size=None))
    (optimizer,) = trainer.optimizers
    assert bool(optimizer.defaults["fused"]) is fused
    assert trainer.global_step == 1


def definition(name, step):
    """Learning rate at `step` by each schedule's definition, after WARMUP linear warm-up steps."""
    if step < WARMUP:
        return BASE_LR * step / WARMUP
    progress = (step - WARMUP) / (TOTAL - WARMUP)
    return BASE_LR * {
        "linear": max(0.0, 1 - progress),
        "cosine": 0.5 * (1 + math.cos(math.pi * progress)),
        "cosine_with_restarts": 0.5 * (1 + math.cos(math.pi * (progress % 1))) if progress < 1 else 0.0,
        "polynomial": (1 - LR_END / BASE_LR) * (1 - min(progress, 1)) + LR_END / BASE_LR,
        "constant_with_warmup": 1.0,
    }[name]


def new_optimizer():
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(3))], lr=BASE_LR)


def new_schedule(name):
    optimizer = new_optimizer()
    return optimizer, build_scheduler(name, optimizer, WARMUP, TOTAL)


def run(optimizer, scheduler, steps):
    """The learning rate of each of the next `steps` optimizer steps."""
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("name", SCHEDULERS)
def test_schedule_follows_its_definition(name):
    lrs = run(*new_schedule(name), TOTAL + 1)
    assert lrs == pytest.approx([definition(name, s) for s in range(TOTAL + 1)], abs=1e-12)
    assert lrs[0] == 0.0 and lrs[WARMUP] == pytest.approx(BASE_LR)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_a_schedule_resumed_from_its_state_dict_continues_exactly(name, k=4):
    uninterrupted = run(*new_schedule(name), TOTAL)
    optimizer, scheduler = new_schedule(name)
    first = run(optimizer, scheduler, k)
    states = optimizer.state_dict(), scheduler.state_dict()
    optimizer, scheduler = new_schedule(name)  # as a resumed run rebuilds them, then loads the checkpoint's states
    optimizer.load_state_dict(states[0])
    scheduler.load_state_dict(states[1])
    assert first + run(optimizer, scheduler, TOTAL - k) == uninterrupted


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="cosine_with_restarts"):
        build_scheduler("exponential", new_schedule("linear")[0], WARMUP, TOTAL)


# (optimizer steps, --warmup_ratio): the quick start's 174 x 0.1 (17.4), products just above a whole number in
# floating point (100 x 0.07, 300 x 0.07), exact ones, and a ratio too small for one step
WARMUP_CASES = [(174, 0.1), (100, 0.07), (300, 0.07), (1000, 0.1), (7, 0.5), (1, 0.2), (59, 0.06), (250, 0.0),
                (3, 0.001), (1234, 0.33)]


@pytest.mark.parametrize("total, ratio", WARMUP_CASES)
def test_warmup_steps_and_learning_rates_are_the_hugging_face_trainers(total, ratio):
    from types import SimpleNamespace

    from transformers import TrainingArguments, get_scheduler

    # the Trainer's own computation (an unbound call: building TrainingArguments needs accelerate)
    hf_warmup = TrainingArguments.get_warmup_steps(SimpleNamespace(warmup_steps=0, warmup_ratio=ratio), total)
    assert warmup_steps(total, ratio, 0) == hf_warmup
    ours, hf = new_optimizer(), new_optimizer()
    ours_schedule = build_scheduler("linear", ours, warmup_steps(total, ratio, 0), total)
    hf_schedule = get_scheduler("linear", hf, num_warmup_steps=hf_warmup, num_training_steps=total)
    assert run(ours, ours_schedule, total) == run(hf, hf_schedule, total)


def test_warmup_steps_override_the_ratio():
    assert warmup_steps(1000, 0.1, 0) == 100
    assert warmup_steps(1000, 0.1, 7) == 7
    assert warmup_steps(1000, 0.0, 0) == 0
