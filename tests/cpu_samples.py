"""/proc/cpuinfo texts of CPUs with and without native bfloat16, for the tests that fake what korsquad.common.cpu
reads."""

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9654 96-Core Processor
flags\t\t: fpu vme de pse avx2 avx512f avx512dq avx512_bf16 avx512_vnni
bugs\t\t: sysret_ss_attrs spectre_v1

processor\t: 1
flags\t\t: fpu vme de pse avx2 avx512f avx512dq avx512_bf16 avx512_vnni
"""
SAPPHIRE_RAPIDS = "flags\t\t: avx512f amx_bf16 amx_tile amx_int8 avx512_fp16\nvmx flags\t: vnmi ept\n"
SKYLAKE = "flags\t\t: fpu avx2 avx512f avx512bw avx512_vnni\nvmx flags\t: vnmi preemption_timer\n"
GRAVITON3 = "processor\t: 0\nBogoMIPS\t: 2100.00\nFeatures\t: fp asimd sve svebf16 bf16 i8mm\nCPU implementer\t: 0x41\n"
GRAVITON2 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp\n"
