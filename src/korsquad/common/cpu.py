"""CPU settings of run_qa.py: whether this CPU computes bfloat16 natively (which decides whether
`--precision bf16-mixed` pays off on it, and what `--precision auto` chooses), and the batch widths that suit bf16 on
a CPU.

`korsquad cpu` prints what it finds on this machine as one JSON object.

Batch widths. Per-batch padding rounds a batch's width up to a multiple of 8, what GPU tensor cores want. On a
CPU computing in bfloat16, oneDNN compiles and caches kernels for every matrix shape it meets: each new batch width
of a training run added about 8 MB that stayed (up to 48 widths with 384-token windows: about 400 MB), and
compiling costs CPU time too. Widths that are multiples of 32 keep it to 12; the extra padding, about 12 tokens a
window, costs about as much as the compiling it saves. In float32 the products go to MKL, which keeps nothing per
shape: multiples of 8 stay.

bfloat16. `--precision bf16-mixed` runs the matrix products in bfloat16 under autocast. CPUs with native
bfloat16 instructions (x86: AVX512_BF16 or AMX-BF16, Intel Cooper Lake / Sapphire Rapids and later, AMD Zen 4
and later; Arm: the BF16 extension) do them about 1.3 to 2 times as fast as float32; others emulate them, slower
than float32. `native_bf16` reads the CPU's flags (/proc/cpuinfo on Linux).

`--precision auto` (the default) chooses by the hardware the run trains on: bf16-mixed on a CPU with native bfloat16
and on a CUDA GPU of compute capability 8.0 or more (Ampere and later), 16-mixed on an older CUDA GPU, 32 on any other
CPU or device (and where the CPU's flags cannot be read). The run's record keeps the precision chosen.
"""

import json
import os
import sys

from .errors import ArgumentParser, exit_on_usage_error

# /proc/cpuinfo flags of native bfloat16 arithmetic: x86 (AVX512_BF16, AMX-BF16), Arm (BF16, SVE BF16)
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16", "svebf16"})
# CUDA GPUs compute bfloat16 natively from this compute capability on (Ampere); older ones emulate it, slowly.
NATIVE_BF16_CUDA_CAPABILITY = (8, 0)
# Batch widths for bf16 on CPU are multiples of this (see the module docstring).
BF16_CPU_WIDTH_MULTIPLE = 32


# ---- bfloat16 ----------------------------------------------------------------------------------------------
def cpu_flags(cpuinfo):
    """The feature flags in the text of /proc/cpuinfo (x86 `flags`, Arm `Features`), as a frozenset."""
    flags = set()
    for line in cpuinfo.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return frozenset(flags)


def native_bf16(flags):
    """Whether CPU flags include native bfloat16 arithmetic."""
    return bool(BF16_FLAGS & set(flags))


def read_cpu_flags(path="/proc/cpuinfo"):
    """This machine's CPU flags, or None where they cannot be read (not Linux)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return cpu_flags(f.read())
    except OSError:
        return None


def bf16_warning(precision, on_cpu, flags):
    """The warning for --precision bf16-mixed on a CPU without native bfloat16, or None (also when the flags are
    unknown: None)."""
    if precision != "bf16-mixed" or not on_cpu or flags is None or native_bf16(flags):
        return None
    return ("warning: --precision bf16-mixed on a CPU without native bfloat16 (avx512_bf16, amx_bf16 or Arm bf16): "
            "emulated, it runs slower than --precision 32")


# ---- --precision auto --------------------------------------------------------------------------------------
def auto_precision(on_cpu, flags=None, cuda_capability=None):
    """(precision, why) for --precision auto on a CPU with these `flags` (None: unknown), or on a GPU whose
    (lowest) CUDA compute capability is `cuda_capability` (None: not a CUDA GPU)."""
    if on_cpu:
        if flags is None:
            return "32", "the CPU's flags cannot be read here, so bfloat16 may be emulated"
        native = sorted(BF16_FLAGS & set(flags))
        if native:
            return "bf16-mixed", f"this CPU computes bfloat16 natively ({', '.join(native)})"
        return "32", "this CPU has no native bfloat16 (avx512_bf16, amx_bf16 or Arm bf16): emulated, it is slower"
    if cuda_capability is None:
        return "32", "the accelerator is not a CUDA GPU"
    capability = ".".join(map(str, cuda_capability))
    if tuple(cuda_capability) >= NATIVE_BF16_CUDA_CAPABILITY:
        return "bf16-mixed", f"the GPU computes bfloat16 natively (CUDA compute capability {capability})"
    return "16-mixed", f"the GPU has no native bfloat16 (CUDA compute capability {capability}, below 8.0)"


def precision_here(accelerator_kind, devices):
    """(precision, why) for --precision auto on this machine, where Lightning will run with this accelerator
    ("cpu", "gpu" or "auto") and devices (a list of GPU ids, or a count)."""
    if accelerator_kind == "cpu":  # no torch import: /proc/cpuinfo tells
        return auto_precision(True, read_cpu_flags())
    import torch

    if not torch.cuda.is_available():
        return auto_precision(accelerator_kind == "auto", read_cpu_flags())
    ids = devices if isinstance(devices, list) else range(min(devices, torch.cuda.device_count()))
    return auto_precision(False, cuda_capability=min(torch.cuda.get_device_capability(i) for i in ids))


def precision_line(precision, why):
    """The one line run_qa.py prints about the precision --precision auto chose."""
    return f"precision {precision} (--precision auto: {why})"


# ---- batch widths ------------------------------------------------------------------------------------------
def width_multiple(on_cpu, precision):
    """What per-batch padding rounds a batch's width up to a multiple of: 8 (what GPU tensor cores want), or
    BF16_CPU_WIDTH_MULTIPLE for bf16 on a CPU."""
    return BF16_CPU_WIDTH_MULTIPLE if on_cpu and precision == "bf16-mixed" else 8


def batch_width_multiple(config):
    return width_multiple(runs_on_cpu(config), config.precision)


# ---- run_qa.py ---------------------------------------------------------------------------------------------
def runs_on_cpu(config):
    if config.accelerator_kind == "auto":
        import torch

        return not torch.cuda.is_available()
    return config.accelerator_kind == "cpu"


def warn_if_bf16_emulated(config):
    """A warning on stderr for --precision bf16-mixed on a CPU that would emulate it (run_qa.py, before anything
    loads). Only a bf16 run asks where it runs: with --accelerator auto that means importing torch."""
    if config.precision == "bf16-mixed":
        warning = bf16_warning(config.precision, runs_on_cpu(config), read_cpu_flags())
        if warning:
            print(warning, file=sys.stderr)


def report():
    """This machine's CPU settings as a dict (korsquad cpu)."""
    import torch

    flags = read_cpu_flags()
    return {
        "native_bf16": None if flags is None else native_bf16(flags),
        "bf16_flags": None if flags is None else sorted(BF16_FLAGS & flags),
        "recommended_precision_on_cpu": auto_precision(True, flags)[0],
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


@exit_on_usage_error
def main(argv=None):
    ArgumentParser(prog="korsquad cpu", description="This machine's CPU settings, as one JSON object.").parse_args(argv)
    print(json.dumps(report()))
    return 0
