"""Training throughput in TensorBoard (samples/s, tokens/s, MFU) and the tokens seen for the model card.

Model FLOPs utilization (MFU) = the FLOPs the model needs for the real tokens it trained on, per second, over the
peak FLOP/s of the devices. FLOPs of one training sequence of s real tokens (forward and backward):
    s x (6 x non-embedding parameters + 12 x layers x hidden x s)
(the matrix products of the weights, then the attention scores and their use; embedding look-ups cost no matrix
products). Padding is not counted: FLOPs spent on it are waste, which MFU is meant to show. Parameters shared
across layers (ALBERT) count once, so such models read low.

The peak is looked up from the GPU's name for the precision of the run (dense tensor-core figures from NVIDIA's
data sheets; bf16/fp16 for the mixed precisions, TF32 or FP32 for 32-bit depending on
torch.get_float32_matmul_precision()); `--peak_tflops` overrides it. Nothing is logged for MFU on CPU, or on a GPU
the table does not know without `--peak_tflops`.

Overhead: the window adds no device synchronization to training steps. Each step it queues one reduction (the
attention mask's row sums: real tokens per sequence) and keeps the result on the device; at each logging point it
reads the window's counts back once (which waits for the queued work, so the window's wall time is exact).
"""

import re
import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_warn

# Dense peak TFLOP/s per GPU by name (lower case, first match wins): bf16 and fp16 tensor cores (FP32
# accumulation), TF32 tensor cores, FP32. None: the GPU does not have the format.
PEAK_TFLOPS = (
    (r"h100.*nvl|h200.*nvl", {"bf16": 835.5, "fp16": 835.5, "tf32": 417.5, "fp32": 60.0}),
    (r"h100.*pcie", {"bf16": 756.5, "fp16": 756.5, "tf32": 378.0, "fp32": 51.2}),
    (r"gh200|h100|h200", {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9}),
    (r"a100", {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5}),
    (r"v100s", {"bf16": None, "fp16": 130.0, "tf32": 16.4, "fp32": 16.4}),
    (r"v100.*pcie", {"bf16": None, "fp16": 112.0, "tf32": 14.0, "fp32": 14.0}),
    (r"v100", {"bf16": None, "fp16": 125.0, "tf32": 15.7, "fp32": 15.7}),
    (r"l40s", {"bf16": 362.1, "fp16": 362.1, "tf32": 183.0, "fp32": 91.6}),
    (r"\bl4\b", {"bf16": 121.0, "fp16": 121.0, "tf32": 60.0, "fp32": 30.3}),
    (r"\ba10\b", {"bf16": 125.0, "fp16": 125.0, "tf32": 62.5, "fp32": 31.2}),
    (r"rtx 4090", {"bf16": 165.2, "fp16": 165.2, "tf32": 82.6, "fp32": 82.6}),
    (r"rtx 3090 ti", {"bf16": 80.0, "fp16": 80.0, "tf32": 40.0, "fp32": 40.0}),
    (r"rtx 3090", {"bf16": 71.0, "fp16": 71.0, "tf32": 35.6, "fp32": 35.6}),
    (r"\bt4\b", {"bf16": None, "fp16": 65.0, "tf32": 8.1, "fp32": 8.1}),
)


def number_format(precision, tf32_matmuls):
    """The format the matrix products run in: "bf16", "fp16", "tf32", "fp32", or None (64-bit and others)."""
    precision = str(precision)
    if precision.startswith("bf16"):
        return "bf16"
    if precision.startswith("16"):
        return "fp16"
    if precision.startswith("32"):
        return "tf32" if tf32_matmuls else "fp32"
    return None


def tf32_enabled():
    """Whether CUDA float32 matrix products may use TF32 (allow_tf32 and the float32 precision setting agree)."""
    return torch.get_float32_matmul_precision() != "highest"


def lookup_peak_tflops(device_name, number_format_name):
    """Dense peak TFLOP/s of one GPU in a number format, or None when the GPU or format is not known."""
    name = device_name.lower()
    for pattern, peaks in PEAK_TFLOPS:
        if re.search(pattern, name):
            return peaks.get(number_format_name)
    return None


def non_embedding_parameters(model):
    """Parameters outside embedding tables (the ones that take part in matrix products)."""
    embedding = {id(p) for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in embedding)


def layers_and_hidden(config):
    """(transformer layers, hidden size) from a Hugging Face config, whatever the model family calls them."""
    layers = _first_attribute(config, ("num_hidden_layers", "n_layers", "num_layers", "n_layer"))
    hidden = _first_attribute(config, ("hidden_size", "dim", "d_model", "n_embd"))
    return layers, hidden


