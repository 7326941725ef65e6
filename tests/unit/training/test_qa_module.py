"""korsquad.training.qa_module: the QA module's training step, optimizer wiring, gradient checkpointing and
--compile."""

import torch
from transformers import BertConfig

from korsquad.training.qa_module import QAModule, compile_model

TINY = dict(vocab_size=120, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
            hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
SETTINGS = dict(learning_rate=5e-5, adam_epsilon=1e-8, weight_decay=0.01, warmup_ratio=0.0, warmup_steps=0)


def module(gradient_checkpointing):
    torch.manual_seed(0)
    return QAModule("tiny", **SETTINGS, gradient_checkpointing=gradient_checkpointing,
                    hf_config=BertConfig(**TINY).to_dict())


def batch():
    g = torch.Generator().manual_seed(1)
    return {"input_ids": torch.randint(5, 120, (4, 24), generator=g), "attention_mask": torch.ones(4, 24, dtype=torch.long),
            "token_type_ids": torch.zeros(4, 24, dtype=torch.long),
            "start_positions": torch.tensor([3, 5, 0, 9]), "end_positions": torch.tensor([4, 8, 0, 12])}


def loss_and_grads(m):
    torch.manual_seed(7)  # the same dropout masks for both
    loss = m(batch()).loss
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in m.model.named_parameters() if p.grad is not None}


def test_gradient_checkpointing_gives_the_same_loss_and_gradients():
    plain, checkpointed = module(False), module(True)
    assert checkpointed.model.is_gradient_checkpointing and not plain.model.is_gradient_checkpointing
    assert checkpointed.model.training  # dropout on, as in training
    loss, grads = loss_and_grads(plain)
    loss_ckpt, grads_ckpt = loss_and_grads(checkpointed)
    assert torch.allclose(loss, loss_ckpt, atol=1e-6)
    assert grads.keys() == grads_ckpt.keys() and len(grads) > 10
    for name in grads:
        assert torch.allclose(grads[name], grads_ckpt[name], atol=1e-6), name


def test_a_checkpoint_rebuilds_the_module_without_the_pretrained_weights(tmp_path):
    m = module(False)
    path = tmp_path / "m.pt"
    torch.save({"hparams": dict(m.hparams)}, path)
    rebuilt = QAModule(**torch.load(path, weights_only=False)["hparams"])
    assert rebuilt.hparams.weight_decay == 0.01 and rebuilt.model.config.hidden_size == 32


def test_compile_keeps_checkpoint_names_and_outputs():
    m = module(False).eval()
    inputs = {k: v for k, v in batch().items() if k not in ("start_positions", "end_positions")}
    names = list(m.state_dict())
    with torch.no_grad():
        before = m(inputs).start_logits
        compile_model(m, backend="eager")
        after = m(inputs).start_logits
    assert list(m.state_dict()) == names
    assert torch.allclose(before, after)
