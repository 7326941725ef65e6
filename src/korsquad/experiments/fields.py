"""The fields of an experiment file, read and checked with one error line naming the file and key: mappings,
strings, known keys (with "did you mean") and run_qa.py settings. The file's parts (korsquad.experiments.spec)
and its search: and slurm: blocks (search, slurm) read theirs with these."""

import difflib

from ._toolkit import OPTIONS_BY_NAME, UsageError, typed_settings

# Settings the experiment gives each cell itself, and where the file says them instead.
OWNED = {
    "data_name": "the data set comes from data_sets:",
    "seed": "seeds come from seeds:",
    "output_dir": "give the top-level output_dir: (or --output_dir)",
    "run_name": "cell names are made from the model's name:, the grid values and the seed",
    "do_train": "every cell trains and evaluates",
    "do_eval": "every cell trains and evaluates",
    "resume": "the experiment continues an interrupted cell itself",
    "overwrite_output_dir": "the experiment restarts a cell itself",
    "gpu_ids": "GPUs come from the experiment command's --gpu_ids and the size's gpus:",
    "checkpoint": "cells train",
}


def check_keys(data, allowed, where, what):
    for key in data:
        if key not in allowed:
            meant = difflib.get_close_matches(str(key), allowed, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, meant))}?" if meant else ""
            raise UsageError(f"{where}: unknown key {key!r} ({what} are {', '.join(allowed)}{hint})")


def mapping(value, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{where}: expected a mapping, not {value!r}")
    return value


def read_text(value, where):
    if value is not None and not isinstance(value, str):
        raise UsageError(f"{where}: expected a string, not {value!r}")
    return value


def read_block(value, where):
    return None if value is None else mapping(value, where)


def read_settings(value, where):
    """run_qa.py settings: typed and checked like --config's, each by its flag's range check; the experiment's own
    keys refused."""
    settings = typed_settings(mapping(value, where), where)  # by our names (a Trainer alias is one of them)
    for key, value in settings.items():
        if key in OWNED:
            raise UsageError(f"{where}: key {key!r} is set by the experiment ({OWNED[key]})")
        check = OPTIONS_BY_NAME[key].check
        problem = check(value) if check is not None and value is not None else None
        if problem:
            raise UsageError(f"{where}: key {key!r} {problem}, not {value!r}")
    return settings
