"""The layout of src/korsquad: one package per stage, imports that only run down the stage order (top-level and inside
functions) without a cycle, each package's face, and the README's layout table naming every module."""

import re

import pytest
from conftest import ROOT
from source_imports import imports, module_name

SOURCE = ROOT / "src" / "korsquad"
# The stages, lowest first: a module imports only modules of its own stage or of stages before it.
STAGES = ("common", "data", "runs", "features", "decoding", "training", "config", "serving", "analysis", "experiments",
          "cli")
# README tables of the layout, by file: the heading above each
LAYOUT_TABLES = {"README.md": "## Project layout", "README_ko.md": "## 프로젝트 구성"}


def stage(module):
    """The stage of a dotted module: korsquad.data.readers -> data; the package root itself is above every stage."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def layering_problems(root, stages=STAGES, shown_from=None):
    """One line for every import that runs up the stage order (inside functions too), and for every cycle of the
    imports that run when a module loads: 'FILE:LINE: ...', FILE relative to `shown_from` (default: the folder above
    the package). An import inside a function may point back within its stage (a module defers a heavy or mutual
    import so), never up the order. The package's own __init__.py and __main__.py stand above every stage."""
    order = {name: i for i, name in enumerate(stages)}
    problems, edges = [], {}
    for path in sorted(root.rglob("*.py")):
        here = module_name(path, root)
        for line, target, deferred in imports(path, root):
            where = f"{path.relative_to(shown_from or root.parent)}:{line}"
            if not deferred:
                edges.setdefault(here, {}).setdefault(target, where)
            mine, theirs = stage(here), stage(target)
            if mine is None:
                continue
            if theirs is None:
                problems.append(f"{where}: {here} imports {target}, above every stage")
            elif order[theirs] > order[mine]:
                problems.append(f"{where}: {here} ({mine}) imports {target} ({theirs}), a later stage; the order is "
                                + " < ".join(stages))
    for cycle in cycles(edges):
        steps = [f"{a} -> {b} ({edges[a][b]})" for a, b in zip(cycle, cycle[1:] + cycle[:1])]
        problems.append(f"{edges[cycle[0]][cycle[1 % len(cycle)]]}: a cycle of imports: " + ", ".join(steps))
    return problems


def cycles(edges):
    """One cycle (a list of modules, each importing the next, the last the first) per strongly connected group."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in edges.get(node, ()):
                groups.append(set(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [path_through(group, edges) for group in groups]


def path_through(group, edges):
    """A cycle inside a strongly connected group, from its first module back to it."""
    start = min(group)
    path, seen = [start], {start}
    while True:
        nxt = next(n for n in sorted(edges[path[-1]]) if n in group)
        if nxt == start or nxt in seen:
            return path[path.index(nxt):] if nxt in seen and nxt != start else path
        path.append(nxt)
        seen.add(nxt)


def test_every_import_runs_down_the_stage_order_without_a_cycle():
    assert layering_problems(SOURCE, shown_from=ROOT) == []


def test_the_check_names_the_file_and_line_of_an_upward_import_and_of_a_cycle(tmp_path):
    """A planted tree: data importing config (upward, inside a function) and two modules of one stage importing
    each other."""
    root = tmp_path / "korsquad"
    for package, module, text in [
        ("data", "readers", "import json\n\n\ndef read():\n    from ..config.options import DEFAULT\n"),
        ("config", "options", "from ..data.readers import read\nDEFAULT = 1\n"),
        ("features", "windows", "from .cache import key\n"),
        ("features", "cache", "from . import windows\nkey = 1\n"),
    ]:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").touch()
        (root / package / f"{module}.py").write_text(text)
    (root / "__init__.py").touch()
    problems = layering_problems(root, ("data", "features", "config"))
    assert problems[0] == ("korsquad/data/readers.py:5: korsquad.data.readers (data) imports korsquad.config.options "
                           "(config), a later stage; the order is data < features < config")
    assert len(problems) == 2  # data importing config inside a function is upward, but no cycle with config's
    assert any("korsquad.features.cache -> korsquad.features.windows (korsquad/features/cache.py:1), "
               "korsquad.features.windows -> korsquad.features.cache (korsquad/features/windows.py:1)" in p
               for p in problems)


def test_every_package_is_a_stage_and_the_root_holds_only_the_face_and_the_command():
    packages = sorted(p.name for p in SOURCE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert packages == sorted(STAGES)
    assert sorted(p.name for p in SOURCE.glob("*.py")) == ["__init__.py", "__main__.py"]


@pytest.mark.parametrize("package", STAGES)
def test_each_face_lists_its_modules_and_its_names_load(package):
    """The package's docstring names every module of the package, one line each; every name of __all__ loads."""
    import importlib

    face = importlib.import_module(f"korsquad.{package}")
    listed = re.findall(r"^    (\w+)  ", face.__doc__, re.M)
    modules = sorted(p.stem for p in (SOURCE / package).glob("*.py") if not p.stem.startswith("_"))
    assert sorted(listed) == modules
    for name in getattr(face, "__all__", ()):
        assert getattr(face, name) is not None, name


def layout_rows(readme):
    """The paths of the README's layout table: package folders (`src/korsquad/<stage>/`) and module files
    (`<stage>/<file>`), in order."""
    text = (ROOT / readme).read_text(encoding="utf-8")
    start = text.index(LAYOUT_TABLES[readme] + "\n")
    table = text[start:text.index("\n## ", start + 1)]
    return [path for row in table.splitlines() if row.startswith("|")
            for path in re.findall(r"`([\w./<>-]+)`", row.split("|")[1])]


@pytest.mark.parametrize("readme", sorted(LAYOUT_TABLES))
def test_the_readme_layout_table_names_every_module_in_stage_order(readme):
    rows = layout_rows(readme)
    files = sorted(str(p.relative_to(SOURCE)) for p in SOURCE.rglob("*") if p.is_file() and p.parent != SOURCE
                   and p.name != "__init__.py" and "__pycache__" not in p.parts)
    listed = sorted(row for row in rows if re.fullmatch(r"\w+/[\w.]+", row))
    missing, stale = sorted(set(files) - set(listed)), sorted(set(listed) - set(files))
    assert not missing and not stale, f"{readme}: missing from the layout table {missing}; not in the tree {stale}"
    assert [row.split("/")[2] for row in rows if row.startswith("src/korsquad/")] == list(STAGES)
