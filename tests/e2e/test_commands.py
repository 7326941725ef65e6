"""The commands as a user types them: `python -m korsquad`, the former `python -m korsquad.X` spellings, and every
command of the READMEs' shell blocks, whose `--help` must run and name every flag the README gives it."""

import os
import re
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT

from korsquad import MOVED_COMMANDS
from korsquad.cli.commands import COMMANDS

READMES = ("README.md", "README_ko.md")


def run(args, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
                          **kwargs)


def test_python_m_korsquad_lists_every_command():
    proc = run(["-m", "korsquad", "--help"])
    assert proc.returncode == 0, proc.stderr
    assert all(re.search(rf"^  {name} ", proc.stdout, re.M) for name in COMMANDS)


@pytest.mark.parametrize("module", sorted(MOVED_COMMANDS))
def test_a_former_command_module_fails_with_one_line_naming_its_command(module):
    proc = run(["-m", f"korsquad.{module}", "--help"])
    assert proc.returncode != 0 and not proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1
    assert f"korsquad.{module} is now the command `korsquad {MOVED_COMMANDS[module]}`" in proc.stderr


def shell_commands(text):
    """Each command line of the ```bash blocks of a README (and `$ ` lines of its transcripts), continuation lines
    joined, comments dropped, `for ...; do`/`done` and `;`-separated parts split; and each `korsquad ...` of its
    prose."""
    lines = re.findall(r"`(korsquad [^`]+)`", text)
    for block, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S):
        joined = body.replace("\\\n", " ")
        for line in joined.splitlines():
            if block != "bash":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            line = line.split(" #")[0].strip()
            for part in re.split(r";\s*|\bdo\b", line):
                if part.strip() and not part.strip().startswith(("for ", "done", "#")):
                    lines.append(part.strip())
    return lines


def our_program(words):
    """The argv prefix that runs the toolkit's program of a command line (None for another program): `korsquad X`,
    `python -m korsquad X`, `python run_qa.py` (also under torchrun), `python download_*.py`."""
    words = [w for w in words if not re.fullmatch(r"[A-Z_]+=\S*", w)]  # VAR=value before the program
    if words[:1] == ["korsquad"] or words[:3] == ["python", "-m", "korsquad"]:
        rest = words[1:] if words[0] == "korsquad" else words[3:]
        if not rest or rest[0].startswith("-"):
            return ["-m", "korsquad"]
        # a placeholder (`korsquad COMMAND --help`) names no command
        return ["-m", "korsquad", rest[0]] if re.fullmatch(r"[a-z]+", rest[0]) else None
    scripts = [w for w in words if w == "run_qa.py" or re.fullmatch(r"download_\w+\.py", w)]
    return [scripts[0]] if scripts and words[0] in ("python", "torchrun") else None


def readme_programs():
    """{argv prefix: (README, the flags its commands give)}."""
    found = {}
    for readme in READMES:
        for line in shell_commands((ROOT / readme).read_text(encoding="utf-8")):
            words = shlex.split(line)
            program = our_program(words)
            if program is None:
                continue
            after = words[words.index(program[-1]) + 1:] if program[-1] in words else words
            flags = {w.strip("[]").split("=")[0] for w in after if w.strip("[").startswith("--")}
            found.setdefault(tuple(program), (readme, set()))[1].update(flags)
    return found


PROGRAMS = readme_programs()


def test_the_readmes_name_the_commands_this_test_runs():
    """The parse found the commands the READMEs are about (a parse that found nothing would check nothing)."""
    assert {"run_qa.py", "download_squad.py", "download_korquad.py", "download_klue.py"} <= {p[0] for p in PROGRAMS}
    assert {("-m", "korsquad", name) for name in ("score", "report", "compare", "inspect", "predict", "audit",
                                                  "cpu")} <= set(PROGRAMS)


@pytest.mark.parametrize("program", sorted(PROGRAMS), ids=" ".join)
def test_every_readme_command_runs_its_help_and_knows_every_flag_given(program):
    readme, flags = PROGRAMS[program]
    proc = run([*program, "--help"])
    assert proc.returncode == 0, f"{readme}: {' '.join(program)} --help failed: {proc.stderr[-2000:]}"
    known = set(re.findall(r"--[\w-]+", proc.stdout))
    unknown = sorted(flag for flag in flags if flag.replace("-", "_").replace("__", "--", 1) not in known)
    assert not unknown, f"{readme}: {' '.join(program)} does not know {unknown}"