def _first_attribute(config, names):
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    raise ValueError(f"{type(config).__name__} has none of {', '.join(names)}: cannot estimate its FLOPs")


def training_flops(non_embedding, layers, hidden, tokens, squared_lengths):
    """FLOPs to train on sequences with `tokens` real tokens in all and sum of squared lengths `squared_lengths`."""
    return 6 * non_embedding * tokens + 12 * layers * hidden * squared_lengths


class ThroughputWindow:
    """samples/s, tokens/s (real tokens, all processes together) and, on GPU, mfu of the training steps since the
    last `take`, validation time left out. korsquad.training.progress.TrainingLog feeds it every batch and takes it at
    each logging point."""

    def __init__(self, peak_tflops=None):
        self.peak_tflops_override = peak_tflops
        self.peak_flops = None  # of all processes together; None: no MFU
        self.model_shape = None  # (non-embedding parameters, layers, hidden)
        self.reset(None)

    def setup(self, trainer, pl_module):
        model = getattr(pl_module, "model", pl_module)
        self.model_shape = (non_embedding_parameters(model), *layers_and_hidden(model.config))
        self.peak_flops = self._peak_flops(trainer)

    def _peak_flops(self, trainer):
        device = trainer.strategy.root_device
        if device.type != "cuda":
            return None
        peak = self.peak_tflops_override
        if peak is None:
            name = torch.cuda.get_device_name(device)
            fmt = number_format(trainer.precision, tf32_enabled())
            peak = lookup_peak_tflops(name, fmt)
            if peak is None:
                rank_zero_warn(f"mfu is not logged: the peak {fmt or trainer.precision} FLOP/s of {name!r} is not "
                               "known; give it with --peak_tflops")
                return None
        return peak * 1e12 * trainer.world_size

    def reset(self, now):
        self._window_start = now
        self._samples = 0
        self._lengths = []  # per step: real tokens per sequence, still on the device
        self._paused_at = None

    def start(self):
        """Before a training batch: the window's clock starts with its first batch."""
        if self._window_start is None:
            self._window_start = time.perf_counter()

    def add(self, batch):
        """One training batch, after its step."""
        mask = batch["attention_mask"]
        self._samples += mask.shape[0]
        self._lengths.append(mask.sum(dim=1))

    def pause(self):
        if self._window_start is not None:
            self._paused_at = time.perf_counter()

    def resume(self):
        if self._paused_at is not None:
            self._window_start += time.perf_counter() - self._paused_at
            self._paused_at = None

    def take(self, strategy):
        """The window's scalars (every process calls it at the same step: it reduces), and a new window."""
        lengths = torch.cat(self._lengths)
        counts = torch.stack([lengths.new_tensor(self._samples), lengths.sum(), (lengths * lengths).sum()])
        samples, tokens, squared = strategy.reduce(counts, reduce_op="sum").tolist()  # waits for the GPU
        now = time.perf_counter()
        elapsed = now - self._window_start
        self.reset(now)
        metrics = {"samples_per_sec": samples / elapsed, "tokens_per_sec": tokens / elapsed}
        if self.peak_flops is not None:
            metrics["mfu"] = training_flops(*self.model_shape, tokens, squared) / elapsed / self.peak_flops
        return metrics


class TokenCounter(pl.Callback):
    """Real (not padding) tokens of every training batch, special and question tokens included, all processes
    together: `total` once fit ends (None before). Each step adds the attention mask's sum on the device (no
    synchronization); one reduction at the end. The count is kept in checkpoints, so a resumed run goes on counting
    (under DDP the steps before the resume count as process 0's tokens times the number of processes)."""

    def __init__(self):
        self.total = None
        self._restored = 0
        self._local = None
        self._world_size = 1

    def setup(self, trainer, pl_module, stage):
        self._world_size = trainer.world_size

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        tokens = batch["attention_mask"].sum()
        self._local = tokens if self._local is None else self._local + tokens

    def on_train_end(self, trainer, pl_module):
        local = self._local.clone() if self._local is not None else torch.zeros((), dtype=torch.long,
                                                                                 device=pl_module.device)
        self.total = self._restored + int(trainer.strategy.reduce(local, reduce_op="sum"))

    def state_dict(self):
        local = int(self._local) if self._local is not None else 0
        return {"tokens": self._restored + local * self._world_size}

    def load_state_dict(self, state_dict):
        self._restored = int(state_dict.get("tokens", 0))
