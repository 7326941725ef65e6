"""The `korsquad` command: its subcommands, each the main(argv) of its module under the name the user typed, and its
errors."""

import importlib
import re

import pytest
from conftest import ROOT

from korsquad.cli.commands import COMMANDS, main


def test_help_lists_every_command_with_what_it_does(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, (_, what) in COMMANDS.items():
        assert re.search(rf"^  {name} +{re.escape(what)}$", out, re.M), name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_answers_help_under_its_own_name(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: korsquad {name} ")


def test_an_unknown_command_is_one_line_naming_the_closest_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["scroe", "--data_name", "squad_v1.1"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: unknown command 'scroe' (did you mean score?); `korsquad --help` lists them"]


def test_no_command_prints_the_usage_on_stderr_and_exit_2(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert not out and err.startswith("usage: korsquad COMMAND")


def test_a_bad_flag_of_a_command_is_its_own_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["score", "--data_name", "squad_v1.1", "dev.json", "predictions.json", "--out_fiel", "result.json"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: unknown flag --out_fiel (did you mean --out_file?); see --help"]


def test_the_install_declares_the_korsquad_script_as_this_command():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text[text.index("[project.scripts]"):]
    target = re.search(r'^korsquad = "([\w.]+):(\w+)"$', section, re.M)
    module, function = target.groups()
    assert getattr(importlib.import_module(module), function) is main


def test_a_former_command_module_names_its_command():
    with pytest.raises(ModuleNotFoundError, match=r"^korsquad.evaluate is now the command `korsquad score`"):
        importlib.import_module("korsquad.evaluate")


def test_the_former_package_spellings_run_or_name_their_command():
    """`python -m korsquad.cli` (the run) keeps working; `python -m korsquad.config` (the flag table) is one line
    naming `korsquad flags`, exit 2: neither gets Python's "is a package and cannot be directly executed"."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    run = subprocess.run([sys.executable, "-m", "korsquad.cli", "--help"], capture_output=True, text=True, env=env)
    assert run.returncode == 0 and "--model_name_or_path" in run.stdout
    flags = subprocess.run([sys.executable, "-m", "korsquad.config"], capture_output=True, text=True, env=env)
    assert flags.returncode == 2 and flags.stdout == ""
    assert flags.stderr.splitlines() == [
        "error: python -m korsquad.config is now the command `korsquad flags` (or `python -m korsquad flags`)"]
