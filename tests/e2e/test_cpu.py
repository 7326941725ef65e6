"""korsquad.common.cpu: bfloat16 detection from CPU flags and bf16 batch widths on CPU, and the attention dropout that
lets the fused attention kernel train on CPU."""

import json
import os
import subprocess
import sys

from conftest import ROOT
from korsquad.common import cpu


def test_run_qa_prints_the_precision_auto_chose_in_one_line(tmp_path):
    """This machine's choice, whichever it is; the run then stops at the missing model, after the line."""
    from conftest import FIXTURES, data_dir_with, run_cli

    data_dir = data_dir_with(tmp_path, "squad_v1.1", FIXTURES / "squad_v1_tiny.json", FIXTURES / "squad_v1_tiny.json")
    result = run_cli("--model_type", "bert", "--model_name_or_path", tmp_path / "none", "--data_name", "squad_v1.1",
                     "--data_dir", data_dir, "--output_dir", tmp_path / "model", "--do_train", "--accelerator", "cpu")
    assert result.returncode == 2
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "precision" in line]
    assert lines == [cpu.precision_line(*cpu.precision_here("cpu", 1))], result.stdout + result.stderr


def clean_env():
    return dict(os.environ, PYTHONPATH=str(ROOT / "src"))


def test_python_m_korsquad_cpu_prints_one_json_object():
    out = subprocess.run([sys.executable, "-m", "korsquad", "cpu"], capture_output=True, text=True, check=True,
                         cwd=ROOT, env=clean_env())
    report = json.loads(out.stdout)
    assert report["recommended_precision_on_cpu"] in ("32", "bf16-mixed")
    assert report["native_bf16"] in (True, False, None) and report["torch_threads"] >= 1
