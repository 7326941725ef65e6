import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny_models import TINY_BERT, TINY_SETTINGS, padded_batches, tiny_module

from korsquad.training import throughput
from korsquad.training.progress import TrainingLog
from korsquad.training.throughput import (ThroughputWindow, lookup_peak_tflops, non_embedding_parameters, number_format,
                                          training_flops)


@pytest.mark.parametrize("name, fmt, peak", [
    ("NVIDIA H100 80GB HBM3", "bf16", 989.4),
    ("NVIDIA H100 PCIe", "bf16", 756.5),
    ("NVIDIA H100 NVL", "fp16", 835.5),
    ("NVIDIA H200", "bf16", 989.4),
    ("NVIDIA A100-SXM4-80GB", "tf32", 156.0),
    ("NVIDIA A100 80GB PCIe", "fp32", 19.5),
    ("Tesla V100-SXM2-16GB", "fp16", 125.0),
    ("Tesla V100-SXM2-16GB", "bf16", None),
    ("NVIDIA L4", "bf16", 121.0),
    ("NVIDIA L40S", "bf16", 362.1),
    ("NVIDIA A10", "bf16", 125.0),
    ("NVIDIA A10G", "bf16", None),
    ("NVIDIA GeForce RTX 4090", "bf16", 165.2),
    ("NVIDIA GeForce RTX 3090", "tf32", 35.6),
    ("Some Future GPU", "bf16", None),
])
def test_peak_lookup_by_gpu_name(name, fmt, peak):
    assert lookup_peak_tflops(name, fmt) == peak


def test_number_format_follows_precision():
    assert number_format("bf16-mixed", False) == "bf16"
    assert number_format("16-mixed", True) == "fp16"
    assert number_format("32-true", True) == "tf32"
    assert number_format("32", False) == "fp32"
    assert number_format("64-true", False) is None


def test_flops_count_real_tokens_and_the_attention_term():
    from transformers import BertConfig, BertForQuestionAnswering

    config = BertConfig(**TINY_BERT)
    model = BertForQuestionAnswering(config)
    tables = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * config.hidden_size
    assert non_embedding_parameters(model) == sum(p.numel() for p in model.parameters()) - tables
    lengths = np.array([10, 30])
    n = non_embedding_parameters(model)
    expected = sum(s * (6 * n + 12 * 2 * 16 * s) for s in lengths)
    assert training_flops(n, 2, 16, lengths.sum(), (lengths ** 2).sum()) == expected


def fake_trainer(device, precision="bf16-mixed", world=1):
    return SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device(device)), precision=precision,
                           world_size=world)


