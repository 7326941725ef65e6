"""korsquad.common.cpu: bfloat16 detection from CPU flags and bf16 batch widths on CPU, and the attention dropout that
lets the fused attention kernel train on CPU."""

from types import SimpleNamespace

import pytest
import torch
from transformers import BertConfig, DistilBertConfig, XLNetConfig

from cpu_samples import GRAVITON2, GRAVITON3, SAPPHIRE_RAPIDS, SKYLAKE, ZEN4
from korsquad.cli import run
from korsquad.common import cpu
from korsquad.training.qa_module import QAModule, attention_dropout_overrides


@pytest.mark.parametrize("cpuinfo, native", [(ZEN4, True), (SAPPHIRE_RAPIDS, True), (SKYLAKE, False),
                                             (GRAVITON3, True), (GRAVITON2, False), ("", False)])
def test_native_bf16_from_cpu_flags(cpuinfo, native):
    assert cpu.native_bf16(cpu.cpu_flags(cpuinfo)) is native


def test_cpu_flags_reads_only_the_flags_lines():
    flags = cpu.cpu_flags(SKYLAKE + "model name\t: bf16 avx512_bf16 in a name\n")
    assert "avx512f" in flags and "ept" not in flags and "vnmi" not in flags and "avx512_bf16" not in flags


def test_bf16_warning_only_for_emulated_bf16_on_cpu():
    skylake, zen4 = cpu.cpu_flags(SKYLAKE), cpu.cpu_flags(ZEN4)
    assert "slower than --precision 32" in cpu.bf16_warning("bf16-mixed", True, skylake)
    assert cpu.bf16_warning("bf16-mixed", True, zen4) is None
    assert cpu.bf16_warning("bf16-mixed", False, skylake) is None  # a GPU run
    assert cpu.bf16_warning("32", True, skylake) is None
    assert cpu.bf16_warning("bf16-mixed", True, None) is None  # flags unknown: no guess


# ---- --precision auto ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("on_cpu, cpuinfo, capability, precision", [
    (True, ZEN4, None, "bf16-mixed"), (True, SAPPHIRE_RAPIDS, None, "bf16-mixed"), (True, GRAVITON3, None, "bf16-mixed"),
    (True, SKYLAKE, None, "32"), (True, GRAVITON2, None, "32"), (True, None, None, "32"),  # None: flags unknown
    (False, None, (9, 0), "bf16-mixed"), (False, None, (8, 0), "bf16-mixed"), (False, None, (7, 5), "16-mixed"),
    (False, None, (6, 0), "16-mixed"), (False, None, None, "32")],  # None: not a CUDA GPU
    ids=["zen4", "sapphire_rapids", "graviton3", "skylake", "graviton2", "cpu_flags_unknown", "gpu_9.0", "gpu_8.0",
         "gpu_7.5", "gpu_6.0", "not_cuda"])
def test_auto_precision_by_hardware(on_cpu, cpuinfo, capability, precision):
    flags = None if cpuinfo is None else cpu.cpu_flags(cpuinfo)
    chosen, why = cpu.auto_precision(on_cpu, flags, capability)
    assert chosen == precision and why and "\n" not in why


