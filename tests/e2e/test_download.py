"""The real download code against local HTTP servers on 127.0.0.1 (never the internet).

Each server serves in-memory fixture files and can misbehave on the first request for a file: drop the connection
half-way, stall past the client's read timeout, or answer a status. Specs are registry specs whose files point at
the fixtures (real sizes and sha256 computed here); the CLI checks use the registry itself with --mirror.
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT, SHARED_DATA
from download_helpers import Behaviour, leftovers, no_proxy, serve, sha256

from korsquad.data.datasets import get_spec
from korsquad.data.readers import read_dataset


# --- the command-line tools ----------------------------------------------------------------------------------------

def run_tool(script, *args):
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return subprocess.run([sys.executable, str(ROOT / script), *args, "--retry_wait", "0.01", "--no_progress"],
                          capture_output=True, text=True, timeout=120, env=env)


def test_cli_checksum_mismatch_exits_2_and_removes_the_file(serve, tmp_path):
    size = get_spec("korquad_v1.0").files_for("dev")[0].size
    mirror = serve(Behaviour({"KorQuAD_v1.0_dev.json": bytes(size)}))
    result = run_tool("download_korquad.py", "--download_dir", str(tmp_path), "--data_name", "korquad_v1.0",
                      "--split", "dev", "--mirror", mirror)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: ") and "sha256 mismatch" in result.stderr
    assert leftovers(tmp_path) == []


def test_cli_404_exits_2_with_one_line(serve, tmp_path):
    behaviour = Behaviour({})
    mirror = serve(behaviour)
    result = run_tool("download_squad.py", "--download_dir", str(tmp_path), "--data_name", "squad_v2.0",
                      "--mirror", mirror)
    assert result.returncode == 2
    assert result.stderr == f"error: {mirror}/train-v2.0.json: HTTP 404 Not Found\n"
    assert len(behaviour.log) == 1
    assert leftovers(tmp_path) == []


def test_cli_downloads_the_real_korquad_dev_file_and_skips_it_next_time(serve, tmp_path):
    real = SHARED_DATA / "korquad_v1.0" / "dev.json"
    if not real.is_file():
        pytest.skip(f"{real} is absent (the shared real data is not on this machine)")
    behaviour = Behaviour({"KorQuAD_v1.0_dev.json": real.read_bytes()})
    mirror = serve(behaviour)
    args = ("--download_dir", str(tmp_path), "--data_name", "korquad_v1.0", "--split", "dev", "--mirror", mirror)
    first = run_tool("download_korquad.py", *args)
    assert first.returncode == 0, first.stderr
    landed = tmp_path / "korquad_v1.0" / "dev.json"
    assert f"korquad_v1.0 dev: {landed}" in first.stdout.splitlines()
    assert landed.read_bytes() == real.read_bytes()
    second = run_tool("download_korquad.py", *args)
    assert second.returncode == 0 and "already downloaded and verified" in second.stdout
    assert len(behaviour.log) == 1


def test_cli_downloads_klue_mrc_under_a_sidecar_and_skips_it_next_time(serve, tmp_path):
    # The official raw URLs end in klue-mrc-v1.1_<split>.json; no checksum is published, so a sidecar records one.
    fixture = FIXTURES / "klue_mrc_tiny.json"
    train = json.dumps({"data": []}).encode()
    behaviour = Behaviour({"klue-mrc-v1.1_dev.json": fixture.read_bytes(), "klue-mrc-v1.1_train.json": train})
    mirror = serve(behaviour)
    args = ("--download_dir", str(tmp_path), "--mirror", mirror)
    first = run_tool("download_klue.py", *args)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "klue_mrc"
    assert first.stdout.splitlines()[-2:] == [f"klue_mrc train: {folder / 'train.json'}",
                                              f"klue_mrc dev: {folder / 'dev.json'}"]
    assert leftovers(tmp_path) == ["klue_mrc/.dev.json.verified", "klue_mrc/.train.json.verified",
                                   "klue_mrc/dev.json", "klue_mrc/train.json"]
    sidecar = json.loads((folder / ".dev.json.verified").read_text())
    assert (sidecar["url"], sidecar["sha256"]) == (f"{mirror}/klue-mrc-v1.1_dev.json", sha256(fixture.read_bytes()))
    examples, stats = read_dataset(folder / "dev.json", get_spec("klue_mrc"))
    assert stats["questions"] == 6 and examples[0].id == "klue-mrc-tiny_00001"
    second = run_tool("download_klue.py", *args, "--split", "dev")
    assert second.returncode == 0 and "already downloaded and verified" in second.stdout
    assert len(behaviour.log) == 2


def test_cli_klue_refuses_other_families_data_sets(tmp_path):
    result = run_tool("download_klue.py", "--download_dir", str(tmp_path), "--data_name", "squad_v1.1")
    assert result.returncode == 2
    assert result.stderr == "error: --data_name 'squad_v1.1' is not a klue data set; choose from klue_mrc\n"
