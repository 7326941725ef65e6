"""The imports of the package's source, read as text (nothing is imported): for the layout test and the feature
cache's list of the modules that build features."""

import ast


def imports(path, root):
    """(line, imported module, deferred) of every import of the korsquad package in `path`, top-level and inside
    functions (deferred: it runs when the function does), relative ones resolved. A name taken from a package
    (`from ..common import cpu`) is its module when one exists, else the package."""
    package = path.relative_to(root.parent).with_suffix("").parts[:-1]  # ("korsquad", "data") for data/x.py
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    deferred = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                for n in ast.walk(f)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == root.name:
                    yield node.lineno, alias.name, id(node) in deferred
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ((node.module,) if node.module else ()))
            else:
                module = node.module or ""
            if module.split(".")[0] != root.name:
                continue
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                yield node.lineno, submodule if module_file(submodule, root) else module, id(node) in deferred


def module_file(module, root):
    """The file of a dotted korsquad module (a package: its __init__.py), or None."""
    path = root.parent.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path, root):
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def reached(module, root):
    """Every module `module` imports, directly or through others (inside functions too), itself included."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name, root)
        if path is not None:
            todo += [target for _, target, _ in imports(path, root)]
    return seen