def fake_cuda(monkeypatch, capabilities):
    """CUDA GPUs of these compute capabilities (none: no CUDA)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: bool(capabilities))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(capabilities))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capabilities[device])


AUTO = ["--model_type", "bert", "--model_name_or_path", "some/model", "--data_name", "squad_v1.1", "--do_train",
        "--precision", "auto"]


@pytest.mark.parametrize("flags, cpuinfo, capabilities, precision, why", [
    (["--accelerator", "cpu"], ZEN4, [], "bf16-mixed", "this CPU computes bfloat16 natively (avx512_bf16)"),
    (["--accelerator", "cpu"], SKYLAKE, [(8, 0)], "32", "this CPU has no native bfloat16"),  # GPUs unused
    (["--accelerator", "auto"], SKYLAKE, [], "32", "this CPU has no native bfloat16"),
    (["--accelerator", "auto"], ZEN4, [(7, 5)], "16-mixed", "compute capability 7.5"),  # auto: the GPU
    (["--accelerator", "gpu"], SKYLAKE, [(8, 6)], "bf16-mixed", "compute capability 8.6"),
    (["--gpu_ids", "0,1"], ZEN4, [(8, 0), (7, 0)], "16-mixed", "compute capability 7.0"),  # the weaker GPU
    (["--gpu_ids", "1"], SKYLAKE, [(7, 0), (9, 0)], "bf16-mixed", "compute capability 9.0"),
], ids=["cpu_bf16", "cpu_no_bf16", "auto_without_gpu", "auto_old_gpu", "gpu_ampere", "two_gpus_one_old",
        "the_given_gpu"])
def test_precision_auto_resolves_by_the_hardware_the_run_trains_on(monkeypatch, flags, cpuinfo, capabilities,
                                                                   precision, why):
    from korsquad.config.runconfig import resolve

    monkeypatch.setattr(cpu, "read_cpu_flags", lambda: cpu.cpu_flags(cpuinfo))
    fake_cuda(monkeypatch, capabilities)
    config = resolve(AUTO + flags)
    assert config.precision == config.record()["precision"] == precision  # run.json records the choice
    assert config.precision_note.startswith(f"precision {precision} (--precision auto: ") and why in config.precision_note
    assert resolve(AUTO[:-1] + ["32"] + flags).precision_note is None  # a given precision is kept, no line


def test_precision_auto_is_the_default():
    from korsquad.config.options import BY_NAME

    assert BY_NAME["precision"].default == "auto"


def test_run_qa_warns_that_bf16_is_emulated_on_a_cpu_without_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cpu, "read_cpu_flags", lambda: cpu.cpu_flags(SKYLAKE))
    argv = ["--model_type", "bert", "--model_name_or_path", str(tmp_path / "none"), "--data_name", "squad_v1.1",
            "--data_dir", str(tmp_path), "--do_train", "--accelerator", "cpu", "--batch_size", "4"]
    for precision, warned in (("bf16-mixed", True), ("32", False)):
        with pytest.raises(SystemExit) as stopped:
            run.main(argv + ["--precision", precision])
        err = capsys.readouterr().err
        assert stopped.value.code == 2 and "train.json not found" in err  # then the missing data stopped it
        assert ("emulated, it runs slower than --precision 32" in err) is warned


# ---- attention dropout (--attention_dropout) ------------------------------------------------------------------
def test_attention_dropout_overrides_name_the_model_family_key():
    assert attention_dropout_overrides(BertConfig(), 0) == {"attention_probs_dropout_prob": 0.0}
    assert attention_dropout_overrides(DistilBertConfig(), 0.05) == {"attention_dropout": 0.05}
    assert attention_dropout_overrides(XLNetConfig(), None) == {}
    with pytest.raises(ValueError, match="no separate attention dropout"):
        attention_dropout_overrides(XLNetConfig(), 0)


def test_attention_dropout_zero_trains_with_the_fused_kernel(tmp_path):
    from transformers import BertForQuestionAnswering

    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64)
    BertForQuestionAnswering(config).save_pretrained(tmp_path)
    settings = dict(learning_rate=1e-4, adam_epsilon=1e-8, weight_decay=0.0, warmup_ratio=0.0, warmup_steps=0)
    default = QAModule(str(tmp_path), **settings)
    fused = QAModule(str(tmp_path), **settings, attention_dropout=0.0)
    assert default.model.config.attention_probs_dropout_prob == 0.1
    assert fused.model.config.attention_probs_dropout_prob == 0.0
    assert fused.hparams.hf_config["attention_probs_dropout_prob"] == 0.0  # a checkpoint rebuilds it so
    batch = {"input_ids": torch.randint(5, 100, (2, 16)), "attention_mask": torch.ones(2, 16, dtype=torch.long),
             "start_positions": torch.tensor([1, 2]), "end_positions": torch.tensor([3, 4])}
    fused.train()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fused(batch).loss.backward()
    kernels = {event.key for event in prof.key_averages()}
    assert any("flash_attention" in k for k in kernels), sorted(k for k in kernels if "attention" in k)


# ---- batch widths ----------------------------------------------------------------------------------------------
def test_bf16_on_cpu_pads_batches_to_multiples_of_32():
    def config(accelerator, precision):
        return SimpleNamespace(accelerator_kind=accelerator, precision=precision)

    assert cpu.batch_width_multiple(config("cpu", "bf16-mixed")) == 32
    assert cpu.batch_width_multiple(config("cpu", "32")) == 8  # float32 products keep nothing per shape
    assert cpu.batch_width_multiple(config("gpu", "bf16-mixed")) == 8


def test_the_data_module_pads_to_its_multiple():
    import numpy as np

    from korsquad.runs.settings import WindowSettings
    from korsquad.training.datamodule import QADataModule

    lengths = [40, 33]
    features = SimpleNamespace(row_splits=np.array([0, 40, 73]), input_ids=np.arange(73, dtype=np.int32) + 5,
                               token_type_ids=np.zeros(73, dtype=np.int8), start_positions=np.array([1, 2]),
                               end_positions=np.array([3, 4]))
    tokenizer = SimpleNamespace(pad_token_id=0, pad_token_type_id=0, padding_side="right")

    def width(**kwargs):
        dm = QADataModule(None, tokenizer, train=True, eval_split="dev", data_dir=".",
                          window=WindowSettings(max_seq_length=384, doc_stride=128, max_query_length=64), batch_size=2, eval_batch_size=2, seed=0,
                          negative_window_ratio=1.0, **kwargs)
        batch = dm.batcher(features)([0, 1])
        assert batch["attention_mask"].sum(1).tolist() == lengths
        return batch["input_ids"].shape[1]

    assert width() == 40 and width(pad_multiple=32) == 64
