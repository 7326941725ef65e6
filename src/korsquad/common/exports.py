"""Package faces that load nothing until asked: `from korsquad.data import get_spec` imports korsquad.data.datasets
then, and importing korsquad.data alone imports none of its modules (the registry must load without the HTML parser,
QuestionAnswerer without Lightning)."""

from importlib import import_module


def lazy_exports(package, modules):
    """(__all__, __getattr__, __dir__) of a package re-exporting {module: [names]} of its own modules."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{where[name]}"), name)

    def __dir__():
        return sorted(where)

    return sorted(where), __getattr__, __dir__