def test_peak_of_all_processes_from_the_gpu_name(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    assert ThroughputWindow()._peak_flops(fake_trainer("cuda", world=2)) == pytest.approx(2 * 989.4e12)
    assert ThroughputWindow(peak_tflops=100)._peak_flops(fake_trainer("cuda")) == pytest.approx(100e12)
    assert ThroughputWindow(peak_tflops=100)._peak_flops(fake_trainer("cpu")) is None


def test_unknown_gpu_warns_and_logs_no_mfu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Mystery Accelerator 9000")
    with pytest.warns(UserWarning, match="--peak_tflops"):
        assert ThroughputWindow()._peak_flops(fake_trainer("cuda")) is None


def fit_and_read_scalars(tmp_path, monitor, batches):
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.data import DataLoader

    logger = TensorBoardLogger(str(tmp_path), name="logs")
    trainer = pl.Trainer(accelerator="cpu", max_steps=len(batches), logger=logger, callbacks=[monitor],
                         log_every_n_steps=1, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, default_root_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(tiny_module(), DataLoader(batches, batch_size=None))
    events = EventAccumulator(logger.log_dir)
    events.Reload()
    tags = events.Tags()["scalars"]
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in tags}


def test_throughput_scalars_in_tensorboard_after_a_cpu_run(tmp_path):
    batches, lengths = padded_batches(6)
    scalars = fit_and_read_scalars(tmp_path, TrainingLog(2), batches)
    assert [step for step, _ in scalars["samples_per_sec"]] == [2, 4, 6]
    assert "mfu" not in scalars  # CPU: no peak to compare with
    for (step, samples), (_, tokens) in zip(scalars["samples_per_sec"], scalars["tokens_per_sec"]):
        window = np.concatenate(lengths[step - 2:step])
        assert samples > 0
        # real tokens per sequence, not the padded width of 24
        assert tokens / samples == pytest.approx(window.mean(), rel=1e-5)
    # the loss and learning rate of the same logging points
    assert [step for step, _ in scalars["train_loss"]] == [step for step, _ in scalars["lr"]] == [2, 4, 6]


def test_mfu_is_model_flops_of_real_tokens_over_the_peak(tmp_path, monkeypatch):
    peak = 1e9
    monkeypatch.setattr(ThroughputWindow, "_peak_flops", lambda self, trainer: peak)
    batches, lengths = padded_batches(4)
    scalars = fit_and_read_scalars(tmp_path, TrainingLog(4), batches)
    (step, mfu), = scalars["mfu"]
    (_, samples_per_sec), = scalars["samples_per_sec"]
    model = tiny_module().model
    real = np.concatenate(lengths)
    flops = training_flops(non_embedding_parameters(model), 2, 16, real.sum(), (real ** 2).sum())
    assert mfu * peak / samples_per_sec == pytest.approx(flops / len(real), rel=1e-4)


def test_models_use_scaled_dot_product_attention():
    assert tiny_module().model.config._attn_implementation == "sdpa"


def test_validation_time_is_left_out_of_the_throughput(tmp_path, monkeypatch):
    """A fake clock: 1 s per training step, 100 s for validation between steps 2 and 3."""
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import TensorBoardLogger
    from torch.utils.data import DataLoader

    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: clock.now)

    class Clock(pl.Callback):
        def on_train_batch_end(self, *args):
            clock.now += 1.0

        def on_validation_batch_end(self, *args):
            clock.now += 100.0

    class WithValidation(type(tiny_module())):
        def validation_step(self, batch, batch_idx):
            pass

    batches, _ = padded_batches(2)
    monitor = TrainingLog(4)
    logged = []
    trainer = pl.Trainer(accelerator="cpu", max_epochs=2, logger=TensorBoardLogger(str(tmp_path)),
                         callbacks=[Clock(), monitor], log_every_n_steps=1, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         default_root_dir=tmp_path)
    monkeypatch.setattr(trainer.logger, "log_metrics", lambda metrics, step: logged.append((step, metrics)))
    module = WithValidation("tiny", **TINY_SETTINGS, hf_config=tiny_module().hparams.hf_config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, DataLoader(batches, batch_size=None), DataLoader(batches[:1], batch_size=None))
    rates = [m["samples_per_sec"] for step, m in logged if "samples_per_sec" in m]
    assert rates == [pytest.approx(16 / 4)]  # 4 steps x 4 samples in 4 s of training, not 104 s


def test_token_counter_sums_real_tokens_and_survives_a_resume():
    trainer = SimpleNamespace(world_size=1, strategy=SimpleNamespace(reduce=lambda t, reduce_op: t))
    module = SimpleNamespace(device=torch.device("cpu"))
    counter = throughput.TokenCounter()
    counter.setup(trainer, module, "fit")
    for mask in ([[1, 1, 1, 0], [1, 1, 0, 0]], [[1, 1, 1, 1]]):
        counter.on_train_batch_end(trainer, module, None, {"attention_mask": torch.tensor(mask)}, 0)
    state = counter.state_dict()
    counter.on_train_end(trainer, module)
    assert counter.total == 9 and state == {"tokens": 9}
    resumed = throughput.TokenCounter()
    resumed.load_state_dict(state)
    resumed.on_train_batch_end(trainer, module, None, {"attention_mask": torch.ones(2, 3, dtype=torch.long)}, 0)
    resumed.on_train_end(trainer, module)
    assert resumed.total == 15
    empty = throughput.TokenCounter()
    empty.on_train_end(trainer, module)
    assert empty.total == 0
